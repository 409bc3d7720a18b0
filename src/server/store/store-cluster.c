#include "store/store-cluster.h"

#include <errno.h>
#include <stdlib.h>

#include "common/buf.h"

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
        if (adc_grow_array_n(ids, n, 16) < 0) {
            r = -ENOMEM;
            break;
        }
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

int adc_store_instance_up(struct adc_db *db, const char *instance, const char *public_key,
                          int64_t now) {
    static const char sql[] =
        "INSERT INTO cluster_instances(instance, public_key, started, seen) VALUES (?1,?2,?3,?3) "
        "ON CONFLICT(instance) DO UPDATE SET public_key = excluded.public_key, "
        "started = excluded.started, seen = excluded.seen";
    return adc_db_exec(db, sql, false, "tti", instance, public_key, now);
}

int adc_store_instance_seen(struct adc_db *db, const char *instance, int64_t now,
                            int64_t alive_since, int64_t *oldest_start) {
    int r = adc_db_exec(db, "UPDATE cluster_instances SET seen = ? WHERE instance = ?", false, "it",
                        now, instance);
    if (r == 0)
        r = adc_db_exec(db, "DELETE FROM cluster_instances WHERE seen < ?", false, "i",
                        now - 86400);
    if (r < 0 || !oldest_start)
        return r;
    struct adc_stmt *st = adc_db_query_row(
        db, "SELECT coalesce(min(started), 0) FROM cluster_instances WHERE seen >= ?", &r, "i",
        alive_since);
    if (!st)
        return r;
    *oldest_start = adc_stmt_int(st, 0);
    adc_stmt_reset(st);
    return 0;
}

int adc_store_instance_alive(struct adc_db *db, const char *instance, int64_t alive_since) {
    int r;
    struct adc_stmt *st =
        adc_db_query_row(db, "SELECT 1 FROM cluster_instances WHERE instance = ? AND seen >= ?", &r,
                         "ti", instance, alive_since);
    if (!st)
        return r == -ENOENT ? 0 : r;
    adc_stmt_reset(st);
    return 1;
}

int adc_store_check_target(struct adc_db *db, const char *app_id, const char *self,
                           int64_t presence_since, int64_t alive_since, char instance[static 80],
                           char public_key[static 65]) {
    static const char sql[] =
        "SELECT i.instance, i.public_key FROM agent_presence p JOIN cluster_instances i "
        "ON i.instance = p.instance WHERE p.app_id = ? AND p.instance <> ? AND p.last_seen >= ? "
        "AND i.seen >= ? ORDER BY random() LIMIT 1";
    int r;
    struct adc_stmt *st =
        adc_db_query_row(db, sql, &r, "ttii", app_id, self, presence_since, alive_since);
    if (!st)
        return r;
    adc_db_column_copy(st, 0, instance, 80);
    adc_db_column_copy(st, 1, public_key, 65);
    adc_stmt_reset(st);
    return 0;
}

int adc_store_check_add(struct adc_db *db, const char *id, const char *app_id,
                        const char *user_name, const char *origin, const char *target,
                        const char *sealed, int64_t now, int64_t deadline) {
    static const char sql[] = "INSERT INTO login_checks(id, app_id, user_name, origin, target, "
                              "sealed, created, deadline) VALUES (?,?,?,?,?,?,?,?)";
    return adc_db_exec(db, sql, false, "ttttttii", id, app_id, user_name, origin, target, sealed,
                       now, deadline);
}

int adc_store_check_answer_get(struct adc_db *db, const char *id, char outcome[static 16],
                               char *reason, size_t reason_size, bool *retry) {
    static const char sql[] = "SELECT outcome, reason, retry FROM login_checks WHERE id = ?";
    int r;
    struct adc_stmt *st = adc_db_query_row(db, sql, &r, "t", id);
    if (!st)
        return r;
    if (!adc_stmt_text(st, 0)) {
        adc_stmt_reset(st);
        return -EAGAIN;
    }
    adc_db_column_copy(st, 0, outcome, 16);
    adc_db_column_copy(st, 1, reason, reason_size);
    *retry = adc_stmt_int(st, 2) != 0;
    adc_stmt_reset(st);
    return 0;
}

int adc_store_check_delete(struct adc_db *db, const char *id) {
    return adc_db_exec(db, "DELETE FROM login_checks WHERE id = ?", false, "t", id);
}

int adc_store_checks_take(struct adc_db *db, const char *target, const char *id, int64_t now,
                          adc_store_check_cb cb, void *ctx) {
    /* The box is read from the row as it was and cleared in one statement: once taken it is
     * in this instance's memory only. */
    static const char sql[] =
        "UPDATE login_checks l SET sealed = NULL FROM (SELECT id, sealed FROM login_checks "
        "WHERE target = ?1 AND sealed IS NOT NULL AND outcome IS NULL AND deadline >= ?2 "
        "AND (CAST(?3 AS TEXT) IS NULL OR id = ?3) LIMIT 64 FOR UPDATE SKIP LOCKED) o WHERE l.id = "
        "o.id "
        "RETURNING l.id, l.app_id, l.user_name, o.sealed, l.deadline";
    struct adc_stmt *st = adc_db_query(db, sql, "tit", target, now, id);
    if (!st)
        return -EIO;
    int r, n = 0;
    while ((r = adc_db_step_next(db, st)) > 0) {
        cb(adc_stmt_text(st, 0), adc_stmt_text(st, 1), adc_stmt_text(st, 2), adc_stmt_text(st, 3),
           adc_stmt_int(st, 4), ctx);
        n++;
    }
    adc_stmt_reset(st);
    return r < 0 ? r : n;
}

int adc_store_check_answer(struct adc_db *db, const char *id, const char *outcome,
                           const char *reason, bool retry) {
    static const char sql[] = "UPDATE login_checks SET outcome = ?, reason = ?, retry = ? "
                              "WHERE id = ? AND outcome IS NULL";
    return adc_db_exec(db, sql, false, "ttit", outcome, reason, (int64_t)retry, id);
}

int adc_store_checks_prune(struct adc_db *db, int64_t now_ms) {
    return adc_db_exec(db, "DELETE FROM login_checks WHERE deadline < ?", false, "i",
                       now_ms - 60000);
}

int64_t adc_store_command_release(struct adc_db *db, const char *run_id) {
    static const char sql[] = "UPDATE agent_commands SET claimed_by = NULL, claimed_at = NULL "
                              "WHERE run_id = ? RETURNING id";
    int r;
    struct adc_stmt *st = adc_db_query_row(db, sql, &r, "t", run_id);
    if (!st)
        return r == -ENOENT ? 0 : r;
    int64_t id = adc_stmt_int(st, 0);
    adc_stmt_reset(st);
    return id;
}
