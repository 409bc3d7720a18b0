/* Users as SCIM 2.0 resources (RFC 7643 section 4.1) with the provider extension of docs/product.md
 * section 6, both ways. Pure functions over jansson values. */
#pragma once

/* Email values read per user (the primary one included): the further addresses are compared
 * on these only. Both readers (this file and scim-list-parse.c) stop at the same one. */
#define ADC_SCIM_EMAILS_MAX 32

#include <jansson.h>
#include <stdbool.h>

#include "common/user.h"
#include "common/wire.h" /* the URNs (ADC_SCIM_SCHEMA_*) */

/* Fills *u (zeroed first) from a User resource: id, userName, externalId, displayName,
 * name.givenName/familyName, the primary (else first) email, active (absent = true), meta.version
 * and the provider extension. Returns 0, -EINVAL when it is not an object with an id and a
 * userName, or -ENOMEM. */
int adc_scim_user_from_json(const json_t *res, struct adc_user *u);

/* The same with the strings copied by `dup` (e.g. into an arena; then the user must not go
 * through adc_user_done). `dup` returns NULL when out of memory. meta.version is not kept. */
typedef char *(*adc_strdup_fn)(void *ctx, const char *s, size_t len);
int adc_scim_user_from_json_with(const json_t *res, struct adc_user *u, adc_strdup_fn dup,
                                 void *ctx);

/* The resource to create or replace for a directory user, as JSON text: `active` as the plan
 * decided and, when `provider` is given, the extension claiming the user for that
 * configuration (a takeover says so explicitly). Returns a new string or NULL. */
char *adc_scim_user_to_text(const struct adc_user *d, bool active, const char *provider);

/* The "detail" (else "scimType") of a SCIM error body, or NULL. Lent from `body`. */
const char *adc_scim_error_detail(const json_t *body);
