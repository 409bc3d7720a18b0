/* A hash index from strings to array positions: the plan's lookups by externalId, userName
 * (ASCII case-insensitive, like the server's uniqueness rule) and SCIM id, in O(1) expected
 * time so that a sync of 100,000 users does no quadratic work. Keys are lent, not copied.
 *
 * Memory: 13 bytes a slot (the key, a 32-bit position, a one-byte tag of the hash that spares
 * most probes a visit to the key) at a load of at most 3/4: about 17-18 bytes a key. The plan
 * holds five of these over all users; at 1,000,000 users the 16-byte slots at a load under 1/2
 * they replace took 168 MB (docs/BENCHMARKS.md, issue 21). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ADC_STRINDEX_NONE SIZE_MAX

struct adc_strindex {
    const char **keys; /* NULL: empty slot */
    uint32_t *pos;
    uint8_t *tags; /* 0: empty slot; else 1..255 from the key's hash */
    size_t cap;    /* slots; any size (the hash is mapped onto it by multiplication) */
    bool fold_case;
};

/* Sizes the index for up to `n` keys (it never grows). Positions must be below 2^32 - 1.
 * Returns 0 or -ENOMEM. */
int adc_strindex_init(struct adc_strindex *ix, size_t n, bool fold_case);
void adc_strindex_done(struct adc_strindex *ix);
/* Adds key -> pos unless the key is present. Returns ADC_STRINDEX_NONE when added, else the
 * position already held by that key (which is kept). Adding more than `n` keys is a
 * programming error. */
size_t adc_strindex_put(struct adc_strindex *ix, const char *key, size_t pos);
/* The position of `key`, or ADC_STRINDEX_NONE. */
size_t adc_strindex_get(const struct adc_strindex *ix, const char *key);
