#include "http/workers.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

struct adc_workers {
    pthread_mutex_t lock;
    pthread_cond_t ready;  /* work queued, or stopping */
    pthread_cond_t exited; /* a thread ended (adc_workers_free waits for all) */
    struct adc_work *head, *tail;
    size_t backlog;
    bool stop;
    unsigned min, max;
    unsigned threads; /* running */
    unsigned idle;    /* waiting for work */
};

static void *worker_main(void *userdata) {
    struct adc_workers *p = userdata;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->head && !p->stop) {
            p->idle++;
            int e = 0;
            if (p->threads > p->min) {
                struct timespec at;
                clock_gettime(CLOCK_MONOTONIC, &at);
                at.tv_sec += ADC_WORKERS_IDLE_S;
                e = pthread_cond_timedwait(&p->ready, &p->lock, &at);
            } else {
                pthread_cond_wait(&p->ready, &p->lock);
            }
            p->idle--;
            if (e == ETIMEDOUT && !p->head && p->threads > p->min)
                goto exit; /* an extra thread without work */
        }
        struct adc_work *w = p->head;
        if (!w)
            break; /* stopping, and nothing left */
        p->head = w->next;
        if (!p->head)
            p->tail = NULL;
        p->backlog--;
        pthread_mutex_unlock(&p->lock);
        w->next = NULL;
        w->fn(w->arg); /* may free w */
        pthread_mutex_lock(&p->lock);
    }
exit:
    p->threads--;
    pthread_cond_broadcast(&p->exited);
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Under the lock. Threads are detached: adc_workers_free waits for the count to reach 0. */
static int start_thread(struct adc_workers *p) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int e = pthread_create(&t, &attr, worker_main, p);
    pthread_attr_destroy(&attr);
    if (e == 0)
        p->threads++;
    return -e;
}

int adc_workers_new(unsigned min, unsigned max, struct adc_workers **out) {
    struct adc_workers *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    pthread_mutex_init(&p->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->ready, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&p->exited, NULL);
    p->min = min ? min : 1;
    p->max = max > p->min ? max : p->min;
    pthread_mutex_lock(&p->lock);
    int r = 0;
    for (unsigned i = 0; i < p->min && r == 0; i++)
        r = start_thread(p);
    pthread_mutex_unlock(&p->lock);
    if (r < 0) {
        adc_workers_free(p);
        return r;
    }
    *out = p;
    return 0;
}

void adc_workers_submit(struct adc_workers *p, struct adc_work *w) {
    w->next = NULL;
    pthread_mutex_lock(&p->lock);
    if (p->tail)
        p->tail->next = w;
    else
        p->head = w;
    p->tail = w;
    p->backlog++;
    /* Every thread busy: one more, unless at the maximum (then the job waits its turn). A
     * failure to start one is no error: the running threads take the job later. */
    if (p->idle < p->backlog && p->threads < p->max)
        start_thread(p);
    pthread_cond_signal(&p->ready);
    pthread_mutex_unlock(&p->lock);
}

size_t adc_workers_backlog(struct adc_workers *p) {
    pthread_mutex_lock(&p->lock);
    size_t n = p->backlog;
    pthread_mutex_unlock(&p->lock);
    return n;
}

unsigned adc_workers_threads(struct adc_workers *p) {
    pthread_mutex_lock(&p->lock);
    unsigned n = p->threads;
    pthread_mutex_unlock(&p->lock);
    return n;
}

void adc_workers_free(struct adc_workers *p) {
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->ready);
    while (p->threads > 0)
        pthread_cond_wait(&p->exited, &p->lock);
    pthread_mutex_unlock(&p->lock);
    pthread_cond_destroy(&p->exited);
    pthread_cond_destroy(&p->ready);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
