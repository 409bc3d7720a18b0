/* The plan of a synchronization: a pure function from what the directory holds and what the
 * cloud holds to the list of changes that make the cloud mirror the directory, by the rules of
 * docs/product.md section 4. No I/O: every input is lent and every rule is unit-testable.
 *
 * Cost: O(n) expected in the number of users (hash indexes by externalId, userName and SCIM
 * id), plus one O(n log n) sort of the changes for a stable, readable order. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "common/settings.h"
#include "common/user.h"
#include "sync/cloud-users.h"

enum adc_plan_op {
    ADC_PLAN_DELETE,
    ADC_PLAN_DISABLE,
    ADC_PLAN_UPDATE,
    ADC_PLAN_CREATE,
    ADC_PLAN_SKIP,
}; /* also the order in which changes are applied: a delete or a rename frees a userName that
    * a later create may take. */

/* What an update changes, one bit per cloud attribute. */
enum adc_plan_field {
    ADC_FIELD_USER_NAME = 1 << 0,
    ADC_FIELD_EXTERNAL_ID = 1 << 1,
    ADC_FIELD_DISPLAY_NAME = 1 << 2,
    ADC_FIELD_GIVEN_NAME = 1 << 3,
    ADC_FIELD_FAMILY_NAME = 1 << 4,
    ADC_FIELD_EMAIL = 1 << 5,
    ADC_FIELD_ACTIVE = 1 << 6,
    ADC_FIELD_PROVIDER = 1 << 7, /* takeover of another provider's user */
};

struct adc_plan_change {
    enum adc_plan_op op;
    const struct adc_dir_user *dir;     /* lent; the directory user, NULL for delete/disable;
                                         * for a temporary step the plan's own user under the
                                         * temporary name (plan-renames.h) */
    const struct adc_cloud_user *cloud; /* lent; the matched cloud user, NULL for create */
    const char *user_name;     /* lent; the name to show (directory side when there is one) */
    const char *external_id;   /* lent; may be NULL; read it with adc_plan_change_external_id
                                * (NULL here too when `dir` keeps it as a UUID's bytes) */
    const char *dn;            /* lent; the directory entry, when there is one */
    const char *reason;        /* lent, static or the reader's; NULL when nothing to say */
    const char *reason_detail; /* lent; e.g. the other provider's name; may be NULL */
    unsigned fields;           /* update: the ADC_FIELD_* that differ */
    bool active;               /* create/update: the `active` value to write */
    bool temporary;            /* an update that moves a user of a rename cycle to a
                                * temporary userName (plan-renames.c): one more step for a
                                * user counted by its final update, so it is not counted in
                                * the stats */
};

/* What a run does, by user. An update that locks or unlocks the user (its `active` changes
 * because the directory account was disabled or re-enabled, whatever else changes with it)
 * counts as disabled or enabled, not as updated; `disabled` also counts the leavers disabled
 * under delete-disables. */
struct adc_plan_stats {
    size_t created, updated, deleted, disabled, unchanged, skipped, failed, enabled;
};

struct adc_plan_input {
    const struct adc_dir_user *dir; /* directory users (compact: common/user.h) */
    size_t n_dir;
    const struct adc_skipped_entry *dir_skipped; /* entries the reader skipped (rule 8) */
    size_t n_dir_skipped;
    const struct adc_cloud_user *cloud; /* every cloud user the client can see */
    size_t n_cloud;
    bool settings[ADC_SETTING_COUNT]; /* effective values */
    struct adc_max_delete max_delete;
    const char *app_id; /* this configuration's provider name */
};

struct adc_plan_temp;

struct adc_plan {
    struct adc_plan_change *changes; /* sorted: op (apply order), then userName; among the
                                      * updates a rename comes after the rename that frees its
                                      * target name (plan-renames.c) */
    size_t n_changes;                /* stats + the temporary steps of rename cycles */
    struct adc_plan_stats stats;     /* planned counts; `failed` is 0 */
    size_t n_owned;                  /* cloud users of this configuration */
    size_t delete_limit;             /* max-delete resolved to a count of users */
    size_t n_guarded;                /* deletes + disables of leavers: what rule 6 counts
                                      * (a lock in the directory is not a leaver) */
    bool guard_tripped;              /* n_guarded > delete_limit: apply nothing */
    struct adc_plan_temp *temps;     /* owned: the temporary names and reasons of rename cycles */
    size_t n_temps;
    struct adc_cloud_users texts; /* owned: cloud externalIds as text that changes lend */
};

/* Builds the plan. Returns 0, or -ENOMEM (then *out is untouched). The plan lends pointers
 * into the inputs: they must outlive it. What it owns (the changes, the temporary steps of
 * rename cycles) adc_plan_done frees. */
int adc_plan_build(const struct adc_plan_input *in, struct adc_plan *out);
void adc_plan_done(struct adc_plan *p);

/* Counts change c (not a temporary step) in *s as done: created, updated, enabled, disabled
 * or deleted (skips are counted by the plan). */
void adc_plan_stats_count(struct adc_plan_stats *s, const struct adc_plan_change *c);

/* The externalId of change c as text: c->external_id, or the directory user's formatted into
 * buf when it keeps it as a UUID's bytes (the plan keeps no copy of those: 37 bytes a create,
 * at 1,000,000 creates 37 MB held to the end of the run; docs/BENCHMARKS.md, issue 21). NULL
 * when the change has none. */
const char *adc_plan_change_external_id(const struct adc_plan_change *c,
                                        char buf[ADC_DIR_UUID_TEXT]);

/* "create", "update", "delete", "disable", "skip" (the op names of `adc imp --json`). */
const char *adc_plan_op_name(enum adc_plan_op op);
/* Resolves max-delete against the number of users the configuration owns (a percentage is
 * rounded down). */
size_t adc_plan_delete_limit(struct adc_max_delete max_delete, size_t n_owned);
/* The reason of a change as one line for people and for the JSON's "reason": the rule, its
 * detail, and for updates what changes ("changes userName, active=false"). Writes into buf
 * (truncating) and returns it; an empty string when there is nothing to say. */
const char *adc_plan_change_describe(const struct adc_plan_change *c, char *buf, size_t size);
