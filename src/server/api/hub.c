#include "api/hub.h"
#include "api/hub-internal.h"

#include <errno.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/macros.h"
#include "common/secret.h"
#include "common/wire.h"

/* Run ids to fail once the lock is released. */
struct failed_runs {
    struct failed_run {
        char id[ADC_HUB_RUN_ID_MAX];
        const char *why;
    } * runs;
    size_t n, cap;
};

double adc_hub_mono_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct timespec adc_hub_mono_at(double t) {
    struct timespec ts = {.tv_sec = (time_t)t};
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    return ts;
}

static void random_id(char out[static ADC_HUB_ID_SIZE]) {
    unsigned char raw[16];
    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        /* RAND_bytes only fails without entropy at all; ids must still be unique. */
        static unsigned long long counter;
        unsigned long long c = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
        double t = adc_hub_mono_now();
        memcpy(raw, &c, sizeof(c));
        memcpy(raw + 8, &t, sizeof(t));
    }
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

void adc_hub_copy_str(char *dst, size_t size, const char *src) {
    snprintf(dst, size, "%s", src ? src : "");
}

void adc_hub_list_push(struct adc_hub_list *l, struct adc_hub_cmd *c) {
    c->next = NULL;
    c->prev = l->tail;
    if (l->tail)
        l->tail->next = c;
    else
        l->head = c;
    l->tail = c;
    l->n++;
}

void adc_hub_list_remove(struct adc_hub_list *l, struct adc_hub_cmd *c) {
    if (c->prev)
        c->prev->next = c->next;
    else
        l->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        l->tail = c->prev;
    c->prev = c->next = NULL;
    l->n--;
}

void adc_hub_cmd_free(struct adc_hub_cmd *c) {
    if (!c)
        return;
    free(c->user_name);
    adc_secret_free(c->password);
    free(c->reason);
    if (c->type == ADC_HUB_CMD_CHECK)
        pthread_cond_destroy(&c->done);
    free(c);
}

/* Finishes a check with an outcome and wakes its login thread (which frees it). */
static void check_finish(struct adc_hub_cmd *c, enum adc_hub_outcome o, const char *reason,
                         bool gone) {
    c->state = ADC_HUB_CMD_DONE;
    c->agent_gone = gone;
    c->outcome = o;
    free(c->reason);
    c->reason = reason ? strdup(reason) : NULL;
    adc_secret_free(c->password);
    c->password = NULL;
    pthread_cond_signal(&c->done);
}

static void failed_add(struct failed_runs *f, const char *run_id, const char *why) {
    if (!run_id || !run_id[0])
        return;
    if (adc_grow_array(f->runs, f->cap, f->n, 4) < 0)
        return;
    adc_hub_copy_str(f->runs[f->n].id, ADC_HUB_RUN_ID_MAX, run_id);
    f->runs[f->n].why = why;
    f->n++;
}

static void failed_flush(struct adc_hub *h, struct failed_runs *f) {
    for (size_t i = 0; i < f->n; i++)
        if (h->run_failed)
            h->run_failed(h->userdata, f->runs[i].id, f->runs[i].why);
    free(f->runs);
    *f = (struct failed_runs){0};
}

struct adc_hub_queue *adc_hub_queue_get(struct adc_hub *h, const char *app_id, bool create) {
    for (struct adc_hub_queue *q = h->queues; q; q = q->next)
        if (strcmp(q->app_id, app_id) == 0)
            return q;
    if (!create)
        return NULL;
    struct adc_hub_queue *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    adc_hub_copy_str(q->app_id, sizeof(q->app_id), app_id);
    q->next = h->queues;
    h->queues = q;
    return q;
}

struct adc_hub_agent *adc_hub_agent_find(struct adc_hub *h, const char *app_id,
                                         const char *agent_id) {
    for (struct adc_hub_agent *a = h->agents; a; a = a->next)
        if (strcmp(a->id, agent_id) == 0 && strcmp(a->app_id, app_id) == 0)
            return a;
    return NULL;
}

/* Removes an agent: what it holds fails now rather than at the login timeout, and when it was
 * its configuration's last agent, so does everything still queued (no one will take it). */
static void agent_remove(struct adc_hub *h, struct adc_hub_agent *a, const char *why,
                         struct failed_runs *failed) {
    for (struct adc_hub_agent **p = &h->agents; *p; p = &(*p)->next)
        if (*p == a) {
            *p = a->next;
            break;
        }
    a->gone = true;
    for (struct adc_hub_cmd *c = h->inflight.head, *next; c; c = next) {
        next = c->next;
        if (strcmp(c->agent_id, a->id) == 0) {
            adc_hub_list_remove(&h->inflight, c);
            check_finish(c, ADC_HUB_UNAVAILABLE, why, true);
        }
    }
    failed_add(failed, a->run_id, why);
    struct adc_hub_queue *q = adc_hub_queue_get(h, a->app_id, false);
    if (q) {
        if (q->n_agents > 0)
            q->n_agents--;
        if (q->n_agents == 0) {
            while (q->cmds.head) {
                struct adc_hub_cmd *c = q->cmds.head;
                adc_hub_list_remove(&q->cmds, c);
                if (c->type == ADC_HUB_CMD_CHECK) {
                    check_finish(c, ADC_HUB_UNAVAILABLE, "no agent connected", true);
                } else {
                    failed_add(failed, c->run_id, "no agent connected to run it");
                    adc_hub_cmd_free(c);
                }
            }
        }
        /* The agent's own poll, if open, returns now. */
        adc_hub_wake_agent_polls(h, q, a);
    }
    if (a->polls_open == 0)
        free(a);
}

void adc_hub_expire(struct adc_hub *h, double now) {
    struct failed_runs failed = {0};
    pthread_mutex_lock(&h->lock);
    for (struct adc_hub_agent *a = h->agents, *next; a; a = next) {
        next = a->next;
        if (now - a->last_poll_start > ADC_HUB_CONNECTED_TIMEOUT)
            agent_remove(h, a, "agent disconnected (silent for more than 25 s)", &failed);
    }
    pthread_mutex_unlock(&h->lock);
    failed_flush(h, &failed);
}

/* Ends the waiting polls whose time is up. Called under the lock. */
static void wake_due(struct adc_hub *h, double now) {
    for (struct adc_hub_queue *q = h->queues; q; q = q->next)
        for (struct adc_hub_poll *p = q->wait_head, *next; p; p = next) {
            next = p->next;
            if (now >= p->deadline)
                adc_hub_wait_finish(h, p);
        }
}

/* The reaper ends polls at their deadline (every REAPER_TICK s: a poll waits at most that much
 * longer than asked) and forgets silent agents once a second. */
#define REAPER_TICK 0.1

static void *reaper_main(void *userdata) {
    struct adc_hub *h = userdata;
    pthread_mutex_lock(&h->lock);
    double next_expire = adc_hub_mono_now() + 1.0;
    while (!h->shutdown) {
        struct timespec at = adc_hub_mono_at(adc_hub_mono_now() + REAPER_TICK);
        pthread_cond_timedwait(&h->reaper_wake, &h->lock, &at);
        if (h->shutdown)
            break;
        double now = adc_hub_mono_now();
        wake_due(h, now);
        if (now < next_expire)
            continue;
        next_expire = now + 1.0;
        pthread_mutex_unlock(&h->lock);
        adc_hub_expire(h, now);
        pthread_mutex_lock(&h->lock);
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

int adc_hub_new(adc_hub_run_failed_fn run_failed, void *userdata, struct adc_hub **out) {
    struct adc_hub *h = calloc(1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    pthread_mutex_init(&h->lock, NULL);
    pthread_condattr_init(&h->condattr);
    pthread_condattr_setclock(&h->condattr, CLOCK_MONOTONIC);
    pthread_cond_init(&h->reaper_wake, &h->condattr);
    h->run_failed = run_failed;
    h->userdata = userdata;
    int e = pthread_create(&h->reaper, NULL, reaper_main, h);
    if (e != 0) {
        adc_hub_free(h);
        return -e;
    }
    h->reaper_started = true;
    *out = h;
    return 0;
}

void adc_hub_shutdown(struct adc_hub *h) {
    pthread_mutex_lock(&h->lock);
    h->shutdown = true;
    for (struct adc_hub_queue *q = h->queues; q; q = q->next)
        adc_hub_wake_agent_polls(h, q, NULL);
    for (struct adc_hub_cmd *c = h->inflight.head; c; c = c->next)
        pthread_cond_signal(&c->done);
    for (struct adc_hub_queue *q = h->queues; q; q = q->next)
        for (struct adc_hub_cmd *c = q->cmds.head; c; c = c->next)
            if (c->type == ADC_HUB_CMD_CHECK)
                pthread_cond_signal(&c->done);
    pthread_cond_broadcast(&h->reaper_wake);
    pthread_mutex_unlock(&h->lock);
}

/* Call only when no request thread uses the hub any more (after the HTTP daemon stopped). */
void adc_hub_free(struct adc_hub *h) {
    if (!h)
        return;
    adc_hub_shutdown(h);
    if (h->reaper_started)
        pthread_join(h->reaper, NULL);
    while (h->agents) {
        struct adc_hub_agent *a = h->agents;
        h->agents = a->next;
        free(a);
    }
    while (h->queues) {
        struct adc_hub_queue *q = h->queues;
        h->queues = q->next;
        while (q->cmds.head) {
            struct adc_hub_cmd *c = q->cmds.head;
            adc_hub_list_remove(&q->cmds, c);
            if (c->type == ADC_HUB_CMD_SYNC)
                adc_hub_cmd_free(c);
        }
        free(q);
    }
    pthread_cond_destroy(&h->reaper_wake);
    pthread_condattr_destroy(&h->condattr);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

int adc_hub_connect(struct adc_hub *h, const char *app_id, const char *host, const char *version,
                    char agent_id[static ADC_HUB_ID_SIZE]) {
    struct adc_hub_agent *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    random_id(a->id);
    adc_hub_copy_str(a->app_id, sizeof(a->app_id), app_id);
    adc_hub_copy_str(a->host, sizeof(a->host), host);
    adc_hub_copy_str(a->version, sizeof(a->version), version);
    a->connected_since = a->last_seen = time(NULL);
    a->last_poll_start = adc_hub_mono_now();
    pthread_mutex_lock(&h->lock);
    struct adc_hub_queue *q = adc_hub_queue_get(h, app_id, true);
    if (!q || q->n_agents >= ADC_HUB_MAX_AGENTS) {
        pthread_mutex_unlock(&h->lock);
        free(a);
        return q ? -EUSERS : -ENOMEM;
    }
    q->n_agents++;
    a->next = h->agents;
    h->agents = a;
    memcpy(agent_id, a->id, ADC_HUB_ID_SIZE);
    pthread_mutex_unlock(&h->lock);
    return 0;
}

int adc_hub_disconnect(struct adc_hub *h, const char *app_id, const char *agent_id) {
    struct failed_runs failed = {0};
    pthread_mutex_lock(&h->lock);
    struct adc_hub_agent *a = adc_hub_agent_find(h, app_id, agent_id);
    if (a)
        agent_remove(h, a, "agent disconnected", &failed);
    pthread_mutex_unlock(&h->lock);
    failed_flush(h, &failed);
    return a ? 0 : -ENOENT;
}

void adc_hub_drop(struct adc_hub *h, const char *app_id, const char *why) {
    struct failed_runs failed = {0};
    pthread_mutex_lock(&h->lock);
    for (struct adc_hub_agent *a = h->agents, *next; a; a = next) {
        next = a->next;
        if (strcmp(a->app_id, app_id) == 0)
            agent_remove(h, a, why, &failed);
    }
    pthread_mutex_unlock(&h->lock);
    failed_flush(h, &failed);
}

void adc_hub_counts(struct adc_hub *h, size_t *agents, size_t *queued) {
    size_t a = 0, q = 0;
    pthread_mutex_lock(&h->lock);
    for (struct adc_hub_agent *ag = h->agents; ag; ag = ag->next)
        a++;
    for (struct adc_hub_queue *qu = h->queues; qu; qu = qu->next)
        q += qu->cmds.n;
    pthread_mutex_unlock(&h->lock);
    *agents = a;
    *queued = q;
}

int adc_hub_check_password(struct adc_hub *h, const char *app_id, const char *user_name,
                           const char *password, int timeout_ms, enum adc_hub_outcome *outcome,
                           char **reason, bool *agent_gone) {
    bool gone_ = false;
    if (!agent_gone)
        agent_gone = &gone_;
    *agent_gone = false;
    struct adc_hub_cmd *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->type = ADC_HUB_CMD_CHECK;
    pthread_cond_init(&c->done, &h->condattr);
    random_id(c->id);
    adc_hub_copy_str(c->app_id, sizeof(c->app_id), app_id);
    c->user_name = strdup(user_name);
    c->password = strdup(password);
    if (!c->user_name || !c->password) {
        adc_hub_cmd_free(c);
        return -ENOMEM;
    }

    const char *why = NULL;
    pthread_mutex_lock(&h->lock);
    struct adc_hub_queue *q = adc_hub_queue_get(h, app_id, false);
    if (h->shutdown)
        why = "the server is stopping";
    else if (!q || q->n_agents == 0) {
        why = "no agent connected";
        *agent_gone = true;
    } else if (q->cmds.n >= ADC_HUB_MAX_QUEUE)
        why = "too many password checks waiting for the agent";
    if (why) {
        pthread_mutex_unlock(&h->lock);
        adc_hub_cmd_free(c);
        *outcome = ADC_HUB_UNAVAILABLE;
        *reason = strdup(why);
        return 0;
    }
    adc_hub_list_push(&q->cmds, c);
    adc_hub_dispatch(h, q);

    struct timespec at = adc_hub_mono_at(adc_hub_mono_now() + timeout_ms / 1000.0);
    while (c->state != ADC_HUB_CMD_DONE && !h->shutdown)
        if (pthread_cond_timedwait(&c->done, &h->lock, &at) == ETIMEDOUT)
            break;
    if (c->state == ADC_HUB_CMD_DONE) {
        *outcome = c->outcome;
        *reason = c->reason ? strdup(c->reason) : NULL;
        *agent_gone = c->agent_gone;
    } else {
        /* Not answered in time: withdraw it, so a late answer finds nothing (-ENOENT). */
        if (c->state == ADC_HUB_CMD_QUEUED)
            adc_hub_list_remove(&q->cmds, c);
        else
            adc_hub_list_remove(&h->inflight, c);
        *outcome = ADC_HUB_UNAVAILABLE;
        *reason = strdup(h->shutdown                      ? "the server is stopping"
                         : c->state == ADC_HUB_CMD_QUEUED ? "no agent took the check in time"
                                                          : "the agent did not answer in time");
    }
    pthread_mutex_unlock(&h->lock);
    adc_hub_cmd_free(c);
    return 0;
}

int adc_hub_answer(struct adc_hub *h, const char *app_id, const char *command_id,
                   const char *outcome, const char *reason) {
    enum adc_hub_outcome o;
    if (adc_streq(outcome, ADC_OUTCOME_ACCEPTED))
        o = ADC_HUB_ACCEPTED;
    else if (adc_streq(outcome, ADC_OUTCOME_DENIED))
        o = ADC_HUB_DENIED;
    else if (adc_streq(outcome, ADC_OUTCOME_UNAVAILABLE))
        o = ADC_HUB_UNAVAILABLE;
    else
        return -EINVAL;
    int r = -ENOENT;
    pthread_mutex_lock(&h->lock);
    for (struct adc_hub_cmd *c = h->inflight.head; c; c = c->next)
        if (strcmp(c->id, command_id) == 0 && strcmp(c->app_id, app_id) == 0) {
            adc_hub_list_remove(&h->inflight, c);
            check_finish(c, o, reason, false);
            r = 0;
            break;
        }
    pthread_mutex_unlock(&h->lock);
    return r;
}

int adc_hub_sync(struct adc_hub *h, const char *app_id, const char *run_id, bool dry_run) {
    struct adc_hub_cmd *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->type = ADC_HUB_CMD_SYNC;
    random_id(c->id);
    adc_hub_copy_str(c->app_id, sizeof(c->app_id), app_id);
    adc_hub_copy_str(c->run_id, sizeof(c->run_id), run_id);
    c->dry_run = dry_run;
    pthread_mutex_lock(&h->lock);
    struct adc_hub_queue *q = adc_hub_queue_get(h, app_id, false);
    if (!q || q->n_agents == 0 || h->shutdown) {
        pthread_mutex_unlock(&h->lock);
        adc_hub_cmd_free(c);
        return -ENOTCONN;
    }
    adc_hub_list_push(&q->cmds, c);
    adc_hub_dispatch(h, q);
    pthread_mutex_unlock(&h->lock);
    return 0;
}

int adc_hub_agent_run(struct adc_hub *h, const char *app_id, const char *agent_id,
                      char run_id[static 64]) {
    pthread_mutex_lock(&h->lock);
    struct adc_hub_agent *a = adc_hub_agent_find(h, app_id, agent_id);
    int r = a && a->run_id[0];
    if (r)
        adc_hub_copy_str(run_id, 64, a->run_id);
    pthread_mutex_unlock(&h->lock);
    return r;
}

int adc_hub_carry(struct adc_hub *h, const char *app_id, const char *agent_id, const char *run_id) {
    pthread_mutex_lock(&h->lock);
    struct adc_hub_agent *a = adc_hub_agent_find(h, app_id, agent_id);
    if (a)
        adc_hub_copy_str(a->run_id, sizeof(a->run_id), run_id);
    pthread_mutex_unlock(&h->lock);
    return a ? 0 : -ENOENT;
}

void adc_hub_run_ended(struct adc_hub *h, const char *app_id, const char *run_id) {
    pthread_mutex_lock(&h->lock);
    for (struct adc_hub_agent *a = h->agents; a; a = a->next)
        if (strcmp(a->app_id, app_id) == 0 && strcmp(a->run_id, run_id) == 0)
            a->run_id[0] = '\0';
    pthread_mutex_unlock(&h->lock);
}

bool adc_hub_live(struct adc_hub *h, const char *app_id, double idle_s) {
    double now = adc_hub_mono_now();
    bool r = false;
    pthread_mutex_lock(&h->lock);
    for (struct adc_hub_agent *a = h->agents; a && !r; a = a->next)
        r = strcmp(a->app_id, app_id) == 0 &&
            (a->polls_open > 0 || now - a->last_poll_start < idle_s);
    pthread_mutex_unlock(&h->lock);
    return r;
}

bool adc_hub_connected(struct adc_hub *h, const char *app_id) {
    pthread_mutex_lock(&h->lock);
    struct adc_hub_queue *q = adc_hub_queue_get(h, app_id, false);
    bool r = q && q->n_agents > 0;
    pthread_mutex_unlock(&h->lock);
    return r;
}

static void rfc3339(time_t t, char buf[static 24]) {
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 24, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

json_t *adc_hub_agents(struct adc_hub *h, const char *app_id) {
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    pthread_mutex_lock(&h->lock);
    for (struct adc_hub_agent *a = h->agents; a; a = a->next) {
        if (strcmp(a->app_id, app_id) != 0)
            continue;
        char since[24], seen[24];
        rfc3339(a->connected_since, since);
        /* While a poll is open the agent is there right now. */
        rfc3339(a->polls_open ? time(NULL) : a->last_seen, seen);
        json_array_append_new(arr,
                              json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "agent_id", a->id, "host",
                                        a->host, "version", a->version, "connected_since", since,
                                        "last_seen", seen, "connected", 1));
    }
    pthread_mutex_unlock(&h->lock);
    return arr;
}
