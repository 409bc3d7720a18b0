#include "config/config-diag.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"

void adc_diag_init(struct adc_diag *d, const char *file, FILE *out) {
    *d = (struct adc_diag){.file = file, .out = out};
}

static void add(struct adc_diag *d, unsigned line, unsigned col, bool warning, const char *fmt,
                va_list ap) {
    char *msg = NULL;
    if (warning)
        d->warnings++;
    else
        d->errors++;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    if (adc_grow_array(d->v, d->cap, d->n, 16) < 0) {
        /* Out of memory: print now rather than lose the message (the count still holds). */
        fprintf(d->out, "%s:%u:%u: %s: %s\n", d->file, line, col, warning ? "warning" : "error",
                msg ? msg : "(out of memory)");
        free(msg);
        return;
    }
    d->v[d->n++] =
        (struct adc_diag_entry){.line = line, .col = col, .warning = warning, .msg = msg};
}

void adc_diag_error(struct adc_diag *d, unsigned line, unsigned col, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    add(d, line, col, false, fmt, ap);
    va_end(ap);
}

void adc_diag_verror(struct adc_diag *d, unsigned line, unsigned col, const char *fmt, va_list ap) {
    add(d, line, col, false, fmt, ap);
}

void adc_diag_warning(struct adc_diag *d, unsigned line, unsigned col, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    add(d, line, col, true, fmt, ap);
    va_end(ap);
}

void adc_diag_flush(struct adc_diag *d) {
    /* Insertion sort: stable (equal positions keep the order they were found in), and a
     * configuration file has few problems. */
    for (size_t i = 1; i < d->n; i++) {
        struct adc_diag_entry e = d->v[i];
        size_t j = i;
        while (j > 0 && (d->v[j - 1].line > e.line ||
                         (d->v[j - 1].line == e.line && d->v[j - 1].col > e.col))) {
            d->v[j] = d->v[j - 1];
            j--;
        }
        d->v[j] = e;
    }
    for (size_t i = 0; i < d->n; i++) {
        const struct adc_diag_entry *e = &d->v[i];
        const char *sev = e->warning ? "warning" : "error";
        const char *msg = e->msg ? e->msg : "(out of memory)";
        if (e->line)
            fprintf(d->out, "%s:%u:%u: %s: %s\n", d->file, e->line, e->col, sev, msg);
        else
            fprintf(d->out, "%s: %s: %s\n", d->file, sev, msg);
        free(e->msg);
    }
    fflush(d->out);
    free(d->v);
    d->v = NULL;
    d->n = d->cap = 0;
}

static size_t edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    /* Keys are short; anything long is not a typo of a key. */
    if (la > 64 || lb > 64)
        return (size_t)-1;
    size_t prev[65], cur[65];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            size_t best = prev[j - 1] + cost;
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            cur[j] = best;
        }
        memcpy(prev, cur, (lb + 1) * sizeof *prev);
    }
    return prev[lb];
}

/* '-' and '_' are the same typo: dry_run for dry-run, bind-dn for bind_dn. */
static void fold(char *dst, const char *src, size_t cap) {
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++)
        dst[i] = src[i] == '_' ? '-' : src[i];
    dst[i] = '\0';
}

const char *adc_diag_suggest(const char *word, const char *const *candidates, size_t n) {
    char w[80], c[80];
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    if (!word)
        return NULL;
    fold(w, word, sizeof w);
    for (size_t i = 0; i < n; i++) {
        fold(c, candidates[i], sizeof c);
        size_t dist = edit_distance(w, c);
        if (dist < best_d) {
            best_d = dist;
            best = candidates[i];
        }
    }
    /* A truncated or extended key ("address" for addr, "username_filter" for
     * username_filter_template) is a typo too, however many letters differ. */
    if (best_d > 0) {
        for (size_t i = 0; i < n; i++) {
            size_t lw = strlen(word), lc = strlen(candidates[i]);
            size_t shorter = lw < lc ? lw : lc;
            if (shorter >= 4 && strncasecmp(word, candidates[i], shorter) == 0)
                return candidates[i];
        }
    }
    /* Up to a third of the word may be wrong (at least one edit, at most three). */
    size_t limit = strlen(word) / 3;
    if (limit < 1)
        limit = 1;
    if (limit > 3)
        limit = 3;
    return best_d <= limit ? best : NULL;
}
