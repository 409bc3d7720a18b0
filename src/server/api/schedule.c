#include "api/schedule.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api-admin.h"
#include "api/channel.h"
#include "api/hub.h"
#include "common/buf.h"
#include "common/log.h"
#include "server.h"
#include "store/store-schedule.h"
#include "store/store-users.h"

/* How often the schedule is looked at: the due time is honoured within this. One indexed-less
 * query over sync_configs; there are few configurations, so it costs microseconds. */
#define TICK_S 1

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop, poked, started;
    pthread_t thread;
    struct adc_server *srv;
} sched = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

struct due_list {
    struct adc_store_due *v;
    size_t n, cap;
};

static int collect(const struct adc_store_due *d, void *ctx) {
    struct due_list *l = ctx;
    if (adc_grow_array(l->v, l->cap, l->n, 16) < 0)
        return -ENOMEM;
    l->v[l->n++] = *d;
    return 0;
}

static int claim(struct adc_server *srv, const struct adc_store_due *d, int64_t next) {
    struct adc_db *db = adc_store_acquire(srv->store);
    if (!db)
        return -EIO;
    int r = adc_store_schedule_claim(db, d->app_id, d->next_sync_at, next);
    adc_store_release(db);
    return r;
}

int adc_schedule_tick(struct adc_server *srv, int64_t now) {
    struct due_list due = {0};
    struct adc_db *db = adc_store_acquire(srv->store);
    if (!db)
        return -EIO;
    int r = adc_store_schedule_due(db, now, collect, &due);
    adc_store_release(db);
    int queued = 0;
    int minute = srv->schedule_minute > 0 ? srv->schedule_minute : 60;
    for (size_t i = 0; r >= 0 && i < due.n; i++) {
        const struct adc_store_due *d = &due.v[i];
        int64_t next = now + d->interval_minutes * minute;
        if (d->next_sync_at == 0) {
            /* Never computed (a configuration older than the schedule): one interval from
             * now, like a new configuration. */
            claim(srv, d, next);
            continue;
        }
        /* Not connected here: it stays due; the instance an agent connects to runs it. */
        if (!srv->hub || !adc_hub_connected(srv->hub, d->app_id))
            continue;
        if (claim(srv, d, next) != 1)
            continue; /* another instance (or a poke racing this tick) took it */
        char run_id[40], busy[40];
        int q = adc_api_queue_sync(srv, d->app_id, false, "schedule", "schedule", run_id, busy);
        if (q == 0)
            queued++;
        else if (q == -EBUSY)
            log_info("scheduled sync of '%s' not queued: run %s is still in progress; next in "
                     "%lld minutes",
                     d->app_id, busy, (long long)d->interval_minutes);
        else
            log_warning("scheduled sync of '%s' not queued: %s", d->app_id, strerror(-q));
    }
    free(due.v);
    return r < 0 ? r : queued;
}

/* Users created since the last settle go into the externalId index (store-users.h) once
 * creates pause: when a tick finds the same number of them as the tick before. During an
 * import each Bulk request settles them in batches itself. */
static void settle_when_idle(struct adc_server *srv, int64_t *seen) {
    struct adc_db *db = adc_store_acquire_writer(srv->store);
    if (!db)
        return;
    int64_t n = adc_store_users_unsettled(db);
    if (n > 0 && n == *seen) {
        int64_t r = adc_store_users_settle(db, true);
        if (r < 0)
            log_warning("externalId index: settling %lld users failed: %s", (long long)n,
                        strerror((int)-r));
        else
            n = adc_store_users_unsettled(db);
    }
    *seen = n;
    adc_store_release(db);
}

static void *schedule_main(void *userdata) {
    struct adc_server *srv = userdata;
    int64_t unsettled = -1;
    pthread_mutex_lock(&sched.lock);
    while (!sched.stop) {
        sched.poked = false;
        pthread_mutex_unlock(&sched.lock);
        adc_schedule_tick(srv, (int64_t)time(NULL));
        settle_when_idle(srv, &unsettled);
        pthread_mutex_lock(&sched.lock);
        if (sched.stop || sched.poked)
            continue;
        struct timespec at;
        clock_gettime(CLOCK_REALTIME, &at);
        at.tv_sec += TICK_S;
        pthread_cond_timedwait(&sched.cond, &sched.lock, &at);
    }
    pthread_mutex_unlock(&sched.lock);
    return NULL;
}

int adc_schedule_start(struct adc_server *srv) {
    pthread_mutex_lock(&sched.lock);
    sched.stop = false;
    sched.srv = srv;
    int r = 0;
    if (!sched.started) {
        r = -pthread_create(&sched.thread, NULL, schedule_main, srv);
        sched.started = r == 0;
    }
    pthread_mutex_unlock(&sched.lock);
    return r;
}

void adc_schedule_poke(void) {
    pthread_mutex_lock(&sched.lock);
    sched.poked = true;
    pthread_cond_broadcast(&sched.cond);
    pthread_mutex_unlock(&sched.lock);
}

void adc_schedule_stop(void) {
    pthread_mutex_lock(&sched.lock);
    sched.stop = true;
    pthread_cond_broadcast(&sched.cond);
    pthread_mutex_unlock(&sched.lock);
}

void adc_schedule_join(void) {
    pthread_mutex_lock(&sched.lock);
    bool started = sched.started;
    sched.started = false;
    pthread_mutex_unlock(&sched.lock);
    if (started)
        pthread_join(sched.thread, NULL);
}
