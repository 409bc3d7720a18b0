/* Running handlers on the workers: a request whose credentials must be checked, or whose handler
 * may block (the store, a long poll), leaves the event loop suspended and comes back with its
 * answer; deferred answers (adc_http_defer) wait for adc_http_wake. */
#include "http/http-internal.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <unistd.h>

/* These live from adc_http_workers_start to adc_http_workers_stop (one daemon per process). */
static struct adc_workers *workers;
/* Requests whose connection we suspended and have not resumed yet (adc_http_stop waits). */
static unsigned long in_flight;
static pthread_mutex_t defer_lock = PTHREAD_MUTEX_INITIALIZER;

int adc_http_workers_start(unsigned n) {
    return adc_workers_new(n, n > ADC_HTTP_MAX_WORKERS ? n : ADC_HTTP_MAX_WORKERS, &workers);
}

void adc_http_workers_stop(void) {
    adc_workers_free(workers);
    workers = NULL;
}

void adc_http_wait_in_flight(void) {
    for (int i = 0; i < 500 && __atomic_load_n(&in_flight, __ATOMIC_SEQ_CST) > 0; i++)
        usleep(10000);
}

void adc_http_resume_answer(struct conn_state *st) {
    st->phase = PHASE_ANSWER;
    MHD_resume_connection(st->conn);
    __atomic_sub_fetch(&in_flight, 1, __ATOMIC_SEQ_CST);
}

/* The answer in st->res is final: send it now, or after its delay. */
static void complete(struct conn_state *st) {
    if (st->res.delay_ms > 0) {
        st->answer_at = mono_now() + st->res.delay_ms / 1000.0;
        adc_http_timer_add(st);
        return;
    }
    adc_http_resume_answer(st);
}

void adc_http_delay(struct adc_http_response *res, unsigned ms) { res->delay_ms = ms; }

void adc_http_defer(struct adc_http_request *req, struct adc_http_response *res,
                    adc_http_resume_fn fn, void *userdata) {
    (void)req;
    res->resume = fn;
    res->resume_userdata = userdata;
}

static void run_job(void *arg);

void adc_http_wake(void *userdata) {
    struct adc_http_request *req = userdata;
    struct conn_state *st = (struct conn_state *)((char *)req - offsetof(struct conn_state, req));
    pthread_mutex_lock(&defer_lock);
    bool submit = st->waiting;
    if (submit)
        st->waiting = false;
    else
        st->woken = true;
    pthread_mutex_unlock(&defer_lock);
    if (submit) {
        st->work.fn = run_job;
        st->work.arg = st;
        adc_workers_submit(workers, &st->work);
    }
}

/* Runs the route's handler, or the resume function of a deferred answer, until there is an
 * answer or the request waits for its wake-up. */
static void run_job(void *arg) {
    struct conn_state *st = arg;
    if (st->auth_later) {
        st->auth_later = false;
        if (!adc_http_credentials_ok(st)) {
            complete(st);
            return;
        }
    }
    for (;;) {
        pthread_mutex_lock(&defer_lock);
        st->woken = false;
        pthread_mutex_unlock(&defer_lock);
        adc_http_resume_fn resume = st->res.resume;
        if (resume) {
            st->res.resume = NULL;
            resume(&st->req, &st->res, st->res.resume_userdata);
        } else {
            st->route->handler(&st->req, &st->res);
        }
        if (!st->res.resume)
            break;
        pthread_mutex_lock(&defer_lock);
        bool again = st->woken;
        if (!again)
            st->waiting = true;
        pthread_mutex_unlock(&defer_lock);
        if (!again)
            return; /* adc_http_wake submits the rest */
    }
    if (st->res.status == 0)
        adc_http_error(&st->res, 500, NULL, "the handler gave no answer");
    complete(st);
}

/* Checks the credentials of a request whose headers arrived; its body is not read yet. */
static void auth_job(void *arg) {
    struct conn_state *st = arg;
    st->auth_resumed = true;
    if (!adc_http_credentials_ok(st)) {
        complete(st);
        return;
    }
    st->phase = PHASE_BODY;
    MHD_resume_connection(st->conn);
    __atomic_sub_fetch(&in_flight, 1, __ATOMIC_SEQ_CST);
}

static void suspend_for(struct conn_state *st, void (*fn)(void *)) {
    __atomic_add_fetch(&in_flight, 1, __ATOMIC_SEQ_CST);
    MHD_suspend_connection(st->conn);
    st->work.fn = fn;
    st->work.arg = st;
    adc_workers_submit(workers, &st->work);
}

/* ---- the access handler (event loop thread: never blocks) ---- */
void adc_http_check_credentials(struct conn_state *st) { suspend_for(st, auth_job); }

void adc_http_run_handler(struct conn_state *st) { suspend_for(st, run_job); }
