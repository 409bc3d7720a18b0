/* What the parts of the Group resource share (scim-group.c: reading a group, members,
 * ownership, saving; scim-group-patch.c: PATCH); not for use outside src/server/scim. Each
 * returns 0, or -1 with the error in r (adc_scim_fail). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "scim/scim-filter.h"
#include "scim/scim-group.h"

/* displayName or externalId (`what`): a non-empty string of at most ADC_SCIM_MAX_NAME_LEN
 * characters without control characters. */
int adc_scim_group_check_name(const json_t *v, const char *what, struct adc_scim_result *r);
/* The provider extension object: *provider is its "provider" (borrowed from ext), NULL when
 * not given. */
int adc_scim_group_read_provider(const json_t *ext, const char **provider,
                                 struct adc_scim_result *r);

/* Adds the members of an array (or a single member object); *delta grows by those that were
 * not members yet. */
int adc_scim_group_add_members(struct adc_scim_ctx *ctx, const char *group_id, const json_t *list,
                               int64_t *delta, struct adc_scim_result *r);
/* Removes the members whose values a list names; *delta shrinks by those removed. */
int adc_scim_group_remove_listed(struct adc_scim_ctx *ctx, const char *group_id, const json_t *list,
                                 int64_t *delta, struct adc_scim_result *r);
/* Removes the members a filter selects, all of them when f is NULL. */
int adc_scim_group_remove_where(struct adc_scim_ctx *ctx, const char *group_id,
                                const struct adc_scim_filter *f, int64_t *delta,
                                struct adc_scim_result *r);

/* Loads group id into g (which the caller then owns: adc_store_group_done) when it exists,
 * If-Match agrees and this client may write it; *takeover when a sync configuration takes a
 * `local` group over. On -1, g holds nothing. */
int adc_scim_group_load_for_write(struct adc_scim_ctx *ctx, const char *id, const char *if_match,
                                  bool deleting, struct adc_store_group *g, bool *takeover,
                                  struct adc_scim_result *r);
/* Replaces a string field of g (owned; value copied, NULL clears it). */
int adc_scim_group_set_text(char **field, const char *value, struct adc_scim_result *r);
/* The provider an administrator asks for, checked; a sync configuration's request keeps its own. */
int adc_scim_group_set_provider(struct adc_scim_ctx *ctx, struct adc_store_group *g,
                                const char *provider, struct adc_scim_result *r);
/* Stores the changed group (member_count + delta, version + 1, modified now), audits it and
 * fills r (status, id, version, the resource when want_resource). */
int adc_scim_group_save(struct adc_scim_ctx *ctx, struct adc_store_group *g, int64_t delta,
                        const char *action, const char *extra, unsigned status, bool want_resource,
                        bool members, struct adc_scim_result *r);
