/* The timer thread of the HTTP layer: answers that leave after a delay (adc_http_delay: a wrong
 * password is answered slowly) and, about every 0.1 s, the header deadline of http-conn.c. */
#include "http/http-internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

/* These live from adc_http_timer_start to adc_http_timer_stop (one daemon per process). */
static pthread_mutex_t timer_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t timer_cond;
static struct conn_state *timer_list; /* sorted by answer_at */
static bool timer_stop;
static bool timer_started;
static pthread_t timer_thread;

static struct timespec realtime_at(double mono_at) {
    /* The condition variable uses CLOCK_MONOTONIC (adc_http_timer_start). */
    struct timespec ts = {.tv_sec = (time_t)mono_at};
    ts.tv_nsec = (long)((mono_at - (double)ts.tv_sec) * 1e9);
    return ts;
}

static void *timer_main(void *userdata) {
    (void)userdata;
    double next_sweep = 0;
    pthread_mutex_lock(&timer_lock);
    for (;;) {
        double now = mono_now();
        while (timer_list && (timer_list->answer_at <= now || timer_stop)) {
            struct conn_state *st = timer_list;
            timer_list = st->timer_next;
            pthread_mutex_unlock(&timer_lock);
            adc_http_resume_answer(st);
            pthread_mutex_lock(&timer_lock);
        }
        if (timer_stop)
            break;
        if (now >= next_sweep) {
            pthread_mutex_unlock(&timer_lock);
            adc_http_cut_slow_headers(now);
            pthread_mutex_lock(&timer_lock);
            next_sweep = now + 0.1;
        }
        double wake = next_sweep;
        if (timer_list && timer_list->answer_at < wake)
            wake = timer_list->answer_at;
        struct timespec at = realtime_at(wake);
        pthread_cond_timedwait(&timer_cond, &timer_lock, &at);
    }
    pthread_mutex_unlock(&timer_lock);
    return NULL;
}

int adc_http_timer_start(void) {
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&timer_cond, &ca);
    pthread_condattr_destroy(&ca);
    timer_stop = false;
    if (pthread_create(&timer_thread, NULL, timer_main, NULL) != 0)
        return -EAGAIN;
    timer_started = true;
    return 0;
}

void adc_http_timer_stop(void) {
    pthread_mutex_lock(&timer_lock);
    timer_stop = true;
    pthread_cond_signal(&timer_cond);
    pthread_mutex_unlock(&timer_lock);
    if (timer_started)
        pthread_join(timer_thread, NULL);
    timer_started = false;
}

void adc_http_timer_add(struct conn_state *st) {
    pthread_mutex_lock(&timer_lock);
    if (timer_stop) { /* stopping: no more waiting */
        pthread_mutex_unlock(&timer_lock);
        adc_http_resume_answer(st);
        return;
    }
    struct conn_state **p = &timer_list;
    while (*p && (*p)->answer_at <= st->answer_at)
        p = &(*p)->timer_next;
    st->timer_next = *p;
    *p = st;
    pthread_cond_signal(&timer_cond);
    pthread_mutex_unlock(&timer_lock);
}
