/* The strict tree-less JSON reader of json-scan.h. */
#include "common/json-scan.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void adc_json_scan_init(struct adc_json_scan *s, const char *buf, size_t len, int max_depth) {
    *s = (struct adc_json_scan){.start = buf, .p = buf, .end = buf + len, .max_depth = max_depth};
}

int adc_json_scan_fail(struct adc_json_scan *s, const char *why) {
    if (!s->why)
        s->why = why;
    return -EBADMSG;
}

static bool is_ws(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

void adc_json_scan_ws(struct adc_json_scan *s) {
    while (s->p < s->end && is_ws(*s->p))
        s->p++;
}

bool adc_json_scan_eat(struct adc_json_scan *s, char c) {
    adc_json_scan_ws(s);
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return true;
    }
    return false;
}

bool adc_json_scan_next_is(struct adc_json_scan *s, char c) {
    adc_json_scan_ws(s);
    return s->p < s->end && *s->p == c;
}

bool adc_json_scan_literal(struct adc_json_scan *s, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) >= n && memcmp(s->p, word, n) == 0) {
        s->p += n;
        return true;
    }
    return false;
}

static int hex4(const char *p, unsigned *v) {
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        *v <<= 4;
        if (c >= '0' && c <= '9')
            *v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            *v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            *v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    return 0;
}

static size_t put_utf8(char *o, unsigned cp) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end) {
    unsigned c = p[0], n, cp;
    if (c < 0xC2 || c > 0xF4)
        return 0;
    n = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if ((size_t)(end - p) < n)
        return 0;
    cp = c & (0x3F >> (n - 1));
    for (unsigned i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return n;
}

/* The escape after a backslash at p (p[0] is the character after it), checked; returns its
 * length after the backslash (1, 5, or 11 for a surrogate pair), or 0 if it is invalid. */
static size_t escape_len(const char *p, const char *end, unsigned *cp_out) {
    unsigned cp;
    if (p >= end)
        return 0;
    if (*p != 'u') {
        if (!strchr("\"\\/bfnrt", *p) || !*p)
            return 0;
        return 1;
    }
    if (end - p < 5 || hex4(p + 1, &cp) < 0 || cp == 0)
        return 0; /* \u0000: an embedded NUL would cut the value short (jansson refuses it) */
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return 0;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        /* a surrogate only as the first half of a pair (RFC 8259 section 7) */
        unsigned lo;
        if (end - p < 11 || p[5] != '\\' || p[6] != 'u' || hex4(p + 7, &lo) < 0 || lo < 0xDC00 ||
            lo > 0xDFFF)
            return 0;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        if (cp_out)
            *cp_out = cp;
        return 11;
    }
    if (cp_out)
        *cp_out = cp;
    return 5;
}

/* How many bytes from p on are plain string bytes (ASCII, not a control character, not '"' nor
 * '\\'), read a word of 8 at a time; it may stop short of the run's end within the last 7
 * bytes before `end` (the byte loop goes on from there). Per word: a byte below 0x20, a byte
 * equal to '"' or '\\' (a zero byte after the XOR) and a byte with its high bit are flagged;
 * these tests may flag bytes above a true match but never below it, so the lowest flag is the
 * first byte that is not plain. Most of a SCIM listing's bytes are such runs (ids, names,
 * URNs): a fraction of the steps of a byte at a time (docs/BENCHMARKS.md, issue 21). */
static size_t plain_run(const char *p, const char *end) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    const char *q = p;
    while (end - q >= 8) {
        uint64_t x;
        memcpy(&x, q, sizeof(x));
        uint64_t quote = x ^ (ones * '"'), bs = x ^ (ones * '\\');
        uint64_t flags =
            (((x - ones * 0x20) & ~x) | ((quote - ones) & ~quote) | ((bs - ones) & ~bs) | x) & high;
        if (flags)
            return (size_t)(q - p) + (size_t)(__builtin_ctzll(flags) >> 3);
        q += 8;
    }
    return (size_t)(q - p);
#else
    (void)p;
    (void)end;
    return 0;
#endif
}

int adc_json_scan_string(struct adc_json_scan *s, const char **raw, size_t *raw_len,
                         bool *escaped) {
    if (!adc_json_scan_eat(s, '"'))
        return adc_json_scan_fail(s, "a string was expected");
    const char *begin = s->p;
    bool esc = false;
    while (s->p < s->end) {
        s->p += plain_run(s->p, s->end);
        if (s->p >= s->end || *s->p == '"')
            break;
        unsigned char c = (unsigned char)*s->p;
        if (c < 0x20)
            return adc_json_scan_fail(s, "control character in a string");
        if (c >= 0x80) {
            size_t n = utf8_len((const unsigned char *)s->p, (const unsigned char *)s->end);
            if (!n)
                return adc_json_scan_fail(s, "invalid UTF-8 in a string");
            s->p += n;
            continue;
        }
        if (c == '\\') {
            esc = true;
            if (s->end - s->p < 2)
                return adc_json_scan_fail(s, "unterminated string"); /* cut after the backslash */
            size_t n = escape_len(s->p + 1, s->end, NULL);
            if (!n) {
                s->p++; /* the error is at the escaped character, as adc always said */
                return adc_json_scan_fail(s, "invalid escape in a string");
            }
            s->p += 1 + n;
            continue;
        }
        s->p++;
    }
    if (s->p >= s->end)
        return adc_json_scan_fail(s, "unterminated string");
    if (raw)
        *raw = begin;
    if (raw_len)
        *raw_len = (size_t)(s->p - begin);
    if (escaped)
        *escaped = esc;
    s->p++;
    return 0;
}

int adc_json_scan_string_dup(struct adc_json_scan *s, char **out) {
    const char *raw;
    size_t len;
    bool escaped;
    int r = adc_json_scan_string(s, &raw, &len, &escaped);
    if (r < 0)
        return r;
    if (!(*out = malloc(len + 1)))
        return -ENOMEM;
    if (escaped) {
        adc_json_unescape(raw, len, *out);
    } else {
        memcpy(*out, raw, len);
        (*out)[len] = '\0';
    }
    return 0;
}

size_t adc_json_unescape(const char *raw, size_t raw_len, char *out) {
    const char *q = raw, *stop = raw + raw_len;
    char *o = out;
    while (q < stop) {
        if (*q != '\\') {
            *o++ = *q++;
            continue;
        }
        q++;
        unsigned cp = 0;
        size_t n = escape_len(q, stop, &cp);
        switch (*q) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': o += put_utf8(o, cp); break;
        default: *o++ = *q; break; /* " \ / */
        }
        q += n ? n : 1;
    }
    *o = '\0';
    return (size_t)(o - out);
}

int adc_json_scan_number(struct adc_json_scan *s, long long *value) {
    adc_json_scan_ws(s);
    const char *begin = s->p;
    if (s->p < s->end && *s->p == '-')
        s->p++;
    const char *digits = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
        s->p++;
    if (s->p == digits || (*digits == '0' && s->p - digits > 1))
        return adc_json_scan_fail(s, "invalid number");
    bool integer = true;
    if (s->p < s->end && *s->p == '.') {
        integer = false;
        const char *f = ++s->p;
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
            s->p++;
        if (s->p == f)
            return adc_json_scan_fail(s, "invalid number");
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        integer = false;
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        const char *e = s->p;
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
            s->p++;
        if (s->p == e)
            return adc_json_scan_fail(s, "invalid number");
    }
    /* What jansson refuses we refuse: an integer beyond 64 bits, a real beyond a double. */
    size_t len = (size_t)(s->p - begin);
    char small[64], *text = len < sizeof(small) ? small : malloc(len + 1);
    if (!text)
        return -ENOMEM;
    memcpy(text, begin, len);
    text[len] = '\0';
    errno = 0;
    bool overflow;
    if (integer) {
        (void)strtoll(text, NULL, 10);
        overflow = errno == ERANGE;
    } else {
        double d = strtod(text, NULL);
        overflow = errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL);
    }
    if (text != small)
        free(text);
    if (overflow)
        return adc_json_scan_fail(s, "number out of range");
    if (value) {
        *value = -1;
        if (integer && *begin != '-' && len <= 18) {
            long long v = 0;
            for (const char *q = begin; q < s->p; q++)
                v = v * 10 + (*q - '0');
            *value = v;
        }
    }
    return 0;
}

static int skip_container(struct adc_json_scan *s, char close, bool object) {
    if (++s->depth > s->max_depth)
        return adc_json_scan_fail(s, "nested too deeply");
    if (adc_json_scan_eat(s, close)) {
        s->depth--;
        return 0;
    }
    for (;;) {
        int r;
        if (object) {
            if ((r = adc_json_scan_string(s, NULL, NULL, NULL)) < 0)
                return r;
            if (!adc_json_scan_eat(s, ':'))
                return adc_json_scan_fail(s, "':' was expected");
        }
        if ((r = adc_json_scan_skip(s)) < 0)
            return r;
        if (adc_json_scan_eat(s, ','))
            continue;
        if (adc_json_scan_eat(s, close)) {
            s->depth--;
            return 0;
        }
        return adc_json_scan_fail(s,
                                  object ? "',' or '}' was expected" : "',' or ']' was expected");
    }
}

int adc_json_scan_skip(struct adc_json_scan *s) {
    adc_json_scan_ws(s);
    if (s->p >= s->end)
        return adc_json_scan_fail(s, "a value was expected");
    switch (*s->p) {
    case '"': return adc_json_scan_string(s, NULL, NULL, NULL);
    case '{': s->p++; return skip_container(s, '}', true);
    case '[': s->p++; return skip_container(s, ']', false);
    case 't':
        return adc_json_scan_literal(s, "true") ? 0 : adc_json_scan_fail(s, "invalid literal");
    case 'f':
        return adc_json_scan_literal(s, "false") ? 0 : adc_json_scan_fail(s, "invalid literal");
    case 'n':
        return adc_json_scan_literal(s, "null") ? 0 : adc_json_scan_fail(s, "invalid literal");
    default: return adc_json_scan_number(s, NULL);
    }
}

int adc_json_scan_object(struct adc_json_scan *s, adc_json_member_fn member, void *ctx) {
    if (!adc_json_scan_eat(s, '{'))
        return adc_json_scan_fail(s, "an object was expected");
    if (++s->depth > s->max_depth)
        return adc_json_scan_fail(s, "nested too deeply");
    if (adc_json_scan_eat(s, '}')) {
        s->depth--;
        return 0;
    }
    for (;;) {
        char key[96];
        const char *raw;
        size_t len;
        bool escaped;
        int r = adc_json_scan_string(s, &raw, &len, &escaped);
        if (r < 0)
            return r;
        if (!escaped && len < sizeof(key)) {
            memcpy(key, raw, len);
            key[len] = '\0';
        } else if (escaped && len < 600) {
            /* an escape is at most 6 bytes per decoded byte: 600 covers every key under 96 */
            char wide[600];
            size_t n = adc_json_unescape(raw, len, wide);
            memcpy(key, wide, n < sizeof(key) ? n + 1 : 1);
            if (n >= sizeof(key))
                key[0] = '\0';
        } else {
            key[0] = '\0';
        }
        if (!adc_json_scan_eat(s, ':'))
            return adc_json_scan_fail(s, "':' was expected");
        adc_json_scan_ws(s);
        if ((r = member(s, key, ctx)) < 0)
            return r;
        if (adc_json_scan_eat(s, ','))
            continue;
        if (adc_json_scan_eat(s, '}')) {
            s->depth--;
            return 0;
        }
        return adc_json_scan_fail(s, "',' or '}' was expected");
    }
}

int adc_json_scan_elements(struct adc_json_scan *s, adc_json_element_fn element, void *ctx) {
    if (adc_json_scan_eat(s, ']'))
        return 0;
    for (size_t i = 0;; i++) {
        adc_json_scan_ws(s);
        int r = element(s, i, ctx);
        if (r < 0)
            return r;
        if (adc_json_scan_eat(s, ','))
            continue;
        if (adc_json_scan_eat(s, ']'))
            return 0;
        return adc_json_scan_fail(s, "',' or ']' was expected");
    }
}

int adc_json_scan_end(struct adc_json_scan *s) {
    adc_json_scan_ws(s);
    return s->p == s->end ? 0 : adc_json_scan_fail(s, "text after the document");
}

void adc_json_scan_error(const struct adc_json_scan *s, int r, char *err, size_t err_size) {
    if (err && err_size)
        snprintf(err, err_size, "%s at byte %zu",
                 r == -ENOMEM ? "out of memory"
                 : s->why     ? s->why
                              : "invalid JSON",
                 (size_t)(s->p - s->start));
}

size_t adc_json_compact(const char *from, const char *to, char *out) {
    char *o = out;
    bool in_string = false;
    for (const char *q = from; q < to; q++) {
        char c = *q;
        if (in_string) {
            *o++ = c;
            if (c == '\\')
                *o++ = *++q; /* the escaped character cannot end the string */
            else if (c == '"')
                in_string = false;
        } else if (!is_ws(c)) {
            *o++ = c;
            in_string = c == '"';
        }
    }
    return (size_t)(o - out);
}
