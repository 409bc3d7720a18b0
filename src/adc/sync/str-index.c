#include "sync/str-index.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ASCII-only folding on purpose: it is what strcasecmp and SQLite's NOCASE compare. */
static inline unsigned char fold(unsigned char c) {
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* FNV-1a, 64 bit: short keys, good spread, no table. */
static uint64_t hash(const char *s, bool fold_case) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= fold_case ? fold(*p) : *p;
        h *= 0x100000001b3ULL;
    }
    return h;
}

static bool same(const char *a, const char *b, bool fold_case) {
    return fold_case ? strcasecmp(a, b) == 0 : strcmp(a, b) == 0;
}

int adc_strindex_init(struct adc_strindex *ix, size_t n, bool fold_case) {
    size_t cap = 16;
    /* Load factor at most 1/2 keeps linear probing short. */
    while (cap < n * 2) {
        if (cap > SIZE_MAX / 4)
            return -ENOMEM;
        cap *= 2;
    }
    struct adc_strindex_slot *slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return -ENOMEM;
    ix->slots = slots;
    ix->mask = cap - 1;
    ix->fold_case = fold_case;
    return 0;
}

void adc_strindex_done(struct adc_strindex *ix) {
    free(ix->slots);
    ix->slots = NULL;
    ix->mask = 0;
}

size_t adc_strindex_put(struct adc_strindex *ix, const char *key, size_t pos) {
    assert(key);
    size_t i = hash(key, ix->fold_case) & ix->mask;
    for (size_t probes = 0; probes <= ix->mask; probes++, i = (i + 1) & ix->mask) {
        struct adc_strindex_slot *s = &ix->slots[i];
        if (!s->key) {
            s->key = key;
            s->pos = pos;
            return ADC_STRINDEX_NONE;
        }
        if (same(s->key, key, ix->fold_case))
            return s->pos;
    }
    assert(!"adc_strindex_put: more keys than the index was sized for");
    return ADC_STRINDEX_NONE;
}

size_t adc_strindex_get(const struct adc_strindex *ix, const char *key) {
    if (!key || !ix->slots)
        return ADC_STRINDEX_NONE;
    for (size_t i = hash(key, ix->fold_case) & ix->mask;; i = (i + 1) & ix->mask) {
        const struct adc_strindex_slot *s = &ix->slots[i];
        if (!s->key)
            return ADC_STRINDEX_NONE;
        if (same(s->key, key, ix->fold_case))
            return s->pos;
    }
}
