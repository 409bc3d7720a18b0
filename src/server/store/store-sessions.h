/* Console sessions in the store, keyed by the SHA-256 of the cookie's token (the token itself
 * is never stored). Times are Unix seconds: they are compared with the idle and absolute
 * limits. Shared by every instance on one database. */
#pragma once

#include <stdint.h>

#include "store/store-admins.h"
#include "store/store.h"

struct adc_store_session {
    int64_t account_id;
    char name[ADC_STORE_ADMIN_NAME_MAX + 1]; /* the account's name as stored */
    int64_t created, last_seen;
};

/* 0 with *out filled, -ENOENT, or a negative errno. */
int adc_store_session_get(struct adc_db *db, const char *token_hash, struct adc_store_session *out);
/* The rest inside the caller's write transaction. */
int adc_store_session_insert(struct adc_db *db, const char *token_hash, int64_t account_id,
                             int64_t now, const char *client);
int adc_store_session_touch(struct adc_db *db, const char *token_hash, int64_t now);
int adc_store_session_delete(struct adc_db *db, const char *token_hash);
/* Deletes the sessions idle since before idle_before or created before created_before. */
int adc_store_sessions_prune(struct adc_db *db, int64_t idle_before, int64_t created_before);
