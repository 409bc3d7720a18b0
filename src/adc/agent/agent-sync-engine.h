/* The seam between the agent and the sync engine of `adc imp` (plan.c, apply.c): one whole
 * sync, as `adc imp` runs it, with a progress callback. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "config/config.h"

struct adc_sync_engine_params {
    const struct adc_yaml_config *yaml;
    const struct adc_service_config *service;
    bool dry_run;
    /* Called between steps with {"phase": "read"|"plan"|"apply", "done", "total"} (lent);
     * returning false stops the run before its next write. */
    bool (*progress)(void *userdata, json_t *progress);
    void *userdata;
};

/* Runs one sync. *stats gets the counts of `adc imp --json` ("created", ..., "failed") and
 * *errors an array of messages (both new references, possibly NULL). Returns 0 when the run
 * succeeded, a negative errno when it failed. */
int adc_sync_engine_run(const struct adc_sync_engine_params *p, json_t **stats, json_t **errors);
