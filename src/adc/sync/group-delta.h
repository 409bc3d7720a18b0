/* Live membership changes (docs/product.md sections 9 and 10): one changed group of the
 * directory written to the cloud as a full sync would write it, through targeted SCIM requests:
 * a group created, renamed, deleted, and a membership change as a PATCH of the changed members
 * only (never the whole group), in chunks of the server's maxOperations.
 *
 * Every watcher feeds it: the syncrepl and modifyTimestamp watchers through adc_delta_entry
 * (delta.h), which hands group entries here; the Active Directory watcher calls
 * adc_delta_group / adc_delta_group_members / adc_delta_group_delete directly with what DirSync
 * gives (a group entry, or the values added and removed with incremental values).
 *
 * What a single change needs to know is in memory, in the group graph: every group of
 * groups.filter with its identity, name, DN, cloud id (once looked up) and its direct members as
 * the directory names them (normalized DNs; memberUid values as "#value"), sorted. A change is
 * the difference between the group's members in the graph and in the changed entry: only the
 * members that differ are resolved (one base read in the directory and one SCIM lookup each)
 * and written. With `nested: flatten` the users of a group and of every group below it are
 * computed from the graph, before and after the change, for the changed group and every group
 * that contains it, so a change in a nested group updates the flattened members of each of
 * its parents.
 *
 * Cost of the graph: about 200 bytes a group and 70 bytes a membership (the normalized DN, its
 * allocation and a pointer): 100,000 memberships take about 7 MB. A change costs O(members of
 * the changed group) to compare, plus for flatten O(groups x nesting depth x log members) to
 * find the parents and O(flattened members) per parent. The graph is seeded from a read of
 * every group (adc_delta_groups_seed) before the full sync that sets the live baseline; a
 * membership write the cloud has already (a change seen twice) is harmless: adds and removes by
 * value are idempotent on the server.
 *
 * Same rules as a full sync: the server's settings (no-create, no-update, no-delete, dry-run)
 * win, only this configuration's groups are written (the provider), deleted groups count in the
 * live mass-delete guard with the users, members that are not synced users or groups are
 * reported (a count and an example), never invented. Not thread-safe: the delta's thread.
 *
 * Left to the next full sync: a user renamed in a directory without referential integrity
 * (its groups still name the old DN), and Active Directory's primary-group memberships
 * (primaryGroupID), which the graph does not hold: a live change never adds or removes them,
 * except that with flatten a member removed from a nested group also leaves a parent that had
 * it only as a primary group. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "directory/group-read.h"
#include "sync/delta.h"

struct adc_group_graph;

/* Reads every group of groups.filter (adc_ldap_read_groups) into the graph, replacing what it
 * held. Call before the full sync that sets a live baseline. Returns 0, or a negative errno
 * with *err (the graph is then left as it was). */
int adc_delta_groups_seed(struct adc_delta *d, char **err);
/* Whether the graph was seeded since the delta was created (false: a full sync should seed it
 * before group changes can be judged). */
bool adc_delta_groups_seeded(const struct adc_delta *d);
/* The number of groups and direct memberships in the graph (for logs and tests). */
void adc_delta_groups_size(const struct adc_delta *d, size_t *n_groups, size_t *n_members);

/* The group entry g (as adc_ldap_read_group reads it: dn, external_id, name, member_dns,
 * member_uids) was added, modified or renamed, and is in groups.filter. It is created in the
 * cloud when new there, renamed when its name changed, and its members (or, with flatten, the
 * flattened members of it and of every group containing it) changed by the difference. g is
 * lent. Returns 0 when handled (written, nothing to do, or refused by a rule or by the server
 * for this group: *out says which), or a negative errno with *err when it could not be handled
 * now and must be tried again (-EAGAIN: the directory or the cloud unreachable); the graph is
 * then unchanged. */
int adc_delta_group(struct adc_delta *d, const struct adc_dir_group *g,
                    struct adc_delta_outcome *out, char **err);

/* The members of the group with this externalId changed by these values (DNs as the directory
 * names them, as Active Directory's DirSync with incremental values reports them): added and
 * removed are lent. Returns -ENOENT (nothing done) when the group is not in the graph: then read
 * the whole entry and call adc_delta_group. Else as adc_delta_group. */
int adc_delta_group_members(struct adc_delta *d, const char *external_id, const char *const *added,
                            size_t n_added, const char *const *removed, size_t n_removed,
                            struct adc_delta_outcome *out, char **err);

/* The group with this externalId was deleted or left groups.filter: the cloud group of this
 * configuration is deleted (no-delete, dry-run and the burst guard permitting), and with flatten
 * the groups that contained it lose its users. Nothing is done (0, empty *out) when no group of
 * this configuration has that externalId. Same returns as adc_delta_group. */
int adc_delta_group_delete(struct adc_delta *d, const char *external_id,
                           struct adc_delta_outcome *out, char **err);

/* ---- for delta.c ------------------------------------------------------------------------------
 */

/* A live change of the entry dn: when it is a group (it matches groups.filter), handles it and
 * sets *was_group. Same returns as adc_delta_group. */
int adc_group_delta_dn(struct adc_delta *d, const char *dn, bool in_scope, bool *was_group,
                       struct adc_delta_outcome *out, char **err);
/* The entry dn exists but is not a user of the sync filter (the poll watcher): when it is a
 * group of the graph that left groups.filter, it is deleted. */
int adc_group_delta_left_scope(struct adc_delta *d, const char *dn, struct adc_delta_outcome *out,
                               char **err);
/* The user dn was created in the cloud by a live change: it joins the cloud groups whose
 * members (in the graph) name it, by DN or memberUid (and, with flatten, their parents). Adds
 * to out->summary. Same returns as adc_delta_group. */
int adc_group_delta_user_created(struct adc_delta *d, const char *dn, const char *external_id,
                                 const char *user_name, struct adc_delta_outcome *out, char **err);
void adc_group_graph_free(struct adc_group_graph *g);
