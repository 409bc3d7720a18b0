/* How runs end when their agent cannot report: a run failed by the server (its agent left, or
 * the server restarted under it), the agent that took a run, whether a sync is in progress,
 * and the recovery of runs left unfinished by a previous server process. Transactions over
 * the run records in the store (store-runs.h). */
#pragma once

#include <stdbool.h>

#include "store/store.h"

/* Runs send a heartbeat (docs/product.md section 11): every report on the run record (PUT
 * /api/v1/agent/runs/{id}) and every poll of the agent that carries the run refresh its
 * `updated` time. A queued or running run without one for ADC_RUN_HEARTBEAT_S (or serve
 * --run-timeout) is failed by a thread of adc_runs_heartbeat_start, so that a killed `adc imp`
 * does not hold "sync now" back, and is not counted as in progress before that either. */
#define ADC_RUN_HEARTBEAT_S 120

/* Starts the thread that fails runs without a heartbeat for timeout_s seconds; stopped and
 * joined by adc_runs_heartbeat_stop. 0 or a negative errno. */
int adc_runs_heartbeat_start(struct adc_store *store, int timeout_s);
void adc_runs_heartbeat_stop(void);
/* A heartbeat of run_id (an agent carrying it polled). 0 or a negative errno. */
int adc_run_heartbeat(struct adc_store *store, const char *run_id);

/* Records a run failed unless it already ended, keeping the errors it reported before, with
 * an audit line. Returns 0, -ENOENT, -EALREADY (already ended), or -EIO. */
int adc_run_fail(struct adc_store *store, const char *run_id, const char *why);
/* Notes in the run record which agent took it (shown by GET /api/v1/runs/{id}). */
void adc_run_taken(struct adc_store *store, const char *run_id, const char *agent_id);
/* Inside a write transaction that may create a run of app_id next: the newest run of app_id
 * queued or running and not stale: 1 with its id in run_id; 0 when none, after failing (in the
 * transaction) the stale ones, since the store allows one queued or running run per
 * configuration (a unique index: docs/product.md section 11, across instances too); or a
 * negative errno. */
int adc_run_busy(struct adc_db *db, const char *app_id, char run_id[static 40]);

/* At start: fails the queued runs a previous process left (their command queue lived in its
 * memory) and watches the running ones: an agent keeps syncing through a restart and
 * connects again, so each gets a grace period, then fails if its record did not move. */
int adc_runs_recover_start(struct adc_store *store);
/* Stops the watch (SIGTERM); adc_runs_recover_free waits for it and frees. */
void adc_runs_recover_stop(void);
void adc_runs_recover_free(void);
