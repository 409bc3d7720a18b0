/* Run records: what `adc imp` and `adc run` report about their syncs (docs/product.md section 6), as
 * the admin API shows them. Shared by the agent API and the agent channel. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "store/store-runs.h"

#define ADC_RUN_MAX_ERRORS 100      /* errors kept per run; the count says how many there were */
#define ADC_RUN_MAX_ERROR_LEN 1000  /* characters kept of one error message */

/* The stats keys of `adc imp --json`. */
extern const char *const adc_run_stat_keys[8];

/* Why a run started (docs/product.md section 9): "manual" (Sync now), "schedule", "imp"
 * (`adc imp`), "startup" (`adc run` starting without a position it can resume from). */
bool adc_run_trigger_valid(const char *trigger);

/* Creates a run of app_id in the caller's write transaction; writes its id into run_id.
 * trigger: one adc_run_trigger_valid accepts. */
int adc_run_create(struct adc_db *db, const char *app_id, const char *source, const char *trigger,
                   bool dry_run, const char *status, const char *actor, char run_id[static 40]);

/* Applies a status report {"status","stats","errors","error_count"?} to run. Returns 0, or an
 * HTTP status (400 malformed, 409 run already finished) with the reason in why. */
unsigned adc_run_apply_report(struct adc_store_run *run, const json_t *report, char *why,
                              size_t why_size);

json_t *adc_run_render(const struct adc_store_run *run);
