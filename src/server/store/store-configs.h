/* Sync configurations and System Administrator tokens in the store. Secrets and tokens are
 * stored only as hex SHA-256 hashes (auth.h). */
#pragma once

#include <stdint.h>

#include "store/store.h"

struct adc_store_config {
    char app_id[40];
    char *name;
    char *settings; /* JSON object text holding only the keys the server sets */
    char created[24];
    char modified[24];
    char secret_rotated[24]; /* empty when never rotated */
    /* The full-sync schedule (docs/product.md section 9): 0 = none. next_sync_at: Unix seconds
     * when the next scheduled sync is due, 0 when not computed yet (store-schedule.h). */
    int64_t sync_interval_minutes;
    int64_t next_sync_at;
};

void adc_store_config_done(struct adc_store_config *c);

int adc_store_config_insert(struct adc_db *db, const struct adc_store_config *c,
                            const char *secret_hash);
/* 0 or -ENOENT. hash_out (may be NULL) receives the stored secret hash. */
int adc_store_config_get(struct adc_db *db, const char *app_id, struct adc_store_config *out,
                         char *hash_out);
int adc_store_config_get_by_secret_hash(struct adc_db *db, const char *hash,
                                        struct adc_store_config *out);
typedef int (*adc_store_config_cb)(const struct adc_store_config *c, void *ctx);
int adc_store_config_list(struct adc_db *db, adc_store_config_cb cb, void *ctx);
/* Updates name, settings, sync_interval_minutes, next_sync_at and modified. */
int adc_store_config_update(struct adc_db *db, const struct adc_store_config *c);
int adc_store_config_set_secret(struct adc_db *db, const char *app_id, const char *hash,
                                const char *when);
int adc_store_config_delete(struct adc_db *db, const char *app_id);

int adc_store_token_insert(struct adc_db *db, const char *name, const char *hash,
                           const char *created);
/* Lists admin tokens (name, created), oldest first. */
typedef int (*adc_store_token_cb)(const char *name, const char *created, void *ctx);
int adc_store_token_list(struct adc_db *db, adc_store_token_cb cb, void *ctx);
/* Deletes the admin tokens named name; returns how many, or a negative errno. */
int adc_store_token_delete(struct adc_db *db, const char *name);
/* Finds an admin token by hash: 0 with its name and stored hash, or -ENOENT. */
int adc_store_token_find(struct adc_db *db, const char *hash, char *name, size_t name_size,
                         char stored_hash[static 65]);
