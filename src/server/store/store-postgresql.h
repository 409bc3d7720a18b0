/* What the PostgreSQL engine's files share (store-postgresql.c: the engine; store-postgresql-
 * listen.c: LISTEN/NOTIFY); internal to src/server/store. */
#pragma once

#include <libpq-fe.h>

#include "store/store-engine.h"

struct pg_store;

/* A new connection to the store's database; 0, or -EIO (logged). */
int adc_pg_connect(struct pg_store *s, PGconn **out);
/* Runs SQL text without parameters on c; 0, or -EIO (logged). */
int adc_pg_exec_simple(struct pg_store *s, PGconn *c, const char *sql);
/* "PostgreSQL database 'NAME' on HOST:PORT", for messages (never the password). */
const char *adc_pg_label(const struct pg_store *s);
/* The engine's listen and listener_free (store-engine.h). */
int adc_pg_listen(struct adc_store *base, const char *channel, int interval_ms,
                  void (*cb)(void *ctx, const char *payload), void *ctx,
                  struct adc_store_listener **out);
void adc_pg_listener_free(struct adc_store_listener *base);
