/* Agents and their commands across adc-server instances on one PostgreSQL database
 * (api/cluster.h): presence rows per connected agent, and the queue of commands for agents
 * wherever they are connected. Times are Unix seconds. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

int adc_store_presence_up(struct adc_db *db, const char *agent_id, const char *app_id,
                          const char *instance, const char *host, const char *version,
                          const char *since, int64_t now);
/* Notes that the agent was seen, at most every few seconds (the statement skips fresher rows). */
int adc_store_presence_seen(struct adc_db *db, const char *agent_id, int64_t now);
int adc_store_presence_down(struct adc_db *db, const char *agent_id);
/* Agents of app_id seen since `since` on instances other than `instance`. */
int64_t adc_store_presence_elsewhere(struct adc_db *db, const char *app_id, const char *instance,
                                     int64_t since);

/* The agents of app_id seen since `since` on instances other than `instance`, oldest first:
 * cb(agent_id, host, version, connected_since, last_seen, ctx). Returns the count or a
 * negative errno. */
typedef int (*adc_store_presence_cb)(const char *agent_id, const char *host, const char *version,
                                     const char *connected_since, int64_t last_seen, void *ctx);
int adc_store_presence_list(struct adc_db *db, const char *app_id, const char *instance,
                            int64_t since, adc_store_presence_cb cb, void *ctx);

/* A new process of instance starts: the presence rows of its predecessor go, and the
 * commands it had claimed are free again. */
int adc_store_instance_reset(struct adc_db *db, const char *instance);

/* Queues a command; returns its id (> 0) or a negative errno. */
int64_t adc_store_command_add(struct adc_db *db, const char *app_id, const char *type,
                              const char *run_id, bool dry_run, int64_t now);
struct adc_store_command {
    int64_t id;
    const char *app_id, *type, *run_id;
    bool dry_run;
};
/* Inside a write transaction: the commands nobody holds (unclaimed, or claimed before
 * stale_before by an instance that stopped refreshing its claims), locked for this
 * transaction and skipped by every other instance meanwhile (FOR UPDATE SKIP LOCKED;
 * PostgreSQL only). cb returns 1 to claim a command for `instance`, 0 to leave it. */
typedef int (*adc_store_command_cb)(const struct adc_store_command *c, void *ctx);
int adc_store_commands_claim(struct adc_db *db, const char *instance, int64_t now,
                             int64_t stale_before, adc_store_command_cb cb, void *ctx);
/* Keeps this instance's claims fresh. */
int adc_store_commands_refresh(struct adc_db *db, const char *instance, int64_t now);
/* The command of run_id was handed to its agent, or the run ended: forget it. */
int adc_store_command_done(struct adc_db *db, const char *run_id);
/* Whether a command for run_id is queued. */
bool adc_store_command_pending(struct adc_db *db, const char *run_id);
