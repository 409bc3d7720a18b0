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

struct adc_server;

/* Starts the listener when the store is PostgreSQL, once HTTP listens on port. The instance is
 * known as "<host name>:<port>": a process restarted on the same host and port takes over what
 * its predecessor left (its agents' presence rows are dropped, its claims released), where a
 * random identity would leave them to go stale. 0 or a negative errno. */
int adc_cluster_start(struct adc_server *srv, unsigned port);
void adc_cluster_stop(void);
bool adc_cluster_active(void);

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
/* The agent took the sync of run_id: its command is done. */
void adc_cluster_taken(struct adc_server *srv, const char *run_id);
