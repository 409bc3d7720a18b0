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
/* Unclaims the command of run_id: its id (> 0), 0 when there is none, or a negative errno. */
int64_t adc_store_command_release(struct adc_db *db, const char *run_id);
/* Whether a command for run_id is queued. */
bool adc_store_command_pending(struct adc_db *db, const char *run_id);

/* ---- instances (cluster_instances) ---- */

/* Records a starting instance with its public key (api/seal.h) and start time. */
int adc_store_instance_up(struct adc_db *db, const char *instance, const char *public_key,
                          int64_t now);
/* The instance is alive at now; *oldest_start (may be NULL) gets the start time of the oldest
 * instance seen since alive_since (0 when none). Rows of instances silent for a day go. */
int adc_store_instance_seen(struct adc_db *db, const char *instance, int64_t now,
                            int64_t alive_since, int64_t *oldest_start);
/* Whether instance was seen since alive_since (1), not (0), or a negative errno. */
int adc_store_instance_alive(struct adc_db *db, const char *instance, int64_t alive_since);

/* ---- password checks handed between instances (login_checks, api/cluster-check.h) ----
 * Their times (created, deadline, now) are Unix milliseconds. */

/* An instance, other than `self`, that holds an agent of app_id seen since presence_since and
 * is itself alive since alive_since, with its public key: one picked at random among them.
 * 0, -ENOENT when none, or a negative errno. */
int adc_store_check_target(struct adc_db *db, const char *app_id, const char *self,
                           int64_t presence_since, int64_t alive_since, char instance[static 80],
                           char public_key[static 65]);
int adc_store_check_add(struct adc_db *db, const char *id, const char *app_id,
                        const char *user_name, const char *origin, const char *target,
                        const char *sealed, int64_t now, int64_t deadline);
/* The answer of check id: 0 with outcome (a buffer of 16) and reason (of reason_size) filled
 * and *retry set when answered; -EAGAIN when not answered yet; -ENOENT when there is no such
 * row; or a negative errno. */
int adc_store_check_answer_get(struct adc_db *db, const char *id, char outcome[static 16],
                               char *reason, size_t reason_size, bool *retry);
int adc_store_check_delete(struct adc_db *db, const char *id);
/* Takes the checks sealed to target that are unanswered and not past now (of one id when
 * id is not NULL): their boxes leave the table in the same statement, and other takers skip
 * rows being taken (FOR UPDATE SKIP LOCKED; PostgreSQL only); at most 64 at a time. cb(id, app_id,
 * user_name, sealed, deadline, ctx) for each; returns the count or a negative errno. */
typedef void (*adc_store_check_cb)(const char *id, const char *app_id, const char *user_name,
                                   const char *sealed, int64_t deadline, void *ctx);
int adc_store_checks_take(struct adc_db *db, const char *target, const char *id, int64_t now,
                          adc_store_check_cb cb, void *ctx);
/* Records the answer of check id (once). */
int adc_store_check_answer(struct adc_db *db, const char *id, const char *outcome,
                           const char *reason, bool retry);
/* Removes checks past their deadline by more than a minute (their waiter died). */
int adc_store_checks_prune(struct adc_db *db, int64_t now_ms);
