#include "store/store-schedule.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int adc_store_schedule_due(struct adc_db *db, int64_t now, adc_store_due_cb cb, void *ctx) {
    static const char sql[] =
        "SELECT app_id, sync_interval_minutes, next_sync_at FROM sync_configs "
        "WHERE sync_interval_minutes > 0 AND (next_sync_at IS NULL OR next_sync_at <= ?) "
        "ORDER BY next_sync_at";
    struct adc_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    adc_stmt_bind_int(st, 1, now);
    int r, n = 0;
    while ((r = adc_db_step_next(db, st)) > 0) {
        struct adc_store_due d = {0};
        adc_db_column_copy(st, 0, d.app_id, sizeof(d.app_id));
        d.interval_minutes = adc_stmt_int(st, 1);
        d.next_sync_at = adc_stmt_int(st, 2); /* NULL reads as 0 */
        r = cb(&d, ctx);
        if (r < 0)
            break;
        n++;
    }
    adc_stmt_reset(st);
    return r < 0 ? r : n;
}

int adc_store_schedule_claim(struct adc_db *db, const char *app_id, int64_t expected,
                             int64_t next) {
    /* Two statements, as "IS ?" (NULL-safe equality) is spelled differently by each engine. */
    static const char sql_null[] = "UPDATE sync_configs SET next_sync_at = ? "
                                   "WHERE app_id = ? AND next_sync_at IS NULL";
    static const char sql_eq[] = "UPDATE sync_configs SET next_sync_at = ? "
                                 "WHERE app_id = ? AND next_sync_at = ?";
    struct adc_stmt *st = adc_db_stmt(db, expected ? sql_eq : sql_null);
    if (!st)
        return -EIO;
    if (next)
        adc_stmt_bind_int(st, 1, next);
    else
        adc_stmt_bind_text(st, 1, NULL);
    adc_stmt_bind_text(st, 2, app_id);
    if (expected)
        adc_stmt_bind_int(st, 3, expected);
    int r = adc_db_step_done(db, st, false);
    if (r < 0)
        return r;
    return adc_db_changes(db) > 0 ? 1 : 0;
}

void adc_store_live_done(struct adc_store_live *l) {
    if (!l)
        return;
    free(l->last_change);
    free(l->detail);
    memset(l, 0, sizeof(*l));
}

static void bind_opt(struct adc_stmt *st, int i, const char *s) {
    adc_stmt_bind_text(st, i, s && *s ? s : NULL);
}

int adc_store_live_put(struct adc_db *db, const struct adc_store_live *l) {
    static const char sql[] =
        "INSERT INTO live_status(app_id, watch, state, changes_applied, last_change, "
        "last_change_at, detail, reported) VALUES (?,?,?,?,?,?,?,?) "
        "ON CONFLICT(app_id) DO UPDATE SET watch = excluded.watch, state = excluded.state, "
        "changes_applied = excluded.changes_applied, last_change = excluded.last_change, "
        "last_change_at = excluded.last_change_at, detail = excluded.detail, "
        "reported = excluded.reported";
    struct adc_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    adc_stmt_bind_text(st, 1, l->app_id);
    adc_stmt_bind_text(st, 2, l->watch);
    adc_stmt_bind_text(st, 3, l->state);
    adc_stmt_bind_int(st, 4, l->changes_applied);
    bind_opt(st, 5, l->last_change);
    bind_opt(st, 6, l->last_change_at);
    bind_opt(st, 7, l->detail);
    adc_stmt_bind_text(st, 8, l->reported);
    return adc_db_step_done(db, st, false);
}

int adc_store_live_get(struct adc_db *db, const char *app_id, struct adc_store_live *out) {
    static const char sql[] = "SELECT app_id, watch, state, changes_applied, last_change, "
                              "last_change_at, detail, reported FROM live_status WHERE app_id = ?";
    struct adc_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    adc_stmt_bind_text(st, 1, app_id);
    int r = adc_db_step_row(db, st);
    if (r < 0)
        return r;
    struct adc_store_live l = {0};
    adc_db_column_copy(st, 0, l.app_id, sizeof(l.app_id));
    adc_db_column_copy(st, 1, l.watch, sizeof(l.watch));
    adc_db_column_copy(st, 2, l.state, sizeof(l.state));
    l.changes_applied = adc_stmt_int(st, 3);
    l.last_change = adc_db_column_strdup(st, 4);
    adc_db_column_copy(st, 5, l.last_change_at, sizeof(l.last_change_at));
    l.detail = adc_db_column_strdup(st, 6);
    adc_db_column_copy(st, 7, l.reported, sizeof(l.reported));
    adc_stmt_reset(st);
    *out = l;
    return 0;
}

int adc_store_live_delete(struct adc_db *db, const char *app_id) {
    static const char sql[] = "DELETE FROM live_status WHERE app_id = ?";
    struct adc_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    adc_stmt_bind_text(st, 1, app_id);
    return adc_db_step_done(db, st, false);
}
