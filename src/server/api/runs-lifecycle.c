/* Runs that end without their agent's report, and the recovery after a restart
 * (runs-lifecycle.h). */
#include "api/runs-lifecycle.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "api/runs.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/macros.h"
#include "common/wire.h"
#include "store/store-runs.h"

int adc_run_fail(struct adc_store *store, const char *run_id, const char *why) {
    struct adc_db *db = adc_store_acquire(store);
    if (!db)
        return -EIO;
    struct adc_store_run run = {0};
    json_t *report = NULL;
    int r = adc_db_begin(db, true);
    if (r < 0)
        goto out;
    r = adc_store_run_get(db, run_id, &run);
    if (r == 0 && adc_run_status_finished(run.status))
        r = -EALREADY;
    if (r < 0) {
        adc_db_rollback(db);
        goto out;
    }
    json_t *errors = run.errors ? json_loads(run.errors, 0, NULL) : NULL;
    if (!json_is_array(errors)) {
        json_decref(errors);
        errors = json_array();
    }
    json_array_append_new(errors, json_string(why));
    report = json_pack("{s:s, s:o, s:I}", "status", ADC_RUN_FAILED, "errors", errors, "error_count",
                       (json_int_t)(run.error_count + 1 > (int64_t)json_array_size(errors)
                                        ? run.error_count + 1
                                        : (int64_t)json_array_size(errors)));
    char reason[300];
    r = report && adc_run_apply_report(&run, report, reason, sizeof(reason)) == 0 ? 0 : -EIO;
    if (r == 0)
        r = adc_store_run_update(db, &run);
    if (r == 0)
        r = adc_store_audit(db, "server", "run.finish", run_id, why);
    if (r == 0)
        r = adc_db_commit(db);
    else
        adc_db_rollback(db);
    if (r == 0)
        log_notice("run %s failed: %s", run_id, why);
out:
    json_decref(report);
    adc_store_run_done(&run);
    adc_store_release(db);
    return r;
}

void adc_run_taken(struct adc_store *store, const char *run_id, const char *agent_id) {
    struct adc_db *db = adc_store_acquire(store);
    if (!db)
        return;
    char now[24];
    adc_store_now(now);
    if (adc_db_begin(db, true) == 0) {
        if (adc_store_run_set_agent(db, run_id, agent_id, now) == 0)
            adc_db_commit(db);
        else
            adc_db_rollback(db);
    }
    adc_store_release(db);
}

struct busy_ctx {
    char run_id[40];
    time_t now;
};

static time_t parse_time(const char *s) {
    struct tm tm = {0};
    if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm))
        return 0;
    return timegm(&tm);
}

static int find_busy(const struct adc_store_run *r, void *userdata) {
    struct busy_ctx *c = userdata;
    if (adc_run_status_finished(r->status))
        return 0;
    time_t updated = parse_time(r->updated[0] ? r->updated : r->created);
    if (updated && c->now - updated > ADC_RUN_STALE_S)
        return 0;
    if (!c->run_id[0]) /* the newest one */
        snprintf(c->run_id, sizeof(c->run_id), "%s", r->run_id);
    return 0;
}

int adc_run_busy(struct adc_db *db, const char *app_id, char run_id[static 40]) {
    struct busy_ctx busy = {.now = time(NULL)};
    int r = adc_store_run_list(db, app_id, 50, find_busy, &busy);
    if (r < 0)
        return r;
    if (!busy.run_id[0])
        return 0;
    memcpy(run_id, busy.run_id, sizeof(busy.run_id));
    return 1;
}

/* The grace a running run of a previous process gets before it fails unless its record moved. */
#define ORPHAN_GRACE_S 60

struct orphan {
    char run_id[40];
    char updated[24];
    bool queued;
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop;
    bool started;
    pthread_t thread;
    struct adc_store *store;
    struct orphan *list;
    size_t n, cap;
} orphans = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

/* `adc imp` runs belong to no agent (imp reports them itself): the store leaves them out. */
static int collect_unfinished(const struct adc_store_run *r, void *userdata) {
    (void)userdata;
    if (adc_grow_array(orphans.list, orphans.cap, orphans.n, 16) < 0)
        return -ENOMEM;
    struct orphan *o = &orphans.list[orphans.n++];
    snprintf(o->run_id, sizeof(o->run_id), "%s", r->run_id);
    snprintf(o->updated, sizeof(o->updated), "%s", r->updated);
    o->queued = adc_streq(r->status, ADC_RUN_QUEUED);
    return 0;
}

static void *orphan_main(void *userdata) {
    (void)userdata;
    struct timespec at;
    clock_gettime(CLOCK_REALTIME, &at);
    at.tv_sec += ORPHAN_GRACE_S;
    pthread_mutex_lock(&orphans.lock);
    while (!orphans.stop)
        if (pthread_cond_timedwait(&orphans.cond, &orphans.lock, &at) == ETIMEDOUT)
            break;
    bool stop = orphans.stop;
    pthread_mutex_unlock(&orphans.lock);
    for (size_t i = 0; i < orphans.n && !stop; i++) {
        struct orphan *o = &orphans.list[i];
        if (o->queued)
            continue;
        struct adc_db *db = adc_store_acquire(orphans.store);
        struct adc_store_run run = {0};
        bool moved = true;
        if (db && adc_store_run_get(db, o->run_id, &run) == 0)
            moved = adc_run_status_finished(run.status) || strcmp(run.updated, o->updated) != 0;
        adc_store_run_done(&run);
        adc_store_release(db);
        if (!moved)
            adc_run_fail(
                orphans.store, o->run_id,
                "adc-server restarted while the run was in progress, and no agent reported "
                "on it since");
    }
    return NULL;
}

int adc_runs_recover_start(struct adc_store *store) {
    struct adc_db *db = adc_store_acquire(store);
    if (db) {
        adc_store_runs_unfinished(db, collect_unfinished, NULL);
        adc_store_release(db);
    }
    for (size_t i = 0; i < orphans.n; i++)
        if (orphans.list[i].queued)
            adc_run_fail(store, orphans.list[i].run_id,
                         "adc-server restarted before an agent took the run");
    orphans.store = store;
    orphans.stop = false;
    if (orphans.n > 0 && pthread_create(&orphans.thread, NULL, orphan_main, NULL) == 0)
        orphans.started = true;
    return 0;
}

void adc_runs_recover_stop(void) {
    pthread_mutex_lock(&orphans.lock);
    orphans.stop = true;
    pthread_cond_broadcast(&orphans.cond);
    pthread_mutex_unlock(&orphans.lock);
}

void adc_runs_recover_free(void) {
    adc_runs_recover_stop();
    if (orphans.started)
        pthread_join(orphans.thread, NULL);
    orphans.started = false;
    free(orphans.list);
    orphans.list = NULL;
    orphans.n = orphans.cap = 0;
}
