/* How runs end when their agent cannot report: a run failed by the server (its agent left, or
 * the server restarted under it), the agent that took a run, whether a sync is in progress,
 * and the recovery of runs left unfinished by a previous server process. Transactions over
 * the run records in the store (store-runs.h). */
#pragma once

#include <stdbool.h>

#include "store/store.h"

/* A queued or running run whose record did not change for this long is not counted as in
 * progress: it belongs to an `adc imp` that died without a final report. Agents report progress
 * every few seconds, and the hub fails an agent's run as soon as the agent goes. */
#define ADC_RUN_STALE_S (15 * 60)

/* Records a run failed unless it already ended, keeping the errors it reported before, with
 * an audit line. Returns 0, -ENOENT, -EALREADY (already ended), or -EIO. */
int adc_run_fail(struct adc_store *store, const char *run_id, const char *why);
/* Notes in the run record which agent took it (shown by GET /api/v1/runs/{id}). */
void adc_run_taken(struct adc_store *store, const char *run_id, const char *agent_id);
/* The newest run of app_id queued or running and not stale: 1 with its id in run_id, 0 when
 * none, or a negative errno. */
int adc_run_busy(struct adc_db *db, const char *app_id, char run_id[static 40]);

/* At start: fails the queued runs a previous process left (their command queue lived in its
 * memory) and watches the running ones: an agent keeps syncing through a restart and
 * connects again, so each gets a grace period, then fails if its record did not move. */
int adc_runs_recover_start(struct adc_store *store);
/* Stops the watch (SIGTERM); adc_runs_recover_free waits for it and frees. */
void adc_runs_recover_stop(void);
void adc_runs_recover_free(void);
