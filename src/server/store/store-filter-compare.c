/* Writing a filter's SQL (store-filter-internal.h): the text and its arguments, the first error,
 * and one comparison of an attribute's expression with a filter's value, in either dialect. */
#include "store/store-filter-internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

void adc_sql_emit(struct sql_builder *b, const char *fmt, ...) {
    if (b->r < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    if (adc_buf_vprintf(&b->sql, fmt, ap) < 0)
        b->r = -ENOMEM;
    va_end(ap);
}

void adc_sql_arg(struct sql_builder *b, const char *text) {
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

void adc_sql_fail(struct sql_builder *b, const char *fmt, ...) {
    if (b->r < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->err, b->err_size, fmt, ap);
    va_end(ap);
    b->r = -EINVAL;
}

/* A value inside a LIKE pattern: its %, _ and backslashes escaped with a backslash (ESCAPE). */
static void escape_like(const char *in, char *out, size_t size) {
    size_t o = 0;
    for (; *in && o + 3 < size; in++) {
        if (*in == '%' || *in == '_' || *in == '\\')
            out[o++] = '\\';
        out[o++] = *in;
    }
    out[o] = '\0';
}

/* pr, or a comparison with null: true when handled (emitted, or refused in b). */
static bool compare_presence(struct sql_builder *b, const char *expr,
                             const struct adc_scim_filter *f) {
    if (f->op == ADC_SCIM_PR) {
        adc_sql_emit(b, "(%s IS NOT NULL AND %s <> '')", expr, expr);
        return true;
    }
    if (!json_is_null(f->value))
        return false;
    if (f->op == ADC_SCIM_EQ)
        adc_sql_emit(b, "(%s IS NULL)", expr);
    else if (f->op == ADC_SCIM_NE)
        adc_sql_emit(b, "(%s IS NOT NULL)", expr);
    else
        adc_sql_fail(b, "null can only be compared with eq or ne ('%s')", f->attr);
    return true;
}

/* A boolean attribute, with eq or ne only. json_bool: expr is JSON text ('true'/'false' on
 * PostgreSQL) rather than an integer. */
static void compare_bool(struct sql_builder *b, const char *expr, bool json_bool,
                         const struct adc_scim_filter *f) {
    const json_t *v = f->value;
    if (!json_is_boolean(v) || (f->op != ADC_SCIM_EQ && f->op != ADC_SCIM_NE)) {
        adc_sql_fail(b, "'%s' is a boolean: compare it with eq or ne and true or false", f->attr);
        return;
    }
    const char *op = f->op == ADC_SCIM_EQ ? "=" : "<>";
    if (json_bool && b->pg)
        adc_sql_emit(b, "(%s %s '%s')", expr, op, json_is_true(v) ? "true" : "false");
    else
        adc_sql_emit(b, "(%s %s %d)", expr, op, json_is_true(v) ? 1 : 0);
}

/* sw and ew: LIKE with the value escaped where case is ignored (ci), else substr(). */
static void compare_affix(struct sql_builder *b, const char *expr, bool ci, const char *s,
                          const struct adc_scim_filter *f) {
    if (strlen(s) > 400) {
        adc_sql_fail(b, "value too long for '%s'", f->attr);
        return;
    }
    if (ci) {
        /* SQLite's LIKE ignores ASCII case, like NOCASE; PostgreSQL's ILIKE ignores case. */
        char esc[900], like[1024];
        escape_like(s, esc, sizeof(esc));
        snprintf(like, sizeof(like), f->op == ADC_SCIM_SW ? "%s%%" : "%%%s", esc);
        adc_sql_emit(b, "(%s %s ? ESCAPE '\\')", expr, b->pg ? "ILIKE" : "LIKE");
        adc_sql_arg(b, like);
    } else if (f->op == ADC_SCIM_SW) {
        adc_sql_emit(b, "(substr(%s, 1, length(?)) = ?)", expr);
        adc_sql_arg(b, s);
        adc_sql_arg(b, s);
    } else {
        adc_sql_emit(b, "(length(%s) >= length(?) AND substr(%s, length(%s) - length(?) + 1) = ?)",
                     expr, expr, expr);
        adc_sql_arg(b, s);
        adc_sql_arg(b, s);
        adc_sql_arg(b, s);
    }
}

/* Emits the comparison of expression `expr` (SQL text without placeholders) with the filter's
 * value. json_bool: expr is JSON text ('true'/'false' on PostgreSQL) rather than an integer. */
void adc_sql_compare(struct sql_builder *b, const char *expr, enum attr_type type, bool nocase_col,
                     bool json_bool, const struct adc_scim_filter *f) {
    if (compare_presence(b, expr, f))
        return;
    if (type == T_BOOL) {
        compare_bool(b, expr, json_bool, f);
        return;
    }
    if (!json_is_string(f->value)) {
        adc_sql_fail(b, "'%s' is a string: compare it with a \"quoted\" value", f->attr);
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
        adc_sql_emit(b, "(%s IS NULL OR %s <> %s)", expr, lhs, rhs);
        adc_sql_arg(b, s);
        return;
    case ADC_SCIM_CO:
        /* instr() and strpos() ignore collations: fold case explicitly. */
        if (ci)
            adc_sql_emit(b, "(%s(lower(%s), lower(?)) > 0)", b->pg ? "strpos" : "instr", expr);
        else
            adc_sql_emit(b, "(%s(%s, ?) > 0)", b->pg ? "strpos" : "instr", expr);
        adc_sql_arg(b, s);
        return;
    case ADC_SCIM_SW:
    case ADC_SCIM_EW: compare_affix(b, expr, ci, s, f); return;
    default: adc_sql_fail(b, "internal: bad operator"); return;
    }
    adc_sql_emit(b, "(%s %s %s)", lhs, op, rhs);
    adc_sql_arg(b, s);
}
