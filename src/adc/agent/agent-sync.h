/* A sync commanded by the server, run in a thread of its own so the agent keeps answering
 * password checks (docs/product.md section 5), with its progress and result reported to the run record
 * (PUT /api/v1/agent/runs/{run_id}, docs/agent-protocol.md). */
#pragma once

#include <stdbool.h>

#include "agent/agent.h"

struct adc_sync;

/* Starts the run in a new thread with a reference to `cfg`. Returns 0 or a negative errno. */
int adc_sync_start(struct adc_agent_config *cfg, const char *run_id, bool dry_run,
                   struct adc_sync **ret);
bool adc_sync_running(struct adc_sync *s);
/* Asks the run to stop at its next step; it then reports itself failed. */
void adc_sync_cancel(struct adc_sync *s);
/* Waits up to timeout_ms for the thread to end; true when it has. */
bool adc_sync_wait(struct adc_sync *s, int timeout_ms);
/* For a run that will not end before the process exits: records it failed with `why`. */
void adc_sync_report_abandoned(struct adc_sync *s, const char *why);
/* Records a run this agent will not start as failed. */
void adc_sync_report_refused(struct adc_agent_config *cfg, const char *run_id, const char *why);
/* Waits for the thread and frees. Accepts NULL. */
void adc_sync_free(struct adc_sync *s);
