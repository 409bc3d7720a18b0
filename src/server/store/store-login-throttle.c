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
    struct adc_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    for (size_t i = 0; i < 4; i++)
        adc_stmt_bind_text(st, (int)i + 1, keys[i < n ? i : 0]);
    int r;
    while ((r = adc_db_step_next(db, st)) > 0) {
        const char *key = adc_stmt_text(st, 0);
        for (size_t i = 0; key && i < n; i++)
            if (strcmp(keys[i], key) == 0)
                rows[i] = (struct adc_store_login_throttle){
                    .exists = true,
                    .failures = adc_stmt_int(st, 1),
                    .window_start = adc_stmt_int(st, 2),
                    .locked_until = adc_stmt_int(st, 3),
                    .lockouts = adc_stmt_int(st, 4),
                    .updated = adc_stmt_int(st, 5),
                };
    }
    adc_stmt_reset(st);
    return r < 0 ? r : 0;
}

int adc_store_login_throttle_put(struct adc_db *db, const char *key,
                                 const struct adc_store_login_throttle *t) {
    static const char sql[] =
        "INSERT INTO login_throttle(key, failures, window_start, locked_until, lockouts, "
        "updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(key) DO UPDATE SET "
        "failures = ?2, window_start = ?3, locked_until = ?4, lockouts = ?5, updated = ?6";
    struct adc_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    adc_stmt_bind_text(st, 1, key);
    adc_stmt_bind_int(st, 2, t->failures);
    adc_stmt_bind_int(st, 3, t->window_start);
    adc_stmt_bind_int(st, 4, t->locked_until);
    adc_stmt_bind_int(st, 5, t->lockouts);
    adc_stmt_bind_int(st, 6, t->updated);
    return adc_db_step_done(db, st, false);
}

int adc_store_login_throttle_delete(struct adc_db *db, const char *key) {
    static const char sql[] = "DELETE FROM login_throttle WHERE key = ?";
    struct adc_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    adc_stmt_bind_text(st, 1, key);
    return adc_db_step_done(db, st, false);
}

int adc_store_login_throttle_prune(struct adc_db *db, const char *prefix, int64_t before,
                                   int64_t now) {
    /* A scan, every few minutes: substr() reads the same in both engines (a key range would
     * depend on PostgreSQL's collation, LIKE on escaping and case). Prefixes are 2 bytes. */
    static const char sql[] = "DELETE FROM login_throttle WHERE substr(key, 1, 2) = ?1 "
                              "AND updated < ?2 AND locked_until < ?3";
    if (strlen(prefix) != 2)
        return -EINVAL;
    struct adc_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    adc_stmt_bind_text(st, 1, prefix);
    adc_stmt_bind_int(st, 2, before);
    adc_stmt_bind_int(st, 3, now);
    int r = adc_db_step_done(db, st, false);
    return r < 0 ? r : (int)adc_db_changes(db);
}
