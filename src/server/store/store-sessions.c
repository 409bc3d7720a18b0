#include "store/store-sessions.h"

#include <errno.h>

int adc_store_session_get(struct adc_db *db, const char *token_hash,
                          struct adc_store_session *out) {
    static const char sql[] = "SELECT s.account_id, a.name, s.created, s.last_seen "
                              "FROM console_sessions s JOIN admin_accounts a "
                              "ON a.id = s.account_id WHERE s.token_hash = ?";
    int r;
    struct adc_stmt *st = adc_db_query_row(db, sql, &r, "t", token_hash);
    if (!st)
        return r;
    struct adc_store_session s = {0};
    s.account_id = adc_stmt_int(st, 0);
    adc_db_column_copy(st, 1, s.name, sizeof(s.name));
    s.created = adc_stmt_int(st, 2);
    s.last_seen = adc_stmt_int(st, 3);
    adc_stmt_reset(st);
    *out = s;
    return 0;
}

int adc_store_session_insert(struct adc_db *db, const char *token_hash, int64_t account_id,
                             int64_t now, const char *client) {
    static const char sql[] = "INSERT INTO console_sessions(token_hash, account_id, created, "
                              "last_seen, client) VALUES (?1, ?2, ?3, ?3, ?4)";
    return adc_db_exec(db, sql, false, "tiit", token_hash, account_id, now, client);
}

int adc_store_session_touch(struct adc_db *db, const char *token_hash, int64_t now) {
    static const char sql[] = "UPDATE console_sessions SET last_seen = ? WHERE token_hash = ?";
    return adc_db_exec(db, sql, false, "it", now, token_hash);
}

int adc_store_session_delete(struct adc_db *db, const char *token_hash) {
    static const char sql[] = "DELETE FROM console_sessions WHERE token_hash = ?";
    return adc_db_exec(db, sql, false, "t", token_hash);
}

int adc_store_sessions_prune(struct adc_db *db, int64_t idle_before, int64_t created_before) {
    static const char sql[] = "DELETE FROM console_sessions WHERE last_seen < ? OR created < ?";
    return adc_db_exec(db, sql, false, "ii", idle_before, created_before);
}
