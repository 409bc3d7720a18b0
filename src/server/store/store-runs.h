/* Run records and the audit log in the store. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

struct adc_store_run {
    char run_id[40];
    char app_id[40];
    char source[16]; /* "imp" (adc imp), "agent" (adc run on its own), "server" (sync now) */
    bool dry_run;
    char status[16]; /* queued | running | succeeded | failed */
    char *stats;     /* JSON object text */
    char *errors;    /* JSON array text, the first errors reported */
    int64_t error_count;
    char created[24];
    char started[24];
    char finished[24];
    char updated[24];
    char agent_id[64];
    char trigger[16]; /* why it started: manual | schedule | imp | startup */
};

void adc_store_run_done(struct adc_store_run *r);
int adc_store_run_insert(struct adc_db *db, const struct adc_store_run *r);
/* Rewrites status, stats, errors, error_count, started, finished, updated, agent_id. */
int adc_store_run_update(struct adc_db *db, const struct adc_store_run *r);
int adc_store_run_get(struct adc_db *db, const char *run_id, struct adc_store_run *out);
typedef int (*adc_store_run_cb)(const struct adc_store_run *r, void *ctx);
/* Newest first, at most limit. */
int adc_store_run_list(struct adc_db *db, const char *app_id, int64_t limit, adc_store_run_cb cb,
                       void *ctx);
/* Runs not finished (queued or running) of any source but "imp", oldest first: the runs an
 * agent owes a report on, for the recovery after a restart. Returns the count or a negative
 * errno (or cb's). */
int adc_store_runs_unfinished(struct adc_db *db, adc_store_run_cb cb, void *ctx);
/* Runs not finished (queued or running, any source) whose record was last updated before
 * `before` (RFC 3339): those whose heartbeat stopped (runs-lifecycle.h). */
int adc_store_runs_silent(struct adc_db *db, const char *before, adc_store_run_cb cb, void *ctx);
/* A heartbeat: the record's updated time becomes now, unless the run ended. 0, -ENOENT. */
int adc_store_run_touch(struct adc_db *db, const char *run_id, const char *now);
/* Notes which agent took run_id, unless the run ended already. -ENOENT when no row changed. */
int adc_store_run_set_agent(struct adc_db *db, const char *run_id, const char *agent_id,
                            const char *now);

/* The number of runs in each status (for /metrics): cb once per status present. Returns 0 or
 * a negative errno. */
typedef void (*adc_store_run_count_cb)(const char *status, int64_t n, void *ctx);
int adc_store_runs_by_status(struct adc_db *db, adc_store_run_count_cb cb, void *ctx);

/* Appends to the audit log; part of the caller's transaction. target and detail may be NULL. */
int adc_store_audit(struct adc_db *db, const char *actor, const char *action, const char *target,
                    const char *detail);
struct adc_store_audit_entry {
    int64_t seq;
    const char *at, *actor, *action, *target, *detail;
};
typedef int (*adc_store_audit_cb)(const struct adc_store_audit_entry *e, void *ctx);
/* Newest first: entries with seq < before (0 = from the newest), at most limit. */
int adc_store_audit_list(struct adc_db *db, int64_t before, int64_t limit, adc_store_audit_cb cb,
                         void *ctx);
