/* System Administrator accounts of the web console in the store: a name (unique ignoring case)
 * and a password hash (http/password.h makes and checks it; the store never sees a password). */
#pragma once

#include <stdint.h>

#include "store/store.h"

#define ADC_STORE_ADMIN_NAME_MAX 64

struct adc_store_admin {
    int64_t id;
    char name[ADC_STORE_ADMIN_NAME_MAX + 1]; /* as stored */
    char *password_hash;
    char created[24];
    char last_sign_in[24]; /* "" when never */
};
void adc_store_admin_done(struct adc_store_admin *a);

/* All inside the caller's write transaction. */
/* -EEXIST when the name is taken, ignoring case. */
int adc_store_admin_insert(struct adc_db *db, const char *name, const char *password_hash,
                           const char *now);
/* Replaces the hash and ends every session of the account (a stolen one included).
 * -ENOENT when unknown. */
int adc_store_admin_set_password(struct adc_db *db, const char *name, const char *password_hash,
                                 const char *now);
/* Deletes the account and its sessions. -ENOENT when unknown. */
int adc_store_admin_delete(struct adc_db *db, const char *name);
/* Notes a sign-in. */
int adc_store_admin_signed_in(struct adc_db *db, int64_t id, const char *now);

/* 0 with *out filled (free with adc_store_admin_done), -ENOENT, or a negative errno. */
int adc_store_admin_get(struct adc_db *db, const char *name, struct adc_store_admin *out);
/* By name; the callback's a->password_hash is NULL. Returns the count or a negative errno. */
typedef int (*adc_store_admin_cb)(const struct adc_store_admin *a, void *ctx);
int adc_store_admin_list(struct adc_db *db, adc_store_admin_cb cb, void *ctx);
