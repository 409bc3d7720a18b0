#include "store/store-cluster.h"

#include <errno.h>
#include <stdlib.h>

int adc_store_presence_up(struct adc_db *db, const char *agent_id, const char *app_id,
                          const char *instance, const char *host, const char *version,
                          const char *since, int64_t now) {
    static const char sql[] =
        "INSERT INTO agent_presence(agent_id, app_id, instance, host, version, connected_since, "
        "last_seen) VALUES (?,?,?,?,?,?,?) ON CONFLICT(agent_id) DO UPDATE SET "
        "instance = excluded.instance, last_seen = excluded.last_seen";
    return adc_db_exec(db, sql, false, "tttttti", agent_id, app_id, instance, host, version, since,
                       now);
}

int adc_store_presence_seen(struct adc_db *db, const char *agent_id, int64_t now) {
    static const char sql[] =
        "UPDATE agent_presence SET last_seen = ?1 WHERE agent_id = ?2 AND last_seen < ?1 - 5";
    return adc_db_exec(db, sql, false, "it", now, agent_id);
}

int adc_store_presence_down(struct adc_db *db, const char *agent_id) {
    static const char sql[] = "DELETE FROM agent_presence WHERE agent_id = ?";
    return adc_db_exec(db, sql, false, "t", agent_id);
}

int64_t adc_store_presence_elsewhere(struct adc_db *db, const char *app_id, const char *instance,
                                     int64_t since) {
    static const char sql[] = "SELECT count(*) FROM agent_presence WHERE app_id = ? AND "
                              "instance <> ? AND last_seen >= ?";
    int r;
    struct adc_stmt *st = adc_db_query_row(db, sql, &r, "tti", app_id, instance, since);
    if (!st)
        return r;
    int64_t n = adc_stmt_int(st, 0);
    adc_stmt_reset(st);
    return n;
}

int adc_store_presence_list(struct adc_db *db, const char *app_id, const char *instance,
                            int64_t since, adc_store_presence_cb cb, void *ctx) {
    static const char sql[] =
        "SELECT agent_id, host, version, connected_since, last_seen FROM agent_presence "
        "WHERE app_id = ? AND instance <> ? AND last_seen >= ? ORDER BY connected_since";
    struct adc_stmt *st = adc_db_query(db, sql, "tti", app_id, instance, since);
    if (!st)
        return -EIO;
    int r, n = 0;
    while ((r = adc_db_step_next(db, st)) > 0) {
        r = cb(adc_stmt_text(st, 0), adc_stmt_text(st, 1), adc_stmt_text(st, 2),
               adc_stmt_text(st, 3), adc_stmt_int(st, 4), ctx);
        if (r < 0)
            break;
        n++;
    }
    adc_stmt_reset(st);
    return r < 0 ? r : n;
}

int adc_store_instance_reset(struct adc_db *db, const char *instance) {
    int r = adc_db_exec(db, "DELETE FROM agent_presence WHERE instance = ?", false, "t", instance);
    if (r == 0)
        r = adc_db_exec(db,
                        "UPDATE agent_commands SET claimed_by = NULL, claimed_at = NULL "
                        "WHERE claimed_by = ?",
                        false, "t", instance);
    return r;
}

int64_t adc_store_command_add(struct adc_db *db, const char *app_id, const char *type,
                              const char *run_id, bool dry_run, int64_t now) {
    static const char sql[] = "INSERT INTO agent_commands(app_id, type, run_id, dry_run, created) "
                              "VALUES (?,?,?,?,?) RETURNING id";
    int r;
    struct adc_stmt *st =
        adc_db_query_row(db, sql, &r, "tttii", app_id, type, run_id, (int64_t)dry_run, now);
    if (!st)
        return r == -ENOENT ? -EIO : r;
    int64_t id = adc_stmt_int(st, 0);
    adc_stmt_reset(st);
    return id;
}

int adc_store_commands_claim(struct adc_db *db, const char *instance, int64_t now,
                             int64_t stale_before, adc_store_command_cb cb, void *ctx) {
    static const char sql[] = "SELECT id, app_id, type, run_id, dry_run FROM agent_commands "
                              "WHERE claimed_by IS NULL OR claimed_at < ? ORDER BY id "
                              "FOR UPDATE SKIP LOCKED";
    static const char claim_sql[] =
        "UPDATE agent_commands SET claimed_by = ?, claimed_at = ? WHERE id = ?";
    struct adc_stmt *st = adc_db_query(db, sql, "i", stale_before);
    if (!st)
        return -EIO;
    /* Read all rows first: the claim statements run on the same connection. */
    int64_t *ids = NULL;
    size_t n = 0;
    int r;
    while ((r = adc_db_step_next(db, st)) > 0) {
        struct adc_store_command c = {adc_stmt_int(st, 0), adc_stmt_text(st, 1),
                                      adc_stmt_text(st, 2), adc_stmt_text(st, 3),
                                      adc_stmt_int(st, 4) != 0};
        if (cb(&c, ctx) <= 0)
            continue;
        int64_t *p = realloc(ids, (n + 1) * sizeof(*ids));
        if (!p) {
            r = -ENOMEM;
            break;
        }
        ids = p;
        ids[n++] = c.id;
    }
    adc_stmt_reset(st);
    for (size_t i = 0; r == 0 && i < n; i++)
        r = adc_db_exec(db, claim_sql, false, "tii", instance, now, ids[i]);
    free(ids);
    return r < 0 ? r : (int)n;
}

int adc_store_commands_refresh(struct adc_db *db, const char *instance, int64_t now) {
    static const char sql[] = "UPDATE agent_commands SET claimed_at = ? WHERE claimed_by = ?";
    return adc_db_exec(db, sql, false, "it", now, instance);
}

int adc_store_command_done(struct adc_db *db, const char *run_id) {
    static const char sql[] = "DELETE FROM agent_commands WHERE run_id = ?";
    return adc_db_exec(db, sql, false, "t", run_id);
}

bool adc_store_command_pending(struct adc_db *db, const char *run_id) {
    static const char sql[] = "SELECT 1 FROM agent_commands WHERE run_id = ?";
    int r;
    struct adc_stmt *st = adc_db_query_row(db, sql, &r, "t", run_id);
    if (!st)
        return false;
    adc_stmt_reset(st);
    return true;
}
