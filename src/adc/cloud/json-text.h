/* Writing JSON text directly, for the documents adc sends and prints in bulk (100,000 SCIM
 * resources, 100,000 plan lines): no tree of values to build and free for each. Strings are
 * escaped per RFC 8259 section 7; UTF-8 passes through as it is. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct adc_json_text {
    char *buf;
    size_t len, cap;
    bool oom; /* an allocation failed: the text is incomplete */
};

void adc_json_text_raw(struct adc_json_text *t, const char *s, size_t n);
/* Appends a literal (a piece of JSON syntax written by us). */
void adc_json_text_lit(struct adc_json_text *t, const char *s);
/* Appends s as a JSON string, or null when s is NULL. */
void adc_json_text_str(struct adc_json_text *t, const char *s);
/* Appends s[0..n) as a JSON string (s need not be NUL-terminated; a NUL byte is escaped). */
void adc_json_text_strn(struct adc_json_text *t, const char *s, size_t n);
/* Hands the NUL-terminated text out (NULL when an allocation failed) and resets t. */
char *adc_json_text_take(struct adc_json_text *t);
void adc_json_text_done(struct adc_json_text *t);
