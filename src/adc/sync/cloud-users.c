#include "sync/cloud-users.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/mem.h"

void adc_cloud_users_init(struct adc_cloud_users *c) { memset(c, 0, sizeof(*c)); }

void adc_cloud_users_done(struct adc_cloud_users *c) {
    if (!c)
        return;
    adc_arena_done(&c->blocks);
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
    /* Reserved for the count the listing announced: it is filled to the end. */
    adc_mem_populate(items + c->cap, (n - c->cap) * sizeof(*items));
    c->items = items;
    c->cap = n;
    return 0;
}

char *adc_cloud_users_strdup(void *ctx, const char *s, size_t len) {
    struct adc_cloud_users *c = ctx;
    return adc_arena_strndup(&c->blocks, s, len);
}

void adc_cloud_users_clear_strings(struct adc_cloud_users *c) {
    adc_arena_clear(&c->blocks);
    c->last_provider = NULL;
}

static int copy(struct adc_cloud_users *c, const char *s, const char **out) {
    *out = NULL;
    if (!s)
        return 0;
    return (*out = adc_cloud_users_strdup(c, s, strlen(s))) ? 0 : -ENOMEM;
}

/* The interned providers: index i (1-based; 0 is none) in chunk (i - 1) / CHUNK. Chunks
 * never move, so a reader needs no lock: an entry is written before its chunk pointer or the
 * count that makes it visible is published. */
#define CHUNK 256
#define CHUNKS 256
static const char **provider_chunks[CHUNKS];
static unsigned n_providers;
static pthread_mutex_t providers_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *provider_at(unsigned i) {
    const char **chunk = __atomic_load_n(&provider_chunks[(i - 1) / CHUNK], __ATOMIC_ACQUIRE);
    return chunk[(i - 1) % CHUNK];
}

/* The index of provider p (0 for NULL), interning a copy when new. 0 with *oom set when out of
 * memory or table. */
static uint16_t provider_index(const char *p, bool *oom) {
    if (!p)
        return 0;
    unsigned n = __atomic_load_n(&n_providers, __ATOMIC_ACQUIRE);
    for (unsigned i = 1; i <= n; i++)
        if (strcmp(provider_at(i), p) == 0)
            return (uint16_t)i;
    pthread_mutex_lock(&providers_lock);
    unsigned i = 1;
    for (n = n_providers; i <= n && strcmp(provider_at(i), p) != 0; i++)
        ;
    if (i > n) {
        const char **chunk = n + 1 < CHUNK * CHUNKS ? provider_chunks[n / CHUNK] : NULL;
        char *copy = n + 1 < CHUNK * CHUNKS ? strdup(p) : NULL;
        if (copy && !chunk && (chunk = calloc(CHUNK, sizeof(*chunk))))
            __atomic_store_n(&provider_chunks[n / CHUNK], chunk, __ATOMIC_RELEASE);
        if (!copy || !chunk) {
            free(copy);
            *oom = true;
            i = 0;
        } else {
            chunk[n % CHUNK] = copy; /* kept for the process's life */
            __atomic_store_n(&n_providers, n + 1, __ATOMIC_RELEASE);
        }
    }
    pthread_mutex_unlock(&providers_lock);
    return (uint16_t)i;
}

const char *adc_cloud_user_provider(const struct adc_cloud_user *c) {
    return c->provider_ ? provider_at(c->provider_) : NULL;
}

const char *adc_cloud_user_id(const struct adc_cloud_user *c, char buf[ADC_UUID_TEXT]) {
    return c->ident_uuid & 1 ? adc_uuid_format(c->id_.uuid, buf) : c->id_.text;
}

const char *adc_cloud_user_external_id(const struct adc_cloud_user *c, char buf[ADC_UUID_TEXT]) {
    return c->ident_uuid & 2 ? adc_uuid_format(c->ext_.uuid, buf) : c->ext_.text;
}

/* s as 16 bytes when it is a canonical UUID (sets `bit` in *flags), else copied as text. */
static int ident(struct adc_cloud_users *c, const char *s, struct adc_cloud_ident *out,
                 uint8_t *flags, uint8_t bit) {
    memset(out, 0, sizeof(*out));
    if (s && adc_uuid_parse(s, out->uuid)) {
        *flags |= bit;
        return 0;
    }
    memset(out, 0, sizeof(*out));
    return copy(c, s, &out->text);
}

struct adc_cloud_user *adc_cloud_users_add(struct adc_cloud_users *c, const struct adc_user *u) {
    if (adc_grow_array(c->items, c->cap, c->n, 64) < 0)
        return NULL;
    struct adc_cloud_user *cu = &c->items[c->n];
    struct adc_arena_mark m = adc_arena_mark(&c->blocks);
    memset(cu, 0, sizeof(*cu));
    if (ident(c, u->id, &cu->id_, &cu->ident_uuid, 1) < 0 ||
        copy(c, u->user_name, &cu->user_name) < 0 ||
        ident(c, u->external_id, &cu->ext_, &cu->ident_uuid, 2) < 0)
        goto fail;
    if (u->provider && c->last_provider && strcmp(c->last_provider, u->provider) == 0) {
        cu->provider_ = c->last_provider_index;
    } else if (u->provider) {
        bool oom = false;
        cu->provider_ = provider_index(u->provider, &oom);
        if (oom)
            goto fail;
        c->last_provider = adc_cloud_user_provider(cu);
        c->last_provider_index = cu->provider_;
    }
    adc_user_digest(u, cu->digest);
    cu->active = u->active;
    c->n++;
    return cu;
fail:
    adc_arena_rewind(&c->blocks, m); /* a new block's copies: lost space only, one user's */
    return NULL;
}
