/* A pool of worker threads running jobs in the order they were given. The HTTP layer runs
 * everything that may block (SQLite, a password check waiting for the agent, password hashing)
 * here, so that its event loop never waits and a connection holds no thread
 * (docs/design.md). The pool keeps `min` threads; when every thread is busy (sign-ins waiting
 * for a slow directory) and a job waits, it starts another, up to `max`, so that waiting jobs
 * do not hold up quick ones; threads above `min` end after ADC_WORKERS_IDLE_S without work. */
#pragma once

#include <stddef.h>

struct adc_workers;

/* A job: the pool calls fn(arg) once on one of its threads. The job's memory is the caller's
 * (embedded in what arg points to), so submitting cannot fail. */
struct adc_work {
    struct adc_work *next;
    void (*fn)(void *arg);
    void *arg;
};

#define ADC_WORKERS_IDLE_S 10

/* Starts min threads (max >= min). 0, or a negative errno. */
int adc_workers_new(unsigned min, unsigned max, struct adc_workers **out);
/* Queues w (w->fn and w->arg set by the caller; w stays untouched by anyone else until fn runs).
 * Any thread. */
void adc_workers_submit(struct adc_workers *p, struct adc_work *w);
/* Jobs queued and not yet started (for tests and /metrics). */
size_t adc_workers_backlog(struct adc_workers *p);
/* Threads running now. */
unsigned adc_workers_threads(struct adc_workers *p);
/* Runs what is queued, then stops and joins the threads and frees the pool. NULL is fine. */
void adc_workers_free(struct adc_workers *p);
