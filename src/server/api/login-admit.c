/* The store's side of sign-in throttling (api/throttle.h decides, this file reads and writes the
 * rows) and the room among the attempts in flight (docs/product.md section 11).
 *
 * An attempt enters the account's attempts in flight (adc_throttle_enter) before asking the
 * directory. Without room it waits for attempts in flight to end, reading the rows again
 * (their failures may have locked it meanwhile), for at most ADMIT_WAIT_S, and then gets a 429
 * of a second. It waits without a thread (adc_http_defer): a burst of parallel guesses at one
 * account must not hold the server's workers. It is woken when an attempt of this process
 * leaves (admit_left: the only event that makes room), and by the background thread
 * (login-familiar.c) when its time is up; admit.gen closes the race between "no room" and going
 * to sleep. No store connection is held while waiting. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "api/channel.h"
#include "api/login-internal.h"
#include "api/throttle.h"
#include "common/log.h"
#include "server.h"
#include "store/store-login-throttle.h"

#define ADMIT_WAIT_S 5.0

static struct {
    pthread_mutex_t lock;
    struct login_state *head;
    unsigned long gen; /* bumped by every attempt that leaves */
} admit = {.lock = PTHREAD_MUTEX_INITIALIZER};

int adc_login_throttle_load(struct adc_db *db, struct adc_throttle *t) {
    const char *keys[ADC_THROTTLE_KEYS];
    for (size_t i = 0; i < ADC_THROTTLE_KEYS; i++)
        keys[i] = t->keys[i];
    return adc_store_login_throttle_get(db, keys, ADC_THROTTLE_KEYS, t->rows);
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

void adc_login_admit_expire(double now) { admit_wake(false, now); }

/* An attempt left the attempts in flight: room, maybe. */
static void admit_left(void) {
    __atomic_add_fetch(&admit.gen, 1, __ATOMIC_SEQ_CST);
    admit_wake(true, 0);
}

void adc_login_leave(struct adc_throttle *t) {
    adc_throttle_leave(t);
    admit_left();
}

void adc_login_wake_waiters(void) { admit_wake(true, 0); }

/* Records a denial (the rows throttle.c changed, in one write transaction) and ends the
 * attempt's place in flight, under the account's lock (throttle.h). */
void adc_login_record_failure(struct adc_server *srv, struct adc_throttle *t) {
    adc_throttle_lock(t);
    struct adc_db *db = adc_store_acquire(srv->store);
    int r = db ? adc_db_begin(db, true) : -EIO;
    if (r == 0) {
        /* Read again inside the transaction: other attempts may have counted meanwhile. */
        int64_t now = time(NULL);
        unsigned write = 0;
        r = adc_login_throttle_load(db, t);
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
void adc_login_record_success(struct adc_server *srv, struct adc_throttle *t, int64_t now) {
    if (!adc_throttle_familiar(t, now) || now - t->rows[ADC_THROTTLE_FAMILIAR].updated > 86400)
        adc_login_familiar_queue(t->keys[ADC_THROTTLE_FAMILIAR]);
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

/* One look: 0 entered (the caller leaves later); the seconds of a 429; -EIO; -EAGAIN no room. */
static int64_t admit_once(struct adc_server *srv, struct adc_throttle *t) {
    adc_throttle_lock(t);
    struct adc_db *db = adc_store_acquire(srv->store);
    int r = db ? adc_login_throttle_load(db, t) : -EIO;
    adc_store_release(db);
    int64_t now = time(NULL);
    int64_t wait = r == 0 ? adc_throttle_check(t, now) : 0;
    bool entered = r == 0 && wait == 0 && adc_throttle_enter(t, now);
    adc_throttle_unlock(t);
    if (r < 0)
        return -EIO;
    return wait > 0 ? wait : entered ? 0 : -EAGAIN;
}

static void admit_resume(struct adc_http_request *req, struct adc_http_response *res,
                         void *userdata) {
    adc_login_admit_or_wait(userdata, req, res);
}

void adc_login_admit_or_wait(struct login_state *st, struct adc_http_request *req,
                             struct adc_http_response *res) {
    struct adc_server *srv = req->server;
    const char *client = adc_http_client_addr(req);
    for (;;) {
        unsigned long gen = __atomic_load_n(&admit.gen, __ATOMIC_SEQ_CST);
        int64_t wait = admit_once(srv, &st->t);
        if (wait == 0) {
            adc_login_check(st, req, res);
            break;
        }
        if (wait > 0) {
            adc_login_throttled(res, st->name, client, wait);
            break;
        }
        if (wait == -EIO) {
            adc_http_error(res, 503, NULL, "the store is busy; try again");
            break;
        }
        if (srv->stopping) {
            adc_login_unavailable(res, "the server is stopping");
            break;
        }
        if (adc_login_now() - st->started > ADMIT_WAIT_S) {
            adc_login_throttled(res, st->name, client, 1);
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
    adc_login_state_free(st);
}
