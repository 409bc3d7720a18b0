/* Diagnostics of configuration files: every problem is collected with its position, then all
 * are printed at once, in file order, as "file:line:col: error: message" (gcc's format, which
 * editors and CI logs understand). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>

#include "common/macros.h"

struct adc_diag_entry {
    unsigned line; /* 1-based; 0 = the file as a whole (no position printed) */
    unsigned col;  /* 1-based */
    bool warning;
    char *msg;
};

struct adc_diag {
    const char *file; /* as the user named it, so the message matches what they typed */
    FILE *out;
    struct adc_diag_entry *v;
    size_t n, cap;
    unsigned errors;
    unsigned warnings;
};

void adc_diag_init(struct adc_diag *d, const char *file, FILE *out);
void adc_diag_error(struct adc_diag *d, unsigned line, unsigned col, const char *fmt, ...)
    _printf_(4, 5);
/* The same with a va_list, for callers that add their own arguments (config-yaml.c). */
void adc_diag_verror(struct adc_diag *d, unsigned line, unsigned col, const char *fmt, va_list ap)
    _printf_(4, 0);
void adc_diag_warning(struct adc_diag *d, unsigned line, unsigned col, const char *fmt, ...)
    _printf_(4, 5);
/* Prints everything collected (sorted by position, whole-file messages first) and frees it. */
void adc_diag_flush(struct adc_diag *d);

/* The candidate closest to `word` by edit distance (case-insensitive) when it is close enough
 * to be a plausible typo, else NULL. */
const char *adc_diag_suggest(const char *word, const char *const *candidates, size_t n);
