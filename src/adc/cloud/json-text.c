#include "cloud/json-text.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool reserve(struct adc_json_text *t, size_t more) {
    if (t->oom)
        return false;
    if (t->len + more + 1 <= t->cap)
        return true;
    size_t cap = t->cap ? t->cap : 256;
    while (cap < t->len + more + 1) {
        if (cap > SIZE_MAX / 2) {
            t->oom = true;
            return false;
        }
        cap *= 2;
    }
    char *b = realloc(t->buf, cap);
    if (!b) {
        t->oom = true;
        return false;
    }
    t->buf = b;
    t->cap = cap;
    return true;
}

void adc_json_text_raw(struct adc_json_text *t, const char *s, size_t n) {
    if (!reserve(t, n))
        return;
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

void adc_json_text_lit(struct adc_json_text *t, const char *s) {
    adc_json_text_raw(t, s, strlen(s));
}

void adc_json_text_str(struct adc_json_text *t, const char *s) {
    if (!s) {
        adc_json_text_raw(t, "null", 4);
        return;
    }
    adc_json_text_strn(t, s, strlen(s));
}

void adc_json_text_strn(struct adc_json_text *t, const char *s, size_t n) {
    /* Worst case: every byte a \u00XX escape. */
    if (!reserve(t, n * 6 + 2))
        return;
    char *o = t->buf + t->len;
    *o++ = '"';
    for (const unsigned char *p = (const unsigned char *)s, *end = p + n; p < end; p++) {
        switch (*p) {
        case '"':
            *o++ = '\\';
            *o++ = '"';
            break;
        case '\\':
            *o++ = '\\';
            *o++ = '\\';
            break;
        case '\n':
            *o++ = '\\';
            *o++ = 'n';
            break;
        case '\r':
            *o++ = '\\';
            *o++ = 'r';
            break;
        case '\t':
            *o++ = '\\';
            *o++ = 't';
            break;
        default:
            if (*p < 0x20) {
                o += sprintf(o, "\\u%04x", *p);
            } else {
                *o++ = (char)*p;
            }
        }
    }
    *o++ = '"';
    *o = '\0';
    t->len = (size_t)(o - t->buf);
}

char *adc_json_text_take(struct adc_json_text *t) {
    char *b = t->oom ? NULL : t->buf;
    if (t->oom)
        free(t->buf);
    else if (!b)
        b = calloc(1, 1);
    t->buf = NULL;
    t->len = t->cap = 0;
    t->oom = false;
    return b;
}

void adc_json_text_done(struct adc_json_text *t) {
    free(t->buf);
    t->buf = NULL;
    t->len = t->cap = 0;
    t->oom = false;
}
