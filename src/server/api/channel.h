/* The agent channel in adc-server: the /api/v1/agent endpoints, queueing "sync now" for an
 * agent, and sign-in through the agent (login.c). Routes: adc_channel_routes (http.h). */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "http/http.h"

struct adc_server;

/* Creates srv->hub and records runs left unfinished by a previous server process as failed.
 * Call after the store is open and before HTTP starts. 0 or a negative errno. */
int adc_channel_start(struct adc_server *srv);
/* Ends long polls and waiting sign-ins at once (SIGTERM), before the HTTP daemon stops. */
void adc_channel_stop(struct adc_server *srv);
/* After the HTTP daemon stopped. */
void adc_channel_free(struct adc_server *srv);

/* For GET /api/v1/sync-configs/{app_id}: whether an agent is connected, and the agents
 * ([{"agent_id","host","version","connected_since","last_seen"}], a new reference). */
bool adc_channel_connected(struct adc_server *srv, const char *app_id);
json_t *adc_channel_agents(struct adc_server *srv, const char *app_id);
/* Adds "connected" and "agents" to a rendered sync configuration (keyed by its "app_id"). */
void adc_channel_describe(struct adc_server *srv, json_t *config);

/* Queues a sync of app_id (run run_id, recorded by the caller) for one of its agents.
 * -ENOENT when no agent is connected. */
int adc_channel_sync(struct adc_server *srv, const char *app_id, const char *run_id, bool dry_run);

/* After a secret rotation or deletion of app_id: its agents are dropped (see adc_hub_drop). */
void adc_channel_forget(struct adc_server *srv, const char *app_id, const char *why);

/* POST /api/v1/login (login.c). */
void adc_login_handle(struct adc_http_request *req, struct adc_http_response *res);
/* login-familiar.c's thread that writes familiar addresses and prunes old throttling rows; started
 * and stopped by adc_channel_start and adc_channel_free. 0 or a negative errno. */
int adc_login_start(struct adc_server *srv);
void adc_login_stop(void);
/* Sign-ins waiting for room among the attempts in flight (login-admit.c) answer now: the server
 * stops, and HTTP waits for deferred requests. */
void adc_login_wake_waiters(void);
