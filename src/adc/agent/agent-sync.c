#include "agent/agent-sync.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent-channel.h"
#include "agent/agent-sync-engine.h"
#include "common/log.h"
#include "common/macros.h"

/* Progress reports on long runs at most this often: enough for a live view in the console,
 * negligible next to the sync's own requests. */
#define PROGRESS_INTERVAL_MS 2000

struct adc_sync {
    struct adc_agent_config *cfg;
    char *run_id;
    bool dry_run;
    pthread_t thread;
    bool started;
    atomic_bool cancel;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    bool joined;
    struct adc_channel *ch; /* the sync thread's own client */
    struct timespec last_progress;
};

/* `progress` ({"phase","done","total"}) keeps the run record fresh on long runs; servers that
 * do not show it ignore it. */
static int put_run(struct adc_channel *ch, const char *run_id, const char *status, json_t *stats,
                   json_t *errors, json_t *progress) {
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/agent/runs/%s", run_id);
    json_t *body = json_pack("{s:s}", "status", status);
    if (!body)
        return -ENOMEM;
    if (stats)
        json_object_set(body, "stats", stats);
    if (errors)
        json_object_set(body, "errors", errors);
    if (progress)
        json_object_set(body, "progress", progress);
    struct adc_channel_reply rep;
    int r = adc_channel_request(ch, "PUT", path, body, 30, &rep);
    json_decref(body);
    if (r == 0 && (rep.status < 200 || rep.status >= 300)) {
        log_warning("the server answered %ld to the %s report of run %s", rep.status, status,
                    run_id);
        /* 5xx may pass; 4xx (unknown run, already ended, rejected secret) will not. */
        r = rep.status >= 500 ? -EAGAIN : -EPROTO;
    } else if (r < 0) {
        log_warning("cannot report run %s as %s: %s", run_id, status,
                    rep.error ? rep.error : "transfer failed");
    }
    adc_channel_reply_done(&rep);
    return r;
}

static long long ms_since(const struct timespec *t) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t->tv_sec) * 1000LL + (now.tv_nsec - t->tv_nsec) / 1000000;
}

/* Called by the engine between steps: reports progress now and then, and tells it to stop when
 * the agent is stopping. */
static bool on_progress(void *userdata, json_t *progress) {
    struct adc_sync *s = userdata;
    if (atomic_load(&s->cancel))
        return false;
    if (ms_since(&s->last_progress) >= PROGRESS_INTERVAL_MS) {
        put_run(s->ch, s->run_id, "running", NULL, NULL, progress);
        clock_gettime(CLOCK_MONOTONIC, &s->last_progress);
    }
    return !atomic_load(&s->cancel);
}

static void *sync_main(void *userdata) {
    struct adc_sync *s = userdata;
    json_t *stats = NULL, *errors = NULL;

    if (adc_channel_new(s->cfg->service, &s->ch) < 0) {
        log_error("sync run %s: out of memory", s->run_id);
        goto out;
    }
    log_notice("sync run %s started%s", s->run_id, s->dry_run ? " (dry run)" : "");
    put_run(s->ch, s->run_id, "running", NULL, NULL, NULL);
    clock_gettime(CLOCK_MONOTONIC, &s->last_progress);

    struct adc_sync_engine_params p = {
        .yaml = s->cfg->yaml,
        .service = s->cfg->service,
        .dry_run = s->dry_run,
        .progress = on_progress,
        .userdata = s,
    };
    int r = adc_sync_engine_run(&p, &stats, &errors);
    if (atomic_load(&s->cancel) && r != 0) {
        if (!errors)
            errors = json_array();
        json_array_append_new(errors, json_string("adc was stopped before the sync ended"));
    }
    const char *status = r == 0 ? "succeeded" : "failed";
    if (r == 0)
        log_notice("sync run %s succeeded", s->run_id);
    else
        log_error("sync run %s failed", s->run_id);
    /* The final report is what keeps the run from looking "running" forever: retried through
     * a short outage of the server or the network (about half a minute), not while stopping. */
    for (unsigned attempt = 0, delay = 1;; attempt++, delay *= 2) {
        int pr = put_run(s->ch, s->run_id, status, stats, errors, NULL);
        if (pr == 0 || pr == -EPROTO || attempt >= 5 || atomic_load(&s->cancel))
            break;
        sleep(delay > 8 ? 8 : delay);
    }
out:
    json_decref(stats);
    json_decref(errors);
    adc_channel_free(s->ch);
    s->ch = NULL;
    pthread_mutex_lock(&s->lock);
    s->done = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

int adc_sync_start(struct adc_agent_config *cfg, const char *run_id, bool dry_run,
                   struct adc_sync **ret) {
    struct adc_sync *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->run_id = strdup(run_id);
    if (!s->run_id) {
        free(s);
        return -ENOMEM;
    }
    s->cfg = adc_agent_config_ref(cfg);
    s->dry_run = dry_run;
    atomic_init(&s->cancel, false);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    int e = pthread_create(&s->thread, NULL, sync_main, s);
    if (e != 0) {
        adc_sync_free(s);
        return -e;
    }
    s->started = true;
    *ret = s;
    return 0;
}

bool adc_sync_running(struct adc_sync *s) {
    if (!s || !s->started)
        return false;
    pthread_mutex_lock(&s->lock);
    bool running = !s->done;
    pthread_mutex_unlock(&s->lock);
    return running;
}

void adc_sync_cancel(struct adc_sync *s) {
    if (s)
        atomic_store(&s->cancel, true);
}

bool adc_sync_wait(struct adc_sync *s, int timeout_ms) {
    if (!s || !s->started || s->joined)
        return true;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->lock);
    while (!s->done)
        if (pthread_cond_timedwait(&s->cond, &s->lock, &deadline) == ETIMEDOUT)
            break;
    bool done = s->done;
    pthread_mutex_unlock(&s->lock);
    if (done) {
        pthread_join(s->thread, NULL);
        s->joined = true;
    }
    return done;
}

void adc_sync_report_refused(struct adc_agent_config *cfg, const char *run_id, const char *why) {
    struct adc_channel *ch = NULL;
    if (adc_channel_new(cfg->service, &ch) < 0)
        return;
    json_t *errors = json_pack("[s]", why);
    put_run(ch, run_id, "failed", NULL, errors, NULL);
    json_decref(errors);
    adc_channel_free(ch);
}

void adc_sync_report_abandoned(struct adc_sync *s, const char *why) {
    log_error("sync run %s: %s", s->run_id, why);
    adc_sync_report_refused(s->cfg, s->run_id, why);
}

void adc_sync_free(struct adc_sync *s) {
    if (!s)
        return;
    if (s->started && !s->joined)
        pthread_join(s->thread, NULL);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    adc_agent_config_unref(s->cfg);
    free(s->run_id);
    free(s);
}
