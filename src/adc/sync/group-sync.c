#include "sync/group-sync.h"

#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

struct key_ctx {
    struct adc_strindex by_id; /* this configuration's cloud users by SCIM id (keyed) */
    const struct adc_cloud_users *cloud;
    char id_buf[ADC_UUID_TEXT]; /* by_id's key being compared */
    struct adc_strindex by_ext; /* the directory's users by externalId (keyed) */
    const struct adc_dir_user *users;
    char ext_buf[ADC_DIR_UUID_TEXT]; /* by_ext's key being compared */
    const char **keys;               /* the users' member keys */
    struct adc_cloud_users *texts;   /* keys of cloud users the directory no longer has */
    bool oom; /* such a key could not be made: the listing must fail, not drop the member */
};

/* A cloud user's SCIM id as by_id compares it (sync/cloud-users.h keeps UUIDs as bytes). */
static const char *id_at(const void *p, size_t i) {
    struct key_ctx *k = (struct key_ctx *)p;
    return adc_cloud_user_id(&k->cloud->items[i], k->id_buf);
}

static const char *ext_at(const void *p, size_t i) {
    struct key_ctx *k = (struct key_ctx *)p;
    const char *e = adc_dir_user_external_id(&k->users[i], k->ext_buf);
    return e ? e : "";
}

/* The key of a member, lent from the users' key table when the directory has the user (a
 * pointer a membership instead of a copy), else made once in texts. */
static const char *key_of(void *p, const char *id, const char *type) {
    struct key_ctx *k = p;
    if (strcmp(type, "User") != 0)
        return NULL; /* groups are mapped once all of them are listed */
    size_t i = adc_strindex_get(&k->by_id, id);
    char ext_buf[ADC_UUID_TEXT];
    const char *ext =
        i == ADC_STRINDEX_NONE ? NULL : adc_cloud_user_external_id(&k->cloud->items[i], ext_buf);
    if (!ext)
        return NULL;
    size_t u = adc_strindex_get(&k->by_ext, ext);
    if (u != ADC_STRINDEX_NONE)
        return k->keys[u];
    char key[2 + ADC_UUID_TEXT + 256];
    if (snprintf(key, sizeof(key), "u:%s", ext) >= (int)sizeof(key))
        return NULL; /* longer than any externalId a directory gives: not ours */
    const char *made = adc_cloud_users_strdup(k->texts, key, strlen(key));
    k->oom = k->oom || !made;
    return made;
}

static bool own(const struct adc_cloud_user *u, const char *app_id) {
    return adc_streq(adc_cloud_user_provider(u), app_id);
}

/* "?:<id>" of a listed group becomes "g:<its externalId>": the directory group's key when the
 * directory has it, else one made in gs->key_texts. */
static int map_group_members(struct adc_group_sync *gs, size_t n_users) {
    struct adc_cloud_group_list *l = &gs->cloud;
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
            const char *k = l->items[i].member_keys[m];
            size_t g = k[0] == '?' ? adc_strindex_get(&ix, k + 2) : ADC_STRINDEX_NONE;
            if (g == ADC_STRINDEX_NONE || !l->items[g].external_id)
                continue;
            size_t d = adc_strindex_get(&dir_ext, l->items[g].external_id);
            const char *nk = d != ADC_STRINDEX_NONE ? gs->keys[n_users + d] : NULL;
            char *made = NULL;
            if (!nk && asprintf(&made, "g:%s", l->items[g].external_id) >= 0) {
                nk = adc_cloud_users_strdup(&gs->key_texts, made, strlen(made));
                free(made);
            }
            if (!nk) {
                r = -ENOMEM;
                break;
            }
            l->items[i].member_keys[m] = nk;
        }
    adc_strindex_done(&ix);
    adc_strindex_done(&dir_ext);
    return r;
}

/* The member values of the directory's groups and the member keys of the cloud's are the
 * plan's input only (sync/group-plan.h): freed once it is built, before the users' plan
 * takes its indexes, and the pages they held given back to the system (about 120 MB at
 * 1,000,000 members; docs/BENCHMARKS.md, issue 21). So is the key table, unless the plan's
 * changes lend it (a first import: every user is added somewhere). */
static void drop_members(struct adc_group_sync *gs) {
    for (size_t i = 0; i < gs->dir.n; i++) {
        adc_dir_group_members_free(&gs->dir.groups[i]);
    }
    for (size_t i = 0; i < gs->cloud.n; i++) {
        struct adc_cloud_group *g = &gs->cloud.items[i];
        free(g->member_keys);
        g->member_keys = NULL;
        g->n_members = 0;
    }
    adc_cloud_users_done(&gs->cloud.texts);
    if (!gs->plan.lends_keys) {
        free(gs->keys);
        gs->keys = NULL;
        adc_cloud_users_done(&gs->key_texts);
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

int adc_group_sync_plan(struct adc_group_sync *gs, const struct adc_ldap_config *cfg,
                        struct adc_scim *client, const char *app_id,
                        const struct adc_dir_user *users, size_t n_users,
                        const struct adc_cloud_users *cloud, const bool settings[], char **err) {
    gs->enabled = true;
    /* The directory's groups first, then the cloud's: read at the same time, the directory's
     * answer (one LDAP message of about 45 MB for a group of 1,000,000 members, and its
     * values) coincided with the key table and the cloud's memberships, about 60 MB of adc's
     * peak at 1,000,000 users; one after the other cost about a second at 1,000 groups
     * (docs/BENCHMARKS.md, issue 21). */
    struct dir_read dr = {.cfg = cfg, .out = &gs->dir};
    index_dns(&dr, users, n_users);
    read_dir_groups(&dr);
    adc_strindex_done(&dr.by_dn);
    if (dr.r < 0) { /* rule 5: nothing is written; the cloud need not be read */
        *err = dr.err;
        return dr.r;
    }
    free(dr.err);
    malloc_trim(0); /* the search's pages, before the key table takes its place */
    adc_cloud_users_init(&gs->key_texts);
    struct key_ctx k = {.cloud = cloud, .users = users, .texts = &gs->key_texts};
    char *cloud_err = NULL;
    int r = -ENOMEM;
    /* The users' keys first: the cloud's members lend them. The groups' follow the directory's
     * read. */
    if (!(gs->keys = calloc(n_users + 1, sizeof(*gs->keys))) ||
        adc_group_member_keys(users, n_users, NULL, 0, &gs->key_texts, gs->keys) < 0 ||
        adc_strindex_init_keyed(&k.by_id, cloud->n, false, id_at, &k) < 0 ||
        adc_strindex_init_keyed(&k.by_ext, n_users, false, ext_at, &k) < 0)
        goto listed;
    k.keys = gs->keys;
    for (size_t i = 0; i < n_users; i++) {
        char ext_buf[ADC_DIR_UUID_TEXT];
        const char *ext = adc_dir_user_external_id(&users[i], ext_buf);
        if (ext)
            adc_strindex_put(&k.by_ext, ext, i);
    }
    for (size_t i = 0; i < cloud->n; i++) {
        char id_buf[ADC_UUID_TEXT];
        const char *id = adc_cloud_user_id(&cloud->items[i], id_buf);
        if (own(&cloud->items[i], app_id) && id)
            adc_strindex_put(&k.by_id, id, i);
    }
    r = adc_scim_list_groups(client, app_id, key_of, &k, &gs->cloud, &cloud_err);
    if (r == 0 && k.oom)
        r = -ENOMEM;
listed:
    adc_strindex_done(&k.by_id);
    adc_strindex_done(&k.by_ext);
    if (r < 0) {
        *err = cloud_err ? cloud_err : strdup("out of memory");
        return r;
    }
    const char **keys = realloc(gs->keys, (n_users + gs->dir.n + 1) * sizeof(*keys));
    if (!keys ||
        (gs->keys = keys, adc_group_member_keys(NULL, 0, gs->dir.groups, gs->dir.n, &gs->key_texts,
                                                keys + n_users)) < 0 ||
        map_group_members(gs, n_users) < 0) {
        *err = strdup("out of memory");
        return -ENOMEM;
    }
    struct adc_group_plan_input in = {
        .dir = gs->dir.groups,
        .n_dir = gs->dir.n,
        .users = users,
        .n_users = n_users,
        .cloud = gs->cloud.items,
        .n_cloud = gs->cloud.n,
        .flatten = cfg->groups_flatten,
        .keys = gs->keys,
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

/* The cloud id of ext as text that lives as long as the map, or NULL. */
static const char *um_get(struct usermap *m, const char *ext) {
    size_t p = um_find(m, ext);
    if (p == ADC_STRINDEX_NONE)
        return NULL;
    if (p >= m->n_cloud)
        return m->f[p - m->n_cloud].id;
    char b[ADC_UUID_TEXT];
    const char *id = adc_cloud_user_id(&m->cloud->items[p], b);
    if (id != b)
        return id; /* text in the list already */
    const char *t = adc_cloud_users_strdup(&m->texts, b, strlen(b));
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
};

/* The cloud id of a member key, refreshing the users' ids once when a user created in this run
 * is not known yet. NULL: not a user or group of this configuration. */
static const char *resolve(struct applier *a, const char *key, char **err) {
    if (key[0] == '?')
        return key + 2;
    if (key[0] == 'g')
        return idmap_get(&a->groups, key + 2);
    const char *id = um_get(&a->users, key + 2);
    if (!id && !a->users_refreshed) {
        a->users_refreshed = true;
        double t0 = now_s();
        if (adc_scim_list_user_ids(a->client, a->app_id, um_add, &a->users, err) < 0)
            return NULL;
        log_info("read the ids of %zu cloud users (created in this run) in %.2f s", a->users.n_f,
                 now_s() - t0);
        id = um_get(&a->users, key + 2);
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

/* The member writes of one created or updated group. */
static int write_members(struct applier *a, const struct adc_group_change *c, const char *id) {
    struct adc_group_sync *gs = a->gs;
    char *err = NULL;
    size_t n = c->n_add > c->n_remove ? c->n_add : c->n_remove;
    const char **ids = calloc(n + 1, sizeof(*ids)), **types = calloc(n + 1, sizeof(*types));
    int r = -ENOMEM;
    if (!ids || !types)
        goto out;
    size_t k = 0;
    for (size_t i = 0; i < c->n_add; i++) {
        const char *mid = resolve(a, c->add[i], &err);
        if (!mid) {
            gs->not_synced++; /* a directory user this configuration does not own in the cloud */
            continue;
        }
        types[k] = c->add[i][0] == 'g' ? "Group" : "User";
        ids[k++] = mid;
    }
    if (a->users.oom) { /* a member unresolved for want of memory is not "not synced" */
        r = -ENOMEM;
        goto out;
    }
    r = adc_scim_group_add(a->client, id, ids, types, k, a->add_chunk, &gs->patch_bytes, &err);
    if (r < 0)
        goto out;
    gs->members_added += k;
    k = 0;
    for (size_t i = 0; i < c->n_remove; i++) {
        const char *mid = resolve(a, c->remove[i], &err);
        if (mid)
            ids[k++] = mid;
    }
    r = adc_scim_group_remove(a->client, id, ids, k, a->chunk, &gs->patch_bytes, &err);
    if (r == 0)
        gs->members_removed += k;
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
 * now (users, and groups that existed before this run); created[i] gets the new id, rest[i] the
 * members left to add by PATCH (those that did not fit in a request, and the groups created in
 * this run). Returns 0, or a negative errno with *err when the server could not be reached. */
static int create_bulk(struct applier *a, const struct adc_scim_limits *limits, char **created,
                       struct adc_group_change *rest, char **err) {
    struct adc_group_sync *gs = a->gs;
    const struct adc_group_plan *p = &gs->plan;
    size_t n = 0, n_keys = 0;
    for (size_t i = 0; i < p->n_changes; i++)
        if (p->changes[i].op == ADC_GROUP_CREATE) {
            n++;
            n_keys += p->changes[i].n_add;
        }
    struct adc_scim_group_new *g = calloc(n + 1, sizeof(*g));
    size_t *at = calloc(n + 1, sizeof(*at)); /* the plan's change of each */
    const char **ids = calloc(n_keys + 1, sizeof(*ids)),
               **types = calloc(n_keys + 1, sizeof(*types));
    const char **keys = calloc(n_keys + 1, sizeof(*keys)); /* in the order sent, then deferred */
    int r = -ENOMEM;
    if (!g || !at || !ids || !types || !keys)
        goto out;
    size_t k = 0, j = 0;
    for (size_t i = 0; i < p->n_changes; i++) {
        const struct adc_group_change *c = &p->changes[i];
        if (c->op != ADC_GROUP_CREATE)
            continue;
        size_t start = k, deferred = 0;
        for (size_t m = 0; m < c->n_add; m++) {
            const char *key = c->add[m];
            const char *id = key[0] == 'g' ? idmap_get(&a->groups, key + 2) : NULL;
            if (!id && key[0] != 'g') {
                char *why = NULL;
                id = resolve(a, key, &why);
                free(why);
                if (!id && a->users.oom)
                    goto out; /* r is -ENOMEM */
                if (!id) {
                    gs->not_synced++; /* a user this configuration does not own in the cloud */
                    continue;
                }
            }
            if (id) {
                ids[k] = id;
                types[k] = key[0] == 'g' ? "Group" : "User";
                keys[k++] = key;
            } else {
                keys[n_keys - 1 - deferred++] = key; /* a group created in this run: later */
            }
        }
        g[j] = (struct adc_scim_group_new){.name = c->name,
                                           .external_id = c->external_id,
                                           .member_ids = ids + start,
                                           .types = types + start,
                                           .n_members = k - start};
        at[j] = i;
        rest[i] = *c;
        rest[i].add = NULL;
        rest[i].n_add = 0;
        /* the deferred keys of this group, kept with it */
        size_t n_rest = deferred;
        const char **left = calloc(k - start + n_rest + 1, sizeof(*left));
        if (!left)
            goto out;
        for (size_t d = 0; d < deferred; d++)
            left[d] = keys[n_keys - 1 - d];
        rest[i].add = left;
        rest[i].n_add = n_rest;
        n_keys -= deferred;
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
        /* the members that did not fit, after the deferred ones */
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
    if (r == -ENOMEM && err && !*err)
        *err = strdup("out of memory");
    return r;
}

int adc_group_sync_apply(struct adc_group_sync *gs, struct adc_scim *client, const char *app_id,
                         const struct adc_cloud_users *cloud, size_t chunk, char **err) {
    struct applier a = {
        .gs = gs, .client = client, .app_id = app_id, .chunk = chunk ? chunk : 1000};
    int r = -ENOMEM;
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
    if (r < 0)
        *err = strdup("out of memory");
    return r;
}

void adc_group_sync_done(struct adc_group_sync *gs) {
    if (!gs)
        return;
    adc_group_read_done(&gs->dir);
    adc_cloud_group_list_done(&gs->cloud);
    adc_group_plan_done(&gs->plan);
    free(gs->keys);
    adc_cloud_users_done(&gs->key_texts);
    free(gs->first_error);
    memset(gs, 0, sizeof(*gs));
}
