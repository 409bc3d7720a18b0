/* User resources of SCIM 2.0 (RFC 7643 section 4.1) with the provider extension, and the
 * operations on them shared by the single-resource endpoints and Bulk. Each operation runs
 * inside the caller's write transaction and applies the server-side settings of the sync
 * configuration that sent it (docs/product.md section 4, rule 7). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/wire.h" /* the URNs (ADC_SCIM_SCHEMA_*) */
#include "http/http.h"
#include "scim/scim-result.h"
#include "store/store-users.h"

/* The full SCIM resource of a stored user. */
json_t *adc_scim_user_render(const struct adc_store_user *u, const char *base_url);
/* The same resource as JSON text appended to out, built without parsing the stored attributes:
 * listing 100,000 users is then mostly memcpy. Without meta when `meta` is false. */
struct adc_buf;
int adc_scim_user_render_text(const struct adc_store_user *u, const char *base_url, bool meta,
                              struct adc_buf *out);

/* An incoming User resource, checked (types, limits, schemas) and normalized for storage
 * (scim-user-check.c). */
struct adc_scim_user_input {
    json_t *data;                        /* the attributes to store (owned: json_decref) */
    const char *user_name, *external_id; /* in data */
    bool active;
    const char *provider; /* from the extension, in the resource checked; NULL when not given */
};
/* Returns 0 with *p filled, or -1 with the 400 in r (nothing to free). */
int adc_scim_user_check(const json_t *in, struct adc_scim_user_input *p, struct adc_scim_result *r);

/* Returns 0 on success (r->status 200/201/204), -1 with the error in r. */
int adc_scim_user_create(struct adc_scim_ctx *ctx, const json_t *body, bool want_resource,
                         struct adc_scim_result *r);
/* A create in two halves, so that a Bulk request does the first for all its creates before it
 * takes the write lock: _prepare checks the settings and the resource and renders what will be
 * stored (no database: ctx->db may be NULL); _commit stores it. Each returns 0, or -1 with the
 * error in r. adc_scim_new_user_done frees what _prepare made (after a commit or instead). */
struct adc_scim_new_user {
    struct adc_store_user u;
    bool check_provider; /* not a sync configuration: the provider must be checked in the db */
    char *audit_detail;  /* adc_scim_user_create_stamp's, else NULL */
};
int adc_scim_user_create_prepare(struct adc_scim_ctx *ctx, const json_t *body,
                                 struct adc_scim_new_user *nu, struct adc_scim_result *r);
int adc_scim_user_create_commit(struct adc_scim_ctx *ctx, struct adc_scim_new_user *nu,
                                bool want_resource, struct adc_scim_result *r);
/* After a committed create: settles the externalId index (store-users.h) when enough users wait
 * for it. A failure is logged, not answered: the users are found without it. */
void adc_scim_users_settle(struct adc_db *db);
void adc_scim_new_user_done(struct adc_scim_new_user *nu);
/* What _commit would make under the write lock and needs no database, made beforehand: the id,
 * the times (now, adc_store_now's text, for all creates of a request) and the audit record's
 * detail. For a prepared nu; 0, or -ENOMEM (nu unchanged: _commit makes them then). */
int adc_scim_user_create_stamp(struct adc_scim_new_user *nu, const char now[static 24]);
/* The parts of _prepare that do not depend on how the resource was read, for the tree-less
 * reader of Bulk creates (scim-user-scan.h): whether this client may create at all (0, or -1
 * with the 403 in r); whether its creates are stored disabled (create-as-disabled); and the
 * new user from the checked values (data: the attributes to store as JSON text, malloc'd,
 * owned by nu from here on, even on failure). */
int adc_scim_create_allowed(struct adc_scim_ctx *ctx, struct adc_scim_result *r);
bool adc_scim_create_forced_disabled(const struct adc_scim_ctx *ctx);
int adc_scim_new_user_fill(const struct adc_scim_ctx *ctx, const char *user_name,
                           const char *external_id, bool active, const char *provider, char *data,
                           struct adc_scim_new_user *nu, struct adc_scim_result *r);
int adc_scim_user_replace(struct adc_scim_ctx *ctx, const char *id, const json_t *body,
                          const char *if_match, bool want_resource, struct adc_scim_result *r);
int adc_scim_user_patch(struct adc_scim_ctx *ctx, const char *id, const json_t *body,
                        const char *if_match, bool want_resource, struct adc_scim_result *r);
int adc_scim_user_delete(struct adc_scim_ctx *ctx, const char *id, const char *if_match,
                         struct adc_scim_result *r);

/* Applies a PatchOp body (RFC 7644 section 3.5.2) to a rendered resource in place. Returns 0,
 * or -1 with a reason in err and the scimType in *scim_type. (scim-patch.c) */
int adc_scim_patch_apply(json_t *resource, const json_t *body, const char **scim_type, char *err,
                         size_t err_size);
