#include "api/hub.h"

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

#define APP_ID_MAX 64
#define RUN_ID_MAX 64

enum cmd_type { CMD_CHECK, CMD_SYNC };
enum cmd_state { CMD_QUEUED, CMD_DELIVERED, CMD_DONE };

/* A command is in at most one list at a time: its configuration's queue, or the hub's list of
 * checks handed out and awaiting an answer. A check belongs to the login thread waiting for it
 * (it frees it); a sync belongs to the hub until it is handed out. */
struct cmd {
    struct cmd *prev, *next;
    enum cmd_type type;
    enum cmd_state state;
    char id[ADC_HUB_ID_SIZE];
    char app_id[APP_ID_MAX];
    char agent_id[ADC_HUB_ID_SIZE]; /* who took it */
    /* check_password */
    char *user_name;
    char *password; /* wiped once handed out */
    enum adc_hub_outcome outcome;
    char *reason;
    pthread_cond_t done;
    /* sync */
    char run_id[RUN_ID_MAX];
    bool dry_run;
};

struct list {
    struct cmd *head, *tail;
    size_t n;
};

struct agent;

/* A long poll waiting for commands, in its configuration's list of waiting polls. */
struct adc_hub_poll {
    struct adc_hub_poll *prev, *next;
    struct agent *agent;
    struct queue *q;
    unsigned long gen;
    double deadline; /* monotonic */
    adc_hub_alive_fn alive;
    void *alive_userdata;
    adc_hub_wake_fn wake;
    void *wake_userdata;
    json_t *cmds; /* the commands handed to it */
    bool waiting; /* in q's list: wake not called yet */
};

struct queue {
    struct queue *next;
    char app_id[APP_ID_MAX];
    struct list cmds;
    struct adc_hub_poll *wait_head, *wait_tail; /* oldest first */
    unsigned n_agents;
};

struct agent {
    struct agent *next;
    char id[ADC_HUB_ID_SIZE];
    char app_id[APP_ID_MAX];
    char host[256];
    char version[64];
    time_t connected_since;
    time_t last_seen;
    double last_poll_start; /* monotonic */
    unsigned polls_open;
    unsigned long poll_gen;  /* bumped by each poll; only the newest one takes commands */
    bool gone;               /* unlinked; the last poll to return frees it */
    char run_id[RUN_ID_MAX]; /* the sync handed to it last, "" when none */
};

/* Run ids to fail once the lock is released. */
struct failed_runs {
    struct failed_run {
        char id[RUN_ID_MAX];
        const char *why;
    } * runs;
    size_t n, cap;
};

struct adc_hub {
    pthread_mutex_t lock;
    pthread_condattr_t condattr;
    struct agent *agents;
    struct queue *queues;
    struct list inflight;
    bool shutdown;
    adc_hub_run_failed_fn run_failed;
    void *userdata;
    pthread_t reaper;
    bool reaper_started;
    pthread_cond_t reaper_wake;
    size_t n_waiting;
};

static double mono_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct timespec mono_at(double t) {
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
        double t = mono_now();
        memcpy(raw, &c, sizeof(c));
        memcpy(raw + 8, &t, sizeof(t));
    }
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

static void copy_str(char *dst, size_t size, const char *src) {
    snprintf(dst, size, "%s", src ? src : "");
}

static void list_push(struct list *l, struct cmd *c) {
    c->next = NULL;
    c->prev = l->tail;
    if (l->tail)
        l->tail->next = c;
    else
        l->head = c;
    l->tail = c;
    l->n++;
}

static void list_remove(struct list *l, struct cmd *c) {
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

static void cmd_free(struct cmd *c) {
    if (!c)
        return;
    free(c->user_name);
    adc_secret_free(c->password);
    free(c->reason);
    if (c->type == CMD_CHECK)
        pthread_cond_destroy(&c->done);
    free(c);
}

/* Finishes a check with an outcome and wakes its login thread (which frees it). */
static void check_finish(struct cmd *c, enum adc_hub_outcome o, const char *reason) {
    c->state = CMD_DONE;
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
    copy_str(f->runs[f->n].id, RUN_ID_MAX, run_id);
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

static struct queue *queue_get(struct adc_hub *h, const char *app_id, bool create) {
    for (struct queue *q = h->queues; q; q = q->next)
        if (strcmp(q->app_id, app_id) == 0)
            return q;
    if (!create)
        return NULL;
    struct queue *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    copy_str(q->app_id, sizeof(q->app_id), app_id);
    q->next = h->queues;
    h->queues = q;
    return q;
}

static struct agent *agent_find(struct adc_hub *h, const char *app_id, const char *agent_id) {
    for (struct agent *a = h->agents; a; a = a->next)
        if (strcmp(a->id, agent_id) == 0 && strcmp(a->app_id, app_id) == 0)
            return a;
    return NULL;
}

static void wait_unlink(struct adc_hub *h, struct adc_hub_poll *p) {
    struct queue *q = p->q;
    if (p->prev)
        p->prev->next = p->next;
    else
        q->wait_head = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        q->wait_tail = p->prev;
    p->prev = p->next = NULL;
    p->waiting = false;
    h->n_waiting--;
}

/* Ends a waiting poll: its answer is what it holds now. Called under the lock. */
static void wait_finish(struct adc_hub *h, struct adc_hub_poll *p) {
    wait_unlink(h, p);
    p->wake(p->wake_userdata);
}

static json_t *command_json(const struct cmd *c);

/* Hands up to ADC_HUB_MAX_BATCH queued commands to agent a (its answer array cmds). */
static void take_commands(struct adc_hub *h, struct queue *q, struct agent *a, json_t *cmds) {
    for (size_t n = 0; q->cmds.head && n < ADC_HUB_MAX_BATCH; n++) {
        struct cmd *c = q->cmds.head;
        json_t *j = command_json(c);
        if (!j || json_array_append_new(cmds, j) < 0)
            break;
        list_remove(&q->cmds, c);
        if (c->type == CMD_CHECK) {
            c->state = CMD_DELIVERED;
            copy_str(c->agent_id, sizeof(c->agent_id), a->id);
            /* The only copy left is in the answer being sent. */
            adc_secret_free(c->password);
            c->password = NULL;
            list_push(&h->inflight, c);
        } else {
            copy_str(a->run_id, sizeof(a->run_id), c->run_id);
            cmd_free(c);
        }
    }
}

/* Commands were queued: each goes to the longest-waiting poll whose client is still there. A
 * poll whose connection died is ended empty (its agent will poll again or expire) and the
 * commands wait for the next one. */
static void dispatch(struct adc_hub *h, struct queue *q) {
    while (q->cmds.head && q->wait_head) {
        struct adc_hub_poll *p = q->wait_head;
        if (!p->alive || p->alive(p->alive_userdata))
            take_commands(h, q, p->agent, p->cmds);
        wait_finish(h, p);
    }
}

/* Ends the waiting polls of agent a (all of q's when a is NULL), empty. */
static void wake_agent_polls(struct adc_hub *h, struct queue *q, struct agent *a) {
    for (struct adc_hub_poll *p = q->wait_head, *next; p; p = next) {
        next = p->next;
        if (!a || p->agent == a)
            wait_finish(h, p);
    }
}

/* Removes an agent: what it holds fails now rather than at the login timeout, and when it was
 * its configuration's last agent, so does everything still queued (no one will take it). */
static void agent_remove(struct adc_hub *h, struct agent *a, const char *why,
                         struct failed_runs *failed) {
    for (struct agent **p = &h->agents; *p; p = &(*p)->next)
        if (*p == a) {
            *p = a->next;
            break;
        }
    a->gone = true;
    for (struct cmd *c = h->inflight.head, *next; c; c = next) {
        next = c->next;
        if (strcmp(c->agent_id, a->id) == 0) {
            list_remove(&h->inflight, c);
            check_finish(c, ADC_HUB_UNAVAILABLE, why);
        }
    }
    failed_add(failed, a->run_id, why);
    struct queue *q = queue_get(h, a->app_id, false);
    if (q) {
        if (q->n_agents > 0)
            q->n_agents--;
        if (q->n_agents == 0) {
            while (q->cmds.head) {
                struct cmd *c = q->cmds.head;
                list_remove(&q->cmds, c);
                if (c->type == CMD_CHECK) {
                    check_finish(c, ADC_HUB_UNAVAILABLE, "no agent connected");
                } else {
                    failed_add(failed, c->run_id, "no agent connected to run it");
                    cmd_free(c);
                }
            }
        }
        /* The agent's own poll, if open, returns now. */
        wake_agent_polls(h, q, a);
    }
    if (a->polls_open == 0)
        free(a);
}

void adc_hub_expire(struct adc_hub *h, double now) {
    struct failed_runs failed = {0};
    pthread_mutex_lock(&h->lock);
    for (struct agent *a = h->agents, *next; a; a = next) {
        next = a->next;
        if (now - a->last_poll_start > ADC_HUB_CONNECTED_TIMEOUT)
            agent_remove(h, a, "agent disconnected (silent for more than 25 s)", &failed);
    }
    pthread_mutex_unlock(&h->lock);
    failed_flush(h, &failed);
}

/* Ends the waiting polls whose time is up. Called under the lock. */
static void wake_due(struct adc_hub *h, double now) {
    for (struct queue *q = h->queues; q; q = q->next)
        for (struct adc_hub_poll *p = q->wait_head, *next; p; p = next) {
            next = p->next;
            if (now >= p->deadline)
                wait_finish(h, p);
        }
}

/* The reaper ends polls at their deadline (every REAPER_TICK s: a poll waits at most that much
 * longer than asked) and forgets silent agents once a second. */
#define REAPER_TICK 0.1

static void *reaper_main(void *userdata) {
    struct adc_hub *h = userdata;
    pthread_mutex_lock(&h->lock);
    double next_expire = mono_now() + 1.0;
    while (!h->shutdown) {
        struct timespec at = mono_at(mono_now() + REAPER_TICK);
        pthread_cond_timedwait(&h->reaper_wake, &h->lock, &at);
        if (h->shutdown)
            break;
        double now = mono_now();
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
    for (struct queue *q = h->queues; q; q = q->next)
        wake_agent_polls(h, q, NULL);
    for (struct cmd *c = h->inflight.head; c; c = c->next)
        pthread_cond_signal(&c->done);
    for (struct queue *q = h->queues; q; q = q->next)
        for (struct cmd *c = q->cmds.head; c; c = c->next)
            if (c->type == CMD_CHECK)
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
        struct agent *a = h->agents;
        h->agents = a->next;
        free(a);
    }
    while (h->queues) {
        struct queue *q = h->queues;
        h->queues = q->next;
        while (q->cmds.head) {
            struct cmd *c = q->cmds.head;
            list_remove(&q->cmds, c);
            if (c->type == CMD_SYNC)
                cmd_free(c);
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
    struct agent *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    random_id(a->id);
    copy_str(a->app_id, sizeof(a->app_id), app_id);
    copy_str(a->host, sizeof(a->host), host);
    copy_str(a->version, sizeof(a->version), version);
    a->connected_since = a->last_seen = time(NULL);
    a->last_poll_start = mono_now();
    pthread_mutex_lock(&h->lock);
    struct queue *q = queue_get(h, app_id, true);
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
    struct agent *a = agent_find(h, app_id, agent_id);
    if (a)
        agent_remove(h, a, "agent disconnected", &failed);
    pthread_mutex_unlock(&h->lock);
    failed_flush(h, &failed);
    return a ? 0 : -ENOENT;
}

void adc_hub_drop(struct adc_hub *h, const char *app_id, const char *why) {
    struct failed_runs failed = {0};
    pthread_mutex_lock(&h->lock);
    for (struct agent *a = h->agents, *next; a; a = next) {
        next = a->next;
        if (strcmp(a->app_id, app_id) == 0)
            agent_remove(h, a, why, &failed);
    }
    pthread_mutex_unlock(&h->lock);
    failed_flush(h, &failed);
}

static json_t *command_json(const struct cmd *c) {
    if (c->type == CMD_CHECK)
        return json_pack("{s:s, s:s, s:s, s:s}", "id", c->id, "type", ADC_CMD_CHECK_PASSWORD,
                         "username", c->user_name, "password", c->password ? c->password : "");
    return json_pack("{s:s, s:s, s:s, s:b}", "id", c->id, "type", ADC_CMD_SYNC, "run_id", c->run_id,
                     "dry_run", c->dry_run);
}

int adc_hub_poll_begin(struct adc_hub *h, const char *app_id, const char *agent_id, int wait_s,
                       adc_hub_alive_fn alive, void *alive_userdata, adc_hub_wake_fn wake,
                       void *wake_userdata, json_t **out, struct adc_hub_poll **poll) {
    struct adc_hub_poll *p = calloc(1, sizeof(*p));
    if (!p || !(p->cmds = json_array())) {
        free(p);
        return -ENOMEM;
    }
    if (wait_s < 0)
        wait_s = 0;
    if (wait_s > ADC_HUB_POLL_WAIT)
        wait_s = ADC_HUB_POLL_WAIT;
    p->alive = alive;
    p->alive_userdata = alive_userdata;
    p->wake = wake;
    p->wake_userdata = wake_userdata;

    pthread_mutex_lock(&h->lock);
    struct agent *a = agent_find(h, app_id, agent_id);
    struct queue *q = a ? queue_get(h, app_id, false) : NULL; /* the agent's connect made it */
    if (!a || !q) {
        pthread_mutex_unlock(&h->lock);
        json_decref(p->cmds);
        free(p);
        return -ENOENT;
    }
    double start = mono_now();
    p->agent = a;
    p->q = q;
    p->deadline = start + wait_s;
    a->last_poll_start = start;
    a->last_seen = time(NULL);
    a->polls_open++;
    /* An agent runs one poll at a time: an older one still open is a connection that died
     * somewhere the server cannot see (e.g. behind a proxy). It must not take commands. */
    p->gen = ++a->poll_gen;
    wake_agent_polls(h, q, a);
    bool ready = true;
    if (q->cmds.head && !h->shutdown) {
        /* A command handed to a dead connection would be lost: look before handing out. */
        if (!alive || alive(alive_userdata))
            take_commands(h, q, a, p->cmds);
    } else if (wait_s > 0 && !h->shutdown) {
        p->prev = q->wait_tail;
        if (q->wait_tail)
            q->wait_tail->next = p;
        else
            q->wait_head = p;
        q->wait_tail = p;
        p->waiting = true;
        h->n_waiting++;
        ready = false;
    }
    pthread_mutex_unlock(&h->lock);
    if (!ready) {
        *poll = p;
        return 1;
    }
    *poll = NULL;
    return adc_hub_poll_end(h, p, out);
}

int adc_hub_poll_end(struct adc_hub *h, struct adc_hub_poll *p, json_t **out) {
    pthread_mutex_lock(&h->lock);
    if (p->waiting)
        wait_unlink(h, p);
    struct agent *a = p->agent;
    a->polls_open--;
    a->last_seen = time(NULL);
    if (a->gone && a->polls_open == 0)
        free(a);
    pthread_mutex_unlock(&h->lock);
    json_t *body = json_pack("{s:o}", "commands", p->cmds);
    free(p);
    if (!body)
        return -ENOMEM;
    *out = body;
    return 0;
}

int adc_hub_wake(struct adc_hub *h, const char *app_id, const char *agent_id) {
    int r = -ENOENT;
    pthread_mutex_lock(&h->lock);
    struct queue *q = queue_get(h, app_id, false);
    for (struct adc_hub_poll *p = q ? q->wait_head : NULL, *next; p; p = next) {
        next = p->next;
        if (agent_id && strcmp(p->agent->id, agent_id) != 0)
            continue;
        if (q->cmds.head && (!p->alive || p->alive(p->alive_userdata)))
            take_commands(h, q, p->agent, p->cmds);
        wait_finish(h, p);
        r = 0;
    }
    pthread_mutex_unlock(&h->lock);
    return r;
}

size_t adc_hub_waiting(struct adc_hub *h) {
    pthread_mutex_lock(&h->lock);
    size_t n = h->n_waiting;
    pthread_mutex_unlock(&h->lock);
    return n;
}

void adc_hub_counts(struct adc_hub *h, size_t *agents, size_t *queued) {
    size_t a = 0, q = 0;
    pthread_mutex_lock(&h->lock);
    for (struct agent *ag = h->agents; ag; ag = ag->next)
        a++;
    for (struct queue *qu = h->queues; qu; qu = qu->next)
        q += qu->cmds.n;
    pthread_mutex_unlock(&h->lock);
    *agents = a;
    *queued = q;
}

/* The blocking poll: adc_hub_poll_begin with a condition variable as its wake-up. */
struct blocking_wait {
    pthread_cond_t cond;
    bool woken;
};

static void blocking_wake(void *userdata) {
    struct blocking_wait *w = userdata;
    w->woken = true;
    pthread_cond_signal(&w->cond);
}

int adc_hub_poll(struct adc_hub *h, const char *app_id, const char *agent_id, int wait_s,
                 adc_hub_alive_fn alive, void *alive_userdata, json_t **out) {
    struct blocking_wait w = {.woken = false};
    pthread_cond_init(&w.cond, &h->condattr);
    struct adc_hub_poll *p = NULL;
    int r = adc_hub_poll_begin(h, app_id, agent_id, wait_s, alive, alive_userdata, blocking_wake,
                               &w, out, &p);
    if (r == 1) {
        pthread_mutex_lock(&h->lock);
        /* Wake at least once a second to notice a client that went away. */
        while (!w.woken) {
            struct timespec at = mono_at(mono_now() + 1.0);
            pthread_cond_timedwait(&w.cond, &h->lock, &at);
            if (!w.woken && alive && !alive(alive_userdata))
                break;
        }
        pthread_mutex_unlock(&h->lock);
        r = adc_hub_poll_end(h, p, out);
    }
    pthread_cond_destroy(&w.cond);
    return r;
}

int adc_hub_check_password(struct adc_hub *h, const char *app_id, const char *user_name,
                           const char *password, int timeout_ms, enum adc_hub_outcome *outcome,
                           char **reason) {
    struct cmd *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->type = CMD_CHECK;
    pthread_cond_init(&c->done, &h->condattr);
    random_id(c->id);
    copy_str(c->app_id, sizeof(c->app_id), app_id);
    c->user_name = strdup(user_name);
    c->password = strdup(password);
    if (!c->user_name || !c->password) {
        cmd_free(c);
        return -ENOMEM;
    }

    const char *why = NULL;
    pthread_mutex_lock(&h->lock);
    struct queue *q = queue_get(h, app_id, false);
    if (h->shutdown)
        why = "the server is stopping";
    else if (!q || q->n_agents == 0)
        why = "no agent connected";
    else if (q->cmds.n >= ADC_HUB_MAX_QUEUE)
        why = "too many password checks waiting for the agent";
    if (why) {
        pthread_mutex_unlock(&h->lock);
        cmd_free(c);
        *outcome = ADC_HUB_UNAVAILABLE;
        *reason = strdup(why);
        return 0;
    }
    list_push(&q->cmds, c);
    dispatch(h, q);

    struct timespec at = mono_at(mono_now() + timeout_ms / 1000.0);
    while (c->state != CMD_DONE && !h->shutdown)
        if (pthread_cond_timedwait(&c->done, &h->lock, &at) == ETIMEDOUT)
            break;
    if (c->state == CMD_DONE) {
        *outcome = c->outcome;
        *reason = c->reason ? strdup(c->reason) : NULL;
    } else {
        /* Not answered in time: withdraw it, so a late answer finds nothing (-ENOENT). */
        if (c->state == CMD_QUEUED)
            list_remove(&q->cmds, c);
        else
            list_remove(&h->inflight, c);
        *outcome = ADC_HUB_UNAVAILABLE;
        *reason = strdup(h->shutdown              ? "the server is stopping"
                         : c->state == CMD_QUEUED ? "no agent took the check in time"
                                                  : "the agent did not answer in time");
    }
    pthread_mutex_unlock(&h->lock);
    cmd_free(c);
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
    for (struct cmd *c = h->inflight.head; c; c = c->next)
        if (strcmp(c->id, command_id) == 0 && strcmp(c->app_id, app_id) == 0) {
            list_remove(&h->inflight, c);
            check_finish(c, o, reason);
            r = 0;
            break;
        }
    pthread_mutex_unlock(&h->lock);
    return r;
}

int adc_hub_sync(struct adc_hub *h, const char *app_id, const char *run_id, bool dry_run) {
    struct cmd *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->type = CMD_SYNC;
    random_id(c->id);
    copy_str(c->app_id, sizeof(c->app_id), app_id);
    copy_str(c->run_id, sizeof(c->run_id), run_id);
    c->dry_run = dry_run;
    pthread_mutex_lock(&h->lock);
    struct queue *q = queue_get(h, app_id, false);
    if (!q || q->n_agents == 0 || h->shutdown) {
        pthread_mutex_unlock(&h->lock);
        cmd_free(c);
        return -ENOTCONN;
    }
    list_push(&q->cmds, c);
    dispatch(h, q);
    pthread_mutex_unlock(&h->lock);
    return 0;
}

int adc_hub_agent_run(struct adc_hub *h, const char *app_id, const char *agent_id,
                      char run_id[static 64]) {
    pthread_mutex_lock(&h->lock);
    struct agent *a = agent_find(h, app_id, agent_id);
    int r = a && a->run_id[0];
    if (r)
        copy_str(run_id, 64, a->run_id);
    pthread_mutex_unlock(&h->lock);
    return r;
}

int adc_hub_carry(struct adc_hub *h, const char *app_id, const char *agent_id, const char *run_id) {
    pthread_mutex_lock(&h->lock);
    struct agent *a = agent_find(h, app_id, agent_id);
    if (a)
        copy_str(a->run_id, sizeof(a->run_id), run_id);
    pthread_mutex_unlock(&h->lock);
    return a ? 0 : -ENOENT;
}

void adc_hub_run_ended(struct adc_hub *h, const char *app_id, const char *run_id) {
    pthread_mutex_lock(&h->lock);
    for (struct agent *a = h->agents; a; a = a->next)
        if (strcmp(a->app_id, app_id) == 0 && strcmp(a->run_id, run_id) == 0)
            a->run_id[0] = '\0';
    pthread_mutex_unlock(&h->lock);
}

bool adc_hub_connected(struct adc_hub *h, const char *app_id) {
    pthread_mutex_lock(&h->lock);
    struct queue *q = queue_get(h, app_id, false);
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
    for (struct agent *a = h->agents; a; a = a->next) {
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
