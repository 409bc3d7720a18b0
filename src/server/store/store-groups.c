#include "store/store-groups.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GROUP_COLUMNS                                                                              \
    "seq, id, display_name, external_id, provider, member_count, version, created, modified"

void adc_store_group_done(struct adc_store_group *g) {
    if (!g)
        return;
    free(g->display_name);
    free(g->external_id);
    free(g->provider);
    memset(g, 0, sizeof(*g));
}

static int read_row(struct adc_stmt *st, struct adc_store_group *g) {
    memset(g, 0, sizeof(*g));
    g->seq = adc_stmt_int(st, 0);
    adc_db_column_copy(st, 1, g->id, sizeof(g->id));
    g->display_name = adc_db_column_strdup(st, 2);
    g->external_id = adc_db_column_strdup(st, 3);
    g->provider = adc_db_column_strdup(st, 4);
    g->member_count = adc_stmt_int(st, 5);
    g->version = adc_stmt_int(st, 6);
    adc_db_column_copy(st, 7, g->created, sizeof(g->created));
    adc_db_column_copy(st, 8, g->modified, sizeof(g->modified));
    if (!g->display_name || !g->provider) {
        adc_store_group_done(g);
        return -ENOMEM;
    }
    return 0;
}

int adc_store_group_get(struct adc_db *db, const char *id, struct adc_store_group *out) {
    static const char sql[] = "SELECT " GROUP_COLUMNS " FROM groups WHERE id = ?";
    int r;
    struct adc_stmt *st = adc_db_query_row(db, sql, &r, "t", id);
    if (!st)
        return r;
    r = read_row(st, out);
    adc_stmt_reset(st);
    return r;
}

static void bind_group(struct adc_stmt *st, const struct adc_store_group *g) {
    adc_stmt_bind_text(st, 1, g->id);
    adc_stmt_bind_text(st, 2, g->display_name);
    if (g->external_id)
        adc_stmt_bind_text(st, 3, g->external_id);
    else
        adc_stmt_bind_text(st, 3, NULL);
    adc_stmt_bind_text(st, 4, g->provider);
    adc_stmt_bind_int(st, 5, g->member_count);
    adc_stmt_bind_int(st, 6, g->version);
    adc_stmt_bind_text(st, 7, g->created);
    adc_stmt_bind_text(st, 8, g->modified);
}

int adc_store_group_insert(struct adc_db *db, struct adc_store_group *g) {
    static const char sql[] = "INSERT INTO groups(id, display_name, external_id, provider, "
                              "member_count, version, created, modified) VALUES (?,?,?,?,?,?,?,?) "
                              "RETURNING seq";
    struct adc_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    bind_group(st, g);
    int r = adc_db_step_row(db, st);
    if (r == -ENOENT)
        r = -EIO; /* RETURNING always gives the row */
    if (r == 0) {
        g->seq = adc_stmt_int(st, 0);
        adc_stmt_reset(st);
    }
    return r;
}

int adc_store_group_update(struct adc_db *db, const struct adc_store_group *g) {
    static const char sql[] = "UPDATE groups SET display_name = ?2, external_id = ?3, "
                              "provider = ?4, member_count = ?5, version = ?6, created = ?7, "
                              "modified = ?8 WHERE id = ?1";
    struct adc_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    bind_group(st, g);
    return adc_db_step_done(db, st, true);
}

/* Runs a statement bound to one or two texts; returns the rows changed or a negative errno. */
static int64_t exec_texts(struct adc_db *db, const char *sql, const char *a, const char *b,
                          bool need_change) {
    struct adc_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    adc_stmt_bind_text(st, 1, a);
    if (b)
        adc_stmt_bind_text(st, 2, b);
    int r = adc_db_step_done(db, st, need_change);
    return r < 0 ? r : adc_db_changes(db);
}

int64_t adc_store_member_forget(struct adc_db *db, const char *member_id, const char *now) {
    /* The groups first (found through the member index), then the rows themselves. */
    static const char touch[] =
        "UPDATE groups SET member_count = member_count - 1, version = version + 1, "
        "modified = ?2 WHERE id IN (SELECT group_id FROM group_members WHERE member_id = ?1)";
    static const char del[] = "DELETE FROM group_members WHERE member_id = ?";
    int64_t r = exec_texts(db, touch, member_id, now, false);
    if (r < 0)
        return r;
    return exec_texts(db, del, member_id, NULL, false);
}

int adc_store_group_delete(struct adc_db *db, const char *id, const char *now) {
    static const char members[] = "DELETE FROM group_members WHERE group_id = ?";
    static const char del[] = "DELETE FROM groups WHERE id = ?";
    int64_t r = exec_texts(db, del, id, NULL, true);
    if (r >= 0)
        r = exec_texts(db, members, id, NULL, false);
    if (r >= 0)
        r = adc_store_member_forget(db, id, now);
    return r < 0 ? (int)r : 0;
}

int adc_store_groups_reassign(struct adc_db *db, const char *from, const char *to) {
    static const char sql[] =
        "UPDATE groups SET provider = ?2, version = version + 1 WHERE provider = ?1";
    int64_t r = exec_texts(db, sql, from, to, false);
    return (int)r;
}

/* The same shape as store-users.c's list_row, on purpose: the rows' types differ; the listing
 * itself is one piece of code (adc_db_list_page). */
struct list_ctx {
    adc_store_group_cb cb;
    void *ctx;
};

static int list_row(struct adc_stmt *st, void *ctx) {
    struct list_ctx *l = ctx;
    struct adc_store_group g;
    int r = read_row(st, &g);
    if (r < 0)
        return r;
    r = l->cb(&g, l->ctx);
    adc_store_group_done(&g);
    return r;
}

int adc_store_group_list(struct adc_db *db, const char *where, const struct adc_sql_arg *args,
                         size_t n_args, int64_t after_seq, int64_t offset, int64_t limit,
                         adc_store_group_cb cb, void *ctx) {
    struct list_ctx l = {cb, ctx};
    return adc_db_list_page(db, "SELECT " GROUP_COLUMNS " FROM groups", where, args, n_args,
                            after_seq, offset, limit, list_row, &l);
}

int64_t adc_store_group_count(struct adc_db *db, const char *where, const struct adc_sql_arg *args,
                              size_t n_args) {
    return adc_db_count(db, "groups", where, args, n_args);
}

int adc_store_member_type(struct adc_db *db, const char *id, const char **type) {
    static const char sql[] = "SELECT 1 FROM users WHERE id = ?1 UNION ALL "
                              "SELECT 2 FROM groups WHERE id = ?1";
    int r;
    struct adc_stmt *st = adc_db_query_row(db, sql, &r, "t", id);
    if (!st)
        return r;
    *type = adc_stmt_int(st, 0) == 1 ? ADC_MEMBER_USER : ADC_MEMBER_GROUP;
    adc_stmt_reset(st);
    return 0;
}

int adc_store_group_member_add(struct adc_db *db, const char *group_id, const char *member_id,
                               const char *type) {
    static const char sql[] = "INSERT INTO group_members(group_id, member_id, type) "
                              "VALUES (?,?,?) ON CONFLICT DO NOTHING";
    struct adc_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    adc_stmt_bind_text(st, 1, group_id);
    adc_stmt_bind_text(st, 2, member_id);
    adc_stmt_bind_text(st, 3, type);
    int r = adc_db_step_done(db, st, false);
    return r < 0 ? r : adc_db_changes(db);
}

/* Both dialects read the list as one JSON text parameter: json_each on SQLite,
 * json_array_elements_text on PostgreSQL (ordinality from 1). The list is looked up through the
 * id indexes, one probe per element, inside the engine rather than one statement per member. */
int64_t adc_store_member_types(struct adc_db *db, const char *ids_json, adc_store_member_type_cb cb,
                               void *ctx) {
    static const char lite[] =
        "SELECT j.key, 1, u.provider FROM json_each(?1) AS j JOIN users AS u ON u.id = j.value "
        "UNION ALL SELECT j.key, 2, g.provider FROM json_each(?1) AS j JOIN groups AS g "
        "ON g.id = j.value";
    static const char pg[] =
        "SELECT j.n - 1, 1, u.provider FROM json_array_elements_text(?1::json) WITH ORDINALITY "
        "AS j(v, n) JOIN users AS u ON u.id = j.v UNION ALL SELECT j.n - 1, 2, g.provider FROM "
        "json_array_elements_text(?1::json) WITH ORDINALITY AS j(v, n) JOIN groups AS g "
        "ON g.id = j.v";
    struct adc_stmt *st = adc_db_prepare(db, adc_db_dialect(db) == ADC_SQL_POSTGRESQL ? pg : lite);
    if (!st)
        return -EIO;
    adc_stmt_bind_text(st, 1, ids_json);
    int64_t n = 0;
    int r;
    while ((r = adc_db_step_next(db, st)) > 0) {
        r = cb(adc_stmt_int(st, 0), adc_stmt_int(st, 1) == 1 ? ADC_MEMBER_USER : ADC_MEMBER_GROUP,
               adc_stmt_text(st, 2), ctx);
        if (r < 0)
            break;
        n++;
    }
    adc_stmt_free(st);
    return r < 0 ? r : n;
}

int64_t adc_store_group_members_add_all(struct adc_db *db, const char *group_id,
                                        const char *ids_json, const char *type) {
    /* SQLite needs the WHERE before ON CONFLICT: without it, ON would read as a join's. */
    static const char lite[] = "INSERT INTO group_members(group_id, member_id, type) "
                               "SELECT ?1, j.value, ?3 FROM json_each(?2) AS j WHERE true "
                               "ON CONFLICT DO NOTHING";
    static const char pg[] = "INSERT INTO group_members(group_id, member_id, type) "
                             "SELECT ?1, j.v, ?3 FROM json_array_elements_text(?2::json) AS j(v) "
                             "ON CONFLICT DO NOTHING";
    struct adc_stmt *st = adc_db_prepare(db, adc_db_dialect(db) == ADC_SQL_POSTGRESQL ? pg : lite);
    if (!st)
        return -EIO;
    adc_stmt_bind_text(st, 1, group_id);
    adc_stmt_bind_text(st, 2, ids_json);
    adc_stmt_bind_text(st, 3, type);
    int r = adc_db_step_next(db, st);
    int64_t n = r < 0 ? r : adc_db_changes(db);
    adc_stmt_free(st);
    return n;
}

int adc_store_group_member_remove(struct adc_db *db, const char *group_id, const char *member_id) {
    static const char sql[] = "DELETE FROM group_members WHERE group_id = ? AND member_id = ?";
    int64_t r = exec_texts(db, sql, group_id, member_id, false);
    return (int)r;
}

/* A statement built at run time around a filter's WHERE clause (free it with adc_stmt_free). */
static struct adc_stmt *prepare_where(struct adc_db *db, const char *fmt, const char *where) {
    char *sql = NULL;
    if (asprintf(&sql, fmt, where && *where ? where : "TRUE") < 0)
        return NULL;
    struct adc_stmt *st = adc_db_prepare(db, sql);
    free(sql);
    return st;
}

int64_t adc_store_group_members_remove_where(struct adc_db *db, const char *group_id,
                                             const char *where, const struct adc_sql_arg *args,
                                             size_t n_args) {
    struct adc_stmt *st =
        prepare_where(db, "DELETE FROM group_members AS m WHERE m.group_id = ? AND (%s)", where);
    if (!st)
        return -EIO;
    int64_t r = -EINVAL;
    adc_stmt_bind_text(st, 1, group_id);
    if (adc_stmt_bind_args(st, 2, args, n_args) == 0) {
        int rc = adc_db_step_next(db, st);
        r = rc < 0 ? rc : adc_db_changes(db);
    }
    adc_stmt_free(st);
    return r;
}

int64_t adc_store_group_members_list(struct adc_db *db, const char *group_id,
                                     adc_store_member_cb cb, void *ctx) {
    static const char sql[] =
        "SELECT m.member_id, m.type, coalesce(u.user_name, g.display_name) FROM group_members m "
        "LEFT JOIN users u ON m.type = 'User' AND u.id = m.member_id "
        "LEFT JOIN groups g ON m.type = 'Group' AND g.id = m.member_id "
        "WHERE m.group_id = ? ORDER BY m.member_id";
    struct adc_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    adc_stmt_bind_text(st, 1, group_id);
    int64_t n = 0;
    int r;
    while ((r = adc_db_step_next(db, st)) > 0) {
        r = cb(adc_stmt_text(st, 0), adc_stmt_text(st, 1), adc_stmt_text(st, 2), ctx);
        if (r < 0)
            break;
        n++;
    }
    adc_stmt_reset(st);
    return r < 0 ? r : n;
}

int64_t adc_store_group_members_after(struct adc_db *db, const char *group_id, const char *after,
                                      int64_t limit, adc_store_member_cb cb, void *ctx) {
    static const char sql[] = "SELECT member_id, type FROM group_members WHERE group_id = ? AND "
                              "member_id > ? ORDER BY member_id LIMIT ?";
    struct adc_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    adc_stmt_bind_text(st, 1, group_id);
    adc_stmt_bind_text(st, 2, after ? after : "");
    adc_stmt_bind_int(st, 3, limit);
    int64_t n = 0;
    int r;
    while ((r = adc_db_step_next(db, st)) > 0) {
        if ((r = cb(adc_stmt_text(st, 0), adc_stmt_text(st, 1), NULL, ctx)) < 0)
            break;
        n++;
    }
    adc_stmt_reset(st);
    return r < 0 ? r : n;
}

int64_t adc_store_group_members_page(struct adc_db *db, const char *group_id, const char *search,
                                     int64_t offset, int64_t limit, int64_t *total,
                                     adc_store_member_cb cb, void *ctx) {
    /* Both dialects: lower() on both sides (PostgreSQL's LIKE is case-sensitive), '\' escapes
     * the pattern's own % and _. */
    /* String literals: statements are cached by their SQL's address (store.h). */
#define MEMBERS_FROM                                                                               \
    " FROM group_members m LEFT JOIN users u ON m.type = 'User' AND u.id = m.member_id "           \
    "LEFT JOIN groups g ON m.type = 'Group' AND g.id = m.member_id WHERE m.group_id = ?"
#define MEMBERS_LIKE " AND lower(coalesce(u.user_name, g.display_name)) LIKE ? ESCAPE '\\'"
#define MEMBERS_PAGE " ORDER BY m.member_id LIMIT ? OFFSET ?"
#define MEMBERS_COLS "SELECT m.member_id, m.type, coalesce(u.user_name, g.display_name)"
    static const char count_all[] = "SELECT count(*)" MEMBERS_FROM;
    static const char count_like[] = "SELECT count(*)" MEMBERS_FROM MEMBERS_LIKE;
    static const char page_all[] = MEMBERS_COLS MEMBERS_FROM MEMBERS_PAGE;
    static const char page_like[] = MEMBERS_COLS MEMBERS_FROM MEMBERS_LIKE MEMBERS_PAGE;
    char *pattern = NULL;
    if (search && *search) {
        size_t n = strlen(search);
        if (!(pattern = malloc(2 * n + 3)))
            return -ENOMEM;
        size_t o = 0;
        pattern[o++] = '%';
        for (size_t i = 0; i < n; i++) {
            char c = search[i];
            if (c == '%' || c == '_' || c == '\\')
                pattern[o++] = '\\';
            pattern[o++] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
        }
        pattern[o++] = '%';
        pattern[o] = '\0';
    }
    int64_t r;
    struct adc_stmt *st = adc_db_stmt(db, pattern ? count_like : count_all);
    if (!st) {
        r = -EIO;
        goto out;
    }
    adc_stmt_bind_text(st, 1, group_id);
    if (pattern)
        adc_stmt_bind_text(st, 2, pattern);
    r = adc_db_step_next(db, st);
    *total = r > 0 ? adc_stmt_int(st, 0) : 0;
    adc_stmt_reset(st);
    if (r < 0)
        goto out;
    if (!(st = adc_db_stmt(db, pattern ? page_like : page_all))) {
        r = -EIO;
        goto out;
    }
    int i = 1;
    adc_stmt_bind_text(st, i++, group_id);
    if (pattern)
        adc_stmt_bind_text(st, i++, pattern);
    adc_stmt_bind_int(st, i++, limit);
    adc_stmt_bind_int(st, i, offset);
    int64_t n = 0;
    int k;
    while ((k = adc_db_step_next(db, st)) > 0) {
        k = cb(adc_stmt_text(st, 0), adc_stmt_text(st, 1), adc_stmt_text(st, 2), ctx);
        if (k < 0)
            break;
        n++;
    }
    adc_stmt_reset(st);
    r = k < 0 ? k : n;
out:
    free(pattern);
    return r;
}
