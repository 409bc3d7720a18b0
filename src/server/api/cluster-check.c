/* Password checks across instances (api/cluster-check.h). */
#include "api/cluster-check.h"

#include <errno.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/cluster.h"
#include "api/seal.h"
#include "common/log.h"
#include "common/macros.h"
#include "common/secret.h"
#include "common/wire.h"
#include "server.h"
#include "store/store-cluster.h"
#include "store/store.h"

#define CHANNEL "adc_commands"
/* How often a waiting origin looks at its row and at the target's liveness itself. */
#define LOOK_EVERY_S 0.5
/* An agent that connected to the origin while a check waits elsewhere takes it over after
 * this long (a check answered meanwhile is not asked twice). */
#define LOCAL_TAKEOVER_S 1.0
/* While an agent of the configuration is registered but unreachable (its instance just died),
 * the origin looks again this often for where it reconnected. */
#define RECONNECT_LOOK_S 0.1
/* Checks this instance runs for others at once; more wait in the table (or time out). */
#define MAX_TAKEN 64
#define ID_SIZE 33

static double mono_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void random_id(char out[static ID_SIZE]) {
    unsigned char raw[16];
    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        static unsigned long long counter;
        unsigned long long c = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
        int64_t t = wall_ms();
        memcpy(raw, &c, 8);
        memcpy(raw + 8, &t, 8);
    }
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

/* What a box is bound to: a box copied into another row (another user, another
 * configuration) does not open. */
static int box_context(char *buf, size_t size, const char *id, const char *app_id,
                       const char *user_name) {
    int n = snprintf(buf, size, "%s\n%s\n%s", id, app_id, user_name);
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static const char *outcome_name(enum adc_hub_outcome o) {
    return o == ADC_HUB_ACCEPTED ? ADC_OUTCOME_ACCEPTED
           : o == ADC_HUB_DENIED ? ADC_OUTCOME_DENIED
                                 : ADC_OUTCOME_UNAVAILABLE;
}

/* ---- the origin: waiters ---- */

struct waiter {
    struct waiter *next;
    char id[ID_SIZE];
    bool woken;
    pthread_cond_t cond;
};

static struct {
    pthread_mutex_t lock;
    pthread_condattr_t attr;
    bool attr_ready;
    struct waiter *head;
    /* the checks taken for other instances */
    unsigned taken;
    pthread_cond_t taken_done;
} reg = {.lock = PTHREAD_MUTEX_INITIALIZER, .taken_done = PTHREAD_COND_INITIALIZER};

static void waiter_add(struct waiter *w) {
    pthread_mutex_lock(&reg.lock);
    if (!reg.attr_ready) {
        pthread_condattr_init(&reg.attr);
        pthread_condattr_setclock(&reg.attr, CLOCK_MONOTONIC);
        reg.attr_ready = true;
    }
    pthread_cond_init(&w->cond, &reg.attr);
    w->woken = false;
    w->next = reg.head;
    reg.head = w;
    pthread_mutex_unlock(&reg.lock);
}

static void waiter_remove(struct waiter *w) {
    pthread_mutex_lock(&reg.lock);
    for (struct waiter **p = &reg.head; *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            break;
        }
    pthread_mutex_unlock(&reg.lock);
    pthread_cond_destroy(&w->cond);
}

/* Waits until woken or until mono time `until`. */
static void waiter_wait(struct waiter *w, double until) {
    struct timespec at;
    double t = until;
    at.tv_sec = (time_t)t;
    at.tv_nsec = (long)((t - (double)at.tv_sec) * 1e9);
    pthread_mutex_lock(&reg.lock);
    while (!w->woken)
        if (pthread_cond_timedwait(&w->cond, &reg.lock, &at) == ETIMEDOUT)
            break;
    w->woken = false;
    pthread_mutex_unlock(&reg.lock);
}

void adc_cluster_check_answered(const char *id) {
    pthread_mutex_lock(&reg.lock);
    for (struct waiter *w = reg.head; w; w = w->next)
        if (strcmp(w->id, id) == 0) {
            w->woken = true;
            pthread_cond_signal(&w->cond);
        }
    pthread_mutex_unlock(&reg.lock);
}

void adc_cluster_checks_wake_all(void) {
    pthread_mutex_lock(&reg.lock);
    for (struct waiter *w = reg.head; w; w = w->next) {
        w->woken = true;
        pthread_cond_signal(&w->cond);
    }
    pthread_mutex_unlock(&reg.lock);
}

/* ---- the origin: one attempt on another instance ---- */

enum attempt { ATTEMPT_DONE, ATTEMPT_AGAIN };

static int exec_autocommit(struct adc_server *srv, int (*fn)(struct adc_db *, void *), void *arg) {
    struct adc_db *db = adc_store_acquire(srv->store);
    int r = db ? fn(db, arg) : -EIO;
    adc_store_release(db);
    return r;
}

struct add_args {
    const char *id, *app_id, *user_name, *target, *box;
    int64_t deadline_ms;
};

/* Inserts the row and notifies the target, each a statement of its own (no writer lock: the
 * row is only ever touched by its id). */
static int add_row(struct adc_db *db, void *arg) {
    struct add_args *a = arg;
    int r = adc_store_check_add(db, a->id, a->app_id, a->user_name, adc_cluster_instance(),
                                a->target, a->box, wall_ms(), a->deadline_ms);
    char payload[ID_SIZE + 1];
    snprintf(payload, sizeof(payload), "c%s", a->id);
    return r < 0 ? r : adc_db_notify(db, CHANNEL, payload);
}

static int delete_row(struct adc_db *db, void *arg) { return adc_store_check_delete(db, arg); }

struct answer {
    const char *id;
    char outcome[16];
    char reason[256];
    bool retry;
    int r;
};

static int read_answer(struct adc_db *db, void *arg) {
    struct answer *a = arg;
    a->r =
        adc_store_check_answer_get(db, a->id, a->outcome, a->reason, sizeof(a->reason), &a->retry);
    return 0;
}

struct alive_args {
    const char *instance;
};

static int target_alive(struct adc_db *db, void *arg) {
    struct alive_args *a = arg;
    return adc_store_instance_alive(db, a->instance, time(NULL) - ADC_CLUSTER_INSTANCE_TTL_S);
}

static enum attempt attempt_remote(struct adc_server *srv, const char *target,
                                   const char *public_key, const char *app_id,
                                   const char *user_name, const char *password, double deadline,
                                   enum adc_hub_outcome *outcome, char **reason) {
    struct waiter w;
    random_id(w.id);
    char context[600];
    char *box = NULL;
    if (box_context(context, sizeof(context), w.id, app_id, user_name) < 0 ||
        adc_seal(public_key, context, password, strlen(password), &box) < 0) {
        *outcome = ADC_HUB_UNAVAILABLE;
        *reason = strdup("cannot seal the password for the agent's instance");
        return ATTEMPT_DONE;
    }
    double started = mono_now();
    struct add_args add = {w.id,   app_id, user_name,
                           target, box,    wall_ms() + (int64_t)((deadline - started) * 1000)};
    waiter_add(&w);
    int r = exec_autocommit(srv, add_row, &add);
    free(box);
    enum attempt result = ATTEMPT_DONE;
    if (r < 0) {
        *outcome = ADC_HUB_UNAVAILABLE;
        *reason = strdup("the store is unavailable");
        goto out;
    }
    double next_look = started + LOOK_EVERY_S;
    for (;;) {
        waiter_wait(&w, next_look < deadline ? next_look : deadline);
        struct answer a = {.id = w.id, .r = -EIO}; /* not answered when the store is away */
        exec_autocommit(srv, read_answer, &a);
        double now = mono_now();
        if (a.r == 0) {
            exec_autocommit(srv, delete_row, w.id);
            if (a.retry && now < deadline) {
                log_info("check %s: the agent on %s is gone (%s); trying another", w.id, target,
                         ADC_LOG_Q(a.reason));
                result = ATTEMPT_AGAIN;
                goto out;
            }
            *outcome = adc_streq(a.outcome, ADC_OUTCOME_ACCEPTED) ? ADC_HUB_ACCEPTED
                       : adc_streq(a.outcome, ADC_OUTCOME_DENIED) ? ADC_HUB_DENIED
                                                                  : ADC_HUB_UNAVAILABLE;
            *reason = strdup(a.reason);
            goto out;
        }
        if (a.r == -ENOENT) { /* pruned, or the target gave it up: ask again */
            result = now < deadline ? ATTEMPT_AGAIN : ATTEMPT_DONE;
            if (result == ATTEMPT_DONE) {
                *outcome = ADC_HUB_UNAVAILABLE;
                *reason = strdup("the agent did not answer in time");
            }
            goto out;
        }
        if (now >= deadline) {
            exec_autocommit(srv, delete_row, w.id);
            *outcome = ADC_HUB_UNAVAILABLE;
            *reason = strdup("the agent did not answer in time");
            goto out;
        }
        if (now < next_look)
            continue; /* woken early, but not answered yet */
        next_look = now + LOOK_EVERY_S;
        struct alive_args al = {target};
        bool local =
            now - started >= LOCAL_TAKEOVER_S && adc_hub_live(srv->hub, app_id, ADC_CLUSTER_LIVE_S);
        if (local || exec_autocommit(srv, target_alive, &al) == 0) {
            /* The target died (its agent reconnects elsewhere), or the agent is here now. */
            exec_autocommit(srv, delete_row, w.id);
            log_info("check %s: %s; trying again", w.id,
                     local ? "an agent of the configuration connected here"
                           : "the instance holding the agent stopped answering");
            result = ATTEMPT_AGAIN;
            goto out;
        }
    }
out:
    waiter_remove(&w);
    return result;
}

struct target_args {
    const char *app_id;
    char instance[80];
    char key[65];
};

static int find_target(struct adc_db *db, void *arg) {
    struct target_args *t = arg;
    int64_t now = time(NULL);
    return adc_store_check_target(db, t->app_id, adc_cluster_instance(),
                                  now - ADC_HUB_CONNECTED_TIMEOUT, now - ADC_CLUSTER_INSTANCE_TTL_S,
                                  t->instance, t->key);
}

int adc_cluster_check_password(struct adc_server *srv, const char *app_id, const char *user_name,
                               const char *password, int timeout_ms, enum adc_hub_outcome *outcome,
                               char **reason) {
    if (!adc_cluster_active())
        return adc_hub_check_password(srv->hub, app_id, user_name, password, timeout_ms, outcome,
                                      reason, NULL);
    double deadline = mono_now() + timeout_ms / 1000.0;
    bool tried = false;
    for (;;) {
        double left = deadline - mono_now();
        if (left <= 0) {
            *outcome = ADC_HUB_UNAVAILABLE;
            *reason = strdup(tried ? "the agent did not answer in time" : "no agent connected");
            return 0;
        }
        /* A local agent that is polling first; a silent one (it may have reconnected
         * elsewhere) only when no other instance has one. */
        struct target_args t = {.app_id = app_id};
        int r = -ENOENT;
        bool local = adc_hub_live(srv->hub, app_id, ADC_CLUSTER_LIVE_S);
        if (!local && (r = exec_autocommit(srv, find_target, &t)) == -ENOENT)
            local = adc_hub_connected(srv->hub, app_id);
        if (local) {
            bool gone = false;
            int r = adc_hub_check_password(srv->hub, app_id, user_name, password,
                                           (int)(left * 1000), outcome, reason, &gone);
            if (r < 0 || !gone || mono_now() >= deadline)
                return r;
            free(*reason); /* its agent left: another may answer */
            *reason = NULL;
            tried = true;
            continue;
        }
        if (r == 0) {
            tried = true;
            if (attempt_remote(srv, t.instance, t.key, app_id, user_name, password, deadline,
                               outcome, reason) == ATTEMPT_DONE)
                return 0;
            continue;
        }
        /* No agent reachable now: wait for one only while one is registered somewhere (its
         * instance just died; it reconnects through the load balancer) or one was asked. */
        if (r != -ENOENT || !(tried || adc_cluster_connected_elsewhere(srv, app_id))) {
            *outcome = ADC_HUB_UNAVAILABLE;
            *reason = strdup(r != -ENOENT ? "the store is unavailable" : "no agent connected");
            return 0;
        }
        usleep((useconds_t)(RECONNECT_LOOK_S * 1e6));
    }
}

/* ---- the target: checks sealed to this instance ---- */

struct job {
    struct adc_server *srv;
    char id[ID_SIZE];
    char app_id[80];
    char *user_name;
    char *box;
    int64_t deadline_ms;
};

static void job_free(struct job *j) {
    free(j->user_name);
    adc_secret_free(j->box);
    free(j);
}

struct answer_args {
    const char *id, *outcome, *reason;
    bool retry;
};

static int write_answer(struct adc_db *db, void *arg) {
    struct answer_args *a = arg;
    int r = adc_store_check_answer(db, a->id, a->outcome, a->reason, a->retry);
    char payload[ID_SIZE + 1];
    snprintf(payload, sizeof(payload), "a%s", a->id);
    return r < 0 ? r : adc_db_notify(db, CHANNEL, payload);
}

static void *job_main(void *arg) {
    struct job *j = arg;
    char context[600];
    char *password = NULL;
    enum adc_hub_outcome o = ADC_HUB_UNAVAILABLE;
    char *reason = NULL;
    bool gone = true;
    const struct adc_seal_key *key = adc_cluster_key();
    if (box_context(context, sizeof(context), j->id, j->app_id, j->user_name) < 0 || !key ||
        adc_seal_open(key, context, j->box, &password, NULL) < 0) {
        /* Sealed to a predecessor of this instance's name, or altered: the origin seals
         * again to the key it reads now. */
        reason = strdup("the check was not sealed to this instance's key");
    } else {
        int64_t left = j->deadline_ms - wall_ms();
        if (adc_hub_check_password(j->srv->hub, j->app_id, j->user_name, password,
                                   left > 0 ? (int)left : 0, &o, &reason, &gone) < 0)
            reason = NULL;
        adc_secret_free(password);
    }
    struct answer_args a = {j->id, outcome_name(o), reason ? reason : "",
                            o == ADC_HUB_UNAVAILABLE && gone};
    if (exec_autocommit(j->srv, write_answer, &a) < 0)
        log_warning("check %s: cannot record the answer for its instance", j->id);
    free(reason);
    job_free(j);
    pthread_mutex_lock(&reg.lock);
    reg.taken--;
    pthread_cond_broadcast(&reg.taken_done);
    pthread_mutex_unlock(&reg.lock);
    return NULL;
}

struct take_ctx {
    struct adc_server *srv;
};

static void take_cb(const char *id, const char *app_id, const char *user_name, const char *sealed,
                    int64_t deadline_ms, void *ctx) {
    struct take_ctx *t = ctx;
    struct job *j = calloc(1, sizeof(*j));
    if (j) {
        j->srv = t->srv;
        snprintf(j->id, sizeof(j->id), "%s", id ? id : "");
        snprintf(j->app_id, sizeof(j->app_id), "%s", app_id ? app_id : "");
        j->user_name = strdup(user_name ? user_name : "");
        j->box = strdup(sealed ? sealed : "");
        j->deadline_ms = deadline_ms;
    }
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_mutex_lock(&reg.lock);
    reg.taken++;
    pthread_mutex_unlock(&reg.lock);
    if (!j || !j->user_name || !j->box || pthread_create(&th, &attr, job_main, j) != 0) {
        /* Cannot run it: the origin tries elsewhere or again. */
        struct answer_args a = {id, ADC_OUTCOME_UNAVAILABLE, "the instance is out of resources",
                                true};
        exec_autocommit(t->srv, write_answer, &a);
        if (j)
            job_free(j);
        pthread_mutex_lock(&reg.lock);
        reg.taken--;
        pthread_cond_broadcast(&reg.taken_done);
        pthread_mutex_unlock(&reg.lock);
    }
    pthread_attr_destroy(&attr);
}

struct take_args {
    const char *id;
    struct take_ctx ctx;
};

static int take_rows(struct adc_db *db, void *arg) {
    struct take_args *a = arg;
    return adc_store_checks_take(db, adc_cluster_instance(), a->id, wall_ms(), take_cb, &a->ctx);
}

void adc_cluster_checks_take(struct adc_server *srv, const char *id) {
    pthread_mutex_lock(&reg.lock);
    bool room = reg.taken < MAX_TAKEN;
    pthread_mutex_unlock(&reg.lock);
    if (!room || !srv->hub)
        return; /* the next look (every 2 s) takes them, or they time out */
    struct take_args a = {id, {srv}};
    exec_autocommit(srv, take_rows, &a);
}

void adc_cluster_checks_join(void) {
    pthread_mutex_lock(&reg.lock);
    while (reg.taken > 0)
        pthread_cond_wait(&reg.taken_done, &reg.lock);
    pthread_mutex_unlock(&reg.lock);
}
