/* SCIM filters (RFC 7644 section 3.4.2.2): parsing (scim-filter.c) and evaluation against a
 * JSON object (scim-filter-match.c, for PATCH value paths, RFC 7644 section 3.5.2). The
 * translation to SQL is the store's: store/store-filter.h. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Deepest nesting of parentheses and not() in a filter. */
#define ADC_SCIM_FILTER_MAX_DEPTH 16

enum adc_scim_filter_op {
    ADC_SCIM_EQ,
    ADC_SCIM_NE,
    ADC_SCIM_CO,
    ADC_SCIM_SW,
    ADC_SCIM_EW,
    ADC_SCIM_GT,
    ADC_SCIM_GE,
    ADC_SCIM_LT,
    ADC_SCIM_LE,
    ADC_SCIM_PR,
    ADC_SCIM_AND,
    ADC_SCIM_OR,
    ADC_SCIM_NOT,
    ADC_SCIM_VALUE_PATH, /* attr[filter]: left is the filter on the elements of attr */
};

struct adc_scim_filter {
    enum adc_scim_filter_op op;
    char *attr;    /* attribute path as written ("name.familyName", "urn:...:User:provider") */
    json_t *value; /* comparison value: string, number, true, false or null */
    struct adc_scim_filter *left, *right;
};

void adc_scim_filter_free(struct adc_scim_filter *f);

/* Parses a filter. On error returns a negative errno and a reason in err. */
int adc_scim_filter_parse(const char *text, struct adc_scim_filter **out, char *err,
                          size_t err_size);

/* Evaluates a filter against a JSON object: attribute names are matched case-insensitively and
 * strings compared case-insensitively (the sub-attributes of multi-valued attributes, as used in
 * PATCH paths, are caseExact=false in RFC 7643). */
bool adc_scim_filter_match(const struct adc_scim_filter *f, const json_t *obj);

/* Looks up key in obj ignoring case (SCIM attribute names are case-insensitive). */
json_t *adc_scim_json_get(const json_t *obj, const char *key, const char **actual_key);
