/* The attributes of the core User schema (RFC 7643 section 4.1) that adc-server stores, with
 * the type each must have, shared by the two readers of User resources: the jansson one
 * (scim-user.c) and the tree-less one for Bulk creates (scim-user-scan.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define ADC_SCIM_MAX_NAME_LEN 256

enum adc_scim_attr_type {
    ADC_SCIM_ATTR_USER_NAME, /* a string checked with adc_scim_valid_text */
    ADC_SCIM_ATTR_STRING,
    ADC_SCIM_ATTR_MULTI,  /* an array */
    ADC_SCIM_ATTR_NAME,   /* an object */
    ADC_SCIM_ATTR_ACTIVE, /* a boolean, or the string "true" or "false" */
};

/* The canonical spelling of a stored core attribute, matched ignoring case, and its type; NULL
 * for anything else ("id", "meta", "schemas", "groups", "password", unknown names), which is
 * not stored. */
const char *adc_scim_core_attr(const char *key, enum adc_scim_attr_type *type);

/* A non-empty string of at most max bytes without control characters. */
bool adc_scim_valid_text(const char *s, size_t max);
