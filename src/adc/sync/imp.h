/* One whole synchronization, the engine of `adc imp` and of the agent's "sync" command:
 * the server's settings, a complete read of the directory, the cloud users, the plan, the
 * mass-delete guard, and the writes unless it is a dry run (docs/product.md sections 3 and 4).
 *
 * Rule 5 holds by construction: the plan is only built from a directory read that returned
 * complete, and nothing is written before the plan exists. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "sync/apply.h"
#include "sync/group-sync.h"
#include "config/config.h"
#include "directory/ldap-source.h"
#include "sync/plan.h"
#include "cloud/agent-api.h"
#include "cloud/scim-client.h"
#include "sync/settings-merge.h"

enum adc_imp_phase {
    ADC_IMP_READ, /* reading the directory and the cloud (done/total: cloud users so far) */
    ADC_IMP_PLAN,
    ADC_IMP_APPLY, /* done/total: writes */
};

struct adc_imp_options {
    bool dry_run; /* --dry-run, or a preview the cloud asked for: always wins */
    /* The run record's source when record_run: "imp" (NULL) or "agent" (`adc run` starting a
     * full sync itself, trigger "startup", docs/agent-protocol.md). */
    const char *run_source;
    /* With run_source "agent": the agent's id from its connect (the run record names it). */
    const char *agent_id;
    bool record_run; /* create and complete a run record on the server (`adc imp`; the agent
                      * reports the run the server gave it) */
    /* Called from the calling thread between steps; returning false stops the run before its
     * next write. May be NULL. */
    bool (*progress)(void *userdata, enum adc_imp_phase phase, size_t done, size_t total);
    void *userdata;
};

struct adc_imp_result {
    int status;   /* exit status (exit-codes.h) */
    char *error;  /* why, when the run failed or was stopped */
    bool dry_run; /* the effective dry-run */
    bool have_settings, have_dir, have_plan, applied;
    struct adc_effective_settings settings;
    struct adc_max_delete max_delete;
    struct adc_server_settings server;
    struct adc_read_result dir;
    struct adc_cloud_users cloud;
    struct adc_plan plan;
    struct adc_apply_result apply; /* when applied: per change errors */
    struct adc_plan_stats stats;   /* what was done; the plan's counts in a dry run */
    char *run_id;                  /* the run record, when one was made */
    struct adc_group_sync groups;  /* backend.ldap.groups: planned (and applied) groups */
};

/* Runs one sync. Always fills *out (status and error say how it ended); release it with
 * adc_imp_result_done. */
void adc_imp_run(const struct adc_yaml_config *yaml, const struct adc_service_config *service,
                 const struct adc_imp_options *opt, struct adc_imp_result *out);
void adc_imp_result_done(struct adc_imp_result *r);
/* The cloud users of this configuration after the run: those it owned before (plan.n_owned),
 * plus the users it created, minus those it deleted, when the run wrote (not a dry run). What a
 * percentage max-delete of live deletes is resolved against. 0 without a plan. */
size_t adc_imp_owned_after(const struct adc_imp_result *r);

/* The pieces of `adc imp --json` (docs/product.md section 3), also what the run record carries. */
json_t *adc_imp_stats_json(const struct adc_plan_stats *s);
json_t *adc_imp_settings_json(const struct adc_imp_result *r);
/* The errors of the run: the run's own failure and each failed user ("name: why"), at most
 * `max` entries (a summary entry says how many more). */
json_t *adc_imp_errors_json(const struct adc_imp_result *r, size_t max);
/* Writes the whole `adc imp --json` document to f, streaming the changes. 0 or -EIO. */
int adc_imp_write_json(FILE *f, const struct adc_imp_result *r);
/* "Groups: ..." the summary line of the groups, or NULL when groups are not synced (new). */
char *adc_imp_groups_summary(const struct adc_imp_result *r);
