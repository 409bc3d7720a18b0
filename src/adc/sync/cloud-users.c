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

static void free_blocks(struct adc_cloud_block *b) {
    for (struct adc_cloud_block *next; b; b = next) {
        next = b->next;
        free(b);
    }
}

void adc_cloud_users_done(struct adc_cloud_users *c) {
    if (!c)
        return;
    free_blocks(c->blocks);
    free(c->items);
    memset(c, 0, sizeof(*c));
}

int adc_cloud_users_reserve(struct adc_cloud_users *c, size_t n) {
    if (n <= c->cap)
        return 0;
    if (n > SIZE_MAX / sizeof(*c->items))
        return -ENOMEM;
    struct adc_cloud_user *items = realloc(c->items, n * sizeof(*items));
    if (!items)
        return -ENOMEM;
    c->items = items;
    c->cap = n;
    return 0;
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

void adc_cloud_users_clear_strings(struct adc_cloud_users *c) {
    struct adc_cloud_block *b = c->blocks;
    if (!b)
        return;
    free_blocks(b->next);
    b->next = NULL;
    b->used = 0;
    c->last_provider = NULL;
}

/* The block's used size before a copy, to give the copies back when a later one fails. */
static size_t mark(const struct adc_cloud_users *c) { return c->blocks ? c->blocks->used : 0; }

static int copy(struct adc_cloud_users *c, const char *s, const char **out) {
    *out = NULL;
    if (!s)
        return 0;
    return (*out = adc_cloud_users_strdup(c, s, strlen(s))) ? 0 : -ENOMEM;
}

struct adc_cloud_user *adc_cloud_users_add(struct adc_cloud_users *c, const struct adc_user *u) {
    if (adc_grow_array(c->items, c->cap, c->n, 64) < 0)
        return NULL;
    struct adc_cloud_user *cu = &c->items[c->n];
    struct adc_cloud_block *b0 = c->blocks;
    size_t used0 = mark(c);
    memset(cu, 0, sizeof(*cu));
    if (copy(c, u->id, &cu->id) < 0 || copy(c, u->user_name, &cu->user_name) < 0 ||
        copy(c, u->external_id, &cu->external_id) < 0)
        goto fail;
    if (u->provider && c->last_provider && strcmp(c->last_provider, u->provider) == 0)
        cu->provider = c->last_provider;
    else if (u->provider) {
        if (copy(c, u->provider, &cu->provider) < 0)
            goto fail;
        c->last_provider = cu->provider;
    }
    adc_user_digest(u, cu->digest);
    cu->active = u->active;
    c->n++;
    return cu;
fail:
    /* A new block may have been started: the copies made in it are lost space only (at most
     * one user's strings), the block stays for the next user. */
    if (c->blocks == b0 && b0)
        b0->used = used0;
    return NULL;
}
