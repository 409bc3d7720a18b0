#include "store/store-admins.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/secret.h"

void adc_store_admin_done(struct adc_store_admin *a) {
    if (!a)
        return;
    adc_secret_free(a->password_hash);
    memset(a, 0, sizeof(*a));
}

int adc_store_admin_insert(struct adc_db *db, const char *name, const char *password_hash,
                           const char *now) {
    static const char sql[] = "INSERT INTO admin_accounts(name, password_hash, created, "
                              "password_changed) VALUES (?1, ?2, ?3, ?3)";
    /* the unique index ignoring case gives -EEXIST */
    return adc_db_exec(db, sql, false, "ttt", name, password_hash, now);
}

/* Runs one statement with a name parameter; returns the rows changed or a negative errno. */
static int64_t exec_name(struct adc_db *db, const char *sql, const char *name) {
    int r = adc_db_exec(db, sql, false, "t", name);
    return r < 0 ? r : adc_db_changes(db);
}

static const char delete_sessions_sql[] = "DELETE FROM console_sessions WHERE account_id = "
                                          "(SELECT id FROM admin_accounts WHERE name = ?)";

int adc_store_admin_set_password(struct adc_db *db, const char *name, const char *password_hash,
                                 const char *now) {
    static const char sql[] = "UPDATE admin_accounts SET password_hash = ?, "
                              "password_changed = ? WHERE name = ?";
    int r = adc_db_exec(db, sql, true, "ttt", password_hash, now, name); /* -ENOENT: unknown */
    if (r < 0)
        return r;
    int64_t n = exec_name(db, delete_sessions_sql, name);
    return n < 0 ? (int)n : 0;
}

int adc_store_admin_delete(struct adc_db *db, const char *name) {
    int64_t n = exec_name(db, delete_sessions_sql, name);
    if (n < 0)
        return (int)n;
    n = exec_name(db, "DELETE FROM admin_accounts WHERE name = ?", name);
    return n < 0 ? (int)n : n == 0 ? -ENOENT : 0;
}

int adc_store_admin_signed_in(struct adc_db *db, int64_t id, const char *now) {
    static const char sql[] = "UPDATE admin_accounts SET last_sign_in = ? WHERE id = ?";
    return adc_db_exec(db, sql, false, "ti", now, id);
}

static void read_row(struct adc_stmt *st, struct adc_store_admin *a) {
    a->id = adc_stmt_int(st, 0);
    adc_db_column_copy(st, 1, a->name, sizeof(a->name));
    adc_db_column_copy(st, 2, a->created, sizeof(a->created));
    adc_db_column_copy(st, 3, a->last_sign_in, sizeof(a->last_sign_in));
}

int adc_store_admin_get(struct adc_db *db, const char *name, struct adc_store_admin *out) {
    static const char sql[] = "SELECT id, name, created, last_sign_in, password_hash "
                              "FROM admin_accounts WHERE name = ?";
    int r;
    struct adc_stmt *st = adc_db_query_row(db, sql, &r, "t", name);
    if (!st)
        return r;
    struct adc_store_admin a = {0};
    read_row(st, &a);
    a.password_hash = adc_db_column_strdup(st, 4);
    adc_stmt_reset(st);
    if (!a.password_hash)
        return -ENOMEM;
    *out = a;
    return 0;
}

int adc_store_admin_list(struct adc_db *db, adc_store_admin_cb cb, void *ctx) {
    static const char sql[] =
        "SELECT id, name, created, last_sign_in FROM admin_accounts ORDER BY name";
    struct adc_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    int r, n = 0;
    while ((r = adc_db_step_next(db, st)) > 0) {
        struct adc_store_admin a = {0};
        read_row(st, &a);
        r = cb(&a, ctx);
        if (r < 0)
            break;
        n++;
    }
    adc_stmt_reset(st);
    return r < 0 ? r : n;
}
