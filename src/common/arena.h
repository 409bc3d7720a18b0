/* Strings and small records one after the other in blocks, freed all at once: no allocation
 * (and no malloc header) per item, for lists of a million users or members (docs/BENCHMARKS.md,
 * issue 21). Used by the directory users' list (common/user.h), the cloud users' list
 * (adc sync/cloud-users.h) and a group's member values (adc directory/group-read.h). */
#pragma once

#include <stddef.h>

struct adc_arena_block;

/* Zeroed: blocks of ADC_ARENA_BLOCK bytes. A list that is often small starts smaller with
 * adc_arena_init_growing: its blocks double from `first` up to ADC_ARENA_BLOCK. */
struct adc_arena {
    struct adc_arena_block *blocks; /* the newest first */
    size_t next;                    /* the next block's size; 0: ADC_ARENA_BLOCK */
};
#define ADC_ARENA_BLOCK (256u * 1024)

void adc_arena_init_growing(struct adc_arena *a, size_t first);
/* `size` bytes (unaligned: for text and byte records), or NULL when out of memory. */
void *adc_arena_alloc(struct adc_arena *a, size_t size);
/* A NUL-terminated copy of s[0..len), or NULL when out of memory. */
char *adc_arena_strndup(struct adc_arena *a, const char *s, size_t len);
/* Frees every block; the arena is empty (and keeps its growth). */
void adc_arena_done(struct adc_arena *a);
/* Forgets everything but keeps the newest block for what comes next. */
void adc_arena_clear(struct adc_arena *a);

/* Where the arena stands, to give back what was allocated after it when a later step fails:
 * the space is reused if it is still in the same block, else it is only lost (at most the
 * failed item's). */
struct adc_arena_mark {
    struct adc_arena_block *block;
    size_t used;
};
struct adc_arena_mark adc_arena_mark(const struct adc_arena *a);
void adc_arena_rewind(struct adc_arena *a, struct adc_arena_mark m);
