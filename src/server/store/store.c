#include "store/store.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macros.h"

#define POOL_SIZE 8
#define STMT_CACHE 64

struct stmt_slot {
    const char *sql;
    sqlite3_stmt *st;
};

struct adc_db {
    struct adc_store *store;
    sqlite3 *h;
    bool in_use;
    bool holds_writer_lock;
    bool dedicated_writer; /* the store's writer_db: the writer mutex is held while lent */
    struct stmt_slot stmts[STMT_CACHE];
    size_t n_stmts;
};

struct adc_store {
    char *path;
    pthread_mutex_t lock; /* guards the pool */
    pthread_cond_t freed;
    pthread_mutex_t writer;
    struct adc_db pool[POOL_SIZE];
    size_t n_open;
    /* The connection adc_store_acquire_writer lends. In WAL mode a connection empties its whole
     * page cache when it finds that another connection committed, so write transactions that
     * take turns on two pooled connections each start cold and read the indexes again from
     * the file: SCIM writes go through this one connection, which keeps them warm. */
    struct adc_db writer_db;
};

/* Schema migrations: migrations[i] brings version i to version i+1. Append only; never edit a
 * released step. */
static const char *const migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE admin_tokens("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  token_hash TEXT NOT NULL UNIQUE,"
    "  created TEXT NOT NULL,"
    "  last_used TEXT);"
    "CREATE TABLE sync_configs("
    "  app_id TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  secret_hash TEXT NOT NULL UNIQUE,"
    "  settings TEXT NOT NULL DEFAULT '{}',"
    "  created TEXT NOT NULL,"
    "  modified TEXT NOT NULL,"
    "  secret_rotated TEXT);"
    /* userName is unique ignoring (ASCII) case: the column's NOCASE collation makes the index,
     * the uniqueness and every comparison in filters case-insensitive. */
    "CREATE TABLE users("
    "  seq INTEGER PRIMARY KEY,"
    "  id TEXT NOT NULL UNIQUE,"
    "  user_name TEXT NOT NULL COLLATE NOCASE,"
    "  external_id TEXT,"
    "  provider TEXT NOT NULL,"
    "  active INTEGER NOT NULL,"
    "  data TEXT NOT NULL,"
    "  version INTEGER NOT NULL,"
    "  created TEXT NOT NULL,"
    "  modified TEXT NOT NULL);"
    "CREATE UNIQUE INDEX users_user_name ON users(user_name);"
    "CREATE INDEX users_external_id ON users(external_id);"
    "CREATE INDEX users_provider ON users(provider, external_id);"
    "CREATE TABLE runs("
    "  seq INTEGER PRIMARY KEY,"
    "  run_id TEXT NOT NULL UNIQUE,"
    "  app_id TEXT NOT NULL,"
    "  source TEXT NOT NULL,"
    "  dry_run INTEGER NOT NULL,"
    "  status TEXT NOT NULL,"
    "  stats TEXT NOT NULL DEFAULT '{}',"
    "  errors TEXT NOT NULL DEFAULT '[]',"
    "  error_count INTEGER NOT NULL DEFAULT 0,"
    "  created TEXT NOT NULL,"
    "  started TEXT,"
    "  finished TEXT,"
    "  updated TEXT NOT NULL,"
    "  agent_id TEXT);"
    "CREATE INDEX runs_app_id ON runs(app_id, seq);"
    "CREATE TABLE audit("
    "  seq INTEGER PRIMARY KEY,"
    "  at TEXT NOT NULL,"
    "  actor TEXT NOT NULL,"
    "  action TEXT NOT NULL,"
    "  target TEXT,"
    "  detail TEXT);",
    /* 1 -> 2: the web console's administrator accounts (sessions.h, admin-accounts.h). Times
     * of sessions are Unix seconds: they are compared with the idle and absolute limits. */
    "CREATE TABLE admin_accounts("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
    "  password_hash TEXT NOT NULL,"
    "  created TEXT NOT NULL,"
    "  password_changed TEXT NOT NULL,"
    "  last_sign_in TEXT);"
    "CREATE TABLE console_sessions("
    "  token_hash TEXT PRIMARY KEY,"
    "  account_id INTEGER NOT NULL,"
    "  created INTEGER NOT NULL,"
    "  last_seen INTEGER NOT NULL,"
    "  client TEXT);"
    "CREATE INDEX console_sessions_account ON console_sessions(account_id);",
    /* 2 -> 3: the provider index without external_id. Each commit rewrites every index page it
     * touches into the WAL; (provider, external_id) takes entries in random order (entryUUIDs),
     * so a Bulk of 1,000 creates touched ~1,000 of its pages. (provider) alone is ordered by
     * rowid, so new users append to its last page. Lookups by provider and externalId use
     * users_external_id, which is as selective. */
    ("DROP INDEX users_provider;"
     "CREATE INDEX users_provider ON users(provider);"),
    /* 3 -> 4: sign-in throttling (store-throttle.h, api/throttle.h), in the database so that
     * every adc-server process on it shares the budgets. */
    ("CREATE TABLE login_throttle("
     "  key TEXT PRIMARY KEY,"
     "  failures INTEGER NOT NULL,"
     "  window_start INTEGER NOT NULL,"
     "  locked_until INTEGER NOT NULL,"
     "  lockouts INTEGER NOT NULL,"
     "  updated INTEGER NOT NULL) WITHOUT ROWID;"
     "CREATE INDEX login_throttle_updated ON login_throttle(updated);"),
};

int adc_store_schema_version(void) { return (int)ADC_ARRAY_SIZE(migrations); }

void adc_store_now(char buf[static 24]) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 24, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

char *adc_db_column_strdup(sqlite3_stmt *st, int col) {
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? strdup((const char *)t) : NULL;
}

void adc_db_column_copy(sqlite3_stmt *st, int col, char *dst, size_t size) {
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, size, "%s", t ? (const char *)t : "");
}

int adc_db_step_done(struct adc_db *db, sqlite3_stmt *st, bool need_change) {
    int rc = sqlite3_step(st);
    int r = rc == SQLITE_DONE ? 0 : adc_db_errno(db, rc);
    if (r == 0 && need_change && sqlite3_changes(db->h) == 0)
        r = -ENOENT;
    sqlite3_reset(st);
    return r;
}

int adc_db_step_next(struct adc_db *db, sqlite3_stmt *st) {
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return 1;
    return rc == SQLITE_DONE ? 0 : adc_db_errno(db, rc);
}

int adc_db_step_row(struct adc_db *db, sqlite3_stmt *st) {
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return 0;
    int r = rc == SQLITE_DONE ? -ENOENT : adc_db_errno(db, rc);
    sqlite3_reset(st);
    return r;
}

static int exec(sqlite3 *h, const char *sql, const char *path) {
    char *err = NULL;
    if (sqlite3_exec(h, sql, NULL, NULL, &err) != SQLITE_OK) {
        log_error("database '%s': %s", path, err ? err : "error");
        sqlite3_free(err);
        return -EIO;
    }
    return 0;
}

static int open_handle(const char *path, bool create, sqlite3 **out) {
    sqlite3 *h = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, &h, flags, NULL) != SQLITE_OK) {
        log_error("cannot open database '%s': %s", path, h ? sqlite3_errmsg(h) : "out of memory");
        sqlite3_close(h);
        return -EIO;
    }
    /* WAL: readers never block the writer. synchronous=NORMAL is durable across application
     * crashes and loses at most the last transactions on power loss, which a re-sync repairs;
     * FULL would fsync every commit. */
    sqlite3_busy_timeout(h, 10000);
    /* cache_size (per connection, 32 MiB): the indexes of 100,000 users (~25 MB) stay in memory
     * during an import.
     * wal_autocheckpoint: a Bulk of 1,000 creates dirties a few thousand pages; checkpointing
     * every 1,000 pages (the default) rewrote the same index pages over and over.
     * journal_size_limit gives the disk back after a checkpoint. */
    if (exec(h,
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
             "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-32768;"
             "PRAGMA wal_autocheckpoint=16384; PRAGMA journal_size_limit=67108864;",
             path) < 0) {
        sqlite3_close(h);
        return -EIO;
    }
    *out = h;
    return 0;
}

static int user_version(sqlite3 *h) {
    sqlite3_stmt *st;
    int v = -1;
    if (sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int migrate(sqlite3 *h, const char *path) {
    int v = user_version(h);
    int target = adc_store_schema_version();
    if (v < 0) {
        log_error("database '%s': cannot read the schema version: %s", path, sqlite3_errmsg(h));
        return -EIO;
    }
    if (v > target) {
        log_error("database '%s' has schema version %d; this adc-server knows up to %d: "
                  "use a newer adc-server",
                  path, v, target);
        return -EPROTO;
    }
    for (; v < target; v++) {
        char pragma[64];
        snprintf(pragma, sizeof(pragma), "PRAGMA user_version=%d;", v + 1);
        /* Each step and its version bump commit together: a crash leaves a clean version. */
        if (exec(h, "BEGIN IMMEDIATE", path) < 0)
            return -EIO;
        if (exec(h, migrations[v], path) < 0 || exec(h, pragma, path) < 0) {
            sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
            return -EIO;
        }
        if (exec(h, "COMMIT", path) < 0)
            return -EIO;
        log_debug("database '%s' migrated to schema version %d", path, v + 1);
    }
    return 0;
}

int adc_store_open(const char *path, bool create, struct adc_store **out) {
    struct stat sb;
    bool exists = stat(path, &sb) == 0;
    if (create && exists && sb.st_size > 0) {
        log_error("database '%s' exists already; init creates a new one", path);
        return -EEXIST;
    }
    if (!create && !exists) {
        log_error("database '%s' does not exist; create it with: adc-server --db %s init", path,
                  path);
        return -ENOENT;
    }
    struct adc_store *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->path = strdup(path);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->freed, NULL);
    pthread_mutex_init(&s->writer, NULL);
    int r;
    sqlite3 *h = NULL;
    if (create) {
        /* The database holds hashes only, but still: nobody else needs to read it. */
        mode_t old = umask(077);
        r = open_handle(path, true, &h);
        umask(old);
    } else {
        r = open_handle(path, false, &h);
    }
    if (r < 0)
        goto fail;
    r = migrate(h, path);
    if (r < 0) {
        sqlite3_close(h);
        goto fail;
    }
    s->pool[0].h = h;
    s->pool[0].store = s;
    s->n_open = 1;
    *out = s;
    return 0;
fail:
    adc_store_free(s);
    return r;
}

static void db_close(struct adc_db *db) {
    for (size_t i = 0; i < db->n_stmts; i++)
        sqlite3_finalize(db->stmts[i].st);
    db->n_stmts = 0;
    sqlite3_close(db->h);
    db->h = NULL;
}

void adc_store_free(struct adc_store *s) {
    if (!s)
        return;
    for (size_t i = 0; i < s->n_open; i++)
        db_close(&s->pool[i]);
    if (s->writer_db.h)
        db_close(&s->writer_db);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->freed);
    pthread_mutex_destroy(&s->writer);
    free(s->path);
    free(s);
}

struct adc_db *adc_store_acquire(struct adc_store *s) {
    pthread_mutex_lock(&s->lock);
    for (;;) {
        for (size_t i = 0; i < s->n_open; i++)
            if (!s->pool[i].in_use) {
                s->pool[i].in_use = true;
                pthread_mutex_unlock(&s->lock);
                return &s->pool[i];
            }
        if (s->n_open < POOL_SIZE) {
            struct adc_db *db = &s->pool[s->n_open];
            if (open_handle(s->path, false, &db->h) == 0) {
                db->store = s;
                db->in_use = true;
                s->n_open++;
                pthread_mutex_unlock(&s->lock);
                return db;
            }
            if (s->n_open == 0) {
                pthread_mutex_unlock(&s->lock);
                return NULL;
            }
        }
        pthread_cond_wait(&s->freed, &s->lock);
    }
}

struct adc_db *adc_store_acquire_writer(struct adc_store *s) {
    pthread_mutex_lock(&s->writer);
    struct adc_db *db = &s->writer_db;
    if (!db->h) {
        if (open_handle(s->path, false, &db->h) < 0) {
            pthread_mutex_unlock(&s->writer);
            return NULL;
        }
        db->store = s;
        db->dedicated_writer = true;
    }
    db->in_use = true;
    return db;
}

void adc_store_release(struct adc_db *db) {
    if (!db)
        return;
    struct adc_store *s = db->store;
    if (db->holds_writer_lock || !sqlite3_get_autocommit(db->h))
        adc_db_rollback(db); /* a handler returned inside a transaction: do not leak it */
    if (db->dedicated_writer) {
        db->in_use = false;
        pthread_mutex_unlock(&s->writer);
        return;
    }
    pthread_mutex_lock(&s->lock);
    db->in_use = false;
    pthread_cond_signal(&s->freed);
    pthread_mutex_unlock(&s->lock);
}

sqlite3 *adc_db_handle(struct adc_db *db) { return db->h; }

sqlite3_stmt *adc_db_stmt(struct adc_db *db, const char *sql) {
    for (size_t i = 0; i < db->n_stmts; i++)
        if (db->stmts[i].sql == sql) {
            sqlite3_reset(db->stmts[i].st);
            sqlite3_clear_bindings(db->stmts[i].st);
            return db->stmts[i].st;
        }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        log_error("database: cannot prepare statement: %s", sqlite3_errmsg(db->h));
        return NULL;
    }
    if (db->n_stmts == STMT_CACHE) {
        /* A programming error (more distinct statements than slots), not an input problem. */
        log_error("database: statement cache full; raise STMT_CACHE");
        sqlite3_finalize(st);
        return NULL;
    }
    db->stmts[db->n_stmts++] = (struct stmt_slot){sql, st};
    return st;
}

int adc_db_begin(struct adc_db *db, bool write) {
    if (write && !db->dedicated_writer) {
        pthread_mutex_lock(&db->store->writer);
        db->holds_writer_lock = true;
    }
    int rc = sqlite3_exec(db->h, write ? "BEGIN IMMEDIATE" : "BEGIN", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        if (db->holds_writer_lock) {
            db->holds_writer_lock = false;
            pthread_mutex_unlock(&db->store->writer);
        }
        return adc_db_errno(db, rc);
    }
    return 0;
}

static void drop_writer(struct adc_db *db) {
    if (db->holds_writer_lock) {
        db->holds_writer_lock = false;
        pthread_mutex_unlock(&db->store->writer);
    }
}

int adc_db_commit(struct adc_db *db) {
    int rc = sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        int r = adc_db_errno(db, rc);
        adc_db_rollback(db);
        return r;
    }
    drop_writer(db);
    return 0;
}

void adc_db_rollback(struct adc_db *db) {
    if (!sqlite3_get_autocommit(db->h))
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
    drop_writer(db);
}

int adc_db_bind_args(sqlite3_stmt *st, int first, const struct adc_sql_arg *args, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int rc = args[i].type == ADC_SQL_TEXT
                     ? sqlite3_bind_text(st, first + (int)i, args[i].text, -1, SQLITE_STATIC)
                     : sqlite3_bind_int64(st, first + (int)i, args[i].i);
        if (rc != SQLITE_OK)
            return -EINVAL;
    }
    return 0;
}

int adc_db_errno(struct adc_db *db, int rc) {
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT: return -EEXIST;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return -EBUSY;
    default:
        /* Disk full, I/O errors, a damaged or read-only file: the administrator needs the
         * cause, the client only gets "database error". */
        log_error("database: %s (%s)", sqlite3_errmsg(db->h), sqlite3_errstr(rc));
        return -EIO;
    }
}
