/* SCIM filters come from the network (GET /scim/v2/Users?filter=..., /Groups?filter=...) and
 * from PATCH paths (members[...] of a group).
 * Whatever the bytes: no crash, no leak; a parsed filter either translates to SQL that SQLite
 * accepts with its bound values, or is refused with a reason; evaluation on JSON terminates. */
#include <errno.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scim/scim-filter.h"
#include "store/store-filter.h"

/* Binds a filter's values to a raw SQLite statement (the store's own binding needs a store
 * connection; these tests run the generated SQL on a bare in-memory database). */
static int bind_args(sqlite3_stmt *st, int first, const struct adc_sql_arg *args, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int rc = args[i].type == ADC_SQL_TEXT
                     ? sqlite3_bind_text(st, first + (int)i, args[i].text, -1, SQLITE_STATIC)
                     : sqlite3_bind_int64(st, first + (int)i, args[i].i);
        if (rc != SQLITE_OK)
            return -EINVAL;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sqlite3 *db;

static void open_db(void) {
    if (db)
        return;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK ||
        sqlite3_exec(db,
                     "CREATE TABLE users(seq INTEGER PRIMARY KEY, id TEXT, user_name TEXT "
                     "COLLATE NOCASE, external_id TEXT, provider TEXT, active INTEGER, data TEXT,"
                     " created TEXT, modified TEXT);"
                     "INSERT INTO users VALUES(1,'i','Ann','e','local',1,"
                     "'{\"emails\":[{\"value\":\"a@b\",\"type\":\"work\"}],\"name\":{}}','','');"
                     /* users' externalId index (store-users.h) */
                     "CREATE TABLE user_external_ids(external_id TEXT NOT NULL, seq INTEGER "
                     "NOT NULL, PRIMARY KEY(external_id, seq)) WITHOUT ROWID;"
                     "CREATE TABLE index_marks(name TEXT PRIMARY KEY, seq INTEGER NOT NULL);"
                     "INSERT INTO index_marks VALUES('user_external_ids', 0);"
                     "CREATE TABLE groups(seq INTEGER PRIMARY KEY, id TEXT, display_name TEXT "
                     "COLLATE NOCASE, external_id TEXT, provider TEXT, member_count INTEGER,"
                     " created TEXT, modified TEXT);"
                     "CREATE TABLE group_members(group_id TEXT, member_id TEXT, type TEXT,"
                     " PRIMARY KEY(group_id, member_id)) WITHOUT ROWID;"
                     "INSERT INTO groups VALUES(1,'g','G','e','local',1,'','');"
                     "INSERT INTO group_members VALUES('g','i','User');",
                     NULL, NULL, NULL) != SQLITE_OK)
        __builtin_trap();
}

/* Generated SQL that SQLite rejects would be a 500 for the client: a bug. A refusal must say
 * why. */
static void check_sql(const struct adc_scim_filter *f,
                      int (*to_sql)(const struct adc_scim_filter *, enum adc_sql_dialect,
                                    struct adc_sql_where *, char *, size_t),
                      const char *query) {
    struct adc_sql_where w;
    char err[300] = "";
    if (to_sql(f, ADC_SQL_SQLITE, &w, err, sizeof(err)) < 0) {
        if (!err[0])
            __builtin_trap();
        return;
    }
    char *sql = sqlite3_mprintf(query, w.sql);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_parameter_count(st) != (int)w.n || bind_args(st, 1, w.args, w.n) < 0 ||
        sqlite3_step(st) != SQLITE_ROW)
        __builtin_trap();
    sqlite3_finalize(st);
    sqlite3_free(sql);
    adc_sql_where_done(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) /* the server refuses longer filters before parsing */
        return 0;
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    open_db();

    struct adc_scim_filter *f = NULL;
    char err[300];
    if (adc_scim_filter_parse(s, &f, err, sizeof(err)) < 0) {
        if (f || !err[0])
            __builtin_trap();
        free(s);
        return 0;
    }
    check_sql(f, adc_store_filter_sql, "SELECT count(*) FROM users WHERE %s");
    check_sql(f, adc_store_filter_sql_groups, "SELECT count(*) FROM groups WHERE %s");
    check_sql(f, adc_store_filter_sql_members,
              "SELECT count(*) FROM group_members AS m WHERE m.group_id = 'g' AND (%s)");
    json_t *obj =
        json_pack("{s:s,s:b,s:[{s:s,s:s,s:b}],s:{s:s}}", "userName", "Ann", "active", 1, "emails",
                  "value", "a@b", "type", "work", "primary", 1, "name", "givenName", "A");
    (void)adc_scim_filter_match(f, obj);
    json_decref(obj);
    adc_scim_filter_free(f);
    free(s);
    return 0;
}
