/* The attributes of the core User schema (RFC 7643 section 4.1) that adc-server stores, with
 * the type each must have, shared by the two readers of User resources: the jansson one
 * (scim-user-check.c) and the tree-less one for Bulk creates (scim-user-scan.c). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Size limits of stored users (docs/product.md section 11: every stored attribute has one), said
 * in adc-server(8) and in the descriptions of /Schemas (RFC 7643 has no member for them). A 7 MiB
 * displayName or 50,000 emails were accepted before; every user now costs at most
 * ADC_SCIM_MAX_USER_SIZE bytes of storage and of each listing page that holds it. */
#define ADC_SCIM_MAX_NAME_LEN 256           /* userName and externalId, bytes */
#define ADC_SCIM_MAX_STRING_LEN 4096        /* any other string value, bytes (a certificate fits) */
#define ADC_SCIM_MAX_VALUES 100             /* values of one multi-valued attribute */
#define ADC_SCIM_MAX_KEYS 32                /* members of one complex value */
#define ADC_SCIM_MAX_USER_SIZE 65536        /* the stored attributes as compact JSON text */
#define ADC_SCIM_MAX_PAGE_BYTES (16u << 20) /* stored text of one listing page; fewer users then   \
                                             */

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
/* A userName: adc_scim_valid_text with ADC_SCIM_MAX_NAME_LEN, valid UTF-8, and none of the
 * characters common/utf8.h refuses in names (zero-width, format, bidirectional controls). */
bool adc_scim_valid_name(const char *s);
/* Sub-attributes "primary" given as the strings "true"/"false" (any case) in the elements of a
 * multi-valued attribute become booleans. */
void adc_scim_booleans_normalize(json_t *array);

/* Checks a stored attribute's value against the limits above (strings, the values of arrays, the
 * members of objects, at every depth). 0, or -1 with a reason naming attr in why. */
int adc_scim_check_limits(const char *attr, const json_t *v, char *why, size_t why_size);
