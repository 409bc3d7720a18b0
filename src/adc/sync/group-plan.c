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
    struct adc_strindex group_by_dn, cloud_by_ext;
    char **group_dn; /* normalized, owned */
    /* per directory group: its desired member keys (borrowed: the input's member_pos) */
    adc_group_key **want;
    size_t *n_want;
    bool *borrowed;
};

adc_group_key adc_group_other_add(struct adc_group_others *o, adc_group_key base, char kind,
                                  const char *text) {
    size_t n = strlen(text);
    if ((uint64_t)base + o->n >= ADC_GROUP_KEY_NONE ||
        adc_grow_array(o->texts, o->cap, o->n, 16) < 0)
        return ADC_GROUP_KEY_NONE;
    char *t = adc_arena_alloc(&o->strings, n + 3);
    if (!t)
        return ADC_GROUP_KEY_NONE;
    t[0] = kind;
    t[1] = ':';
    memcpy(t + 2, text, n + 1);
    o->texts[o->n] = t;
    return base + (adc_group_key)o->n++;
}

void adc_group_others_done(struct adc_group_others *o) {
    if (!o)
        return;
    free(o->texts);
    adc_arena_done(&o->strings);
    memset(o, 0, sizeof(*o));
}

const char *adc_group_key_text(const struct adc_group_plan_input *in, adc_group_key k, char *buf,
                               size_t size) {
    char ext_buf[ADC_DIR_UUID_TEXT];
    size_t others = in->n_users + in->n_dir;
    if (k < in->n_users) {
        const char *ext = adc_dir_user_external_id(&in->users[k], ext_buf);
        snprintf(buf, size, "u:%s", ext ? ext : "");
    } else if (k < others) {
        snprintf(buf, size, "g:%s", in->dir[k - in->n_users].external_id);
    } else if (in->others && k - others < in->others->n) {
        snprintf(buf, size, "%s", in->others->texts[k - others]);
    } else {
        snprintf(buf, size, "?");
    }
    return buf;
}

/* The examples are copied: the member values they come from may be freed after the plan. */
static int unresolved(struct adc_group_plan *p, const char *what) {
    p->unresolved++;
    if (p->n_examples < ADC_ARRAY_SIZE(p->examples) &&
        !(p->examples[p->n_examples++] = adc_cloud_users_strdup(&p->texts, what, strlen(what))))
        return -ENOMEM;
    return 0;
}

static int push_key(adc_group_key **arr, size_t *n, adc_group_key key) {
    if (adc_grow_array_n(*arr, *n, 8) < 0)
        return -ENOMEM;
    (*arr)[(*n)++] = key;
    return 0;
}

static int cmp_key(const void *a, const void *b) {
    adc_group_key x = *(const adc_group_key *)a, y = *(const adc_group_key *)b;
    return x < y ? -1 : x > y;
}

/* Sorts and drops repeats (a member named by member and uniqueMember both). */
static void uniq(adc_group_key *a, size_t *n) {
    if (*n == 0)
        return;
    qsort(a, *n, sizeof(*a), cmp_key);
    size_t o = 1;
    for (size_t i = 1; i < *n; i++)
        if (a[i] != a[o - 1])
            a[o++] = a[i];
    *n = o;
}

/* The keys of the direct members of directory group gi: one allocation for them all (at
 * 1,000,000 members no copies while it grows), sized by adc_grow_n's rule so that a later
 * push_key (primary groups) finds the capacity it assumes. */
static int direct_members(struct builder *b, size_t gi) {
    const struct adc_dir_group *g = &b->in->dir[gi];
    struct adc_group_plan *p = b->p;
    size_t nu = b->in->n_users;
    if (g->n_members_unknown) {
        /* read as digests (group-read.h): counted, named by their group */
        char what[300];
        snprintf(what, sizeof(what), "%zu member%s of '%s'", g->n_members_unknown,
                 g->n_members_unknown == 1 ? "" : "s", g->name ? g->name : g->dn);
        if (unresolved(p, what) < 0)
            return -ENOMEM;
        p->unresolved += g->n_members_unknown - 1;
    }
    size_t total = g->n_member_pos + g->n_member_dns + g->n_member_uids, cap = 8, n = 0;
    if (total == 0)
        return 0;
    if (total == g->n_member_pos && !g->rid) {
        /* Only keys, as the sync resolves them (sorted, no repeats): the list itself, not a
         * copy (4 MB at 1,000,000 members), unless a key is out of range or out of order. */
        bool ok = true;
        for (size_t i = 0; ok && i < total; i++)
            ok = g->member_pos[i] < nu + b->in->n_dir &&
                 (i == 0 || g->member_pos[i - 1] < g->member_pos[i]);
        if (ok) {
            b->want[gi] = (adc_group_key *)g->member_pos;
            b->n_want[gi] = total;
            b->borrowed[gi] = true;
            return 0;
        }
    }
    while (cap < total)
        cap *= 2;
    adc_group_key *want = malloc(cap * sizeof(*want));
    if (!want)
        return -ENOMEM;
    b->want[gi] = want;
    char dn[KEY_MAX];
    /* named by the reader or resolved from digests: users, then groups, of the input */
    for (size_t i = 0; i < g->n_member_pos; i++)
        if (g->member_pos[i] < nu + b->in->n_dir)
            want[n++] = g->member_pos[i];
    for (size_t i = 0; i < g->n_member_dns; i++) {
        size_t u = ADC_STRINDEX_NONE, o = ADC_STRINDEX_NONE;
        if (!g->dns_resolved && /* else none of them names a user or group */
            adc_dn_normalize_into(g->member_dns[i], dn, sizeof(dn)) != SIZE_MAX) {
            u = adc_strindex_get(&b->user_by_dn, dn);
            o = u == ADC_STRINDEX_NONE ? adc_strindex_get(&b->group_by_dn, dn) : u;
        }
        if (u != ADC_STRINDEX_NONE)
            want[n++] = (adc_group_key)u;
        else if (o != ADC_STRINDEX_NONE)
            want[n++] = (adc_group_key)(nu + o);
        else if (unresolved(p, g->member_dns[i]) < 0)
            return -ENOMEM;
    }
    for (size_t i = 0; i < g->n_member_uids; i++) {
        size_t u = adc_strindex_get(&b->user_by_uid, g->member_uids[i]);
        if (u == ADC_STRINDEX_NONE)
            u = adc_strindex_get(&b->user_by_name, g->member_uids[i]);
        if (u != ADC_STRINDEX_NONE)
            want[n++] = (adc_group_key)u;
        else if (unresolved(p, g->member_uids[i]) < 0)
            return -ENOMEM;
    }
    b->n_want[gi] = n;
    uniq(want, &b->n_want[gi]);
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
        if (push_key(&b->want[g], &b->n_want[g], (adc_group_key)u) < 0)
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

/* Cycle detection over the group members (keep) and, with flatten, the expansion: the users
 * of a group and of every group below it. colour: 0 new, 1 on the path, 2 done. */
static int walk(struct builder *b, size_t gi, unsigned char *colour, adc_group_key **flat,
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
    size_t nu = b->in->n_users;
    for (size_t i = 0; i < b->n_want[gi]; i++) {
        adc_group_key k = b->want[gi][i];
        if (k >= nu) {
            if (walk(b, k - nu, colour, flat, n_flat) < 0) /* want holds no others */
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
    bool by_dn = false, by_uid = false;
    for (size_t i = 0; i < in->n_dir; i++) {
        by_dn = by_dn || (in->dir[i].n_member_dns && !in->dir[i].dns_resolved);
        by_uid = by_uid || in->dir[i].n_member_uids;
    }
    size_t nu = in->n_users;
    b->dn_keys.users = b->uid_keys.users = b->name_keys.users = in->users;
    int r = -ENOMEM;
    if ((uint64_t)nu + in->n_dir >= ADC_GROUP_KEY_NONE)
        return r; /* keys are 32-bit */
    if (adc_strindex_init_keyed(&b->user_by_dn, by_dn ? nu : 0, false, user_dn_at, &b->dn_keys) <
            0 ||
        adc_strindex_init_keyed(&b->user_by_uid, by_uid ? nu : 0, false, user_uid_at,
                                &b->uid_keys) < 0 ||
        adc_strindex_init_keyed(&b->user_by_name, by_uid ? nu : 0, false, user_name_at,
                                &b->name_keys) < 0 ||
        adc_strindex_init(&b->group_by_dn, in->n_dir, false) < 0 ||
        adc_strindex_init(&b->cloud_by_ext, in->n_cloud, false) < 0)
        return r;
    b->group_dn = calloc(in->n_dir + 1, sizeof(char *));
    b->want = calloc(in->n_dir + 1, sizeof(*b->want));
    b->n_want = calloc(in->n_dir + 1, sizeof(*b->n_want));
    b->borrowed = calloc(in->n_dir + 1, sizeof(*b->borrowed));
    if (!b->group_dn || !b->want || !b->n_want || !b->borrowed)
        return r;
    char buf[KEY_MAX];
    for (size_t i = 0; (by_dn || by_uid) && i < nu; i++) {
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
    }
    for (size_t i = 0; i < in->n_cloud; i++)
        if (in->cloud[i].external_id)
            adc_strindex_put(&b->cloud_by_ext, in->cloud[i].external_id, i);
    return 0;
}

static bool sorted_unique(const adc_group_key *a, size_t n) {
    for (size_t i = 1; i < n; i++)
        if (a[i - 1] >= a[i])
            return false;
    return true;
}

/* want minus have and have minus want: a merge of two sorted lists (have as listed when it is
 * sorted, as the sync gives it; else sorted in a copy). */
static int diff(const adc_group_key *want, size_t n_want, const struct adc_cloud_group *c,
                struct adc_group_change *ch) {
    const adc_group_key *have = c->members;
    adc_group_key *copy = NULL;
    size_t n_have = c->n_members;
    if (!sorted_unique(have, n_have)) {
        if (!(copy = malloc((n_have + 1) * sizeof(*copy))))
            return -ENOMEM;
        memcpy(copy, have, n_have * sizeof(*copy));
        uniq(copy, &n_have);
        have = copy;
    }
    int r = 0;
    size_t i = 0, j = 0;
    while (r == 0 && (i < n_want || j < n_have)) {
        int d = i == n_want ? 1 : j == n_have ? -1 : cmp_key(&want[i], &have[j]);
        if (d < 0)
            r = push_key(&ch->add, &ch->n_add, want[i++]);
        else if (d > 0)
            r = push_key(&ch->remove, &ch->n_remove, have[j++]);
        else
            i++, j++;
    }
    free(copy);
    return r;
}

static int add_change(struct adc_group_plan *p, struct adc_group_change ch) {
    if (adc_grow_array_n(p->changes, p->n_changes, 16) < 0)
        return -ENOMEM;
    p->changes[p->n_changes++] = ch;
    return 0;
}

/* want (sorted, unique) is taken: the change keeps it, or it is freed; unless borrowed (the
 * input's), then a create copies it. */
static int plan_group(struct builder *b, size_t gi, adc_group_key *want, size_t n_want,
                      bool borrowed) {
    const struct adc_group_plan_input *in = b->in;
    struct adc_group_plan *p = b->p;
    const struct adc_dir_group *g = &in->dir[gi];
    size_t ci = adc_strindex_get(&b->cloud_by_ext, g->external_id);
    struct adc_group_change ch = {.name = g->name, .external_id = g->external_id};
    if (borrowed) {
        adc_group_key *own = ci == ADC_STRINDEX_NONE && !in->settings[ADC_SETTING_NO_CREATE]
                                 ? malloc((n_want + 1) * sizeof(*own))
                                 : NULL;
        if (own)
            memcpy(own, want, n_want * sizeof(*own));
        else if (ci == ADC_STRINDEX_NONE && !in->settings[ADC_SETTING_NO_CREATE])
            return -ENOMEM;
        if (own) {
            want = own;
            borrowed = false;
        }
    }
    if (ci == ADC_STRINDEX_NONE) {
        if (in->settings[ADC_SETTING_NO_CREATE]) {
            if (!borrowed)
                free(want);
            p->skipped++;
            return 0;
        }
        ch.op = ADC_GROUP_CREATE;
        ch.add = want; /* the plan's own list, not a copy (1,000,000 members: 4 MB) */
        ch.n_add = n_want;
        p->created++;
        p->members_added += ch.n_add;
        int r = add_change(p, ch);
        if (r < 0)
            free(want);
        return r;
    }
    const struct adc_cloud_group *c = &in->cloud[ci];
    ch.cloud_id = c->id;
    ch.rename = !c->display_name || strcmp(c->display_name, g->name) != 0;
    int r = diff(want, n_want, c, &ch);
    if (!borrowed)
        free(want);
    if (r < 0) {
        free(ch.add);
        free(ch.remove);
        return -ENOMEM;
    }
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
    if ((r = add_change(p, ch)) < 0) {
        free(ch.add);
        free(ch.remove);
    }
    return r;
}

static void builder_done(struct builder *b) {
    size_t ng = b->in->n_dir;
    for (size_t i = 0; b->group_dn && i < ng; i++)
        free(b->group_dn[i]);
    for (size_t i = 0; b->want && i < ng; i++)
        if (!b->borrowed || !b->borrowed[i])
            free(b->want[i]);
    free(b->group_dn);
    free(b->want);
    free(b->n_want);
    free(b->borrowed);
    adc_strindex_done(&b->user_by_dn);
    adc_strindex_done(&b->user_by_uid);
    adc_strindex_done(&b->user_by_name);
    adc_strindex_done(&b->group_by_dn);
    adc_strindex_done(&b->cloud_by_ext);
}

int adc_group_plan_build(const struct adc_group_plan_input *in, struct adc_group_plan *out) {
    struct adc_group_plan p = {0};
    adc_cloud_users_init(&p.texts);
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
    adc_group_key **flat = NULL;
    size_t *n_flat = NULL;
    if (in->flatten) {
        /* every group's flattened members before any want is given away */
        flat = calloc(in->n_dir + 1, sizeof(*flat));
        n_flat = calloc(in->n_dir + 1, sizeof(*n_flat));
        if (!flat || !n_flat) {
            free(flat);
            free(n_flat);
            goto out;
        }
        for (size_t i = 0; i < in->n_dir; i++) {
            memset(colour, 0, in->n_dir);
            size_t cycles = p.in_cycles;
            int e = walk(&b, i, colour, &flat[i], &n_flat[i]);
            p.in_cycles = cycles; /* counted once above */
            if (e < 0) {
                for (size_t k = 0; k <= i; k++)
                    free(flat[k]);
                free(flat);
                free(n_flat);
                goto out;
            }
            uniq(flat[i], &n_flat[i]);
        }
    }
    int e = 0;
    for (size_t i = 0; i < in->n_dir; i++) {
        adc_group_key *want = flat ? flat[i] : b.want[i];
        size_t n_want = flat ? n_flat[i] : b.n_want[i];
        bool borrowed = !flat && b.borrowed[i];
        if (flat)
            flat[i] = NULL;
        else
            b.want[i] = NULL;
        if (e == 0)
            e = plan_group(&b, i, want, n_want, borrowed);
        else if (!borrowed)
            free(want);
    }
    free(flat);
    free(n_flat);
    if (e < 0)
        goto out;
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
    memset(p, 0, sizeof(*p));
}

void adc_cloud_group_done(struct adc_cloud_group *g) {
    if (!g)
        return;
    free(g->id);
    free(g->external_id);
    free(g->display_name);
    free(g->members);
    memset(g, 0, sizeof(*g));
}
