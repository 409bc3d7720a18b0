/* The System Administrator API under /api/v1 (docs/product.md section 6): sync configurations,
 * their secrets and settings (api-admin.c); run history, "sync now", the audit log and /metrics
 * (api-runs.c). */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "store/store-configs.h"

/* The JSON a sync configuration is shown as (never with its secret). The agent channel adds
 * its connection state to this object. */
json_t *adc_api_config_render(struct adc_db *db, const struct adc_store_config *c);

/* Checks a "settings" object from a request: known keys only, each true, false or (when
 * allow_null) null. Merges it into the stored settings text *settings (replaced on success).
 * Returns 0 or -1 with a reason in why. */
int adc_api_settings_merge(char **settings, const json_t *in, bool allow_null, char *why,
                           size_t why_size);

struct adc_server;
struct adc_http_request;
struct adc_http_response;

/* A connection for a handler; NULL after answering 503. */
struct adc_db *adc_api_db_acquire(struct adc_http_request *req, struct adc_http_response *res);
/* Reads sync configuration app_id into *c: 0, or a negative errno after answering 404/500. */
int adc_api_config_load(struct adc_db *db, const char *app_id, struct adc_store_config *c,
                        struct adc_http_response *res);

/* Queues a sync of app_id for its agents, as "Sync now" and the schedule (schedule.h) do: 0
 * with the new run's id in run_id; -ENOENT (no such configuration), -ENOTCONN (no agent
 * connected), -EBUSY (a sync is queued or running already: its id in busy_run_id), -EAGAIN
 * (store busy), -EIO. trigger: "manual" or "schedule" (runs.h). One at a time per process. */
int adc_api_queue_sync(struct adc_server *srv, const char *app_id, bool dry_run,
                       const char *trigger, const char *actor, char run_id[static 40],
                       char busy_run_id[static 40]);
