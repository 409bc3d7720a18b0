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

void adc_buf_init_secret(struct adc_buf *b, size_t max) {
    adc_buf_init(b, max);
    b->wipe = true;
}

void adc_buf_done(struct adc_buf *b) {
    if (b->wipe && b->data)
        explicit_bzero(b->data, b->cap);
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
    b->failed = false;
    return d;
}

void adc_buf_clear(struct adc_buf *b) {
    if (b->data) {
        if (b->wipe)
            explicit_bzero(b->data, b->cap);
        b->data[0] = '\0';
    }
    b->len = 0;
    b->failed = false;
}

/* Moves the data to a block of cap bytes (cap > len); the old block is wiped when secret. */
static int resize(struct adc_buf *b, size_t cap) {
    char *d = b->wipe ? malloc(cap) : realloc(b->data, cap);
    if (!d) {
        b->failed = true;
        return -ENOMEM;
    }
    if (!b->data)
        d[0] = '\0';
    else if (b->wipe) {
        memcpy(d, b->data, b->len + 1);
        explicit_bzero(b->data, b->cap);
        free(b->data);
    }
    b->data = d;
    b->cap = cap;
    return 0;
}

static int grow(struct adc_buf *b, size_t need) {
    if (b->failed)
        return -ENOMEM;
    if (need > (b->max ? b->max : (size_t)1 << 30)) {
        b->failed = true;
        return -E2BIG;
    }
    if (need + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need + 1)
        cap *= 2;
    return resize(b, cap);
}

int adc_buf_reserve(struct adc_buf *b, size_t len) {
    if (b->failed)
        return -ENOMEM;
    if (len > (b->max ? b->max : (size_t)1 << 30) - b->len)
        return -E2BIG;
    return b->len + len + 1 <= b->cap ? 0 : resize(b, b->len + len + 1);
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

int adc_grow_n(void **items, size_t n, size_t size, size_t first) {
    if (!first)
        first = 8;
    size_t cap = 0; /* what adc_grow made of the array so far */
    if (n > 0)
        for (cap = first; cap < n; cap *= 2)
            ;
    return adc_grow(items, &cap, n, size, first);
}

char *adc_strdup_vprintf(const char *fmt, va_list ap) {
    char *s = NULL;
    return vasprintf(&s, fmt, ap) < 0 ? NULL : s;
}

char *adc_strdup_printf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *s = adc_strdup_vprintf(fmt, ap);
    va_end(ap);
    return s;
}

void adc_set_error(char **err, const char *fmt, ...) {
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    *err = adc_strdup_vprintf(fmt, ap);
    va_end(ap);
}

int adc_read_file(const char *path, size_t max, char **ret, size_t *len) {
    if (max >= SIZE_MAX)
        return -EINVAL;
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    char *buf = malloc(max + 1);
    int r = -ENOMEM;
    if (!buf)
        goto out;
    size_t n = fread(buf, 1, max + 1, f);
    if (ferror(f)) {
        r = errno ? -errno : -EIO;
        goto out;
    }
    if (n > max) {
        r = -EFBIG;
        goto out;
    }
    buf[n] = '\0';
    *ret = buf;
    buf = NULL; /* the caller's now */
    if (len)
        *len = n;
    r = 0;
out:
    free(buf);
    fclose(f);
    return r;
}
