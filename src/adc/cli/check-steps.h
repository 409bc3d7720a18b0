/* Steps of `adc check` that live beside the module they exercise. Each prints what it
 * checked and returns an exit status (exit-codes.h). */
#pragma once

#include "cli/commands.h"

/* adc.cfg's credentials against the server (GET /api/v1/agent/config); OK without adc.cfg. */
int adc_check_step_cloud(struct adc_context *ctx);
