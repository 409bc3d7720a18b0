/* Several adc-server instances on one PostgreSQL database (docs/product.md section 12): an
 * agent connects to any instance; "sync now" given to any instance reaches it. Each instance
 * records its agents in agent_presence; a sync is queued in agent_commands and announced with
 * NOTIFY (payload: the command's id only); every instance LISTENs, then looks at the queue
 * and claims (FOR UPDATE SKIP LOCKED) the commands for agents it holds, handing them to its
 * hub (hub.h). A claim is refreshed while the instance lives and the row is deleted when the
 * agent takes the command: an instance that dies (kill -9) leaves its claims to go stale, and
 * the instance the agent reconnects to (through the load balancer) claims them again, so no
 * command is lost. On SQLite (one process) all of this is off and the hub works alone. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <time.h>

struct adc_server;

/* Starts the listener when the store is PostgreSQL, once HTTP listens on port. The instance is
 * known as "<host name>:<port>": a process restarted on the same host and port takes over what
 * its predecessor left (its agents' presence rows are dropped, its claims released), where a
 * random identity would leave them to go stale. 0 or a negative errno. */
int adc_cluster_start(struct adc_server *srv, unsigned port);
/* Stops listening (no new work from other instances); adc_cluster_free, once the hub stopped,
 * waits for the password checks under way for other instances and forgets the key. */
void adc_cluster_stop(void);
void adc_cluster_free(void);
bool adc_cluster_active(void);

/* An instance whose row was not refreshed for this long is gone (killed, cut off): its
 * commands and password checks go elsewhere. It refreshes it every 2 s. */
#define ADC_CLUSTER_INSTANCE_TTL_S 8
/* An agent here takes commands and checks while it polls: a poll open, or begun this recently
 * (an agent answering a batch of commands is between two polls). */
#define ADC_CLUSTER_LIVE_S 3.0
/* This instance's name ("<host>:<port>") and key pair (api/seal.h); NULL key when inactive. */
const char *adc_cluster_instance(void);
const struct adc_seal_key *adc_cluster_key(void);
/* The start time of the oldest instance alive (0 when not active): a run not heard of since
 * then was left by processes that are all gone (runs-lifecycle.h). */
time_t adc_cluster_oldest_start(void);

void adc_cluster_agent_up(struct adc_server *srv, const char *agent_id, const char *app_id,
                          const char *host, const char *version);
void adc_cluster_agent_seen(struct adc_server *srv, const char *agent_id);
void adc_cluster_agent_down(struct adc_server *srv, const char *agent_id);
/* Appends the agents of app_id connected to other instances to agents (the hub's shape). */
void adc_cluster_agents_elsewhere(struct adc_server *srv, const char *app_id, json_t *agents);
/* Whether an agent of app_id is connected to another instance. */
bool adc_cluster_connected_elsewhere(struct adc_server *srv, const char *app_id);
/* Queues a sync for an agent of app_id on whichever instance holds one. 0 or -EIO. */
int adc_cluster_sync(struct adc_server *srv, const char *app_id, const char *run_id, bool dry_run);
/* A sync this instance claimed can no longer be handed here (its agent left): the command goes
 * back to the queue for another instance, and 1 is returned; 0 when run_id has no command
 * waiting in the database (the run then fails). */
int adc_cluster_release(struct adc_server *srv, const char *run_id);
/* The agent took the sync of run_id: its command is done. */
void adc_cluster_taken(struct adc_server *srv, const char *run_id);
