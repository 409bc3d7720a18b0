/* The order of the renames of a plan. adc-server keeps userName unique (ASCII case-insensitive)
 * after every single write, and updates are applied one by one in the plan's order: a rename
 * onto a name that another renamed user still holds must come after that user's rename, and a
 * cycle of renames (a swap) needs one user moved out of the way first. Internal to the plan. */
#pragma once

#include <stddef.h>

#include "sync/plan.h"
#include "sync/str-index.h"

/* A temporary step of a rename cycle, owned by the plan: the cloud user under a temporary
 * userName, written with the directory user's attributes (the cloud side holds none as text)
 * and the cloud user's externalId and `active`. */
struct adc_plan_temp {
    struct adc_dir_user user; /* its strings its own (adc_dir_user_make_alone) */
    char *reason;             /* owned */
    char *external_id;        /* owned: the step's externalId as text when the change's user
                               * keeps it as a UUID's bytes (plan.h), else NULL */
};

/* Reorders the updates among changes[0..*n_changes) (sorted by compare_changes) so that every
 * rename comes after the rename of the cloud user that holds its target name, and breaks each
 * cycle with a temporary step. `cloud_name` indexes the cloud users by userName, `dir_name` the
 * directory users: a temporary name is taken by neither. On success *changes may be replaced
 * (the old array freed) and *n_changes grown by the temporary steps, which *temps (n_temps of
 * them, NULL when none) holds and the caller frees with adc_plan_temps_free. Returns 0 or
 * -ENOMEM (then nothing is changed). */
int adc_plan_order_renames(struct adc_plan_change **changes, size_t *n_changes,
                           const struct adc_cloud_user *cloud, size_t n_cloud,
                           const struct adc_strindex *cloud_name,
                           const struct adc_strindex *dir_name, struct adc_plan_temp **temps,
                           size_t *n_temps);
void adc_plan_temps_free(struct adc_plan_temp *temps, size_t n);
