/* System Administrator accounts of the web console: a name and a yescrypt password hash,
 * managed from the command line (`adc-server --db FILE admin create NAME`, cli/admin.c). API tokens
 * stay the way for automation; these accounts are for people in a browser. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "store/store-admins.h"

#define ADC_ADMIN_NAME_MAX ADC_STORE_ADMIN_NAME_MAX

/* True for 1..64 characters of [A-Za-z0-9._@-]. */
bool adc_admin_name_valid(const char *name);

/* Creates an account. Returns 0, -EEXIST when the name is taken (ignoring case), -EINVAL for
 * a bad name or a password outside ADC_PASSWORD_MIN..MAX, or another negative errno. */
int adc_admin_account_create(struct adc_store *s, const char *name, const char *password,
                             const char *actor);
/* Replaces the password and ends every session of the account. -ENOENT when unknown. */
int adc_admin_account_set_password(struct adc_store *s, const char *name, const char *password,
                                   const char *actor);
/* Deletes the account and its sessions. -ENOENT when unknown. */
int adc_admin_account_delete(struct adc_store *s, const char *name, const char *actor);

/* Checks a name and password; holds a store connection only for the lookup, not during the
 * slow hash. On a match returns 0 with the account's id and its name as
 * stored (buffer of ADC_ADMIN_NAME_MAX + 1); -EACCES for an unknown name or a wrong password,
 * which take the same time; another negative errno on a store error. */
int adc_admin_account_check(struct adc_store *s, const char *name, const char *password,
                            int64_t *id, char *stored_name);
