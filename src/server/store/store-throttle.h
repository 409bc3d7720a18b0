/* Throttling counters in the store: failed sign-ins per client address, per account, ... keyed
 * by a string the caller builds ("console:203.0.113.7"). In the database rather than in memory
 * so that every adc-server instance on one database counts the same failures, and a restart
 * forgets nothing. Times are Unix seconds. */
#pragma once

#include <stdint.h>

#include "store/store.h"

/* Counts one event for key inside the caller's write transaction: a count whose last event is
 * more than window seconds before now starts again at 1. Returns the new count (>= 1) or a
 * negative errno. One statement (an upsert): two instances counting at once both count. */
int64_t adc_store_throttle_hit(struct adc_db *db, const char *key, int64_t now, int64_t window);
/* The current count of key (0 when unknown or when its last event is older than window). */
int64_t adc_store_throttle_count(struct adc_db *db, const char *key, int64_t now, int64_t window);
/* Forgets key (after a success). 0 or a negative errno. */
int adc_store_throttle_clear(struct adc_db *db, const char *key);
/* Forgets every key whose last event is before `before`; returns how many, or a negative errno. */
int64_t adc_store_throttle_prune(struct adc_db *db, int64_t before);

/* The same, each in a transaction of its own on a connection of s: for callers that hold no
 * connection. adc_store_throttle_add also prunes keys idle for more than window seconds now
 * and then, so the table stays as small as the set of recent offenders. */
int64_t adc_store_throttle_add(struct adc_store *s, const char *key, int64_t window);
int64_t adc_store_throttle_get(struct adc_store *s, const char *key, int64_t window);
int adc_store_throttle_reset(struct adc_store *s, const char *key);
