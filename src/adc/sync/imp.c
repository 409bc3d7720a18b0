#include "sync/imp.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/exit-codes.h"
#include "common/buf.h"
#include "common/json-util.h"
#include "common/log.h"
#include "common/macros.h"
#include "common/wire.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fail(struct adc_imp_result *r, int status, char *msg) {
    r->status = status;
    free(r->error);
    r->error = msg ? msg : strdup("out of memory");
}

static void failf(struct adc_imp_result *r, int status, const char *fmt, ...) _printf_(3, 4);
static void failf(struct adc_imp_result *r, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *m = adc_strdup_vprintf(fmt, ap);
    va_end(ap);
    fail(r, status, m);
}

/* The cloud listing runs beside the directory read: the two wait on different servers, and
 * the sum of both is most of a sync's time. Only this thread touches the client meanwhile. */
struct cloud_reader {
    struct adc_scim *client;
    struct adc_cloud_users *out;
    int r;
    char *err;
    double seconds;
};

static void *read_cloud(void *p) {
    struct cloud_reader *cr = p;
    double t0 = now_s();
    cr->r = adc_scim_list_users(cr->client, cr->out, NULL, NULL, &cr->err);
    cr->seconds = now_s() - t0;
    return NULL;
}

static bool report(const struct adc_imp_options *o, enum adc_imp_phase ph, size_t done,
                   size_t total) {
    return o->progress ? o->progress(o->userdata, ph, done, total) : true;
}

struct apply_progress {
    const struct adc_imp_options *opt;
};

static bool on_apply(void *ud, size_t done, size_t total) {
    struct apply_progress *ap = ud;
    return report(ap->opt, ADC_IMP_APPLY, done, total);
}

static void finish_run(struct adc_scim *client, struct adc_imp_result *r) {
    if (!r->run_id)
        return;
    json_t *stats = adc_imp_stats_json(&r->stats);
    if (stats && r->groups.have_plan && r->applied && !r->dry_run) {
        /* The groups' counts travel with the users' (the server shows them when reported). */
        const struct adc_group_sync *g = &r->groups;
        json_object_update_new(
            stats, json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "groups_created", (json_int_t)g->created,
                             "groups_updated", (json_int_t)g->updated, "groups_deleted",
                             (json_int_t)g->deleted, "groups_failed", (json_int_t)g->failed,
                             "members_added", (json_int_t)g->members_added, "members_removed",
                             (json_int_t)g->members_removed));
    }
    json_t *errors = adc_imp_errors_json(r, 100);
    const char *status = r->status == ADC_EXIT_OK || r->status == ADC_EXIT_PARTIAL
                             ? ADC_RUN_SUCCEEDED
                             : ADC_RUN_FAILED;
    _cleanup_free_ char *err = NULL;
    if (adc_agent_api_run_update(adc_scim_transport(client), r->run_id, status, stats, errors, NULL,
                                 true, &err) < 0)
        log_warning("could not record the run's result: %s", err ? err : "error");
    json_decref(stats);
    json_decref(errors);
}

/* The server's settings first: they decide whether this run may write at all. Then the run
 * record and, for a run that writes, the server's Bulk limits. Returns 0, or -1 after fail(). */
static int start_run(struct adc_scim *client, const struct adc_yaml_config *yaml,
                     const struct adc_imp_options *opt, struct adc_scim_limits *limits,
                     struct adc_imp_result *r) {
    struct adc_transport *t = adc_scim_transport(client);
    char *err = NULL;
    if (adc_agent_api_get_settings(t, &r->server, &err) < 0) {
        fail(r, ADC_EXIT_FAILURE, err);
        return -1;
    }
    adc_settings_merge(yaml->settings, r->server.settings, opt->dry_run, &r->settings);
    r->have_settings = true;
    r->dry_run = r->settings.value[ADC_SETTING_DRY_RUN];
    int k;
    if (opt->record_run &&
        (k = adc_agent_api_run_start(t, r->dry_run,
                                     opt->run_source ? opt->run_source : ADC_RUN_SOURCE_IMP,
                                     opt->agent_id, &r->run_id, &err)) < 0) {
        if (k == -EBUSY) {
            /* One sync per configuration at a time (docs/product.md section 11): nothing was
             * read or written. */
            failf(r, ADC_EXIT_BUSY,
                  "another sync of this configuration is in progress; nothing was changed: %s",
                  err ? err : "HTTP 409");
            free(err);
            return -1;
        }
        log_warning("could not record the run on the server: %s", err ? err : "error");
        free(err);
        err = NULL;
    }
    if (!r->dry_run && adc_scim_get_limits(client, limits, &err) < 0) {
        fail(r, ADC_EXIT_FAILURE, err);
        return -1;
    }
    return 0;
}

/* The directory and the cloud users, read at the same time (the cloud on a thread of its own).
 * Returns 0 when both are complete, or -1 after fail(): rule 5, no write of any kind after an
 * incomplete enumeration. */
static int read_both(struct adc_scim *client, const struct adc_yaml_config *yaml,
                     const struct adc_imp_options *opt, struct adc_imp_result *r) {
    _cleanup_free_ char *dir_err = NULL;
    report(opt, ADC_IMP_READ, 0, 0);
    struct cloud_reader cr = {.client = client, .out = &r->cloud};
    pthread_t th;
    bool threaded = pthread_create(&th, NULL, read_cloud, &cr) == 0;
    if (!threaded)
        read_cloud(&cr);
    double t0 = now_s();
    int dr = adc_ldap_read_users(&yaml->ldap, &r->dir, &dir_err);
    double t_dir = now_s() - t0;
    r->have_dir = dr >= 0;
    if (threaded)
        pthread_join(th, NULL);
    _cleanup_free_ char *cloud_err = cr.err;
    if (dr < 0) {
        failf(r, ADC_EXIT_FAILURE, "reading the directory failed, nothing was changed: %s",
              dir_err ? dir_err : strerror(-dr));
        return -1;
    }
    adc_read_result_warn_mixed_ids(&r->dir);
    if (cr.r < 0) {
        failf(r, ADC_EXIT_FAILURE, "reading the cloud users failed, nothing was changed: %s",
              cloud_err ? cloud_err : strerror(-cr.r));
        return -1;
    }
    report(opt, ADC_IMP_READ, r->cloud.n, r->cloud.n);
    log_info("read %zu directory users in %.2f s and %zu cloud users in %.2f s", r->dir.users.n,
             t_dir, r->cloud.n, cr.seconds);
    /* What the reads freed (pages of the listing and of the search, the parsers' scratch
     * space) is back to the system before the plan takes its indexes: the cloud reader's
     * thread had an arena of its own that the plan, on this thread, would never reuse.
     * About 10 MB of adc's peak at 1,000,000 users (docs/BENCHMARKS.md, issue 21). */
    malloc_trim(0);
    return 0;
}

/* The directory's groups, before the users: the read's largest message (a group's members in
 * one LDAP message, about 45 MB at 1,000,000) then comes before the users' 250 MB
 * (sync/group-sync.h; docs/BENCHMARKS.md, issue 21). Returns 0, or -1 after fail(). */
static int read_dir_groups(const struct adc_yaml_config *yaml, struct adc_imp_result *r) {
    _cleanup_free_ char *err = NULL;
    double t0 = now_s();
    int k = adc_group_sync_read_dir(&r->groups, &yaml->ldap, &err);
    if (k < 0) {
        failf(r, ADC_EXIT_FAILURE, "reading the groups failed, nothing was changed: %s",
              err ? err : strerror(-k));
        return -1;
    }
    log_info("read %zu directory groups in %.2f s", r->groups.dir.n, now_s() - t0);
    return 0;
}

/* The directory's groups and this configuration's cloud groups, planned: before the first write
 * too (rule 5: a broken read of the groups writes nothing). Returns 0, or -1 after fail(). */
static int read_groups(struct adc_scim *client, const struct adc_yaml_config *yaml,
                       const char *app_id, struct adc_imp_result *r) {
    _cleanup_free_ char *err = NULL;
    double t0 = now_s();
    int k = adc_group_sync_plan(&r->groups, &yaml->ldap, client, app_id, r->dir.users.items,
                                r->dir.users.n, &r->cloud, r->settings.value, &err);
    if (k < 0) {
        failf(r, ADC_EXIT_FAILURE, "reading the groups failed, nothing was changed: %s",
              err ? err : strerror(-k));
        return -1;
    }
    log_info("planned %zu directory groups against %zu cloud groups in %.2f s", r->groups.dir.n,
             r->groups.cloud.n, now_s() - t0);
    return 0;
}

/* After the users: the groups' writes (members may be users created just now). */
static void apply_groups(struct adc_scim *client, const struct adc_scim_limits *limits,
                         const char *app_id, struct adc_imp_result *r) {
    _cleanup_free_ char *err = NULL;
    double t0 = now_s();
    int k = adc_group_sync_apply(&r->groups, client, app_id, &r->cloud, &r->plan,
                                 r->applied ? &r->apply : NULL, limits->max_operations, &err);
    log_info("wrote the groups in %.2f s (%zu bytes of member changes)", now_s() - t0,
             r->groups.patch_bytes);
    if (k < 0)
        failf(r, ADC_EXIT_FAILURE, "writing the groups failed: %s", err ? err : strerror(-k));
    else if (r->groups.failed && r->status == ADC_EXIT_OK)
        r->status = ADC_EXIT_PARTIAL;
}

/* Computes the plan. Returns 1 when the run goes on to write, 0 when it ends here (a dry run:
 * r->status is set), or -1 after fail() (the guard tripped, or the caller said stop). */
static int plan_changes(const struct adc_yaml_config *yaml, const struct adc_imp_options *opt,
                        const char *app_id, struct adc_imp_result *r) {
    double t0 = now_s();
    struct adc_plan_input in = {
        .dir = r->dir.users.items,
        .n_dir = r->dir.users.n,
        .dir_skipped = r->dir.skipped,
        .n_dir_skipped = r->dir.n_skipped,
        .cloud = r->cloud.items,
        .n_cloud = r->cloud.n,
        .max_delete = yaml->max_delete,
        .app_id = app_id,
    };
    memcpy(in.settings, r->settings.value, sizeof(in.settings));
    if (adc_plan_build(&in, &r->plan) < 0) {
        fail(r, ADC_EXIT_FAILURE, NULL);
        return -1;
    }
    r->have_plan = true;
    r->stats = r->plan.stats;
    log_info("planned %zu changes in %.2f s", r->plan.n_changes, now_s() - t0);
    bool go_on = report(opt, ADC_IMP_PLAN, r->plan.n_changes, r->plan.n_changes);

    if (!r->plan.guard_tripped && r->groups.have_plan &&
        r->plan.n_guarded + r->groups.plan.deleted > r->plan.delete_limit) {
        /* Deleted groups count in the guard with deleted and disabled users. */
        failf(r, ADC_EXIT_GUARD,
              "stopped by the mass-delete guard: the plan deletes %zu groups and deletes or "
              "disables %zu users, more than max-delete allows (%zu); nothing was changed",
              r->groups.plan.deleted, r->plan.n_guarded, r->plan.delete_limit);
        return -1;
    }
    if (r->plan.guard_tripped) {
        failf(r, ADC_EXIT_GUARD,
              "stopped by the mass-delete guard: the plan deletes %zu and disables %zu of the "
              "%zu users of this configuration, more than max-delete allows (%zu); nothing was "
              "changed. Check the directory and the filter, or raise max-delete in adc.yaml",
              r->plan.stats.deleted, r->plan.n_guarded - r->plan.stats.deleted, r->plan.n_owned,
              r->plan.delete_limit);
        return -1;
    }
    if (r->dry_run) {
        r->status = ADC_EXIT_OK;
        return 0;
    }
    if (!go_on) {
        failf(r, ADC_EXIT_FAILURE, "stopped before the first write; nothing was changed");
        return -1;
    }
    return 1;
}

static void apply_changes(struct adc_scim *client, const struct adc_scim_limits *limits,
                          const struct adc_imp_options *opt, const char *app_id,
                          struct adc_imp_result *r) {
    struct apply_progress ap = {.opt = opt};
    _cleanup_free_ char *err = NULL;
    r->applied = true;
    double t0 = now_s();
    int k = adc_apply_plan(client, limits, &r->plan, app_id, on_apply, &ap, &r->apply, &err);
    log_info("wrote %zu changes in %.2f s", r->plan.n_changes - r->plan.stats.skipped,
             now_s() - t0);
    r->stats = r->apply.stats;
    if (k < 0)
        failf(r, ADC_EXIT_FAILURE, "writing to the cloud failed, the run is incomplete: %s",
              err ? err : strerror(-k));
    else if (r->apply.aborted)
        failf(r, ADC_EXIT_FAILURE, "stopped before all changes were written");
    else
        r->status = r->apply.n_failed ? ADC_EXIT_PARTIAL : ADC_EXIT_OK;
}

/* The run's heartbeat (docs/product.md section 11): adc-server fails a run whose record was
 * not updated for 2 minutes, so that a killed `adc imp` does not hold the configuration's next
 * sync back. A thread with a transport of its own reports "running" every HEARTBEAT_S while
 * the directory is read or the cloud written, which can take longer than that. */
#define HEARTBEAT_S 30

struct heartbeat {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool started, stop;
    struct adc_transport *t;
    const char *run_id;
};

static void *heartbeat_main(void *userdata) {
    struct heartbeat *hb = userdata;
    pthread_mutex_lock(&hb->lock);
    while (!hb->stop) {
        struct timespec at;
        clock_gettime(CLOCK_REALTIME, &at);
        at.tv_sec += HEARTBEAT_S;
        pthread_cond_timedwait(&hb->cond, &hb->lock, &at);
        if (hb->stop)
            break;
        pthread_mutex_unlock(&hb->lock);
        _cleanup_free_ char *err = NULL;
        if (adc_agent_api_run_update(hb->t, hb->run_id, ADC_RUN_RUNNING, NULL, NULL, NULL, false,
                                     &err) < 0)
            log_debug("run heartbeat: %s", err ? err : "failed");
        pthread_mutex_lock(&hb->lock);
    }
    pthread_mutex_unlock(&hb->lock);
    return NULL;
}

static void heartbeat_start(struct heartbeat *hb, const struct adc_service_config *service,
                            const char *run_id) {
    if (adc_transport_new(service, NULL, &hb->t, NULL) < 0)
        return;
    hb->run_id = run_id;
    pthread_mutex_init(&hb->lock, NULL);
    pthread_cond_init(&hb->cond, NULL);
    if (pthread_create(&hb->thread, NULL, heartbeat_main, hb) == 0) {
        hb->started = true;
        return;
    }
    pthread_mutex_destroy(&hb->lock);
    pthread_cond_destroy(&hb->cond);
    adc_transport_free(hb->t);
    hb->t = NULL;
}

static void heartbeat_stop(struct heartbeat *hb) {
    if (!hb->started)
        return;
    pthread_mutex_lock(&hb->lock);
    hb->stop = true;
    pthread_cond_signal(&hb->cond);
    pthread_mutex_unlock(&hb->lock);
    pthread_join(hb->thread, NULL);
    pthread_mutex_destroy(&hb->lock);
    pthread_cond_destroy(&hb->cond);
    adc_transport_free(hb->t);
    hb->started = false;
}

void adc_imp_run(const struct adc_yaml_config *yaml, const struct adc_service_config *service,
                 const struct adc_imp_options *opt, struct adc_imp_result *out) {
    struct adc_imp_result *r = out;
    struct heartbeat hb = {0};
    struct adc_scim *client = NULL;
    struct adc_scim_limits limits = {0};
    char *err = NULL;
    int k;

    memset(r, 0, sizeof(*r));
    adc_cloud_users_init(&r->cloud);
    r->status = ADC_EXIT_FAILURE;
    r->max_delete = yaml->max_delete;

    if ((k = adc_scim_new(service, &client, &err)) < 0) {
        fail(r, k == -EINVAL ? ADC_EXIT_CONFIG : ADC_EXIT_FAILURE, err);
        return;
    }
    if (start_run(client, yaml, opt, &limits, r) < 0)
        goto out;
    if (r->run_id)
        heartbeat_start(&hb, service, r->run_id);
    if (yaml->ldap.groups_filter && read_dir_groups(yaml, r) < 0)
        goto out;
    if (read_both(client, yaml, opt, r) < 0)
        goto out;
    const char *app_id = r->server.app_id ? r->server.app_id : service->app_id;
    if (yaml->ldap.groups_filter && read_groups(client, yaml, app_id, r) < 0)
        goto out;
    if (plan_changes(yaml, opt, app_id, r) > 0) {
        apply_changes(client, &limits, opt, app_id, r);
        if (r->groups.have_plan && r->status != ADC_EXIT_FAILURE)
            apply_groups(client, &limits, app_id, r);
    }
out:
    heartbeat_stop(&hb);
    finish_run(client, r);
    adc_scim_free(client);
}

void adc_imp_result_done(struct adc_imp_result *r) {
    if (!r)
        return;
    /* The plan and the apply result lend from the users: release them first. */
    adc_apply_result_done(&r->apply, r->plan.n_changes);
    adc_plan_done(&r->plan);
    if (r->have_dir)
        adc_read_result_done(&r->dir);
    adc_group_sync_done(&r->groups);
    adc_cloud_users_done(&r->cloud);
    adc_server_settings_done(&r->server);
    free(r->error);
    free(r->run_id);
    memset(r, 0, sizeof(*r));
}

size_t adc_imp_owned_after(const struct adc_imp_result *r) {
    if (!r->have_plan)
        return 0;
    size_t n = r->plan.n_owned;
    if (r->dry_run || !r->applied)
        return n;
    n += r->stats.created;
    return r->stats.deleted < n ? n - r->stats.deleted : 0;
}
