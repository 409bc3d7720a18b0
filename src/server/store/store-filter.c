/* SCIM filters to SQL over the users table, the groups table and a group's members, in the
 * dialect of the engine (store-filter.h). */
#include "store/store-filter.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/macros.h"
#include "common/wire.h"

#define CORE_USER_URN ADC_SCIM_SCHEMA_USER ":"
#define PROVIDER_ATTR ADC_SCIM_SCHEMA_PROVIDER ":provider"
#define ENTERPRISE_URN ADC_SCIM_SCHEMA_ENTERPRISE
#define CORE_GROUP_URN ADC_SCIM_SCHEMA_GROUP ":"
#define GROUP_PROVIDER_ATTR ADC_SCIM_SCHEMA_GROUP_PROVIDER ":provider"

/* The longest WHERE clause: a filter is at most a few KiB (the server refuses longer ones), and
 * each of its comparisons turns into at most a few hundred bytes of SQL. */
#define MAX_SQL (1024 * 1024)

enum attr_type { T_STRING, T_EXACT, T_BOOL, T_MULTI };

/* How a User attribute is reached in SQL. */
struct sql_attr {
    enum attr_type type;
    const char *column; /* a column of users, or NULL for JSON in data */
    bool nocase_column; /* the column's collation (SQLite NOCASE, PostgreSQL citext) ignores case */
    const char *ns;     /* JSON in data: the extension object holding it, or NULL */
    char name[64];      /* JSON in data: the canonical dotted name ("name.familyName") */
};

static const char *const string_attrs[] = {
    "displayName",
    "nickName",
    "profileUrl",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "name.formatted",
    "name.familyName",
    "name.givenName",
    "name.middleName",
    "name.honorificPrefix",
    "name.honorificSuffix",
};
static const char *const multi_attrs[] = {
    "emails", "phoneNumbers",     "ims",    "photos", "addresses", "entitlements",
    "roles",  "x509Certificates", "groups",
};
static const char *const enterprise_attrs[] = {
    "employeeNumber", "costCenter", "organization", "division", "department", "manager.value",
};

/* What a filter is over: users (the users table), groups (the groups table, members through
 * group_members) or the members of one group (group_members rows, aliased m). */
enum sql_target { TARGET_USERS, TARGET_GROUPS, TARGET_MEMBERS };

struct sql_builder {
    enum sql_target target;
    struct adc_sql_where *w;
    struct adc_buf sql;
    bool pg; /* PostgreSQL, else SQLite */
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
    if (adc_buf_vprintf(&b->sql, fmt, ap) < 0)
        b->r = -ENOMEM;
    va_end(ap);
}

static void arg_text(struct sql_builder *b, const char *text) {
    if (b->r < 0)
        return;
    struct adc_sql_where *w = b->w;
    char *t = strdup(text);
    if (!t || adc_grow_array(w->args, w->cap, w->n, 8) < 0) {
        free(t);
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
        *a = (struct sql_attr){T_STRING, "user_name", true, NULL, ""};
    } else if (strcasecmp(attr, "externalId") == 0) {
        *a = (struct sql_attr){T_EXACT, "external_id", false, NULL, ""};
    } else if (strcasecmp(attr, "id") == 0) {
        *a = (struct sql_attr){T_EXACT, "id", false, NULL, ""};
    } else if (strcasecmp(attr, "active") == 0) {
        *a = (struct sql_attr){T_BOOL, "active", false, NULL, ""};
    } else if (strcasecmp(attr, "meta.created") == 0) {
        *a = (struct sql_attr){T_EXACT, "created", false, NULL, ""};
    } else if (strcasecmp(attr, "meta.lastModified") == 0) {
        *a = (struct sql_attr){T_EXACT, "modified", false, NULL, ""};
    } else if (strcasecmp(attr, PROVIDER_ATTR) == 0) {
        *a = (struct sql_attr){T_EXACT, "provider", false, NULL, ""};
    } else if (in_list(string_attrs, ADC_ARRAY_SIZE(string_attrs), attr, &canon)) {
        a->type = T_STRING;
        snprintf(a->name, sizeof(a->name), "%s", canon);
    } else if (strncasecmp(attr, ENTERPRISE_URN ":", strlen(ENTERPRISE_URN) + 1) == 0 &&
               in_list(enterprise_attrs, ADC_ARRAY_SIZE(enterprise_attrs),
                       attr + strlen(ENTERPRISE_URN) + 1, &canon)) {
        a->type = T_STRING;
        a->ns = ENTERPRISE_URN;
        snprintf(a->name, sizeof(a->name), "%s", canon);
    } else {
        /* Multi-valued: "emails" or "emails.value". */
        size_t n = strcspn(attr, ".");
        if (n >= sizeof(a->name))
            return false;
        char top[sizeof(a->name)];
        memcpy(top, attr, n);
        top[n] = '\0';
        if (!in_list(multi_attrs, ADC_ARRAY_SIZE(multi_attrs), top, &canon))
            return false;
        a->type = T_MULTI;
        snprintf(a->name, sizeof(a->name), "%s", canon);
        *sub_out = attr[n] == '.' ? attr + n + 1 : "value";
    }
    return true;
}

/* Sub-attributes of multi-valued attributes: only simple names. */
/* Resolves an attribute of a Group (RFC 7643 section 4.2); false when unknown. "members"
 * comes back as T_MULTI with the sub-attribute in *sub_out. */
static bool resolve_group_attr(const char *attr, struct sql_attr *a, const char **sub_out) {
    memset(a, 0, sizeof(*a));
    *sub_out = NULL;
    if (strncasecmp(attr, CORE_GROUP_URN, strlen(CORE_GROUP_URN)) == 0)
        attr += strlen(CORE_GROUP_URN);
    if (strcasecmp(attr, "displayName") == 0)
        *a = (struct sql_attr){.type = T_STRING, .column = "display_name", .nocase_column = true};
    else if (strcasecmp(attr, "externalId") == 0)
        *a = (struct sql_attr){.type = T_EXACT, .column = "external_id"};
    else if (strcasecmp(attr, "id") == 0)
        *a = (struct sql_attr){.type = T_EXACT, .column = "id"};
    else if (strcasecmp(attr, "meta.created") == 0)
        *a = (struct sql_attr){.type = T_EXACT, .column = "created"};
    else if (strcasecmp(attr, "meta.lastModified") == 0)
        *a = (struct sql_attr){.type = T_EXACT, .column = "modified"};
    else if (strcasecmp(attr, GROUP_PROVIDER_ATTR) == 0)
        *a = (struct sql_attr){.type = T_EXACT, .column = "provider"};
    else if (strncasecmp(attr, "members", 7) == 0 && (attr[7] == '\0' || attr[7] == '.')) {
        a->type = T_MULTI;
        *sub_out = attr[7] == '.' ? attr + 8 : "value";
    } else
        return false;
    return true;
}

/* A sub-attribute of a group's member as a column of group_members (alias m): value and
 * type are stored; display and $ref are derived, not filterable. */
static const char *member_column(const char *sub) {
    if (strcasecmp(sub, "value") == 0)
        return "m.member_id";
    if (strcasecmp(sub, "type") == 0)
        return "m.type";
    return NULL;
}

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

/* The text at a JSON path inside `source`. Paths come from the lists above or valid_sub(),
 * never from the request as such: safe to inline, quoted as SQL strings all the same.
 * SQLite: json_extract (a JSON true is 1). PostgreSQL: #>> on jsonb (a JSON true is 'true'). */
static void json_expr(struct sql_builder *b, char *out, size_t size, const char *source,
                      const char *ns, const char *dotted) {
    char path[200];
    size_t o = 0;
    if (b->pg) {
        o += (size_t)snprintf(path, sizeof(path), "{");
        if (ns)
            o += (size_t)snprintf(path + o, sizeof(path) - o, "\"%s\",", ns);
        for (const char *c = dotted; *c && o + 2 < sizeof(path); c++)
            path[o++] = *c == '.' ? ',' : *c;
        snprintf(path + o, sizeof(path) - o, "}");
        snprintf(out, size, "(%s::jsonb #>> '%s')", source, path);
    } else {
        if (ns)
            snprintf(path, sizeof(path), "$.\"%s\".%s", ns, dotted);
        else
            snprintf(path, sizeof(path), "$.%s", dotted);
        snprintf(out, size, "json_extract(%s, '%s')", source, path);
    }
}

/* The elements of a multi-valued attribute of users.data as a row source `e` with a column
 * `value`; none when the attribute is absent or not an array. */
static void emit_elements(struct sql_builder *b, const char *name) {
    if (b->pg)
        emit(b,
             "jsonb_array_elements(CASE WHEN jsonb_typeof(users.data::jsonb -> '%s') = 'array' "
             "THEN users.data::jsonb -> '%s' ELSE '[]'::jsonb END) AS e(value)",
             name, name);
    else
        emit(b, "json_each(users.data, '$.%s') AS e", name);
}

/* pr, or a comparison with null: true when handled (emitted, or refused in b). */
static bool compare_presence(struct sql_builder *b, const char *expr,
                             const struct adc_scim_filter *f) {
    if (f->op == ADC_SCIM_PR) {
        emit(b, "(%s IS NOT NULL AND %s <> '')", expr, expr);
        return true;
    }
    if (!json_is_null(f->value))
        return false;
    if (f->op == ADC_SCIM_EQ)
        emit(b, "(%s IS NULL)", expr);
    else if (f->op == ADC_SCIM_NE)
        emit(b, "(%s IS NOT NULL)", expr);
    else
        sql_fail(b, "null can only be compared with eq or ne ('%s')", f->attr);
    return true;
}

/* A boolean attribute, with eq or ne only. json_bool: expr is JSON text ('true'/'false' on
 * PostgreSQL) rather than an integer. */
static void compare_bool(struct sql_builder *b, const char *expr, bool json_bool,
                         const struct adc_scim_filter *f) {
    const json_t *v = f->value;
    if (!json_is_boolean(v) || (f->op != ADC_SCIM_EQ && f->op != ADC_SCIM_NE)) {
        sql_fail(b, "'%s' is a boolean: compare it with eq or ne and true or false", f->attr);
        return;
    }
    const char *op = f->op == ADC_SCIM_EQ ? "=" : "<>";
    if (json_bool && b->pg)
        emit(b, "(%s %s '%s')", expr, op, json_is_true(v) ? "true" : "false");
    else
        emit(b, "(%s %s %d)", expr, op, json_is_true(v) ? 1 : 0);
}

/* sw and ew: LIKE with the value escaped where case is ignored (ci), else substr(). */
static void compare_affix(struct sql_builder *b, const char *expr, bool ci, const char *s,
                          const struct adc_scim_filter *f) {
    if (strlen(s) > 400) {
        sql_fail(b, "value too long for '%s'", f->attr);
        return;
    }
    if (ci) {
        /* SQLite's LIKE ignores ASCII case, like NOCASE; PostgreSQL's ILIKE ignores case. */
        char esc[900], like[1024];
        escape_like(s, esc, sizeof(esc));
        snprintf(like, sizeof(like), f->op == ADC_SCIM_SW ? "%s%%" : "%%%s", esc);
        emit(b, "(%s %s ? ESCAPE '\\')", expr, b->pg ? "ILIKE" : "LIKE");
        arg_text(b, like);
    } else if (f->op == ADC_SCIM_SW) {
        emit(b, "(substr(%s, 1, length(?)) = ?)", expr);
        arg_text(b, s);
        arg_text(b, s);
    } else {
        emit(b, "(length(%s) >= length(?) AND substr(%s, length(%s) - length(?) + 1) = ?)", expr,
             expr, expr);
        arg_text(b, s);
        arg_text(b, s);
        arg_text(b, s);
    }
}

/* Emits the comparison of expression `expr` (SQL text without placeholders) with the filter's
 * value. json_bool: expr is JSON text ('true'/'false' on PostgreSQL) rather than an integer. */
static void compare(struct sql_builder *b, const char *expr, enum attr_type type, bool nocase_col,
                    bool json_bool, const struct adc_scim_filter *f) {
    if (compare_presence(b, expr, f))
        return;
    if (type == T_BOOL) {
        compare_bool(b, expr, json_bool, f);
        return;
    }
    if (!json_is_string(f->value)) {
        sql_fail(b, "'%s' is a string: compare it with a \"quoted\" value", f->attr);
        return;
    }
    const char *s = json_string_value(f->value);
    bool ci = type == T_STRING;
    /* A case-ignoring column compares without case by itself and keeps its index usable. */
    char lhs[400];
    if (ci && !nocase_col)
        snprintf(lhs, sizeof(lhs), "lower(%s)", expr);
    else
        snprintf(lhs, sizeof(lhs), "%s", expr);
    const char *rhs = ci && !nocase_col ? "lower(?)" : "?";
    const char *op = NULL;
    switch (f->op) {
    case ADC_SCIM_EQ: op = "="; break;
    case ADC_SCIM_GT: op = ">"; break;
    case ADC_SCIM_GE: op = ">="; break;
    case ADC_SCIM_LT: op = "<"; break;
    case ADC_SCIM_LE: op = "<="; break;
    case ADC_SCIM_NE:
        emit(b, "(%s IS NULL OR %s <> %s)", expr, lhs, rhs);
        arg_text(b, s);
        return;
    case ADC_SCIM_CO:
        /* instr() and strpos() ignore collations: fold case explicitly. */
        if (ci)
            emit(b, "(%s(lower(%s), lower(?)) > 0)", b->pg ? "strpos" : "instr", expr);
        else
            emit(b, "(%s(%s, ?) > 0)", b->pg ? "strpos" : "instr", expr);
        arg_text(b, s);
        return;
    case ADC_SCIM_SW:
    case ADC_SCIM_EW: compare_affix(b, expr, ci, s, f); return;
    default: sql_fail(b, "internal: bad operator"); return;
    }
    emit(b, "(%s %s %s)", lhs, op, rhs);
    arg_text(b, s);
}

/* A comparison on a sub-attribute of an element `e` of a multi-valued attribute: strings,
 * except primary. */
static void compare_sub(struct sql_builder *b, const char *sub, const struct adc_scim_filter *f) {
    char expr[300];
    json_expr(b, expr, sizeof(expr), "e.value", NULL, sub);
    bool primary = strcasecmp(sub, "primary") == 0;
    compare(b, expr, primary ? T_BOOL : T_STRING, false, true, f);
}

static void gen(struct sql_builder *b, const struct adc_scim_filter *f, bool element);

/* A condition on the elements of a multi-valued attribute: EXISTS over its elements. */
static void gen_multi(struct sql_builder *b, const char *name,
                      const struct adc_scim_filter *inner_or_null, const char *sub,
                      const struct adc_scim_filter *cmp) {
    emit(b, "EXISTS (SELECT 1 FROM ");
    emit_elements(b, name);
    emit(b, " WHERE ");
    if (inner_or_null) {
        gen(b, inner_or_null, true);
    } else {
        if (!valid_sub(sub)) {
            sql_fail(b, "invalid sub-attribute in '%s'", cmp->attr);
            return;
        }
        compare_sub(b, sub, cmp);
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

/* A condition on a group: a column, or on its members an EXISTS over group_members through
 * its primary key (group_id, member_id), so "members.value eq X" is one index lookup. */
static void gen_group(struct sql_builder *b, const struct adc_scim_filter *f,
                      const struct sql_attr *a, const char *sub) {
    if (a->type != T_MULTI) {
        if (f->op == ADC_SCIM_VALUE_PATH) {
            sql_fail(b, "'%s' is not a multi-valued attribute", f->attr);
            return;
        }
        char expr[100];
        snprintf(expr, sizeof(expr), "groups.%s", a->column);
        compare(b, expr, a->type, a->nocase_column, false, f);
        return;
    }
    if (f->op == ADC_SCIM_PR && !strchr(f->attr, '.')) {
        emit(b, "(groups.member_count > 0)");
        return;
    }
    if (f->op == ADC_SCIM_VALUE_PATH && strchr(f->attr, '.')) {
        sql_fail(b, "'%s' is not a multi-valued attribute", f->attr);
        return;
    }
    const char *col = f->op == ADC_SCIM_VALUE_PATH ? "" : member_column(sub);
    if (!col) {
        sql_fail(b, "members can be filtered by value and type, not '%s'", f->attr);
        return;
    }
    emit(b, "EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = groups.id AND ");
    if (f->op == ADC_SCIM_VALUE_PATH)
        gen(b, f->left, true);
    else
        compare(b, col, T_EXACT, false, false, f);
    emit(b, ")");
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
        emit(b, ", FALSE))");
        return;
    default: break;
    }
    if (element) {
        /* Inside attr[...]: sub-attributes of the element. */
        if (f->op == ADC_SCIM_VALUE_PATH || !valid_sub(f->attr)) {
            sql_fail(b, "invalid sub-attribute '%s' in a value filter", f->attr);
            return;
        }
        if (b->target != TARGET_USERS) {
            const char *col = member_column(f->attr);
            if (!col) {
                sql_fail(b, "members can be filtered by value and type, not '%s'", f->attr);
                return;
            }
            compare(b, col, T_EXACT, false, false, f);
            return;
        }
        compare_sub(b, f->attr, f);
        return;
    }
    struct sql_attr a;
    const char *sub;
    if (b->target == TARGET_GROUPS ? !resolve_group_attr(f->attr, &a, &sub)
                                   : !resolve_attr(f->attr, &a, &sub)) {
        sql_fail(b, "unsupported attribute '%s' in filter", f->attr);
        return;
    }
    if (b->target == TARGET_GROUPS) {
        gen_group(b, f, &a, sub);
        return;
    }
    if (f->op == ADC_SCIM_VALUE_PATH) {
        if (a.type != T_MULTI || strchr(f->attr, '.')) {
            sql_fail(b, "'%s' is not a multi-valued attribute", f->attr);
            return;
        }
        gen_multi(b, a.name, f->left, NULL, f);
        return;
    }
    if (a.type == T_MULTI) {
        if (f->op == ADC_SCIM_PR && !strchr(f->attr, '.')) {
            if (b->pg)
                emit(b,
                     "(coalesce(jsonb_array_length(CASE WHEN jsonb_typeof(users.data::jsonb -> "
                     "'%s') = 'array' THEN users.data::jsonb -> '%s' END), 0) > 0)",
                     a.name, a.name);
            else
                emit(b, "(coalesce(json_array_length(users.data, '$.%s'), 0) > 0)", a.name);
            return;
        }
        gen_multi(b, a.name, NULL, sub, f);
        return;
    }
    char expr[400];
    if (a.column)
        snprintf(expr, sizeof(expr), "users.%s", a.column);
    else
        json_expr(b, expr, sizeof(expr), "users.data", a.ns, a.name);
    compare(b, expr, a.type, a.nocase_column, false, f);
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

static int filter_sql(enum sql_target target, const struct adc_scim_filter *f,
                      enum adc_sql_dialect dialect, struct adc_sql_where *out, char *err,
                      size_t err_size) {
    struct adc_sql_where w = {0};
    struct sql_builder b = {.target = target,
                            .w = &w,
                            .pg = dialect == ADC_SQL_POSTGRESQL,
                            .err = err,
                            .err_size = err_size};
    adc_buf_init(&b.sql, MAX_SQL);
    /* The members of one group: the filter is on the elements themselves. */
    gen(&b, f, target == TARGET_MEMBERS);
    if (b.r == 0)
        w.sql = adc_buf_take(&b.sql, NULL);
    if (b.r == 0 && !w.sql)
        b.r = -ENOMEM;
    if (b.r < 0) {
        adc_buf_done(&b.sql);
        adc_sql_where_done(&w);
        if (b.r == -ENOMEM)
            snprintf(err, err_size, "out of memory or filter too complex");
        return b.r;
    }
    *out = w;
    return 0;
}

int adc_store_filter_sql(const struct adc_scim_filter *f, enum adc_sql_dialect dialect,
                         struct adc_sql_where *out, char *err, size_t err_size) {
    return filter_sql(TARGET_USERS, f, dialect, out, err, err_size);
}

int adc_store_filter_sql_groups(const struct adc_scim_filter *f, enum adc_sql_dialect dialect,
                                struct adc_sql_where *out, char *err, size_t err_size) {
    return filter_sql(TARGET_GROUPS, f, dialect, out, err, err_size);
}

int adc_store_filter_sql_members(const struct adc_scim_filter *f, enum adc_sql_dialect dialect,
                                 struct adc_sql_where *out, char *err, size_t err_size) {
    return filter_sql(TARGET_MEMBERS, f, dialect, out, err, err_size);
}
