/* SCIM filters evaluated on a JSON object (PATCH value paths, RFC 7644 section 3.5.2). */
#include <string.h>
#include <strings.h>

#include "scim/scim-filter.h"

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
        return f->op == ADC_SCIM_NE ? !json_is_null(want)
                                    : json_is_null(want) && f->op == ADC_SCIM_EQ;
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
    case ADC_SCIM_AND:
        return adc_scim_filter_match(f->left, obj) && adc_scim_filter_match(f->right, obj);
    case ADC_SCIM_OR:
        return adc_scim_filter_match(f->left, obj) || adc_scim_filter_match(f->right, obj);
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
