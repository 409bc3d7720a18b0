/* The groups of a sync (docs/product.md section 10) as a pure function: the directory's groups
 * and synced users against this configuration's cloud groups. No I/O: every input is lent.
 *
 * Members are named by key on both sides, a 32-bit number (adc_group_key): a directory user by
 * its position among the directory users, a directory group by n_users + its position, and a
 * member of a cloud group that is neither by n_users + n_dir + its position in a small table of
 * texts ("u:<externalId>" for a cloud user the directory does not have, "g:<externalId>" for a
 * cloud group, "?:<id>" for what is no member of ours). So the plan needs no cloud id of a user
 * created in the same run (they are resolved when the plan is applied), and a membership costs
 * 4 bytes on each side instead of a pointer to a key's text (at 1,000,000 users the key table
 * alone took about 47 MB; docs/BENCHMARKS.md, issue 21). Only synced users and synced groups
 * become members; the others are counted and a few named (never guessed). A membership change
 * is a list of the keys to add and to remove: the group never travels whole after its
 * creation.
 *
 * Cost: O(groups + memberships) expected (hash indexes by DN, uid and key); flatten is
 * O(groups x memberships) at worst. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/settings.h"
#include "common/user.h"
#include "sync/cloud-users.h"
#include "directory/group-read.h"

/* A member key (see above). */
typedef uint32_t adc_group_key;
#define ADC_GROUP_KEY_NONE UINT32_MAX

/* The texts of the keys from n_users + n_dir on ("u:<externalId>", "g:<externalId>",
 * "?:<id>"), in blocks: few in practice (members added in the cloud by hand, users and
 * groups the directory no longer has). */
struct adc_group_others {
    const char **texts;
    size_t n, cap;
    struct adc_arena strings;
};

/* other->texts[n] = a copy of kind ':' text; its key is base + n. ADC_GROUP_KEY_NONE when out of
 * memory. */
adc_group_key adc_group_other_add(struct adc_group_others *o, adc_group_key base, char kind,
                                  const char *text);
void adc_group_others_done(struct adc_group_others *o);

/* A group of this configuration in the cloud, members as keys (see above; a member the cloud
 * has that maps to no user or group of ours is a "?:<id>" other and is removed). */
struct adc_cloud_group {
    char *id;
    char *external_id;
    char *display_name;
    adc_group_key *members; /* owned */
    size_t n_members;
    size_t member_count; /* memberCount as listed: sizes `members` (a hint, not trusted) */
};

enum adc_group_op { ADC_GROUP_CREATE, ADC_GROUP_UPDATE, ADC_GROUP_DELETE, ADC_GROUP_UNCHANGED };

struct adc_group_change {
    enum adc_group_op op;
    const char *name;        /* the directory's name (create, update), else the cloud's */
    const char *external_id; /* lent from the inputs */
    const char *cloud_id;    /* update, delete */
    bool rename;             /* update: displayName changes */
    adc_group_key *add;      /* keys, sorted; owned */
    size_t n_add;
    adc_group_key *remove;
    size_t n_remove;
};

struct adc_group_plan_input {
    /* The directory's groups; their member_pos (if any) are keys: positions in `users`, or
     * n_users + a position in `dir`. */
    const struct adc_dir_group *dir;
    size_t n_dir;
    const struct adc_dir_user *users; /* the directory's users (dn, user_name, external_id) */
    size_t n_users;
    const struct adc_cloud_group *cloud; /* this configuration's groups */
    size_t n_cloud;
    /* The texts of the cloud's members keyed from n_users + n_dir on (NULL: none). */
    const struct adc_group_others *others;
    bool flatten;
    bool settings[ADC_SETTING_COUNT]; /* the effective settings */
};

struct adc_group_plan {
    struct adc_group_change *changes;
    size_t n_changes;
    size_t created, updated, deleted, unchanged, skipped; /* skipped: refused by a setting */
    size_t members_added, members_removed;
    size_t unresolved;       /* member values that name no synced user or group */
    const char *examples[5]; /* a few of them (owned, in texts) */
    size_t n_examples;
    size_t in_cycles;             /* groups that contain themselves through other groups */
    const char *cycle_example;    /* the name of one of them */
    struct adc_cloud_users texts; /* owned storage, in blocks: the examples */
};

/* The text of key k of the input: "u:<externalId>" of a directory user ("u:" when it has
 * none), "g:<externalId>" of a directory group, or the other's text; into buf (truncated to
 * size). Returns buf. For reports and tests. */
const char *adc_group_key_text(const struct adc_group_plan_input *in, adc_group_key k, char *buf,
                               size_t size);

/* Builds the plan. Returns 0 or -ENOMEM. The plan lends from the inputs the groups' names,
 * externalIds and cloud ids; its keys name the inputs' users, groups and others, which must
 * outlive it to be resolved. The member values of the directory's groups and the members of
 * the cloud's may be freed once it is built (at 1,000,000 members they are about 25 MB;
 * docs/BENCHMARKS.md, issue 21). */
int adc_group_plan_build(const struct adc_group_plan_input *in, struct adc_group_plan *out);
void adc_group_plan_done(struct adc_group_plan *p);
void adc_cloud_group_done(struct adc_cloud_group *g);

/* A DN in the form the plan compares: ASCII lower case, no blanks around ',' '=' '+'. A new
 * string, or NULL when out of memory. */
char *adc_dn_normalize(const char *dn);
/* The same into out (size bytes): its length, or SIZE_MAX when it does not fit (out is then
 * not a string). The normalized form is never longer than dn. */
size_t adc_dn_normalize_into(const char *dn, char *out, size_t size);
