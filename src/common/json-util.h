/* JSON helpers shared by adc and adc-server: parsing outside input with hard limits.
 * jansson itself only stops at a nesting depth of 2048, far more than any request of ours
 * needs and enough to make a deep document expensive; we check depth before parsing. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Deepest nesting of objects and arrays we accept from outside (SCIM resources need 3-4). */
#define ADC_JSON_MAX_DEPTH 32

/* Returns the nesting depth of the JSON text (strings are skipped correctly), or -1 when it
 * exceeds max_depth. Brackets are not checked for balance; the parser does that. */
int adc_json_depth(const char *buf, size_t len, int max_depth);

/* Parses buf as one JSON value with a depth limit. On failure returns NULL and writes a short
 * reason (with line and column) into err. */
json_t *adc_json_parse(const char *buf, size_t len, int max_depth, char *err, size_t err_size);

struct adc_buf;
/* Appends s as a JSON string literal, or null when s is NULL: escaped per RFC 8259 section 7
 * (\" and \\, control characters as \u00XX; UTF-8 passes through as it is). The one JSON
 * escaper of both programs. */
int adc_json_append_string(struct adc_buf *b, const char *s);
/* The same for s[0..n), which need not be NUL-terminated (a NUL byte is escaped). */
int adc_json_append_stringn(struct adc_buf *b, const char *s, size_t n);
