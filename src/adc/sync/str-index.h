/* A hash index from strings to array positions: the plan's lookups by externalId, userName
 * (ASCII case-insensitive, like the server's uniqueness rule) and SCIM id, in O(1) expected
 * time so that a sync of 100,000 users does no quadratic work. Keys are lent, not copied.
 *
 * Memory: 13 bytes a slot (the key, a 32-bit position, a one-byte tag of the hash that spares
 * most probes a visit to the key) at a load of at most 3/4: about 17-18 bytes a key. A keyed
 * index (adc_strindex_init_keyed) keeps no key pointers at all and asks the caller for the key
 * of a position: 5 bytes a slot, about 7 a key. The plan holds five indexes over all users; at
 * 1,000,000 users that is 35 MB instead of 87 MB (docs/BENCHMARKS.md, issue 21). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ADC_STRINDEX_NONE SIZE_MAX

/* The key of position `pos` of a keyed index (never NULL for a position that was put). */
typedef const char *(*adc_strindex_key_fn)(const void *ctx, size_t pos);

struct adc_strindex {
    const char **keys; /* NULL: empty slot; NULL altogether in a keyed index */
    uint32_t *pos;
    uint8_t *tags; /* 0: empty slot; else 1..255 from the key's hash */
    size_t cap;    /* slots; any size (the hash is mapped onto it by multiplication) */
    bool fold_case;
    adc_strindex_key_fn key_of; /* keyed index: the keys are the caller's, by position */
    const void *ctx;
};

/* Sizes the index for up to `n` keys (it never grows). Positions must be below 2^32 - 1.
 * Returns 0 or -ENOMEM. */
int adc_strindex_init(struct adc_strindex *ix, size_t n, bool fold_case);
/* The same, for keys the caller can give by position at any time (e.g. a field of the array
 * element at that position): the index stores no key pointers, key_of(ctx, pos) gives them,
 * and it must keep giving the same key for a position for the index's life. */
int adc_strindex_init_keyed(struct adc_strindex *ix, size_t n, bool fold_case,
                            adc_strindex_key_fn key_of, const void *ctx);
void adc_strindex_done(struct adc_strindex *ix);
/* Adds key -> pos unless the key is present. Returns ADC_STRINDEX_NONE when added, else the
 * position already held by that key (which is kept). Adding more than `n` keys is a
 * programming error. */
size_t adc_strindex_put(struct adc_strindex *ix, const char *key, size_t pos);
/* Filling a large index costs a cache miss or two per key (its slot is anywhere in arrays of
 * megabytes): most of a plan's time at 1,000,000 users (docs/BENCHMARKS.md, issue 21). A loop
 * hides them by computing the hash of a key some keys ahead (adc_strindex_hash), asking for
 * its slot then (adc_strindex_prefetch, only a hint), and putting it with that hash when it
 * gets there (adc_strindex_put_hashed: the same as adc_strindex_put). */
uint64_t adc_strindex_hash(const struct adc_strindex *ix, const char *key);
void adc_strindex_prefetch(const struct adc_strindex *ix, uint64_t h);
size_t adc_strindex_put_hashed(struct adc_strindex *ix, const char *key, uint64_t h, size_t pos);
/* The position of `key`, or ADC_STRINDEX_NONE. */
size_t adc_strindex_get(const struct adc_strindex *ix, const char *key);
