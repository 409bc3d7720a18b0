#include "store/store-throttle.h"

#include <errno.h>
#include <stdatomic.h>
#include <time.h>

int64_t adc_store_throttle_hit(struct adc_db *db, const char *key, int64_t now, int64_t window) {
    static const char sql[] =
        "INSERT INTO throttle(key, count, first, last) VALUES (?1, 1, ?2, ?2) "
        "ON CONFLICT(key) DO UPDATE SET "
        "count = CASE WHEN throttle.last < ?3 THEN 1 ELSE throttle.count + 1 END, "
        "first = CASE WHEN throttle.last < ?3 THEN ?2 ELSE throttle.first END, "
        "last = ?2 RETURNING count";
    struct adc_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    adc_stmt_bind_text(st, 1, key);
    adc_stmt_bind_int(st, 2, now);
    adc_stmt_bind_int(st, 3, now - window);
    int r = adc_db_step_row(db, st);
    if (r < 0)
        return r == -ENOENT ? -EIO : r;
    int64_t n = adc_stmt_int(st, 0);
    adc_stmt_reset(st);
    return n;
}

int64_t adc_store_throttle_count(struct adc_db *db, const char *key, int64_t now, int64_t window) {
    static const char sql[] = "SELECT count FROM throttle WHERE key = ? AND last >= ?";
    struct adc_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    adc_stmt_bind_text(st, 1, key);
    adc_stmt_bind_int(st, 2, now - window);
    int r = adc_db_step_row(db, st);
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return r;
    int64_t n = adc_stmt_int(st, 0);
    adc_stmt_reset(st);
    return n;
}

int adc_store_throttle_clear(struct adc_db *db, const char *key) {
    static const char sql[] = "DELETE FROM throttle WHERE key = ?";
    struct adc_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    adc_stmt_bind_text(st, 1, key);
    return adc_db_step_done(db, st, false);
}

int64_t adc_store_throttle_prune(struct adc_db *db, int64_t before) {
    static const char sql[] = "DELETE FROM throttle WHERE last < ?";
    struct adc_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    adc_stmt_bind_int(st, 1, before);
    int r = adc_db_step_done(db, st, false);
    return r < 0 ? r : adc_db_changes(db);
}

static atomic_uint adds;

int64_t adc_store_throttle_add(struct adc_store *s, const char *key, int64_t window) {
    struct adc_db *db = adc_store_acquire(s);
    int64_t now = time(NULL);
    int64_t n = adc_db_begin(db, true);
    if (n < 0)
        goto out;
    n = adc_store_throttle_hit(db, key, now, window);
    /* About one call in 64 sweeps the expired keys: cheap (an index range), and it keeps a
     * flood of addresses from growing the table without bound. */
    if (n > 0 && (atomic_fetch_add(&adds, 1) & 63) == 0)
        adc_store_throttle_prune(db, now - window);
    if (n > 0) {
        int r = adc_db_commit(db);
        if (r < 0)
            n = r;
    } else {
        adc_db_rollback(db);
    }
out:
    adc_store_release(db);
    return n;
}

int64_t adc_store_throttle_get(struct adc_store *s, const char *key, int64_t window) {
    struct adc_db *db = adc_store_acquire(s);
    if (!db)
        return -EIO;
    int64_t n = adc_store_throttle_count(db, key, time(NULL), window);
    adc_store_release(db);
    return n;
}

int adc_store_throttle_reset(struct adc_store *s, const char *key) {
    struct adc_db *db = adc_store_acquire(s);
    int r = adc_db_begin(db, true);
    if (r < 0)
        goto out;
    r = adc_store_throttle_clear(db, key);
    if (r == 0)
        r = adc_db_commit(db);
    else
        adc_db_rollback(db);
out:
    adc_store_release(db);
    return r;
}
