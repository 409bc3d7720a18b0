/* Sign-in throttling state in the store (api/throttle.h decides what it means): one row per
 * key, so that several adc-server processes on one database share the same budgets. Keys are
 * built by throttle.c ("account", "account and client address", "client address", "familiar
 * address of an account"); times are Unix seconds. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define ADC_STORE_LOGIN_THROTTLE_KEY_MAX 1100

struct adc_store_login_throttle {
    bool exists;
    int64_t failures; /* in the current window, or the bucket level times 1000 */
    int64_t window_start;
    int64_t locked_until;
    int64_t lockouts; /* how many times the key was locked; lockouts grow with it */
    int64_t updated;
};

/* Reads the rows of n keys (n <= 4) into rows[i] (exists=false when absent). 0 or -EIO. */
int adc_store_login_throttle_get(struct adc_db *db, const char *const *keys, size_t n,
                                 struct adc_store_login_throttle *rows);
/* Inserts or replaces the row of key. Part of the caller's transaction. */
int adc_store_login_throttle_put(struct adc_db *db, const char *key,
                                 const struct adc_store_login_throttle *t);
/* Deletes the row of key (absent is fine). */
int adc_store_login_throttle_delete(struct adc_db *db, const char *key);
/* Deletes the rows whose key starts with prefix (2 bytes: "a:", "p:", "c:", "f:"), not updated
 * since `before` and whose lock has passed by now; returns how many, or a negative errno. */
int adc_store_login_throttle_prune(struct adc_db *db, const char *prefix, int64_t before,
                                   int64_t now);
