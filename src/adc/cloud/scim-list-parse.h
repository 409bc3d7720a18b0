/* Reading adc-server's large answers without building a tree: pages of `GET /scim/v2/Users`
 * (a ListResponse) straight into cloud users, and Bulk answers (status, error, location). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "sync/cloud-users.h"

/* Appends the page's Resources to `out` in their compact form (adc_cloud_users_add). *total gets
 * totalResults and *n_items the number of resources. Returns 0, -ENOMEM, or -EBADMSG for
 * anything that is not a well-formed ListResponse of Users (then `out` is as before and err
 * says what and at which byte). */
int adc_scim_list_parse(const char *buf, size_t len, struct adc_cloud_users *out, size_t *total,
                        size_t *n_items, char *err, size_t err_size);

/* Called for each operation of a BulkResponse, in order: its position, bulkId (NULL when
 * absent), HTTP status (0 when unreadable), the error's detail (else scimType, else NULL) and
 * the location (the resource's URI, which ends with a created user's id; NULL when absent).
 * The strings are valid during the call only. */
typedef void (*adc_scim_bulk_op_fn)(void *userdata, size_t pos, const char *bulk_id, long status,
                                    const char *detail, const char *location);

/* Reads a BulkResponse without building its tree (the resources in it are skipped). Returns 0,
 * -ENOMEM, or -EBADMSG (err says what and where); fn may have been called before an error. */
int adc_scim_bulk_parse(const char *buf, size_t len, adc_scim_bulk_op_fn fn, void *userdata,
                        char *err, size_t err_size);
