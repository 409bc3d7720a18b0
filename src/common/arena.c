#include "common/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

struct adc_arena_block {
    struct adc_arena_block *next;
    size_t used, size;
    char data[];
};

void adc_arena_init_growing(struct adc_arena *a, size_t first) {
    a->blocks = NULL;
    a->next = first;
}

void *adc_arena_alloc(struct adc_arena *a, size_t size) {
    struct adc_arena_block *b = a->blocks;
    if (!b || b->size - b->used < size) {
        size_t cap = a->next ? a->next : ADC_ARENA_BLOCK;
        if (cap < size)
            cap = size;
        if (cap > SIZE_MAX - sizeof(*b) || !(b = malloc(sizeof(*b) + cap)))
            return NULL;
        adc_mem_populate(b, sizeof(*b) + cap); /* filled from start to end, soon */
        b->used = 0;
        b->size = cap;
        b->next = a->blocks;
        a->blocks = b;
        if (a->next && a->next < ADC_ARENA_BLOCK)
            a->next = a->next * 2 < ADC_ARENA_BLOCK ? a->next * 2 : ADC_ARENA_BLOCK;
    }
    char *p = b->data + b->used;
    b->used += size;
    return p;
}

char *adc_arena_strndup(struct adc_arena *a, const char *s, size_t len) {
    if (len == SIZE_MAX)
        return NULL;
    char *p = adc_arena_alloc(a, len + 1);
    if (p) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

static void free_blocks(struct adc_arena_block *b) {
    for (struct adc_arena_block *next; b; b = next) {
        next = b->next;
        free(b);
    }
}

void adc_arena_done(struct adc_arena *a) {
    free_blocks(a->blocks);
    a->blocks = NULL;
}

void adc_arena_clear(struct adc_arena *a) {
    if (!a->blocks)
        return;
    free_blocks(a->blocks->next);
    a->blocks->next = NULL;
    a->blocks->used = 0;
}

struct adc_arena_mark adc_arena_mark(const struct adc_arena *a) {
    return (struct adc_arena_mark){a->blocks, a->blocks ? a->blocks->used : 0};
}

void adc_arena_rewind(struct adc_arena *a, struct adc_arena_mark m) {
    if (m.block && a->blocks == m.block)
        m.block->used = m.used;
}
