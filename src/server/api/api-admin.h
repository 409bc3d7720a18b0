/* The System Administrator API under /api/v1 (docs/product.md section 6): sync configurations, their
 * secrets and settings, run history, the audit log. */
#pragma once

#include <jansson.h>

#include "store/store-configs.h"

/* The JSON a sync configuration is shown as (never with its secret). The agent channel adds
 * its connection state to this object. */
json_t *adc_api_config_render(struct adc_db *db, const struct adc_store_config *c);

/* Checks a "settings" object from a request: known keys only, each true, false or (when
 * allow_null) null. Merges it into the stored settings text *settings (replaced on success).
 * Returns 0 or -1 with a reason in why. */
int adc_api_settings_merge(char **settings, const json_t *in, bool allow_null, char *why,
                           size_t why_size);
