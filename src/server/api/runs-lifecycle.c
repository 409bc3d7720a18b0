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
#include "api/cluster.h"
#include "store/store-cluster.h"
#include "store/store-runs.h"

/* Records run_id failed inside the caller's write transaction: adc_run_fail's work. */
static int fail_in_transaction(struct adc_db *db, const char *run_id, const char *why) {
    struct adc_store_run run = {0};
    json_t *report = NULL;
    int r = adc_store_run_get(db, run_id, &run);
    if (r == 0 && adc_run_status_finished(run.status))
        r = -EALREADY;
    if (r < 0)
        goto out;
    json_t *errors = run.errors ? json_loads(run.errors, 0, NULL) : NULL;
    if (!json_is_array(errors)) {
        json_decref(errors);
        errors = json_array();
    }
    json_array_append_new(errors, json_string(why));
    report = json_pack("{s:s, s:o, s:I}", ADC_WIRE_STATUS, ADC_RUN_FAILED, ADC_WIRE_ERRORS, errors,
                       "error_count",
                       (json_int_t)(run.error_count + 1 > (int64_t)json_array_size(errors)
                                        ? run.error_count + 1
                                        : (int64_t)json_array_size(errors)));
    char reason[300];
    r = report && adc_run_apply_report(&run, report, reason, sizeof(reason)) == 0 ? 0 : -EIO;
    if (r == 0)
        r = adc_store_run_update(db, &run);
    if (r == 0)
        r = adc_store_audit(db, "server", "run.finish", run_id, why);
out:
    json_decref(report);
    adc_store_run_done(&run);
    return r;
}

int adc_run_fail(struct adc_store *store, const char *run_id, const char *why) {
    struct adc_db *db = adc_store_acquire(store);
    if (!db)
        return -EIO;
    int r = adc_db_begin(db, true);
    if (r == 0)
        r = fail_in_transaction(db, run_id, why);
    if (r == 0)
        r = adc_db_commit(db);
    else
        adc_db_rollback(db);
    if (r == 0)
        log_notice("run %s failed: %s", run_id, why);
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

/* Seconds without a heartbeat after which a run is failed (serve --run-timeout). */
static int run_timeout = ADC_RUN_HEARTBEAT_S;
/* When this process began watching heartbeats. */
static time_t process_start;

struct busy_ctx {
    char run_id[40];
    time_t now, oldest_start;
    /* The queued or running runs found stale, failed by adc_run_busy. */
    struct stale_run {
        char run_id[40];
        bool silent; /* no heartbeat (else: the server restarted under it) */
    } stale[4];
    size_t n_stale;
};

static time_t parse_time(const char *s) {
    struct tm tm = {0};
    if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm))
        return 0;
    return timegm(&tm);
}

static void note_stale(struct busy_ctx *c, const char *run_id, bool silent) {
    if (c->n_stale < ADC_ARRAY_SIZE(c->stale)) {
        snprintf(c->stale[c->n_stale].run_id, sizeof(c->stale[0].run_id), "%s", run_id);
        c->stale[c->n_stale++].silent = silent;
    }
}

static int find_busy(const struct adc_store_run *r, void *userdata) {
    struct busy_ctx *c = userdata;
    if (adc_run_status_finished(r->status))
        return 0;
    time_t updated = parse_time(r->updated[0] ? r->updated : r->created);
    if (updated && c->now - updated > run_timeout) {
        note_stale(c, r->run_id, true); /* its heartbeat stopped */
        return 0;
    }
    /* Not heard of since the oldest running server process started (this one, or with several
     * instances the oldest one alive, api/cluster.h): the servers were restarted under it
     * (killed in the middle of an import, say) and whatever ran it has not reported since.
     * Counting it would refuse the re-run that repairs the import for two minutes. */
    if (updated && updated < c->oldest_start) {
        note_stale(c, r->run_id, false);
        return 0;
    }
    if (!c->run_id[0]) /* the newest one */
        snprintf(c->run_id, sizeof(c->run_id), "%s", r->run_id);
    return 0;
}

int adc_run_busy(struct adc_db *db, const char *app_id, char run_id[static 40]) {
    struct busy_ctx busy = {.now = time(NULL), .oldest_start = process_start};
    time_t cluster_start = adc_cluster_oldest_start();
    if (cluster_start > 0 && cluster_start < busy.oldest_start)
        busy.oldest_start = cluster_start;
    int r = adc_store_run_list(db, app_id, 50, find_busy, &busy);
    if (r < 0)
        return r;
    if (busy.run_id[0]) {
        memcpy(run_id, busy.run_id, sizeof(busy.run_id));
        return 1;
    }
    /* The store keeps one queued or running run per configuration (a unique index, on every
     * instance of the database): a stale one ends here, in the transaction of the run that
     * replaces it, as the heartbeat reaper would have ended it a little later. */
    char why[240];
    for (size_t i = 0; i < busy.n_stale; i++) {
        if (busy.stale[i].silent)
            snprintf(why, sizeof(why),
                     "no heartbeat for %d seconds: adc imp or the agent running it stopped "
                     "(killed, or cut off from the server); a new sync of the configuration "
                     "started",
                     run_timeout);
        else
            snprintf(why, sizeof(why),
                     "adc-server restarted while the run was in progress, and no agent reported "
                     "on it since; a new sync of the configuration started");
        r = fail_in_transaction(db, busy.stale[i].run_id, why);
        if (r < 0 && r != -EALREADY)
            return r;
        log_notice("run %s failed: %s", busy.stale[i].run_id, why);
    }
    return 0;
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

/* A queued run whose command waits in the database (several instances on PostgreSQL,
 * api/cluster.h) is still deliverable: another instance may hold its agent. */
static bool queued_in_database(struct adc_store *store, const char *run_id) {
    if (adc_store_dialect(store) != ADC_SQL_POSTGRESQL)
        return false;
    struct adc_db *db = adc_store_acquire(store);
    bool p = db && adc_store_command_pending(db, run_id);
    adc_store_release(db);
    return p;
}

int adc_runs_recover_start(struct adc_store *store) {
    struct adc_db *db = adc_store_acquire(store);
    if (db) {
        adc_store_runs_unfinished(db, collect_unfinished, NULL);
        adc_store_release(db);
    }
    for (size_t i = 0; i < orphans.n; i++)
        if (orphans.list[i].queued && !queued_in_database(store, orphans.list[i].run_id))
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

/* ---- heartbeats ---- */

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop, started;
    pthread_t thread;
    struct adc_store *store;
} beat = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

struct silent {
    char (*ids)[40];
    size_t n, cap;
};

static int collect_silent(const struct adc_store_run *r, void *userdata) {
    struct silent *s = userdata;
    if (adc_grow_array(s->ids, s->cap, s->n, 8) < 0)
        return -ENOMEM;
    snprintf(s->ids[s->n++], sizeof(s->ids[0]), "%s", r->run_id);
    return 0;
}

static void fail_silent_runs(void) {
    time_t cutoff = time(NULL) - run_timeout;
    struct tm tm;
    char before[24];
    gmtime_r(&cutoff, &tm);
    strftime(before, sizeof(before), "%Y-%m-%dT%H:%M:%SZ", &tm);
    struct silent s = {0};
    struct adc_db *db = adc_store_acquire(beat.store);
    if (db)
        adc_store_runs_silent(db, before, collect_silent, &s);
    adc_store_release(db);
    char why[200];
    snprintf(why, sizeof(why),
             "no heartbeat for %d seconds: adc imp or the agent running it stopped (killed, or "
             "cut off from the server)",
             run_timeout);
    for (size_t i = 0; i < s.n; i++)
        adc_run_fail(beat.store, s.ids[i], why);
    free(s.ids);
}

static void *beat_main(void *userdata) {
    (void)userdata;
    /* Looks four times per timeout (at most every 10 s): a run fails within 1.25 timeouts. */
    int every = run_timeout / 4 < 10 ? (run_timeout / 4 > 0 ? run_timeout / 4 : 1) : 10;
    pthread_mutex_lock(&beat.lock);
    while (!beat.stop) {
        struct timespec at;
        clock_gettime(CLOCK_REALTIME, &at);
        at.tv_sec += every;
        pthread_cond_timedwait(&beat.cond, &beat.lock, &at);
        if (beat.stop)
            break;
        pthread_mutex_unlock(&beat.lock);
        fail_silent_runs();
        pthread_mutex_lock(&beat.lock);
    }
    pthread_mutex_unlock(&beat.lock);
    return NULL;
}

int adc_runs_heartbeat_start(struct adc_store *store, int timeout_s) {
    run_timeout = timeout_s > 0 ? timeout_s : ADC_RUN_HEARTBEAT_S;
    process_start = time(NULL);
    beat.store = store;
    beat.stop = false;
    int e = pthread_create(&beat.thread, NULL, beat_main, NULL);
    if (e != 0)
        return -e;
    beat.started = true;
    return 0;
}

void adc_runs_heartbeat_stop(void) {
    pthread_mutex_lock(&beat.lock);
    beat.stop = true;
    pthread_cond_broadcast(&beat.cond);
    pthread_mutex_unlock(&beat.lock);
    if (beat.started)
        pthread_join(beat.thread, NULL);
    beat.started = false;
}

int adc_run_heartbeat(struct adc_store *store, const char *run_id) {
    char now[24];
    adc_store_now(now);
    int r;
    struct adc_db *db = adc_store_begin_write(store, &r);
    if (db)
        r = adc_store_end_write(db, adc_store_run_touch(db, run_id, now));
    return r;
}
