/* Parsing a page of `GET /scim/v2/Users` (a SCIM ListResponse) directly into cloud users. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "cloud-users.h"

/* Appends the page's Resources to `out` (their strings in its blocks). *total gets
 * totalResults and *n_items the number of resources. Returns 0, -ENOMEM, or -EBADMSG for
 * anything that is not a well-formed ListResponse of Users (then `out` is as before and err
 * says what and at which byte). */
int adc_scim_list_parse(const char *buf, size_t len, struct adc_cloud_users *out, size_t *total,
                        size_t *n_items, char *err, size_t err_size);
