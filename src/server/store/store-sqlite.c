/* The SQLite engine: one database file in WAL mode, a schema version (PRAGMA user_version) with
 * migrations (store-schema.c), and a small pool of connections shared by the request threads. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macros.h"
#include "store/store-engine.h"

#define POOL_SIZE 8
#define STMT_CACHE 64

struct lite_stmt {
    struct adc_stmt base;
    sqlite3_stmt *st;
};

struct stmt_slot {
    const char *sql;
    struct lite_stmt *st;
};

struct lite_db {
    struct adc_db base;
    struct lite_store *store;
    sqlite3 *h;
    bool in_use;
    bool holds_writer_lock;
    bool dedicated_writer; /* the store's writer_db: the writer mutex is held while lent */
    struct stmt_slot stmts[STMT_CACHE];
    size_t n_stmts;
};

/* The WAL's checkpoints, on a thread of their own (see checkpointer()). */
struct checkpointer {
    pthread_t thread;
    bool started;
    sqlite3 *h;           /* its own connection */
    pthread_mutex_t lock; /* guards stop and the wait */
    pthread_cond_t wake;
    bool stop;
    atomic_bool wanted;  /* the WAL passed its threshold: a busy round is due */
    atomic_int frames;   /* the WAL's size in frames after the latest commit */
    int limit;           /* the threshold in frames: ckpt_bytes in the database's pages */
    atomic_uint commits; /* commits seen, to tell an idle database */
};

struct lite_store {
    struct adc_store base;
    char *path;
    pthread_mutex_t lock; /* guards the pool */
    pthread_cond_t freed;
    pthread_mutex_t writer;
    struct lite_db pool[POOL_SIZE];
    size_t n_open;
    /* The connection acquire(writer=true) lends. In WAL mode a connection empties its whole
     * page cache when it finds that another connection committed, so write transactions that
     * take turns on two pooled connections each start cold and read the indexes again from
     * the file: SCIM writes go through this one connection, which keeps them warm. */
    struct lite_db writer_db;
    struct checkpointer ckpt;
};

/* The WAL is checkpointed (its pages copied into the database file) once it holds this many
 * bytes of frames, and truncated after this long without a commit. The tests lower them
 * (adc_store_sqlite_tune). */
static atomic_int ckpt_bytes = 64 << 20;
static atomic_int ckpt_idle_ms = 1000;

void adc_store_sqlite_tune(int checkpoint_bytes, int idle_ms) {
    atomic_store(&ckpt_bytes, checkpoint_bytes);
    atomic_store(&ckpt_idle_ms, idle_ms);
}

#define LITE_DB(db) ((struct lite_db *)(db))
#define LITE_STMT(st) (((struct lite_stmt *)(st))->st)

static int lite_errno(struct lite_db *db, int rc) {
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT: return -EEXIST;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return -EBUSY;
    default:
        /* Disk full, I/O errors, a damaged or read-only file: the administrator needs the
         * cause, the client only gets "database error". */
        log_error("database: %s (%s)", sqlite3_errmsg(db->h), sqlite3_errstr(rc));
        adc_store_count_error();
        return -EIO;
    }
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
     * No automatic checkpoint: SQLite runs it inside the COMMIT that passes the size, with the
     * write lock held, so one Bulk in about fifteen waited for 64 MB to be copied and synced
     * while the other requests' writes queued behind it. The store's checkpointer thread does
     * it instead (wal_hook tells it the WAL's size; see checkpointer()).
     * journal_size_limit gives the disk back when the WAL starts over.
     * page_size (16 KiB, for a new database only: an existing one keeps its own) quarters the
     * pages a Bulk request's commit writes into the WAL and the checkpointer copies back, and
     * their system calls: a first import of 1,000,000 users through Bulk took 13.7 us of
     * adc-server's CPU a create against 16.8 with SQLite's 4 KiB (docs/BENCHMARKS.md). It must
     * come before journal_mode: a WAL database cannot change its page size. */
    if (exec(h,
             "PRAGMA page_size=16384; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA "
             "foreign_keys=ON;"
             "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-32768;"
             "PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit=67108864;",
             path) < 0) {
        sqlite3_close(h);
        return -EIO;
    }
    *out = h;
    return 0;
}

/* After each commit, on the committing thread (SQLite holds the write lock): records the WAL's
 * size and wakes the checkpointer when it passed its limit. A few atomics; the lock and the
 * signal only once per round. */
static int wal_hook(void *ctx, sqlite3 *h, const char *db_name, int frames) {
    (void)h;
    (void)db_name;
    struct checkpointer *c = ctx;
    atomic_store_explicit(&c->frames, frames, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->commits, 1, memory_order_relaxed);
    if (frames >= c->limit && !atomic_exchange(&c->wanted, true)) {
        pthread_mutex_lock(&c->lock);
        pthread_cond_signal(&c->wake);
        pthread_mutex_unlock(&c->lock);
    }
    return SQLITE_OK;
}

/* open_handle for a connection of store s: its commits report to s's checkpointer. */
static int open_store_handle(struct lite_store *s, bool create, sqlite3 **out) {
    int r = open_handle(s->path, create, out);
    if (r == 0)
        sqlite3_wal_hook(*out, wal_hook, &s->ckpt);
    return r;
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
    int target = adc_schema_steps;
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
        if (exec(h, adc_schema_sqlite[v], path) < 0 || exec(h, pragma, path) < 0) {
            sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
            return -EIO;
        }
        if (exec(h, "COMMIT", path) < 0)
            return -EIO;
        log_debug("database '%s' migrated to schema version %d", path, v + 1);
    }
    return 0;
}

static void lite_free(struct adc_store *base);

static double mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A busy round: the WAL passed its limit; returns whether the WAL starts over. A PASSIVE
 * checkpoint copies what it can without waiting for anyone (readers and writers go on). SQLite
 * starts the WAL over from its beginning only when a write transaction begins with every frame
 * in the database and no reader still in the WAL, which a steady stream of writes never allows
 * (each commit adds frames during the copy, and readers come and go): so the frames written
 * meanwhile are copied by a RESTART with the writers held off at the store's writer mutex.
 * That is a short wait instead of the whole copy (and never a SQLITE_BUSY: the writers wait on
 * the mutex), plus the readers older than the copy finishing (at most 100 ms, the busy_timeout
 * of this connection; a RESTART given up is tried at the next round). The WAL stays about
 * limit long. */
static bool checkpoint_busy(struct lite_store *s) {
    struct checkpointer *c = &s->ckpt;
    int wal = 0, copied = 0;
    int rc = sqlite3_wal_checkpoint_v2(c->h, NULL, SQLITE_CHECKPOINT_PASSIVE, &wal, &copied);
    if (rc == SQLITE_OK) {
        pthread_mutex_lock(&s->writer);
        rc = sqlite3_wal_checkpoint_v2(c->h, NULL, SQLITE_CHECKPOINT_RESTART, &wal, &copied);
        pthread_mutex_unlock(&s->writer);
    }
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
        log_warning("database '%s': checkpoint: %s", s->path, sqlite3_errmsg(c->h));
    log_debug("database '%s': checkpoint: %d of %d WAL frames in the database%s", s->path, copied,
              wal, rc == SQLITE_OK ? ", starts over" : "");
    return rc == SQLITE_OK;
}

/* An idle round: no commit for ckpt_idle_ms. TRUNCATE copies the rest and empties the WAL
 * file, so an idle server holds no WAL and a restart reads none. It needs a moment without
 * writers and waits for readers: taken only when the writer mutex is free, holding it (writers
 * wait there, not in SQLite), and given up after 100 ms of readers (busy_timeout of this
 * connection) to be tried again after another quiet period. Returns whether the WAL is empty. */
static bool checkpoint_idle(struct lite_store *s) {
    struct checkpointer *c = &s->ckpt;
    if (pthread_mutex_trylock(&s->writer) != 0)
        return false;
    int rc = sqlite3_wal_checkpoint_v2(c->h, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    pthread_mutex_unlock(&s->writer);
    if (rc == SQLITE_OK) {
        atomic_store(&c->frames, 0);
        return true;
    }
    if (rc != SQLITE_BUSY)
        log_warning("database '%s': checkpoint: %s", s->path, sqlite3_errmsg(c->h));
    return false;
}

/* The checkpointer: the only one that checkpoints the WAL while the store is open (each
 * connection has wal_autocheckpoint=0). Its CPU is still the server's, but it runs beside the
 * writes instead of inside one of them; on PostgreSQL the server does this itself. */
static void *checkpointer(void *arg) {
    struct lite_store *s = arg;
    struct checkpointer *c = &s->ckpt;
    unsigned seen = atomic_load(&c->commits);
    double quiet_since = mono_ms(), last_round = 0;
    bool empty = false; /* the WAL was emptied and nothing was committed since */
    bool held_back = false;
    pthread_mutex_lock(&c->lock);
    while (!c->stop) {
        if (atomic_load(&c->wanted)) {
            pthread_mutex_unlock(&c->lock);
            /* A reader that keeps an old snapshot holds the WAL back, and each commit then
             * asks again: after a round that could not copy everything, the next one waits
             * 100 ms. */
            double since = mono_ms() - last_round;
            if (held_back && since < 100)
                usleep((useconds_t)((100 - since) * 1000));
            atomic_store(&c->wanted, false);
            /* Commits during the last round ask again; the WAL may have started over since. */
            if (atomic_load(&c->frames) >= c->limit) {
                held_back = !checkpoint_busy(s);
                last_round = mono_ms();
            }
            pthread_mutex_lock(&c->lock);
            continue;
        }
        int idle_ms = atomic_load(&ckpt_idle_ms);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        long wait_ns = (long)(idle_ms / 4 + 1) * 1000000L;
        until.tv_sec += wait_ns / 1000000000L;
        until.tv_nsec += wait_ns % 1000000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&c->wake, &c->lock, &until);
        if (c->stop || atomic_load(&c->wanted))
            continue;
        unsigned n = atomic_load(&c->commits);
        double now = mono_ms();
        if (n != seen) {
            seen = n;
            quiet_since = now;
            empty = false;
            continue;
        }
        if (empty || now - quiet_since < idle_ms)
            continue;
        pthread_mutex_unlock(&c->lock);
        empty = checkpoint_idle(s);
        if (!empty)
            quiet_since = mono_ms(); /* busy readers: again after another quiet period */
        pthread_mutex_lock(&c->lock);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* Opens the checkpointer's connection and starts it; 0 or a negative errno. */
static int checkpointer_start(struct lite_store *s) {
    struct checkpointer *c = &s->ckpt;
    int r = open_handle(s->path, false, &c->h);
    if (r < 0)
        return r;
    sqlite3_busy_timeout(c->h, 100); /* see checkpoint_idle */
    /* The page size is the database's (16 KiB when adc-server made it, 4 KiB before). */
    sqlite3_stmt *st = NULL;
    int page = 4096;
    if (sqlite3_prepare_v2(c->h, "PRAGMA page_size", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) > 0)
        page = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    c->limit = atomic_load(&ckpt_bytes) / page;
    if (c->limit < 1)
        c->limit = 1;
    r = -pthread_create(&c->thread, NULL, checkpointer, s);
    if (r < 0) {
        log_error("database '%s': cannot start the checkpointer thread", s->path);
        return r;
    }
    c->started = true;
    return 0;
}

static void checkpointer_stop(struct lite_store *s) {
    struct checkpointer *c = &s->ckpt;
    if (c->started) {
        pthread_mutex_lock(&c->lock);
        c->stop = true;
        pthread_cond_signal(&c->wake);
        pthread_mutex_unlock(&c->lock);
        pthread_join(c->thread, NULL);
        c->started = false;
    }
    if (c->h)
        sqlite3_close(c->h);
    c->h = NULL;
}

static void db_init(struct lite_db *db, struct lite_store *s, sqlite3 *h) {
    db->base.engine = &adc_store_sqlite;
    db->store = s;
    db->h = h;
}

/* SQLite counts every allocation of the library for sqlite3_memory_used (unused here) under
 * one global mutex: its lock and unlock were 6.4% of the server's CPU samples in a first
 * import, 0.5% without (docs/BENCHMARKS.md, issue 21). Must come before the library's first
 * use; the library's own limits (sqlite3_soft_heap_limit64) would need it, none is set. */
static void lite_configure(void) { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }

static int lite_open(const char *path, bool create, struct adc_store **out) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, lite_configure);
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
    struct lite_store *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->base.engine = &adc_store_sqlite;
    s->path = strdup(path);
    s->base.label = s->path;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->freed, NULL);
    pthread_mutex_init(&s->writer, NULL);
    pthread_mutex_init(&s->ckpt.lock, NULL);
    pthread_cond_init(&s->ckpt.wake, NULL);
    s->ckpt.limit = INT_MAX; /* until checkpointer_start knows the page size */
    int r;
    sqlite3 *h = NULL;
    if (create) {
        /* The database holds hashes only, but still: nobody else needs to read it. */
        mode_t old = umask(077);
        r = open_store_handle(s, true, &h);
        umask(old);
    } else {
        r = open_store_handle(s, false, &h);
    }
    if (r < 0)
        goto fail;
    r = migrate(h, path);
    if (r < 0) {
        sqlite3_close(h);
        goto fail;
    }
    db_init(&s->pool[0], s, h);
    s->n_open = 1;
    r = checkpointer_start(s);
    if (r < 0)
        goto fail;
    *out = &s->base;
    return 0;
fail:
    lite_free(&s->base);
    return r;
}

static void db_close(struct lite_db *db) {
    for (size_t i = 0; i < db->n_stmts; i++) {
        sqlite3_finalize(db->stmts[i].st->st);
        free(db->stmts[i].st);
    }
    db->n_stmts = 0;
    sqlite3_close(db->h);
    db->h = NULL;
}

static void lite_free(struct adc_store *base) {
    struct lite_store *s = (struct lite_store *)base;
    checkpointer_stop(s);
    for (size_t i = 0; i < s->n_open; i++)
        db_close(&s->pool[i]);
    if (s->writer_db.h)
        db_close(&s->writer_db);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->freed);
    pthread_mutex_destroy(&s->writer);
    pthread_mutex_destroy(&s->ckpt.lock);
    pthread_cond_destroy(&s->ckpt.wake);
    free(s->path);
    free(s);
}

static struct adc_db *acquire_pooled(struct lite_store *s) {
    pthread_mutex_lock(&s->lock);
    for (;;) {
        for (size_t i = 0; i < s->n_open; i++)
            if (!s->pool[i].in_use) {
                s->pool[i].in_use = true;
                pthread_mutex_unlock(&s->lock);
                return &s->pool[i].base;
            }
        if (s->n_open < POOL_SIZE) {
            struct lite_db *db = &s->pool[s->n_open];
            sqlite3 *h;
            if (open_store_handle(s, false, &h) == 0) {
                db_init(db, s, h);
                db->in_use = true;
                s->n_open++;
                pthread_mutex_unlock(&s->lock);
                return &db->base;
            }
            if (s->n_open == 0) {
                pthread_mutex_unlock(&s->lock);
                return NULL;
            }
        }
        pthread_cond_wait(&s->freed, &s->lock);
    }
}

static struct adc_db *lite_acquire(struct adc_store *base, bool writer) {
    struct lite_store *s = (struct lite_store *)base;
    if (!writer)
        return acquire_pooled(s);
    pthread_mutex_lock(&s->writer);
    struct lite_db *db = &s->writer_db;
    if (!db->h) {
        sqlite3 *h;
        if (open_store_handle(s, false, &h) < 0) {
            pthread_mutex_unlock(&s->writer);
            return NULL;
        }
        db_init(db, s, h);
        db->dedicated_writer = true;
    }
    db->in_use = true;
    return &db->base;
}

static void drop_writer(struct lite_db *db) {
    if (db->holds_writer_lock) {
        db->holds_writer_lock = false;
        pthread_mutex_unlock(&db->store->writer);
    }
}

static void lite_rollback(struct adc_db *base) {
    struct lite_db *db = LITE_DB(base);
    if (!sqlite3_get_autocommit(db->h))
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
    drop_writer(db);
}

static void lite_release(struct adc_db *base) {
    struct lite_db *db = LITE_DB(base);
    struct lite_store *s = db->store;
    if (db->holds_writer_lock || !sqlite3_get_autocommit(db->h))
        lite_rollback(base); /* a handler returned inside a transaction: do not leak it */
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

static int lite_begin(struct adc_db *base, bool write) {
    struct lite_db *db = LITE_DB(base);
    if (write && !db->dedicated_writer) {
        pthread_mutex_lock(&db->store->writer);
        db->holds_writer_lock = true;
    }
    int rc = sqlite3_exec(db->h, write ? "BEGIN IMMEDIATE" : "BEGIN", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        drop_writer(db);
        return lite_errno(db, rc);
    }
    return 0;
}

static int lite_commit(struct adc_db *base) {
    struct lite_db *db = LITE_DB(base);
    int rc = sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        int r = lite_errno(db, rc);
        lite_rollback(base);
        return r;
    }
    drop_writer(db);
    return 0;
}

static struct adc_stmt *lite_prepare(struct adc_db *base, const char *sql, bool cached) {
    struct lite_db *db = LITE_DB(base);
    if (cached)
        for (size_t i = 0; i < db->n_stmts; i++)
            if (db->stmts[i].sql == sql) {
                sqlite3_reset(db->stmts[i].st->st);
                sqlite3_clear_bindings(db->stmts[i].st->st);
                return &db->stmts[i].st->base;
            }
    if (cached && db->n_stmts == STMT_CACHE) {
        /* A programming error (more distinct statements than slots), not an input problem. */
        log_error("database: statement cache full; raise STMT_CACHE");
        return NULL;
    }
    struct lite_stmt *ls = calloc(1, sizeof(*ls));
    if (!ls)
        return NULL;
    ls->base.engine = &adc_store_sqlite;
    if (sqlite3_prepare_v3(db->h, sql, -1, cached ? SQLITE_PREPARE_PERSISTENT : 0, &ls->st, NULL) !=
        SQLITE_OK) {
        if (cached)
            log_error("database: cannot prepare statement: %s", sqlite3_errmsg(db->h));
        else /* built from a client's filter: not worth an error line */
            log_debug("database: %s in '%s'", sqlite3_errmsg(db->h), sql);
        free(ls);
        return NULL;
    }
    if (cached)
        db->stmts[db->n_stmts++] = (struct stmt_slot){sql, ls};
    return &ls->base;
}

static void lite_stmt_free(struct adc_stmt *st) {
    sqlite3_finalize(LITE_STMT(st));
    free(st);
}

static void lite_reset(struct adc_stmt *st) { sqlite3_reset(LITE_STMT(st)); }

static int lite_bind_text(struct adc_stmt *st, int i, const char *s) {
    int rc = s ? sqlite3_bind_text(LITE_STMT(st), i, s, -1, SQLITE_STATIC)
               : sqlite3_bind_null(LITE_STMT(st), i);
    return rc == SQLITE_OK ? 0 : -EINVAL;
}

static int lite_bind_int(struct adc_stmt *st, int i, int64_t v) {
    return sqlite3_bind_int64(LITE_STMT(st), i, v) == SQLITE_OK ? 0 : -EINVAL;
}

static int lite_step(struct adc_db *db, struct adc_stmt *st) {
    int rc = sqlite3_step(LITE_STMT(st));
    if (rc == SQLITE_ROW)
        return 1;
    return rc == SQLITE_DONE ? 0 : lite_errno(LITE_DB(db), rc);
}

static const char *lite_text(struct adc_stmt *st, int col) {
    return (const char *)sqlite3_column_text(LITE_STMT(st), col);
}

static int64_t lite_integer(struct adc_stmt *st, int col) {
    return sqlite3_column_int64(LITE_STMT(st), col);
}

static int64_t lite_changes(struct adc_db *db) { return sqlite3_changes(LITE_DB(db)->h); }

static int64_t lite_last_insert_key(struct adc_db *db) {
    return sqlite3_last_insert_rowid(LITE_DB(db)->h);
}

const struct adc_store_engine adc_store_sqlite = {
    .name = "sqlite",
    .dialect = ADC_SQL_SQLITE,
    .open = lite_open,
    .free = lite_free,
    .acquire = lite_acquire,
    .release = lite_release,
    .begin = lite_begin,
    .commit = lite_commit,
    .rollback = lite_rollback,
    .prepare = lite_prepare,
    .stmt_free = lite_stmt_free,
    .reset = lite_reset,
    .bind_text = lite_bind_text,
    .bind_int = lite_bind_int,
    .step = lite_step,
    .text = lite_text,
    .integer = lite_integer,
    .changes = lite_changes,
    .last_insert_key = lite_last_insert_key,
};
