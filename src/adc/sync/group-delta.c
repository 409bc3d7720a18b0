#include "sync/group-delta.h"

#include <errno.h>
#include <ldap.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cloud/scim-groups.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/macros.h"
#include "directory/ldap-source.h"
#include "sync/cloud-users.h"
#include "sync/delta-internal.h"
#include "sync/group-graph.h"
#include "sync/group-plan.h"
#include "sync/str-index.h"

/* Examples of members that are not synced, named in a change's summary. */
#define EXAMPLES 1

/* ---- talking to the directory and the cloud ---------------------------------------------------
 */

static void outcome_set(struct adc_delta_outcome *out, const char *fmt, ...) _printf_(2, 3);
static void outcome_set(struct adc_delta_outcome *out, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->summary, sizeof(out->summary), fmt, ap);
    va_end(ap);
}

static int cloud_errno(int r) { return r == -EACCES || r == -ENOMEM ? r : -EAGAIN; }

static int ensure_limits(struct adc_delta *d, char **err) {
    if (d->have_limits)
        return 0;
    int r = adc_scim_get_limits(d->client, &d->limits, err);
    if (r < 0)
        return cloud_errno(r);
    d->have_limits = true;
    return 0;
}

static size_t chunk_of(const struct adc_delta *d) {
    return d->limits.max_operations ? d->limits.max_operations : 1000;
}

/* The cloud id of group gi (looked up by externalId once). *foreign: another provider's. */
static int ensure_cloud_id(struct adc_delta *d, struct adc_graph_node *g, bool *foreign,
                           char **err) {
    *foreign = false;
    if (g->cloud_id)
        return 0;
    int r = adc_scim_find_group(d->client, d->app_id, g->ext, &g->cloud_id, NULL, foreign, err);
    return r < 0 ? cloud_errno(r) : 0;
}

/* The user entry dn (normalized) of the sync filter, or the user whose uid is "#value": its
 * externalId (a new string, NULL when it is not a user of the sync filter). */
static int user_identity(struct adc_delta *d, const char *m, char **ext, char **err) {
    const struct adc_ldap_config *cfg = &d->yaml->ldap;
    *ext = NULL;
    char *dn = NULL;
    int r;
    for (int attempt = 0;; attempt++) {
        if ((r = adc_delta_directory(d, err)) < 0)
            return -EAGAIN;
        if (m[0] != '#') {
            struct adc_entry_read e;
            r = adc_ldap_read_entry(cfg, d->ld, m, true, &e, err);
            if (r == 0) {
                if (e.found && !e.skipped && e.user.external_id &&
                    !(*ext = strdup(e.user.external_id)))
                    r = -ENOMEM;
                adc_entry_read_done(&e);
            }
        } else {
            /* memberUid names a user by uid: one search under base_dn within the sync filter. */
            struct berval v = {strlen(m + 1), (char *)m + 1}, esc = {0};
            if (ldap_bv2escaped_filter_value(&v, &esc) != 0)
                return -ENOMEM;
            char *filter = adc_strdup_printf(
                "(&%s(uid=%s))", cfg->filter ? cfg->filter : "(objectClass=inetOrgPerson)",
                esc.bv_val);
            ber_memfree(esc.bv_val);
            if (!filter)
                return -ENOMEM;
            char *attrs[] = {"1.1", NULL};
            LDAPMessage *res = NULL;
            struct timeval limit = {cfg->timeout > 0 ? cfg->timeout : 30, 0};
            int rc = ldap_search_ext_s(d->ld, cfg->base_dn ? cfg->base_dn : "", LDAP_SCOPE_SUBTREE,
                                       filter, attrs, 0, NULL, NULL, &limit, 2, &res);
            free(filter);
            LDAPMessage *e = rc == LDAP_SUCCESS ? ldap_first_entry(d->ld, res) : NULL;
            char *found = e ? ldap_get_dn(d->ld, e) : NULL;
            if (found && !(dn = strdup(found)))
                r = -ENOMEM;
            ldap_memfree(found);
            ldap_msgfree(res);
            r = rc == LDAP_SERVER_DOWN || rc == LDAP_TIMEOUT || rc == LDAP_CONNECT_ERROR ? -EIO : r;
            if (r == 0 && dn) {
                char *tmp = dn; /* now as a DN */
                dn = NULL;
                r = user_identity(d, tmp, ext, err);
                free(tmp);
                return r;
            }
        }
        if (r != -EIO && r != -ETIMEDOUT)
            return r;
        adc_delta_directory_lost(d);
        if (attempt == 1)
            return -EAGAIN;
        free(*err);
        *err = NULL;
    }
}

/* The cloud id of the user of this configuration with that externalId (NULL: none). */
static int user_cloud_id(struct adc_delta *d, const char *ext, char **id, char **err) {
    const char *attrs[] = {"externalId"}, *values[] = {ext};
    struct adc_cloud_users cloud;
    adc_cloud_users_init(&cloud);
    *id = NULL;
    int r = adc_scim_find_users(d->client, attrs, values, 1, &cloud, err);
    for (size_t i = 0; r == 0 && i < cloud.n && !*id; i++) {
        const struct adc_cloud_user *u = &cloud.items[i];
        char ext_buf[ADC_UUID_TEXT], id_buf[ADC_UUID_TEXT];
        const char *u_id = adc_cloud_user_id(u, id_buf);
        if (adc_streq(adc_cloud_user_provider(u), d->app_id) &&
            adc_streq(adc_cloud_user_external_id(u, ext_buf), ext) && u_id && !(*id = strdup(u_id)))
            r = -ENOMEM;
    }
    adc_cloud_users_done(&cloud);
    return r < 0 ? cloud_errno(r) : 0;
}

/* The cloud id and SCIM type of member m: a synced group, or a synced user. *id NULL: m is
 * not synced (outside the sync filter, not in the cloud, or gone). */
static int resolve(struct adc_delta *d, const char *m, char **id, const char **type, char **err) {
    struct adc_group_graph *gr = d->groups;
    *id = NULL;
    size_t gi = adc_graph_group_at(gr, m);
    if (gi != SIZE_MAX) {
        bool foreign;
        int r = ensure_cloud_id(d, &gr->v[gi], &foreign, err);
        if (r == 0 && gr->v[gi].cloud_id && !(*id = strdup(gr->v[gi].cloud_id)))
            r = -ENOMEM;
        *type = "Group";
        return r;
    }
    char *ext = NULL;
    int r = user_identity(d, m, &ext, err);
    if (r == 0 && ext)
        r = user_cloud_id(d, ext, id, err);
    free(ext);
    *type = "User";
    return r;
}

/* ---- the member writes of one group ------------------------------------------------------------
 */

struct writes {
    size_t added, removed, unresolved, bytes, groups;
    char example[160];
};

static void note_unresolved(struct writes *w, const char *m) {
    if (w->unresolved++ == 0)
        snprintf(w->example, sizeof(w->example), "%s", m[0] == '#' ? m + 1 : m);
}

/* Adds and removes members (as the graph names them) of the cloud group id: one PATCH of the
 * added ones and one of the removed ones, in chunks of maxOperations. */
static int write_members(struct adc_delta *d, const char *id, const char *const *add, size_t n_add,
                         const char *const *remove, size_t n_remove, struct writes *w, char **err) {
    size_t n = n_add > n_remove ? n_add : n_remove;
    char **ids = calloc(n + 1, sizeof(*ids));
    const char **types = calloc(n + 1, sizeof(*types));
    size_t k = 0;
    int r = ids && types ? 0 : -ENOMEM;
    for (size_t i = 0; r == 0 && i < n_add; i++) {
        if ((r = resolve(d, add[i], &ids[k], &types[k], err)) < 0)
            break;
        if (ids[k])
            k++;
        else
            note_unresolved(w, add[i]); /* reported, never invented */
    }
    if (r == 0 && k > 0) {
        r = adc_scim_group_add(d->client, id, (const char *const *)ids, types, k, chunk_of(d),
                               &w->bytes, err);
        r = r < 0 ? cloud_errno(r) : 0;
    }
    if (r == 0)
        w->added += k;
    for (size_t i = 0; ids && i < k; i++)
        free(ids[i]);
    k = 0;
    for (size_t i = 0; r == 0 && i < n_remove; i++) {
        /* A member that is gone from the directory was removed with its user (the server
         * removes a deleted user's memberships), or renamed: then its new DN is added. */
        if ((r = resolve(d, remove[i], &ids[k], &types[k], err)) < 0)
            break;
        if (ids[k])
            k++;
    }
    if (r == 0 && k > 0) {
        r = adc_scim_group_remove(d->client, id, (const char *const *)ids, k, chunk_of(d),
                                  &w->bytes, err);
        r = r < 0 ? cloud_errno(r) : 0;
    }
    if (r == 0)
        w->removed += k;
    for (size_t i = 0; ids && i < k; i++)
        free(ids[i]);
    free(ids);
    free(types);
    return r;
}

/* A group in the cloud whose members we do not know (not in the graph): its member ids against
 * the resolved wanted ones; both differences written. Costs one lookup per member. */
static int write_whole(struct adc_delta *d, const char *id, const char *const *want, size_t n_want,
                       struct writes *w, char **err) {
    char **have = NULL, **ids = calloc(n_want + 1, sizeof(*ids));
    const char **types = calloc(n_want + 1, sizeof(*types));
    const char **gone = NULL;
    size_t n_have = 0, k = 0, n_gone = 0;
    int r = ids && types ? adc_scim_group_member_ids(d->client, id, &have, &n_have, err) : -ENOMEM;
    r = r < 0 ? cloud_errno(r) : 0;
    for (size_t i = 0; r == 0 && i < n_want; i++) {
        if ((r = resolve(d, want[i], &ids[k], &types[k], err)) < 0)
            break;
        if (ids[k])
            k++;
        else
            note_unresolved(w, want[i]);
    }
    if (r == 0 && !(gone = calloc(n_have + 1, sizeof(*gone))))
        r = -ENOMEM;
    for (size_t i = 0; r == 0 && i < n_have; i++) {
        bool wanted = false;
        for (size_t j = 0; j < k && !wanted; j++) /* O(n x m): only for groups not in the graph */
            wanted = strcmp(have[i], ids[j]) == 0;
        if (!wanted)
            gone[n_gone++] = have[i];
    }
    if (r == 0 && k > 0)
        r = adc_scim_group_add(d->client, id, (const char *const *)ids, types, k, chunk_of(d),
                               &w->bytes, err);
    if (r == 0 && n_gone > 0)
        r = adc_scim_group_remove(d->client, id, gone, n_gone, chunk_of(d), &w->bytes, err);
    r = r < 0 ? cloud_errno(r) : 0;
    if (r == 0) {
        w->added += k;
        w->removed += n_gone;
    }
    for (size_t i = 0; ids && i < k; i++)
        free(ids[i]);
    free(ids);
    free(types);
    free(gone);
    adc_graph_strings_free(have, n_have);
    return r;
}

static bool groups_on(const struct adc_delta *d) { return d->yaml->ldap.groups_filter != NULL; }

static int graph_ensure(struct adc_delta *d) {
    if (d->groups)
        return 0;
    d->groups = calloc(1, sizeof(*d->groups));
    if (!d->groups || adc_graph_reindex(d->groups) < 0)
        return -ENOMEM;
    return 0;
}

/* ---- seeding -----------------------------------------------------------------------------------
 */

int adc_delta_groups_seed(struct adc_delta *d, char **err) {
    if (!groups_on(d))
        return 0;
    struct adc_group_read rd = {0};
    int r = adc_ldap_read_groups(&d->yaml->ldap, &rd, err);
    if (r < 0)
        return r;
    struct adc_group_graph *gr = calloc(1, sizeof(*gr));
    r = gr ? 0 : -ENOMEM;
    for (size_t i = 0; r == 0 && i < rd.n; i++) {
        struct adc_dir_group *g = &rd.groups[i];
        struct adc_graph_node node = {.ext = TAKE_PTR(g->external_id), .name = TAKE_PTR(g->name)};
        node.dn = adc_dn_normalize(g->dn);
        r = node.dn ? adc_graph_member_list((const char *const *)g->member_dns, g->n_member_dns,
                                            (const char *const *)g->member_uids, g->n_member_uids,
                                            &node.members, &node.n)
                    : -ENOMEM;
        /* Free the read's member values as we go: the graph's copies replace them. */
        adc_dir_group_members_free(g);
        if (r == 0)
            r = adc_graph_append(gr, &node);
        adc_graph_node_free(&node);
    }
    if (r == 0)
        r = adc_graph_reindex(gr);
    adc_group_read_done(&rd);
    if (r < 0) {
        adc_group_graph_free(gr);
        *err = strdup("out of memory");
        return r;
    }
    gr->seeded = true;
    adc_group_graph_free(d->groups);
    d->groups = gr;
    size_t n_members = 0;
    for (size_t i = 0; i < gr->n; i++)
        n_members += gr->v[i].n;
    log_info("live changes: %zu groups with %zu memberships kept for membership changes", gr->n,
             n_members);
    return 0;
}

bool adc_delta_groups_seeded(const struct adc_delta *d) { return d->groups && d->groups->seeded; }

void adc_delta_groups_size(const struct adc_delta *d, size_t *n_groups, size_t *n_members) {
    *n_groups = *n_members = 0;
    for (size_t i = 0; d->groups && i < d->groups->n; i++) {
        (*n_groups)++;
        *n_members += d->groups->v[i].n;
    }
}

/* ---- a changed group --------------------------------------------------------------------------
 */

static void summary_members(struct adc_delta_outcome *out, const char *verb, const char *name,
                            const struct writes *w, const char *extra) {
    char unres[240] = "";
    if (w->unresolved)
        snprintf(unres, sizeof(unres), "; %zu member%s not synced (e.g. %s)", w->unresolved,
                 w->unresolved == 1 ? "" : "s", w->example);
    outcome_set(out, "%s group '%s'%s: +%zu -%zu members in %zu group%s (%zu bytes)%s", verb, name,
                extra, w->added, w->removed, w->groups, w->groups == 1 ? "" : "s", w->bytes, unres);
}

/* The changed group at position gi now has members (owned: taken on success), dn and name.
 * created: the cloud group was created just now (empty). whole: the cloud group's members are
 * unknown (it was not in the graph). */
static int apply_change(struct adc_delta *d, size_t gi, char ***members, size_t *n_members,
                        char **dn, char **name, bool whole, struct adc_delta_outcome *out,
                        char **err) {
    struct adc_group_graph *gr = d->groups;
    bool flatten = d->yaml->ldap.groups_flatten;
    struct adc_graph_node *g = &gr->v[gi];
    size_t *aff = NULL, n_aff = 0;
    const char ***before = NULL, ***after = NULL;
    size_t *n_before = NULL, *n_after = NULL;
    struct writes w = {0};
    bool renamed = strcmp(g->name, *name) != 0, moved = strcmp(g->dn, *dn) != 0;
    /* With a new DN, the parents naming it by the old one or already by the new one. */
    int r = adc_graph_affected(gr, gi, moved ? *dn : NULL, flatten, &aff, &n_aff);
    if (r < 0)
        return r;
    before = calloc(n_aff + 1, sizeof(*before));
    after = calloc(n_aff + 1, sizeof(*after));
    n_before = calloc(n_aff + 1, sizeof(*n_before));
    n_after = calloc(n_aff + 1, sizeof(*n_after));
    if (r == 0 && (!before || !after || !n_before || !n_after))
        r = -ENOMEM;
    for (size_t i = 0; r == 0 && i < n_aff; i++)
        r = adc_graph_effective(gr, aff[i], flatten, &before[i], &n_before[i]);
    /* Swap the new state in (the old one is kept until the cloud accepted the change). */
    char **old_members = g->members, *old_dn = g->dn, *old_name = g->name;
    size_t old_n = g->n;
    /* The DN string is the index's key: swapped only when it changes (then reindexed). */
    g->members = *members, g->n = *n_members, g->name = *name;
    if (moved)
        g->dn = *dn;
    if (r == 0 && moved)
        r = adc_graph_reindex(gr);
    for (size_t i = 0; r == 0 && i < n_aff; i++)
        r = adc_graph_effective(gr, aff[i], flatten, &after[i], &n_after[i]);
    if (r < 0)
        goto rollback;
    const bool *set = d->settings.value;
    bool any = renamed || whole;
    for (size_t i = 0; i < n_aff && !any; i++) {
        const char **a, **b;
        size_t na, nb;
        if ((r = adc_graph_diff(after[i], n_after[i], before[i], n_before[i], &a, &na, &b, &nb)) <
            0)
            goto rollback;
        any = na || nb;
        free(a);
        free(b);
    }
    if (!any) {
        outcome_set(out, "group '%s': no member changes", g->name);
        goto commit;
    }
    if (set[ADC_SETTING_NO_UPDATE]) {
        outcome_set(out, "skip group '%s': no-update", g->name);
        goto rollback_ok;
    }
    if (set[ADC_SETTING_DRY_RUN]) {
        outcome_set(out, "dry run: would update group '%s'%s", g->name,
                    renamed ? " (renamed)" : "");
        goto rollback_ok;
    }
    if ((r = ensure_limits(d, err)) < 0)
        goto rollback;
    for (size_t i = 0; i < n_aff; i++) {
        struct adc_graph_node *a = &gr->v[aff[i]];
        bool foreign;
        if ((r = ensure_cloud_id(d, a, &foreign, err)) < 0)
            goto rollback;
        if (!a->cloud_id)
            continue; /* not in the cloud (refused by a setting, or another provider's) */
        if (aff[i] == gi && renamed) {
            if ((r = adc_scim_group_rename(d->client, a->cloud_id, a->name, err)) < 0) {
                r = cloud_errno(r);
                goto rollback;
            }
        }
        size_t before_w = w.added + w.removed;
        if (aff[i] == gi && whole) {
            r = write_whole(d, a->cloud_id, after[i], n_after[i], &w, err);
        } else {
            const char **add, **rem;
            size_t n_add, n_rem;
            if ((r = adc_graph_diff(after[i], n_after[i], before[i], n_before[i], &add, &n_add,
                                    &rem, &n_rem)) < 0)
                goto rollback;
            r = write_members(d, a->cloud_id, add, n_add, rem, n_rem, &w, err);
            free(add);
            free(rem);
        }
        if (r < 0)
            goto rollback;
        w.groups += w.added + w.removed > before_w;
    }
    out->wrote = renamed || w.added + w.removed > 0 || whole;
    summary_members(out, renamed ? "rename" : out->wrote ? "update" : "unchanged", g->name, &w, "");
    goto commit;
rollback_ok:
    r = 0;
rollback:
    g->members = old_members, g->n = old_n, g->dn = old_dn, g->name = old_name;
    if (moved && adc_graph_reindex(gr) < 0 && r == 0)
        r = -ENOMEM;
    goto out;
commit:
    *members = old_members, *n_members = old_n, *name = old_name;
    if (moved)
        *dn = old_dn;
    r = 0;
out:
    for (size_t i = 0; i < n_aff; i++) {
        free(before ? before[i] : NULL);
        free(after ? after[i] : NULL);
    }
    free(before);
    free(after);
    free(n_before);
    free(n_after);
    free(aff);
    return r;
}

/* A group not in the graph: created in the cloud (or found there), then added to the graph. */
static int new_group(struct adc_delta *d, const struct adc_dir_group *dg, char ***members,
                     size_t *n_members, char **dn, struct adc_delta_outcome *out, char **err) {
    struct adc_group_graph *gr = d->groups;
    char *id = NULL;
    bool foreign = false, created = false;
    int r = adc_scim_find_group(d->client, d->app_id, dg->external_id, &id, NULL, &foreign, err);
    if (r < 0)
        return cloud_errno(r);
    if (foreign && !id) { /* rule 3: not ours to write */
        outcome_set(out, "skip group '%s': a group of another provider has its externalId %s",
                    dg->name, dg->external_id);
        return 0;
    }
    const bool *set = d->settings.value;
    if (!id && set[ADC_SETTING_NO_CREATE]) {
        outcome_set(out, "skip group '%s': no-create", dg->name);
        return 0;
    }
    if (set[ADC_SETTING_DRY_RUN]) {
        outcome_set(out, "dry run: would %s group '%s'", id ? "update" : "create", dg->name);
        free(id);
        return 0;
    }
    if (!id) {
        if ((r = adc_scim_group_create(d->client, dg->name, dg->external_id, &id, err)) < 0)
            return cloud_errno(r);
        created = true;
    }
    /* Into the graph with no members, then the members as a change: the parents that name it
     * (with flatten) gain its users, and so does the group itself. */
    struct adc_graph_node node = {.ext = strdup(dg->external_id),
                                  .name = strdup(dg->name),
                                  .dn = strdup(*dn),
                                  .cloud_id = id};
    if (!node.ext || !node.name || !node.dn || adc_graph_append(gr, &node) < 0 ||
        adc_graph_reindex(gr) < 0) {
        adc_graph_node_free(&node);
        return -ENOMEM;
    }
    size_t gi = gr->n - 1;
    char *name = strdup(dg->name), *dn2 = strdup(*dn);
    r = name && dn2 ? apply_change(d, gi, members, n_members, &dn2, &name, !created, out, err)
                    : -ENOMEM;
    free(name);
    free(dn2);
    if (r < 0) {
        /* Still no members written: leave it out of the graph, so that the next attempt finds
         * it in the cloud (not in the graph) and writes them all. */
        adc_graph_node_free(&gr->v[gi]);
        gr->n--;
        adc_graph_reindex(gr);
        return r;
    }
    if (created) {
        char tail[sizeof(out->summary)];
        snprintf(tail, sizeof(tail), "%s", out->summary);
        outcome_set(out, "create group '%s' (%s)", dg->name, tail);
        out->wrote = true;
    }
    return 0;
}

/* What every change of a group starts with: an empty outcome, the server's settings and the
 * graph. 1: go on; 0: groups are not synced (nothing to do); <0: an error. */
static int group_change_begin(struct adc_delta *d, struct adc_delta_outcome *out, char **err) {
    memset(out, 0, sizeof(*out));
    if (!groups_on(d))
        return 0;
    if (!d->have_settings && adc_delta_begin(d, err) < 0)
        return -EAGAIN;
    int r = graph_ensure(d);
    return r < 0 ? r : 1;
}

int adc_delta_group(struct adc_delta *d, const struct adc_dir_group *dg,
                    struct adc_delta_outcome *out, char **err) {
    int r = group_change_begin(d, out, err);
    if (r <= 0)
        return r;
    char **members = NULL, *dn = adc_dn_normalize(dg->dn), *name = strdup(dg->name);
    size_t n = 0;
    r = dn && name ? adc_graph_member_list((const char *const *)dg->member_dns, dg->n_member_dns,
                                           (const char *const *)dg->member_uids, dg->n_member_uids,
                                           &members, &n)
                   : -ENOMEM;
    if (r == 0) {
        size_t gi = adc_graph_find(d->groups, dg->external_id);
        r = gi == SIZE_MAX ? new_group(d, dg, &members, &n, &dn, out, err)
                           : apply_change(d, gi, &members, &n, &dn, &name, false, out, err);
    }
    adc_graph_strings_free(members, n);
    free(dn);
    free(name);
    return r;
}

int adc_delta_group_members(struct adc_delta *d, const char *external_id, const char *const *added,
                            size_t n_added, const char *const *removed, size_t n_removed,
                            struct adc_delta_outcome *out, char **err) {
    memset(out, 0, sizeof(*out));
    size_t gi = adc_graph_find(d->groups, external_id);
    if (gi == SIZE_MAX)
        return -ENOENT;
    int r;
    if (!d->have_settings && (r = adc_delta_begin(d, err)) < 0)
        return -EAGAIN;
    struct adc_graph_node *g = &d->groups->v[gi];
    char **add = NULL, **rem = NULL, **members = NULL;
    size_t n_add = 0, n_rem = 0, n = 0;
    r = adc_graph_member_list(added, n_added, NULL, 0, &add, &n_add);
    if (r == 0)
        r = adc_graph_member_list(removed, n_removed, NULL, 0, &rem, &n_rem);
    if (r == 0 && !(members = calloc(g->n + n_add + 1, sizeof(*members))))
        r = -ENOMEM;
    /* members = (g's - removed) + added, merged in order. */
    size_t i = 0, j = 0;
    while (r == 0 && (i < g->n || j < n_add)) {
        int c = i == g->n ? 1 : j == n_add ? -1 : strcmp(g->members[i], add[j]);
        const char *m = c <= 0 ? g->members[i] : add[j];
        if (c <= 0)
            i++;
        if (c >= 0)
            j++;
        if (n_rem && bsearch(&m, rem, n_rem, sizeof(char *), adc_graph_cmp_str))
            continue;
        if (!(members[n++] = strdup(m)))
            r = -ENOMEM;
    }
    char *dn = g->dn ? strdup(g->dn) : NULL, *name = g->name ? strdup(g->name) : NULL;
    if (r == 0)
        r = dn && name ? apply_change(d, gi, &members, &n, &dn, &name, false, out, err) : -ENOMEM;
    adc_graph_strings_free(members, n);
    adc_graph_strings_free(add, n_add);
    adc_graph_strings_free(rem, n_rem);
    free(dn);
    free(name);
    return r;
}

int adc_delta_group_delete(struct adc_delta *d, const char *external_id,
                           struct adc_delta_outcome *out, char **err) {
    int r = group_change_begin(d, out, err);
    if (r <= 0)
        return r;
    struct adc_group_graph *gr = d->groups;
    size_t gi = adc_graph_find(gr, external_id);
    char *id = NULL, *cloud_name = NULL;
    bool foreign = false;
    if (gi != SIZE_MAX && gr->v[gi].cloud_id) {
        id = strdup(gr->v[gi].cloud_id);
        if (!id)
            return -ENOMEM;
    } else if ((r = adc_scim_find_group(d->client, d->app_id, external_id, &id, &cloud_name,
                                        &foreign, err)) < 0) {
        return cloud_errno(r);
    }
    const char *name = gi != SIZE_MAX ? gr->v[gi].name : cloud_name ? cloud_name : external_id;
    const bool *set = d->settings.value;
    if (!id && gi == SIZE_MAX)
        goto out; /* not a group of ours: nothing to say */
    if (id && set[ADC_SETTING_NO_DELETE]) {
        outcome_set(out, "skip deleting group '%s': no-delete", name);
        goto out;
    }
    if (id && (d->paused || !adc_delta_burst_allows(d, 1))) {
        adc_delta_burst_pause(d);
        out->paused = true;
        outcome_set(out, "held back delete group '%s': live deletes are paused until a full sync",
                    name);
        goto out;
    }
    if (set[ADC_SETTING_DRY_RUN]) {
        outcome_set(out, "dry run: would delete group '%s'", name);
        goto out;
    }
    struct writes w = {0};
    if (gi != SIZE_MAX && d->yaml->ldap.groups_flatten) {
        /* The groups that contained it lose its users (a dangling member DN is no group). */
        size_t *aff = NULL, n_aff = 0;
        if ((r = adc_graph_affected(gr, gi, NULL, true, &aff, &n_aff)) < 0)
            goto out;
        if ((r = ensure_limits(d, err)) < 0) {
            free(aff);
            goto out;
        }
        for (size_t i = 1; r == 0 && i < n_aff; i++) { /* aff[0] is the group itself */
            const char **b = NULL, **a = NULL, **add = NULL, **rem = NULL;
            size_t nb = 0, na = 0, n_add = 0, n_rem = 0;
            bool foreign2;
            r = adc_graph_effective(gr, aff[i], true, &b, &nb);
            gr->v[gi].gone = true;
            if (r == 0)
                r = adc_graph_reindex(gr);
            if (r == 0)
                r = adc_graph_effective(gr, aff[i], true, &a, &na);
            if (r == 0)
                r = adc_graph_diff(a, na, b, nb, &add, &n_add, &rem, &n_rem);
            if (r == 0)
                r = ensure_cloud_id(d, &gr->v[aff[i]], &foreign2, err);
            if (r == 0 && gr->v[aff[i]].cloud_id)
                r = write_members(d, gr->v[aff[i]].cloud_id, add, n_add, rem, n_rem, &w, err);
            gr->v[gi].gone = false;
            if (adc_graph_reindex(gr) < 0 && r == 0)
                r = -ENOMEM;
            free(a), free(b), free(add), free(rem);
        }
        free(aff);
        if (r < 0)
            goto out;
    }
    if (id && (r = adc_scim_group_delete(d->client, id, err)) < 0 && r != -ENOENT) {
        r = cloud_errno(r);
        goto out;
    }
    r = 0;
    if (id) {
        if ((r = adc_delta_burst_note(d, 1)) < 0)
            goto out;
        out->wrote = true;
        if (w.removed)
            outcome_set(out, "delete group '%s' (-%zu flattened members of its parents)", name,
                        w.removed);
        else
            outcome_set(out, "delete group '%s'", name);
    }
    if (gi != SIZE_MAX) {
        adc_graph_node_free(&gr->v[gi]);
        gr->v[gi] = gr->v[--gr->n];
        r = adc_graph_reindex(gr);
    }
out:
    free(id);
    free(cloud_name);
    return r;
}

/* ---- for delta.c ------------------------------------------------------------------------------
 */

static int read_group(struct adc_delta *d, const char *dn, bool in_scope, struct adc_dir_group *g,
                      bool *found, char **err) {
    for (int attempt = 0;; attempt++) {
        int r = adc_delta_directory(d, err);
        if (r == 0)
            r = adc_ldap_read_group(&d->yaml->ldap, d->ld, dn, in_scope, g, found, err);
        if (r != -EIO && r != -ETIMEDOUT)
            return r;
        adc_delta_directory_lost(d);
        if (attempt == 1)
            return -EAGAIN;
        free(*err);
        *err = NULL;
    }
}

int adc_group_delta_dn(struct adc_delta *d, const char *dn, bool in_scope, bool *was_group,
                       struct adc_delta_outcome *out, char **err) {
    (void)in_scope;
    struct adc_dir_group g;
    bool found = false;
    *was_group = false;
    int r = read_group(d, dn, true, &g, &found, err);
    if (r < 0 || !found)
        return r;
    *was_group = true;
    r = adc_delta_group(d, &g, out, err);
    adc_dir_group_done(&g);
    return r;
}

int adc_group_delta_left_scope(struct adc_delta *d, const char *dn, struct adc_delta_outcome *out,
                               char **err) {
    struct adc_dir_group g;
    bool found = false;
    int r = read_group(d, dn, false, &g, &found, err);
    if (r < 0 || !found)
        return r;
    if (adc_graph_find(d->groups, g.external_id) != SIZE_MAX)
        r = adc_delta_group_delete(d, g.external_id, out, err);
    adc_dir_group_done(&g);
    return r;
}

int adc_group_delta_user_created(struct adc_delta *d, const char *dn, const char *external_id,
                                 const char *user_name, struct adc_delta_outcome *out, char **err) {
    struct adc_group_graph *gr = d->groups;
    if (!gr || gr->n == 0)
        return 0;
    char *ndn = adc_dn_normalize(dn), *uid = NULL, *id = NULL;
    bool *in = calloc(gr->n + 1, sizeof(*in));
    size_t *list = calloc(gr->n + 1, sizeof(*list)), n = 0;
    int r = ndn && in && list ? 0 : -ENOMEM;
    if (r == 0 && strncmp(ndn, "uid=", 4) == 0)
        uid = adc_strdup_printf("#%.*s", (int)strcspn(ndn + 4, ",+"), ndn + 4);
    char *uname = user_name ? adc_strdup_printf("#%s", user_name) : NULL;
    for (size_t i = 0; r == 0 && i < gr->n; i++) {
        const struct adc_graph_node *g = &gr->v[i];
        if (adc_graph_has_member(g, ndn) || (uid && adc_graph_has_member(g, uid)) ||
            (uname && adc_graph_has_member(g, uname))) {
            in[i] = true;
            list[n++] = i;
        }
    }
    /* With flatten, the groups that contain those (the user is theirs through them). */
    for (size_t k = 0; r == 0 && d->yaml->ldap.groups_flatten && k < n; k++)
        for (size_t a = 0; a < gr->n; a++)
            if (!in[a] && !gr->v[a].gone && adc_graph_has_member(&gr->v[a], gr->v[list[k]].dn)) {
                in[a] = true;
                list[n++] = a;
            }
    if (r == 0 && n > 0 && !d->settings.value[ADC_SETTING_NO_UPDATE] &&
        !d->settings.value[ADC_SETTING_DRY_RUN]) {
        r = ensure_limits(d, err);
        if (r == 0)
            r = user_cloud_id(d, external_id, &id, err);
    }
    size_t joined = 0, bytes = 0;
    for (size_t k = 0; r == 0 && id && k < n; k++) {
        bool foreign;
        struct adc_graph_node *g = &gr->v[list[k]];
        if ((r = ensure_cloud_id(d, g, &foreign, err)) < 0 || !g->cloud_id)
            continue;
        const char *ids[] = {id}, *types[] = {"User"};
        r = adc_scim_group_add(d->client, g->cloud_id, ids, types, 1, 1, &bytes, err);
        r = r < 0 ? cloud_errno(r) : 0;
        joined += r == 0;
    }
    if (r == 0 && joined) {
        size_t len = strlen(out->summary);
        snprintf(out->summary + len, sizeof(out->summary) - len, "; joined %zu group%s", joined,
                 joined == 1 ? "" : "s");
    }
    free(ndn);
    free(uid);
    free(uname);
    free(id);
    free(in);
    free(list);
    return r;
}
