/* docs/product.md section 4 as a pure function. Matching (rule 2): by externalId among this
 * configuration's cloud users, else by userName (case-insensitive) among all cloud users, where
 * the provider rule (3) decides between skip and takeover. Users of this configuration that no
 * directory user claims have left the directory: delete, disable, or leave them, by the settings.
 * The mass-delete guard (rule 6) is evaluated here; its enforcement is the caller's. */
#include "sync/plan.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/macros.h"
#include "sync/plan-renames.h"
#include "sync/str-index.h"

/* Reasons, shown by `adc imp` and in its JSON. Kept short and stable: tests and scripts match
 * on them. */
static const char R_NO_NAME[] = "no usable userName";
static const char R_NO_ID[] = "no identifier (externalId)";
static const char R_DUP_NAME[] = "userName used by several directory entries";
static const char R_DUP_ID[] = "identifier used by several directory entries";
static const char R_OTHER_PROVIDER[] = "owned by another provider";
static const char R_TAKEOVER[] = "takeover from another provider";
static const char R_RELINK[] = "matched by userName";
/* docs/product.md section 11: a user of this configuration is matched by externalId only. */
static const char R_CONFLICT[] = "conflict: the userName belongs to this configuration's user of "
                                 "another directory identity, which is never reused";
static const char R_NO_CREATE[] = "no-create is set";
static const char R_NO_UPDATE[] = "no-update is set";
static const char R_LEFT[] = "not in the directory";
static const char R_LEFT_NO_DELETE[] = "not in the directory; no-delete is set";

enum dir_state { DIR_OK, DIR_NO_NAME, DIR_NO_ID, DIR_DUP_NAME, DIR_DUP_ID };

enum cloud_flag {
    CLOUD_IGNORED = 1 << 0,   /* a second copy of an id the list already returned */
    CLOUD_OWNED = 1 << 1,     /* provider is this configuration */
    CLOUD_CLAIMED = 1 << 2,   /* a directory user maps to it */
    CLOUD_PROTECTED = 1 << 3, /* its directory entry exists but was skipped: no proof it left */
};

const char *adc_plan_op_name(enum adc_plan_op op) {
    switch (op) {
    case ADC_PLAN_CREATE: return "create";
    case ADC_PLAN_UPDATE: return "update";
    case ADC_PLAN_DELETE: return "delete";
    case ADC_PLAN_DISABLE: return "disable";
    case ADC_PLAN_SKIP: return "skip";
    }
    return "?";
}

size_t adc_plan_delete_limit(struct adc_max_delete max_delete, size_t n_owned) {
    if (max_delete.value < 0)
        return 0;
    if (max_delete.percent)
        return (size_t)(((unsigned long long)n_owned * (unsigned long long)max_delete.value) / 100);
    return (size_t)max_delete.value;
}

static bool empty(const char *s) { return !s || !*s; }

/* Absent and empty are the same value in the cloud. */
static bool same_value(const char *a, const char *b) {
    if (empty(a) || empty(b))
        return empty(a) && empty(b);
    return strcmp(a, b) == 0;
}

/* What differs. userName and externalId as text (exact: a change of case only is a rename
 * too), the other attributes by their digests (the cloud side keeps no text of them,
 * sync/cloud-users.h; absent and empty digest alike, as they are the same value in the cloud). */
static unsigned diff(const struct adc_user *d, const struct adc_cloud_user *c, bool active) {
    static const unsigned field_of[ADC_DIGEST_COUNT] = {
        [ADC_DIGEST_DISPLAY_NAME] = ADC_FIELD_DISPLAY_NAME,
        [ADC_DIGEST_GIVEN_NAME] = ADC_FIELD_GIVEN_NAME,
        [ADC_DIGEST_FAMILY_NAME] = ADC_FIELD_FAMILY_NAME,
        [ADC_DIGEST_EMAILS] = ADC_FIELD_EMAIL,
    };
    uint64_t dd[ADC_DIGEST_COUNT];
    unsigned f = 0;
    if (!same_value(d->user_name, c->user_name))
        f |= ADC_FIELD_USER_NAME;
    char ext_buf[ADC_UUID_TEXT];
    if (!same_value(d->external_id, adc_cloud_user_external_id(c, ext_buf)))
        f |= ADC_FIELD_EXTERNAL_ID;
    adc_user_digest(d, dd);
    for (size_t i = 0; i < ADC_DIGEST_COUNT; i++)
        if (dd[i] != c->digest[i])
            f |= field_of[i];
    if (active != c->active)
        f |= ADC_FIELD_ACTIVE;
    return f;
}

/* The `active` a cloud user should have. A disabled directory account always disables (rule
 * 4). An enabled one enables, except under create-as-disabled: there the cloud's administrator
 * activates new users, and the sync must not undo that decision on its next run. */
static bool wanted_active(const struct adc_user *d, const struct adc_cloud_user *c,
                          const bool *settings) {
    if (!d->active)
        return false;
    if (c && !c->active && settings[ADC_SETTING_CREATE_AS_DISABLED])
        return false;
    return true;
}

struct builder {
    struct adc_plan_change *v;
    size_t n, cap;
    struct adc_plan_stats stats;
    struct adc_cloud_users texts; /* externalIds of cloud users as text, lent by changes */
};

/* c's externalId as text that lives as long as the plan (NULL when absent). Returns 0 or
 * -ENOMEM. A cloud user keeps a UUID as its 16 bytes (sync/cloud-users.h); the few that a
 * change names (leavers, conflicts) get their text here. */
static int cloud_ext_text(struct builder *b, const struct adc_cloud_user *c, const char **out) {
    char buf[ADC_UUID_TEXT];
    const char *s = adc_cloud_user_external_id(c, buf);
    if (s != buf) {
        *out = s;
        return 0;
    }
    return (*out = adc_cloud_users_strdup(&b->texts, buf, strlen(buf))) ? 0 : -ENOMEM;
}

static struct adc_plan_change *add(struct builder *b, enum adc_plan_op op, const char *reason) {
    if (adc_grow_array(b->v, b->cap, b->n, 64) < 0)
        return NULL;
    struct adc_plan_change *c = &b->v[b->n++];
    memset(c, 0, sizeof(*c));
    c->op = op;
    c->reason = reason;
    /* Counted when the plan is complete (adc_plan_stats_count): an update's kind depends on
     * its fields, set after this. */
    return c;
}

void adc_plan_stats_count(struct adc_plan_stats *s, const struct adc_plan_change *c) {
    switch (c->op) {
    case ADC_PLAN_CREATE: s->created++; break;
    case ADC_PLAN_UPDATE:
        if (c->fields & ADC_FIELD_ACTIVE) {
            if (c->active)
                s->enabled++;
            else
                s->disabled++;
        } else {
            s->updated++;
        }
        break;
    case ADC_PLAN_DELETE: s->deleted++; break;
    case ADC_PLAN_DISABLE: s->disabled++; break;
    case ADC_PLAN_SKIP: s->skipped++; break;
    }
}

/* d is the compact user, v its view: the strings lent are d's (they live as long as d); an
 * externalId d keeps as a UUID's bytes is left to adc_plan_change_external_id. 0. */
static int set_dir(struct builder *b, struct adc_plan_change *c, const struct adc_dir_user *d,
                   const struct adc_user *v) {
    (void)b;
    c->dir = d;
    c->user_name = v->user_name;
    c->dn = v->dn;
    c->external_id = adc_dir_user_external_id_is_text(d) ? v->external_id : NULL;
    return 0;
}

const char *adc_plan_change_external_id(const struct adc_plan_change *c,
                                        char buf[ADC_DIR_UUID_TEXT]) {
    if (c->external_id || !c->dir || adc_dir_user_external_id_is_text(c->dir))
        return c->external_id;
    return adc_dir_user_external_id(c->dir, buf);
}

static int compare_changes(const void *pa, const void *pb) {
    const struct adc_plan_change *a = pa, *b = pb;
    if (a->op != b->op)
        return a->op < b->op ? -1 : 1;
    const char *na = a->user_name ? a->user_name : "", *nb = b->user_name ? b->user_name : "";
    int r = strcasecmp(na, nb);
    if (r)
        return r;
    if ((r = strcmp(na, nb)))
        return r;
    char ba[ADC_DIR_UUID_TEXT], bb[ADC_DIR_UUID_TEXT];
    const char *ea = adc_plan_change_external_id(a, ba), *eb = adc_plan_change_external_id(b, bb);
    ea = ea ? ea : a->dn ? a->dn : "";
    eb = eb ? eb : b->dn ? b->dn : "";
    return strcmp(ea, eb);
}

/* One directory user in state DIR_OK: find its cloud user and decide. */
static int plan_dir_user(struct builder *b, const struct adc_plan_input *in, size_t i,
                         const struct adc_strindex *own_ext, const struct adc_strindex *cloud_name,
                         const struct adc_strindex *dir_ext, uint8_t *cflags) {
    const struct adc_dir_user *dd = &in->dir[i];
    struct adc_user view, *d = &view;
    char ext_buf[ADC_DIR_UUID_TEXT];
    adc_dir_user_view(dd, &view, ext_buf);
    const bool *s = in->settings;
    struct adc_plan_change *ch;
    const char *reason = NULL, *detail = NULL;
    unsigned extra = 0;

    size_t ci = adc_strindex_get(own_ext, d->external_id);
    if (ci == ADC_STRINDEX_NONE) {
        size_t ni = adc_strindex_get(cloud_name, d->user_name);
        const struct adc_cloud_user *n = ni == ADC_STRINDEX_NONE ? NULL : &in->cloud[ni];
        char c_ext_buf[ADC_UUID_TEXT];
        if (n && (cflags[ni] & CLOUD_OWNED) && adc_cloud_user_has_external_id(n) &&
            adc_strindex_get(dir_ext, adc_cloud_user_external_id(n, c_ext_buf)) !=
                ADC_STRINDEX_NONE)
            /* Ours and still claimed by the directory user it belongs to, which was renamed
             * away from this name: that rename is applied before this create. */
            n = NULL;
        if (!n) {
            if (s[ADC_SETTING_NO_CREATE]) {
                if (!(ch = add(b, ADC_PLAN_SKIP, R_NO_CREATE)))
                    return -ENOMEM;
                if (set_dir(b, ch, dd, d) < 0)
                    return -ENOMEM;
                return 0;
            }
            if (!(ch = add(b, ADC_PLAN_CREATE, NULL)))
                return -ENOMEM;
            if (set_dir(b, ch, dd, d) < 0)
                return -ENOMEM;
            ch->active = d->active && !s[ADC_SETTING_CREATE_AS_DISABLED];
            return 0;
        }
        if ((cflags[ni] & CLOUD_OWNED) && adc_cloud_user_has_external_id(n)) {
            /* Ours, with another identity that no directory entry has any more: a leaver (or
             * an entry deleted and re-created). A new person who got the leaver's name must not
             * inherit the leaver's account and data: report it, never reuse; the old user is
             * handled as a leaver below (deleted, or disabled), and the administrator decides. */
            if (!(ch = add(b, ADC_PLAN_SKIP, R_CONFLICT)))
                return -ENOMEM;
            if (set_dir(b, ch, dd, d) < 0)
                return -ENOMEM;
            ch->cloud = n;
            return cloud_ext_text(b, n, &ch->reason_detail);
        }
        if (cflags[ni] & CLOUD_OWNED) {
            /* Ours, but no directory identity was ever recorded: link it to this entry. */
            reason = R_RELINK;
        } else if (s[ADC_SETTING_NO_UPDATE_PROVIDER_MISMATCH] ||
                   (adc_cloud_user_provider(n) &&
                    strcmp(adc_cloud_user_provider(n), "local") != 0)) {
            /* Another sync configuration's user is never ours to take (docs/product.md section
             * 11: adc-server refuses the write); only a `local` one may be taken over. */
            if (!(ch = add(b, ADC_PLAN_SKIP, R_OTHER_PROVIDER)))
                return -ENOMEM;
            if (set_dir(b, ch, dd, d) < 0)
                return -ENOMEM;
            ch->cloud = n;
            ch->reason_detail = adc_cloud_user_provider(n) ? adc_cloud_user_provider(n) : "none";
            return 0;
        } else {
            reason = R_TAKEOVER;
            detail = adc_cloud_user_provider(n) ? adc_cloud_user_provider(n) : "none";
            extra = ADC_FIELD_PROVIDER;
        }
        ci = ni;
    }

    const struct adc_cloud_user *c = &in->cloud[ci];
    cflags[ci] |= CLOUD_CLAIMED;
    bool active = wanted_active(d, c, s);
    unsigned fields = diff(d, c, active) | extra;
    if (!fields) {
        b->stats.unchanged++;
        return 0;
    }
    if (s[ADC_SETTING_NO_UPDATE]) {
        reason = R_NO_UPDATE;
        detail = NULL;
    }
    if (!(ch = add(b, s[ADC_SETTING_NO_UPDATE] ? ADC_PLAN_SKIP : ADC_PLAN_UPDATE, reason)))
        return -ENOMEM;
    if (set_dir(b, ch, dd, d) < 0)
        return -ENOMEM;
    ch->cloud = c;
    ch->reason_detail = detail;
    ch->fields = fields;
    ch->active = active;
    return 0;
}

/* A user of this configuration that no directory user claims has left the directory. Only
 * called after a complete enumeration (rule 5 is the caller's: no plan without one). */
static int plan_leaver(struct builder *b, const struct adc_plan_input *in, size_t ci) {
    const struct adc_cloud_user *c = &in->cloud[ci];
    const bool *s = in->settings;
    enum adc_plan_op op;
    const char *reason = R_LEFT;

    if (s[ADC_SETTING_NO_DELETE]) {
        /* no-delete wins over delete-disables: neither deleted nor disabled. An already
         * disabled user under delete-disables is where it would be anyway. */
        if (s[ADC_SETTING_DELETE_DISABLES] && !c->active) {
            b->stats.unchanged++;
            return 0;
        }
        op = ADC_PLAN_SKIP;
        reason = R_LEFT_NO_DELETE;
    } else if (s[ADC_SETTING_DELETE_DISABLES]) {
        if (!c->active) {
            b->stats.unchanged++;
            return 0;
        }
        op = ADC_PLAN_DISABLE;
    } else {
        op = ADC_PLAN_DELETE;
    }
    struct adc_plan_change *ch = add(b, op, reason);
    if (!ch)
        return -ENOMEM;
    ch->cloud = c;
    ch->user_name = c->user_name;
    if (op == ADC_PLAN_DISABLE) {
        ch->fields = ADC_FIELD_ACTIVE;
        ch->active = false;
    }
    return cloud_ext_text(b, c, &ch->external_id);
}

/* How many users ahead the fill loops below hash a user's keys and prefetch their slots
 * (str-index.h): far enough for the memory to answer, near enough to stay in cache. */
#define AHEAD 8

/* The hashes of cloud user i's keys (0 for a key it does not have), their slots prefetched. */
struct cloud_hashes {
    uint64_t id, name, ext;
};
static void hash_cloud(const struct adc_plan_input *in, size_t i,
                       const struct adc_strindex *cloud_id, const struct adc_strindex *cloud_name,
                       const struct adc_strindex *own_ext, struct cloud_hashes *h) {
    const struct adc_cloud_user *c = &in->cloud[i];
    char buf[ADC_UUID_TEXT];
    const char *id = adc_cloud_user_id(c, buf);
    *h = (struct cloud_hashes){0};
    if (!empty(id))
        adc_strindex_prefetch(cloud_id, h->id = adc_strindex_hash(cloud_id, id));
    if (!empty(c->user_name))
        adc_strindex_prefetch(cloud_name, h->name = adc_strindex_hash(cloud_name, c->user_name));
    if (adc_cloud_user_has_external_id(c) && adc_streq(adc_cloud_user_provider(c), in->app_id))
        adc_strindex_prefetch(
            own_ext, h->ext = adc_strindex_hash(own_ext, adc_cloud_user_external_id(c, buf)));
}

/* The cloud side: indexes by id, name and (of the users this configuration owns) externalId;
 * flags the owned ones. A paged listing can return a user twice when the list shifts between
 * pages; the second copy must not look like a user nobody claims (it would be deleted).
 * Returns how many users this configuration owns. */
static size_t index_cloud(const struct adc_plan_input *in, struct adc_strindex *cloud_id,
                          struct adc_strindex *cloud_name, struct adc_strindex *own_ext,
                          uint8_t *cflags) {
    size_t n_owned = 0;
    struct cloud_hashes ahead[AHEAD];
    for (size_t i = 0; i < AHEAD && i < in->n_cloud; i++)
        hash_cloud(in, i, cloud_id, cloud_name, own_ext, &ahead[i]);
    for (size_t i = 0; i < in->n_cloud; i++) {
        const struct adc_cloud_user *c = &in->cloud[i];
        struct cloud_hashes h = ahead[i % AHEAD];
        if (i + AHEAD < in->n_cloud)
            hash_cloud(in, i + AHEAD, cloud_id, cloud_name, own_ext, &ahead[i % AHEAD]);
        char buf[ADC_UUID_TEXT];
        const char *id = adc_cloud_user_id(c, buf);
        if (!empty(id) && adc_strindex_put_hashed(cloud_id, id, h.id, i) != ADC_STRINDEX_NONE) {
            cflags[i] |= CLOUD_IGNORED;
            continue;
        }
        if (!empty(c->user_name))
            adc_strindex_put_hashed(cloud_name, c->user_name, h.name, i);
        if (adc_streq(adc_cloud_user_provider(c), in->app_id)) {
            cflags[i] |= CLOUD_OWNED;
            n_owned++;
            if (adc_cloud_user_has_external_id(c))
                adc_strindex_put_hashed(own_ext, adc_cloud_user_external_id(c, buf), h.ext, i);
        }
    }
    return n_owned;
}

/* The hashes of directory user i's externalId and name (0 for one it lacks), prefetched. */
struct dir_hashes {
    uint64_t ext, name;
};
static void hash_dir(const struct adc_plan_input *in, size_t i, const struct adc_strindex *dir_ext,
                     const struct adc_strindex *dir_name, struct dir_hashes *h) {
    char buf[ADC_DIR_UUID_TEXT];
    const char *ext = adc_dir_user_external_id(&in->dir[i], buf);
    const char *name = adc_dir_user_name(&in->dir[i]);
    *h = (struct dir_hashes){0};
    if (!empty(ext))
        adc_strindex_prefetch(dir_ext, h->ext = adc_strindex_hash(dir_ext, ext));
    if (!empty(name))
        adc_strindex_prefetch(dir_name, h->name = adc_strindex_hash(dir_name, name));
}

/* The directory side: rule 8, no usable name or a name (or identifier) used twice. */
static void classify_dir(const struct adc_plan_input *in, struct adc_strindex *dir_ext,
                         struct adc_strindex *dir_name, uint8_t *dstate) {
    struct dir_hashes ahead[AHEAD];
    for (size_t i = 0; i < AHEAD && i < in->n_dir; i++)
        hash_dir(in, i, dir_ext, dir_name, &ahead[i]);
    for (size_t i = 0; i < in->n_dir; i++) {
        struct dir_hashes h = ahead[i % AHEAD];
        if (i + AHEAD < in->n_dir)
            hash_dir(in, i + AHEAD, dir_ext, dir_name, &ahead[i % AHEAD]);
        char ext_buf[ADC_DIR_UUID_TEXT];
        const char *ext = adc_dir_user_external_id(&in->dir[i], ext_buf);
        const char *name = adc_dir_user_name(&in->dir[i]);
        if (!empty(ext)) {
            size_t j = adc_strindex_put_hashed(dir_ext, ext, h.ext, i);
            if (j != ADC_STRINDEX_NONE) {
                if (dstate[j] == DIR_OK || dstate[j] == DIR_DUP_NAME)
                    dstate[j] = DIR_DUP_ID;
                dstate[i] = DIR_DUP_ID;
            }
        } else {
            dstate[i] = DIR_NO_ID;
        }
        if (empty(name)) {
            dstate[i] = DIR_NO_NAME;
            continue;
        }
        size_t j = adc_strindex_put_hashed(dir_name, name, h.name, i);
        if (j != ADC_STRINDEX_NONE) {
            if (dstate[j] == DIR_OK)
                dstate[j] = DIR_DUP_NAME;
            if (dstate[i] == DIR_OK)
                dstate[i] = DIR_DUP_NAME;
        }
    }
}

/* A directory user skipped by rule 8, but present: whichever cloud user it maps to by
 * identifier or by name (of two entries sharing a name, either could own it) has certainly not
 * left. Returns 0 or -ENOMEM. */
static int skip_dir_user(struct builder *b, const struct adc_dir_user *dd, uint8_t state,
                         const struct adc_strindex *own_ext, const struct adc_strindex *cloud_name,
                         uint8_t *cflags) {
    struct adc_user view, *d = &view;
    char ext_buf[ADC_DIR_UUID_TEXT];
    adc_dir_user_view(dd, &view, ext_buf);
    size_t ci = adc_strindex_get(own_ext, d->external_id);
    if (ci != ADC_STRINDEX_NONE)
        cflags[ci] |= CLOUD_PROTECTED;
    ci = adc_strindex_get(cloud_name, d->user_name);
    if (ci != ADC_STRINDEX_NONE)
        cflags[ci] |= CLOUD_PROTECTED;
    static const char *const reasons[] = {
        [DIR_NO_NAME] = R_NO_NAME,
        [DIR_NO_ID] = R_NO_ID,
        [DIR_DUP_NAME] = R_DUP_NAME,
        [DIR_DUP_ID] = R_DUP_ID,
    };
    struct adc_plan_change *ch = add(b, ADC_PLAN_SKIP, reasons[state]);
    if (!ch)
        return -ENOMEM;
    if (set_dir(b, ch, dd, d) < 0)
        return -ENOMEM;
    return 0;
}

/* The keys of the plan's indexes, read from the users by position: the indexes store no key
 * pointers (str-index.h; 52 MB less at 1,000,000 users). */
/* The SCIM ids and externalIds a cloud user keeps as a UUID's bytes are formatted into the
 * index's own buffer: an index compares one stored key at a time. */
struct ident_keys {
    const struct adc_plan_input *in;
    char buf[ADC_UUID_TEXT];
};
static const char *cloud_id_at(const void *ctx, size_t i) {
    struct ident_keys *k = (struct ident_keys *)ctx;
    return adc_cloud_user_id(&k->in->cloud[i], k->buf);
}
static const char *cloud_name_at(const void *ctx, size_t i) {
    return ((const struct adc_plan_input *)ctx)->cloud[i].user_name;
}
static const char *cloud_ext_at(const void *ctx, size_t i) {
    struct ident_keys *k = (struct ident_keys *)ctx;
    return adc_cloud_user_external_id(&k->in->cloud[i], k->buf);
}
static const char *dir_name_at(const void *ctx, size_t i) {
    return adc_dir_user_name(&((const struct adc_plan_input *)ctx)->dir[i]);
}
static const char *dir_ext_at(const void *ctx, size_t i) {
    struct ident_keys *k = (struct ident_keys *)ctx;
    return adc_dir_user_external_id(&k->in->dir[i], k->buf);
}

int adc_plan_build(const struct adc_plan_input *in, struct adc_plan *out) {
    int r = -ENOMEM;
    struct adc_strindex cloud_id = {0}, cloud_name = {0}, own_ext = {0}, dir_name = {0},
                        dir_ext = {0};
    struct builder b = {0};
    uint8_t *cflags = calloc(in->n_cloud ? in->n_cloud : 1, 1);
    uint8_t *dstate = calloc(in->n_dir ? in->n_dir : 1, 1);
    size_t n_owned = 0;

    if (!cflags || !dstate)
        goto out;
    struct ident_keys id_keys = {.in = in}, ext_keys = {.in = in}, dir_ext_keys = {.in = in};
    adc_cloud_users_init(&b.texts);
    if (adc_strindex_init_keyed(&cloud_id, in->n_cloud, false, cloud_id_at, &id_keys) < 0 ||
        adc_strindex_init_keyed(&cloud_name, in->n_cloud, true, cloud_name_at, in) < 0 ||
        adc_strindex_init_keyed(&own_ext, in->n_cloud, false, cloud_ext_at, &ext_keys) < 0 ||
        adc_strindex_init_keyed(&dir_name, in->n_dir, true, dir_name_at, in) < 0 ||
        adc_strindex_init_keyed(&dir_ext, in->n_dir, false, dir_ext_at, &dir_ext_keys) < 0)
        goto out;

    n_owned = index_cloud(in, &cloud_id, &cloud_name, &own_ext, cflags);
    /* Only the copies of an id are looked for by id: its 6.7 MB at 1,000,000 users need not
     * stay for the rest of the plan, adc's peak. */
    adc_strindex_done(&cloud_id);
    classify_dir(in, &dir_ext, &dir_name, dstate);
    /* Entries the reader skipped still exist: their cloud users must not be taken as gone. */
    for (size_t k = 0; k < in->n_dir_skipped; k++) {
        const struct adc_skipped_entry *e = &in->dir_skipped[k];
        size_t ci = adc_strindex_get(&cloud_name, e->user_name);
        if (ci != ADC_STRINDEX_NONE)
            cflags[ci] |= CLOUD_PROTECTED;
        struct adc_plan_change *ch = add(&b, ADC_PLAN_SKIP, e->reason);
        if (!ch)
            goto out; /* r is still -ENOMEM */
        ch->user_name = e->user_name;
        ch->dn = e->dn;
    }

    for (size_t i = 0; i < in->n_dir; i++) {
        const struct adc_dir_user *d = &in->dir[i];
        if (dstate[i] == DIR_OK) {
            if ((r = plan_dir_user(&b, in, i, &own_ext, &cloud_name, &dir_ext, cflags)) < 0)
                goto out;
            continue;
        }
        if ((r = skip_dir_user(&b, d, dstate[i], &own_ext, &cloud_name, cflags)) < 0)
            goto out;
    }

    for (size_t i = 0; i < in->n_cloud; i++) {
        if ((cflags[i] & (CLOUD_OWNED | CLOUD_IGNORED | CLOUD_CLAIMED | CLOUD_PROTECTED)) !=
            CLOUD_OWNED)
            continue;
        if ((r = plan_leaver(&b, in, i)) < 0)
            goto out;
    }

    size_t n_guarded = 0;
    for (size_t i = 0; i < b.n; i++) {
        adc_plan_stats_count(&b.stats, &b.v[i]);
        if (b.v[i].op == ADC_PLAN_DELETE || b.v[i].op == ADC_PLAN_DISABLE)
            n_guarded++;
    }
    if (b.n > 1)
        qsort(b.v, b.n, sizeof(*b.v), compare_changes);
    /* Name order is not enough for renames that depend on each other: see plan-renames.c. */
    struct adc_plan_temp *temps = NULL;
    size_t n_temps = 0;
    if ((r = adc_plan_order_renames(&b.v, &b.n, in->cloud, in->n_cloud, &cloud_name, &dir_name,
                                    &temps, &n_temps)) < 0)
        goto out;

    *out = (struct adc_plan){
        .changes = TAKE_PTR(b.v),
        .n_changes = b.n,
        .stats = b.stats,
        .n_owned = n_owned,
        .n_guarded = n_guarded,
        .delete_limit = adc_plan_delete_limit(in->max_delete, n_owned),
        .temps = temps, /* owned by the plan now */
        .n_temps = n_temps,
        .texts = b.texts, /* owned by the plan now */
    };
    memset(&b.texts, 0, sizeof(b.texts));
    out->guard_tripped = n_guarded > out->delete_limit;
    r = 0;
out:
    free(b.v);
    adc_cloud_users_done(&b.texts);
    free(cflags);
    free(dstate);
    adc_strindex_done(&cloud_id);
    adc_strindex_done(&cloud_name);
    adc_strindex_done(&own_ext);
    adc_strindex_done(&dir_name);
    adc_strindex_done(&dir_ext);
    return r;
}

void adc_plan_done(struct adc_plan *p) {
    if (!p)
        return;
    free(p->changes);
    adc_plan_temps_free(p->temps, p->n_temps);
    adc_cloud_users_done(&p->texts);
    memset(p, 0, sizeof(*p));
}

static void append(char *buf, size_t size, size_t *len, const char *s) {
    if (*len >= size)
        return;
    int n = snprintf(buf + *len, size - *len, "%s", s);
    if (n > 0)
        *len += (size_t)n;
}

const char *adc_plan_change_describe(const struct adc_plan_change *c, char *buf, size_t size) {
    static const struct {
        unsigned field;
        const char *name;
    } names[] = {
        {ADC_FIELD_USER_NAME, "userName"},
        {ADC_FIELD_EXTERNAL_ID, "externalId"},
        {ADC_FIELD_DISPLAY_NAME, "displayName"},
        {ADC_FIELD_GIVEN_NAME, "givenName"},
        {ADC_FIELD_FAMILY_NAME, "familyName"},
        {ADC_FIELD_EMAIL, "email"},
        {ADC_FIELD_ACTIVE, "active"},
        {ADC_FIELD_PROVIDER, "provider"},
    };
    size_t len = 0;

    if (!size)
        return buf;
    buf[0] = '\0';
    if (c->reason)
        append(buf, size, &len, c->reason);
    else if (c->op == ADC_PLAN_CREATE && !c->active)
        append(buf, size, &len,
               c->dir && !(c->dir->flags & ADC_DIR_ACTIVE)
                   ? "disabled in the directory"
                   : "created disabled (create-as-disabled)");
    if (c->reason_detail) {
        append(buf, size, &len, " (");
        append(buf, size, &len, c->reason_detail);
        append(buf, size, &len, ")");
    }
    /* Duplicates share their name: only the DN says which entry a line is about. */
    if ((c->reason == R_DUP_NAME || c->reason == R_DUP_ID) && c->dn) {
        append(buf, size, &len, "; entry ");
        append(buf, size, &len, c->dn);
    }
    if (c->fields && c->op != ADC_PLAN_DISABLE) {
        append(buf, size, &len, len ? "; " : "");
        append(buf, size, &len, c->op == ADC_PLAN_SKIP ? "would change " : "changes ");
        bool first = true;
        for (size_t i = 0; i < ADC_ARRAY_SIZE(names); i++) {
            if (!(c->fields & names[i].field))
                continue;
            append(buf, size, &len, first ? "" : ", ");
            append(buf, size, &len, names[i].name);
            if (names[i].field == ADC_FIELD_ACTIVE)
                append(buf, size, &len, c->active ? "=true" : "=false");
            first = false;
        }
    }
    return buf;
}
