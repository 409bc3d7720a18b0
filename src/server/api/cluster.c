#include "api/cluster.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/cluster-check.h"
#include "api/hub.h"
#include "api/seal.h"
#include "common/log.h"
#include "common/macros.h"
#include "common/wire.h"
#include "server.h"
#include "store/store-cluster.h"
#include "store/store.h"

#define CHANNEL "adc_commands"
/* The listener looks at the queue at least this often (stale claims, missed wake-ups). */
#define CHECK_INTERVAL_MS 2000
/* A claim not refreshed for this long belongs to an instance that is gone. */
#define CLAIM_TTL_S 10

static struct {
    struct adc_server *srv;
    struct adc_store_listener *listener;
    char instance[80];
    struct adc_seal_key *key; /* in memory only (api/seal.h) */
    int64_t oldest_start;     /* of the instances alive, as last looked at (atomic) */
} cl;

bool adc_cluster_active(void) { return cl.listener != NULL; }

const char *adc_cluster_instance(void) { return cl.instance; }

const struct adc_seal_key *adc_cluster_key(void) { return cl.key; }

time_t adc_cluster_oldest_start(void) {
    return adc_cluster_active() ? (time_t)__atomic_load_n(&cl.oldest_start, __ATOMIC_RELAXED) : 0;
}

/* This instance is alive (its row's `seen`), in a statement of its own rather than in a write
 * transaction: a long Bulk import holding the store's writer lock must not make the other
 * instances think this one died. */
static void heartbeat(struct adc_server *srv) {
    struct adc_db *db = adc_store_acquire(srv->store);
    if (!db)
        return;
    int64_t now = time(NULL), oldest = 0;
    if (adc_store_instance_seen(db, cl.instance, now, now - ADC_CLUSTER_INSTANCE_TTL_S, &oldest) ==
            0 &&
        oldest > 0)
        __atomic_store_n(&cl.oldest_start, oldest, __ATOMIC_RELAXED);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    adc_store_checks_prune(db, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    adc_store_release(db);
}

static int claim_cb(const struct adc_store_command *c, void *ctx) {
    struct adc_server *srv = ctx;
    /* Only for an agent polling here: one that went silent may have reconnected elsewhere. */
    if (!srv->hub || !adc_streq(c->type, ADC_CMD_SYNC) || !c->app_id || !c->run_id ||
        !adc_hub_live(srv->hub, c->app_id, ADC_CLUSTER_LIVE_S))
        return 0;
    return adc_hub_sync(srv->hub, c->app_id, c->run_id, c->dry_run) == 0 ? 1 : 0;
}

/* Claims what this instance's agents can take, refreshes the claims. */
static void check_queue(struct adc_server *srv) {
    struct adc_db *db = adc_store_acquire(srv->store);
    if (!db)
        return;
    int64_t now = time(NULL);
    if (adc_db_begin(db, true) == 0) {
        int r = adc_store_commands_refresh(db, cl.instance, now);
        if (r == 0)
            r = adc_store_commands_claim(db, cl.instance, now, now - CLAIM_TTL_S, claim_cb, srv);
        if (r >= 0)
            adc_db_commit(db);
        else
            adc_db_rollback(db);
    }
    adc_store_release(db);
}

/* Claims run on a thread of their own, poked by the listener: a claim is a write transaction,
 * which waits for the store's writer lock while a Bulk import holds it, and the listener must
 * meanwhile go on refreshing this instance's row and passing password checks (neither needs
 * that lock). Pokes while it works coalesce into one more look. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool dirty, stop, started;
    pthread_t thread;
} claimer = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static void claim_poke(void) {
    pthread_mutex_lock(&claimer.lock);
    claimer.dirty = true;
    pthread_cond_signal(&claimer.cond);
    pthread_mutex_unlock(&claimer.lock);
}

static void *claimer_main(void *arg) {
    struct adc_server *srv = arg;
    pthread_mutex_lock(&claimer.lock);
    for (;;) {
        while (!claimer.dirty && !claimer.stop)
            pthread_cond_wait(&claimer.cond, &claimer.lock);
        if (claimer.stop)
            break;
        claimer.dirty = false;
        pthread_mutex_unlock(&claimer.lock);
        check_queue(srv);
        pthread_mutex_lock(&claimer.lock);
    }
    pthread_mutex_unlock(&claimer.lock);
    return NULL;
}

/* The listener's wake-ups (payloads are ids only): "a<id>" a password check was answered,
 * "c<id>" one was sealed to some instance, a number a command was queued; NULL: look at
 * everything (after (re)connecting, and every CHECK_INTERVAL_MS). */
static void on_notify(void *ctx, const char *payload) {
    struct adc_server *srv = ctx;
    if (payload && payload[0] == 'a') {
        adc_cluster_check_answered(payload + 1);
        return;
    }
    if (payload && payload[0] == 'c') {
        adc_cluster_checks_take(srv, payload + 1);
        return;
    }
    if (!payload) {
        heartbeat(srv);
        adc_cluster_checks_take(srv, NULL);
        adc_cluster_checks_wake_all(); /* answers whose notification was lost */
    }
    claim_poke();
}

/* Runs one store change (an expression using db_) in a write transaction of its own. */
#define WRITE(srv, call)                                                                           \
    do {                                                                                           \
        int r_;                                                                                    \
        struct adc_db *db_ = adc_store_begin_write((srv)->store, &r_);                             \
        if (db_)                                                                                   \
            adc_store_end_write(db_, (call) < 0 ? -EIO : 0);                                       \
    } while (0)

int adc_cluster_start(struct adc_server *srv, unsigned port) {
    if (adc_store_dialect(srv->store) != ADC_SQL_POSTGRESQL)
        return 0;
    cl.srv = srv;
    char host[64] = "";
    if (gethostname(host, sizeof(host) - 1) < 0)
        snprintf(host, sizeof(host), "localhost");
    snprintf(cl.instance, sizeof(cl.instance), "%.60s:%u", host, port);
    /* A key pair of this process's own: what a predecessor of the same name could open is
     * gone with it (api/seal.h). */
    int r = adc_seal_key_new(&cl.key);
    if (r < 0) {
        log_error("cannot make the instance's key pair: %s", strerror(-r));
        return r;
    }
    char public_key[ADC_SEAL_PUBLIC_HEX];
    adc_seal_key_public(cl.key, public_key);
    int64_t now = time(NULL);
    __atomic_store_n(&cl.oldest_start, now, __ATOMIC_RELAXED);
    WRITE(srv, adc_store_instance_reset(db_, cl.instance));
    WRITE(srv, adc_store_instance_up(db_, cl.instance, public_key, now));
    claimer.stop = false;
    r = -pthread_create(&claimer.thread, NULL, claimer_main, srv);
    if (r < 0) {
        log_error("cannot start the command claimer: %s", strerror(-r));
        return r;
    }
    claimer.started = true;
    r = adc_store_listen(srv->store, CHANNEL, CHECK_INTERVAL_MS, on_notify, srv, &cl.listener);
    if (r < 0)
        log_error("cannot listen for commands of other instances: %s", strerror(-r));
    else
        log_info("instance %s: commands reach agents on any instance of the database", cl.instance);
    return r;
}

void adc_cluster_stop(void) {
    adc_store_listener_free(cl.listener);
    cl.listener = NULL;
    if (claimer.started) {
        pthread_mutex_lock(&claimer.lock);
        claimer.stop = true;
        pthread_cond_signal(&claimer.cond);
        pthread_mutex_unlock(&claimer.lock);
        pthread_join(claimer.thread, NULL);
        claimer.started = false;
    }
}

void adc_cluster_free(void) {
    adc_cluster_checks_join();
    adc_seal_key_free(cl.key);
    cl.key = NULL;
}

void adc_cluster_agent_up(struct adc_server *srv, const char *agent_id, const char *app_id,
                          const char *host, const char *version) {
    if (!adc_cluster_active())
        return;
    char since[24];
    adc_store_now(since);
    WRITE(srv, adc_store_presence_up(db_, agent_id, app_id, cl.instance, host, version, since,
                                     time(NULL)));
    claim_poke(); /* commands queued while no instance held an agent of app_id */
    adc_cluster_checks_take(srv, NULL);
}

void adc_cluster_agent_seen(struct adc_server *srv, const char *agent_id) {
    if (adc_cluster_active())
        WRITE(srv, adc_store_presence_seen(db_, agent_id, time(NULL)));
}

void adc_cluster_agent_down(struct adc_server *srv, const char *agent_id) {
    if (adc_cluster_active())
        WRITE(srv, adc_store_presence_down(db_, agent_id));
}

static int add_agent(const char *agent_id, const char *host, const char *version,
                     const char *connected_since, int64_t last_seen, void *ctx) {
    char seen[24];
    time_t t = (time_t)last_seen;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(seen, sizeof(seen), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_array_append_new(ctx, json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "agent_id", agent_id,
                                         "host", host, "version", version, "connected_since",
                                         connected_since, "last_seen", seen, "connected", 1));
    return 0;
}

void adc_cluster_agents_elsewhere(struct adc_server *srv, const char *app_id, json_t *agents) {
    if (!adc_cluster_active() || !json_is_array(agents))
        return;
    struct adc_db *db = adc_store_acquire(srv->store);
    if (db)
        adc_store_presence_list(db, app_id, cl.instance, time(NULL) - ADC_HUB_CONNECTED_TIMEOUT,
                                add_agent, agents);
    adc_store_release(db);
}

bool adc_cluster_connected_elsewhere(struct adc_server *srv, const char *app_id) {
    if (!adc_cluster_active())
        return false;
    struct adc_db *db = adc_store_acquire(srv->store);
    int64_t n = db ? adc_store_presence_elsewhere(db, app_id, cl.instance,
                                                  time(NULL) - ADC_HUB_CONNECTED_TIMEOUT)
                   : 0;
    adc_store_release(db);
    return n > 0;
}

int adc_cluster_sync(struct adc_server *srv, const char *app_id, const char *run_id, bool dry_run) {
    struct adc_db *db = adc_store_acquire(srv->store);
    int64_t id = db ? adc_db_begin(db, true) : -EIO;
    if (id == 0)
        id = adc_store_command_add(db, app_id, ADC_CMD_SYNC, run_id, dry_run, time(NULL));
    if (id > 0) {
        char payload[24];
        snprintf(payload, sizeof(payload), "%lld", (long long)id);
        if (adc_db_notify(db, CHANNEL, payload) < 0 || adc_db_commit(db) < 0)
            id = -EIO;
    } else if (db) {
        adc_db_rollback(db);
    }
    adc_store_release(db);
    return id > 0 ? 0 : -EIO;
}

void adc_cluster_taken(struct adc_server *srv, const char *run_id) {
    if (adc_cluster_active() && run_id)
        WRITE(srv, adc_store_command_done(db_, run_id));
}

int adc_cluster_release(struct adc_server *srv, const char *run_id) {
    if (!adc_cluster_active() || !run_id)
        return 0;
    struct adc_db *db = adc_store_acquire(srv->store);
    int64_t id = db ? adc_store_command_release(db, run_id) : -EIO;
    if (id > 0) {
        char payload[24];
        snprintf(payload, sizeof(payload), "%lld", (long long)id);
        adc_db_notify(db, CHANNEL, payload);
    }
    adc_store_release(db);
    if (id > 0)
        log_info("run %s: its agent left this instance; the command waits for another", run_id);
    return id > 0;
}
