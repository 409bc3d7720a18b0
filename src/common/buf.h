/* A growable byte buffer with a hard limit (curl's dynbuf): responses built piece by piece. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/macros.h"

struct adc_buf {
    char *data; /* NUL-terminated while not failed */
    size_t len, cap, max;
    bool failed; /* out of memory or over max: later appends do nothing */
};

/* max: the most bytes the buffer may hold (0 = 1 GiB). */
void adc_buf_init(struct adc_buf *b, size_t max);
void adc_buf_done(struct adc_buf *b);
/* Hands the data out (caller frees); NULL when the buffer failed. */
char *adc_buf_take(struct adc_buf *b, size_t *len);
int adc_buf_append(struct adc_buf *b, const void *data, size_t len);
int adc_buf_puts(struct adc_buf *b, const char *s);
int adc_buf_printf(struct adc_buf *b, const char *fmt, ...) _printf_(2, 3);
