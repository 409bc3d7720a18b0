/* The server's side of the agent channel (docs/agent-protocol.md), in memory: the connected
 * agents, one command queue per sync configuration, and the commands handed out and not yet
 * answered. No HTTP and no SQL here, so every rule is unit-testable:
 *   - a command is handed to exactly one poll (of any agent of its configuration);
 *   - an agent whose last poll began more than ADC_HUB_CONNECTED_TIMEOUT seconds ago is gone;
 *     what it held is failed at once (password checks "unavailable", its sync run failed);
 *   - when the last agent of a configuration goes, its queued commands fail too.
 * Agents live only in memory: after a restart of adc-server every agent gets 404 on its next
 * poll and connects again. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#define ADC_HUB_ID_SIZE 33 /* 32 hex digits + NUL: agent and command ids */
/* A healthy agent starts a poll at least every ADC_HUB_POLL_WAIT seconds (plus a round trip);
 * 10 s of slack before it counts as gone covers a slow network or proxy, and the reaper (every
 * second) shows a silent agent disconnected within 26 s, inside docs/product.md's 30. */
#define ADC_HUB_POLL_WAIT 15         /* seconds a poll is held open at most */
#define ADC_HUB_CONNECTED_TIMEOUT 25 /* seconds after the last poll began */
#define ADC_HUB_MAX_BATCH 256        /* commands per poll answer */
#define ADC_HUB_MAX_QUEUE 20000      /* queued commands per configuration */
/* Agents per configuration: a few hosts for redundancy; a client connecting in a loop must not
 * grow the server's memory. */
#define ADC_HUB_MAX_AGENTS 32

struct adc_hub;

/* Called (outside the hub's lock, from whatever thread noticed) when a sync run can no longer
 * finish: its agent left or vanished, or no agent is left to take it. The callee records the
 * run failed unless it already ended. */
typedef void (*adc_hub_run_failed_fn)(void *userdata, const char *run_id, const char *why);

int adc_hub_new(adc_hub_run_failed_fn run_failed, void *userdata, struct adc_hub **out);
/* Wakes every waiter (long polls return empty, password checks "unavailable") and frees. */
void adc_hub_free(struct adc_hub *h);
/* Wakes every waiter; later calls return at once. For a server that is stopping. */
void adc_hub_shutdown(struct adc_hub *h);
/* Forgets agents that went silent; called about once a second (adc_hub_new starts a thread
 * that does it; exposed for tests with a clock of their own). now: CLOCK_MONOTONIC seconds. */
void adc_hub_expire(struct adc_hub *h, double now);

/* POST /api/v1/agent/connect: registers an agent of app_id. host and version are shown to
 * admins (truncated to sane lengths). Writes the new agent id. 0, -EUSERS (ADC_HUB_MAX_AGENTS
 * are connected already), or -ENOMEM. */
int adc_hub_connect(struct adc_hub *h, const char *app_id, const char *host, const char *version,
                    char agent_id[static ADC_HUB_ID_SIZE]);
/* POST /api/v1/agent/disconnect: 0, or -ENOENT when app_id has no such agent. */
int adc_hub_disconnect(struct adc_hub *h, const char *app_id, const char *agent_id);

/* Drops every agent of app_id (its secret was rotated, or it was deleted): open polls return at
 * once, so each agent's next request meets the new credentials (401) instead of waiting out its
 * poll; what they held fails with `why`. */
void adc_hub_drop(struct adc_hub *h, const char *app_id, const char *why);

/* Whether the client of a long poll is still there; checked while waiting and right before
 * commands are handed to it, so a dead connection does not swallow them. */
typedef bool (*adc_hub_alive_fn)(void *userdata);

/* GET /api/v1/agent/commands: waits up to wait_s (capped at ADC_HUB_POLL_WAIT) for commands of
 * the agent's configuration and returns {"commands": [...]} (a new reference) in *out.
 * -ENOENT: unknown agent (or not of app_id). This one blocks the calling thread (tests, tools);
 * the server uses adc_hub_poll_begin, which does not. */
int adc_hub_poll(struct adc_hub *h, const char *app_id, const char *agent_id, int wait_s,
                 adc_hub_alive_fn alive, void *alive_userdata, json_t **out);

/* A long poll waiting without a thread (docs/design.md: event-driven connections): the HTTP
 * layer suspends the connection and the hub wakes it. */
struct adc_hub_poll;
/* Called exactly once per waiting poll, under the hub's lock and from whatever thread made the
 * answer ready (a login or "sync now" queueing a command, the reaper at the poll's deadline, an
 * agent leaving, shutdown). It must only hand the work on (resume the connection, signal a
 * thread) and never call the hub. */
typedef void (*adc_hub_wake_fn)(void *userdata);

/* Starts a long poll. Returns 0 with *out ({"commands": [...]}, a new reference) when the
 * answer is ready at once (commands queued, wait_s 0, the hub stopping); 1 when it waits: *poll
 * is registered and wake(wake_userdata) is called once when its answer is ready — never before
 * this returns, since the caller holds nothing the hub needs. Commands are handed to the
 * longest-waiting live poll of the configuration the moment they are queued, so one command
 * wakes one poll. A newer poll of the same agent wakes an older one at once, empty: the older
 * connection died somewhere the server cannot see. -ENOENT: unknown agent (or not of app_id);
 * -ENOMEM. alive (may be NULL) is asked, under the lock, before commands are handed to the
 * poll. */
int adc_hub_poll_begin(struct adc_hub *h, const char *app_id, const char *agent_id, int wait_s,
                       adc_hub_alive_fn alive, void *alive_userdata, adc_hub_wake_fn wake,
                       void *wake_userdata, json_t **out, struct adc_hub_poll **poll);
/* Ends a poll of adc_hub_poll_begin: *out gets its answer ({"commands": [...]}, a new reference;
 * empty when it ends before being woken) and poll is freed. After it returns, wake is not called
 * for this poll any more. 0, or -ENOMEM (the poll is freed all the same). */
int adc_hub_poll_end(struct adc_hub *h, struct adc_hub_poll *poll, json_t **out);

/* Wakes the waiting poll of agent agent_id of app_id (all of the configuration's when agent_id
 * is NULL) with what is queued for it, or empty: for a command store outside this process
 * (another instance queued it) whose notification arrived. 0, or -ENOENT when no such poll
 * waits. */
int adc_hub_wake(struct adc_hub *h, const char *app_id, const char *agent_id);

/* Agents connected to this instance, and commands queued for them not yet handed out (for
 * /metrics). */
void adc_hub_counts(struct adc_hub *h, size_t *agents, size_t *queued);

/* How many polls wait right now (for /metrics and tests). */
size_t adc_hub_waiting(struct adc_hub *h);

enum adc_hub_outcome {
    ADC_HUB_ACCEPTED,
    ADC_HUB_DENIED,
    ADC_HUB_UNAVAILABLE, /* no agent, the agent said so, it left, or no answer in time */
};

/* POST /api/v1/login's question to an agent of app_id: queues a check_password command and
 * waits up to timeout_ms for the answer. The password is copied, handed to one agent, and wiped.
 * *reason gets a new string (why, for logs and the 503 body), never the password.
 * *agent_gone (may be NULL) tells an UNAVAILABLE that came from no agent being there, or from
 * the agent holding the check leaving before it answered: another agent of the configuration
 * (on another instance, api/cluster-check.h) may still answer it. Returns 0, or -ENOMEM. */
int adc_hub_check_password(struct adc_hub *h, const char *app_id, const char *user_name,
                           const char *password, int timeout_ms, enum adc_hub_outcome *outcome,
                           char **reason, bool *agent_gone);

/* POST /api/v1/agent/commands/{id}/result. outcome: "accepted", "denied" or "unavailable".
 * 0; -ENOENT (no such command of app_id waiting: answered already, timed out, or another
 * configuration's); -EINVAL (unknown outcome). */
int adc_hub_answer(struct adc_hub *h, const char *app_id, const char *command_id,
                   const char *outcome, const char *reason);

/* Queues a sync command for run_id. 0, -ENOTCONN when no agent of app_id is connected,
 * -ENOMEM. */
int adc_hub_sync(struct adc_hub *h, const char *app_id, const char *run_id, bool dry_run);

/* The run an agent carries (the sync it took, or one it registered with adc_hub_carry): 1
 * with its id in run_id, 0 when none or no such agent. Its polls are the run's heartbeat. */
int adc_hub_agent_run(struct adc_hub *h, const char *app_id, const char *agent_id,
                      char run_id[static 64]);
/* Notes that agent_id of app_id runs run_id (an `adc run` that made its own run record).
 * 0, or -ENOENT when there is no such agent. */
int adc_hub_carry(struct adc_hub *h, const char *app_id, const char *agent_id, const char *run_id);
/* The run ended: no agent carries it any more. */
void adc_hub_run_ended(struct adc_hub *h, const char *app_id, const char *run_id);

/* Whether an agent of app_id is connected. */
bool adc_hub_connected(struct adc_hub *h, const char *app_id);
/* Whether an agent of app_id is connected and polling: a poll open now, or one begun less than
 * idle_s seconds ago. An agent that went silent (it reconnected to another instance, say)
 * stays connected for ADC_HUB_CONNECTED_TIMEOUT but is not live. */
bool adc_hub_live(struct adc_hub *h, const char *app_id, double idle_s);
/* The agents of app_id: [{"agent_id","host","version","connected_since","last_seen"}] with
 * RFC 3339 UTC times; a new reference, or NULL when out of memory. */
json_t *adc_hub_agents(struct adc_hub *h, const char *app_id);
