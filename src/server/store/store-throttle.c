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
    int r;
    struct adc_stmt *st = adc_db_query_row(db, sql, &r, "tii", key, now, now - window);
    if (!st)
        return r == -ENOENT ? -EIO : r; /* RETURNING always gives the row */
    int64_t n = adc_stmt_int(st, 0);
    adc_stmt_reset(st);
    return n;
}

int64_t adc_store_throttle_count(struct adc_db *db, const char *key, int64_t now, int64_t window) {
    static const char sql[] = "SELECT count FROM throttle WHERE key = ? AND last >= ?";
    int r;
    struct adc_stmt *st = adc_db_query_row(db, sql, &r, "ti", key, now - window);
    if (!st)
        return r == -ENOENT ? 0 : r;
    int64_t n = adc_stmt_int(st, 0);
    adc_stmt_reset(st);
    return n;
}

int adc_store_throttle_clear(struct adc_db *db, const char *key) {
    static const char sql[] = "DELETE FROM throttle WHERE key = ?";
    return adc_db_exec(db, sql, false, "t", key);
}

int64_t adc_store_throttle_prune(struct adc_db *db, int64_t before) {
    static const char sql[] = "DELETE FROM throttle WHERE last < ?";
    int r = adc_db_exec(db, sql, false, "i", before);
    return r < 0 ? r : adc_db_changes(db);
}

static atomic_uint adds;

int64_t adc_store_throttle_add(struct adc_store *s, const char *key, int64_t window) {
    int r;
    struct adc_db *db = adc_store_begin_write(s, &r);
    if (!db)
        return r;
    int64_t now = time(NULL);
    int64_t n = adc_store_throttle_hit(db, key, now, window);
    /* About one call in 64 sweeps the expired keys: cheap (an index range), and it keeps a
     * flood of addresses from growing the table without bound. */
    if (n > 0 && (atomic_fetch_add(&adds, 1) & 63) == 0)
        adc_store_throttle_prune(db, now - window);
    r = adc_store_end_write(db, n > 0 ? 0 : (int)n);
    return r < 0 ? r : n;
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
    int r;
    struct adc_db *db = adc_store_begin_write(s, &r);
    return db ? adc_store_end_write(db, adc_store_throttle_clear(db, key)) : r;
}
