#include "http/workers.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

struct adc_workers {
    pthread_mutex_t lock;
    pthread_cond_t ready;
    struct adc_work *head, *tail;
    size_t backlog;
    bool stop;
    unsigned n;
    pthread_t threads[];
};

static void *worker_main(void *userdata) {
    struct adc_workers *p = userdata;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->head && !p->stop)
            pthread_cond_wait(&p->ready, &p->lock);
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
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int adc_workers_new(unsigned n, struct adc_workers **out) {
    struct adc_workers *p = calloc(1, sizeof(*p) + n * sizeof(pthread_t));
    if (!p)
        return -ENOMEM;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->ready, NULL);
    for (unsigned i = 0; i < n; i++) {
        int e = pthread_create(&p->threads[i], NULL, worker_main, p);
        if (e != 0) {
            adc_workers_free(p);
            return -e;
        }
        p->n++;
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
    pthread_cond_signal(&p->ready);
    pthread_mutex_unlock(&p->lock);
}

size_t adc_workers_backlog(struct adc_workers *p) {
    pthread_mutex_lock(&p->lock);
    size_t n = p->backlog;
    pthread_mutex_unlock(&p->lock);
    return n;
}

void adc_workers_free(struct adc_workers *p) {
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->ready);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < p->n; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->ready);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
