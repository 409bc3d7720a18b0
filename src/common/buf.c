#include "common/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void adc_buf_init(struct adc_buf *b, size_t max) {
    memset(b, 0, sizeof(*b));
    b->max = max ? max : (size_t)1 << 30;
}

void adc_buf_done(struct adc_buf *b) {
    free(b->data);
    memset(b, 0, sizeof(*b));
}

char *adc_buf_take(struct adc_buf *b, size_t *len) {
    if (b->failed) {
        adc_buf_done(b);
        return NULL;
    }
    if (!b->data && adc_buf_append(b, "", 0) < 0)
        return NULL;
    char *d = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}

static int grow(struct adc_buf *b, size_t need) {
    if (b->failed)
        return -ENOMEM;
    if (need > b->max) {
        b->failed = true;
        return -E2BIG;
    }
    if (need + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need + 1)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
        b->failed = true;
        return -ENOMEM;
    }
    b->data = d;
    b->cap = cap;
    return 0;
}

int adc_buf_append(struct adc_buf *b, const void *data, size_t len) {
    int r = grow(b, b->len + len);
    if (r < 0)
        return r;
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int adc_buf_puts(struct adc_buf *b, const char *s) { return adc_buf_append(b, s, strlen(s)); }

int adc_buf_vprintf(struct adc_buf *b, const char *fmt, va_list ap) {
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    int r = n < 0 ? -EINVAL : grow(b, b->len + (size_t)n);
    if (r == 0) {
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again);
        b->len += (size_t)n;
    }
    va_end(again);
    return r;
}

int adc_buf_printf(struct adc_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = adc_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return r;
}

int adc_grow(void **items, size_t *cap, size_t n, size_t size, size_t first) {
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : (first ? first : 8);
    if (c < *cap || c > SIZE_MAX / size)
        return -ENOMEM;
    void *p = realloc(*items, c * size);
    if (!p)
        return -ENOMEM;
    *items = p;
    *cap = c;
    return 0;
}
