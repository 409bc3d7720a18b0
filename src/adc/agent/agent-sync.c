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

#include "cloud/agent-api.h"
#include "agent/agent-sync-engine.h"
#include "common/log.h"
#include "common/macros.h"
#include "common/wire.h"

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
    struct adc_transport *ch; /* the sync thread's own connection */
    struct timespec last_progress;
};

/* Reports the run; `final` reports are repeated through a short outage of the server or the
 * network (see sync_options), progress is sent once. Failures are logged, never fatal. */
static int put_run(struct adc_sync *s, const char *status, json_t *stats, json_t *errors,
                   json_t *progress, bool final) {
    _cleanup_free_ char *err = NULL;
    int r =
        adc_agent_api_run_update(s->ch, s->run_id, status, stats, errors, progress, final, &err);
    if (r < 0)
        log_warning("cannot report run %s as %s: %s", s->run_id, status, err ? err : strerror(-r));
    return r;
}

/* Between the repeats of a final report: none once the agent is stopping. */
static int check_cancel(void *userdata) {
    struct adc_sync *s = userdata;
    return atomic_load(&s->cancel) ? -ECANCELED : 0;
}

/* The final report is what keeps the run from looking "running" forever: 6 attempts 1, 2, 4,
 * 8, 8 s apart carry it through about half a minute of outage. */
static const struct adc_transport_options sync_options = {.max_attempts = 6, .backoff_ms = 1000};

static int open_transport(struct adc_sync *s, const struct adc_service_config *svc) {
    int r = adc_transport_new(svc, &sync_options, &s->ch, NULL);
    if (r == 0)
        adc_transport_set_retry_check(s->ch, check_cancel, s);
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
        put_run(s, ADC_RUN_RUNNING, NULL, NULL, progress, false);
        clock_gettime(CLOCK_MONOTONIC, &s->last_progress);
    }
    return !atomic_load(&s->cancel);
}

static void *sync_main(void *userdata) {
    struct adc_sync *s = userdata;
    json_t *stats = NULL, *errors = NULL;

    if (open_transport(s, s->cfg->service) < 0) {
        log_error("sync run %s: out of memory", s->run_id);
        goto out;
    }
    log_notice("sync run %s started%s", s->run_id, s->dry_run ? " (dry run)" : "");
    put_run(s, ADC_RUN_RUNNING, NULL, NULL, NULL, false);
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
    const char *status = r == 0 ? ADC_RUN_SUCCEEDED : ADC_RUN_FAILED;
    if (r == 0)
        log_notice("sync run %s succeeded", s->run_id);
    else
        log_error("sync run %s failed", s->run_id);
    put_run(s, status, stats, errors, NULL, true);
out:
    json_decref(stats);
    json_decref(errors);
    adc_transport_free(s->ch);
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
    /* A stand-in for a run that never started. Sent once: the main thread waits for it. */
    struct adc_sync s = {.run_id = (char *)run_id};
    atomic_init(&s.cancel, false);
    if (open_transport(&s, cfg->service) < 0)
        return;
    json_t *errors = json_pack("[s]", why);
    put_run(&s, ADC_RUN_FAILED, NULL, errors, NULL, false);
    json_decref(errors);
    adc_transport_free(s.ch);
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
