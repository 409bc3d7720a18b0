/* Carrying out a plan in the cloud (docs/product.md section 4): deletes and disables first, then
 * updates, then creates (the plan's order, so that a freed userName can be taken), through SCIM
 * Bulk in slices so that memory stays flat whatever the number of changes. A user that fails is
 * reported and the others go on. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"

#include "sync/plan.h"
#include "cloud/scim-client.h"

struct adc_apply_result {
    struct adc_plan_stats stats; /* what was done: created..disabled, failed; unchanged and
                                  * skipped as planned */
    char **errors;               /* per plan change: NULL, or why it failed; NULL altogether
                                  * until one failed */
    /* per plan change, NULL until one is: a create whose user was in the cloud already as
     * this configuration's, replaced instead (counted as updated; cloud/scim-client.h) */
    bool *existed;
    size_t n_failed;
    bool aborted; /* stopped early: server unreachable, or the caller said stop */
    /* Per plan change, when this run made its user one of this configuration's in the cloud (a
     * create done, or a takeover): the user's SCIM id as the answers gave it, 16 bytes in the
     * form of sync/cloud-users.h (adc_apply_result_id reads it). NULL until one is. The
     * groups' members name those users without listing them again (at 1,000,000 creates
     * about 100 MB and 11 s less; docs/BENCHMARKS.md, issue 21). */
    struct adc_cloud_ident *ids;
    uint8_t *id_kind; /* per change: 0 none, 1 a UUID's bytes, 2 text in id_texts */
    struct adc_arena id_texts;
    size_t n_ids_missing; /* such users whose answer gave no id */
};

/* The SCIM id of plan change i's user when this run created or took it over (see ids), as
 * text (lent from r, or formatted into buf), else NULL. */
const char *adc_apply_result_id(const struct adc_apply_result *r, size_t i,
                                char buf[ADC_UUID_TEXT]);

/* Called after each slice with the writes done so far; returning false stops before the next
 * slice (the rest is then not done, and counted neither done nor failed). */
typedef bool (*adc_apply_progress_fn)(void *userdata, size_t done, size_t total);

/* Applies every change of the plan except skips. Returns 0 when every change was tried (some
 * may have failed: result->n_failed), or a negative errno with *err when the run could not go
 * on (the server unreachable or refusing the credentials); *result is filled in both cases. */
int adc_apply_plan(struct adc_scim *client, const struct adc_scim_limits *limits,
                   const struct adc_plan *plan, const char *app_id, adc_apply_progress_fn progress,
                   void *userdata, struct adc_apply_result *result, char **err);
void adc_apply_result_done(struct adc_apply_result *r, size_t n_changes);
