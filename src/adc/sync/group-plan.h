/* The groups of a sync (docs/product.md section 10) as a pure function: the directory's groups
 * and synced users against this configuration's cloud groups. No I/O: every input is lent.
 *
 * Members are named by key, "u:<externalId>" for a user and "g:<externalId>" for a group, on
 * both sides, so that the plan needs no cloud id of a user created in the same run (they are
 * resolved when the plan is applied). Only synced users and synced groups become members; the
 * others are counted and a few named (never guessed). A membership change is a list of the
 * keys to add and to remove: the group never travels whole after its creation.
 *
 * Cost: O(groups + memberships) expected (hash indexes by DN, uid and key); flatten is
 * O(groups x memberships) at worst. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/settings.h"
#include "common/user.h"
#include "sync/cloud-users.h"
#include "directory/group-read.h"

/* A group of this configuration in the cloud, members as keys (see above; a member the cloud
 * has that maps to no key of ours is "?:<id>" and is removed). The keys are lent (from the
 * key table of adc_group_member_keys, or the listing's blocks): one pointer a membership, not
 * a copy (at 1,000,000 members about 100 MB less; docs/BENCHMARKS.md, issue 21). */
struct adc_cloud_group {
    char *id;
    char *external_id;
    char *display_name;
    const char **member_keys; /* the array is the group's, the keys are lent */
    size_t n_members;
};

enum adc_group_op { ADC_GROUP_CREATE, ADC_GROUP_UPDATE, ADC_GROUP_DELETE, ADC_GROUP_UNCHANGED };

struct adc_group_change {
    enum adc_group_op op;
    const char *name;        /* the directory's name (create, update), else the cloud's */
    const char *external_id; /* lent from the inputs */
    const char *cloud_id;    /* update, delete */
    bool rename;             /* update: displayName changes */
    const char **add;        /* keys; lent from the inputs (or the plan's own strings) */
    size_t n_add;
    const char **remove;
    size_t n_remove;
};

struct adc_group_plan_input {
    /* The directory's groups; their member_pos (if any) are positions in `users`. */
    const struct adc_dir_group *dir;
    size_t n_dir;
    const struct adc_dir_user *users; /* the directory's users (dn, user_name, external_id) */
    size_t n_users;
    const struct adc_cloud_group *cloud; /* this configuration's groups */
    size_t n_cloud;
    /* The member keys of the users, then of the directory's groups (n_users + n_dir), as
     * adc_group_member_keys makes them; NULL: the plan makes its own. */
    const char *const *keys;
    bool flatten;
    bool settings[ADC_SETTING_COUNT]; /* the effective settings */
};

struct adc_group_plan {
    struct adc_group_change *changes;
    size_t n_changes;
    size_t created, updated, deleted, unchanged, skipped; /* skipped: refused by a setting */
    size_t members_added, members_removed;
    size_t unresolved;       /* member values that name no synced user or group */
    const char *examples[5]; /* a few of them, lent */
    size_t n_examples;
    /* The changes lend added members' keys from in->keys (which must then outlive the plan);
     * false when they lend nothing of the inputs' but names and ids (see own_texts). */
    bool lends_keys;
    size_t in_cycles;          /* groups that contain themselves through other groups */
    const char *cycle_example; /* the name of one of them */
    /* owned storage, in blocks: the texts the changes and examples lend (removed members'
     * keys, examples), and the members' keys when many changes add members (else only those
     * added are copied into texts) */
    struct adc_cloud_users texts, keys;
};

/* The member key of each directory user ("u:" + externalId; "u:" when it has none) into
 * keys[0..n_users), of each directory group ("g:" + externalId) into keys[n_users..+n_dir),
 * the strings in `arena`. keys must have room for n_users + n_dir. Returns 0 or -ENOMEM. */
int adc_group_member_keys(const struct adc_dir_user *users, size_t n_users,
                          const struct adc_dir_group *dir, size_t n_dir,
                          struct adc_cloud_users *arena, const char **keys);

/* Builds the plan. Returns 0 or -ENOMEM. The plan lends from the inputs only the groups'
 * names, externalIds and cloud ids: the member values of the directory's groups and the
 * member keys of the cloud's may be freed once it is built (at 1,000,000 members they are
 * about 120 MB; docs/BENCHMARKS.md, issue 21). */
int adc_group_plan_build(const struct adc_group_plan_input *in, struct adc_group_plan *out);
void adc_group_plan_done(struct adc_group_plan *p);
void adc_cloud_group_done(struct adc_cloud_group *g);

/* A DN in the form the plan compares: ASCII lower case, no blanks around ',' '=' '+'. A new
 * string, or NULL when out of memory. */
char *adc_dn_normalize(const char *dn);
/* The same into out (size bytes): its length, or SIZE_MAX when it does not fit (out is then
 * not a string). The normalized form is never longer than dn. */
size_t adc_dn_normalize_into(const char *dn, char *out, size_t size);
