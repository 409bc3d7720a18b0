/* The store interface: picks the engine by the target's form and forwards to it. The helpers
 * that only combine engine calls (step until done, copy a column) live here once. */
#include "store/store.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "store/store-engine.h"

static atomic_uint_fast64_t error_count;

void adc_store_count_error(void) { atomic_fetch_add(&error_count, 1); }
uint64_t adc_store_errors(void) { return atomic_load(&error_count); }

bool adc_store_target_is_postgresql(const char *target) {
    return target &&
           (strncmp(target, "postgresql://", 13) == 0 || strncmp(target, "postgres://", 11) == 0);
}

int adc_store_open(const char *target, bool create, struct adc_store **out) {
    if (!adc_store_target_is_postgresql(target))
        return adc_store_sqlite.open(target, create, out);
#ifdef ADC_HAVE_POSTGRESQL
    return adc_store_postgresql.open(target, create, out);
#else
    log_error("this adc-server was built without PostgreSQL support (libpq); use a SQLite file "
              "or a build with -Dpostgresql=enabled");
    return -EPROTONOSUPPORT;
#endif
}

void adc_store_free(struct adc_store *s) {
    if (s)
        s->engine->free(s);
}

const char *adc_store_label(struct adc_store *s) { return s->label; }

int adc_store_schema_version(void) { return adc_schema_steps; }

enum adc_sql_dialect adc_db_dialect(struct adc_db *db) { return db->engine->dialect; }
enum adc_sql_dialect adc_store_dialect(struct adc_store *s) { return s->engine->dialect; }

struct adc_db *adc_store_acquire(struct adc_store *s) {
    return s->engine->acquire(s, false);
}
struct adc_db *adc_store_acquire_writer(struct adc_store *s) {
    return s->engine->acquire(s, true);
}
void adc_store_release(struct adc_db *db) {
    if (db)
        db->engine->release(db);
}

struct adc_stmt *adc_db_stmt(struct adc_db *db, const char *sql) {
    return db ? db->engine->prepare(db, sql, true) : NULL;
}
struct adc_stmt *adc_db_prepare(struct adc_db *db, const char *sql) {
    return db ? db->engine->prepare(db, sql, false) : NULL;
}
void adc_stmt_free(struct adc_stmt *st) {
    if (st)
        st->engine->stmt_free(st);
}
void adc_stmt_reset(struct adc_stmt *st) {
    if (st)
        st->engine->reset(st);
}
int adc_stmt_bind_text(struct adc_stmt *st, int i, const char *s) {
    return st->engine->bind_text(st, i, s);
}
int adc_stmt_bind_int(struct adc_stmt *st, int i, int64_t v) {
    return st->engine->bind_int(st, i, v);
}
const char *adc_stmt_text(struct adc_stmt *st, int col) { return st->engine->text(st, col); }
int64_t adc_stmt_int(struct adc_stmt *st, int col) { return st->engine->integer(st, col); }
int64_t adc_db_changes(struct adc_db *db) { return db->engine->changes(db); }

int64_t adc_db_last_insert_key(struct adc_db *db) {
    return db->engine->last_insert_key ? db->engine->last_insert_key(db) : -ENOTSUP;
}

int adc_db_begin(struct adc_db *db, bool write) { return db ? db->engine->begin(db, write) : -EIO; }
int adc_db_commit(struct adc_db *db) { return db->engine->commit(db); }
void adc_db_rollback(struct adc_db *db) {
    if (db)
        db->engine->rollback(db);
}

struct adc_db *adc_store_begin_write(struct adc_store *s, int *r) {
    struct adc_db *db = adc_store_acquire(s);
    *r = db ? adc_db_begin(db, true) : -EIO;
    if (*r < 0) {
        adc_store_release(db);
        return NULL;
    }
    return db;
}

int adc_store_end_write(struct adc_db *db, int r) {
    if (r == 0)
        r = adc_db_commit(db);
    else
        adc_db_rollback(db);
    adc_store_release(db);
    return r;
}

int adc_stmt_bind_args(struct adc_stmt *st, int first, const struct adc_sql_arg *args, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int r = args[i].type == ADC_SQL_TEXT ? adc_stmt_bind_text(st, first + (int)i, args[i].text)
                                             : adc_stmt_bind_int(st, first + (int)i, args[i].i);
        if (r < 0)
            return -EINVAL;
    }
    return 0;
}

void adc_store_now(char buf[static 24]) {
    /* Called a few times per write (the record, its audit line): the text changes once a
     * second, and gmtime_r and strftime cost more than the rest of it. */
    static _Thread_local time_t last = -1;
    static _Thread_local char text[24];
    time_t t = time(NULL);
    if (t != last) {
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
        last = t;
    }
    memcpy(buf, text, sizeof(text));
}

char *adc_db_column_strdup(struct adc_stmt *st, int col) {
    const char *t = adc_stmt_text(st, col);
    return t ? strdup(t) : NULL;
}

void adc_db_column_copy(struct adc_stmt *st, int col, char *dst, size_t size) {
    const char *t = adc_stmt_text(st, col);
    snprintf(dst, size, "%s", t ? t : "");
}

int adc_db_step_done(struct adc_db *db, struct adc_stmt *st, bool need_change) {
    int r = db->engine->step(db, st);
    if (r > 0)
        r = 0; /* a row from a statement run for its effect: ignore it */
    if (r == 0 && need_change && adc_db_changes(db) == 0)
        r = -ENOENT;
    adc_stmt_reset(st);
    return r;
}

int adc_db_step_next(struct adc_db *db, struct adc_stmt *st) { return db->engine->step(db, st); }

int adc_db_step_row(struct adc_db *db, struct adc_stmt *st) {
    int r = db->engine->step(db, st);
    if (r > 0)
        return 0;
    if (r == 0)
        r = -ENOENT;
    adc_stmt_reset(st);
    return r;
}

static struct adc_stmt *vbind(struct adc_db *db, const char *sql, const char *types, va_list ap) {
    struct adc_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return NULL;
    for (int i = 1; types[i - 1]; i++) {
        if (types[i - 1] == 't')
            adc_stmt_bind_text(st, i, va_arg(ap, const char *));
        else
            adc_stmt_bind_int(st, i, va_arg(ap, int64_t));
    }
    return st;
}

int adc_db_exec(struct adc_db *db, const char *sql, bool need_change, const char *types, ...) {
    va_list ap;
    va_start(ap, types);
    struct adc_stmt *st = vbind(db, sql, types, ap);
    va_end(ap);
    return st ? adc_db_step_done(db, st, need_change) : -EIO;
}

struct adc_stmt *adc_db_query_row(struct adc_db *db, const char *sql, int *r, const char *types,
                                  ...) {
    va_list ap;
    va_start(ap, types);
    struct adc_stmt *st = vbind(db, sql, types, ap);
    va_end(ap);
    *r = st ? adc_db_step_row(db, st) : -EIO;
    return *r == 0 ? st : NULL;
}

struct adc_stmt *adc_db_query(struct adc_db *db, const char *sql, const char *types, ...) {
    va_list ap;
    va_start(ap, types);
    struct adc_stmt *st = vbind(db, sql, types, ap);
    va_end(ap);
    return st;
}

int adc_db_list_page(struct adc_db *db, const char *select_from, const char *where,
                     const struct adc_sql_arg *args, size_t n_args, int64_t after_seq,
                     int64_t offset, int64_t limit, int (*row)(struct adc_stmt *st, void *ctx),
                     void *ctx) {
    char *sql = NULL;
    if (asprintf(&sql, "%s WHERE seq > ? AND (%s) ORDER BY seq LIMIT ? OFFSET ?", select_from,
                 where && *where ? where : "TRUE") < 0)
        return -ENOMEM;
    int r;
    struct adc_stmt *st = adc_db_prepare(db, sql);
    if (!st) {
        r = -EIO;
        goto out;
    }
    adc_stmt_bind_int(st, 1, after_seq);
    if (adc_stmt_bind_args(st, 2, args, n_args) < 0) {
        r = -EINVAL;
        goto out;
    }
    adc_stmt_bind_int(st, 2 + (int)n_args, limit);
    adc_stmt_bind_int(st, 3 + (int)n_args, offset);
    int n = 0;
    while ((r = adc_db_step_next(db, st)) > 0) {
        if ((r = row(st, ctx)) < 0)
            goto out;
        n++;
    }
    if (r == 0)
        r = n;
out:
    adc_stmt_free(st);
    free(sql);
    return r;
}

int64_t adc_db_count(struct adc_db *db, const char *table, const char *where,
                     const struct adc_sql_arg *args, size_t n_args) {
    char *sql = NULL;
    if (asprintf(&sql, "SELECT count(*) FROM %s%s%s", table, where && *where ? " WHERE " : "",
                 where && *where ? where : "") < 0)
        return -ENOMEM;
    int64_t r = -EIO;
    struct adc_stmt *st = adc_db_prepare(db, sql);
    if (st && adc_stmt_bind_args(st, 1, args, n_args) == 0 && adc_db_step_next(db, st) > 0)
        r = adc_stmt_int(st, 0);
    adc_stmt_free(st);
    free(sql);
    return r;
}

/* SAVEPOINT, ROLLBACK TO and RELEASE are the same words in both engines. */
int adc_db_savepoint(struct adc_db *db) { return adc_db_exec(db, "SAVEPOINT op", false, ""); }

int adc_db_savepoint_end(struct adc_db *db, bool undo) {
    int r = undo ? adc_db_exec(db, "ROLLBACK TO SAVEPOINT op", false, "") : 0;
    return r < 0 ? r : adc_db_exec(db, "RELEASE SAVEPOINT op", false, "");
}

int adc_store_listen(struct adc_store *s, const char *channel, int interval_ms,
                     void (*cb)(void *ctx, const char *payload), void *ctx,
                     struct adc_store_listener **out) {
    if (!s->engine->listen)
        return -EOPNOTSUPP;
    return s->engine->listen(s, channel, interval_ms, cb, ctx, out);
}

void adc_store_listener_free(struct adc_store_listener *l) {
    if (l)
        l->engine->listener_free(l);
}

int adc_db_notify(struct adc_db *db, const char *channel, const char *payload) {
    if (db->engine->dialect != ADC_SQL_POSTGRESQL)
        return 0;
    return adc_db_exec(db, "SELECT pg_notify(?, ?)", false, "tt", channel, payload);
}
