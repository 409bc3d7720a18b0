#include "store/store-login-throttle.h"

#include <errno.h>
#include <string.h>

int adc_store_login_throttle_get(struct adc_db *db, const char *const *keys, size_t n,
                           struct adc_store_login_throttle *rows) {
    static const char sql[] =
        "SELECT key, failures, window_start, locked_until, lockouts, updated FROM login_throttle "
        "WHERE key IN (?1, ?2, ?3, ?4)";
    if (n > 4)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        rows[i] = (struct adc_store_login_throttle){0};
    sqlite3_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    for (size_t i = 0; i < 4; i++)
        sqlite3_bind_text(st, (int)i + 1, keys[i < n ? i : 0], -1, SQLITE_STATIC);
    int r;
    while ((r = adc_db_step_next(db, st)) > 0) {
        const char *key = (const char *)sqlite3_column_text(st, 0);
        for (size_t i = 0; key && i < n; i++)
            if (strcmp(keys[i], key) == 0)
                rows[i] = (struct adc_store_login_throttle){
                    .exists = true,
                    .failures = sqlite3_column_int64(st, 1),
                    .window_start = sqlite3_column_int64(st, 2),
                    .locked_until = sqlite3_column_int64(st, 3),
                    .lockouts = sqlite3_column_int64(st, 4),
                    .updated = sqlite3_column_int64(st, 5),
                };
    }
    sqlite3_reset(st);
    return r < 0 ? r : 0;
}

int adc_store_login_throttle_put(struct adc_db *db, const char *key, const struct adc_store_login_throttle *t) {
    static const char sql[] =
        "INSERT OR REPLACE INTO login_throttle(key, failures, window_start, locked_until, "
        "lockouts, updated) VALUES (?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, t->failures);
    sqlite3_bind_int64(st, 3, t->window_start);
    sqlite3_bind_int64(st, 4, t->locked_until);
    sqlite3_bind_int64(st, 5, t->lockouts);
    sqlite3_bind_int64(st, 6, t->updated);
    return adc_db_step_done(db, st, false);
}

int adc_store_login_throttle_delete(struct adc_db *db, const char *key) {
    static const char sql[] = "DELETE FROM login_throttle WHERE key = ?";
    sqlite3_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    return adc_db_step_done(db, st, false);
}

int adc_store_login_throttle_prune(struct adc_db *db, const char *prefix, int64_t before, int64_t now) {
    static const char sql[] = "DELETE FROM login_throttle WHERE substr(key, 1, length(?1)) = ?1 "
                              "AND updated < ?2 AND locked_until < ?3";
    sqlite3_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, before);
    sqlite3_bind_int64(st, 3, now);
    int r = adc_db_step_done(db, st, false);
    return r < 0 ? r : sqlite3_changes(adc_db_handle(db));
}
