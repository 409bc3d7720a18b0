/* POST /api/v1/login: sign-in through the agent (docs/product.md section 5,
 * docs/agent-protocol.md). The server never sees a directory password at rest: it hands the check
 * to one connected agent of the configuration that owns the user and relays the answer. It does not
 * guess: no agent or no answer in time is 503, never 200 or 401.
 *
 * docs/product.md section 11: attempts are throttled (api/throttle.h) before the directory is
 * asked, and a name that exists is answered like one that does not: same status, same time
 * (denials are answered DENIED_DELAY_US after the request began, whatever the cause), and the
 * same 503 when the agent that would check it is away (see unknown_user_reachable). */
#include <errno.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/channel.h"
#include "api/cluster-check.h"
#include "api/hub.h"
#include "api/throttle.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/macros.h"
#include "common/secret.h"
#include "server.h"
#include "store/store-configs.h"
#include "store/store-login-throttle.h"
#include "store/store-users.h"

/* A userName longer than this cannot exist in the store (SCIM limit of this server) and a
 * password longer than this is no password anyone types; both are refused before any work. */
#define MAX_USER_NAME 256
#define MAX_PASSWORD 1024

/* A denied sign-in is answered this long after its request began: guessing costs the guesser
 * time, and the answer takes as long whether the directory was asked (a bind: a few ms) or the
 * name does not exist. The accepted path is not slowed. */
#define DENIED_DELAY_US 200000

static double mono_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void denied(struct adc_http_response *res, double started) {
    double left = started + DENIED_DELAY_US / 1e6 - mono_now();
    if (left > 0) /* the answer waits, no thread does */
        adc_http_delay(res, (unsigned)(left * 1000));
    adc_http_error(res, 401, NULL, "invalid username or password");
}

static void unavailable(struct adc_http_response *res, const char *why) {
    adc_http_error(res, 503, NULL, "cannot check the password right now: %s", why);
}

/* ---- familiar addresses, written behind the sign-in ----
 * A success makes its (account, address) familiar (throttle.h). Writing that in the request
 * would put a write transaction, and a wait for the store's writer lock held by a Bulk import,
 * into every first sign-in: the benchmark's 1,000 sign-ins per second under 20 ms would not
 * hold. They are queued here and written by one thread every FLUSH_S seconds, in one
 * transaction; when the queue is full, new ones wait for a later sign-in (familiarity is a
 * convenience for the real user, not a security property). The same thread prunes old rows. */
#define FAMILIAR_QUEUE 4096
#define FLUSH_S 2
#define ADMIT_TICK_S 0.1 /* how late a sign-in waiting for room learns that its time is up */
#define PRUNE_EVERY_S 600

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    char *keys[FAMILIAR_QUEUE];
    size_t n;
    bool stop, started;
    pthread_t thread;
    struct adc_store *store;
    unsigned char hash_key[16]; /* for unknown_user_reachable */
} bg = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static void familiar_queue(const char *key) {
    pthread_mutex_lock(&bg.lock);
    if (bg.started && bg.n < FAMILIAR_QUEUE) {
        char *k = strdup(key);
        if (k)
            bg.keys[bg.n++] = k;
    }
    pthread_mutex_unlock(&bg.lock);
}

static void flush(char **keys, size_t n, bool prune) {
    struct adc_db *db = adc_store_acquire(bg.store);
    if (!db)
        return;
    int64_t now = time(NULL);
    if (adc_db_begin(db, true) == 0) {
        int r = 0;
        struct adc_store_login_throttle row = {.exists = true, .updated = now, .window_start = now};
        for (size_t i = 0; i < n && r == 0; i++)
            r = adc_store_login_throttle_put(db, keys[i], &row);
        if (r == 0 && prune) {
            int64_t keep = (int64_t)ADC_THROTTLE_FAMILIAR_DAYS * 86400;
            if (adc_store_login_throttle_prune(db, "f:", now - keep, now) < 0 ||
                adc_store_login_throttle_prune(db, "a:", now - 86400, now) < 0 ||
                adc_store_login_throttle_prune(db, "p:", now - 86400, now) < 0 ||
                adc_store_login_throttle_prune(db, "c:", now - 86400, now) < 0)
                r = -EIO;
        }
        if (r == 0)
            r = adc_db_commit(db);
        if (r < 0) {
            adc_db_rollback(db);
            log_warning("login throttling: cannot record familiar addresses: %s", strerror(-r));
        }
    }
    adc_store_release(db);
}

static void admit_expire(double now);

static void *background_main(void *userdata) {
    (void)userdata;
    double last_prune = mono_now();
    double next_flush = last_prune + FLUSH_S;
    pthread_mutex_lock(&bg.lock);
    for (;;) {
        /* Every ADMIT_TICK_S: sign-ins waiting for room whose time is up (admit_defer). */
        struct timespec at;
        clock_gettime(CLOCK_REALTIME, &at);
        at.tv_nsec += (long)(ADMIT_TICK_S * 1e9);
        if (at.tv_nsec >= 1000000000L) {
            at.tv_sec++;
            at.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&bg.wake, &bg.lock, &at);
        if (!bg.stop && mono_now() < next_flush) {
            pthread_mutex_unlock(&bg.lock);
            admit_expire(mono_now());
            pthread_mutex_lock(&bg.lock);
            continue;
        }
        next_flush = mono_now() + FLUSH_S;
        char **keys = NULL;
        size_t n = bg.n;
        if (n > 0 && (keys = malloc(n * sizeof(*keys)))) {
            memcpy(keys, bg.keys, n * sizeof(*keys));
            bg.n = 0;
        } else {
            n = 0;
        }
        bool stop = bg.stop;
        pthread_mutex_unlock(&bg.lock);
        bool prune = mono_now() - last_prune > PRUNE_EVERY_S;
        if (n > 0 || prune)
            flush(keys, n, prune);
        if (prune)
            last_prune = mono_now();
        for (size_t i = 0; i < n; i++)
            free(keys[i]);
        free(keys);
        pthread_mutex_lock(&bg.lock);
        if (stop)
            break;
    }
    pthread_mutex_unlock(&bg.lock);
    return NULL;
}

int adc_login_start(struct adc_server *srv) {
    if (RAND_bytes(bg.hash_key, sizeof(bg.hash_key)) != 1)
        return -EIO;
    bg.store = srv->store;
    bg.stop = false;
    int e = pthread_create(&bg.thread, NULL, background_main, NULL);
    if (e != 0)
        return -e;
    pthread_mutex_lock(&bg.lock);
    bg.started = true;
    pthread_mutex_unlock(&bg.lock);
    return 0;
}

void adc_login_stop(void) {
    pthread_mutex_lock(&bg.lock);
    bool started = bg.started;
    bg.stop = true;
    bg.started = false;
    pthread_cond_broadcast(&bg.wake);
    pthread_mutex_unlock(&bg.lock);
    if (started)
        pthread_join(bg.thread, NULL); /* it writes what was queued before it ends */
    for (size_t i = 0; i < bg.n; i++)
        free(bg.keys[i]);
    bg.n = 0;
}

/* ---- names that do not exist ---- */

struct app_ids {
    char (*ids)[40];
    size_t n, cap;
};

static int collect_app_id(const struct adc_store_config *c, void *userdata) {
    struct app_ids *a = userdata;
    if (adc_grow_array(a->ids, a->cap, a->n, 8) < 0)
        return -ENOMEM;
    snprintf(a->ids[a->n++], sizeof(a->ids[0]), "%s", c->app_id);
    return 0;
}

/* Whether a name that no sync configuration owns would be "checked" now: the name stands for
 * one configuration picked by a keyed hash of it, and is answered 503 when that configuration
 * has no agent, as a user of that configuration would be. With one configuration (the usual
 * case) a missing name and a real one get the same answer in every state of the agent; with
 * several, which configuration a missing name stands for cannot be told from outside. */
static bool unknown_user_reachable(struct adc_server *srv, struct adc_db *db, const char *key) {
    struct app_ids a = {0};
    bool reachable = true;
    if (adc_store_config_list(db, collect_app_id, &a) >= 0 && a.n > 0) {
        uint64_t h = 14695981039346656037ull;
        for (size_t i = 0; i < sizeof(bg.hash_key); i++)
            h = (h ^ bg.hash_key[i]) * 1099511628211ull;
        for (const unsigned char *p = (const unsigned char *)key; *p; p++)
            h = (h ^ *p) * 1099511628211ull;
        reachable = adc_channel_connected(srv, a.ids[h % a.n]);
    }
    free(a.ids);
    return reachable;
}

/* ---- the store's side of throttling ---- */

static int throttle_load(struct adc_db *db, struct adc_throttle *t) {
    const char *keys[ADC_THROTTLE_KEYS];
    for (size_t i = 0; i < ADC_THROTTLE_KEYS; i++)
        keys[i] = t->keys[i];
    return adc_store_login_throttle_get(db, keys, ADC_THROTTLE_KEYS, t->rows);
}

static void admit_left(void);

/* Records a denial (the rows throttle.c changed, in one write transaction) and ends the
 * attempt's place in flight, under the account's lock (throttle.h). */
static void throttle_record_failure(struct adc_server *srv, struct adc_throttle *t) {
    adc_throttle_lock(t);
    struct adc_db *db = adc_store_acquire(srv->store);
    int r = db ? adc_db_begin(db, true) : -EIO;
    if (r == 0) {
        /* Read again inside the transaction: other attempts may have counted meanwhile. */
        int64_t now = time(NULL);
        unsigned write = 0;
        r = throttle_load(db, t);
        if (r == 0)
            adc_throttle_failed(t, now, &write);
        for (size_t i = 0; r == 0 && i < ADC_THROTTLE_KEYS; i++)
            if (write & 1u << i)
                r = adc_store_login_throttle_put(db, t->keys[i], &t->rows[i]);
        if (r == 0)
            r = adc_db_commit(db);
        if (r < 0)
            adc_db_rollback(db);
    }
    adc_store_release(db);
    adc_throttle_leave(t);
    adc_throttle_unlock(t);
    admit_left();
    if (r < 0)
        log_warning("login throttling: cannot record a failed sign-in: %s", strerror(-r));
}

/* After a success: the account's and the pair's failures are forgotten (the directory resets
 * its count on a good bind too); the address becomes familiar. Writes only when there is
 * something to change, so that steady sign-ins cost a read. */
static void throttle_record_success(struct adc_server *srv, struct adc_throttle *t, int64_t now) {
    if (!adc_throttle_familiar(t, now) || now - t->rows[ADC_THROTTLE_FAMILIAR].updated > 86400)
        familiar_queue(t->keys[ADC_THROTTLE_FAMILIAR]);
    if (!t->rows[ADC_THROTTLE_ACCOUNT].exists && !t->rows[ADC_THROTTLE_PAIR].exists)
        return;
    struct adc_db *db = adc_store_acquire(srv->store);
    if (!db)
        return;
    int r = adc_db_begin(db, true);
    if (r == 0) {
        r = adc_store_login_throttle_delete(db, t->keys[ADC_THROTTLE_ACCOUNT]);
        if (r == 0)
            r = adc_store_login_throttle_delete(db, t->keys[ADC_THROTTLE_PAIR]);
        if (r == 0)
            r = adc_db_commit(db);
        if (r < 0)
            adc_db_rollback(db);
    }
    adc_store_release(db);
}

static void throttled(struct adc_http_response *res, const char *name, const char *client,
                      int64_t wait) {
    log_info("login %s from %s: throttled for %lld s", ADC_LOG_Q(name), client, (long long)wait);
    res->retry_after = (unsigned)wait;
    adc_http_error(res, 429, NULL, "too many failed sign-ins; try again in %lld seconds",
                   (long long)wait);
}

/* ---- room among the attempts in flight ----
 * An attempt enters the account's attempts in flight (adc_throttle_enter) before asking the
 * directory. Without room it waits for attempts in flight to end, reading the rows again
 * (their failures may have locked it meanwhile), for at most ADMIT_WAIT_S, and then gets a 429
 * of a second. It waits without a thread (adc_http_defer): a burst of parallel guesses at one
 * account must not hold the server's workers. It is woken when an attempt of this process
 * leaves (admit_notify: the only event that makes room), and by the background thread when its
 * time is up; admit.gen closes the race between "no room" and going to sleep. No store
 * connection is held while waiting. */
#define ADMIT_WAIT_S 5.0

struct login_state {
    struct login_state *next; /* in admit.head while it waits for room */
    struct adc_http_request *req;
    double started;
    bool owned;
    json_t *body; /* holds the name as typed */
    const char *name;
    char *password;
    struct adc_throttle t;
    struct adc_store_user user;
};

static struct {
    pthread_mutex_t lock;
    struct login_state *head;
    unsigned long gen; /* bumped by every attempt that leaves */
} admit = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void state_free(struct login_state *st) {
    if (!st)
        return;
    adc_secret_free(st->password);
    adc_store_user_done(&st->user);
    json_decref(st->body);
    free(st);
}

/* Wakes the sign-ins waiting for room (all, or those whose time is up before `due`). */
static void admit_wake(bool all, double due) {
    pthread_mutex_lock(&admit.lock);
    for (struct login_state **p = &admit.head; *p;) {
        struct login_state *st = *p;
        if (all || st->started + ADMIT_WAIT_S <= due) {
            *p = st->next;
            adc_http_wake(st->req);
        } else {
            p = &st->next;
        }
    }
    pthread_mutex_unlock(&admit.lock);
}

static void admit_expire(double now) { admit_wake(false, now); }

/* An attempt left the attempts in flight: room, maybe. */
static void admit_left(void) {
    __atomic_add_fetch(&admit.gen, 1, __ATOMIC_SEQ_CST);
    admit_wake(true, 0);
}

static void leave(struct adc_throttle *t) {
    adc_throttle_leave(t);
    admit_left();
}

void adc_login_wake_waiters(void) { admit_wake(true, 0); }

/* One look: 0 entered (the caller leaves later); the seconds of a 429; -EIO; -EAGAIN no room. */
static int64_t admit_once(struct adc_server *srv, struct adc_throttle *t) {
    adc_throttle_lock(t);
    struct adc_db *db = adc_store_acquire(srv->store);
    int r = db ? throttle_load(db, t) : -EIO;
    adc_store_release(db);
    int64_t now = time(NULL);
    int64_t wait = r == 0 ? adc_throttle_check(t, now) : 0;
    bool entered = r == 0 && wait == 0 && adc_throttle_enter(t, now);
    adc_throttle_unlock(t);
    if (r < 0)
        return -EIO;
    return wait > 0 ? wait : entered ? 0 : -EAGAIN;
}

static void login_check(struct login_state *st, struct adc_http_request *req,
                        struct adc_http_response *res);

static void admit_resume(struct adc_http_request *req, struct adc_http_response *res,
                         void *userdata);

/* Enters st's attempt and goes on with the check, or answers, or waits for room (st then
 * belongs to the deferred request). Frees st unless it waits. */
static void admit_or_wait(struct login_state *st, struct adc_http_request *req,
                          struct adc_http_response *res) {
    struct adc_server *srv = req->server;
    const char *client = adc_http_client_addr(req);
    for (;;) {
        unsigned long gen = __atomic_load_n(&admit.gen, __ATOMIC_SEQ_CST);
        int64_t wait = admit_once(srv, &st->t);
        if (wait == 0) {
            login_check(st, req, res);
            break;
        }
        if (wait > 0) {
            throttled(res, st->name, client, wait);
            break;
        }
        if (wait == -EIO) {
            adc_http_error(res, 503, NULL, "the store is busy; try again");
            break;
        }
        if (srv->stopping) {
            unavailable(res, "the server is stopping");
            break;
        }
        if (mono_now() - st->started > ADMIT_WAIT_S) {
            throttled(res, st->name, client, 1);
            break;
        }
        pthread_mutex_lock(&admit.lock);
        if (__atomic_load_n(&admit.gen, __ATOMIC_SEQ_CST) != gen) {
            pthread_mutex_unlock(&admit.lock); /* one left meanwhile: look again */
            continue;
        }
        st->req = req;
        st->next = admit.head;
        admit.head = st;
        adc_http_defer(req, res, admit_resume, st); /* nobody wakes it before the unlock */
        pthread_mutex_unlock(&admit.lock);
        return;
    }
    state_free(st);
}

static void admit_resume(struct adc_http_request *req, struct adc_http_response *res,
                         void *userdata) {
    admit_or_wait(userdata, req, res);
}

/* The entered attempt: denied at once when no configuration owns the name (counted as a
 * failure), else the check through an agent (api/cluster-check.h). */
static void login_check(struct login_state *st, struct adc_http_request *req,
                        struct adc_http_response *res) {
    struct adc_server *srv = req->server;
    const char *client = adc_http_client_addr(req);
    struct adc_throttle *t = &st->t;
    struct adc_store_user *user = &st->user;
    if (!st->owned) {
        throttle_record_failure(srv, t);
        denied(res, st->started);
        return;
    }
    enum adc_hub_outcome o;
    char *reason = NULL;
    /* Through this instance's agents or another instance's (api/cluster-check.h). */
    int r = adc_cluster_check_password(srv, user->provider, user->user_name, st->password,
                                       srv->login_timeout * 1000, &o, &reason);
    adc_secret_free(st->password);
    st->password = NULL;
    if (r < 0) {
        leave(t);
        adc_http_error(res, 500, NULL, "out of memory");
        return;
    }
    switch (o) {
    case ADC_HUB_ACCEPTED:
        leave(t);
        log_info("login %s from %s: accepted by the agent of '%s'", ADC_LOG_Q(user->user_name),
                 client, user->provider);
        throttle_record_success(srv, t, time(NULL));
        adc_http_json(res, 200,
                      json_pack("{s:s, s:s}", "userName", user->user_name, "id", user->id));
        break;
    case ADC_HUB_DENIED:
        /* Counted before it stops being in flight: a parallel burst never sees a gap. */
        throttle_record_failure(srv, t);
        log_info("login %s from %s: denied by the agent (%s)", ADC_LOG_Q(user->user_name), client,
                 ADC_LOG_Q(reason ? reason : ""));
        denied(res, st->started);
        break;
    case ADC_HUB_UNAVAILABLE:
        leave(t);
        log_warning("login %s: cannot check the password: %s", ADC_LOG_Q(user->user_name),
                    ADC_LOG_Q(reason ? reason : "no answer"));
        unavailable(res, reason ? reason : "no answer from the agent");
        break;
    }
    free(reason);
}

void adc_login_handle(struct adc_http_request *req, struct adc_http_response *res) {
    struct adc_server *srv = req->server;
    double started = mono_now();
    struct login_state *st = NULL;
    json_t *body = adc_http_body_object(req, res);
    /* The raw body holds the password too; parsed, it is needed no more. */
    explicit_bzero(req->body, req->body_len);
    if (!body)
        return;
    const char *name = json_string_value(json_object_get(body, "username"));
    const char *pw = json_string_value(json_object_get(body, "password"));
    const char *client = adc_http_client_addr(req);
    if (!name || !pw) {
        adc_http_error(res, 400, "invalidValue",
                       "\"username\" and \"password\" are required strings");
        goto out;
    }
    /* No such name can exist, and an empty password would be an anonymous bind that "succeeds"
     * (docs/product.md section 5): denied without asking anyone, so nothing to throttle. */
    if (strlen(name) == 0 || strlen(name) > MAX_USER_NAME || strlen(pw) > MAX_PASSWORD ||
        pw[0] == '\0') {
        log_info("login %s from %s: denied (%s)", ADC_LOG_Q(name), client,
                 pw[0] ? "name or password too long" : "empty password");
        denied(res, started);
        goto out;
    }
    st = calloc(1, sizeof(*st));
    if (!st || !(st->password = strdup(pw))) {
        adc_http_error(res, 500, NULL, "out of memory");
        goto out;
    }
    st->started = started;
    st->body = body; /* holds name from now on */
    st->name = name;
    body = NULL;
    /* The parsed body holds the only other copy; it goes now. */
    json_object_del(st->body, "password");
    struct adc_throttle *t = &st->t;
    if (adc_throttle_init(t, name, client) < 0) {
        log_info("login %s from %s: denied (not a name)", ADC_LOG_Q(name), client);
        denied(res, started);
        goto out;
    }

    /* The user and the throttling rows in one visit to the store, under the account's lock
     * (throttle.h): a sign-in costs one connection from the pool and two indexed reads. */
    adc_throttle_lock(t);
    struct adc_db *db = adc_store_acquire(srv->store);
    if (!db) {
        adc_throttle_unlock(t);
        adc_http_error(res, 503, NULL, "the store is busy; try again");
        goto out;
    }
    struct adc_store_user *user = &st->user;
    int r = adc_store_user_get_by_name(db, name, user);
    int lr = throttle_load(db, t);
    bool owned = r == 0 && user->active && user->provider && !adc_streq(user->provider, "local");
    bool reachable = true;
    if (r == -ENOENT || (r == 0 && !owned)) {
        /* Answered like a user whose directory said no, by the same rule of agents. */
        reachable = r == 0 && user->provider && !adc_streq(user->provider, "local")
                        ? adc_channel_connected(srv, user->provider)
                        : unknown_user_reachable(srv, db, t->keys[ADC_THROTTLE_ACCOUNT]);
    }
    adc_store_release(db); /* never held while waiting for the agent */
    int64_t now = time(NULL);
    /* A lock answers first, whoever the name is and wherever its agent is. */
    int64_t wait = lr == 0 ? adc_throttle_check(t, now) : 0;
    bool entered = lr == 0 && wait == 0 && (owned || reachable) && (r == 0 || r == -ENOENT) &&
                   adc_throttle_enter(t, now);
    adc_throttle_unlock(t);
    if (lr < 0 || (r < 0 && r != -ENOENT)) {
        adc_http_error(res, lr < 0 ? 503 : 500, NULL,
                       lr < 0 ? "the store is busy; try again" : "cannot read the user");
        goto out;
    }
    if (wait > 0) {
        throttled(res, name, client, wait);
        goto out;
    }
    if (!owned) {
        log_info("login %s from %s: denied (%s)", ADC_LOG_Q(name), client,
                 r == -ENOENT    ? "no such user"
                 : !user->active ? "user disabled"
                                 : "user not owned by a sync configuration");
        if (!reachable) {
            unavailable(res, "no agent connected");
            goto out;
        }
    }
    st->owned = owned;
    if (entered) {
        login_check(st, req, res);
        goto out;
    }
    admit_or_wait(st, req, res); /* st is its now */
    return;
out:
    state_free(st);
    json_decref(body);
}
