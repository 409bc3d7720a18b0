/* Group resources of SCIM 2.0 (RFC 7643 section 4.2) with the provider extension, and the
 * operations on them shared by the single-resource endpoints and Bulk (docs/product.md section
 * 10). Like users' (scim-user.h), each operation runs inside the caller's write transaction and
 * applies the server-side settings and the ownership rules of the client that sent it.
 *
 * Members are stored one row each (store-groups.h): a PATCH that adds or removes members
 * touches those rows only, whatever the size of the group; rendering a group with its members
 * reads them row by row into text, never into a tree. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "common/wire.h"
#include "scim/scim-user.h"
#include "store/store-groups.h"

/* The URNs (ADC_SCIM_SCHEMA_GROUP, ADC_SCIM_SCHEMA_GROUP_PROVIDER) are in common/wire.h. */

/* The group as SCIM JSON text appended to out, with its members when `members` (read from the
 * store row by row). 0 or a negative errno. */
struct adc_buf;
int adc_scim_group_render_text(struct adc_db *db, const struct adc_store_group *g,
                               const char *base_url, bool members, struct adc_buf *out);
/* The same as a tree (for projections); NULL on error. */
json_t *adc_scim_group_render(struct adc_db *db, const struct adc_store_group *g,
                              const char *base_url, bool members);

/* Each returns 0 (r->status 201, 200 or 204; r->resource when want_resource, with members
 * unless `members` is false) or -1 with the error in r. */
int adc_scim_group_create(struct adc_scim_ctx *ctx, const json_t *body, bool want_resource,
                          struct adc_scim_result *r);
int adc_scim_group_replace(struct adc_scim_ctx *ctx, const char *id, const json_t *body,
                           const char *if_match, bool want_resource, struct adc_scim_result *r);
/* PatchOp on a group (RFC 7644 section 3.5.2): displayName, externalId, the provider (admins),
 * and members: add, remove by value filter (members[value eq "id"]) or by value list, remove
 * all, replace. */
int adc_scim_group_patch(struct adc_scim_ctx *ctx, const char *id, const json_t *body,
                         const char *if_match, bool want_resource, bool members,
                         struct adc_scim_result *r);
int adc_scim_group_delete(struct adc_scim_ctx *ctx, const char *id, const char *if_match,
                          struct adc_scim_result *r);
