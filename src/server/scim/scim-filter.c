#include "scim/scim-filter.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/macros.h"
#include "common/wire.h"

#define CORE_USER_URN ADC_SCIM_SCHEMA_USER ":"
#define PROVIDER_ATTR ADC_SCIM_SCHEMA_PROVIDER ":provider"
#define ENTERPRISE_URN ADC_SCIM_SCHEMA_ENTERPRISE

void adc_scim_filter_free(struct adc_scim_filter *f) {
    if (!f)
        return;
    free(f->attr);
    json_decref(f->value);
    adc_scim_filter_free(f->left);
    adc_scim_filter_free(f->right);
    free(f);
}

/* ---- parser ------------------------------------------------------------------------------ */

struct parser {
    const char *s;
    size_t i;
    int depth;
    char *err;
    size_t err_size;
    bool failed;
};

static void fail(struct parser *p, const char *fmt, ...) _printf_(2, 3);
static void fail(struct parser *p, const char *fmt, ...) {
    if (p->failed)
        return;
    p->failed = true;
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(p->err, p->err_size, "%s at position %zu", msg, p->i + 1);
}

static void skip_ws(struct parser *p) {
    while (p->s[p->i] == ' ' || p->s[p->i] == '\t')
        p->i++;
}

static bool attr_char(char c) { return isalnum((unsigned char)c) || strchr("_:.$-", c); }

/* Reads a word of attribute-path characters; returns its length (0 when none). */
static size_t word(struct parser *p) {
    size_t n = 0;
    while (p->s[p->i + n] && attr_char(p->s[p->i + n]))
        n++;
    return n;
}

static bool keyword(struct parser *p, const char *kw) {
    size_t n = strlen(kw);
    if (strncasecmp(p->s + p->i, kw, n) != 0)
        return false;
    char next = p->s[p->i + n];
    /* "not(" is allowed without a space; other keywords end at a space. */
    if (next && attr_char(next))
        return false;
    return true;
}

static struct adc_scim_filter *node(enum adc_scim_filter_op op) {
    struct adc_scim_filter *f = calloc(1, sizeof(*f));
    if (f)
        f->op = op;
    return f;
}

static struct adc_scim_filter *parse_chain(struct parser *p, bool in_brackets,
                                           enum adc_scim_filter_op op);

static json_t *parse_value(struct parser *p) {
    const char *s = p->s + p->i;
    size_t n;
    if (*s == '"') {
        n = 1;
        while (s[n] && s[n] != '"') {
            if (s[n] == '\\' && s[n + 1])
                n++;
            n++;
        }
        if (s[n] != '"') {
            fail(p, "unterminated string");
            return NULL;
        }
        n++;
    } else {
        n = 0;
        while (s[n] && (isalnum((unsigned char)s[n]) || strchr("+-.", s[n])))
            n++;
        if (n == 0) {
            fail(p, "expected a value (a \"string\", number, true, false or null)");
            return NULL;
        }
    }
    /* Literals are case-insensitive in SCIM ("True"); JSON wants lower case. */
    char lit[8];
    if (n < sizeof(lit) && *s != '"') {
        for (size_t k = 0; k < n; k++)
            lit[k] = (char)tolower((unsigned char)s[k]);
        lit[n] = '\0';
        if (!strcmp(lit, "true") || !strcmp(lit, "false") || !strcmp(lit, "null")) {
            p->i += n;
            return !strcmp(lit, "true") ? json_true() : !strcmp(lit, "false") ? json_false()
                                                                                : json_null();
        }
    }
    json_error_t je;
    json_t *v = json_loadb(s, n, JSON_DECODE_ANY, &je);
    if (!v || !(json_is_string(v) || json_is_number(v))) {
        json_decref(v);
        fail(p, "invalid value '%.*s'", (int)(n > 40 ? 40 : n), s);
        return NULL;
    }
    p->i += n;
    return v;
}

static const struct {
    const char *name;
    enum adc_scim_filter_op op;
} ops[] = {
    {"eq", ADC_SCIM_EQ}, {"ne", ADC_SCIM_NE}, {"co", ADC_SCIM_CO}, {"sw", ADC_SCIM_SW},
    {"ew", ADC_SCIM_EW}, {"gt", ADC_SCIM_GT}, {"ge", ADC_SCIM_GE}, {"lt", ADC_SCIM_LT},
    {"le", ADC_SCIM_LE}, {"pr", ADC_SCIM_PR},
};

static struct adc_scim_filter *parse_primary(struct parser *p, bool in_brackets) {
    skip_ws(p);
    if (++p->depth > ADC_SCIM_FILTER_MAX_DEPTH) {
        fail(p, "filter nested deeper than %d levels", ADC_SCIM_FILTER_MAX_DEPTH);
        return NULL;
    }
    struct adc_scim_filter *f = NULL;
    if (keyword(p, "not")) {
        p->i += 3;
        skip_ws(p);
        if (p->s[p->i] != '(') {
            fail(p, "expected '(' after not");
            goto out;
        }
        p->i++;
        struct adc_scim_filter *inner = parse_chain(p, in_brackets, ADC_SCIM_OR);
        if (!inner)
            goto out;
        skip_ws(p);
        if (p->s[p->i] != ')') {
            adc_scim_filter_free(inner);
            fail(p, "expected ')'");
            goto out;
        }
        p->i++;
        f = node(ADC_SCIM_NOT);
        if (f)
            f->left = inner;
        else
            adc_scim_filter_free(inner);
        goto out;
    }
    if (p->s[p->i] == '(') {
        p->i++;
        f = parse_chain(p, in_brackets, ADC_SCIM_OR);
        if (!f)
            goto out;
        skip_ws(p);
        if (p->s[p->i] != ')') {
            adc_scim_filter_free(f);
            f = NULL;
            fail(p, "expected ')'");
            goto out;
        }
        p->i++;
        goto out;
    }
    size_t n = word(p);
    if (n == 0 || !isalpha((unsigned char)p->s[p->i])) {
        fail(p, p->s[p->i] ? "expected an attribute name" : "filter ends too early");
        goto out;
    }
    char *attr = strndup(p->s + p->i, n);
    if (!attr)
        goto out;
    p->i += n;
    if (p->s[p->i] == '[') {
        if (in_brackets) {
            free(attr);
            fail(p, "value filters cannot be nested");
            goto out;
        }
        p->i++;
        struct adc_scim_filter *inner = parse_chain(p, true, ADC_SCIM_OR);
        if (!inner) {
            free(attr);
            goto out;
        }
        skip_ws(p);
        if (p->s[p->i] != ']') {
            free(attr);
            adc_scim_filter_free(inner);
            fail(p, "expected ']'");
            goto out;
        }
        p->i++;
        f = node(ADC_SCIM_VALUE_PATH);
        if (!f) {
            free(attr);
            adc_scim_filter_free(inner);
            goto out;
        }
        f->attr = attr;
        f->left = inner;
        goto out;
    }
    if (p->s[p->i] != ' ') {
        free(attr);
        fail(p, "expected a space and an operator after the attribute");
        goto out;
    }
    skip_ws(p);
    size_t i;
    for (i = 0; i < ADC_ARRAY_SIZE(ops); i++)
        if (keyword(p, ops[i].name))
            break;
    if (i == ADC_ARRAY_SIZE(ops)) {
        free(attr);
        fail(p, "unknown operator (supported: eq ne co sw ew gt ge lt le pr)");
        goto out;
    }
    p->i += 2;
    f = node(ops[i].op);
    if (!f) {
        free(attr);
        goto out;
    }
    f->attr = attr;
    if (ops[i].op != ADC_SCIM_PR) {
        if (p->s[p->i] != ' ') {
            fail(p, "expected a space and a value after the operator");
            adc_scim_filter_free(f);
            f = NULL;
            goto out;
        }
        skip_ws(p);
        f->value = parse_value(p);
        if (!f->value) {
            adc_scim_filter_free(f);
            f = NULL;
        }
    }
out:
    p->depth--;
    return f;
}

/* One loop for both binary levels: "and" binds tighter than "or" (RFC 7644 3.4.2.2), so the
 * operands of an "or" chain are "and" chains and those of an "and" chain are primaries. */
static struct adc_scim_filter *operand(struct parser *p, bool in_brackets,
                                       enum adc_scim_filter_op op) {
    return op == ADC_SCIM_OR ? parse_chain(p, in_brackets, ADC_SCIM_AND)
                             : parse_primary(p, in_brackets);
}

static struct adc_scim_filter *parse_chain(struct parser *p, bool in_brackets,
                                           enum adc_scim_filter_op op) {
    const char *word = op == ADC_SCIM_OR ? "or" : "and";
    struct adc_scim_filter *l = operand(p, in_brackets, op);
    while (l) {
        size_t save = p->i;
        skip_ws(p);
        if (!keyword(p, word)) {
            p->i = save;
            break;
        }
        p->i += strlen(word);
        struct adc_scim_filter *r = operand(p, in_brackets, op);
        struct adc_scim_filter *n = r ? node(op) : NULL;
        if (!n) {
            adc_scim_filter_free(l);
            adc_scim_filter_free(r);
            return NULL;
        }
        n->left = l;
        n->right = r;
        l = n;
    }
    return l;
}

int adc_scim_filter_parse(const char *text, struct adc_scim_filter **out, char *err,
                          size_t err_size) {
    struct parser p = {.s = text, .err = err, .err_size = err_size};
    if (!text || !*text) {
        snprintf(err, err_size, "empty filter");
        return -EINVAL;
    }
    struct adc_scim_filter *f = parse_chain(&p, false, ADC_SCIM_OR);
    if (f) {
        skip_ws(&p);
        if (p.s[p.i]) {
            fail(&p, "unexpected '%c'", p.s[p.i]);
            adc_scim_filter_free(f);
            f = NULL;
        }
    }
    if (!f) {
        if (!p.failed)
            snprintf(err, err_size, "out of memory");
        return -EINVAL;
    }
    *out = f;
    return 0;
}

/* ---- SQL --------------------------------------------------------------------------------- */

enum attr_type { T_STRING, T_EXACT, T_BOOL, T_MULTI };

/* How a User attribute is reached in SQL. */
struct sql_attr {
    enum attr_type type;
    const char *column; /* a column of users, or NULL for JSON in data */
    bool nocase_column; /* the column's collation already ignores case */
    char json_path[300];
};

static const char *const string_attrs[] = {
    "displayName", "nickName", "profileUrl", "title", "userType", "preferredLanguage", "locale",
    "timezone", "name.formatted", "name.familyName", "name.givenName", "name.middleName",
    "name.honorificPrefix", "name.honorificSuffix",
};
static const char *const multi_attrs[] = {
    "emails", "phoneNumbers", "ims", "photos", "addresses", "entitlements", "roles",
    "x509Certificates", "groups",
};
static const char *const enterprise_attrs[] = {
    "employeeNumber", "costCenter", "organization", "division", "department", "manager.value",
};

struct sql_builder {
    struct adc_sql_where *w;
    char *buf;
    size_t len, cap;
    char *err;
    size_t err_size;
    int r;
};

static void emit(struct sql_builder *b, const char *fmt, ...) _printf_(2, 3);
static void emit(struct sql_builder *b, const char *fmt, ...) {
    if (b->r < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *nb = realloc(b->buf, cap);
        if (!nb) {
            b->r = -ENOMEM;
            return;
        }
        b->buf = nb;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->buf + b->len, n + 1, fmt, ap);
    va_end(ap);
    b->len += n;
}

static void arg_text(struct sql_builder *b, const char *text) {
    if (b->r < 0)
        return;
    struct adc_sql_where *w = b->w;
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 8;
        struct adc_sql_arg *a = realloc(w->args, cap * sizeof(*a));
        if (!a) {
            b->r = -ENOMEM;
            return;
        }
        w->args = a;
        w->cap = cap;
    }
    char *t = strdup(text);
    if (!t) {
        b->r = -ENOMEM;
        return;
    }
    w->args[w->n++] = (struct adc_sql_arg){.type = ADC_SQL_TEXT, .text = t};
}

static void sql_fail(struct sql_builder *b, const char *fmt, ...) _printf_(2, 3);
static void sql_fail(struct sql_builder *b, const char *fmt, ...) {
    if (b->r < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->err, b->err_size, fmt, ap);
    va_end(ap);
    b->r = -EINVAL;
}

static bool in_list(const char *const *list, size_t n, const char *name, const char **canon) {
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(list[i], name) == 0) {
            *canon = list[i];
            return true;
        }
    return false;
}

/* Resolves a top-level attribute path; false when unknown. */
static bool resolve_attr(const char *attr, struct sql_attr *a, const char **sub_out) {
    memset(a, 0, sizeof(*a));
    *sub_out = NULL;
    if (strncasecmp(attr, CORE_USER_URN, strlen(CORE_USER_URN)) == 0)
        attr += strlen(CORE_USER_URN);
    const char *canon;
    if (strcasecmp(attr, "userName") == 0) {
        *a = (struct sql_attr){T_STRING, "user_name", true, ""};
    } else if (strcasecmp(attr, "externalId") == 0) {
        *a = (struct sql_attr){T_EXACT, "external_id", false, ""};
    } else if (strcasecmp(attr, "id") == 0) {
        *a = (struct sql_attr){T_EXACT, "id", false, ""};
    } else if (strcasecmp(attr, "active") == 0) {
        *a = (struct sql_attr){T_BOOL, "active", false, ""};
    } else if (strcasecmp(attr, "meta.created") == 0) {
        *a = (struct sql_attr){T_EXACT, "created", false, ""};
    } else if (strcasecmp(attr, "meta.lastModified") == 0) {
        *a = (struct sql_attr){T_EXACT, "modified", false, ""};
    } else if (strcasecmp(attr, PROVIDER_ATTR) == 0) {
        *a = (struct sql_attr){T_EXACT, "provider", false, ""};
    } else if (in_list(string_attrs, ADC_ARRAY_SIZE(string_attrs), attr, &canon)) {
        a->type = T_STRING;
        snprintf(a->json_path, sizeof(a->json_path), "$.%s", canon);
    } else if (strncasecmp(attr, ENTERPRISE_URN ":", strlen(ENTERPRISE_URN) + 1) == 0 &&
               in_list(enterprise_attrs, ADC_ARRAY_SIZE(enterprise_attrs),
                       attr + strlen(ENTERPRISE_URN) + 1, &canon)) {
        a->type = T_STRING;
        snprintf(a->json_path, sizeof(a->json_path), "$.\"%s\".%s", ENTERPRISE_URN, canon);
    } else {
        /* Multi-valued: "emails" or "emails.value". */
        char top[64];
        size_t n = strcspn(attr, ".");
        if (n >= sizeof(top))
            return false;
        memcpy(top, attr, n);
        top[n] = '\0';
        if (!in_list(multi_attrs, ADC_ARRAY_SIZE(multi_attrs), top, &canon))
            return false;
        a->type = T_MULTI;
        snprintf(a->json_path, sizeof(a->json_path), "$.%s", canon);
        *sub_out = attr[n] == '.' ? attr + n + 1 : "value";
    }
    return true;
}

/* Sub-attributes of multi-valued attributes: only simple names. */
static bool valid_sub(const char *sub) {
    if (!*sub || strlen(sub) > 64)
        return false;
    for (const char *c = sub; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '_')
            return false;
    return true;
}

static void escape_like(const char *in, char *out, size_t size) {
    size_t o = 0;
    for (; *in && o + 3 < size; in++) {
        if (*in == '%' || *in == '_' || *in == '\\')
            out[o++] = '\\';
        out[o++] = *in;
    }
    out[o] = '\0';
}

/* Emits the comparison of expression `expr` (SQL text, possibly with one ? for a JSON path
 * already pushed by the caller... no: expr never has placeholders) with the filter's value. */
static void compare(struct sql_builder *b, const char *expr, enum attr_type type, bool nocase_col,
                    const struct adc_scim_filter *f) {
    if (f->op == ADC_SCIM_PR) {
        emit(b, "(%s IS NOT NULL AND %s <> '')", expr, expr);
        return;
    }
    const json_t *v = f->value;
    if (json_is_null(v)) {
        if (f->op == ADC_SCIM_EQ)
            emit(b, "(%s IS NULL)", expr);
        else if (f->op == ADC_SCIM_NE)
            emit(b, "(%s IS NOT NULL)", expr);
        else
            sql_fail(b, "null can only be compared with eq or ne ('%s')", f->attr);
        return;
    }
    if (type == T_BOOL) {
        if (!json_is_boolean(v) || (f->op != ADC_SCIM_EQ && f->op != ADC_SCIM_NE)) {
            sql_fail(b, "'%s' is a boolean: compare it with eq or ne and true or false", f->attr);
            return;
        }
        emit(b, "(%s %s %d)", expr, f->op == ADC_SCIM_EQ ? "=" : "<>", json_is_true(v) ? 1 : 0);
        return;
    }
    if (!json_is_string(v)) {
        sql_fail(b, "'%s' is a string: compare it with a \"quoted\" value", f->attr);
        return;
    }
    const char *s = json_string_value(v);
    bool ci = type == T_STRING;
    /* A NOCASE column compares without case by itself and keeps its index usable. */
    char lhs[400];
    if (ci && !nocase_col)
        snprintf(lhs, sizeof(lhs), "lower(%s)", expr);
    else
        snprintf(lhs, sizeof(lhs), "%s", expr);
    const char *rhs = ci && !nocase_col ? "lower(?)" : "?";
    char like[1024];
    switch (f->op) {
    case ADC_SCIM_EQ:
        emit(b, "(%s = %s)", lhs, rhs);
        arg_text(b, s);
        break;
    case ADC_SCIM_NE:
        emit(b, "(%s IS NULL OR %s <> %s)", expr, lhs, rhs);
        arg_text(b, s);
        break;
    case ADC_SCIM_CO:
        /* instr() ignores collations: fold case explicitly. */
        if (ci)
            emit(b, "(instr(lower(%s), lower(?)) > 0)", expr);
        else
            emit(b, "(instr(%s, ?) > 0)", expr);
        arg_text(b, s);
        break;
    case ADC_SCIM_SW:
    case ADC_SCIM_EW:
        if (strlen(s) > 400) {
            sql_fail(b, "value too long for '%s'", f->attr);
            break;
        }
        if (ci) {
            /* LIKE ignores ASCII case, like NOCASE. */
            char esc[900];
            escape_like(s, esc, sizeof(esc));
            snprintf(like, sizeof(like), f->op == ADC_SCIM_SW ? "%s%%" : "%%%s", esc);
            emit(b, "(%s LIKE ? ESCAPE '\\')", expr);
            arg_text(b, like);
        } else if (f->op == ADC_SCIM_SW) {
            emit(b, "(substr(%s, 1, length(?)) = ?)", expr);
            arg_text(b, s);
            arg_text(b, s);
        } else {
            emit(b, "(length(%s) >= length(?) AND substr(%s, length(%s) - length(?) + 1) = ?)",
                 expr, expr, expr);
            arg_text(b, s);
            arg_text(b, s);
            arg_text(b, s);
        }
        break;
    case ADC_SCIM_GT: emit(b, "(%s > %s)", lhs, rhs); arg_text(b, s); break;
    case ADC_SCIM_GE: emit(b, "(%s >= %s)", lhs, rhs); arg_text(b, s); break;
    case ADC_SCIM_LT: emit(b, "(%s < %s)", lhs, rhs); arg_text(b, s); break;
    case ADC_SCIM_LE: emit(b, "(%s <= %s)", lhs, rhs); arg_text(b, s); break;
    default: sql_fail(b, "internal: bad operator"); break;
    }
}

/* JSON paths are generated from the lists above, never from the request: safe to inline, but
 * quoted as SQL strings all the same. */
static void json_expr(char *out, size_t size, const char *source, const char *path) {
    snprintf(out, size, "json_extract(%s, '%s')", source, path);
}

static void gen(struct sql_builder *b, const struct adc_scim_filter *f, bool element);

/* A condition on the elements of a multi-valued attribute: EXISTS over json_each. */
static void gen_multi(struct sql_builder *b, const char *array_path,
                      const struct adc_scim_filter *inner_or_null, const char *sub,
                      const struct adc_scim_filter *cmp) {
    emit(b, "EXISTS (SELECT 1 FROM json_each(users.data, '%s') AS e WHERE ", array_path);
    if (inner_or_null) {
        gen(b, inner_or_null, true);
    } else {
        if (!valid_sub(sub)) {
            sql_fail(b, "invalid sub-attribute in '%s'", cmp->attr);
            return;
        }
        char path[100], expr[200];
        snprintf(path, sizeof(path), "$.%s", sub);
        json_expr(expr, sizeof(expr), "e.value", path);
        /* type, value, display, primary ...: strings, except primary */
        compare(b, expr, strcasecmp(sub, "primary") == 0 ? T_BOOL : T_STRING, false, cmp);
    }
    emit(b, ")");
}

/* The operands of a chain of one operator, without brackets around the inner links: the
 * parser builds "a and b and c" as ((a and b) and c), and a bracket per link would nest as
 * deep as the chain is long, past SQLite's parser stack (100) for a long but legal filter. */
static void gen_chain(struct sql_builder *b, const struct adc_scim_filter *f,
                      enum adc_scim_filter_op op, bool element) {
    if (f->op != op) {
        gen(b, f, element);
        return;
    }
    gen_chain(b, f->left, op, element);
    emit(b, op == ADC_SCIM_AND ? " AND " : " OR ");
    gen_chain(b, f->right, op, element);
}

static void gen(struct sql_builder *b, const struct adc_scim_filter *f, bool element) {
    if (b->r < 0)
        return;
    switch (f->op) {
    case ADC_SCIM_AND:
    case ADC_SCIM_OR:
        emit(b, "(");
        gen_chain(b, f, f->op, element);
        emit(b, ")");
        return;
    case ADC_SCIM_NOT:
        /* NOT over SQL's three-valued logic: an absent attribute (NULL) must count as "does
         * not match", so the inner condition is coalesced to false first. */
        emit(b, "(NOT coalesce(");
        gen(b, f->left, element);
        emit(b, ", 0))");
        return;
    default: break;
    }
    if (element) {
        /* Inside attr[...]: sub-attributes of the element. */
        if (f->op == ADC_SCIM_VALUE_PATH || !valid_sub(f->attr)) {
            sql_fail(b, "invalid sub-attribute '%s' in a value filter", f->attr);
            return;
        }
        char path[100], expr[200];
        snprintf(path, sizeof(path), "$.%s", f->attr);
        json_expr(expr, sizeof(expr), "e.value", path);
        compare(b, expr, strcasecmp(f->attr, "primary") == 0 ? T_BOOL : T_STRING, false, f);
        return;
    }
    struct sql_attr a;
    const char *sub;
    if (!resolve_attr(f->attr, &a, &sub)) {
        sql_fail(b, "unsupported attribute '%s' in filter", f->attr);
        return;
    }
    if (f->op == ADC_SCIM_VALUE_PATH) {
        if (a.type != T_MULTI || strchr(f->attr, '.')) {
            sql_fail(b, "'%s' is not a multi-valued attribute", f->attr);
            return;
        }
        gen_multi(b, a.json_path, f->left, NULL, f);
        return;
    }
    if (a.type == T_MULTI) {
        if (f->op == ADC_SCIM_PR && !strchr(f->attr, '.')) {
            emit(b, "(coalesce(json_array_length(users.data, '%s'), 0) > 0)", a.json_path);
            return;
        }
        gen_multi(b, a.json_path, NULL, sub, f);
        return;
    }
    char expr[400];
    if (a.column)
        snprintf(expr, sizeof(expr), "users.%s", a.column);
    else
        json_expr(expr, sizeof(expr), "users.data", a.json_path);
    compare(b, expr, a.type, a.nocase_column, f);
}

void adc_sql_where_done(struct adc_sql_where *w) {
    if (!w)
        return;
    free(w->sql);
    for (size_t i = 0; i < w->n; i++)
        free(w->args[i].text);
    free(w->args);
    memset(w, 0, sizeof(*w));
}

int adc_scim_filter_sql(const struct adc_scim_filter *f, struct adc_sql_where *out, char *err,
                        size_t err_size) {
    struct adc_sql_where w = {0};
    struct sql_builder b = {.w = &w, .err = err, .err_size = err_size};
    gen(&b, f, false);
    if (b.r < 0) {
        free(b.buf);
        adc_sql_where_done(&w);
        if (b.r == -ENOMEM)
            snprintf(err, err_size, "out of memory");
        return b.r;
    }
    w.sql = b.buf;
    *out = w;
    return 0;
}

/* ---- evaluation on JSON ------------------------------------------------------------------ */

json_t *adc_scim_json_get(const json_t *obj, const char *key, const char **actual_key) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        if (strcasecmp(k, key) == 0) {
            if (actual_key)
                *actual_key = k;
            return v;
        }
    }
    return NULL;
}

/* Follows "a.b" inside obj. */
static json_t *get_path(const json_t *obj, const char *path) {
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    json_t *cur = (json_t *)obj;
    for (char *save = NULL, *part = strtok_r(buf, ".", &save); part && cur;
         part = strtok_r(NULL, ".", &save))
        cur = json_is_object(cur) ? adc_scim_json_get(cur, part, NULL) : NULL;
    return cur;
}

static bool compare_json(const json_t *have, const struct adc_scim_filter *f) {
    if (f->op == ADC_SCIM_PR)
        return have && !json_is_null(have) &&
               !(json_is_string(have) && json_string_length(have) == 0) &&
               !(json_is_array(have) && json_array_size(have) == 0);
    const json_t *want = f->value;
    if (!have || json_is_null(have))
        return f->op == ADC_SCIM_NE ? !json_is_null(want) : json_is_null(want) && f->op == ADC_SCIM_EQ;
    if (json_is_boolean(want) || json_is_boolean(have)) {
        bool eq = json_is_boolean(want) && json_is_boolean(have) &&
                  json_is_true(want) == json_is_true(have);
        return f->op == ADC_SCIM_EQ ? eq : f->op == ADC_SCIM_NE ? !eq : false;
    }
    if (json_is_number(want) && json_is_number(have)) {
        double a = json_number_value(have), c = json_number_value(want);
        switch (f->op) {
        case ADC_SCIM_EQ: return a == c;
        case ADC_SCIM_NE: return a != c;
        case ADC_SCIM_GT: return a > c;
        case ADC_SCIM_GE: return a >= c;
        case ADC_SCIM_LT: return a < c;
        case ADC_SCIM_LE: return a <= c;
        default: return false;
        }
    }
    if (!json_is_string(want) || !json_is_string(have))
        return f->op == ADC_SCIM_NE;
    const char *a = json_string_value(have), *c = json_string_value(want);
    size_t la = strlen(a), lc = strlen(c);
    switch (f->op) {
    case ADC_SCIM_EQ: return strcasecmp(a, c) == 0;
    case ADC_SCIM_NE: return strcasecmp(a, c) != 0;
    case ADC_SCIM_CO: return strcasestr(a, c) != NULL;
    case ADC_SCIM_SW: return strncasecmp(a, c, lc) == 0;
    case ADC_SCIM_EW: return la >= lc && strcasecmp(a + la - lc, c) == 0;
    case ADC_SCIM_GT: return strcasecmp(a, c) > 0;
    case ADC_SCIM_GE: return strcasecmp(a, c) >= 0;
    case ADC_SCIM_LT: return strcasecmp(a, c) < 0;
    case ADC_SCIM_LE: return strcasecmp(a, c) <= 0;
    default: return false;
    }
}

bool adc_scim_filter_match(const struct adc_scim_filter *f, const json_t *obj) {
    switch (f->op) {
    case ADC_SCIM_AND: return adc_scim_filter_match(f->left, obj) && adc_scim_filter_match(f->right, obj);
    case ADC_SCIM_OR: return adc_scim_filter_match(f->left, obj) || adc_scim_filter_match(f->right, obj);
    case ADC_SCIM_NOT: return !adc_scim_filter_match(f->left, obj);
    case ADC_SCIM_VALUE_PATH: {
        json_t *arr = get_path(obj, f->attr);
        size_t i;
        json_t *el;
        json_array_foreach(arr, i, el) {
            if (adc_scim_filter_match(f->left, el))
                return true;
        }
        return false;
    }
    default: {
        json_t *have = get_path(obj, f->attr);
        if (json_is_array(have) && f->op != ADC_SCIM_PR) {
            /* A multi-valued attribute matches when one of its values does. */
            size_t i;
            json_t *el;
            json_array_foreach(have, i, el) {
                const json_t *v = json_is_object(el) ? adc_scim_json_get(el, "value", NULL) : el;
                if (compare_json(v, f))
                    return true;
            }
            return false;
        }
        return compare_json(have, f);
    }
    }
}
