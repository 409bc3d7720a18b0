/* LISTEN/NOTIFY of the PostgreSQL engine (adc_store_listen in store.h): a thread with a
 * connection of its own that LISTENs on a channel, hands every notification to the callback,
 * calls it with NULL for a full look every interval and after every (re)connection, and
 * connects again with a growing pause when the connection breaks (a PostgreSQL restart). */
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "store/store-engine.h"
#include "store/store-postgresql.h"

struct pg_listener {
    struct adc_store_listener base;
    struct pg_store *store;
    char channel[64];
    int interval_ms;
    void (*cb)(void *ctx, const char *payload);
    void *ctx;
    int stop_pipe[2];
    pthread_t thread;
};

/* Waits up to ms for the listener's socket (or the stop pipe); false when told to stop. */
static bool wait_input(struct pg_listener *l, int fd, int ms) {
    struct pollfd p[2] = {{.fd = l->stop_pipe[0], .events = POLLIN}, {.fd = fd, .events = POLLIN}};
    poll(p, fd >= 0 ? 2 : 1, ms);
    return !(p[0].revents & POLLIN);
}

static void *listen_main(void *arg) {
    struct pg_listener *l = arg;
    int backoff_ms = 100;
    for (;;) {
        PGconn *c = NULL;
        char sql[100];
        snprintf(sql, sizeof(sql), "LISTEN %s", l->channel);
        if (adc_pg_connect(l->store, &c) == 0 && adc_pg_exec_simple(l->store, c, sql) == 0) {
            backoff_ms = 100;
            l->cb(l->ctx, NULL); /* listening now: look at what was queued before */
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            double last_full = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
            while (PQstatus(c) == CONNECTION_OK) {
                if (!wait_input(l, PQsocket(c), l->interval_ms))
                    goto stop;
                if (!PQconsumeInput(c))
                    break; /* the connection broke: connect, LISTEN and look again */
                for (PGnotify *n; (n = PQnotifies(c)); PQfreemem(n))
                    l->cb(l->ctx, n->extra ? n->extra : "");
                /* The full look also when notifications never stop coming. */
                clock_gettime(CLOCK_MONOTONIC, &ts);
                double now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
                if (now - last_full >= l->interval_ms / 1000.0) {
                    last_full = now;
                    l->cb(l->ctx, NULL);
                }
            }
            log_notice("lost the notification connection to the %s; connecting again",
                       adc_pg_label(l->store));
        }
        PQfinish(c);
        if (!wait_input(l, -1, backoff_ms))
            return NULL;
        backoff_ms = backoff_ms < 5000 ? backoff_ms * 2 : 5000;
        continue;
    stop:
        PQfinish(c);
        return NULL;
    }
}

void adc_pg_listener_free(struct adc_store_listener *base) {
    struct pg_listener *l = (struct pg_listener *)base;
    if (write(l->stop_pipe[1], "x", 1) < 0) {
        /* a full pipe: the thread is being woken already */
    }
    pthread_join(l->thread, NULL);
    close(l->stop_pipe[0]);
    close(l->stop_pipe[1]);
    free(l);
}

int adc_pg_listen(struct adc_store *base, const char *channel, int interval_ms,
                  void (*cb)(void *ctx, const char *payload), void *ctx,
                  struct adc_store_listener **out) {
    struct pg_listener *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->base.engine = &adc_store_postgresql;
    l->store = (struct pg_store *)base;
    snprintf(l->channel, sizeof(l->channel), "%s", channel);
    l->interval_ms = interval_ms;
    l->cb = cb;
    l->ctx = ctx;
    if (pipe2(l->stop_pipe, O_CLOEXEC) < 0) {
        free(l);
        return -errno;
    }
    int r = pthread_create(&l->thread, NULL, listen_main, l);
    if (r != 0) {
        close(l->stop_pipe[0]);
        close(l->stop_pipe[1]);
        free(l);
        return -r;
    }
    *out = &l->base;
    return 0;
}
