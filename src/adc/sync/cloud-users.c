#include "sync/cloud-users.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

#define BLOCK_SIZE (256u * 1024)

struct adc_cloud_block {
    struct adc_cloud_block *next;
    size_t used, size;
    char data[];
};

void adc_cloud_users_init(struct adc_cloud_users *c) { memset(c, 0, sizeof(*c)); }

void adc_cloud_users_done(struct adc_cloud_users *c) {
    if (!c)
        return;
    for (struct adc_cloud_block *b = c->blocks, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(c->items);
    memset(c, 0, sizeof(*c));
}

int adc_cloud_users_reserve(struct adc_cloud_users *c, size_t n) {
    if (n <= c->cap)
        return 0;
    if (n > SIZE_MAX / sizeof(*c->items))
        return -ENOMEM;
    struct adc_user *items = realloc(c->items, n * sizeof(*items));
    if (!items)
        return -ENOMEM;
    c->items = items;
    c->cap = n;
    return 0;
}

struct adc_user *adc_cloud_users_append(struct adc_cloud_users *c) {
    if (adc_grow_array(c->items, c->cap, c->n, 64) < 0)
        return NULL;
    struct adc_user *u = &c->items[c->n++];
    memset(u, 0, sizeof(*u));
    return u;
}

char *adc_cloud_users_strdup(void *ctx, const char *s, size_t len) {
    struct adc_cloud_users *c = ctx;
    struct adc_cloud_block *b = c->blocks;
    if (len >= SIZE_MAX - sizeof(*b) - BLOCK_SIZE)
        return NULL;
    if (!b || b->size - b->used < len + 1) {
        size_t size = len + 1 > BLOCK_SIZE ? len + 1 : BLOCK_SIZE;
        b = malloc(sizeof(*b) + size);
        if (!b)
            return NULL;
        b->used = 0;
        b->size = size;
        b->next = c->blocks;
        c->blocks = b;
    }
    char *p = b->data + b->used;
    memcpy(p, s, len);
    p[len] = '\0';
    b->used += len + 1;
    return p;
}

void adc_cloud_users_intern_provider(struct adc_cloud_users *c, struct adc_user *u) {
    if (!u->provider)
        return;
    if (c->last_provider && strcmp(c->last_provider, u->provider) == 0) {
        /* Give the copy back when it is the last thing in the block (it always is: the
         * provider is copied last), and share the earlier one. */
        struct adc_cloud_block *b = c->blocks;
        size_t len = strlen(u->provider) + 1;
        if (b && b->used >= len && b->data + b->used - len == u->provider)
            b->used -= len;
        u->provider = (char *)c->last_provider;
    } else {
        c->last_provider = u->provider;
    }
}
