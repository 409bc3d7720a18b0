/* Live changes in `adc run` (docs/product.md section 9): a thread of its own that runs the
 * watcher (watch/watch.h) chosen from backend.ldap.sync.watch or the root DSE, writes each change
 * to the cloud (sync/delta.h), keeps the position in the state file (watch/live-state.h) after
 * the cloud accepted the change, runs a full sync (trigger "startup") when there is no position
 * it can resume from, and tells the server how it goes (PUT /api/v1/agent/live). Password checks
 * and commanded syncs run on their own threads meanwhile. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "agent/agent.h"

struct adc_live;

/* Starts live changes with a reference to cfg; *ret is NULL when the watch is "off". Returns 0
 * or a negative errno. */
int adc_live_start(struct adc_agent_config *cfg, struct adc_live **ret);
/* Stops the thread (within about half a second, or when the change in hand is written), reports
 * "stopped", and frees. The position of the last accepted change is in the state file already.
 * Accepts NULL. */
void adc_live_stop(struct adc_live *l);

/* The agent's id from its connect to the server (NULL: not connected): a startup full sync's
 * run record names it. Safe from any thread; the id is copied. */
void adc_live_set_agent_id(const char *agent_id);

/* A full sync of this configuration finished (a sync command, agent-sync-engine.c): when it
 * succeeded, live deletes paused by the burst guard flow again, and n_owned (the users of this
 * configuration) resolves a percentage max-delete. Safe from any thread. */
void adc_live_full_sync_done(bool succeeded, size_t n_owned);
