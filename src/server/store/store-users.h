/* Users in the store. The indexed attributes (userName, externalId, provider, active) have
 * columns; the whole SCIM resource minus id, meta and the provider extension is kept as JSON
 * text in `data`. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

struct adc_store_user {
    int64_t seq; /* insertion order: the stable order of listings */
    char id[40];
    char *user_name;
    char *external_id; /* may be NULL */
    char *provider;
    bool active;
    char *data; /* JSON object text */
    int64_t version;
    char created[24];
    char modified[24];
};

void adc_store_user_done(struct adc_store_user *u);

/* 0, -ENOENT, or -EIO. */
int adc_store_user_get(struct adc_db *db, const char *id, struct adc_store_user *out);
int adc_store_user_get_by_name(struct adc_db *db, const char *user_name,
                               struct adc_store_user *out);
/* Inserts u (id, created, modified and version set by the caller). -EEXIST: userName taken. */
int adc_store_user_insert(struct adc_db *db, struct adc_store_user *u);
/* Rewrites the user with u->id. -ENOENT, -EEXIST (new userName taken). */
int adc_store_user_update(struct adc_db *db, const struct adc_store_user *u);
int adc_store_user_delete(struct adc_db *db, const char *id);
/* Moves every user of provider `from` to `to`; returns the count or a negative errno. */
int adc_store_users_reassign(struct adc_db *db, const char *from, const char *to);

/* ---- The externalId index ----
 * externalIds arrive in random order (entryUUIDs, objectGUIDs), so an index on the column put
 * every create of a Bulk request on an index page of its own, and every commit wrote all of
 * those pages into the WAL: at 1,000,000 users, 40% of adc-server's CPU for a first import
 * (docs/BENCHMARKS.md). The index is instead a table of its own, user_external_ids(external_id,
 * seq), holding every user up to a mark (index_marks 'user_external_ids'). A create writes
 * nothing there: users above the mark are found by a range of seq, which the table's order
 * makes cheap. adc_store_users_settle moves them in, sorted, in one statement, once they are
 * half the settled ones: a batch then rewrites each index page about once, so the index costs
 * about 0.04 page a create whatever the number of users (linear, where a page a create grew
 * with the index). Updates and deletes keep the settled entries exact. Filters on externalId
 * read both parts (store-filter.c). The cost: a lookup also scans the users above the mark,
 * none once the server is idle (api/schedule.c settles them then), during an import at most a
 * third of the table (SETTLE_MAX rows at most). */

/* Settles the users above the mark when there are enough of them for the batch to pay off (an
 * half the settled ones, SETTLE_MIN..SETTLE_MAX), or any when `all` (the server is idle),
 * in a write transaction of its own: call it outside a transaction, on a connection that may
 * write. On PostgreSQL the transaction locks the users table against writers, so that no user
 * committed later below the mark is missed. Returns the number of users settled (0: none, or
 * not worth it yet) or a negative errno. */
int64_t adc_store_users_settle(struct adc_db *db, bool all);
/* How many users are above the mark (not settled yet), or a negative errno. */
int64_t adc_store_users_unsettled(struct adc_db *db);

/* Lists users matching `where` (SQL over the users table, may be NULL = all) in seq order:
 * those with seq > after_seq, skipping `offset` more, at most `limit`. Calls cb for each; a
 * negative return of cb stops and is returned. Returns the number listed. */
typedef int (*adc_store_user_cb)(const struct adc_store_user *u, void *ctx);
int adc_store_user_list(struct adc_db *db, const char *where, const struct adc_sql_arg *args,
                        size_t n_args, int64_t after_seq, int64_t offset, int64_t limit,
                        adc_store_user_cb cb, void *ctx);
/* Number of users matching where. */
int64_t adc_store_user_count(struct adc_db *db, const char *where, const struct adc_sql_arg *args,
                             size_t n_args);
