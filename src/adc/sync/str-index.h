/* A hash index from strings to array positions: the plan's lookups by externalId, userName
 * (ASCII case-insensitive, like the server's uniqueness rule) and SCIM id, in O(1) expected
 * time so that a sync of 100,000 users does no quadratic work. Keys are lent, not copied. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ADC_STRINDEX_NONE SIZE_MAX

struct adc_strindex_slot {
    const char *key; /* NULL: empty slot */
    size_t pos;
};

struct adc_strindex {
    struct adc_strindex_slot *slots;
    size_t mask;
    bool fold_case;
};

/* Sizes the index for up to `n` keys (it never grows). Returns 0 or -ENOMEM. */
int adc_strindex_init(struct adc_strindex *ix, size_t n, bool fold_case);
void adc_strindex_done(struct adc_strindex *ix);
/* Adds key -> pos unless the key is present. Returns ADC_STRINDEX_NONE when added, else the
 * position already held by that key (which is kept). Adding more than `n` keys is a
 * programming error. */
size_t adc_strindex_put(struct adc_strindex *ix, const char *key, size_t pos);
/* The position of `key`, or ADC_STRINDEX_NONE. */
size_t adc_strindex_get(const struct adc_strindex *ix, const char *key);
