#include "agent/agent-live.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/exit-codes.h"
#include "cloud/agent-api.h"
#include "cloud/transport.h"
#include "common/log.h"
#include "common/macros.h"
#include "common/wire.h"
#include "sync/delta.h"
#include "sync/group-delta.h"
#include "sync/imp.h"
#include "watch/live-state.h"
#include "watch/watch.h"

/* The status report to the server: at most this often while changes flow. */
#define REPORT_INTERVAL_MS 1000
/* Waits between attempts when the directory or the cloud is unreachable. */
#define RETRY_MIN_MS 1000
#define RETRY_MAX_MS 60000

struct adc_live {
    struct adc_agent_config *cfg;
    pthread_t thread;
    atomic_bool stop;
    enum adc_watch kind;
    struct adc_delta *delta;
    struct adc_transport *t; /* status reports */
    /* State of this run of the watcher. */
    bool baseline_ok; /* a full sync ran since the position we hold: positions may be saved */
    size_t n_owned;
    /* What the console shows. */
    unsigned long long applied;
    char last_change[300];
    const char *state; /* streaming | paused | error | stopped */
    char detail[300];
    bool dirty;
    struct timespec last_report;
    /* From other threads (adc_live_full_sync_done). */
    atomic_bool full_sync_done;
    atomic_size_t full_sync_owned;
};

/* The running live thread, for adc_live_full_sync_done (one per process). */
static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static struct adc_live *current;
/* The agent's id (adc_live_set_agent_id), under current_lock; empty until connected. */
static char agent_id[64];
/* How long a startup full sync waits for the agent to connect, so that its run names the agent
 * (the run is created on the same server: before the connect it would fail anyway). */
#define AGENT_ID_WAIT_MS 10000

static long long ms_since(const struct timespec *t) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t->tv_sec) * 1000LL + (now.tv_nsec - t->tv_nsec) / 1000000;
}

static void report(struct adc_live *l, bool now) {
    if (!l->dirty || (!now && ms_since(&l->last_report) < REPORT_INTERVAL_MS))
        return;
    json_t *body =
        json_pack("{s:s, s:s, s:I}", ADC_WIRE_WATCH, adc_watch_name(l->kind), ADC_WIRE_STATE,
                  l->state, ADC_WIRE_CHANGES_APPLIED, (json_int_t)l->applied);
    if (body && l->last_change[0])
        json_object_set_new(body, ADC_WIRE_LAST_CHANGE, json_string(l->last_change));
    if (body && l->detail[0])
        json_object_set_new(body, ADC_WIRE_DETAIL, json_string(l->detail));
    int st = body ? adc_agent_api_put_live(l->t, body) : -ENOMEM;
    if (st >= 200 && st < 300)
        l->dirty = false;
    else if (st == 404 || st == 405)
        l->dirty = false; /* an older server: it does not show live changes */
    json_decref(body);
    clock_gettime(CLOCK_MONOTONIC, &l->last_report);
}

static void set_state(struct adc_live *l, const char *state, const char *detail) {
    if (l->state != state || strcmp(l->detail, detail ? detail : "") != 0) {
        l->state = state;
        snprintf(l->detail, sizeof(l->detail), "%s", detail ? detail : "");
        l->dirty = true;
    }
}

/* Changes from other threads: a full sync finished. */
static void take_full_sync(struct adc_live *l) {
    if (!atomic_exchange(&l->full_sync_done, false))
        return;
    l->n_owned = atomic_load(&l->full_sync_owned);
    adc_delta_set_owned(l->delta, l->n_owned);
    adc_delta_resume_deletes(l->delta);
    if (l->state && strcmp(l->state, "paused") == 0)
        set_state(l, "streaming", NULL);
}

static bool keep_going(void *userdata) {
    struct adc_live *l = userdata;
    take_full_sync(l);
    report(l, false);
    return !atomic_load(&l->stop);
}

static int save(struct adc_live *l, const char *position) {
    if (!l->baseline_ok || !position)
        return 0;
    struct adc_live_state st = {
        .watch = (char *)adc_watch_name(l->kind),
        .position = (char *)position,
        .n_owned = l->n_owned,
    };
    char *err = NULL;
    int r = adc_live_state_save(l->cfg->service, l->cfg->yaml, &st, &err);
    if (r < 0) {
        /* Changes still flow; after a restart they are caught by a full sync. */
        log_warning("live changes: %s", err ? err : "cannot save the position");
        free(err);
    }
    return 0;
}

static int handled(struct adc_live *l, int r, const struct adc_delta_outcome *o, char *err) {
    if (r < 0) {
        log_warning("live changes: %s; trying again", err ? err : strerror(-r));
        set_state(l, "error", err ? err : strerror(-r));
        free(err);
        return ADC_WATCH_RETRY;
    }
    free(err);
    if (o->summary[0]) {
        if (o->wrote || o->paused)
            log_notice("live change: %s", o->summary);
        else
            log_info("live change: %s", o->summary);
        snprintf(l->last_change, sizeof(l->last_change), "%s", o->summary);
        l->dirty = true;
    }
    if (o->wrote)
        l->applied++;
    if (o->paused)
        set_state(l, "paused",
                  "more deletes than max-delete within 10 minutes: live deletes wait for a full "
                  "sync");
    else if (!l->state || strcmp(l->state, "paused") != 0)
        set_state(l, "streaming", NULL);
    report(l, false);
    return 0;
}

static int on_entry(void *userdata, const char *dn, bool in_scope) {
    struct adc_live *l = userdata;
    struct adc_delta_outcome o;
    char *err = NULL;
    int r = adc_delta_begin(l->delta, &err);
    if (r == 0)
        r = adc_delta_entry(l->delta, dn, in_scope, &o, &err);
    return handled(l, r, &o, err);
}

static int on_delete(void *userdata, const unsigned char uuid[16], const char *external_id) {
    struct adc_live *l = userdata;
    struct adc_delta_outcome o;
    char *err = NULL;
    int r = adc_delta_begin(l->delta, &err);
    if (r == 0)
        r = external_id ? adc_delta_delete_id(l->delta, external_id, &o, &err)
                        : adc_delta_delete_uuid(l->delta, uuid, &o, &err);
    return handled(l, r, &o, err);
}

static int on_group_members(void *userdata, const char *external_id, const char *const *added,
                            size_t n_added, const char *const *removed, size_t n_removed) {
    struct adc_live *l = userdata;
    struct adc_delta_outcome o;
    char *err = NULL;
    int r = adc_delta_begin(l->delta, &err);
    if (r == 0)
        r = adc_delta_group_members(l->delta, external_id, added, n_added, removed, n_removed, &o,
                                    &err);
    if (r == -ENOENT) {
        free(err);
        return r; /* not a group of the graph: the watcher reports the entry */
    }
    return handled(l, r, &o, err);
}

static int on_position(void *userdata, const char *position) { return save(userdata, position); }

static bool on_imp_progress(void *userdata, enum adc_imp_phase phase, size_t done, size_t total) {
    (void)phase, (void)done, (void)total;
    struct adc_live *l = userdata;
    return !atomic_load(&l->stop);
}

static void copy_agent_id(char out[sizeof(agent_id)]) {
    pthread_mutex_lock(&current_lock);
    memcpy(out, agent_id, sizeof(agent_id));
    pthread_mutex_unlock(&current_lock);
}

/* A full sync as `adc imp` runs it, recorded as a run with trigger "startup". */
static int on_baseline(void *userdata, const char *position) {
    struct adc_live *l = userdata;
    char id[sizeof(agent_id)];
    copy_agent_id(id);
    for (unsigned waited = 0; !id[0] && waited < AGENT_ID_WAIT_MS && !atomic_load(&l->stop);
         waited += 100) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        copy_agent_id(id);
    }
    struct adc_imp_options opt = {
        .record_run = true,
        .run_source = ADC_RUN_SOURCE_AGENT,
        .agent_id = id[0] ? id : NULL,
        .progress = on_imp_progress,
        .userdata = l,
    };
    struct adc_imp_result res;
    if (l->cfg->yaml->ldap.groups_filter) {
        /* The group graph of membership changes (sync/group-delta.h), read before the full
         * sync: a change between the two reads is written again, which is harmless. */
        char *err = NULL;
        if (adc_delta_groups_seed(l->delta, &err) < 0) {
            log_warning("live changes: reading the groups failed: %s", err ? err : "error");
            set_state(l, "error", err ? err : "reading the groups failed");
            free(err);
            return ADC_WATCH_RETRY;
        }
    }
    log_notice("live changes: full sync (startup) to set the baseline");
    adc_imp_run(l->cfg->yaml, l->cfg->service, &opt, &res);
    bool ok = res.status == ADC_EXIT_OK || res.status == ADC_EXIT_PARTIAL;
    if (ok) {
        l->baseline_ok = true;
        l->n_owned = adc_imp_owned_after(&res);
        adc_delta_set_owned(l->delta, l->n_owned);
        adc_delta_resume_deletes(l->delta);
        log_notice("live changes: baseline set (%zu users of this configuration)", l->n_owned);
    } else {
        log_warning("live changes: the startup full sync failed: %s",
                    res.error ? res.error : "error");
        set_state(l, "error", res.error ? res.error : "the startup full sync failed");
    }
    adc_imp_result_done(&res);
    if (!ok)
        return ADC_WATCH_RETRY;
    return save(l, position);
}

static void backoff(struct adc_live *l, unsigned *ms) {
    for (unsigned waited = 0; waited < *ms && !atomic_load(&l->stop); waited += 100) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        take_full_sync(l);
        report(l, false);
    }
    *ms = *ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : *ms * 2;
}

static void *live_main(void *userdata) {
    struct adc_live *l = userdata;
    const struct adc_yaml_config *yaml = l->cfg->yaml;
    const struct adc_service_config *service = l->cfg->service;
    const struct adc_watch_sink sink = {
        .userdata = l,
        .entry = on_entry,
        .delete_uuid = on_delete,
        .group_members = on_group_members,
        .position = on_position,
        .baseline = on_baseline,
        .keep_going = keep_going,
    };
    unsigned wait_ms = RETRY_MIN_MS;

    while (!atomic_load(&l->stop) && l->kind == ADC_WATCH_AUTO) {
        char *why = NULL, *err = NULL;
        enum adc_watch k;
        if (adc_watch_detect(&yaml->ldap, &k, &why, &err) == 0) {
            l->kind = k;
            log_notice("live changes: %s (%s)", adc_watch_name(k), why ? why : "detected");
        } else {
            log_warning("live changes: cannot tell what the directory offers: %s; trying again",
                        err ? err : "error");
            backoff(l, &wait_ms);
        }
        free(why);
        free(err);
    }
    set_state(l, "streaming", NULL);
    while (!atomic_load(&l->stop)) {
        struct adc_live_state st = {0};
        char *why = NULL, *err = NULL;
        int r = adc_live_state_load(service, yaml, adc_watch_name(l->kind), &st, &why);
        if (r == 0) {
            l->baseline_ok = true;
            l->n_owned = st.n_owned;
            adc_delta_set_owned(l->delta, st.n_owned);
        } else {
            l->baseline_ok = false;
            if (r == -EINVAL)
                log_warning("live changes: %s; a full sync sets the baseline instead",
                            why ? why : "the state file cannot be used");
            else
                log_info("live changes: no saved position; a full sync sets the baseline");
        }
        free(why);
        if (l->baseline_ok && yaml->ldap.groups_filter && !adc_delta_groups_seeded(l->delta) &&
            on_baseline(l, NULL) < 0) {
            /* The group graph lives in memory only: after a restart, a full sync (which
             * seeds it) catches the membership changes made meanwhile; the position is kept. */
            adc_live_state_done(&st);
            backoff(l, &wait_ms);
            continue;
        }
        if (l->kind == ADC_WATCH_SYNCREPL)
            r = adc_watch_syncrepl_run(&yaml->ldap, st.position, &sink, &err);
        else if (l->kind == ADC_WATCH_POLL)
            r = adc_watch_poll_run(&yaml->ldap, st.position, &sink, &err);
        else
            r = adc_watch_ad_run(&yaml->ldap, l->kind, st.position, &sink, &err);
        adc_live_state_done(&st);
        if (r == 0) {
            free(err);
            break;
        }
        if (r == ADC_WATCH_REFUSED) {
            log_warning("live changes: the directory no longer accepts the saved position%s%s; a "
                        "full sync sets the baseline",
                        err ? ": " : "", err ? err : "");
            adc_live_state_remove(service);
            free(err);
            continue;
        }
        log_warning("live changes: %s; resuming in %.0f s", err ? err : strerror(-r),
                    wait_ms / 1000.0);
        set_state(l, "error", err ? err : strerror(-r));
        free(err);
        backoff(l, &wait_ms);
    }
    set_state(l, "stopped", NULL);
    report(l, true);
    return NULL;
}

int adc_live_start(struct adc_agent_config *cfg, struct adc_live **ret) {
    *ret = NULL;
    if (cfg->yaml->ldap.watch == ADC_WATCH_OFF) {
        log_info("live changes: off (backend.ldap.sync.watch)");
        return 0;
    }
    struct adc_live *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->cfg = adc_agent_config_ref(cfg);
    l->kind = cfg->yaml->ldap.watch;
    l->state = "streaming";
    l->dirty = true; /* the first report says which watcher runs */
    char *err = NULL;
    int r = adc_delta_new(cfg->yaml, cfg->service, &l->delta, &err);
    if (r == 0)
        r = adc_transport_new(cfg->service, NULL, &l->t, &err);
    if (r == 0)
        r = -pthread_create(&l->thread, NULL, live_main, l);
    if (r < 0) {
        log_error("live changes cannot start: %s", err ? err : strerror(-r));
        free(err);
        adc_delta_free(l->delta);
        adc_transport_free(l->t);
        adc_agent_config_unref(l->cfg);
        free(l);
        return r;
    }
    pthread_mutex_lock(&current_lock);
    current = l;
    pthread_mutex_unlock(&current_lock);
    *ret = l;
    return 0;
}

void adc_live_stop(struct adc_live *l) {
    if (!l)
        return;
    pthread_mutex_lock(&current_lock);
    if (current == l)
        current = NULL;
    pthread_mutex_unlock(&current_lock);
    atomic_store(&l->stop, true);
    pthread_join(l->thread, NULL);
    adc_delta_free(l->delta);
    adc_transport_free(l->t);
    adc_agent_config_unref(l->cfg);
    free(l);
}

void adc_live_full_sync_done(bool succeeded, size_t n_owned) {
    if (!succeeded)
        return;
    pthread_mutex_lock(&current_lock);
    if (current) {
        atomic_store(&current->full_sync_owned, n_owned);
        atomic_store(&current->full_sync_done, true);
    }
    pthread_mutex_unlock(&current_lock);
}

void adc_live_set_agent_id(const char *id) {
    pthread_mutex_lock(&current_lock);
    snprintf(agent_id, sizeof(agent_id), "%s", id && strlen(id) < sizeof(agent_id) ? id : "");
    pthread_mutex_unlock(&current_lock);
}
