#include "store/store-runs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUN_COLUMNS                                                                                \
    "run_id, app_id, source, dry_run, status, stats, errors, error_count, created, started, "      \
    "finished, updated, agent_id, run_trigger"

void adc_store_run_done(struct adc_store_run *r) {
    if (!r)
        return;
    free(r->stats);
    free(r->errors);
    memset(r, 0, sizeof(*r));
}

static void bind_opt(struct adc_stmt *st, int i, const char *s) {
    if (s && *s)
        adc_stmt_bind_text(st, i, s);
    else
        adc_stmt_bind_text(st, i, NULL);
}

static int read_row(struct adc_stmt *st, struct adc_store_run *r) {
    memset(r, 0, sizeof(*r));
    adc_db_column_copy(st, 0, r->run_id, sizeof(r->run_id));
    adc_db_column_copy(st, 1, r->app_id, sizeof(r->app_id));
    adc_db_column_copy(st, 2, r->source, sizeof(r->source));
    r->dry_run = adc_stmt_int(st, 3) != 0;
    adc_db_column_copy(st, 4, r->status, sizeof(r->status));
    r->stats = adc_db_column_strdup(st, 5);
    r->errors = adc_db_column_strdup(st, 6);
    r->error_count = adc_stmt_int(st, 7);
    adc_db_column_copy(st, 8, r->created, sizeof(r->created));
    adc_db_column_copy(st, 9, r->started, sizeof(r->started));
    adc_db_column_copy(st, 10, r->finished, sizeof(r->finished));
    adc_db_column_copy(st, 11, r->updated, sizeof(r->updated));
    adc_db_column_copy(st, 12, r->agent_id, sizeof(r->agent_id));
    adc_db_column_copy(st, 13, r->trigger, sizeof(r->trigger));
    if (!r->stats || !r->errors) {
        adc_store_run_done(r);
        return -ENOMEM;
    }
    return 0;
}

/* Calls cb for each row of st, then resets it. Returns the count, or a negative errno (or
 * cb's). */
static int each_run(struct adc_db *db, struct adc_stmt *st, adc_store_run_cb cb, void *ctx) {
    int r, n = 0;
    while ((r = adc_db_step_next(db, st)) > 0) {
        struct adc_store_run run;
        r = read_row(st, &run);
        if (r < 0)
            break;
        r = cb(&run, ctx);
        adc_store_run_done(&run);
        if (r < 0)
            break;
        n++;
    }
    adc_stmt_reset(st);
    return r < 0 ? r : n;
}

int adc_store_run_insert(struct adc_db *db, const struct adc_store_run *r) {
    static const char sql[] =
        "INSERT INTO runs(" RUN_COLUMNS ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
    struct adc_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    adc_stmt_bind_text(st, 1, r->run_id);
    adc_stmt_bind_text(st, 2, r->app_id);
    adc_stmt_bind_text(st, 3, r->source);
    adc_stmt_bind_int(st, 4, r->dry_run);
    adc_stmt_bind_text(st, 5, r->status);
    adc_stmt_bind_text(st, 6, r->stats ? r->stats : "{}");
    adc_stmt_bind_text(st, 7, r->errors ? r->errors : "[]");
    adc_stmt_bind_int(st, 8, r->error_count);
    adc_stmt_bind_text(st, 9, r->created);
    bind_opt(st, 10, r->started);
    bind_opt(st, 11, r->finished);
    adc_stmt_bind_text(st, 12, r->updated);
    bind_opt(st, 13, r->agent_id);
    adc_stmt_bind_text(st, 14, r->trigger[0] ? r->trigger : "manual");
    return adc_db_step_done(db, st, false);
}

int adc_store_run_update(struct adc_db *db, const struct adc_store_run *r) {
    static const char sql[] = "UPDATE runs SET status = ?2, stats = ?3, errors = ?4, "
                              "error_count = ?5, started = ?6, finished = ?7, updated = ?8, "
                              "agent_id = ?9 WHERE run_id = ?1";
    struct adc_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    adc_stmt_bind_text(st, 1, r->run_id);
    adc_stmt_bind_text(st, 2, r->status);
    adc_stmt_bind_text(st, 3, r->stats ? r->stats : "{}");
    adc_stmt_bind_text(st, 4, r->errors ? r->errors : "[]");
    adc_stmt_bind_int(st, 5, r->error_count);
    bind_opt(st, 6, r->started);
    bind_opt(st, 7, r->finished);
    adc_stmt_bind_text(st, 8, r->updated);
    bind_opt(st, 9, r->agent_id);
    return adc_db_step_done(db, st, true);
}

int adc_store_run_get(struct adc_db *db, const char *run_id, struct adc_store_run *out) {
    static const char sql[] = "SELECT " RUN_COLUMNS " FROM runs WHERE run_id = ?";
    int r;
    struct adc_stmt *st = adc_db_query_row(db, sql, &r, "t", run_id);
    if (!st)
        return r;
    r = read_row(st, out);
    adc_stmt_reset(st);
    return r;
}

int adc_store_run_list(struct adc_db *db, const char *app_id, int64_t limit, adc_store_run_cb cb,
                       void *ctx) {
    static const char sql[] =
        "SELECT " RUN_COLUMNS " FROM runs WHERE app_id = ? ORDER BY seq DESC LIMIT ?";
    struct adc_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    adc_stmt_bind_text(st, 1, app_id);
    adc_stmt_bind_int(st, 2, limit);
    return each_run(db, st, cb, ctx);
}

int adc_store_runs_unfinished(struct adc_db *db, adc_store_run_cb cb, void *ctx) {
    static const char sql[] = "SELECT " RUN_COLUMNS " FROM runs WHERE status IN ('queued', "
                              "'running') AND source <> 'imp' ORDER BY seq";
    struct adc_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    return each_run(db, st, cb, ctx);
}

int adc_store_runs_silent(struct adc_db *db, const char *before, adc_store_run_cb cb, void *ctx) {
    static const char sql[] = "SELECT " RUN_COLUMNS " FROM runs WHERE status IN ('queued', "
                              "'running') AND updated < ? ORDER BY seq";
    struct adc_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    adc_stmt_bind_text(st, 1, before);
    return each_run(db, st, cb, ctx);
}

int adc_store_run_touch(struct adc_db *db, const char *run_id, const char *now) {
    static const char sql[] = "UPDATE runs SET updated = ? WHERE run_id = ? AND "
                              "status IN ('queued', 'running')";
    struct adc_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    adc_stmt_bind_text(st, 1, now);
    adc_stmt_bind_text(st, 2, run_id);
    return adc_db_step_done(db, st, true);
}

int adc_store_run_set_agent(struct adc_db *db, const char *run_id, const char *agent_id,
                            const char *now) {
    static const char sql[] = "UPDATE runs SET agent_id = ?, updated = ? WHERE run_id = ? AND "
                              "status NOT IN ('succeeded', 'failed')";
    return adc_db_exec(db, sql, true, "ttt", agent_id, now, run_id);
}

int adc_store_runs_by_status(struct adc_db *db, adc_store_run_count_cb cb, void *ctx) {
    static const char sql[] = "SELECT status, count(*) FROM runs GROUP BY status ORDER BY status";
    struct adc_stmt *st = adc_db_query(db, sql, "");
    if (!st)
        return -EIO;
    int r;
    while ((r = adc_db_step_next(db, st)) > 0)
        cb(adc_stmt_text(st, 0), adc_stmt_int(st, 1), ctx);
    adc_stmt_reset(st);
    return r;
}

int adc_store_audit(struct adc_db *db, const char *actor, const char *action, const char *target,
                    const char *detail) {
    static const char sql[] =
        "INSERT INTO audit(at, actor, action, target, detail) VALUES (?,?,?,?,?)";
    struct adc_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    char now[24];
    adc_store_now(now);
    adc_stmt_bind_text(st, 1, now);
    adc_stmt_bind_text(st, 2, actor);
    adc_stmt_bind_text(st, 3, action);
    bind_opt(st, 4, target);
    bind_opt(st, 5, detail);
    return adc_db_step_done(db, st, false);
}

int adc_store_audit_list(struct adc_db *db, int64_t before, int64_t limit, adc_store_audit_cb cb,
                         void *ctx) {
    static const char sql[] = "SELECT seq, at, actor, action, target, detail FROM audit "
                              "WHERE seq < ? ORDER BY seq DESC LIMIT ?";
    struct adc_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    adc_stmt_bind_int(st, 1, before > 0 ? before : INT64_MAX);
    adc_stmt_bind_int(st, 2, limit);
    int r, n = 0;
    while ((r = adc_db_step_next(db, st)) > 0) {
        struct adc_store_audit_entry e = {
            .seq = adc_stmt_int(st, 0),
            .at = adc_stmt_text(st, 1),
            .actor = adc_stmt_text(st, 2),
            .action = adc_stmt_text(st, 3),
            .target = adc_stmt_text(st, 4),
            .detail = adc_stmt_text(st, 5),
        };
        r = cb(&e, ctx);
        if (r < 0)
            break;
        n++;
    }
    adc_stmt_reset(st);
    return r < 0 ? r : n;
}
