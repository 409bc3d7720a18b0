/* The agent API of adc-server (docs/agent-protocol.md), the one client of it for `adc imp`,
 * `adc check` and `adc run`: the configuration's server-side settings, run records, and the
 * agent channel (connect, long poll, results, disconnect). Every call goes through a transport
 * (transport.h) that the caller owns; none keeps state between calls. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "cloud/transport.h"
#include "common/settings.h"

/* What GET /api/v1/agent/config says about this configuration. */
struct adc_server_settings {
    char *app_id;
    char *name;
    enum adc_tristate settings[ADC_SETTING_COUNT]; /* ADC_UNSET: the client decides */
};

/* GET /api/v1/agent/config, retried. Returns 0, or a negative errno with *err saying why
 * (unreachable, credentials refused, unexpected answer). */
int adc_agent_api_get_settings(struct adc_transport *t, struct adc_server_settings *out,
                               char **err);
void adc_server_settings_done(struct adc_server_settings *st);

/* POST /api/v1/agent/runs, once (a repeated POST would leave a second run record behind).
 * source: "imp" or "agent"; agent_id: the `adc run` that does it (its polls keep the run alive,
 * and the run record names it), or NULL. Returns 0 with a new string in *run_id; -EBUSY (409) when
 * another sync of this configuration is in progress (docs/product.md section 11: one at a time); or
 * another negative errno; *err says why. While the run lasts, the server needs a report on it
 * at least every 2 minutes (adc_agent_api_run_update with ADC_RUN_RUNNING is one), or it
 * records the run failed. */
int adc_agent_api_run_start(struct adc_transport *t, bool dry_run, const char *source,
                            const char *agent_id, char **run_id, char **err);

/* PUT /api/v1/agent/runs/{run_id}: status (ADC_RUN_RUNNING, _SUCCEEDED, _FAILED) and, each
 * optional (lent), the counts, the error messages and {"phase","done","total"} progress.
 * Repeated through outages when `retry` (a final report: it is what keeps the run from looking
 * "running" forever), once otherwise (progress). Returns 0; -EPROTO when the server refused it
 * (4xx: unknown run, already ended, secret rejected), which a repeat cannot change; or another
 * negative errno. *err says why when not NULL. */
int adc_agent_api_run_update(struct adc_transport *t, const char *run_id, const char *status,
                             json_t *stats, json_t *errors, json_t *progress, bool retry,
                             char **err);

/* POST /api/v1/agent/connect with this host's name and adc's version. Returns 0 with a new
 * string in *agent_id and the server's poll_wait; -EPERM when the secret was rejected (401);
 * -EBADMSG when the answer has no usable agent_id; -ECANCELED from the wake function; else
 * -EAGAIN (try again later) with *err saying why. */
int adc_agent_api_connect(struct adc_transport *t, const char *host, char **agent_id,
                          int *poll_wait, char **err);

/* GET /api/v1/agent/commands: one long poll of up to wait_s seconds. Returns 0 with the commands
 * (a new reference to an array, possibly empty) in *commands; -EPERM (401); -ENOENT when the
 * server no longer knows agent_id (404); -ECANCELED from the wake function; else -EAGAIN with
 * *err. */
int adc_agent_api_poll(struct adc_transport *t, const char *agent_id, int wait_s, json_t **commands,
                       char **err);

/* POST /api/v1/agent/commands/{id}/result: outcome ADC_OUTCOME_*, reason optional. Returns the
 * HTTP status, or a negative errno when no answer came. */
int adc_agent_api_post_result(struct adc_transport *t, const char *command_id, const char *outcome,
                              const char *reason);

/* PUT /api/v1/agent/live: the live watcher's state (`state` lent: {"watch", "state",
 * "changes_applied", "last_change", "detail"}), once, bounded by a few seconds. Returns the
 * HTTP status (404 or 405 from a server older than live changes), or a negative errno when no
 * answer came. */
int adc_agent_api_put_live(struct adc_transport *t, json_t *state);

/* POST /api/v1/agent/disconnect, bounded by a few seconds. Returns 0 when acknowledged, else a
 * negative errno. */
int adc_agent_api_disconnect(struct adc_transport *t, const char *agent_id);
