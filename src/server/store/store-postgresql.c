/* The PostgreSQL engine (libpq): `--db postgresql://user@host/dbname`. Several adc-server
 * instances may share one database. The same statements as SQLite run here: `?` and `?N`
 * placeholders become `$N`, and each statement is prepared once per connection.
 *
 * What keeps the behaviour the same as SQLite's:
 * - Write transactions are serialized, across every instance, by a transaction-scoped advisory
 *   lock (WRITE_LOCK) taken right after BEGIN: SQLite has one writer at a time too, and the
 *   read-check-write sequences of SCIM (ETag versions, unique userName, Bulk) rely on it. The
 *   cost: one writer at a time per database, as with SQLite; readers never wait.
 * - Read transactions are REPEATABLE READ: a count and the page listed after it see one
 *   snapshot, as in a SQLite read transaction.
 * - One difference stays: a failed statement aborts a PostgreSQL transaction, where SQLite only
 *   undoes the statement. A caller that goes on after a failure (Bulk, with the next
 *   operation) puts the attempt inside adc_db_savepoint()/adc_db_savepoint_end(), which both
 *   engines honour; every other caller rolls back after a failure anyway. (A savepoint around
 *   every statement here made a 20,000-user import three times slower.)
 * - Schema versions: the same steps as SQLite (store-schema.c), the version in the table
 *   adc_schema, migrations under MIGRATE_LOCK so that instances starting together migrate once.
 * A connection that breaks (a PostgreSQL restart) is reset when it is lent next; its prepared
 * statements are prepared again. libpq only notices a broken connection when a statement on it
 * fails, so when one breaks the idle others are marked suspect and each is tested with an empty
 * query (one round trip) before it is lent: a restart costs the requests that were running, not
 * one failed request per pooled connection afterwards. */
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/macros.h"
#include "store/store-engine.h"
#include "store/store-postgresql.h"

#define POOL_SIZE 8
#define STMT_CACHE 64
#define WRITE_LOCK 0x61646301   /* "adc" 1 */
#define MIGRATE_LOCK 0x61646302 /* "adc" 2 */

struct pg_stmt {
    struct adc_stmt base;
    struct pg_db *db;
    const char *key; /* the caller's sql pointer (cached statements) */
    char name[16];   /* prepared statement name; "" when run unprepared */
    char *sql;       /* translated to $N */
    int n_params;
    const char **values;
    char (*ints)[24];
    PGresult *res;
    int row, n_rows;
    bool executed;
};

struct pg_db {
    struct adc_db base;
    struct pg_store *store;
    PGconn *conn;
    bool in_use, in_tx;
    bool suspect; /* another connection broke while this one was idle: test it before lending */
    int64_t changes;
    struct pg_stmt *stmts[STMT_CACHE];
    size_t n_stmts;
    unsigned next_name;
};

/* The store (store-postgresql.h declares it for the listener). */
struct pg_store {
    struct adc_store base;
    char *uri;
    char label[200]; /* for messages: host, port and database, never the password */
    pthread_mutex_t lock;
    pthread_cond_t freed;
    struct pg_db pool[POOL_SIZE];
    size_t n_open;
};

#define PG_DB(db) ((struct pg_db *)(db))
#define PG_STMT(st) ((struct pg_stmt *)(st))

static void quiet_notices(void *arg, const char *message) {
    (void)arg;
    log_debug("postgresql: %s", message);
}

/* "database 'adc' on 127.0.0.1:5432" from a URI, without its password. */
static void make_label(const char *uri, char *out, size_t size) {
    PQconninfoOption *opts = PQconninfoParse(uri, NULL);
    const char *db = "", *host = "", *port = "";
    for (PQconninfoOption *o = opts; o && o->keyword; o++) {
        if (!o->val)
            continue;
        if (strcmp(o->keyword, "dbname") == 0)
            db = o->val;
        else if (strcmp(o->keyword, "host") == 0)
            host = o->val;
        else if (strcmp(o->keyword, "port") == 0)
            port = o->val;
    }
    snprintf(out, size, "PostgreSQL database '%s' on %s%s%s", db, *host ? host : "localhost",
             *port ? ":" : "", port);
    PQconninfoFree(opts);
}

const char *adc_pg_label(const struct pg_store *s) { return s->label; }

int adc_pg_connect(struct pg_store *s, PGconn **out) {
    PGconn *c = PQconnectdb(s->uri);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        log_error("cannot connect to the %s: %s", s->label,
                  c ? PQerrorMessage(c) : "out of memory");
        PQfinish(c);
        return -EIO;
    }
    PQsetNoticeProcessor(c, quiet_notices, NULL);
    *out = c;
    return 0;
}

/* Runs SQL text without parameters (several statements allowed). */
int adc_pg_exec_simple(struct pg_store *s, PGconn *c, const char *sql) {
    PGresult *res = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(res);
    int r = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        log_error("%s: %s", s->label, PQresultErrorMessage(res));
        r = -EIO;
    }
    PQclear(res);
    return r;
}

/* The schema version, 0 when the database has no adc-server schema yet; negative on error. */
static int schema_version(struct pg_store *s, PGconn *c) {
    PGresult *res = PQexec(c, "SELECT to_regclass('adc_schema') IS NOT NULL");
    int v = -EIO;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        bool exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
        PQclear(res);
        if (!exists)
            return 0;
        res = PQexec(c, "SELECT version FROM adc_schema");
        if (PQresultStatus(res) == PGRES_TUPLES_OK)
            v = PQntuples(res) == 1 ? atoi(PQgetvalue(res, 0, 0)) : 0;
    }
    if (v < 0)
        log_error("%s: cannot read the schema version: %s", s->label, PQresultErrorMessage(res));
    PQclear(res);
    return v;
}

static int migrate(struct pg_store *s, PGconn *c, bool create) {
    int target = adc_schema_steps;
    int v = schema_version(s, c);
    if (v < 0)
        return v;
    if (create && v > 0) {
        log_error("the %s holds an adc-server schema already; init creates a new one", s->label);
        return -EEXIST;
    }
    if (!create && v == 0) {
        log_error("the %s has no adc-server schema; create it with: adc-server --db URI init",
                  s->label);
        return -ENOENT;
    }
    if (v > target) {
        log_error("the %s has schema version %d; this adc-server knows up to %d: use a newer "
                  "adc-server",
                  s->label, v, target);
        return -EPROTO;
    }
    while (v < target) {
        char sql[160];
        /* The lock, then the version again: another instance may have migrated meanwhile.
         * Each step and its version bump commit together. */
        snprintf(sql, sizeof(sql),
                 "BEGIN; SELECT pg_advisory_xact_lock(%d);"
                 "CREATE TABLE IF NOT EXISTS adc_schema(version INTEGER NOT NULL)",
                 MIGRATE_LOCK);
        if (adc_pg_exec_simple(s, c, sql) < 0)
            goto fail;
        int now = schema_version(s, c);
        if (now < 0)
            goto fail;
        if (now != v) {
            adc_pg_exec_simple(s, c, "ROLLBACK");
            v = now;
            continue;
        }
        snprintf(sql, sizeof(sql),
                 "DELETE FROM adc_schema; INSERT INTO adc_schema(version) VALUES (%d)", v + 1);
        if (adc_pg_exec_simple(s, c, adc_schema_postgresql[v]) < 0 ||
            adc_pg_exec_simple(s, c, sql) < 0 || adc_pg_exec_simple(s, c, "COMMIT") < 0)
            goto fail;
        v++;
        log_debug("%s migrated to schema version %d", s->label, v);
    }
    return 0;
fail:
    adc_pg_exec_simple(s, c, "ROLLBACK");
    return -EIO;
}

static void pg_free(struct adc_store *base);

static int pg_open(const char *uri, bool create, struct adc_store **out) {
    struct pg_store *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->base.engine = &adc_store_postgresql;
    s->uri = strdup(uri);
    make_label(uri, s->label, sizeof(s->label));
    s->base.label = s->label;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->freed, NULL);
    PGconn *c = NULL;
    int r = s->uri ? adc_pg_connect(s, &c) : -ENOMEM;
    if (r == 0)
        r = migrate(s, c, create);
    if (r < 0) {
        PQfinish(c);
        pg_free(&s->base);
        return r;
    }
    s->pool[0] = (struct pg_db){.base.engine = &adc_store_postgresql, .store = s, .conn = c};
    s->n_open = 1;
    *out = &s->base;
    return 0;
}

static void stmt_destroy(struct pg_stmt *st) {
    PQclear(st->res);
    free(st->sql);
    free(st->values);
    free(st->ints);
    free(st);
}

/* Forgets the prepared statements (the server forgot them with the old connection). */
static void drop_stmts(struct pg_db *db) {
    for (size_t i = 0; i < db->n_stmts; i++)
        stmt_destroy(db->stmts[i]);
    db->n_stmts = 0;
}

static void pg_free(struct adc_store *base) {
    struct pg_store *s = (struct pg_store *)base;
    for (size_t i = 0; i < s->n_open; i++) {
        drop_stmts(&s->pool[i]);
        PQfinish(s->pool[i].conn);
    }
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->freed);
    if (s->uri)
        explicit_bzero(s->uri, strlen(s->uri)); /* it may hold a password */
    free(s->uri);
    free(s);
}

/* One connection broke: the server restarted or the network dropped, so the idle ones are
 * probably broken too (healthy() tests them before they are lent). */
static void suspect_idle(struct pg_store *s) {
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n_open; i++)
        if (!s->pool[i].in_use)
            s->pool[i].suspect = true;
    pthread_mutex_unlock(&s->lock);
}

/* Does a suspect connection still answer? An empty query costs one round trip. */
static bool answers(struct pg_db *db) {
    PGresult *res = PQexec(db->conn, "");
    bool ok = PQresultStatus(res) == PGRES_EMPTY_QUERY;
    PQclear(res);
    return ok && PQstatus(db->conn) == CONNECTION_OK;
}

/* A broken connection (PostgreSQL restarted, network) is reset before it is lent again. */
static bool healthy(struct pg_db *db) {
    bool suspect = db->suspect;
    db->suspect = false;
    if (PQstatus(db->conn) == CONNECTION_OK && (!suspect || answers(db)))
        return true;
    drop_stmts(db);
    PQreset(db->conn);
    if (PQstatus(db->conn) != CONNECTION_OK) {
        log_error("cannot connect to the %s again: %s", db->store->label, PQerrorMessage(db->conn));
        adc_store_count_error();
        return false;
    }
    log_notice("connected to the %s again", db->store->label);
    return true;
}

static struct adc_db *pg_acquire(struct adc_store *base, bool writer) {
    (void)writer; /* write transactions lock in BEGIN (pg_begin) */
    struct pg_store *s = (struct pg_store *)base;
    struct pg_db *db = NULL;
    pthread_mutex_lock(&s->lock);
    while (!db) {
        for (size_t i = 0; i < s->n_open && !db; i++)
            if (!s->pool[i].in_use)
                db = &s->pool[i];
        if (!db && s->n_open < POOL_SIZE) {
            PGconn *c;
            if (adc_pg_connect(s, &c) == 0) {
                db = &s->pool[s->n_open++];
                *db = (struct pg_db){.base.engine = &adc_store_postgresql, .store = s, .conn = c};
            }
        }
        if (!db)
            pthread_cond_wait(&s->freed, &s->lock);
    }
    db->in_use = true;
    pthread_mutex_unlock(&s->lock);
    if (!healthy(db)) {
        pthread_mutex_lock(&s->lock);
        db->in_use = false;
        pthread_cond_signal(&s->freed);
        pthread_mutex_unlock(&s->lock);
        return NULL;
    }
    return &db->base;
}

static int sqlstate_errno(struct pg_db *db, PGresult *res) {
    if (PQstatus(db->conn) != CONNECTION_OK)
        suspect_idle(db->store);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (state && strncmp(state, "23", 2) == 0) /* integrity constraint violation */
        return -EEXIST;
    if (state &&
        (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0))
        return -EBUSY;
    /* The administrator needs the cause; the client only gets "database error". */
    log_error("%s: %s", db->store->label,
              res ? PQresultErrorMessage(res) : PQerrorMessage(db->conn));
    adc_store_count_error();
    return -EIO;
}

static int run_simple(struct pg_db *db, const char *sql) {
    PGresult *res = PQexec(db->conn, sql);
    ExecStatusType st = PQresultStatus(res);
    int r = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : sqlstate_errno(db, res);
    PQclear(res);
    return r;
}

static void pg_rollback(struct adc_db *base) {
    struct pg_db *db = PG_DB(base);
    if (db->in_tx)
        run_simple(db, "ROLLBACK");
    db->in_tx = false;
}

static void pg_release(struct adc_db *base) {
    struct pg_db *db = PG_DB(base);
    struct pg_store *s = db->store;
    if (db->in_tx)
        pg_rollback(base); /* a handler returned inside a transaction: do not leak it */
    for (size_t i = 0; i < db->n_stmts; i++) {
        PQclear(db->stmts[i]->res); /* results of statements left unreset */
        db->stmts[i]->res = NULL;
        db->stmts[i]->executed = false;
    }
    pthread_mutex_lock(&s->lock);
    db->in_use = false;
    pthread_cond_signal(&s->freed);
    pthread_mutex_unlock(&s->lock);
}

static int pg_begin(struct adc_db *base, bool write) {
    struct pg_db *db = PG_DB(base);
    char sql[120];
    if (write)
        snprintf(sql, sizeof(sql), "BEGIN; SELECT pg_advisory_xact_lock(%d)", WRITE_LOCK);
    else
        snprintf(sql, sizeof(sql), "BEGIN ISOLATION LEVEL REPEATABLE READ");
    int r = run_simple(db, sql);
    if (r < 0) {
        run_simple(db, "ROLLBACK");
        return r;
    }
    db->in_tx = true;
    return 0;
}

static int pg_commit(struct adc_db *base) {
    struct pg_db *db = PG_DB(base);
    int r = run_simple(db, "COMMIT");
    db->in_tx = false;
    return r;
}

/* `?` and `?N` outside string literals become `$N`; returns the number of parameters. */
static int translate(const char *sql, struct adc_buf *out) {
    int next = 0, max = 0;
    bool quoted = false;
    for (const char *p = sql; *p; p++) {
        if (*p == '\'')
            quoted = !quoted;
        if (*p != '?' || quoted) {
            adc_buf_append(out, p, 1);
            continue;
        }
        int n;
        if (p[1] >= '0' && p[1] <= '9') {
            char *end;
            n = (int)strtol(p + 1, &end, 10);
            p = end - 1;
        } else {
            n = ++next;
        }
        if (n > next)
            next = n;
        if (n > max)
            max = n;
        adc_buf_printf(out, "$%d", n);
    }
    return max;
}

static struct adc_stmt *pg_prepare(struct adc_db *base, const char *sql, bool cached) {
    struct pg_db *db = PG_DB(base);
    if (cached)
        for (size_t i = 0; i < db->n_stmts; i++)
            if (db->stmts[i]->key == sql) {
                struct pg_stmt *st = db->stmts[i];
                PQclear(st->res);
                st->res = NULL;
                st->executed = false;
                memset(st->values, 0, (size_t)st->n_params * sizeof(*st->values));
                return &st->base;
            }
    if (cached && db->n_stmts == STMT_CACHE) {
        log_error("database: statement cache full; raise STMT_CACHE");
        return NULL;
    }
    struct pg_stmt *st = calloc(1, sizeof(*st));
    struct adc_buf text;
    adc_buf_init(&text, 0);
    if (!st)
        return NULL;
    st->base.engine = &adc_store_postgresql;
    st->db = db;
    st->key = sql;
    st->n_params = translate(sql, &text);
    st->sql = adc_buf_take(&text, NULL);
    st->values = calloc((size_t)st->n_params + 1, sizeof(*st->values));
    st->ints = calloc((size_t)st->n_params + 1, sizeof(*st->ints));
    if (!st->sql || !st->values || !st->ints)
        goto fail;
    if (cached) {
        snprintf(st->name, sizeof(st->name), "adc%u", db->next_name++);
        PGresult *res = PQprepare(db->conn, st->name, st->sql, st->n_params, NULL);
        bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        if (!ok && PQstatus(db->conn) != CONNECTION_OK)
            suspect_idle(db->store);
        if (!ok)
            log_error("%s: cannot prepare statement: %s", db->store->label,
                      PQresultErrorMessage(res));
        PQclear(res);
        if (!ok)
            goto fail;
        db->stmts[db->n_stmts++] = st;
    }
    return &st->base;
fail:
    stmt_destroy(st);
    return NULL;
}

static void pg_stmt_free(struct adc_stmt *base) { stmt_destroy(PG_STMT(base)); }

static void pg_reset(struct adc_stmt *base) {
    struct pg_stmt *st = PG_STMT(base);
    PQclear(st->res);
    st->res = NULL;
    st->executed = false;
}

static int pg_bind_text(struct adc_stmt *base, int i, const char *s) {
    struct pg_stmt *st = PG_STMT(base);
    if (i < 1 || i > st->n_params)
        return -EINVAL;
    st->values[i - 1] = s;
    return 0;
}

static int pg_bind_int(struct adc_stmt *base, int i, int64_t v) {
    struct pg_stmt *st = PG_STMT(base);
    if (i < 1 || i > st->n_params)
        return -EINVAL;
    snprintf(st->ints[i - 1], sizeof(st->ints[0]), "%lld", (long long)v);
    st->values[i - 1] = st->ints[i - 1];
    return 0;
}

static PGresult *execute(struct pg_db *db, struct pg_stmt *st) {
    if (st->name[0])
        return PQexecPrepared(db->conn, st->name, st->n_params, st->values, NULL, NULL, 0);
    return PQexecParams(db->conn, st->sql, st->n_params, NULL, st->values, NULL, NULL, 0);
}

static int pg_step(struct adc_db *base, struct adc_stmt *sbase) {
    struct pg_db *db = PG_DB(base);
    struct pg_stmt *st = PG_STMT(sbase);
    if (!st->executed) {
        PGresult *res = execute(db, st);
        ExecStatusType status = PQresultStatus(res);
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
            int r = sqlstate_errno(db, res);
            PQclear(res);
            return r;
        }
        const char *n = PQcmdTuples(res);
        db->changes = n && *n ? strtoll(n, NULL, 10) : 0;
        st->res = res;
        st->n_rows = status == PGRES_TUPLES_OK ? PQntuples(res) : 0;
        st->row = -1;
        st->executed = true;
    }
    if (st->row + 1 < st->n_rows) {
        st->row++;
        return 1;
    }
    return 0;
}

static const char *pg_text(struct adc_stmt *base, int col) {
    struct pg_stmt *st = PG_STMT(base);
    if (!st->res || st->row < 0 || st->row >= st->n_rows || PQgetisnull(st->res, st->row, col))
        return NULL;
    return PQgetvalue(st->res, st->row, col);
}

static int64_t pg_integer(struct adc_stmt *base, int col) {
    const char *t = pg_text(base, col);
    if (!t)
        return 0;
    if (strcmp(t, "t") == 0) /* a boolean expression */
        return 1;
    return strtoll(t, NULL, 10);
}

static int64_t pg_changes(struct adc_db *db) { return PG_DB(db)->changes; }

const struct adc_store_engine adc_store_postgresql = {
    .name = "postgresql",
    .dialect = ADC_SQL_POSTGRESQL,
    .open = pg_open,
    .free = pg_free,
    .acquire = pg_acquire,
    .release = pg_release,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .prepare = pg_prepare,
    .stmt_free = pg_stmt_free,
    .reset = pg_reset,
    .bind_text = pg_bind_text,
    .bind_int = pg_bind_int,
    .step = pg_step,
    .text = pg_text,
    .integer = pg_integer,
    .changes = pg_changes,
    .listen = adc_pg_listen,
    .listener_free = adc_pg_listener_free,
};
