/* This configuration's groups in adc-server (docs/product.md section 10): listing them with their
 * members, and the writes a group plan needs. A membership change is a PATCH of the changed
 * members only, in chunks of at most `chunk` members (the server's maxOperations): a group of
 * 100,000 members never travels whole after its creation. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "cloud/scim-client.h"
#include "sync/group-plan.h"

/* Maps a member's cloud id (and SCIM type) to the plan's key (sync/group-plan.h: a user's or
 * group's position, or an "other" the callback records, e.g. "?:<id>"); ADC_GROUP_KEY_NONE
 * when out of memory (the listing then fails). */
typedef adc_group_key (*adc_member_key_fn)(void *ctx, const char *id, const char *type);

struct adc_cloud_group_list {
    struct adc_cloud_group *items;
    size_t n;
};

/* Every group whose provider is app_id, members as keys (see adc_cloud_group in
 * sync/group-plan.h). Returns 0, or a negative errno with *err. */
int adc_scim_list_groups(struct adc_scim *s, const char *app_id, adc_member_key_fn key_of,
                         void *ctx, struct adc_cloud_group_list *out, char **err);
void adc_cloud_group_list_done(struct adc_cloud_group_list *l);

/* The id of every user of app_id by externalId: calls fn(ctx, external_id, id) for each. */
int adc_scim_list_user_ids(struct adc_scim *s, const char *app_id,
                           void (*fn)(void *ctx, const char *external_id, const char *id),
                           void *ctx, char **err);

/* The group of app_id whose externalId is external_id: *id (and *display_name when asked: new
 * strings), NULL when there is none; *foreign when a group of another provider has it. */
int adc_scim_find_group(struct adc_scim *s, const char *app_id, const char *external_id, char **id,
                        char **display_name, bool *foreign, char **err);
/* The member ids of group `id` (GET with attributes=members): *ids, n new strings. */
int adc_scim_group_member_ids(struct adc_scim *s, const char *id, char ***ids, size_t *n,
                              char **err);

/* POST /scim/v2/Groups without members; *id gets the new group's id (a new string). */
int adc_scim_group_create(struct adc_scim *s, const char *name, const char *external_id, char **id,
                          char **err);
/* PATCH: replace displayName. */
int adc_scim_group_rename(struct adc_scim *s, const char *id, const char *name, char **err);
/* PATCH: adds the members (ids with their types, "User" or "Group") in requests of at most
 * `chunk` members each, one add operation per request. *bytes grows by the bytes sent. */
int adc_scim_group_add(struct adc_scim *s, const char *id, const char *const *member_ids,
                       const char *const *types, size_t n, size_t chunk, size_t *bytes, char **err);
/* PATCH: removes the members, one `members[value eq "id"]` operation each, at most `chunk`
 * operations per request. */
int adc_scim_group_remove(struct adc_scim *s, const char *id, const char *const *member_ids,
                          size_t n, size_t chunk, size_t *bytes, char **err);
int adc_scim_group_delete(struct adc_scim *s, const char *id, char **err);

/* One group to create through Bulk (adc_scim_groups_create_bulk). */
struct adc_scim_group_new {
    const char *name, *external_id;               /* lent */
    const char *const *member_ids, *const *types; /* lent; types "User" or "Group" */
    size_t n_members;
    /* set by adc_scim_groups_create_bulk: */
    char *id;      /* the new group's id (new string), NULL when it failed */
    char *error;   /* why it failed (new string) */
    size_t n_sent; /* the first n_sent members went with the create; the caller adds the rest */
};

/* Creates the groups with their members in as few Bulk requests as the server's limits allow
 * (maxOperations, maxPayloadSize; each request one transaction on adc-server): a first import of
 * 1,000 groups is a few requests instead of two per group. A group whose members do not fit in
 * one request goes with the first of them (n_sent). *bytes grows by the bytes of the members
 * sent. Returns 0 (see each group's id or error), or a negative errno with *err when the server
 * could not be reached (the groups not answered for have neither). */
int adc_scim_groups_create_bulk(struct adc_scim *s, const struct adc_scim_limits *limits,
                                struct adc_scim_group_new *g, size_t n, size_t *bytes, char **err);
void adc_scim_group_new_done(struct adc_scim_group_new *g, size_t n);
