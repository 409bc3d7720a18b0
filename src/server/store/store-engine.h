/* The seam between the store interface (store.h) and an engine (store-sqlite.c,
 * store-postgresql.c). Only store.c and the engines include this. Each engine's store,
 * connection and statement structs start with the matching struct below, so store.c can find
 * the engine from any of them. */
#pragma once

#include "store/store.h"

struct adc_store_engine;

struct adc_store {
    const struct adc_store_engine *engine;
    const char *label; /* set by the engine's open */
};
struct adc_db {
    const struct adc_store_engine *engine;
};
struct adc_stmt {
    const struct adc_store_engine *engine;
};
struct adc_store_listener {
    const struct adc_store_engine *engine;
};

struct adc_store_engine {
    const char *name;
    enum adc_sql_dialect dialect;
    int (*open)(const char *target, bool create, struct adc_store **out);
    void (*free)(struct adc_store *s);
    struct adc_db *(*acquire)(struct adc_store *s, bool writer);
    void (*release)(struct adc_db *db);
    int (*begin)(struct adc_db *db, bool write);
    int (*commit)(struct adc_db *db);
    void (*rollback)(struct adc_db *db);
    /* cached: keyed by the sql pointer and kept with the connection. */
    struct adc_stmt *(*prepare)(struct adc_db *db, const char *sql, bool cached);
    void (*stmt_free)(struct adc_stmt *st);
    void (*reset)(struct adc_stmt *st);
    int (*bind_text)(struct adc_stmt *st, int i, const char *s);
    int (*bind_int)(struct adc_stmt *st, int i, int64_t v);
    /* 1 with a row, 0 when done, or a negative errno (-EEXIST, -EBUSY, -EIO). */
    int (*step)(struct adc_db *db, struct adc_stmt *st);
    const char *(*text)(struct adc_stmt *st, int col);
    int64_t (*integer)(struct adc_stmt *st, int col);
    int64_t (*changes)(struct adc_db *db);
    /* NULL: the engine hands keys back only by RETURNING. */
    int64_t (*last_insert_key)(struct adc_db *db);
    /* NULL: the engine has no cross-process notifications. */
    int (*listen)(struct adc_store *s, const char *channel, int interval_ms,
                  void (*cb)(void *ctx, const char *payload), void *ctx,
                  struct adc_store_listener **out);
    void (*listener_free)(struct adc_store_listener *l);
};

extern const struct adc_store_engine adc_store_sqlite;
extern const struct adc_store_engine adc_store_postgresql;

/* The migrations of each engine: steps[i] brings version i to version i+1 (store-schema.c). */
extern const char *const adc_schema_sqlite[];
extern const char *const adc_schema_postgresql[];
extern const int adc_schema_steps;

/* Counts a database error for adc_store_errors(). */
void adc_store_count_error(void);
