/* The store: every byte adc-server keeps lives behind this interface, and every SQL statement
 * lives in src/server/store/. Two engines sit behind it (store-engine.h): SQLite, one database
 * file in WAL mode (the embedded default), and PostgreSQL (`--db postgresql://...`, several
 * instances on one database). Both keep the same schema versions (store-schema.c) and run the
 * same statements: the store modules (store-users.c, store-configs.c, store-runs.c,
 * store-admins.c, store-sessions.c, store-throttle.c) are written once, in SQL both engines
 * read, against the statement API below.
 *
 * Threads: adc_store_acquire() lends a connection for one request; give it back with
 * adc_store_release() before blocking on anything else (a long poll must not hold one).
 * Writers are serialized by a mutex around BEGIN IMMEDIATE ... COMMIT on SQLite: SQLite allows
 * one writer anyway, and waiting on a mutex is faster and fairer than SQLite's sleeping busy
 * handler. PostgreSQL takes row locks instead. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct adc_store;
struct adc_db;
struct adc_stmt;

/* Opens (create=false) or creates (create=true) the database and brings its schema up to date.
 * target is a SQLite file name or a postgresql:// (postgres://) connection URI.
 * Creating refuses an existing database (-EEXIST); opening refuses a missing one (-ENOENT) and
 * one from a newer adc-server (-EPROTO). Errors are logged with the database's name (never a
 * password from the URI). */
int adc_store_open(const char *target, bool create, struct adc_store **out);
void adc_store_free(struct adc_store *s);
/* For tests: the SQLite engine checkpoints the WAL when it holds checkpoint_bytes of frames
 * and empties it after idle_ms without a commit (defaults 64 MiB and 1000); for stores opened
 * afterwards (the size) and those open (the idle time). */
void adc_store_sqlite_tune(int checkpoint_bytes, int idle_ms);
/* What to call the database in messages: the file name, or "PostgreSQL database 'x' on
 * host:port" (never a password from the URI). Valid while s is. */
const char *adc_store_label(struct adc_store *s);
/* The schema version this build writes. */
int adc_store_schema_version(void);
/* True when target names a PostgreSQL database rather than a SQLite file. */
bool adc_store_target_is_postgresql(const char *target);

/* The SQL dialect of a connection, for the few statements built at run time (SCIM filters). */
enum adc_sql_dialect { ADC_SQL_SQLITE, ADC_SQL_POSTGRESQL };
enum adc_sql_dialect adc_db_dialect(struct adc_db *db);
enum adc_sql_dialect adc_store_dialect(struct adc_store *s);

/* Lends a connection (NULL when none can be opened, logged). */
struct adc_db *adc_store_acquire(struct adc_store *s);
/* The connection for SCIM's writes, lent with the writer lock held on SQLite (see writer_db in
 * store-sqlite.c): other writers wait until adc_store_release. Use it for requests that write. */
struct adc_db *adc_store_acquire_writer(struct adc_store *s);
/* Gives a connection back; an open transaction is rolled back first. NULL is fine. */
void adc_store_release(struct adc_db *db);

/* A prepared statement for sql, cached per connection and keyed by the pointer: pass string
 * literals only. Returned reset with no bindings; callers adc_stmt_reset() it when done so that
 * no read stays open. NULL on error (logged).
 * Placeholders: `?` (numbered in order) or `?N`. */
struct adc_stmt *adc_db_stmt(struct adc_db *db, const char *sql);
/* A statement for SQL built at run time: not cached, free it with adc_stmt_free(). NULL on
 * error (logged at debug level: the SQL may hold a client's filter). */
struct adc_stmt *adc_db_prepare(struct adc_db *db, const char *sql);
void adc_stmt_free(struct adc_stmt *st);
void adc_stmt_reset(struct adc_stmt *st);

/* Bindings (1-based). Text is not copied: it must stay valid until the statement is stepped
 * for the last time or reset. NULL text binds SQL NULL. */
int adc_stmt_bind_text(struct adc_stmt *st, int i, const char *s);
int adc_stmt_bind_int(struct adc_stmt *st, int i, int64_t v);

/* Columns of the current row (0-based). Text is valid until the next step or reset; NULL for
 * SQL NULL. */
const char *adc_stmt_text(struct adc_stmt *st, int col);
int64_t adc_stmt_int(struct adc_stmt *st, int col);

/* Rows changed by the last statement stepped on db. */
int64_t adc_db_changes(struct adc_db *db);
/* The integer key (SQLite's rowid) of the row the last successful INSERT on db added, when the
 * engine tells it without RETURNING; -ENOTSUP when it does not (PostgreSQL). SQLite runs an
 * INSERT ... RETURNING through a temporary table opened and closed for each row: about a
 * sixth of a create's insert in a first import (docs/BENCHMARKS.md). */
int64_t adc_db_last_insert_key(struct adc_db *db);

/* Transactions. write=true takes the store's writer lock and BEGIN IMMEDIATE on SQLite. */
int adc_db_begin(struct adc_db *db, bool write);
int adc_db_commit(struct adc_db *db);
void adc_db_rollback(struct adc_db *db);

/* One change in a write transaction of its own, for callers that hold no connection:
 *   int r; struct adc_db *db = adc_store_begin_write(s, &r);
 *   if (db) r = adc_store_end_write(db, change(db, ...));
 * begin: a connection inside BEGIN (write), or NULL with *r a negative errno. end: commits when
 * r == 0 (returns the commit's result), else rolls back and returns r; the connection goes
 * back either way. */
struct adc_db *adc_store_begin_write(struct adc_store *s, int *r);
int adc_store_end_write(struct adc_db *db, int r);

/* A bound value of dynamically built SQL (SCIM filters). */
enum adc_sql_type { ADC_SQL_TEXT, ADC_SQL_INT };
struct adc_sql_arg {
    enum adc_sql_type type;
    char *text; /* owned */
    int64_t i;
};
int adc_stmt_bind_args(struct adc_stmt *st, int first, const struct adc_sql_arg *args, size_t n);

/* Current UTC time as "YYYY-MM-DDTHH:MM:SSZ" (RFC 3339; sorts as text). */
void adc_store_now(char buf[static 24]);
/* Column text copied into a malloc'd string (NULL stays NULL). */
char *adc_db_column_strdup(struct adc_stmt *st, int col);
/* Column text copied into a fixed buffer, truncated to fit; NULL becomes "". */
void adc_db_column_copy(struct adc_stmt *st, int col, char *dst, size_t size);

/* Steps a statement that returns no rows, then resets it. 0 on success; -ENOENT when
 * need_change and no row was changed (an UPDATE or DELETE of a missing key); -EEXIST for a
 * unique constraint; -EBUSY when the database is locked; else -EIO (logged).
 * adc_db_changes() still tells the count afterwards. */
int adc_db_step_done(struct adc_db *db, struct adc_stmt *st, bool need_change);
/* Steps a statement expected to return at most one row. 0 with the row current (read its
 * columns, then adc_stmt_reset()), or -ENOENT / a negative errno with the statement reset. */
int adc_db_step_row(struct adc_db *db, struct adc_stmt *st);
/* Steps a statement through its rows: 1 with a row current, 0 after the last one, or a negative
 * errno. The caller resets the statement when done (also when it stops early). */
int adc_db_step_next(struct adc_db *db, struct adc_stmt *st);

/* A page of a listing filtered by a WHERE clause built at run time (store-filter.h): runs
 * "<select_from> WHERE seq > ? AND (<where>) ORDER BY seq LIMIT ? OFFSET ?" with args bound
 * after after_seq, and calls row() with each row current (it reads its columns; a negative
 * return stops the listing and is returned). where NULL or "": every row. Returns the number
 * of rows, or a negative errno. Built per call: the filter makes every query different, and
 * preparing costs microseconds, small next to a page of results. */
int adc_db_list_page(struct adc_db *db, const char *select_from, const char *where,
                     const struct adc_sql_arg *args, size_t n_args, int64_t after_seq,
                     int64_t offset, int64_t limit, int (*row)(struct adc_stmt *st, void *ctx),
                     void *ctx);
/* The number of rows of table that match where (NULL or "": all of them), or a negative errno.
 * Without a filter there is no WHERE at all: SQLite then counts the smallest index's entries
 * without looking at rows. */
int64_t adc_db_count(struct adc_db *db, const char *table, const char *where,
                     const struct adc_sql_arg *args, size_t n_args);

/* Shorthands for the common case, statements cached by the sql pointer (string literals only).
 * types has one letter per parameter, in order: 't' a const char * (NULL binds NULL), 'i' an
 * int64_t (cast other integers). */
/* Prepares, binds and steps a statement that returns no rows: adc_db_step_done's returns. */
int adc_db_exec(struct adc_db *db, const char *sql, bool need_change, const char *types, ...);
/* Prepares and binds a statement and steps it to its first row: the statement with that row
 * current (read it, then adc_stmt_reset()), or NULL with *r set to -ENOENT (no row) or a
 * negative errno. */
struct adc_stmt *adc_db_query_row(struct adc_db *db, const char *sql, int *r, const char *types,
                                  ...);
/* Prepares and binds a statement for adc_db_step_next(); NULL on error. */
struct adc_stmt *adc_db_query(struct adc_db *db, const char *sql, const char *types, ...);

/* Cross-instance wake-ups (PostgreSQL LISTEN/NOTIFY). adc_store_listen calls cb(ctx, payload)
 * from a thread of its own, holding a connection of its own, for each notification on channel
 * (payload: its text), and cb(ctx, NULL) "look at everything" after each (re)connect and
 * LISTEN (so that what was queued meanwhile is looked at: LISTEN first, then check, closes the
 * race) and at least every interval_ms, however many notifications arrive. -EOPNOTSUPP on SQLite
 * (one process: nobody else to wake). adc_store_listener_free stops and joins it. */
struct adc_store_listener;
int adc_store_listen(struct adc_store *s, const char *channel, int interval_ms,
                     void (*cb)(void *ctx, const char *payload), void *ctx,
                     struct adc_store_listener **out);
void adc_store_listener_free(struct adc_store_listener *l);
/* Notifies channel, delivered when the current transaction commits. The payload is an id,
 * never data: notifications are not access-controlled. A no-op on SQLite. */
int adc_db_notify(struct adc_db *db, const char *channel, const char *payload);

/* Counters for GET /metrics: database errors (-EIO answers) since start. */
uint64_t adc_store_errors(void);

/* A savepoint inside the current write transaction: an operation of several statements (a
 * group with its members) inside a Bulk request that must leave nothing behind when it fails
 * while the request goes on. adc_db_savepoint_end releases it, after rolling back to it when
 * `undo`. 0 or a negative errno. */
int adc_db_savepoint(struct adc_db *db);
int adc_db_savepoint_end(struct adc_db *db, bool undo);
