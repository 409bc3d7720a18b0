#include "sync/str-index.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/mem.h"

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

/* The high bits pick the slot (h * cap / 2^64: any table size, no power of two rounding up
 * to twice the memory); the low byte is the tag, never 0. */
__extension__ typedef unsigned __int128 u128;

static size_t slot_of(uint64_t h, size_t cap) { return (size_t)(((u128)h * cap) >> 64); }

static uint8_t tag_of(uint64_t h) {
    uint8_t t = (uint8_t)(h ^ (h >> 8) ^ (h >> 16));
    return t ? t : 1;
}

static int init(struct adc_strindex *ix, size_t n, bool fold_case, bool with_keys) {
    /* Load factor at most 3/4: linear probing stays short (about 2.5 probes for a hit, 8.5
     * for a miss, each mostly in the byte array of tags). */
    memset(ix, 0, sizeof(*ix));
    if (n >= UINT32_MAX || n > SIZE_MAX / 8)
        return -ENOMEM;
    size_t cap = n + n / 3 + 16;
    ix->keys = with_keys ? calloc(cap, sizeof(*ix->keys)) : NULL;
    ix->pos = malloc(cap * sizeof(*ix->pos));
    ix->tags = calloc(cap, 1);
    if ((with_keys && !ix->keys) || !ix->pos || !ix->tags) {
        adc_strindex_done(ix);
        return -ENOMEM;
    }
    /* Every page of these is visited, in random order, while the index is filled. */
    adc_mem_populate(ix->keys, with_keys ? cap * sizeof(*ix->keys) : 0);
    adc_mem_populate(ix->pos, cap * sizeof(*ix->pos));
    adc_mem_populate(ix->tags, cap);
    ix->cap = cap;
    ix->fold_case = fold_case;
    return 0;
}

int adc_strindex_init(struct adc_strindex *ix, size_t n, bool fold_case) {
    return init(ix, n, fold_case, true);
}

int adc_strindex_init_keyed(struct adc_strindex *ix, size_t n, bool fold_case,
                            adc_strindex_key_fn key_of, const void *ctx) {
    int r = init(ix, n, fold_case, false);
    ix->key_of = key_of;
    ix->ctx = ctx;
    return r;
}

static const char *key_at(const struct adc_strindex *ix, size_t i) {
    return ix->keys ? ix->keys[i] : ix->key_of(ix->ctx, ix->pos[i]);
}

void adc_strindex_done(struct adc_strindex *ix) {
    free(ix->keys);
    free(ix->pos);
    free(ix->tags);
    ix->keys = NULL;
    ix->pos = NULL;
    ix->tags = NULL;
    ix->cap = 0;
}

size_t adc_strindex_put(struct adc_strindex *ix, const char *key, size_t pos) {
    assert(key);
    assert(pos < UINT32_MAX);
    uint64_t h = hash(key, ix->fold_case);
    uint8_t tag = tag_of(h);
    size_t i = slot_of(h, ix->cap);
    for (size_t probes = 0; probes < ix->cap; probes++) {
        if (!ix->tags[i]) {
            ix->tags[i] = tag;
            if (ix->keys)
                ix->keys[i] = key;
            ix->pos[i] = (uint32_t)pos;
            return ADC_STRINDEX_NONE;
        }
        if (ix->tags[i] == tag && same(key_at(ix, i), key, ix->fold_case))
            return ix->pos[i];
        if (++i == ix->cap)
            i = 0;
    }
    assert(!"adc_strindex_put: more keys than the index was sized for");
    return ADC_STRINDEX_NONE;
}

size_t adc_strindex_get(const struct adc_strindex *ix, const char *key) {
    if (!key || !ix->tags)
        return ADC_STRINDEX_NONE;
    uint64_t h = hash(key, ix->fold_case);
    uint8_t tag = tag_of(h);
    for (size_t i = slot_of(h, ix->cap);;) {
        uint8_t t = ix->tags[i];
        if (!t)
            return ADC_STRINDEX_NONE;
        if (t == tag && same(key_at(ix, i), key, ix->fold_case))
            return ix->pos[i];
        if (++i == ix->cap)
            i = 0;
    }
}
