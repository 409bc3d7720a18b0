#include "common/utf8.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/macros.h"
#include "common/utf8-tables.h"

/* Decodes one code point at *p; advances *p. -1 on invalid UTF-8 (RFC 3629). */
static int32_t decode(const unsigned char **p) {
    const unsigned char *s = *p;
    uint32_t c = s[0];
    size_t n;
    uint32_t min;
    if (c < 0x80) {
        *p = s + 1;
        return (int32_t)c;
    } else if ((c & 0xE0) == 0xC0) {
        n = 1, min = 0x80, c &= 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        n = 2, min = 0x800, c &= 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        n = 3, min = 0x10000, c &= 0x07;
    } else {
        return -1;
    }
    for (size_t i = 1; i <= n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return -1;
        c = c << 6 | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c < 0xE000))
        return -1;
    *p = s + n + 1;
    return (int32_t)c;
}

static size_t encode(uint32_t c, char *o) {
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xC0 | c >> 6);
        o[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | c >> 12);
        o[1] = (char)(0x80 | (c >> 6 & 0x3F));
        o[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | c >> 18);
    o[1] = (char)(0x80 | (c >> 12 & 0x3F));
    o[2] = (char)(0x80 | (c >> 6 & 0x3F));
    o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

static int cmp_fold(const void *key, const void *elem) {
    uint32_t c = *(const uint32_t *)key, f = ((const struct adc_utf8_fold *)elem)->from;
    return c < f ? -1 : c > f;
}

static int cmp_range(const void *key, const void *elem) {
    uint32_t c = *(const uint32_t *)key;
    const struct adc_utf8_range *r = elem;
    return c < r->lo ? -1 : c > r->hi;
}

int adc_utf8_casefold(const char *s, char *out, size_t size) {
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    while (*p) {
        int32_t c = decode(&p);
        if (c < 0)
            return -EINVAL;
        uint32_t cp = (uint32_t)c;
        uint32_t one[3] = {cp, 0, 0};
        const uint32_t *to = one;
        if (cp >= 'A' && cp <= 'Z') {
            one[0] = cp + 32; /* the common case without a search */
        } else if (cp >= 0x80) {
            const struct adc_utf8_fold *f =
                bsearch(&cp, adc_utf8_folds, ADC_ARRAY_SIZE(adc_utf8_folds),
                        sizeof(adc_utf8_folds[0]), cmp_fold);
            if (f)
                to = f->to;
        }
        for (size_t i = 0; i < 3 && (i == 0 || to[i]); i++) {
            if (o + 4 >= size)
                return -ENOSPC;
            o += encode(to[i], out + o);
        }
    }
    if (o >= size)
        return -ENOSPC;
    out[o] = '\0';
    return 0;
}

bool adc_utf8_name_valid(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int32_t c = decode(&p);
        if (c < 0)
            return false;
        uint32_t cp = (uint32_t)c;
        if (cp < 0x20 || cp == 0x7F)
            return false;
        if (cp >= 0x80 && bsearch(&cp, adc_utf8_refused, ADC_ARRAY_SIZE(adc_utf8_refused),
                                  sizeof(adc_utf8_refused[0]), cmp_range))
            return false;
    }
    return true;
}
