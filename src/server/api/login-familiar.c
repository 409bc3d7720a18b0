/* Familiar addresses, written behind the sign-in (docs/product.md section 11, api/throttle.h).
 * A success makes its (account, address) familiar. Writing that in the request would put a
 * write transaction, and a wait for the store's writer lock held by a Bulk import, into every
 * first sign-in: the benchmark's 1,000 sign-ins per second under 20 ms would not hold. They are
 * queued here and written by one thread every FLUSH_S seconds, in one transaction; when the
 * queue is full, new ones wait for a later sign-in (familiarity is a convenience for the real
 * user, not a security property). The same thread prunes old rows, and every ADMIT_TICK_S
 * wakes the sign-ins waiting for room whose time is up (login-admit.c). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/channel.h"
#include "api/login-internal.h"
#include "api/throttle.h"
#include "common/log.h"
#include "server.h"
#include "store/store-login-throttle.h"

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
} bg = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

void adc_login_familiar_queue(const char *key) {
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

/* Waits ADMIT_TICK_S on bg.wake (bg.lock held). */
static void tick_wait(void) {
    struct timespec at;
    clock_gettime(CLOCK_REALTIME, &at);
    at.tv_nsec += (long)(ADMIT_TICK_S * 1e9);
    if (at.tv_nsec >= 1000000000L) {
        at.tv_sec++;
        at.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&bg.wake, &bg.lock, &at);
}

/* Takes the queued keys (bg.lock held): *n of them, in a new array the caller frees, or none
 * when out of memory (they stay queued). */
static char **take_queued(size_t *n) {
    char **keys = NULL;
    *n = bg.n;
    if (*n > 0 && (keys = malloc(*n * sizeof(*keys)))) {
        memcpy(keys, bg.keys, *n * sizeof(*keys));
        bg.n = 0;
    } else {
        *n = 0;
    }
    return keys;
}

static void *background_main(void *userdata) {
    (void)userdata;
    double last_prune = adc_login_now();
    double next_flush = last_prune + FLUSH_S;
    pthread_mutex_lock(&bg.lock);
    for (;;) {
        tick_wait(); /* every ADMIT_TICK_S: sign-ins waiting for room whose time is up */
        if (!bg.stop && adc_login_now() < next_flush) {
            pthread_mutex_unlock(&bg.lock);
            adc_login_admit_expire(adc_login_now());
            pthread_mutex_lock(&bg.lock);
            continue;
        }
        next_flush = adc_login_now() + FLUSH_S;
        size_t n;
        char **keys = take_queued(&n);
        bool stop = bg.stop;
        pthread_mutex_unlock(&bg.lock);
        bool prune = adc_login_now() - last_prune > PRUNE_EVERY_S;
        if (n > 0 || prune)
            flush(keys, n, prune);
        if (prune)
            last_prune = adc_login_now();
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
    if (adc_login_check_start() < 0)
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
