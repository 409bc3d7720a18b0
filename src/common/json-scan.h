/* A strict JSON reader (RFC 8259) that builds no tree: the caller walks the buffer and copies
 * out only what it needs. adc reads pages of cloud users with it and adc-server reads Bulk
 * requests: with jansson, building and freeing a tree of every page or request was most of
 * the CPU time of a 100,000-user sync (docs/BENCHMARKS.md).
 *
 * What jansson (as we call it) refuses, this refuses too, read or skipped: invalid UTF-8,
 * control characters and \u0000 in strings, lone surrogates, integers beyond 64 bits, reals
 * beyond a double, nesting deeper than the limit given. Errors return -EBADMSG and keep the
 * first reason and where it happened. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct adc_json_scan {
    const char *start, *p, *end;
    int depth, max_depth;
    const char *why; /* the first error */
};

void adc_json_scan_init(struct adc_json_scan *s, const char *buf, size_t len, int max_depth);

/* Records why (if no earlier reason) and returns -EBADMSG. */
int adc_json_scan_fail(struct adc_json_scan *s, const char *why);

void adc_json_scan_ws(struct adc_json_scan *s);

/* After whitespace: consumes c if it is next. */
bool adc_json_scan_eat(struct adc_json_scan *s, char c);

/* After whitespace: whether the next byte is c (nothing consumed). */
bool adc_json_scan_next_is(struct adc_json_scan *s, char c);

/* Consumes the literal word (true, false, null) if it is next, without whitespace first. */
bool adc_json_scan_literal(struct adc_json_scan *s, const char *word);

/* A string after whitespace, checked. *raw and *raw_len (either may be NULL) get the bytes
 * between the quotes, still escaped; *escaped whether they hold a backslash. */
int adc_json_scan_string(struct adc_json_scan *s, const char **raw, size_t *raw_len, bool *escaped);

/* A string after whitespace, checked and decoded into a new allocation (*out, freed by the
 * caller). */
int adc_json_scan_string_dup(struct adc_json_scan *s, char **out);

/* Decodes the bytes of a string that adc_json_scan_string accepted into out, which needs
 * raw_len + 1 bytes (decoding never lengthens); returns the decoded length (out ends in
 * '\0'). */
size_t adc_json_unescape(const char *raw, size_t raw_len, char *out);

/* A number after whitespace. *value (if not NULL) gets it when it is a non-negative integer of
 * at most 18 digits, else -1. */
int adc_json_scan_number(struct adc_json_scan *s, long long *value);

/* Skips one value after whitespace, checking it. */
int adc_json_scan_skip(struct adc_json_scan *s);

/* Walks an object after whitespace: member(s, key, ctx) is called positioned at each value
 * (after whitespace) and must consume it. Keys are decoded; one longer than 95 bytes is passed
 * as "" (no member we look for is that long). */
typedef int (*adc_json_member_fn)(struct adc_json_scan *s, const char *key, void *ctx);
int adc_json_scan_object(struct adc_json_scan *s, adc_json_member_fn member, void *ctx);

/* Walks the elements of an array whose '[' the caller has consumed (so that it can say what
 * it expected there): element(s, index, ctx) is called positioned at each element (after
 * whitespace) and must consume it; then ',' or ']' must follow. */
typedef int (*adc_json_element_fn)(struct adc_json_scan *s, size_t index, void *ctx);
int adc_json_scan_elements(struct adc_json_scan *s, adc_json_element_fn element, void *ctx);

/* Checks that only whitespace is left. */
int adc_json_scan_end(struct adc_json_scan *s);

/* "<why> at byte N" ("out of memory" for -ENOMEM). */
void adc_json_scan_error(const struct adc_json_scan *s, int r, char *err, size_t err_size);

/* Appends the value text [from, to) that the scanner accepted to out, without the
 * whitespace between tokens: out needs (to - from) bytes. Returns the length written. */
size_t adc_json_compact(const char *from, const char *to, char *out);
