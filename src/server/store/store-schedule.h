/* The full-sync schedule and the live-change status of sync configurations in the store
 * (docs/product.md section 9). The schedule's due time lives in the database, not in one
 * server's memory: of several adc-server instances on one database, the one whose compare-and-
 * set moves next_sync_at on queues the run, the others see that it moved. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

struct adc_store_due {
    char app_id[40];
    int64_t interval_minutes; /* > 0 */
    int64_t next_sync_at;     /* Unix seconds; 0 = not computed yet (a configuration from
                               * before the schedule existed) */
};

typedef int (*adc_store_due_cb)(const struct adc_store_due *d, void *ctx);
/* Configurations with a schedule whose next sync is due at `now` (Unix seconds) or was never
 * computed. Returns how many, or a negative errno (a callback's negative return stops). */
int adc_store_schedule_due(struct adc_db *db, int64_t now, adc_store_due_cb cb, void *ctx);

/* Moves app_id's next_sync_at from `expected` (0 = NULL) to `next` (0 = NULL), only if it still
 * is `expected`. Returns 1 when this call moved it (the caller owns the due run), 0 when another
 * instance (or request) moved it first or the configuration is gone, or a negative errno. */
int adc_store_schedule_claim(struct adc_db *db, const char *app_id, int64_t expected, int64_t next);

/* What the agent last reported about live changes (PUT /api/v1/agent/live). */
struct adc_store_live {
    char app_id[40];
    char watch[16]; /* syncrepl | dirsync | notify | usn | poll | off */
    char state[16]; /* streaming | paused | stopped | error */
    int64_t changes_applied;
    char *last_change;       /* "update 'alice'"-like summary, or NULL */
    char last_change_at[24]; /* empty when none yet */
    char *detail;            /* why paused/error, or NULL */
    char reported[24];
};

void adc_store_live_done(struct adc_store_live *l);
/* Inserts or replaces the row of l->app_id. */
int adc_store_live_put(struct adc_db *db, const struct adc_store_live *l);
/* 0, -ENOENT (never reported), or a negative errno. */
int adc_store_live_get(struct adc_db *db, const char *app_id, struct adc_store_live *out);
int adc_store_live_delete(struct adc_db *db, const char *app_id);
