#include "store/store-configs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"

#define CONFIG_COLUMNS                                                                             \
    "app_id, name, settings, created, modified, secret_rotated, secret_hash, "                     \
    "sync_interval_minutes, next_sync_at"

void adc_store_config_done(struct adc_store_config *c) {
    if (!c)
        return;
    free(c->name);
    free(c->settings);
    memset(c, 0, sizeof(*c));
}

/* A Unix time, 0 = SQL NULL. */
static void bind_time(struct adc_stmt *st, int i, int64_t t) {
    if (t)
        adc_stmt_bind_int(st, i, t);
    else
        adc_stmt_bind_text(st, i, NULL);
}

static int read_row(struct adc_stmt *st, struct adc_store_config *c, char *hash_out) {
    memset(c, 0, sizeof(*c));
    adc_db_column_copy(st, 0, c->app_id, sizeof(c->app_id));
    c->name = adc_db_column_strdup(st, 1);
    c->settings = adc_db_column_strdup(st, 2);
    adc_db_column_copy(st, 3, c->created, sizeof(c->created));
    adc_db_column_copy(st, 4, c->modified, sizeof(c->modified));
    adc_db_column_copy(st, 5, c->secret_rotated, sizeof(c->secret_rotated));
    if (hash_out)
        adc_db_column_copy(st, 6, hash_out, 65);
    c->sync_interval_minutes = adc_stmt_int(st, 7);
    c->next_sync_at = adc_stmt_int(st, 8); /* NULL reads as 0 */
    if (!c->name || !c->settings) {
        adc_store_config_done(c);
        return -ENOMEM;
    }
    return 0;
}

int adc_store_config_insert(struct adc_db *db, const struct adc_store_config *c,
                            const char *secret_hash) {
    static const char sql[] = "INSERT INTO sync_configs(app_id, name, secret_hash, settings, "
                              "created, modified, sync_interval_minutes, next_sync_at) "
                              "VALUES (?,?,?,?,?,?,?,?)";
    struct adc_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    adc_stmt_bind_text(st, 1, c->app_id);
    adc_stmt_bind_text(st, 2, c->name);
    adc_stmt_bind_text(st, 3, secret_hash);
    adc_stmt_bind_text(st, 4, c->settings);
    adc_stmt_bind_text(st, 5, c->created);
    adc_stmt_bind_text(st, 6, c->modified);
    adc_stmt_bind_int(st, 7, c->sync_interval_minutes);
    bind_time(st, 8, c->next_sync_at);
    return adc_db_step_done(db, st, false);
}

static int get_one(struct adc_db *db, const char *sql, const char *key,
                   struct adc_store_config *out, char *hash_out) {
    int r;
    struct adc_stmt *st = adc_db_query_row(db, sql, &r, "t", key);
    if (!st)
        return r;
    r = read_row(st, out, hash_out);
    adc_stmt_reset(st);
    return r;
}

int adc_store_config_get(struct adc_db *db, const char *app_id, struct adc_store_config *out,
                         char *hash_out) {
    static const char sql[] = "SELECT " CONFIG_COLUMNS " FROM sync_configs WHERE app_id = ?";
    return get_one(db, sql, app_id, out, hash_out);
}

int adc_store_config_get_by_secret_hash(struct adc_db *db, const char *hash,
                                        struct adc_store_config *out) {
    static const char sql[] = "SELECT " CONFIG_COLUMNS " FROM sync_configs WHERE secret_hash = ?";
    return get_one(db, sql, hash, out, NULL);
}

int adc_store_config_list(struct adc_db *db, adc_store_config_cb cb, void *ctx) {
    static const char sql[] = "SELECT " CONFIG_COLUMNS " FROM sync_configs ORDER BY created, name";
    struct adc_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    int r, n = 0;
    while ((r = adc_db_step_next(db, st)) > 0) {
        struct adc_store_config c;
        r = read_row(st, &c, NULL);
        if (r < 0)
            break;
        r = cb(&c, ctx);
        adc_store_config_done(&c);
        if (r < 0)
            break;
        n++;
    }
    adc_stmt_reset(st);
    return r < 0 ? r : n;
}

int adc_store_config_update(struct adc_db *db, const struct adc_store_config *c) {
    static const char sql[] = "UPDATE sync_configs SET name = ?2, settings = ?3, modified = ?4, "
                              "sync_interval_minutes = ?5, next_sync_at = ?6 WHERE app_id = ?1";
    struct adc_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    adc_stmt_bind_text(st, 1, c->app_id);
    adc_stmt_bind_text(st, 2, c->name);
    adc_stmt_bind_text(st, 3, c->settings);
    adc_stmt_bind_text(st, 4, c->modified);
    adc_stmt_bind_int(st, 5, c->sync_interval_minutes);
    bind_time(st, 6, c->next_sync_at);
    return adc_db_step_done(db, st, true);
}

int adc_store_config_set_secret(struct adc_db *db, const char *app_id, const char *hash,
                                const char *when) {
    static const char sql[] = "UPDATE sync_configs SET secret_hash = ?2, secret_rotated = ?3, "
                              "modified = ?3 WHERE app_id = ?1";
    return adc_db_exec(db, sql, true, "ttt", app_id, hash, when);
}

int adc_store_config_delete(struct adc_db *db, const char *app_id) {
    static const char sql[] = "DELETE FROM sync_configs WHERE app_id = ?";
    return adc_db_exec(db, sql, true, "t", app_id);
}

int adc_store_token_insert(struct adc_db *db, const char *name, const char *hash,
                           const char *created) {
    static const char sql[] = "INSERT INTO admin_tokens(name, token_hash, created) VALUES (?,?,?)";
    return adc_db_exec(db, sql, false, "ttt", name, hash, created);
}

int adc_store_token_find(struct adc_db *db, const char *hash, char *name, size_t name_size,
                         char stored_hash[static 65]) {
    static const char sql[] = "SELECT name, token_hash FROM admin_tokens WHERE token_hash = ?";
    int r;
    struct adc_stmt *st = adc_db_query_row(db, sql, &r, "t", hash);
    if (!st)
        return r;
    adc_db_column_copy(st, 0, name, name_size);
    adc_db_column_copy(st, 1, stored_hash, 65);
    adc_stmt_reset(st);
    return 0;
}

int adc_store_token_list(struct adc_db *db, adc_store_token_cb cb, void *ctx) {
    static const char sql[] = "SELECT name, created FROM admin_tokens ORDER BY id";
    struct adc_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    int r, n = 0;
    while ((r = adc_db_step_next(db, st)) > 0) {
        r = cb(adc_stmt_text(st, 0), adc_stmt_text(st, 1), ctx);
        if (r < 0)
            break;
        n++;
    }
    adc_stmt_reset(st);
    return r < 0 ? r : n;
}

int adc_store_token_delete(struct adc_db *db, const char *name) {
    static const char sql[] = "DELETE FROM admin_tokens WHERE name = ?";
    struct adc_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    adc_stmt_bind_text(st, 1, name);
    int r = adc_db_step_done(db, st, false);
    return r < 0 ? r : adc_db_changes(db);
}
