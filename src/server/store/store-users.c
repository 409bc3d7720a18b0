#include "store/store-users.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/utf8.h"
#include "common/macros.h"

#define USER_COLUMNS                                                                               \
    "seq, id, user_name, external_id, provider, active, data, version, created, modified"

void adc_store_user_done(struct adc_store_user *u) {
    if (!u)
        return;
    free(u->user_name);
    free(u->external_id);
    free(u->provider);
    free(u->data);
    memset(u, 0, sizeof(*u));
}

static int read_row(struct adc_stmt *st, struct adc_store_user *u) {
    memset(u, 0, sizeof(*u));
    u->seq = adc_stmt_int(st, 0);
    adc_db_column_copy(st, 1, u->id, sizeof(u->id));
    u->user_name = adc_db_column_strdup(st, 2);
    u->external_id = adc_db_column_strdup(st, 3);
    u->provider = adc_db_column_strdup(st, 4);
    u->active = adc_stmt_int(st, 5) != 0;
    u->data = adc_db_column_strdup(st, 6);
    u->version = adc_stmt_int(st, 7);
    adc_db_column_copy(st, 8, u->created, sizeof(u->created));
    adc_db_column_copy(st, 9, u->modified, sizeof(u->modified));
    if (!u->user_name || !u->provider || !u->data) {
        adc_store_user_done(u);
        return -ENOMEM;
    }
    return 0;
}

static int get_one(struct adc_db *db, const char *sql, const char *key,
                   struct adc_store_user *out) {
    int r;
    struct adc_stmt *st = adc_db_query_row(db, sql, &r, "t", key);
    if (!st)
        return r;
    r = read_row(st, out);
    adc_stmt_reset(st);
    return r;
}

int adc_store_user_get(struct adc_db *db, const char *id, struct adc_store_user *out) {
    static const char sql[] = "SELECT " USER_COLUMNS " FROM users WHERE id = ?";
    return get_one(db, sql, id, out);
}

int adc_store_user_get_by_name(struct adc_db *db, const char *user_name,
                               struct adc_store_user *out) {
    static const char sql[] = "SELECT " USER_COLUMNS " FROM users WHERE user_name = ?";
    return get_one(db, sql, user_name, out);
}

static void bind_user(struct adc_stmt *st, const struct adc_store_user *u) {
    adc_stmt_bind_text(st, 1, u->id);
    adc_stmt_bind_text(st, 2, u->user_name);
    if (u->external_id)
        adc_stmt_bind_text(st, 3, u->external_id);
    else
        adc_stmt_bind_text(st, 3, NULL);
    adc_stmt_bind_text(st, 4, u->provider);
    adc_stmt_bind_int(st, 5, u->active);
    adc_stmt_bind_text(st, 6, u->data);
    adc_stmt_bind_int(st, 7, u->version);
    adc_stmt_bind_text(st, 8, u->created);
    adc_stmt_bind_text(st, 9, u->modified);
}

/* ---- userName unique after Unicode case folding (docs/product.md section 11) ----
 * The users index compares names ignoring ASCII case only (SQLite NOCASE): "K" and the Kelvin
 * sign, or "Jürgen" and "JÜRGEN", would be two users. A name with any byte beyond ASCII keeps
 * its full case folding (common/utf8.h) in user_name_folds, keyed by it; every write checks the
 * folded name against that table and, for such a name, against the users index (a plain ASCII
 * holder of it). Directories of ASCII names pay one probe of a small table per write, not a
 * second index over every user. Names stored before this table existed are folded when they are
 * next written. */
#define FOLD_MAX 1024 /* a 256-byte name folds to at most three times its length */

static bool plain_ascii(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return false;
    return true;
}

/* -EEXIST when sql's first row for key names a user other than id; 0 when none does; or a
 * negative errno. */
static int held_by_other(struct adc_db *db, const char *sql, const char *key, const char *id) {
    int r;
    struct adc_stmt *q = adc_db_query_row(db, sql, &r, "t", key);
    if (!q)
        return r == -ENOENT ? 0 : r;
    bool other = strcmp(adc_stmt_text(q, 0), id) != 0;
    adc_stmt_reset(q);
    return other ? -EEXIST : 0;
}

/* 0 when no other user (id excluded) holds name after folding, with *keep set when the name
 * needs its own row (not plain ASCII) and its key in key; -EEXIST; or a negative errno. */
static int fold_check(struct adc_db *db, const char *id, const char *name, char key[FOLD_MAX],
                      bool *keep) {
    static const char fold_sql[] = "SELECT id FROM user_name_folds WHERE key = ?";
    static const char name_sql[] = "SELECT id FROM users WHERE user_name = ?";
    *keep = false;
    if (adc_utf8_casefold(name, key, FOLD_MAX) < 0)
        return 0; /* not UTF-8 (checked before: cannot happen) or too long: no key */
    int r = held_by_other(db, fold_sql, key, id);
    if (r < 0 || plain_ascii(name))
        return r;
    if ((r = held_by_other(db, name_sql, key, id)) < 0)
        return r;
    *keep = true;
    return 0;
}

static int fold_store(struct adc_db *db, const char *id, const char *key, bool keep) {
    static const char del_sql[] = "DELETE FROM user_name_folds WHERE id = ?";
    static const char ins_sql[] = "INSERT INTO user_name_folds(key, id) VALUES (?, ?)";
    int r = adc_db_exec(db, del_sql, false, "t", id);
    if (r == 0 && keep)
        r = adc_db_exec(db, ins_sql, false, "tt", key, id);
    return r;
}

/* The insert's or update's statement with u bound, after the check of its name after case
 * folding (fold_check's key and keep); NULL with *r set (-EEXIST, or a negative errno). */
static struct adc_stmt *prepare_write(struct adc_db *db, const char *sql,
                                      const struct adc_store_user *u, char key[FOLD_MAX],
                                      bool *keep, int *r) {
    *r = fold_check(db, u->id, u->user_name, key, keep);
    if (*r < 0)
        return NULL;
    struct adc_stmt *st = adc_db_stmt(db, sql);
    if (!st) {
        *r = -EIO;
        return NULL;
    }
    bind_user(st, u);
    return st;
}

/* ---- The externalId index (store-users.h) ---- */
/* The batch: half the settled users, at least SETTLE_MIN (a small directory settles often, its
 * index is small), at most SETTLE_MAX: it bounds a lookup's scan during an import (a chain of
 * "externalId eq" is one scan: store-filter.c) and the time one settle holds the writers. A
 * settle rewrites about every page of the index, so the index costs per create about
 * (1 + 1/ratio) / entries-per-page pages: with half, a first import of 1,000,000 users through
 * Bulk took 13.5 us of adc-server's CPU a create against 15.3 with an eighth and 100,000 at most
 * (17 settles against 46; docs/BENCHMARKS.md). */
#define SETTLE_MIN 1000
#define SETTLE_MAX 250000
#define MARK_SQL "(SELECT m.seq FROM index_marks AS m WHERE m.name = 'user_external_ids')"

/* A settled user's entry, as its row holds it now (the externalId and the seq): index_drop
 * before the row is rewritten or deleted, index_add after a rewrite (nothing above the mark or
 * without an externalId). Both find the entry by its primary key, so the index needs no second
 * index by seq, which would double a settle's work. */
static int index_drop(struct adc_db *db, const char *id) {
    static const char sql[] =
        "DELETE FROM user_external_ids WHERE external_id = (SELECT external_id FROM users WHERE "
        "id = ?1) AND seq = (SELECT seq FROM users WHERE id = ?1)";
    return adc_db_exec(db, sql, false, "t", id);
}

static int index_add(struct adc_db *db, const char *id) {
    static const char sql[] =
        "INSERT INTO user_external_ids(external_id, seq) SELECT external_id, seq FROM users "
        "WHERE id = ? AND external_id IS NOT NULL AND seq <= " MARK_SQL " ON CONFLICT DO NOTHING";
    return adc_db_exec(db, sql, false, "t", id);
}

/* The mark and the last seq; 0 or a negative errno. */
static int settle_bounds(struct adc_db *db, int64_t *mark, int64_t *last) {
    static const char sql[] = "SELECT " MARK_SQL ", (SELECT coalesce(max(seq), 0) FROM users)";
    int r;
    struct adc_stmt *st = adc_db_query_row(db, sql, &r, "");
    if (!st)
        return r;
    *mark = adc_stmt_int(st, 0);
    *last = adc_stmt_int(st, 1);
    adc_stmt_reset(st);
    return 0;
}

int64_t adc_store_users_unsettled(struct adc_db *db) {
    int64_t mark = 0, last = 0;
    int r = settle_bounds(db, &mark, &last);
    return r < 0 ? r : last > mark ? last - mark : 0;
}

static bool settle_due(int64_t mark, int64_t last, bool all) {
    int64_t want = mark / 2;
    want = want < SETTLE_MIN ? SETTLE_MIN : want > SETTLE_MAX ? SETTLE_MAX : want;
    return last > mark && (all || last - mark >= want);
}

/* In a write transaction: moves the users in (mark, last] into the index. */
static int settle_in(struct adc_db *db, bool all, int64_t *n) {
    static const char move_sql[] =
        "INSERT INTO user_external_ids(external_id, seq) SELECT external_id, seq FROM users "
        "WHERE seq > ? AND seq <= ? AND external_id IS NOT NULL ORDER BY external_id "
        "ON CONFLICT DO NOTHING";
    static const char mark_sql[] =
        "UPDATE index_marks SET seq = ? WHERE name = 'user_external_ids'";
    int64_t mark = 0, last = 0;
    int r;
    /* PostgreSQL hands out identities before commit: a writer of another instance may still
     * commit a user below `last`. The lock waits for every such writer and keeps new ones out
     * until this transaction ends; the bounds are read after it. */
    if (adc_db_dialect(db) == ADC_SQL_POSTGRESQL &&
        (r = adc_db_exec(db, "LOCK TABLE users IN EXCLUSIVE MODE", false, "")) < 0)
        return r;
    if ((r = settle_bounds(db, &mark, &last)) < 0 || !settle_due(mark, last, all))
        return r;
    if ((r = adc_db_exec(db, move_sql, false, "ii", mark, last)) < 0 ||
        (r = adc_db_exec(db, mark_sql, true, "i", last)) < 0)
        return r;
    *n = last - mark;
    return 0;
}

int64_t adc_store_users_settle(struct adc_db *db, bool all) {
    int64_t mark = 0, last = 0, n = 0;
    int r = settle_bounds(db, &mark, &last);
    if (r < 0 || !settle_due(mark, last, all))
        return r;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if ((r = adc_db_begin(db, true)) < 0)
        return r;
    if ((r = settle_in(db, all, &n)) < 0) {
        adc_db_rollback(db);
        return r;
    }
    if ((r = adc_db_commit(db)) < 0)
        return r;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (n > 0)
        log_info("externalId index: %lld users settled in %.3f s (%s)", (long long)n,
                 (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
                 all ? "idle" : "batch");
    return n;
}

/* A taken userName is an answer (409), not a failed statement: a failed statement aborts a
 * PostgreSQL transaction, and Bulk goes on after a 409 with the next operation. So the insert
 * skips a conflicting row (ON CONFLICT DO NOTHING: no row back) and the update checks for
 * another holder of the name; writers are serialized, so the check holds until commit. */
int adc_store_user_insert(struct adc_db *db, struct adc_store_user *u) {
    /* The new seq comes back by RETURNING on PostgreSQL (no second round trip), as SQLite's
     * last rowid otherwise (store.h: RETURNING costs SQLite a temporary table per row). */
#define INSERT_USER                                                                                \
    "INSERT INTO users(id, user_name, external_id, provider, active, data, version, created, "     \
    "modified) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING"
    static const char returning_sql[] = INSERT_USER " RETURNING seq";
    static const char plain_sql[] = INSERT_USER;
#undef INSERT_USER
    bool by_key = adc_db_last_insert_key(db) != -ENOTSUP;
    char key[FOLD_MAX];
    bool keep;
    int r;
    struct adc_stmt *st = prepare_write(db, by_key ? plain_sql : returning_sql, u, key, &keep, &r);
    if (!st)
        return r;
    if (by_key) {
        r = adc_db_step_done(db, st, true);
        if (r == 0)
            u->seq = adc_db_last_insert_key(db);
    } else {
        r = adc_db_step_row(db, st);
        if (r == 0) {
            u->seq = adc_stmt_int(st, 0);
            adc_stmt_reset(st);
        }
    }
    if (r == -ENOENT)
        r = -EEXIST; /* no row: the userName (or the id) is taken */
    if (r == 0 && keep)
        r = fold_store(db, u->id, key, true);
    return r;
}

int adc_store_user_update(struct adc_db *db, const struct adc_store_user *u) {
    static const char sql[] = "UPDATE users SET user_name = ?2, external_id = ?3, provider = ?4, "
                              "active = ?5, data = ?6, version = ?7, created = ?8, modified = ?9 "
                              "WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM users AS o "
                              "WHERE o.user_name = ?2 AND o.id <> ?1)";
    static const char exists_sql[] = "SELECT 1 FROM users WHERE id = ?";
    char key[FOLD_MAX];
    bool keep;
    int r;
    struct adc_stmt *st = prepare_write(db, sql, u, key, &keep, &r);
    if (!st)
        return r;
    /* The entry goes before the row changes and comes back after as the row then is: the new
     * externalId, or the old one when the update changed nothing. */
    if ((r = index_drop(db, u->id)) < 0) {
        adc_stmt_reset(st);
        return r;
    }
    r = adc_db_step_done(db, st, true);
    int added = index_add(db, u->id);
    if (r == 0 && (r = added) == 0)
        return fold_store(db, u->id, key, keep);
    if (r != -ENOENT)
        return r;
    if (added < 0)
        return added;
    /* No row changed: the user is gone, or another user holds the new name. */
    struct adc_stmt *q = adc_db_query_row(db, exists_sql, &r, "t", u->id);
    if (!q)
        return r; /* -ENOENT: gone */
    adc_stmt_reset(q);
    return -EEXIST;
}

int adc_store_user_delete(struct adc_db *db, const char *id) {
    static const char sql[] = "DELETE FROM users WHERE id = ?";

    /* SQLite gives a new row the largest rowid + 1: once the last user is gone, the next one
     * would get its seq, at or below the mark, and be in neither part of the index. The mark
     * goes down with the last user. (PostgreSQL's identities are never used twice.) */
    static const char mark_sql[] =
        "UPDATE index_marks SET seq = (SELECT coalesce(max(seq), 0) FROM users) WHERE name = "
        "'user_external_ids' AND seq > (SELECT coalesce(max(seq), 0) FROM users)";
    int r = index_drop(db, id);
    if (r == 0)
        r = adc_db_exec(db, sql, true, "t", id);
    if (r == 0)
        r = adc_db_exec(db, mark_sql, false, "");
    return r < 0 ? r : fold_store(db, id, NULL, false);
}

int adc_store_users_reassign(struct adc_db *db, const char *from, const char *to) {
    static const char sql[] =
        "UPDATE users SET provider = ?2, version = version + 1 WHERE provider = ?1";
    struct adc_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    adc_stmt_bind_text(st, 1, from);
    adc_stmt_bind_text(st, 2, to);
    int r = adc_db_step_done(db, st, false);
    return r < 0 ? r : adc_db_changes(db);
}

struct list_ctx {
    adc_store_user_cb cb;
    void *ctx;
};

static int list_row(struct adc_stmt *st, void *ctx) {
    struct list_ctx *l = ctx;
    struct adc_store_user u;
    int r = read_row(st, &u);
    if (r < 0)
        return r;
    r = l->cb(&u, l->ctx);
    adc_store_user_done(&u);
    return r;
}

int adc_store_user_list(struct adc_db *db, const char *where, const struct adc_sql_arg *args,
                        size_t n_args, int64_t after_seq, int64_t offset, int64_t limit,
                        adc_store_user_cb cb, void *ctx) {
    struct list_ctx l = {cb, ctx};
    return adc_db_list_page(db, "SELECT " USER_COLUMNS " FROM users", where, args, n_args,
                            after_seq, offset, limit, list_row, &l);
}

int64_t adc_store_user_count(struct adc_db *db, const char *where, const struct adc_sql_arg *args,
                             size_t n_args) {
    return adc_db_count(db, "users", where, args, n_args);
}
