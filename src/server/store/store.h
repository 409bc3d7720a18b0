/* The SQLite store: one database file in WAL mode, a schema version (PRAGMA user_version) with
 * migrations, and a small pool of connections shared by the request threads.
 *
 * Threads: adc_store_acquire() lends a connection for one request; give it back with
 * adc_store_release() before blocking on anything else (a long poll must not hold one).
 * Writers are serialized by a mutex around BEGIN IMMEDIATE ... COMMIT: SQLite allows one writer
 * anyway, and waiting on a mutex is faster and fairer than SQLite's sleeping busy handler. */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct adc_store;
struct adc_db;

/* Opens (create=false) or creates (create=true) the database and brings its schema up to date.
 * Creating refuses an existing database (-EEXIST); opening refuses a missing one (-ENOENT) and
 * one from a newer adc-server (-EPROTO). Errors are logged with the file name. */
int adc_store_open(const char *path, bool create, struct adc_store **out);
void adc_store_free(struct adc_store *s);
/* The schema version this build writes. */
int adc_store_schema_version(void);

struct adc_db *adc_store_acquire(struct adc_store *s);
/* The one connection for SCIM's writes (see writer_db in store.c), lent with the writer mutex
 * held: other writers wait until adc_store_release. Use it for requests that write. */
struct adc_db *adc_store_acquire_writer(struct adc_store *s);
void adc_store_release(struct adc_db *db);
sqlite3 *adc_db_handle(struct adc_db *db);

/* A prepared statement for sql, cached per connection and keyed by the pointer: pass string
 * literals only. Returned reset with no bindings; callers sqlite3_reset() it when done so that
 * no read stays open. NULL on error (logged). */
sqlite3_stmt *adc_db_stmt(struct adc_db *db, const char *sql);

/* Transactions. write=true takes the store's writer lock and BEGIN IMMEDIATE. */
int adc_db_begin(struct adc_db *db, bool write);
int adc_db_commit(struct adc_db *db);
void adc_db_rollback(struct adc_db *db);

/* A bound value of dynamically built SQL (SCIM filters). */
enum adc_sql_type { ADC_SQL_TEXT, ADC_SQL_INT };
struct adc_sql_arg {
    enum adc_sql_type type;
    char *text; /* owned */
    int64_t i;
};
int adc_db_bind_args(sqlite3_stmt *st, int first, const struct adc_sql_arg *args, size_t n);

/* Maps a SQLite result code to a negative errno: constraint -> -EEXIST, busy -> -EBUSY,
 * else -EIO (and logs the SQLite message at debug level). */
int adc_db_errno(struct adc_db *db, int rc);

/* Current UTC time as "YYYY-MM-DDTHH:MM:SSZ" (RFC 3339; sorts as text). */
void adc_store_now(char buf[static 24]);
/* Column text copied into a malloc'd string (NULL stays NULL). */
char *adc_db_column_strdup(sqlite3_stmt *st, int col);
/* Column text copied into a fixed buffer, truncated to fit; NULL becomes "". */
void adc_db_column_copy(sqlite3_stmt *st, int col, char *dst, size_t size);

/* Steps a statement that returns no rows, then resets it. 0 on success; -ENOENT when
 * need_change and no row was changed (an UPDATE or DELETE of a missing key); else a negative
 * errno from adc_db_errno(). sqlite3_changes() still tells the count afterwards. */
int adc_db_step_done(struct adc_db *db, sqlite3_stmt *st, bool need_change);
/* Steps a statement expected to return at most one row. 0 with the row current (read its
 * columns, then sqlite3_reset()), or -ENOENT / a negative errno with the statement reset. */
int adc_db_step_row(struct adc_db *db, sqlite3_stmt *st);
/* Steps a statement through its rows: 1 with a row current, 0 after the last one, or a negative
 * errno. The caller resets the statement when done (also when it stops early). */
int adc_db_step_next(struct adc_db *db, sqlite3_stmt *st);

/* A savepoint inside the current write transaction: an operation of several statements (a
 * group with its members) inside a Bulk request that must leave nothing behind when it fails
 * while the request goes on. adc_db_savepoint_end releases it, after rolling back to it when
 * `undo`. 0 or a negative errno. */
int adc_db_savepoint(struct adc_db *db);
int adc_db_savepoint_end(struct adc_db *db, bool undo);
