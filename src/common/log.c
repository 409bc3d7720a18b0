#include "common/log.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum adc_log_level max_level = ADC_LOG_NOTICE;
static const char *program = "adc";
/* One line at a time: the agent logs from its password-check threads too. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void adc_log_set_level(enum adc_log_level level) { max_level = level; }
enum adc_log_level adc_log_get_level(void) { return max_level; }
void adc_log_set_program(const char *name) { program = name; }

static const char *level_word(enum adc_log_level level) {
    switch (level) {
    case ADC_LOG_ERROR: return "error";
    case ADC_LOG_WARNING: return "warning";
    case ADC_LOG_NOTICE: return "notice";
    case ADC_LOG_INFO: return "info";
    case ADC_LOG_DEBUG: return "debug";
    }
    return "log";
}

/* systemd sets JOURNAL_STREAM when stderr is connected to the journal. */
static int under_journald(void) {
    static int cached = -1;
    if (cached < 0)
        cached = getenv("JOURNAL_STREAM") != NULL;
    return cached;
}

void adc_logv(enum adc_log_level level, const char *fmt, va_list ap) {
    if (level > max_level)
        return;
    pthread_mutex_lock(&log_lock);
    if (under_journald())
        fprintf(stderr, "<%d>", (int)level);
    else if (level == ADC_LOG_NOTICE || level == ADC_LOG_INFO)
        fprintf(stderr, "%s: ", program);
    else
        fprintf(stderr, "%s: %s: ", program, level_word(level));
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    fflush(stderr);
    pthread_mutex_unlock(&log_lock);
}

void adc_log(enum adc_log_level level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    adc_logv(level, fmt, ap);
    va_end(ap);
}

/* Length of the valid UTF-8 sequence at p (2 to 4), or 0 when it is not one (overlong forms and
 * surrogates included). */
static size_t utf8_len(const unsigned char *p, unsigned *cp) {
    unsigned c = p[0];
    size_t n;
    unsigned min;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        c &= 0x1f;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        c &= 0x0f;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        c &= 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (p[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return n;
}

static const char *escape(const char *s, char *buf, size_t size, bool quotes) {
    if (size < 16) {
        if (size > 0)
            buf[0] = '\0';
        return buf;
    }
    if (!s) {
        snprintf(buf, size, "(null)");
        return buf;
    }
    /* Room kept for the closing quote, "..." and the NUL. */
    size_t o = 0, limit = size - 5;
    if (quotes)
        buf[o++] = '"';
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        char piece[16];
        size_t in = 1, out;
        unsigned cp = 0;
        if (*p == '"' || *p == '\\') {
            piece[0] = '\\';
            piece[1] = (char)*p;
            out = 2;
        } else if (*p == '\n' || *p == '\r' || *p == '\t') {
            piece[0] = '\\';
            piece[1] = *p == '\n' ? 'n' : *p == '\r' ? 'r' : 't';
            out = 2;
        } else if (*p < 0x20 || *p == 0x7f) {
            out = (size_t)snprintf(piece, sizeof(piece), "\\x%02x", *p);
        } else if (*p < 0x80) {
            piece[0] = (char)*p;
            out = 1;
        } else if ((in = utf8_len(p, &cp)) == 0) {
            in = 1;
            out = (size_t)snprintf(piece, sizeof(piece), "\\x%02x", *p);
        } else if (cp < 0xa0 || cp == 0x2028 || cp == 0x2029) {
            out = (size_t)snprintf(piece, sizeof(piece), "\\u{%04x}", cp);
        } else {
            memcpy(piece, p, in);
            out = in;
        }
        if (o + out > limit) {
            memcpy(buf + o, quotes ? "\"..." : "...", quotes ? 5 : 4);
            return buf;
        }
        memcpy(buf + o, piece, out);
        o += out;
        p += in;
    }
    if (quotes)
        buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

const char *adc_log_quote(const char *s, char *buf, size_t size) {
    return escape(s, buf, size, true);
}

const char *adc_log_escape(const char *s, char *buf, size_t size) {
    return escape(s, buf, size, false);
}
