/* Groups and their memberships in the store (docs/product.md section 10).
 *
 * A group is one row of `groups` (the indexed attributes and member_count); its members are
 * rows of `group_members` (group_id, member_id, type), indexed by group and by member. Every
 * membership change is one row: adding or removing a member of a group of 100,000 members costs
 * one index lookup, and listing a user's groups one range of the member index. member_count is
 * kept by the caller from the counts these functions return, so nothing counts a group whole.
 *
 * All functions run inside the caller's transaction and return a negative errno on failure
 * (-ENOENT missing, -EEXIST constraint, -EBUSY locked, -EIO else). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define ADC_MEMBER_USER "User"
#define ADC_MEMBER_GROUP "Group"

struct adc_store_group {
    int64_t seq; /* insertion order: the stable order of listings */
    char id[40];
    char *display_name;
    char *external_id; /* may be NULL */
    char *provider;
    int64_t member_count;
    int64_t version;
    char created[24];
    char modified[24];
};

void adc_store_group_done(struct adc_store_group *g);

/* 0 with *out filled (free with adc_store_group_done), -ENOENT, or -EIO. */
int adc_store_group_get(struct adc_db *db, const char *id, struct adc_store_group *out);
/* Inserts g (id, times and version set by the caller; member_count 0); sets g->seq. */
int adc_store_group_insert(struct adc_db *db, struct adc_store_group *g);
/* Rewrites the row of g->id: display name, externalId, provider, member_count, version,
 * modified. -ENOENT when there is none. */
int adc_store_group_update(struct adc_db *db, const struct adc_store_group *g);
/* Deletes the group, its members, and its memberships in other groups (whose member_count,
 * version and modified time change: `now`). -ENOENT when there is none. */
int adc_store_group_delete(struct adc_db *db, const char *id, const char *now);
/* Moves every group of provider `from` to `to`; the count or a negative errno. */
int adc_store_groups_reassign(struct adc_db *db, const char *from, const char *to);

/* Lists groups matching `where` (SQL over the groups table, may be NULL = all) in seq order,
 * as adc_store_user_list does. Returns the number listed or a negative errno (or cb's). */
typedef int (*adc_store_group_cb)(const struct adc_store_group *g, void *ctx);
int adc_store_group_list(struct adc_db *db, const char *where, const struct adc_sql_arg *args,
                         size_t n_args, int64_t after_seq, int64_t offset, int64_t limit,
                         adc_store_group_cb cb, void *ctx);
int64_t adc_store_group_count(struct adc_db *db, const char *where, const struct adc_sql_arg *args,
                              size_t n_args);

/* What id names: *type becomes ADC_MEMBER_USER or ADC_MEMBER_GROUP (static strings).
 * 0, -ENOENT (neither a user nor a group), or -EIO. */
int adc_store_member_type(struct adc_db *db, const char *id, const char **type);
/* 1 when added, 0 when it was a member already (adding is idempotent, RFC 7644 section
 * 3.5.2.1), or a negative errno. */
int adc_store_group_member_add(struct adc_db *db, const char *group_id, const char *member_id,
                               const char *type);
/* Set-based membership writes (docs/product.md section 10: a group created with 100,000
 * members costs a few statements, not a lookup and an insert per member). `ids_json` is a JSON
 * array of member ids (strings). */
/* Calls cb(index, type, provider) for each element of ids_json that names a user
 * (ADC_MEMBER_USER) or a group (ADC_MEMBER_GROUP), with its provider (lent for the call);
 * elements naming neither are not reported. One statement over the users' and groups' id
 * indexes. Returns how many were found, or a negative errno (or cb's). */
typedef int (*adc_store_member_type_cb)(int64_t index, const char *type, const char *provider,
                                        void *ctx);
int64_t adc_store_member_types(struct adc_db *db, const char *ids_json, adc_store_member_type_cb cb,
                               void *ctx);
/* Adds every id of ids_json as a member of `type` in one statement; ids already members (or
 * repeated in the list) are skipped. Returns how many were added, or a negative errno. */
int64_t adc_store_group_members_add_all(struct adc_db *db, const char *group_id,
                                        const char *ids_json, const char *type);
/* 1 when removed, 0 when it was not a member, or a negative errno. */
int adc_store_group_member_remove(struct adc_db *db, const char *group_id, const char *member_id);
/* Removes the members matching `where` (SQL over group_members: member_id, type; NULL = all);
 * returns how many. */
int64_t adc_store_group_members_remove_where(struct adc_db *db, const char *group_id,
                                             const char *where, const struct adc_sql_arg *args,
                                             size_t n_args);
/* Calls cb for each member of the group, in member id order, with its display name (the
 * user's userName or the group's displayName; NULL if unknown). Returns the count, or a
 * negative errno (or cb's). Reads the member rows one at a time: a group of any size costs
 * no memory here. */
typedef int (*adc_store_member_cb)(const char *member_id, const char *type, const char *display,
                                   void *ctx);
int64_t adc_store_group_members_list(struct adc_db *db, const char *group_id,
                                     adc_store_member_cb cb, void *ctx);
/* One page of the group's members for the console (docs/product.md section 10: a group of
 * 100,000 members browsable): in member id order, from `offset`, at most `limit`, only those
 * whose display name contains `search` (ASCII case-insensitive; NULL or "" = all). *total: how
 * many match. Returns how many were listed, or a negative errno (or cb's). Costs one range of
 * the member index (plus, with a search, one pass over the group's members to count). */
int64_t adc_store_group_members_page(struct adc_db *db, const char *group_id, const char *search,
                                     int64_t offset, int64_t limit, int64_t *total,
                                     adc_store_member_cb cb, void *ctx);
/* The members of the group after `after` (member id order; "" = from the first), at most
 * `limit`: the agent's paged read of its groups' members (docs/agent-protocol.md), which
 * resumes where the last page ended instead of skipping `offset` rows. One range of the
 * primary key (group_id, member_id), no join. cb gets a NULL display. Returns how many were
 * listed, or a negative errno (or cb's). */
int64_t adc_store_group_members_after(struct adc_db *db, const char *group_id, const char *after,
                                      int64_t limit, adc_store_member_cb cb, void *ctx);
/* A user or group that goes away leaves every group it was a member of: their member_count
 * drops, their version rises, their modified time becomes `now`. Returns how many. */
int64_t adc_store_member_forget(struct adc_db *db, const char *member_id, const char *now);
