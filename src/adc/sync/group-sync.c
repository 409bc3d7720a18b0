#include "sync/group-sync.h"

#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/macros.h"
#include "sync/str-index.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- member ids to keys, while the cloud groups are listed ---------------------------------- */

/* While the cloud's groups are listed, a member that is a user of this configuration is kept as
 * CLOUD_MARK | its position in the cloud users' list (an index by SCIM id is all the listing
 * needs); map_cloud_users then makes it a directory user's key (an index by externalId, once
 * the first is freed: the two never coexist, 7 MB each at 1,000,000 users). */
#define CLOUD_MARK 0x80000000u

struct key_ctx {
    struct adc_strindex by_id; /* this configuration's cloud users by SCIM id (keyed) */
    const struct adc_cloud_users *cloud;
    char id_buf[ADC_UUID_TEXT]; /* by_id's key being compared */
    struct adc_group_others *others;
    adc_group_key base; /* the first other's key: n_users + n_dir */
};

/* A cloud user's SCIM id as by_id compares it (sync/cloud-users.h keeps UUIDs as bytes). */
static const char *id_at(const void *p, size_t i) {
    struct key_ctx *k = (struct key_ctx *)p;
    return adc_cloud_user_id(&k->cloud->items[i], k->id_buf);
}

struct ext_ctx {
    const struct adc_dir_user *users;
    char buf[ADC_DIR_UUID_TEXT];
};

static const char *ext_at(const void *p, size_t i) {
    struct ext_ctx *k = (struct ext_ctx *)p;
    const char *e = adc_dir_user_external_id(&k->users[i], k->buf);
    return e ? e : "";
}

/* The key of a member while listing: CLOUD_MARK | a user of ours' position in the cloud list,
 * else an other ("?:<id>"; groups are mapped once all of them are listed). */
static adc_group_key key_of(void *p, const char *id, const char *type) {
    struct key_ctx *k = p;
    size_t i = strcmp(type, "User") == 0 ? adc_strindex_get(&k->by_id, id) : ADC_STRINDEX_NONE;
    if (i != ADC_STRINDEX_NONE)
        return CLOUD_MARK | (adc_group_key)i;
    adc_group_key o = adc_group_other_add(k->others, k->base, '?', id);
    return o >= CLOUD_MARK ? ADC_GROUP_KEY_NONE : o; /* NONE: out of memory, or too many */
}

static bool own(const struct adc_cloud_user *u, const char *app_id) {
    return adc_streq(adc_cloud_user_provider(u), app_id);
}

/* key_of's index: this configuration's cloud users by SCIM id. 0 or -ENOMEM. */
static int key_tables(struct key_ctx *k, const char *app_id) {
    const struct adc_cloud_users *cloud = k->cloud;
    if (cloud->n >= CLOUD_MARK || k->base >= CLOUD_MARK)
        return -E2BIG;
    if (adc_strindex_init_keyed(&k->by_id, cloud->n, false, id_at, k) < 0)
        return -ENOMEM;
    for (size_t i = 0; i < cloud->n; i++) {
        char id_buf[ADC_UUID_TEXT];
        const char *id = adc_cloud_user_id(&cloud->items[i], id_buf);
        if (own(&cloud->items[i], app_id) && id)
            adc_strindex_put(&k->by_id, id, i);
    }
    return 0;
}

/* The members key_of kept as cloud positions become the directory user with that externalId,
 * or a "u:<externalId>" other (a user of ours the directory no longer has; "?:<id>" without
 * one). 0 or -ENOMEM. */
static int map_cloud_users(struct adc_group_sync *gs, const struct adc_cloud_users *cloud) {
    struct ext_ctx e = {.users = gs->users};
    struct adc_strindex by_ext;
    if (adc_strindex_init_keyed(&by_ext, gs->n_users, false, ext_at, &e) < 0)
        return -ENOMEM;
    for (size_t i = 0; i < gs->n_users; i++) {
        char ext_buf[ADC_DIR_UUID_TEXT];
        const char *ext = adc_dir_user_external_id(&gs->users[i], ext_buf);
        if (ext && *ext)
            adc_strindex_put(&by_ext, ext, i);
    }
    adc_group_key base = (adc_group_key)(gs->n_users + gs->dir.n);
    int r = 0;
    for (size_t g = 0; r == 0 && g < gs->cloud.n; g++) {
        struct adc_cloud_group *cg = &gs->cloud.items[g];
        for (size_t m = 0; m < cg->n_members; m++) {
            adc_group_key k = cg->members[m];
            if (!(k & CLOUD_MARK))
                continue;
            const struct adc_cloud_user *u = &cloud->items[k & ~CLOUD_MARK];
            char ext_buf[ADC_UUID_TEXT], id_buf[ADC_UUID_TEXT];
            const char *ext = adc_cloud_user_external_id(u, ext_buf);
            size_t d = ext && *ext ? adc_strindex_get(&by_ext, ext) : ADC_STRINDEX_NONE;
            k = d != ADC_STRINDEX_NONE ? (adc_group_key)d
                : ext && *ext
                    ? adc_group_other_add(&gs->others, base, 'u', ext)
                    : adc_group_other_add(&gs->others, base, '?', adc_cloud_user_id(u, id_buf));
            if (k == ADC_GROUP_KEY_NONE) {
                r = -ENOMEM;
                break;
            }
            cg->members[m] = k;
        }
    }
    adc_strindex_done(&by_ext);
    return r;
}

/* The "?:<id>" members that are groups of the listing become the directory group's key when
 * the directory has it, else a "g:<its externalId>" other. */
static int map_group_members(struct adc_group_sync *gs) {
    struct adc_cloud_group_list *l = &gs->cloud;
    adc_group_key base = (adc_group_key)(gs->n_users + gs->dir.n);
    struct adc_strindex ix, dir_ext;
    if (adc_strindex_init(&ix, l->n, false) < 0)
        return -ENOMEM;
    if (adc_strindex_init(&dir_ext, gs->dir.n, false) < 0) {
        adc_strindex_done(&ix);
        return -ENOMEM;
    }
    for (size_t i = 0; i < l->n; i++)
        adc_strindex_put(&ix, l->items[i].id, i);
    for (size_t i = 0; i < gs->dir.n; i++)
        adc_strindex_put(&dir_ext, gs->dir.groups[i].external_id, i);
    int r = 0;
    for (size_t i = 0; r == 0 && i < l->n; i++)
        for (size_t m = 0; m < l->items[i].n_members; m++) {
            adc_group_key k = l->items[i].members[m];
            if (k < base)
                continue;
            const char *t = gs->others.texts[k - base];
            size_t g = t[0] == '?' ? adc_strindex_get(&ix, t + 2) : ADC_STRINDEX_NONE;
            if (g == ADC_STRINDEX_NONE || !l->items[g].external_id)
                continue;
            size_t d = adc_strindex_get(&dir_ext, l->items[g].external_id);
            k = d != ADC_STRINDEX_NONE
                    ? (adc_group_key)(gs->n_users + d)
                    : adc_group_other_add(&gs->others, base, 'g', l->items[g].external_id);
            if (k == ADC_GROUP_KEY_NONE) {
                r = -ENOMEM;
                break;
            }
            l->items[i].members[m] = k;
        }
    adc_strindex_done(&ix);
    adc_strindex_done(&dir_ext);
    return r;
}

/* The member values of the directory's groups and the members of the cloud's are the plan's
 * input only (sync/group-plan.h): freed once it is built, before the users' plan takes its
 * indexes, and the pages they held given back to the system (docs/BENCHMARKS.md, issue 21).
 * The others' texts stay: the plan's keys name them. */
static void drop_members(struct adc_group_sync *gs) {
    for (size_t i = 0; i < gs->dir.n; i++) {
        adc_dir_group_members_free(&gs->dir.groups[i]);
    }
    for (size_t i = 0; i < gs->cloud.n; i++) {
        struct adc_cloud_group *g = &gs->cloud.items[i];
        free(g->members);
        g->members = NULL;
        g->n_members = 0;
    }
    malloc_trim(0);
}

/* The directory's groups, their user members resolved as they arrive: a keyed index of the
 * users by normalized DN. */
struct dir_read {
    const struct adc_ldap_config *cfg;
    struct adc_group_read *out;
    struct adc_strindex by_dn;
    const struct adc_dir_user *users;
    char key_buf[4096]; /* by_dn's key being compared */
    char dn_buf[4096];  /* the member being resolved */
    int r;
    char *err;
};

static const char *dn_at(const void *p, size_t i) {
    struct dir_read *d = (struct dir_read *)p;
    const char *dn = adc_dir_user_dn(&d->users[i]);
    return dn && adc_dn_normalize_into(dn, d->key_buf, sizeof(d->key_buf)) != SIZE_MAX ? d->key_buf
                                                                                       : "";
}

static uint32_t resolve_dn(void *p, const char *dn, size_t len) {
    struct dir_read *d = p;
    char raw[4096];
    if (len >= sizeof(raw))
        return UINT32_MAX;
    memcpy(raw, dn, len);
    raw[len] = '\0';
    if (adc_dn_normalize_into(raw, d->dn_buf, sizeof(d->dn_buf)) == SIZE_MAX)
        return UINT32_MAX;
    size_t u = adc_strindex_get(&d->by_dn, d->dn_buf);
    return u == ADC_STRINDEX_NONE ? UINT32_MAX : (uint32_t)u;
}

static void read_dir_groups(struct dir_read *d) {
    d->r = adc_ldap_read_groups_resolved(d->cfg, d->by_dn.tags ? resolve_dn : NULL, d, d->out,
                                         &d->err);
}

/* by_dn over the users (left empty when out of memory: the plan resolves the DNs then). */
static void index_dns(struct dir_read *d, const struct adc_dir_user *users, size_t n) {
    d->users = users;
    if (adc_strindex_init_keyed(&d->by_dn, n, false, dn_at, d) < 0)
        return;
    char buf[4096];
    for (size_t i = 0; i < n; i++) {
        const char *dn = adc_dir_user_dn(&users[i]);
        if (dn && adc_dn_normalize_into(dn, buf, sizeof(buf)) != SIZE_MAX)
            adc_strindex_put(&d->by_dn, buf, i);
    }
}

/* ---- the directory's groups read before the users -------------------------------------------
 * At 1,000,000 users the read's largest LDAP message (a group of 1,000,000 members, about 45 MB,
 * and its 16 MB of value descriptors) came on top of the directory's and the cloud's users
 * (about 250 MB): read first, it coincides with nothing. The members' DNs cannot be resolved to
 * users yet: past a text budget they are kept as a keyed 64-bit digest of their normalized DN
 * (8 bytes instead of about 50), and resolved once the users are read. Two different DNs share
 * a digest with a probability of about 2^-64 a pair (under 10^-7 for 1,000,000 members against
 * 1,000,000 users); the key is drawn per run, so no DN can be made to match another on
 * purpose. */

#define DIGEST_TEXT_BUDGET (2u * 1024 * 1024) /* member DNs kept as text before digests */

/* MurmurHash64A (Austin Appleby, public domain), keyed. */
static uint64_t dn_digest(uint64_t seed, const char *s, size_t n) {
    const uint64_t m = 0xc6a4a7935bd1e995ULL;
    uint64_t h = seed ^ (n * m);
    const unsigned char *p = (const unsigned char *)s;
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t k;
        memcpy(&k, p, 8);
        k *= m;
        k ^= k >> 47;
        k *= m;
        h ^= k;
        h *= m;
    }
    if (n) {
        uint64_t k = 0;
        for (size_t i = 0; i < n; i++)
            k |= (uint64_t)p[i] << (8 * i);
        h ^= k;
        h *= m;
    }
    h ^= h >> 47;
    h *= m;
    h ^= h >> 47;
    return h;
}

struct digester {
    uint64_t seed;
    char raw[4096], norm[4096];
};

/* The digest of a DN in the form the plan compares (adc_dn_normalize_into). */
static bool digest_dn(struct digester *d, const char *dn, uint64_t *out) {
    size_t n = adc_dn_normalize_into(dn, d->norm, sizeof(d->norm));
    if (n == SIZE_MAX)
        return false;
    *out = dn_digest(d->seed, d->norm, n);
    return true;
}

static bool digest_member(void *ctx, const char *dn, size_t len, uint64_t *out) {
    struct digester *d = ctx;
    if (len >= sizeof(d->raw))
        return false; /* kept as text: the plan reports it */
    memcpy(d->raw, dn, len);
    d->raw[len] = '\0';
    return digest_dn(d, d->raw, out);
}

int adc_group_sync_read_dir(struct adc_group_sync *gs, const struct adc_ldap_config *cfg,
                            char **err) {
    gs->enabled = true;
    struct digester *d = calloc(1, sizeof(*d));
    if (!d || getrandom(&d->seed, sizeof(d->seed), 0) != sizeof(d->seed)) {
        free(d);
        *err = strdup("cannot draw the members' digest key");
        return -EIO;
    }
    int r = adc_ldap_read_groups_digested(cfg, digest_member, d, DIGEST_TEXT_BUDGET, &gs->dir, err);
    gs->digest_seed = d->seed;
    free(d);
    if (r < 0)
        return r;
    gs->dir_read = true;
    malloc_trim(0); /* the search's pages, before the users take their place */
    return 0;
}

/* The users by the digest of their DN: open addressing over positions + 1 (0: empty), with a
 * byte of the digest per slot so that a probe seldom normalizes a DN again. About 5 bytes a
 * user, for the resolution only. */
struct dn_table {
    uint32_t *slot;
    uint8_t *tag;
    size_t cap;
    const struct adc_dir_user *users;
    struct digester d;
};

static size_t dn_slot(const struct dn_table *t, uint64_t h) {
    return (size_t)(((unsigned __int128)h * t->cap) >> 64);
}

static uint8_t dn_tag(uint64_t h) { return (uint8_t)(h >> 56) | 1; }

static uint32_t dn_find(struct dn_table *t, uint64_t h) {
    for (size_t i = dn_slot(t, h);; i = i + 1 == t->cap ? 0 : i + 1) {
        if (!t->slot[i])
            return UINT32_MAX;
        uint64_t hu;
        if (t->tag[i] == dn_tag(h) &&
            digest_dn(&t->d, adc_dir_user_dn(&t->users[t->slot[i] - 1]), &hu) && hu == h)
            return t->slot[i] - 1;
    }
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The key of the DN whose digest is h: a user's position, or n_users + a group's (groups: its
 * sorted digests); UINT32_MAX for neither. */
static uint32_t dn_lookup(struct dn_table *t, const uint64_t (*groups)[2], size_t ng,
                          size_t n_users, uint64_t h) {
    uint32_t u = dn_find(t, h);
    if (u != UINT32_MAX)
        return u;
    uint64_t key[2] = {h, 0};
    const uint64_t(*o)[2] = bsearch(key, groups, ng, sizeof(*groups), cmp_u64);
    return o ? (uint32_t)(n_users + (*o)[1]) : UINT32_MAX;
}

/* Each group's member digests, and its member DNs kept as text, to keys (member_pos: a user's
 * position, or n_users + a group's; sorted, no repeats), the digests in place (8 bytes become
 * 4); digests that name neither are counted in n_members_unknown, such DNs stay as text
 * (dns_resolved: the plan reports them without looking them up). 0 or -ENOMEM. */
static int resolve_digests(struct adc_group_sync *gs, const struct adc_dir_user *users,
                           size_t n_users) {
    size_t any = 0;
    for (size_t i = 0; i < gs->dir.n; i++)
        any += gs->dir.groups[i].n_member_digest + gs->dir.groups[i].n_member_dns;
    if (!any)
        return 0;
    struct dn_table t = {.users = users, .d.seed = gs->digest_seed};
    t.cap = n_users + n_users / 3 + 1;
    uint64_t(*groups)[2] = calloc(gs->dir.n + 1, sizeof(*groups)); /* digest, position */
    int r = -ENOMEM;
    if (!groups || !(t.slot = calloc(t.cap, sizeof(*t.slot))) ||
        !(t.tag = calloc(t.cap, sizeof(*t.tag))))
        goto out;
    for (size_t u = 0; u < n_users; u++) {
        uint64_t h;
        const char *dn = adc_dir_user_dn(&users[u]);
        if (!dn || !digest_dn(&t.d, dn, &h))
            continue;
        size_t i = dn_slot(&t, h);
        while (t.slot[i])
            i = i + 1 == t.cap ? 0 : i + 1;
        t.slot[i] = (uint32_t)u + 1;
        t.tag[i] = dn_tag(h);
    }
    size_t ng = 0;
    for (size_t g = 0; g < gs->dir.n; g++)
        if (digest_dn(&t.d, gs->dir.groups[g].dn, &groups[ng][0]))
            groups[ng++][1] = g;
    qsort(groups, ng, sizeof(*groups), cmp_u64);
    for (size_t g = 0; g < gs->dir.n; g++) {
        struct adc_dir_group *grp = &gs->dir.groups[g];
        /* The digests to keys in place, byte for byte (memcpy: no aliasing of the two types):
         * key k written at 4k, digest i read from 8i before, k <= i. */
        unsigned char *raw = (unsigned char *)grp->member_digest;
        size_t k = 0;
        for (size_t i = 0; i < grp->n_member_digest; i++) {
            uint64_t h;
            memcpy(&h, raw + 8 * i, sizeof(h));
            uint32_t u = dn_lookup(&t, groups, ng, n_users, h);
            if (u == UINT32_MAX)
                grp->n_members_unknown++;
            else
                memcpy(raw + 4 * k++, &u, sizeof(u));
        }
        /* One list of keys: those the group had, the digests', and the DNs kept as text that
         * name a user or group (the others stay as text: the plan reports them). */
        size_t n_old = grp->n_member_pos, cap = n_old + k + grp->n_member_dns;
        uint32_t *all;
        if (!n_old && !grp->n_member_dns) {
            all = raw ? realloc(raw, (k + 1) * sizeof(*all)) : NULL; /* shrinks */
            all = all ? all : (uint32_t *)raw;
        } else {
            if (!(all = malloc((cap + 1) * sizeof(*all))))
                goto out;
            if (n_old)
                memcpy(all, grp->member_pos, n_old * sizeof(*all));
            if (k)
                memcpy(all + n_old, raw, k * sizeof(*all));
            free(raw);
            free(grp->member_pos);
        }
        grp->member_digest = NULL;
        grp->n_member_digest = 0;
        grp->member_pos = all;
        grp->n_member_pos = n_old + k;
        size_t left = 0;
        for (size_t i = 0; i < grp->n_member_dns; i++) {
            uint64_t h;
            uint32_t u = digest_dn(&t.d, grp->member_dns[i], &h)
                             ? dn_lookup(&t, groups, ng, n_users, h)
                             : UINT32_MAX;
            if (u == UINT32_MAX)
                grp->member_dns[left++] = grp->member_dns[i];
            else
                all[grp->n_member_pos++] = u;
        }
        grp->n_member_dns = left;
        grp->dns_resolved = true;
        if (!left && !grp->n_member_uids) { /* their text is no longer needed (2 MB at most) */
            free(grp->member_dns);
            grp->member_dns = NULL;
            adc_arena_done(&grp->strings);
        }
        /* sorted and without repeats, so that the plan can take it as its list */
        if (grp->n_member_pos > 1) {
            qsort(grp->member_pos, grp->n_member_pos, sizeof(uint32_t), cmp_u32);
            size_t o = 1;
            for (size_t i = 1; i < grp->n_member_pos; i++)
                if (grp->member_pos[i] != grp->member_pos[o - 1])
                    grp->member_pos[o++] = grp->member_pos[i];
            grp->n_member_pos = o;
        }
    }
    r = 0;
out:
    free(t.slot);
    free(t.tag);
    free(groups);
    return r;
}

int adc_group_sync_plan(struct adc_group_sync *gs, const struct adc_ldap_config *cfg,
                        struct adc_scim *client, const char *app_id,
                        const struct adc_dir_user *users, size_t n_users,
                        const struct adc_cloud_users *cloud, const bool settings[], char **err) {
    gs->enabled = true;
    gs->users = users;
    gs->n_users = n_users;
    if (gs->dir_read) { /* adc_group_sync_read_dir, before the users */
        if (resolve_digests(gs, users, n_users) < 0) {
            *err = strdup("out of memory");
            return -ENOMEM;
        }
    } else {
        /* The directory's groups first, then the cloud's: read at the same time, the
         * directory's answer coincided with the cloud's memberships; one after the other cost
         * about a second at 1,000 groups (docs/BENCHMARKS.md, issue 21). */
        struct dir_read dr = {.cfg = cfg, .out = &gs->dir};
        index_dns(&dr, users, n_users);
        read_dir_groups(&dr);
        adc_strindex_done(&dr.by_dn);
        if (dr.r < 0) { /* rule 5: nothing is written; the cloud need not be read */
            *err = dr.err;
            return dr.r;
        }
        free(dr.err);
        malloc_trim(0); /* the search's pages, before the cloud's memberships */
    }
    if ((uint64_t)n_users + gs->dir.n >= ADC_GROUP_KEY_NONE) {
        *err = strdup("too many users and groups for 32-bit member keys");
        return -E2BIG;
    }
    struct key_ctx k = {
        .cloud = cloud, .others = &gs->others, .base = (adc_group_key)(n_users + gs->dir.n)};
    char *cloud_err = NULL;
    int r = key_tables(&k, app_id);
    if (r == 0)
        r = adc_scim_list_groups(client, app_id, key_of, &k, &gs->cloud, &cloud_err);
    adc_strindex_done(&k.by_id);
    if (r == 0)
        r = map_cloud_users(gs, cloud);
    if (r < 0) {
        *err = cloud_err ? cloud_err : strdup(r == -E2BIG ? "too many users" : "out of memory");
        return r;
    }
    if (map_group_members(gs) < 0) {
        *err = strdup("out of memory");
        return -ENOMEM;
    }
    /* sorted, so that the plan's diff merges them as they are (no copy: 4 MB at 1,000,000) */
    for (size_t i = 0; i < gs->cloud.n; i++) {
        struct adc_cloud_group *g = &gs->cloud.items[i];
        if (g->n_members > 1)
            qsort(g->members, g->n_members, sizeof(*g->members), cmp_u32);
    }
    struct adc_group_plan_input in = {
        .dir = gs->dir.groups,
        .n_dir = gs->dir.n,
        .users = users,
        .n_users = n_users,
        .cloud = gs->cloud.items,
        .n_cloud = gs->cloud.n,
        .others = &gs->others,
        .flatten = cfg->groups_flatten,
    };
    memcpy(in.settings, settings, sizeof(in.settings));
    if ((r = adc_group_plan_build(&in, &gs->plan)) < 0) {
        *err = strdup("out of memory");
        return r;
    }
    gs->have_plan = true;
    drop_members(gs);
    return 0;
}

/* ---- applying -------------------------------------------------------------------------------- */

/* externalId -> cloud id, for users and groups; the strings are owned. */
struct idmap {
    struct adc_strindex ix;
    char **ext, **id;
    size_t n, cap;
};

static int idmap_add(struct idmap *m, const char *ext, const char *id) {
    if (m->n == m->cap) {
        /* Both arrays grow by the one rule; strindex never grows: rebuild it at their size. */
        size_t cap = m->cap, cap_id = m->cap;
        if (adc_grow_array(m->ext, cap, m->n, 1024) < 0 ||
            adc_grow_array(m->id, cap_id, m->n, 1024) < 0)
            return -ENOMEM;
        adc_strindex_done(&m->ix);
        if (adc_strindex_init(&m->ix, cap, false) < 0)
            return -ENOMEM;
        for (size_t k = 0; k < m->n; k++)
            adc_strindex_put(&m->ix, m->ext[k], k);
        m->cap = cap;
    }
    m->ext[m->n] = strdup(ext);
    m->id[m->n] = strdup(id);
    if (!m->ext[m->n] || !m->id[m->n]) {
        free(m->ext[m->n]);
        free(m->id[m->n]);
        return -ENOMEM;
    }
    if (adc_strindex_put(&m->ix, m->ext[m->n], m->n) != ADC_STRINDEX_NONE) {
        free(m->ext[m->n]);
        free(m->id[m->n]);
        return 0; /* known already */
    }
    m->n++;
    return 0;
}

static const char *idmap_get(const struct idmap *m, const char *ext) {
    size_t i = m->cap ? adc_strindex_get(&m->ix, ext) : ADC_STRINDEX_NONE;
    return i == ADC_STRINDEX_NONE ? NULL : m->id[i];
}

static void idmap_done(struct idmap *m) {
    for (size_t i = 0; i < m->n; i++) {
        free(m->ext[i]);
        free(m->id[i]);
    }
    free(m->ext);
    free(m->id);
    adc_strindex_done(&m->ix);
}

/* externalId -> cloud id of this configuration's users, without a copy of what the cloud
 * users' list holds: positions below n_cloud are that list's users (keyed index: their
 * externalIds are read from the list), the others the users created in this run, listed again
 * (their text in blocks). An id the list keeps as a UUID's bytes gets its text (in blocks)
 * when a member write asks for it: an unchanged re-sync asks for none, and builds nothing
 * (the copies of every user's externalId and id took about 130 MB at 1,000,000 users;
 * docs/BENCHMARKS.md, issue 21). */
struct upair {
    const char *ext, *id;
};

struct usermap {
    struct adc_strindex ix;
    const struct adc_cloud_users *cloud;
    const char *app_id;
    size_t n_cloud;
    struct upair *f; /* created in this run */
    size_t n_f, cap_f;
    struct adc_cloud_users texts;
    char buf[ADC_UUID_TEXT]; /* ix's key being compared */
    bool built, oom;
};

static const char *um_key(const void *ctx, size_t p) {
    struct usermap *m = (struct usermap *)ctx;
    if (p >= m->n_cloud)
        return m->f[p - m->n_cloud].ext;
    const char *e = adc_cloud_user_external_id(&m->cloud->items[p], m->buf);
    return e ? e : "";
}

/* (Re)builds the index for the list and cap_f users created in this run. 0 or -ENOMEM. */
static int um_index(struct usermap *m, size_t cap_f) {
    adc_strindex_done(&m->ix);
    if (adc_strindex_init_keyed(&m->ix, m->n_cloud + cap_f, false, um_key, m) < 0)
        return -ENOMEM;
    for (size_t i = 0; i < m->n_cloud; i++) {
        const struct adc_cloud_user *u = &m->cloud->items[i];
        char b[ADC_UUID_TEXT];
        const char *e = adc_cloud_user_external_id(u, b);
        if (own(u, m->app_id) && e && *e)
            adc_strindex_put(&m->ix, e, i);
    }
    for (size_t i = 0; i < m->n_f; i++)
        adc_strindex_put(&m->ix, m->f[i].ext, m->n_cloud + i);
    m->built = true;
    return 0;
}

/* The position of ext, or ADC_STRINDEX_NONE (and m->oom when the index could not be made). */
static size_t um_find(struct usermap *m, const char *ext) {
    if (!m->built && um_index(m, 0) < 0) {
        m->oom = true;
        return ADC_STRINDEX_NONE;
    }
    return adc_strindex_get(&m->ix, ext);
}

/* The cloud id of ext as text, or NULL: lent from the list or the map, or formatted into
 * scratch (an id kept as a UUID's bytes), which the caller clears once the ids are sent. */
static const char *um_get(struct usermap *m, const char *ext, struct adc_cloud_users *scratch) {
    size_t p = um_find(m, ext);
    if (p == ADC_STRINDEX_NONE)
        return NULL;
    if (p >= m->n_cloud)
        return m->f[p - m->n_cloud].id;
    char b[ADC_UUID_TEXT];
    const char *id = adc_cloud_user_id(&m->cloud->items[p], b);
    if (id != b)
        return id; /* text in the list already */
    const char *t = adc_cloud_users_strdup(scratch, b, strlen(b));
    m->oom = m->oom || !t;
    return t;
}

static void um_add(void *ctx, const char *ext, const char *id) {
    struct usermap *m = ctx;
    if (!*ext || um_find(m, ext) != ADC_STRINDEX_NONE || m->oom)
        return; /* known already */
    if (m->n_f == m->cap_f) {
        size_t cap = m->cap_f;
        if (adc_grow_array(m->f, cap, m->n_f, 1024) < 0 || um_index(m, cap) < 0) {
            m->oom = true;
            return;
        }
        m->cap_f = cap;
    }
    struct upair *u = &m->f[m->n_f];
    if (!(u->ext = adc_cloud_users_strdup(&m->texts, ext, strlen(ext))) ||
        !(u->id = adc_cloud_users_strdup(&m->texts, id, strlen(id)))) {
        m->oom = true;
        return;
    }
    adc_strindex_put(&m->ix, u->ext, m->n_cloud + m->n_f);
    m->n_f++;
}

static void um_done(struct usermap *m) {
    adc_strindex_done(&m->ix);
    free(m->f);
    adc_cloud_users_done(&m->texts);
}

struct applier {
    struct adc_group_sync *gs;
    struct adc_scim *client;
    struct usermap users;
    struct idmap groups;
    bool users_refreshed;
    const char *app_id;
    size_t chunk;     /* removes per PATCH: one operation each, at most maxOperations */
    size_t add_chunk; /* adds per PATCH: one operation for all, sized by maxPayloadSize */
    /* the text of the ids of the members being written (cleared after each request) */
    struct adc_cloud_users scratch;
    /* per directory user, the users' plan change that created or took it over (NONE: none),
     * when the apply kept ids */
    uint32_t *change_of;
    const struct adc_apply_result *applied;
    bool may_refresh; /* some user may be ours now whose id no answer gave */
};

/* The cloud id of a user's externalId, refreshing the users' ids once when a user created in
 * this run is not known yet. */
static const char *user_id(struct applier *a, const char *ext, char **err) {
    const char *id = um_get(&a->users, ext, &a->scratch);
    if (!id && a->may_refresh && !a->users_refreshed && !a->users.oom) {
        a->users_refreshed = true;
        double t0 = now_s();
        if (adc_scim_list_user_ids(a->client, a->app_id, um_add, &a->users, err) < 0)
            return NULL;
        log_info("read the ids of %zu cloud users (created in this run) in %.2f s", a->users.n_f,
                 now_s() - t0);
        id = um_get(&a->users, ext, &a->scratch);
    }
    return id;
}

/* The cloud id of a member key (sync/group-plan.h) and its SCIM type. NULL: not a user or group
 * of this configuration in the cloud (or out of memory: a->users.oom). */
static const char *resolve(struct applier *a, adc_group_key key, const char **type, char **err) {
    const struct adc_group_sync *gs = a->gs;
    size_t base = gs->n_users + gs->dir.n;
    const char *id = NULL;
    *type = "User";
    if (key < gs->n_users) {
        char ext_buf[ADC_DIR_UUID_TEXT], id_buf[ADC_UUID_TEXT];
        const char *made = a->change_of && a->change_of[key] != UINT32_MAX
                               ? adc_apply_result_id(a->applied, a->change_of[key], id_buf)
                               : NULL;
        if (made) { /* created (or taken over) in this run */
            if (made == id_buf &&
                !(made = adc_cloud_users_strdup(&a->scratch, id_buf, strlen(id_buf))))
                a->users.oom = true;
            id = made;
        } else {
            const char *ext = adc_dir_user_external_id(&gs->users[key], ext_buf);
            id = ext && *ext ? user_id(a, ext, err) : NULL;
        }
    } else if (key < base) {
        *type = "Group";
        id = idmap_get(&a->groups, gs->dir.groups[key - gs->n_users].external_id);
    } else if (key - base < gs->others.n) {
        const char *t = gs->others.texts[key - base];
        if (t[0] == '?')
            id = t + 2;
        else if (t[0] == 'g')
            *type = "Group", id = idmap_get(&a->groups, t + 2);
        else
            id = user_id(a, t + 2, err);
    }
    if (!id && a->users.oom && err && !*err)
        *err = strdup("out of memory");
    return id;
}

static void failed(struct adc_group_sync *gs, const char *name, char *why) {
    gs->failed++;
    log_error("group '%s': %s", name ? name : "?", why ? why : "error");
    if (!gs->first_error && why && asprintf(&gs->first_error, "group '%s': %s", name, why) < 0)
        gs->first_error = NULL;
    free(why);
}

/* The member writes of one created or updated group, resolved a request at a time (the ids'
 * text of 1,000,000 members would take about 40 MB at once). */
static int write_members(struct applier *a, const struct adc_group_change *c, const char *id) {
    struct adc_group_sync *gs = a->gs;
    char *err = NULL;
    size_t per = a->add_chunk > a->chunk ? a->add_chunk : a->chunk;
    size_t n = c->n_add > c->n_remove ? c->n_add : c->n_remove;
    n = n < per ? n : per;
    const char **ids = calloc(n + 1, sizeof(*ids)), **types = calloc(n + 1, sizeof(*types));
    int r = -ENOMEM;
    if (!ids || !types)
        goto out;
    r = 0;
    for (size_t at = 0; r == 0 && at < c->n_add; at += a->add_chunk) {
        size_t k = 0;
        for (size_t i = at; i < c->n_add && i < at + a->add_chunk; i++) {
            const char *mid = resolve(a, c->add[i], &types[k], &err);
            if (mid)
                ids[k++] = mid;
            else if (!a->users.oom)
                gs->not_synced++; /* a directory user this configuration does not own in the
                                   * cloud */
        }
        if (a->users.oom) { /* a member unresolved for want of memory is not "not synced" */
            r = -ENOMEM;
            break;
        }
        if (k &&
            (r = adc_scim_group_add(a->client, id, ids, types, k, k, &gs->patch_bytes, &err)) == 0)
            gs->members_added += k;
        adc_cloud_users_clear_strings(&a->scratch);
    }
    for (size_t at = 0; r == 0 && at < c->n_remove; at += a->chunk) {
        size_t k = 0;
        for (size_t i = at; i < c->n_remove && i < at + a->chunk; i++) {
            const char *mid = resolve(a, c->remove[i], &types[k], &err);
            if (mid)
                ids[k++] = mid;
        }
        if (k && (r = adc_scim_group_remove(a->client, id, ids, k, k, &gs->patch_bytes, &err)) == 0)
            gs->members_removed += k;
        adc_cloud_users_clear_strings(&a->scratch);
    }
out:
    free(ids);
    free(types);
    if (r < 0)
        failed(gs, c->name, err ? err : strdup("out of memory"));
    else
        free(err);
    return r;
}

/* The creates of the plan through Bulk requests, each group with the members that can be named
 * now (users, and groups that existed before this run) up to what one request can carry;
 * created[i] gets the new id, rest[i] the members left to add by PATCH (those that did not fit,
 * and the groups created in this run). Returns 0, or a negative errno with *err when the server
 * could not be reached. */
static int create_bulk(struct applier *a, const struct adc_scim_limits *limits, char **created,
                       struct adc_group_change *rest, char **err) {
    struct adc_group_sync *gs = a->gs;
    const struct adc_group_plan *p = &gs->plan;
    /* Members beyond what one Bulk request can hold (each takes its id and 32 bytes of syntax,
     * cloud/scim-groups.c) are not resolved here: they go by PATCH in any case. cap bounds the
     * arrays; `payload` stops a group's resolution once its ids fill a request. */
    size_t payload = limits->max_payload ? limits->max_payload : 1024 * 1024;
    size_t cap = payload / 32 + 1;
    size_t n = 0, n_keys = 0;
    for (size_t i = 0; i < p->n_changes; i++)
        if (p->changes[i].op == ADC_GROUP_CREATE) {
            n++;
            n_keys += p->changes[i].n_add < cap ? p->changes[i].n_add : cap;
        }
    struct adc_scim_group_new *g = calloc(n + 1, sizeof(*g));
    size_t *at = calloc(n + 1, sizeof(*at)); /* the plan's change of each */
    const char **ids = calloc(n_keys + 1, sizeof(*ids)),
               **types = calloc(n_keys + 1, sizeof(*types));
    adc_group_key *keys = calloc(n_keys + 1, sizeof(*keys)); /* in the order sent */
    int r = -ENOMEM;
    if (!g || !at || !ids || !types || !keys)
        goto out;
    size_t k = 0, j = 0;
    for (size_t i = 0; i < p->n_changes; i++) {
        const struct adc_group_change *c = &p->changes[i];
        if (c->op != ADC_GROUP_CREATE)
            continue;
        rest[i] = *c;
        rest[i].n_add = 0;
        /* room for every member it may be left with: deferred, not resolved, not sent */
        if (!(rest[i].add = calloc(c->n_add + 1, sizeof(*rest[i].add))))
            goto out;
        size_t start = k, m = 0, bytes = 0;
        for (; m < c->n_add && k - start < cap && bytes <= payload; m++) {
            adc_group_key key = c->add[m];
            bool group = key >= gs->n_users && key < gs->n_users + gs->dir.n;
            const char *type, *id = NULL;
            if (group) {
                id = idmap_get(&a->groups, gs->dir.groups[key - gs->n_users].external_id);
                type = "Group";
                if (!id) {
                    rest[i].add[rest[i].n_add++] = key; /* a group created in this run: later */
                    continue;
                }
            } else {
                char *why = NULL;
                id = resolve(a, key, &type, &why);
                free(why);
                if (!id && a->users.oom)
                    goto out; /* r is -ENOMEM */
                if (!id) {
                    gs->not_synced++; /* a user this configuration does not own in the cloud */
                    continue;
                }
            }
            bytes += strlen(id) + 40;
            ids[k] = id;
            types[k] = type;
            keys[k++] = key;
        }
        for (; m < c->n_add; m++) /* not resolved: by PATCH */
            rest[i].add[rest[i].n_add++] = c->add[m];
        g[j] = (struct adc_scim_group_new){.name = c->name,
                                           .external_id = c->external_id,
                                           .member_ids = ids + start,
                                           .types = types + start,
                                           .n_members = k - start};
        at[j] = i;
        j++;
    }
    r = adc_scim_groups_create_bulk(a->client, limits, g, n, &gs->patch_bytes, err);
    for (j = 0; j < n; j++) {
        size_t i = at[j];
        const struct adc_group_change *c = &p->changes[i];
        if (!g[j].id) {
            if (g[j].error || r == 0)
                failed(gs, c->name, TAKE_PTR(g[j].error));
            continue;
        }
        created[i] = TAKE_PTR(g[j].id);
        if (idmap_add(&a->groups, c->external_id, created[i]) < 0) {
            r = -ENOMEM;
            break;
        }
        gs->created++;
        gs->members_added += g[j].n_sent;
        /* the members that did not fit, after the others */
        for (size_t m = g[j].n_sent; m < g[j].n_members; m++)
            rest[i].add[rest[i].n_add++] = keys[g[j].member_ids - ids + m];
    }
out:
    adc_scim_group_new_done(g, n);
    free(g);
    free(at);
    free(ids);
    free(types);
    free(keys);
    adc_cloud_users_clear_strings(&a->scratch);
    if (r == -ENOMEM && err && !*err)
        *err = strdup("out of memory");
    return r;
}

/* The users' plan changes that made directory users ours (a->change_of). 0 or -ENOMEM. */
static int index_applied(struct applier *a, const struct adc_plan *plan,
                         const struct adc_apply_result *applied) {
    const struct adc_group_sync *gs = a->gs;
    a->applied = applied;
    /* Without the apply's ids (no apply, or an answer without one), the users are listed
     * again when a member is not found, as before the ids were kept. */
    a->may_refresh = !applied || applied->n_ids_missing > 0;
    if (!applied || !applied->id_kind || !plan)
        return 0;
    if (!(a->change_of = malloc((gs->n_users + 1) * sizeof(*a->change_of))))
        return -ENOMEM;
    memset(a->change_of, 0xff, (gs->n_users + 1) * sizeof(*a->change_of));
    for (size_t i = 0; i < plan->n_changes && i < UINT32_MAX; i++) {
        const struct adc_dir_user *d = plan->changes[i].dir;
        if (applied->id_kind[i] && d >= gs->users && d < gs->users + gs->n_users)
            a->change_of[d - gs->users] = (uint32_t)i;
    }
    return 0;
}

int adc_group_sync_apply(struct adc_group_sync *gs, struct adc_scim *client, const char *app_id,
                         const struct adc_cloud_users *cloud, const struct adc_plan *plan,
                         const struct adc_apply_result *applied, size_t chunk, char **err) {
    struct applier a = {
        .gs = gs, .client = client, .app_id = app_id, .chunk = chunk ? chunk : 1000};
    int r = -ENOMEM;
    adc_cloud_users_init(&a.scratch);
    if (index_applied(&a, plan, applied) < 0)
        goto out;
    a.users.cloud = cloud;
    a.users.n_cloud = cloud->n;
    a.users.app_id = app_id;
    for (size_t i = 0; i < gs->cloud.n; i++) {
        const struct adc_cloud_group *g = &gs->cloud.items[i];
        if (g->external_id && idmap_add(&a.groups, g->external_id, g->id) < 0)
            goto out;
    }
    const struct adc_group_plan *p = &gs->plan;
    char **created = calloc(p->n_changes + 1, sizeof(*created));
    struct adc_group_change *rest = calloc(p->n_changes + 1, sizeof(*rest));
    if (!created || !rest) {
        free(created);
        free(rest);
        goto out;
    }
    /* Creates first, so that groups created now can be members of others. */
    struct adc_scim_limits limits = {0};
    char *why = NULL;
    bool bulk = adc_scim_get_limits(client, &limits, &why) == 0 && limits.bulk;
    free(why);
    /* The members a create could not carry are added by PATCH, one add operation with as many
     * members as the server's payload allows (about 64 bytes each with our UUID ids), not
     * maxOperations: the group of 1,000,000 members takes 15 PATCHes instead of 930
     * (docs/BENCHMARKS.md, issue 21). */
    a.add_chunk = limits.max_payload / 64 > a.chunk ? limits.max_payload / 64 : a.chunk;
    double t0 = now_s();
    if (bulk) {
        if ((r = create_bulk(&a, &limits, created, rest, err)) < 0)
            goto done;
        log_info("created %zu groups through Bulk in %.2f s", gs->created, now_s() - t0);
    } else {
        for (size_t i = 0; i < p->n_changes; i++) {
            const struct adc_group_change *c = &p->changes[i];
            why = NULL;
            if (c->op != ADC_GROUP_CREATE)
                continue;
            if (adc_scim_group_create(client, c->name, c->external_id, &created[i], &why) < 0 ||
                idmap_add(&a.groups, c->external_id, created[i]) < 0) {
                failed(gs, c->name, why);
                continue;
            }
            gs->created++;
            rest[i] = *c; /* every member by PATCH */
        }
    }
    for (size_t i = 0; i < p->n_changes; i++) {
        const struct adc_group_change *c = &p->changes[i];
        why = NULL;
        if (c->op == ADC_GROUP_CREATE && created[i]) {
            if (rest[i].n_add)
                write_members(&a, &rest[i], created[i]);
        } else if (c->op == ADC_GROUP_UPDATE) {
            if (c->rename && adc_scim_group_rename(client, c->cloud_id, c->name, &why) < 0) {
                failed(gs, c->name, why);
                continue;
            }
            if (write_members(&a, c, c->cloud_id) == 0)
                gs->updated++;
        }
    }
    for (size_t i = 0; i < p->n_changes; i++) {
        const struct adc_group_change *c = &p->changes[i];
        char *why = NULL;
        if (c->op != ADC_GROUP_DELETE)
            continue;
        if (adc_scim_group_delete(client, c->cloud_id, &why) < 0)
            failed(gs, c->name, why);
        else
            gs->deleted++;
    }
    r = 0;
done:
    for (size_t i = 0; i < p->n_changes; i++) {
        free(created[i]);
        if (bulk)
            free(rest[i].add); /* create_bulk's lists of the members left */
    }
    free(created);
    free(rest);
out:
    um_done(&a.users);
    idmap_done(&a.groups);
    adc_cloud_users_done(&a.scratch);
    free(a.change_of);
    if (r < 0 && !*err)
        *err = strdup("out of memory");
    return r;
}

void adc_group_sync_done(struct adc_group_sync *gs) {
    if (!gs)
        return;
    adc_group_read_done(&gs->dir);
    adc_cloud_group_list_done(&gs->cloud);
    adc_group_plan_done(&gs->plan);
    adc_group_others_done(&gs->others);
    free(gs->first_error);
    memset(gs, 0, sizeof(*gs));
}
