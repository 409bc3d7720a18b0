/* SCIM filters: the parser (RFC 7644 section 3.4.2.2). SQL: store/store-filter.c; evaluation on
 * JSON: scim-filter-match.c. */
#include "scim/scim-filter.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/macros.h"

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
            return !strcmp(lit, "true")    ? json_true()
                   : !strcmp(lit, "false") ? json_false()
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

/* A chain and the `close` (')' or ']') after it; NULL, with the reason in p, when either fails. */
static struct adc_scim_filter *parse_enclosed(struct parser *p, bool in_brackets, char close) {
    struct adc_scim_filter *f = parse_chain(p, in_brackets, ADC_SCIM_OR);
    if (!f)
        return NULL;
    skip_ws(p);
    if (p->s[p->i] != close) {
        adc_scim_filter_free(f);
        fail(p, "expected '%c'", close);
        return NULL;
    }
    p->i++;
    return f;
}

/* "not (filter)", at "not". */
static struct adc_scim_filter *parse_not(struct parser *p, bool in_brackets) {
    p->i += 3;
    skip_ws(p);
    if (p->s[p->i] != '(') {
        fail(p, "expected '(' after not");
        return NULL;
    }
    p->i++;
    struct adc_scim_filter *inner = parse_enclosed(p, in_brackets, ')');
    if (!inner)
        return NULL;
    struct adc_scim_filter *f = node(ADC_SCIM_NOT);
    if (f)
        f->left = inner;
    else
        adc_scim_filter_free(inner);
    return f;
}

/* "attr[filter]", at '['; takes attr. */
static struct adc_scim_filter *parse_value_path(struct parser *p, char *attr, bool in_brackets) {
    if (in_brackets) {
        free(attr);
        fail(p, "value filters cannot be nested");
        return NULL;
    }
    p->i++;
    struct adc_scim_filter *inner = parse_enclosed(p, true, ']');
    struct adc_scim_filter *f = inner ? node(ADC_SCIM_VALUE_PATH) : NULL;
    if (!f) {
        free(attr);
        adc_scim_filter_free(inner);
        return NULL;
    }
    f->attr = attr;
    f->left = inner;
    return f;
}

/* "attr op value" or "attr pr", after the attribute; takes attr. */
static struct adc_scim_filter *parse_comparison(struct parser *p, char *attr) {
    if (p->s[p->i] != ' ') {
        free(attr);
        fail(p, "expected a space and an operator after the attribute");
        return NULL;
    }
    skip_ws(p);
    size_t i;
    for (i = 0; i < ADC_ARRAY_SIZE(ops); i++)
        if (keyword(p, ops[i].name))
            break;
    if (i == ADC_ARRAY_SIZE(ops)) {
        free(attr);
        fail(p, "unknown operator (supported: eq ne co sw ew gt ge lt le pr)");
        return NULL;
    }
    p->i += 2;
    struct adc_scim_filter *f = node(ops[i].op);
    if (!f) {
        free(attr);
        return NULL;
    }
    f->attr = attr;
    if (ops[i].op == ADC_SCIM_PR)
        return f;
    if (p->s[p->i] != ' ') {
        fail(p, "expected a space and a value after the operator");
        adc_scim_filter_free(f);
        return NULL;
    }
    skip_ws(p);
    f->value = parse_value(p);
    if (!f->value) {
        adc_scim_filter_free(f);
        return NULL;
    }
    return f;
}

/* An attribute's filter: a value path or a comparison. */
static struct adc_scim_filter *parse_attr_filter(struct parser *p, bool in_brackets) {
    size_t n = word(p);
    if (n == 0 || !isalpha((unsigned char)p->s[p->i])) {
        fail(p, p->s[p->i] ? "expected an attribute name" : "filter ends too early");
        return NULL;
    }
    char *attr = strndup(p->s + p->i, n);
    if (!attr)
        return NULL;
    p->i += n;
    if (p->s[p->i] == '[')
        return parse_value_path(p, attr, in_brackets);
    return parse_comparison(p, attr);
}

static struct adc_scim_filter *parse_primary(struct parser *p, bool in_brackets) {
    skip_ws(p);
    if (++p->depth > ADC_SCIM_FILTER_MAX_DEPTH) {
        fail(p, "filter nested deeper than %d levels", ADC_SCIM_FILTER_MAX_DEPTH);
        return NULL;
    }
    struct adc_scim_filter *f;
    if (keyword(p, "not"))
        f = parse_not(p, in_brackets);
    else if (p->s[p->i] == '(') {
        p->i++;
        f = parse_enclosed(p, in_brackets, ')');
    } else
        f = parse_attr_filter(p, in_brackets);
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
