/* The User resource of a Bulk create read straight from the request's bytes, without a
 * jansson tree: for a first import of 100,000 users, building and freeing those trees was the
 * largest part of adc-server's work (docs/BENCHMARKS.md).
 *
 * Only the common case is read here. Anything else (an attribute given twice or as null, a
 * value of the wrong type or an invalid one, a create the server's settings refuse, an object
 * inside a stored value with a key given twice or escaped) is declined, and the caller reads
 * the resource with jansson (adc_scim_user_create_prepare), which gives the same result or the
 * exact error. The fuzz target bulk-read checks that both readers agree. */
#pragma once

#include <stddef.h>

#include "scim/scim-user.h"

/* [json, json + len) is one JSON value that json-scan accepted. Returns 0 with nu filled as
 * adc_scim_user_create_prepare would fill it, or -1: declined, nu untouched. */
int adc_scim_user_create_prepare_text(struct adc_scim_ctx *ctx, const char *json, size_t len,
                                      struct adc_scim_new_user *nu);
