/* The groups part of one sync (docs/product.md section 10), between imp.c and the modules that do
 * the work: the directory's groups (directory/group-read.c), this configuration's cloud groups
 * (cloud/scim-groups.c), the pure plan (sync/group-plan.c), and its application after the users'.
 *
 * Everything is read and planned before the first write of the run (rule 5: a broken read of
 * the groups writes nothing, users included), and the deleted groups count in the mass-delete
 * guard. The members are written after the users, so that users created in this run can be
 * members. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cloud/scim-groups.h"
#include "directory/group-read.h"
#include "sync/apply.h"
#include "sync/cloud-users.h"
#include "sync/group-plan.h"
#include "sync/plan.h"

struct adc_group_sync {
    bool enabled; /* backend.ldap.groups is configured */
    struct adc_group_read dir;
    bool dir_read;        /* read by adc_group_sync_read_dir */
    uint64_t digest_seed; /* the key of its members' digests */
    struct adc_cloud_group_list cloud;
    struct adc_group_plan plan;
    bool have_plan;
    /* The directory's users the keys name (lent: sync/group-plan.h), and the texts of the
     * other members the cloud's groups have. */
    const struct adc_dir_user *users;
    size_t n_users;
    struct adc_group_others others;
    /* what was done */
    size_t created, updated, deleted, failed;
    size_t members_added, members_removed;
    size_t not_synced;  /* members whose user is not a user of this configuration in the cloud */
    size_t patch_bytes; /* bytes of the membership PATCH bodies sent */
    char *first_error;
};

/* Reads the directory's groups, before the users are read (their largest message then comes
 * before the users' memory; the members are resolved by adc_group_sync_plan). Optional: else
 * adc_group_sync_plan reads them. Returns 0, or a negative errno with *err. */
int adc_group_sync_read_dir(struct adc_group_sync *gs, const struct adc_ldap_config *cfg,
                            char **err);

/* Reads the directory's groups (unless adc_group_sync_read_dir did) and this configuration's
 * cloud groups and plans. users: the directory's users; cloud: the cloud users read for the
 * users' plan. Returns 0, or a negative errno with *err (nothing was written). */
struct adc_scim;
int adc_group_sync_plan(struct adc_group_sync *gs, const struct adc_ldap_config *cfg,
                        struct adc_scim *client, const char *app_id,
                        const struct adc_dir_user *users, size_t n_users,
                        const struct adc_cloud_users *cloud, const bool settings[], char **err);

/* Applies the plan: creates (with their members, through Bulk when the server offers it:
 * cloud/scim-groups.h), renames, member changes in chunks of `chunk`, deletes. A group
 * that fails is counted and the others go on. The users' plan and what its apply did
 * (`applied`, NULL when it did not run) give the ids of the users this run created or took
 * over; those of the cloud list come from `cloud`; the users are listed again only when an
 * answer gave no id. Returns 0 (see gs->failed), or a negative errno when the server could not
 * be reached at all. */
int adc_group_sync_apply(struct adc_group_sync *gs, struct adc_scim *client, const char *app_id,
                         const struct adc_cloud_users *cloud, const struct adc_plan *plan,
                         const struct adc_apply_result *applied, size_t chunk, char **err);

void adc_group_sync_done(struct adc_group_sync *gs);
