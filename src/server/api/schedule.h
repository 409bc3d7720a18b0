/* The full-sync schedule (docs/product.md section 9): a thread that, about once a second, asks
 * the store which sync configurations are due and queues a sync (trigger "schedule") for those
 * with an agent connected to this server. A configuration due while no agent is connected stays
 * due and runs as soon as one connects (adc_schedule_poke from the connect handler).
 *
 * Several adc-server instances may share one database: each due time is claimed with a
 * compare-and-set in the store (store-schedule.h), so a due sync is queued once. An instance
 * claims only for configurations that have an agent connected to it. */
#pragma once

#include <stdint.h>

struct adc_server;

/* Starts the thread (one per process). 0 or a negative errno. */
int adc_schedule_start(struct adc_server *srv);
/* Looks at the schedule now instead of within the next second. */
void adc_schedule_poke(void);
/* Asks the thread to end (returns at once); adc_schedule_join waits for it. */
void adc_schedule_stop(void);
void adc_schedule_join(void);
/* One pass: queues what is due at `now` (Unix seconds). Returns how many syncs were queued.
 * Exposed for tests; the thread calls it. */
int adc_schedule_tick(struct adc_server *srv, int64_t now);
