#include "sync/group-plan.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/macros.h"
#include "sync/str-index.h"

size_t adc_dn_normalize_into(const char *dn, char *out, size_t size) {
    size_t n = strlen(dn);
    if (n >= size)
        return SIZE_MAX;
    size_t o = 0, escaped = SIZE_MAX; /* where the last escaped character went */
    for (size_t i = 0; i < n; i++) {
        char c = dn[i];
        if (c == '\\' && i + 1 < n) { /* an escaped character stays as written */
            out[o++] = c;
            escaped = o;
            out[o++] = (char)tolower((unsigned char)dn[++i]);
            continue;
        }
        bool after_sep = o > 0 && strchr(",=+", out[o - 1]) && escaped != o - 1;
        if (c == ' ' && (o == 0 || after_sep || i + 1 == n || strchr(",=+", dn[i + 1])))
            continue;
        out[o++] = (char)tolower((unsigned char)c);
    }
    out[o] = '\0';
    return o;
}

char *adc_dn_normalize(const char *dn) {
    size_t n = strlen(dn);
    char *out = malloc(n + 1);
    if (out)
        adc_dn_normalize_into(dn, out, n + 1);
    return out;
}

/* The value of a DN's first RDN when its attribute is uid ("uid=jdoe,ou=..." -> "jdoe") into
 * buf, or NULL. posixGroup's memberUid names users by it. */
static const char *rdn_uid(const char *dn, char *buf, size_t size) {
    if (!dn || strncasecmp(dn, "uid=", 4) != 0)
        return NULL;
    size_t n = strcspn(dn + 4, ",+");
    if (n >= size)
        return NULL;
    memcpy(buf, dn + 4, n);
    buf[n] = '\0';
    return buf;
}

/* The users' indexes are keyed by position (sync/str-index.h): the DN is normalized, the uid
 * cut out of it, when an index compares a stored key, into the context's buffer, instead of
 * a copy of each per user (about 80 bytes a user, at 1,000,000 users 80 MB). */
#define KEY_MAX 4096

struct user_keys {
    const struct adc_dir_user *users;
    char buf[KEY_MAX];
};

static const char *user_dn_at(const void *ctx, size_t i) {
    struct user_keys *k = (struct user_keys *)ctx;
    const char *dn = adc_dir_user_dn(&k->users[i]);
    return dn && adc_dn_normalize_into(dn, k->buf, sizeof(k->buf)) != SIZE_MAX ? k->buf : "";
}

static const char *user_uid_at(const void *ctx, size_t i) {
    struct user_keys *k = (struct user_keys *)ctx;
    const char *uid = rdn_uid(adc_dir_user_dn(&k->users[i]), k->buf, sizeof(k->buf));
    return uid ? uid : "";
}

static const char *user_name_at(const void *ctx, size_t i) {
    const char *n = adc_dir_user_name(&((const struct user_keys *)ctx)->users[i]);
    return n ? n : "";
}

struct builder {
    const struct adc_group_plan_input *in;
    struct adc_group_plan *p;
    /* users by normalized DN, by the uid of their DN and by userName (keyed), only when a
     * group names members that way */
    struct adc_strindex user_by_dn, user_by_uid, user_by_name;
    struct user_keys dn_keys, uid_keys, name_keys;
    struct adc_strindex group_by_dn, group_by_ext, cloud_by_ext;
    char **group_dn; /* normalized, owned */
    /* keys[0..n_users) are the users' ("u:" + externalId), keys[n_users..+n_dir) the
     * groups', in the arena p->keys */
    const char **keys;
    /* per directory group: its desired member keys */
    const char ***want;
    size_t *n_want;
};

/* kind ':' ext into the arena. NULL when out of memory. */
static const char *make_key(struct adc_cloud_users *arena, char kind, const char *ext) {
    char k[2 + ADC_UUID_TEXT + 256];
    size_t n = strlen(ext);
    if (n + 3 > sizeof(k)) {
        char *big = malloc(n + 3);
        const char *r = NULL;
        if (big) {
            big[0] = kind;
            big[1] = ':';
            memcpy(big + 2, ext, n + 1);
            r = adc_cloud_users_strdup(arena, big, n + 2);
        }
        free(big);
        return r;
    }
    k[0] = kind;
    k[1] = ':';
    memcpy(k + 2, ext, n + 1);
    return adc_cloud_users_strdup(arena, k, n + 2);
}

int adc_group_member_keys(const struct adc_dir_user *users, size_t n_users,
                          const struct adc_dir_group *dir, size_t n_dir,
                          struct adc_cloud_users *arena, const char **keys) {
    for (size_t i = 0; i < n_users; i++) {
        char ext_buf[ADC_DIR_UUID_TEXT];
        const char *ext = adc_dir_user_external_id(&users[i], ext_buf);
        if (!(keys[i] = make_key(arena, 'u', ext ? ext : "")))
            return -ENOMEM;
    }
    for (size_t i = 0; i < n_dir; i++)
        if (!(keys[n_users + i] = make_key(arena, 'g', dir[i].external_id)))
            return -ENOMEM;
    return 0;
}

/* The examples are copied: the member values they come from may be freed after the plan. */
static int unresolved(struct adc_group_plan *p, const char *what) {
    p->unresolved++;
    if (p->n_examples < ADC_ARRAY_SIZE(p->examples) &&
        !(p->examples[p->n_examples++] = adc_cloud_users_strdup(&p->texts, what, strlen(what))))
        return -ENOMEM;
    return 0;
}

static int push_key(const char ***arr, size_t *n, const char *key) {
    if (adc_grow_array_n(*arr, *n, 8) < 0)
        return -ENOMEM;
    (*arr)[(*n)++] = key;
    return 0;
}

static int cmp_key(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorts and drops repeats (a member named by member and uniqueMember both). */
static void uniq(const char **a, size_t *n) {
    if (*n == 0)
        return;
    qsort(a, *n, sizeof(*a), cmp_key);
    size_t o = 1;
    for (size_t i = 1; i < *n; i++)
        if (strcmp(a[i], a[o - 1]) != 0)
            a[o++] = a[i];
    *n = o;
}

/* The keys of the direct members of directory group gi. */
static int direct_members(struct builder *b, size_t gi) {
    const struct adc_dir_group *g = &b->in->dir[gi];
    struct adc_group_plan *p = b->p;
    char dn[KEY_MAX];
    for (size_t i = 0; i < g->n_member_dns; i++) {
        size_t u = ADC_STRINDEX_NONE, o = ADC_STRINDEX_NONE;
        if (adc_dn_normalize_into(g->member_dns[i], dn, sizeof(dn)) != SIZE_MAX) {
            u = adc_strindex_get(&b->user_by_dn, dn);
            o = u == ADC_STRINDEX_NONE ? adc_strindex_get(&b->group_by_dn, dn) : u;
        }
        const char *key = NULL;
        if (u != ADC_STRINDEX_NONE)
            key = b->keys[u];
        else if (o != ADC_STRINDEX_NONE)
            key = b->keys[b->in->n_users + o];
        if (!key) {
            if (unresolved(p, g->member_dns[i]) < 0)
                return -ENOMEM;
            continue;
        }
        if (push_key(&b->want[gi], &b->n_want[gi], key) < 0)
            return -ENOMEM;
    }
    for (size_t i = 0; i < g->n_member_pos; i++) /* named by the reader: users of the input */
        if (g->member_pos[i] < b->in->n_users &&
            push_key(&b->want[gi], &b->n_want[gi], b->keys[g->member_pos[i]]) < 0)
            return -ENOMEM;
    for (size_t i = 0; i < g->n_member_uids; i++) {
        size_t u = adc_strindex_get(&b->user_by_uid, g->member_uids[i]);
        if (u == ADC_STRINDEX_NONE)
            u = adc_strindex_get(&b->user_by_name, g->member_uids[i]);
        if (u == ADC_STRINDEX_NONE) {
            if (unresolved(p, g->member_uids[i]) < 0)
                return -ENOMEM;
            continue;
        }
        if (push_key(&b->want[gi], &b->n_want[gi], b->keys[u]) < 0)
            return -ENOMEM;
    }
    uniq(b->want[gi], &b->n_want[gi]);
    return 0;
}

/* Active Directory lists a user's primary group (primaryGroupID, the group's RID) nowhere in the
 * group's member attribute: those memberships are added here. */
static int primary_groups(struct builder *b) {
    const struct adc_group_plan_input *in = b->in;
    size_t n_rid = 0;
    for (size_t i = 0; i < in->n_dir; i++)
        n_rid += in->dir[i].rid != 0;
    if (n_rid == 0)
        return 0;
    struct adc_strindex by_rid = {0};
    char(*rids)[12] = calloc(in->n_dir, sizeof(*rids));
    bool *touched = calloc(in->n_dir + 1, sizeof(*touched));
    int r = -ENOMEM;
    if (!rids || !touched || adc_strindex_init(&by_rid, in->n_dir, false) < 0)
        goto out;
    for (size_t i = 0; i < in->n_dir; i++)
        if (in->dir[i].rid) {
            snprintf(rids[i], sizeof(rids[i]), "%u", in->dir[i].rid);
            adc_strindex_put(&by_rid, rids[i], i);
        }
    for (size_t u = 0; u < in->n_users; u++) {
        if (!in->users[u].primary_group_rid)
            continue;
        char rid[12];
        snprintf(rid, sizeof(rid), "%u", in->users[u].primary_group_rid);
        size_t g = adc_strindex_get(&by_rid, rid);
        if (g == ADC_STRINDEX_NONE)
            continue; /* a primary group outside the groups' filter */
        if (push_key(&b->want[g], &b->n_want[g], b->keys[u]) < 0)
            goto out;
        touched[g] = true;
    }
    for (size_t g = 0; g < in->n_dir; g++)
        if (touched[g])
            uniq(b->want[g], &b->n_want[g]);
    r = 0;
out:
    free(touched);
    free(rids);
    adc_strindex_done(&by_rid);
    return r;
}

/* Cycle detection over the "g:" members (keep) and, with flatten, the expansion: the users of
 * a group and of every group below it. colour: 0 new, 1 on the path, 2 done. */
static int walk(struct builder *b, size_t gi, unsigned char *colour, const char ***flat,
                size_t *n_flat) {
    if (colour[gi] == 1) {
        b->p->in_cycles++;
        if (!b->p->cycle_example)
            b->p->cycle_example = b->in->dir[gi].name;
        return 0;
    }
    if (colour[gi] == 2 && !flat)
        return 0;
    colour[gi] = 1;
    for (size_t i = 0; i < b->n_want[gi]; i++) {
        const char *k = b->want[gi][i];
        if (k[0] == 'g') {
            size_t sub = adc_strindex_get(&b->group_by_ext, k + 2);
            if (sub != ADC_STRINDEX_NONE && walk(b, sub, colour, flat, n_flat) < 0)
                return -ENOMEM;
        } else if (flat && push_key(flat, n_flat, k) < 0) {
            return -ENOMEM;
        }
    }
    colour[gi] = flat ? 0 : 2; /* flatten visits shared subgroups again from each parent */
    return 0;
}

static int index_inputs(struct builder *b) {
    const struct adc_group_plan_input *in = b->in;
    struct adc_group_plan *p = b->p;
    bool by_dn = false, by_uid = false;
    for (size_t i = 0; i < in->n_dir; i++) {
        by_dn = by_dn || in->dir[i].n_member_dns;
        by_uid = by_uid || in->dir[i].n_member_uids;
    }
    size_t nu = in->n_users;
    b->dn_keys.users = b->uid_keys.users = b->name_keys.users = in->users;
    int r = -ENOMEM;
    if (adc_strindex_init_keyed(&b->user_by_dn, by_dn ? nu : 0, false, user_dn_at, &b->dn_keys) <
            0 ||
        adc_strindex_init_keyed(&b->user_by_uid, by_uid ? nu : 0, false, user_uid_at,
                                &b->uid_keys) < 0 ||
        adc_strindex_init_keyed(&b->user_by_name, by_uid ? nu : 0, false, user_name_at,
                                &b->name_keys) < 0 ||
        adc_strindex_init(&b->group_by_dn, in->n_dir, false) < 0 ||
        adc_strindex_init(&b->group_by_ext, in->n_dir, false) < 0 ||
        adc_strindex_init(&b->cloud_by_ext, in->n_cloud, false) < 0)
        return r;
    b->keys = calloc(nu + in->n_dir + 1, sizeof(*b->keys));
    b->group_dn = calloc(in->n_dir + 1, sizeof(char *));
    b->want = calloc(in->n_dir + 1, sizeof(*b->want));
    b->n_want = calloc(in->n_dir + 1, sizeof(*b->n_want));
    if (!b->keys || !b->group_dn || !b->want || !b->n_want)
        return r;
    if (in->keys)
        memcpy(b->keys, in->keys, (nu + in->n_dir) * sizeof(*b->keys));
    else if (adc_group_member_keys(in->users, nu, in->dir, in->n_dir, &p->keys, b->keys) < 0)
        return r;
    char buf[KEY_MAX];
    for (size_t i = 0; i < nu; i++) {
        const struct adc_dir_user *u = &in->users[i];
        const char *dn = adc_dir_user_dn(u);
        if (by_dn && dn && adc_dn_normalize_into(dn, buf, sizeof(buf)) != SIZE_MAX)
            adc_strindex_put(&b->user_by_dn, buf, i);
        if (by_uid && rdn_uid(dn, buf, sizeof(buf)))
            adc_strindex_put(&b->user_by_uid, buf, i);
        if (by_uid && adc_dir_user_name(u))
            adc_strindex_put(&b->user_by_name, adc_dir_user_name(u), i);
    }
    for (size_t i = 0; i < in->n_dir; i++) {
        if (!(b->group_dn[i] = adc_dn_normalize(in->dir[i].dn)))
            return r;
        adc_strindex_put(&b->group_by_dn, b->group_dn[i], i);
        adc_strindex_put(&b->group_by_ext, in->dir[i].external_id, i);
    }
    for (size_t i = 0; i < in->n_cloud; i++)
        if (in->cloud[i].external_id)
            adc_strindex_put(&b->cloud_by_ext, in->cloud[i].external_id, i);
    return 0;
}

/* want minus have and have minus want, both sorted. */
static int diff(const char **want, size_t n_want, const struct adc_cloud_group *c,
                struct adc_group_change *ch) {
    const char **have = malloc((c->n_members + 1) * sizeof(*have));
    if (!have)
        return -ENOMEM;
    for (size_t i = 0; i < c->n_members; i++)
        have[i] = c->member_keys[i];
    size_t n_have = c->n_members;
    uniq(have, &n_have);
    int r = 0;
    size_t i = 0, j = 0;
    while (r == 0 && (i < n_want || j < n_have)) {
        int d = i == n_want ? 1 : j == n_have ? -1 : strcmp(want[i], have[j]);
        if (d < 0)
            r = push_key(&ch->add, &ch->n_add, want[i++]);
        else if (d > 0)
            r = push_key(&ch->remove, &ch->n_remove, have[j++]);
        else
            i++, j++;
    }
    free(have);
    return r;
}

static int add_change(struct adc_group_plan *p, struct adc_group_change ch) {
    if (adc_grow_array_n(p->changes, p->n_changes, 16) < 0)
        return -ENOMEM;
    p->changes[p->n_changes++] = ch;
    return 0;
}

static int plan_group(struct builder *b, size_t gi, const char **want, size_t n_want) {
    const struct adc_group_plan_input *in = b->in;
    struct adc_group_plan *p = b->p;
    const struct adc_dir_group *g = &in->dir[gi];
    size_t ci = adc_strindex_get(&b->cloud_by_ext, g->external_id);
    struct adc_group_change ch = {.name = g->name, .external_id = g->external_id};
    if (ci == ADC_STRINDEX_NONE) {
        if (in->settings[ADC_SETTING_NO_CREATE]) {
            p->skipped++;
            return 0;
        }
        ch.op = ADC_GROUP_CREATE;
        for (size_t i = 0; i < n_want; i++)
            if (push_key(&ch.add, &ch.n_add, want[i]) < 0)
                return -ENOMEM;
        p->created++;
        p->members_added += ch.n_add;
        return add_change(p, ch);
    }
    const struct adc_cloud_group *c = &in->cloud[ci];
    ch.cloud_id = c->id;
    ch.rename = !c->display_name || strcmp(c->display_name, g->name) != 0;
    if (diff(want, n_want, c, &ch) < 0)
        return -ENOMEM;
    if (!ch.rename && ch.n_add == 0 && ch.n_remove == 0) {
        p->unchanged++;
        return 0;
    }
    if (in->settings[ADC_SETTING_NO_UPDATE]) {
        free(ch.add);
        free(ch.remove);
        p->skipped++;
        return 0;
    }
    ch.op = ADC_GROUP_UPDATE;
    p->updated++;
    p->members_added += ch.n_add;
    p->members_removed += ch.n_remove;
    return add_change(p, ch);
}

static void builder_done(struct builder *b) {
    size_t ng = b->in->n_dir;
    for (size_t i = 0; b->group_dn && i < ng; i++)
        free(b->group_dn[i]);
    for (size_t i = 0; b->want && i < ng; i++)
        free(b->want[i]);
    free(b->keys);
    free(b->group_dn);
    free(b->want);
    free(b->n_want);
    adc_strindex_done(&b->user_by_dn);
    adc_strindex_done(&b->user_by_uid);
    adc_strindex_done(&b->user_by_name);
    adc_strindex_done(&b->group_by_dn);
    adc_strindex_done(&b->group_by_ext);
    adc_strindex_done(&b->cloud_by_ext);
}

/* The removed members' keys are the cloud listing's: copied, so that the listing's keys can be
 * freed once the plan is built. The added members' keys are the plan's own (p->keys, about 40
 * bytes a user): when only a few are added (a re-sync), those few are copied and the rest
 * freed; else they all stay. */
static int own_texts(struct adc_group_plan *p, size_t n_keys, bool lent) {
    size_t adds = 0;
    for (size_t i = 0; i < p->n_changes; i++) {
        struct adc_group_change *c = &p->changes[i];
        adds += c->n_add;
        for (size_t k = 0; k < c->n_remove; k++)
            if (!(c->remove[k] =
                      adc_cloud_users_strdup(&p->texts, c->remove[k], strlen(c->remove[k]))))
                return -ENOMEM;
    }
    if (adds > n_keys / 4) {
        p->lends_keys = lent;
        return 0;
    }
    for (size_t i = 0; i < p->n_changes; i++) {
        struct adc_group_change *c = &p->changes[i];
        for (size_t k = 0; k < c->n_add; k++)
            if (!(c->add[k] = adc_cloud_users_strdup(&p->texts, c->add[k], strlen(c->add[k]))))
                return -ENOMEM;
    }
    adc_cloud_users_done(&p->keys);
    adc_cloud_users_init(&p->keys);
    return 0;
}

int adc_group_plan_build(const struct adc_group_plan_input *in, struct adc_group_plan *out) {
    struct adc_group_plan p = {0};
    adc_cloud_users_init(&p.texts);
    adc_cloud_users_init(&p.keys);
    struct builder b = {.in = in, .p = &p};
    unsigned char *colour = calloc(in->n_dir + 1, 1);
    int r = -ENOMEM;
    if (!colour || index_inputs(&b) < 0)
        goto out;
    for (size_t i = 0; i < in->n_dir; i++)
        if (direct_members(&b, i) < 0)
            goto out;
    if (primary_groups(&b) < 0)
        goto out;
    /* Cycles are reported in either mode; with keep they stay (a SCIM group may contain a
     * group that contains it), with flatten they end the walk. */
    for (size_t i = 0; i < in->n_dir; i++)
        if (!colour[i] && walk(&b, i, colour, NULL, NULL) < 0)
            goto out;
    for (size_t i = 0; i < in->n_dir; i++) {
        const char **flat = NULL;
        size_t n_flat = 0;
        if (in->flatten) {
            memset(colour, 0, in->n_dir);
            size_t cycles = p.in_cycles;
            if (walk(&b, i, colour, &flat, &n_flat) < 0) {
                free(flat);
                goto out;
            }
            p.in_cycles = cycles; /* counted once above */
            uniq(flat, &n_flat);
        }
        int e = in->flatten ? plan_group(&b, i, flat, n_flat)
                            : plan_group(&b, i, b.want[i], b.n_want[i]);
        free(flat);
        if (e < 0)
            goto out;
    }
    /* Groups of this configuration the directory no longer has. */
    struct adc_strindex seen;
    if (adc_strindex_init(&seen, in->n_dir, false) < 0)
        goto out;
    for (size_t i = 0; i < in->n_dir; i++)
        adc_strindex_put(&seen, in->dir[i].external_id, i);
    for (size_t i = 0; i < in->n_cloud; i++) {
        const struct adc_cloud_group *c = &in->cloud[i];
        if (c->external_id && adc_strindex_get(&seen, c->external_id) != ADC_STRINDEX_NONE)
            continue;
        if (in->settings[ADC_SETTING_NO_DELETE]) {
            p.skipped++;
            continue;
        }
        struct adc_group_change ch = {.op = ADC_GROUP_DELETE,
                                      .name = c->display_name,
                                      .external_id = c->external_id,
                                      .cloud_id = c->id};
        if (add_change(&p, ch) < 0) {
            adc_strindex_done(&seen);
            goto out;
        }
        p.deleted++;
    }
    adc_strindex_done(&seen);
    if (own_texts(&p, in->n_users + in->n_dir, in->keys != NULL) < 0)
        goto out;
    *out = p;
    memset(&p, 0, sizeof(p)); /* owned by the caller now */
    r = 0;
out:
    free(colour);
    builder_done(&b);
    adc_group_plan_done(&p);
    return r;
}

void adc_group_plan_done(struct adc_group_plan *p) {
    if (!p)
        return;
    for (size_t i = 0; i < p->n_changes; i++) {
        free(p->changes[i].add);
        free(p->changes[i].remove);
    }
    free(p->changes);
    adc_cloud_users_done(&p->texts);
    adc_cloud_users_done(&p->keys);
    memset(p, 0, sizeof(*p));
}

void adc_cloud_group_done(struct adc_cloud_group *g) {
    if (!g)
        return;
    free(g->id);
    free(g->external_id);
    free(g->display_name);
    free(g->member_keys); /* the keys are lent */
    memset(g, 0, sizeof(*g));
}
