/* Why this pass exists: the plan sorts updates by name, but adc-server checks userName
 * uniqueness after every write, not at the end of a Bulk request. When directory user A is
 * renamed to B's current cloud name while B is renamed too, A's PUT is refused (409) if it goes
 * first; when A and B swap names (or A, B, C rotate them) every PUT is refused in every run and
 * the sync never converges. So, after the sort: a rename comes after the rename that frees its
 * target name, and one member of each cycle first moves to a temporary name.
 *
 * The dependencies form simple paths and cycles only: a rename's target is held by at most one
 * cloud user (the server's uniqueness), and is the target of at most one rename (the plan skips
 * directory names used twice). The pass is O(n) in the number of updates and deterministic: a
 * rename with no dependency keeps its place in name order, a chain is pulled in front of its
 * first dependent, and a cycle is broken at its first member in name order.
 *
 * A step that fails (e.g. a user outside the plan holds a target name) fails the renames that
 * wait for it, as a 409 reported for those users; the next run, matching by externalId, takes
 * up where this one stopped, also a user left under its temporary name. */
#include "sync/plan-renames.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"

/* adc-server refuses a userName longer than this (bytes) or with control characters
 * (src/server/scim-attrs.h, ADC_SCIM_MAX_NAME_LEN). */
#define MAX_NAME_LEN 256
#define TEMP_PREFIX "adc-rename-"
/* Room left for the "-<n>" that makes a taken temporary name unique. */
#define SUFFIX_ROOM 11

enum { UNSEEN, ON_PATH, PLACED };

static bool is_rename(const struct adc_plan_change *c) {
    return c->op == ADC_PLAN_UPDATE && (c->fields & ADC_FIELD_USER_NAME) && c->dir && c->cloud &&
           adc_dir_user_name(c->dir) && *adc_dir_user_name(c->dir) && !c->temporary;
}

/* The externalId as is when it is short and plain (the usual entryUUID or objectGUID), else a
 * hash of it: a temporary name is always valid for the server and readable in the plan. */
static void temp_base(const char *ext, char *buf, size_t size) {
    size_t n = ext ? strlen(ext) : 0;
    bool plain = n > 0 && sizeof(TEMP_PREFIX) - 1 + n <= MAX_NAME_LEN - SUFFIX_ROOM;
    for (size_t i = 0; plain && i < n; i++) {
        char ch = ext[i];
        plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                ch == '-' || ch == '_' || ch == '.';
    }
    if (plain) {
        snprintf(buf, size, TEMP_PREFIX "%s", ext);
        return;
    }
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)ext[i];
        h *= 0x100000001b3ULL;
    }
    snprintf(buf, size, TEMP_PREFIX "%016llx", (unsigned long long)h);
}

static bool name_free(const char *s, const struct adc_strindex *cloud_name,
                      const struct adc_strindex *dir_name, const struct adc_strindex *temps) {
    return adc_strindex_get(cloud_name, s) == ADC_STRINDEX_NONE &&
           adc_strindex_get(dir_name, s) == ADC_STRINDEX_NONE &&
           adc_strindex_get(temps, s) == ADC_STRINDEX_NONE;
}

/* The temporary step of cycle member `c`: the cloud user as it is, under a userName no cloud
 * user, directory user or other temporary step has. */
static int make_temp(const struct adc_plan_change *c, const struct adc_strindex *cloud_name,
                     const struct adc_strindex *dir_name, struct adc_strindex *temp_ix,
                     struct adc_plan_temp *t, size_t k, struct adc_plan_change *out) {
    /* The base leaves room for the suffix: base + "-" + 10 digits fits MAX_NAME_LEN. */
    char base[MAX_NAME_LEN - SUFFIX_ROOM + 1], name[MAX_NAME_LEN + 1];
    char c_ext_buf[ADC_DIR_UUID_TEXT];
    const char *c_ext = adc_plan_change_external_id(c, c_ext_buf);
    temp_base(c_ext, base, sizeof(base));
    snprintf(name, sizeof(name), "%s", base);
    for (unsigned i = 2; !name_free(name, cloud_name, dir_name, temp_ix); i++)
        snprintf(name, sizeof(name), "%s-%u", base, i);

    memset(t, 0, sizeof(*t));
    /* The cloud side keeps no text of the attributes (sync/cloud-users.h): the step writes
     * the directory's, which the final update writes anyway, with the cloud user's identity
     * and state, so that only the name and those attributes move early. */
    struct adc_user v;
    char ext_buf[ADC_UUID_TEXT];
    char dir_ext_buf[ADC_DIR_UUID_TEXT];
    adc_dir_user_view(c->dir, &v, dir_ext_buf);
    v.user_name = name;
    v.external_id = (char *)adc_cloud_user_external_id(c->cloud, ext_buf); /* copied below */
    v.active = c->cloud->active;
    if (adc_dir_user_make_alone(&t->user, &v) < 0)
        return -ENOMEM;
    if (asprintf(&t->reason, "temporary userName to free '%s' for a rename cycle",
                 c->cloud->user_name ? c->cloud->user_name : "") < 0) {
        adc_dir_user_free_alone(&t->user);
        t->reason = NULL;
        return -ENOMEM;
    }
    const char *temp_name = adc_dir_user_name(&t->user);
    adc_strindex_put(temp_ix, temp_name, k);

    /* the step names the change's externalId (its user is the step's own) */
    if (!c->external_id && c_ext && !(t->external_id = strdup(c_ext))) {
        adc_dir_user_free_alone(&t->user);
        free(t->reason);
        t->reason = NULL;
        return -ENOMEM;
    }
    *out = *c;
    out->external_id = c->external_id ? c->external_id : t->external_id;
    out->dir = &t->user;
    out->user_name = temp_name;
    out->reason = t->reason;
    out->reason_detail = NULL;
    /* Only the name moves; a takeover already claims the user at this step. */
    out->fields = ADC_FIELD_USER_NAME | (c->fields & ADC_FIELD_PROVIDER);
    out->active = c->cloud->active;
    out->temporary = true;
    return 0;
}

void adc_plan_temps_free(struct adc_plan_temp *temps, size_t n) {
    if (!temps)
        return;
    for (size_t i = 0; i < n; i++) {
        adc_dir_user_free_alone(&temps[i].user);
        free(temps[i].reason);
        free(temps[i].external_id);
    }
    free(temps);
}

/* dep[i]: the update of u[0..m) that must come first because its cloud user holds i's target
 * name (ADC_STRINDEX_NONE: none). Compared ignoring case as the server does; a change of case
 * only depends on nothing. renamer[] (n_cloud entries) is scratch. Returns how many depend. */
static size_t find_dependencies(const struct adc_plan_change *u, size_t m,
                                const struct adc_cloud_user *cloud, size_t n_cloud,
                                const struct adc_strindex *cloud_name, size_t *renamer,
                                size_t *dep) {
    size_t n_dep = 0;
    for (size_t i = 0; i < n_cloud; i++)
        renamer[i] = ADC_STRINDEX_NONE;
    for (size_t i = 0; i < m; i++)
        if (is_rename(&u[i]))
            renamer[u[i].cloud - cloud] = i;
    for (size_t i = 0; i < m; i++) {
        dep[i] = ADC_STRINDEX_NONE;
        const struct adc_plan_change *c = &u[i];
        if (!is_rename(c))
            continue;
        size_t holder = adc_strindex_get(cloud_name, adc_dir_user_name(c->dir));
        if (holder == ADC_STRINDEX_NONE || &cloud[holder] == c->cloud)
            continue;
        if ((dep[i] = renamer[holder]) != ADC_STRINDEX_NONE)
            n_dep++;
    }
    return n_dep;
}

int adc_plan_order_renames(struct adc_plan_change **changes, size_t *n_changes,
                           const struct adc_cloud_user *cloud, size_t n_cloud,
                           const struct adc_strindex *cloud_name,
                           const struct adc_strindex *dir_name, struct adc_plan_temp **temps,
                           size_t *n_temps) {
    struct adc_plan_change *v = *changes, *out = NULL;
    size_t n = *n_changes, lo = 0, hi, n_ren = 0, n_dep = 0, nt = 0;
    size_t *renamer = NULL, *dep = NULL, *path = NULL;
    uint8_t *state = NULL;
    struct adc_plan_temp *t = NULL;
    struct adc_strindex temp_ix = {0};
    int r = -ENOMEM;

    *temps = NULL;
    *n_temps = 0;
    while (lo < n && v[lo].op < ADC_PLAN_UPDATE)
        lo++;
    for (hi = lo; hi < n && v[hi].op == ADC_PLAN_UPDATE; hi++)
        if (is_rename(&v[hi]))
            n_ren++;
    if (n_ren < 2)
        return 0;

    size_t m = hi - lo;
    if (!(renamer = malloc(n_cloud * sizeof(*renamer))) || !(dep = malloc(m * sizeof(*dep))))
        goto out;
    n_dep = find_dependencies(v + lo, m, cloud, n_cloud, cloud_name, renamer, dep);
    if (n_dep == 0) {
        r = 0;
        goto out;
    }

    /* Every cycle has two members at least: n_ren / 2 temporary steps at most. */
    size_t cap_t = n_ren / 2;
    if (!(state = calloc(m, 1)) || !(path = malloc(m * sizeof(*path))) ||
        !(out = malloc((n + cap_t) * sizeof(*out))) || !(t = calloc(cap_t, sizeof(*t))) ||
        adc_strindex_init(&temp_ix, cap_t, true) < 0)
        goto out;

    memcpy(out, v, lo * sizeof(*out));
    size_t w = lo;
    for (size_t i = 0; i < m; i++) {
        if (state[i] == PLACED)
            continue;
        /* Follow what i waits for until something already placed, nothing, or i's own path
         * again (a cycle). */
        size_t len = 0, x = i;
        while (x != ADC_STRINDEX_NONE && state[x] == UNSEEN) {
            state[x] = ON_PATH;
            path[len++] = x;
            x = dep[x];
        }
        size_t n_path = len;
        if (x != ADC_STRINDEX_NONE && state[x] == ON_PATH) {
            /* path[j] waits for path[j+1], and path[len-1] for path[c0] = x: move x out of
             * the way, place the rest of the cycle, then x under its final name. */
            size_t c0 = 0;
            while (path[c0] != x)
                c0++;
            if ((r = make_temp(&v[lo + x], cloud_name, dir_name, &temp_ix, &t[nt], nt, &out[w])) <
                0)
                goto out;
            nt++;
            w++;
            for (size_t j = len; j-- > c0 + 1;)
                out[w++] = v[lo + path[j]];
            out[w++] = v[lo + x];
            len = c0; /* what led into the cycle, if anything, comes after it */
        }
        /* path[len-1] waits for nothing unplaced: place the path backwards. */
        for (size_t j = len; j-- > 0;)
            out[w++] = v[lo + path[j]];
        for (size_t j = 0; j < n_path; j++)
            state[path[j]] = PLACED;
    }
    memcpy(out + w, v + hi, (n - hi) * sizeof(*out));
    w += n - hi;

    free(v);
    *changes = TAKE_PTR(out); /* owned by the plan now */
    *n_changes = w;
    if (nt) {
        *temps = TAKE_PTR(t);
        *n_temps = nt;
    }
    r = 0;
out:
    if (r < 0)
        adc_plan_temps_free(t, nt);
    else
        free(t); /* NULL when handed out, or empty */
    free(out);
    free(renamer);
    free(dep);
    free(path);
    free(state);
    adc_strindex_done(&temp_ix);
    return r;
}
