#include "sync/delta.h"

#include <errno.h>
#include <ldap.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cloud/agent-api.h"
#include "cloud/scim-client.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/macros.h"
#include "directory/ldap-conn.h"
#include "directory/ldap-source.h"
#include "sync/apply.h"
#include "sync/cloud-users.h"
#include "sync/delta-internal.h"
#include "sync/group-delta.h"
#include "sync/plan.h"
#include "sync/settings-merge.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int adc_delta_new(const struct adc_yaml_config *yaml, const struct adc_service_config *service,
                  struct adc_delta **ret, char **err) {
    struct adc_delta *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->yaml = yaml;
    d->service = service;
    int r = adc_scim_new(service, &d->client, err);
    if (r < 0) {
        free(d);
        return r;
    }
    *ret = d;
    return 0;
}

void adc_delta_free(struct adc_delta *d) {
    if (!d)
        return;
    adc_scim_free(d->client);
    adc_ldap_conn_close(d->ld);
    free(d->app_id);
    free(d->recent);
    adc_group_graph_free(d->groups);
    free(d);
}

int adc_delta_begin(struct adc_delta *d, char **err) {
    struct adc_server_settings server = {0};
    int r = adc_agent_api_get_settings(adc_scim_transport(d->client), &server, err);
    if (r < 0)
        return r;
    adc_settings_merge(d->yaml->settings, server.settings, false, &d->settings);
    d->have_settings = true;
    if (server.app_id && (!d->app_id || strcmp(d->app_id, server.app_id) != 0)) {
        free(d->app_id);
        d->app_id = strdup(server.app_id);
    }
    adc_server_settings_done(&server);
    if (!d->app_id && !(d->app_id = strdup(d->service->app_id)))
        return -ENOMEM;
    return 0;
}

void adc_delta_set_owned(struct adc_delta *d, size_t n_owned) { d->n_owned = n_owned; }

void adc_delta_resume_deletes(struct adc_delta *d) {
    if (d->paused)
        log_notice("live deletes resume: a full sync has judged the deletes");
    d->paused = false;
    d->n_recent = 0;
}

bool adc_delta_deletes_paused(const struct adc_delta *d) { return d->paused; }

void adc_delta_uuid_forms(const unsigned char u[16], char entry_uuid[37], char ns_unique_id[36]) {
    snprintf(entry_uuid, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
             u[14], u[15]);
    snprintf(ns_unique_id, 36,
             "%02x%02x%02x%02x-%02x%02x%02x%02x-%02x%02x%02x%02x-%02x%02x%02x%02x", u[0], u[1],
             u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
             u[15]);
}

/* The directory connection, opened (or opened again) as bind_dn. */
static int directory(struct adc_delta *d, char **err) {
    if (d->ld)
        return 0;
    const struct adc_ldap_config *cfg = &d->yaml->ldap;
    int timeout = cfg->timeout > 0 ? cfg->timeout : 30;
    char desc[64];
    snprintf(desc, sizeof(desc), "%d s (backend.ldap.timeout)", timeout);
    double deadline =
        adc_ldap_now() + timeout + (cfg->network_timeout > 0 ? cfg->network_timeout : 10);
    return adc_ldap_conn_open_service(cfg, deadline, timeout, desc, &d->ld, err);
}

/* Reads one entry; a lost connection is opened again once. */
static int read_entry(struct adc_delta *d, const char *dn, bool in_scope,
                      struct adc_entry_read *out, char **err) {
    for (int attempt = 0;; attempt++) {
        int r = directory(d, err);
        if (r == 0)
            r = adc_ldap_read_entry(&d->yaml->ldap, d->ld, dn, in_scope, out, err);
        if (r != -EIO && r != -ETIMEDOUT)
            return r;
        adc_ldap_conn_close(d->ld);
        d->ld = NULL;
        if (attempt == 1)
            return -EAGAIN;
        free(*err);
        *err = NULL;
    }
}

static bool owned(const struct adc_delta *d, const struct adc_cloud_user *c) {
    return adc_streq(adc_cloud_user_provider(c), d->app_id);
}

static void outcome_set(struct adc_delta_outcome *out, const char *fmt, ...) _printf_(2, 3);
static void outcome_set(struct adc_delta_outcome *out, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->summary, sizeof(out->summary), fmt, ap);
    va_end(ap);
}

/* Removes from the plan the changes a partial view must not make (see delta.h). */
static void drop_changes(struct adc_plan *p, enum adc_plan_op a, enum adc_plan_op b) {
    size_t k = 0;
    for (size_t i = 0; i < p->n_changes; i++) {
        if (p->changes[i].op == a || p->changes[i].op == b) {
            if (p->changes[i].op == ADC_PLAN_DELETE)
                p->stats.deleted--;
            else if (p->changes[i].op == ADC_PLAN_DISABLE)
                p->stats.disabled--;
            continue;
        }
        p->changes[k++] = p->changes[i];
    }
    p->n_changes = k;
}

/* The live mass-delete guard (rule 6): true when n more deletes fit in the window. */
static bool burst_allows(struct adc_delta *d, size_t n) {
    double now = now_s();
    size_t k = 0;
    for (size_t i = 0; i < d->n_recent; i++)
        if (now - d->recent[i] < ADC_DELTA_BURST_WINDOW)
            d->recent[k++] = d->recent[i];
    d->n_recent = k;
    size_t limit = adc_plan_delete_limit(d->yaml->max_delete, d->n_owned);
    return d->n_recent + n <= limit;
}

static int burst_note(struct adc_delta *d, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (adc_grow_array(d->recent, d->cap_recent, d->n_recent, 16) < 0)
            return -ENOMEM;
        d->recent[d->n_recent++] = now_s();
    }
    return 0;
}

/* Builds the plan of `dir` (0 or 1 user) against `cloud` and carries it out. */
static int run_plan(struct adc_delta *d, const struct adc_user *dir, size_t n_dir,
                    const struct adc_cloud_user *cloud, size_t n_cloud,
                    struct adc_delta_outcome *out, char **err) {
    /* The plan reads directory users in their compact form (common/user.h). */
    struct adc_dir_user one = {0};
    if (n_dir > 0 && adc_dir_user_make_alone(&one, dir) < 0)
        return -ENOMEM;
    struct adc_plan_input in = {
        .dir = &one,
        .n_dir = n_dir,
        .cloud = cloud,
        .n_cloud = n_cloud,
        /* The live guard is the burst window below; the plan's own is for whole syncs. */
        .max_delete = {.value = LONG_MAX},
        .app_id = d->app_id,
    };
    memcpy(in.settings, d->settings.value, sizeof(in.settings));
    struct adc_plan plan;
    struct adc_apply_result res = {0};
    int r = adc_plan_build(&in, &plan);
    if (r < 0) {
        adc_dir_user_free_alone(&one);
        return r;
    }
    if (n_dir > 0)
        drop_changes(&plan, ADC_PLAN_DELETE, ADC_PLAN_DISABLE);
    size_t n_deletes = plan.stats.deleted + plan.stats.disabled;
    const struct adc_plan_change *first = NULL;
    for (size_t i = 0; i < plan.n_changes && !first; i++)
        if (!plan.changes[i].temporary)
            first = &plan.changes[i];
    if (!first) {
        r = 0; /* nothing differs */
        goto out;
    }
    char why[200];
    adc_plan_change_describe(first, why, sizeof(why));
    const char *name = first->user_name ? first->user_name : first->dn ? first->dn : "?";
    if (first->op == ADC_PLAN_SKIP) {
        outcome_set(out, "skip '%s': %s", name, why);
        r = 0;
        goto out;
    }
    if (n_deletes > 0 && (d->paused || !burst_allows(d, n_deletes))) {
        if (!d->paused)
            log_warning("live deletes paused: more than max-delete (%zu) users deleted or "
                        "disabled within %d minutes; the next full sync judges them",
                        adc_plan_delete_limit(d->yaml->max_delete, d->n_owned),
                        ADC_DELTA_BURST_WINDOW / 60);
        d->paused = true;
        out->paused = true;
        outcome_set(out, "held back %s '%s': live deletes are paused until a full sync",
                    adc_plan_op_name(first->op), name);
        r = 0;
        goto out;
    }
    if (d->settings.value[ADC_SETTING_DRY_RUN]) {
        outcome_set(out, "dry run: would %s '%s'%s%s", adc_plan_op_name(first->op), name,
                    *why ? ": " : "", why);
        r = 0;
        goto out;
    }
    if (!d->have_limits) {
        if ((r = adc_scim_get_limits(d->client, &d->limits, err)) < 0) {
            r = -EAGAIN;
            goto out;
        }
        d->have_limits = true;
    }
    r = adc_apply_plan(d->client, &d->limits, &plan, d->app_id, NULL, NULL, &res, err);
    if (r < 0) {
        r = r == -EACCES ? r : -EAGAIN;
        goto out;
    }
    if (res.n_failed > 0) {
        for (size_t i = 0; i < plan.n_changes; i++)
            if (res.errors && res.errors[i])
                outcome_set(out, "%s '%s' failed: %s", adc_plan_op_name(plan.changes[i].op),
                            plan.changes[i].user_name ? plan.changes[i].user_name : name,
                            res.errors[i]);
        r = 0;
        goto out;
    }
    if (n_deletes > 0 && (r = burst_note(d, n_deletes)) < 0)
        goto out;
    out->wrote = true;
    out->created = first->op == ADC_PLAN_CREATE; /* its memberships follow either way */
    /* A create whose user was in the cloud already became a replace of it (apply.c). */
    bool existed = out->created && res.stats.created == 0;
    outcome_set(out, "%s '%s'%s%s",
                existed ? "update (it was in the cloud already)" : adc_plan_op_name(first->op),
                name, *why ? ": " : "", why);
    r = 0;
out:
    adc_apply_result_done(&res, plan.n_changes);
    adc_plan_done(&plan);
    adc_dir_user_free_alone(&one);
    return r;
}

int adc_delta_entry(struct adc_delta *d, const char *dn, bool in_scope,
                    struct adc_delta_outcome *out, char **err) {
    struct adc_entry_read e;
    struct adc_cloud_users cloud;
    struct adc_cloud_user *keep = NULL;
    int r;

    memset(out, 0, sizeof(*out));
    adc_cloud_users_init(&cloud);
    if (!d->have_settings && (r = adc_delta_begin(d, err)) < 0)
        return -EAGAIN;
    if (d->yaml->ldap.groups_filter) {
        /* A group entry (docs/product.md section 10) goes to group-delta.c. */
        bool was_group = false;
        if ((r = adc_group_delta_dn(d, dn, in_scope, &was_group, out, err)) < 0 || was_group)
            return r;
    }
    r = read_entry(d, dn, true, &e, err);
    if (r < 0)
        return r;
    if (!e.found && !in_scope) {
        /* Not (or no longer) in the sync filter: if it still exists, it left the scope, which
         * is a delete of its identity. */
        r = read_entry(d, dn, false, &e, err);
        if (r < 0)
            return r;
        if (e.found && !e.skipped && e.user.external_id) {
            r = adc_delta_delete_id(d, e.user.external_id, out, err);
            adc_entry_read_done(&e);
            return r;
        }
        adc_entry_read_done(&e);
        return d->yaml->ldap.groups_filter ? adc_group_delta_left_scope(d, dn, out, err) : 0;
    }
    if (!e.found) {
        r = 0; /* gone already, or outside the filter: a delete message says so */
        goto out;
    }
    if (e.skipped) {
        /* Rule 8: not a user; the cloud user it may map to stays as it is. */
        outcome_set(out, "skip %s: %s", dn, e.reason ? e.reason : "not a user");
        r = 0;
        goto out;
    }
    const char *attrs[] = {"externalId", "userName"};
    const char *values[] = {e.user.external_id, e.user.user_name};
    r = adc_scim_find_users(d->client, attrs, values, 2, &cloud, err);
    if (r < 0) {
        r = r == -EACCES ? r : -EAGAIN;
        goto out;
    }
    keep = calloc(cloud.n ? cloud.n : 1, sizeof(*keep));
    if (!keep) {
        r = -ENOMEM;
        goto out;
    }
    size_t n_keep = 0;
    for (size_t i = 0; i < cloud.n; i++) {
        const struct adc_cloud_user *c = &cloud.items[i];
        char ext_buf[ADC_UUID_TEXT];
        const char *c_ext = adc_cloud_user_external_id(c, ext_buf);
        bool other_of_ours =
            owned(d, c) && c_ext && *c_ext && !adc_streq(c_ext, e.user.external_id);
        if (other_of_ours) {
            if (c->user_name && strcasecmp(c->user_name, e.user.user_name) == 0) {
                outcome_set(out,
                            "skip '%s': the name belongs to another user of this configuration "
                            "(externalId %s) until that one is renamed; the next full sync "
                            "settles it",
                            e.user.user_name, c_ext);
                r = 0;
                goto out;
            }
            continue;
        }
        keep[n_keep++] = *c; /* shallow: strings stay in `cloud` */
    }
    r = run_plan(d, &e.user, 1, keep, n_keep, out, err);
    if (r == 0 && out->created && d->yaml->ldap.groups_filter)
        r = adc_group_delta_user_created(d, dn, e.user.external_id, e.user.user_name, out, err);
out:
    free(keep);
    adc_cloud_users_done(&cloud);
    adc_entry_read_done(&e);
    return r;
}

int adc_delta_delete_id(struct adc_delta *d, const char *external_id, struct adc_delta_outcome *out,
                        char **err) {
    const char *values[] = {external_id};
    const char *attrs[] = {"externalId"};
    struct adc_cloud_users cloud;
    int r;
    memset(out, 0, sizeof(*out));
    if (!d->have_settings && (r = adc_delta_begin(d, err)) < 0)
        return -EAGAIN;
    adc_cloud_users_init(&cloud);
    r = adc_scim_find_users(d->client, attrs, values, 1, &cloud, err);
    if (r < 0) {
        adc_cloud_users_done(&cloud);
        return r == -EACCES ? r : -EAGAIN;
    }
    /* Only this configuration's users can leave with its directory entry (rule 3). */
    size_t k = 0;
    for (size_t i = 0; i < cloud.n; i++) {
        char ext_buf[ADC_UUID_TEXT];
        if (owned(d, &cloud.items[i]) &&
            adc_streq(adc_cloud_user_external_id(&cloud.items[i], ext_buf), external_id))
            cloud.items[k++] = cloud.items[i];
    }
    r = k ? run_plan(d, NULL, 0, cloud.items, k, out, err) : 0;
    adc_cloud_users_done(&cloud);
    if (r == 0 && k == 0 && d->yaml->ldap.groups_filter)
        r = adc_delta_group_delete(d, external_id, out, err); /* not a user: a group? */
    return r;
}

int adc_delta_delete_uuid(struct adc_delta *d, const unsigned char uuid[16],
                          struct adc_delta_outcome *out, char **err) {
    char a[37], b[36];
    adc_delta_uuid_forms(uuid, a, b);
    const char *values[] = {a, b};
    const char *attrs[] = {"externalId", "externalId"};
    struct adc_cloud_users cloud;
    int r;
    memset(out, 0, sizeof(*out));
    if (!d->have_settings && (r = adc_delta_begin(d, err)) < 0)
        return -EAGAIN;
    adc_cloud_users_init(&cloud);
    r = adc_scim_find_users(d->client, attrs, values, 2, &cloud, err);
    if (r < 0) {
        adc_cloud_users_done(&cloud);
        return r == -EACCES ? r : -EAGAIN;
    }
    size_t k = 0;
    for (size_t i = 0; i < cloud.n; i++) {
        const struct adc_cloud_user *c = &cloud.items[i];
        char ext_buf[ADC_UUID_TEXT];
        const char *c_ext = adc_cloud_user_external_id(c, ext_buf);
        if (owned(d, c) && (adc_streq(c_ext, a) || adc_streq(c_ext, b)))
            cloud.items[k++] = *c;
    }
    r = k ? run_plan(d, NULL, 0, cloud.items, k, out, err) : 0;
    adc_cloud_users_done(&cloud);
    if (r == 0 && k == 0 && d->yaml->ldap.groups_filter) {
        /* Not a user: a group, by either form of the UUID. */
        if ((r = adc_delta_group_delete(d, a, out, err)) == 0 && !out->wrote && !out->summary[0])
            r = adc_delta_group_delete(d, b, out, err);
    }
    return r;
}

/* ---- for group-delta.c (delta-internal.h) ---------------------------------------------------- */

int adc_delta_directory(struct adc_delta *d, char **err) { return directory(d, err); }

void adc_delta_directory_lost(struct adc_delta *d) {
    adc_ldap_conn_close(d->ld);
    d->ld = NULL;
}

bool adc_delta_burst_allows(struct adc_delta *d, size_t n) { return burst_allows(d, n); }

int adc_delta_burst_note(struct adc_delta *d, size_t n) { return burst_note(d, n); }

void adc_delta_burst_pause(struct adc_delta *d) {
    if (!d->paused)
        log_warning("live deletes paused: more than max-delete (%zu) users and groups deleted or "
                    "disabled within %d minutes; the next full sync judges them",
                    adc_plan_delete_limit(d->yaml->max_delete, d->n_owned),
                    ADC_DELTA_BURST_WINDOW / 60);
    d->paused = true;
}
