/* SCIM filters: parsing (RFC 7644 section 3.4.2.2 grammar and precedence), translation to SQL
 * run against a real in-memory SQLite users table, evaluation on JSON, and rejection of bad
 * input with a reason. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

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

static struct adc_scim_filter *parse_ok(const char *text) {
    struct adc_scim_filter *f = NULL;
    char err[200] = "";
    int r = adc_scim_filter_parse(text, &f, err, sizeof(err));
    if (r < 0)
        fail_msg("'%s' did not parse: %s", text, err);
    return f;
}

static void parse_fails(const char *text, const char *reason) {
    struct adc_scim_filter *f = NULL;
    char err[200] = "";
    assert_int_equal(adc_scim_filter_parse(text, &f, err, sizeof(err)), -EINVAL);
    assert_null(f);
    if (!strstr(err, reason))
        fail_msg("'%s': reason '%s' lacks '%s'", text, err, reason);
}

static void precedence_and_over_or(void **state) {
    (void)state;
    struct adc_scim_filter *f = parse_ok("a eq \"1\" or b eq \"2\" and c eq \"3\"");
    assert_int_equal(f->op, ADC_SCIM_OR);
    assert_int_equal(f->left->op, ADC_SCIM_EQ);
    assert_int_equal(f->right->op, ADC_SCIM_AND);
    adc_scim_filter_free(f);
    f = parse_ok("(a eq \"1\" or b eq \"2\") and not(c pr)");
    assert_int_equal(f->op, ADC_SCIM_AND);
    assert_int_equal(f->left->op, ADC_SCIM_OR);
    assert_int_equal(f->right->op, ADC_SCIM_NOT);
    assert_int_equal(f->right->left->op, ADC_SCIM_PR);
    adc_scim_filter_free(f);
}

static void values_and_case(void **state) {
    (void)state;
    struct adc_scim_filter *f = parse_ok("userName EQ \"a \\\"q\\\" \\u00e9\"");
    assert_int_equal(f->op, ADC_SCIM_EQ);
    assert_string_equal(f->attr, "userName");
    assert_string_equal(json_string_value(f->value), "a \"q\" \xc3\xa9");
    adc_scim_filter_free(f);
    f = parse_ok("active eq True");
    assert_true(json_is_true(f->value));
    adc_scim_filter_free(f);
    f = parse_ok("x eq null");
    assert_true(json_is_null(f->value));
    adc_scim_filter_free(f);
    f = parse_ok("emails[type eq \"work\" and value co \"@\"]");
    assert_int_equal(f->op, ADC_SCIM_VALUE_PATH);
    assert_string_equal(f->attr, "emails");
    assert_int_equal(f->left->op, ADC_SCIM_AND);
    adc_scim_filter_free(f);
    f = parse_ok("urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"j\"");
    assert_string_equal(f->attr, "urn:ietf:params:scim:schemas:core:2.0:User:userName");
    adc_scim_filter_free(f);
}

static void syntax_errors(void **state) {
    (void)state;
    parse_fails("", "empty");
    parse_fails("userName", "space and an operator");
    parse_fails("userName eq", "space and a value");
    parse_fails("userName zz \"a\"", "unknown operator");
    parse_fails("userName eq \"a", "unterminated");
    parse_fails("userName eq \"a\" and", "ends too early");
    parse_fails("(userName eq \"a\"", "expected ')'");
    parse_fails("userName eq \"a\")", "unexpected ')'");
    parse_fails("not userName eq \"a\"", "'(' after not");
    parse_fails("\"a\" eq userName", "attribute name");
    parse_fails("emails[type eq \"a\"", "']'");
    parse_fails("emails[x[y eq \"a\"]]", "nested");
    parse_fails("userName eq bogus", "invalid value");
    char deep[200] = "";
    for (int i = 0; i < 40; i++)
        strcat(deep, "(");
    parse_fails(deep, "deeper");
}

/* Runs the SQL of a filter against a real table and returns the matching userNames. */
static sqlite3 *db;

static int setup(void **state) {
    (void)state;
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    const char *sql =
        "CREATE TABLE users(seq INTEGER PRIMARY KEY, id TEXT, user_name TEXT COLLATE NOCASE,"
        " external_id TEXT, provider TEXT, active INTEGER, data TEXT, created TEXT,"
        " modified TEXT);"
        "INSERT INTO users VALUES(1,'i1','Alice@Example.com','E1','app1',1,"
        " '{\"displayName\":\"Alice A\",\"name\":{\"familyName\":\"Anders\"},"
        "  \"emails\":[{\"value\":\"alice@work\",\"type\":\"work\",\"primary\":true},"
        "             {\"value\":\"a@home\",\"type\":\"home\"}]}',"
        " '2024-01-01T00:00:00Z','2024-06-01T00:00:00Z');"
        "INSERT INTO users VALUES(2,'i2','bob','E2','local',0,"
        " '{\"displayName\":\"Bob 50%_off\"}','2024-02-01T00:00:00Z','2024-02-01T00:00:00Z');"
        "INSERT INTO users VALUES(3,'i3','carol','e3','app1',1,'{}',"
        " '2024-03-01T00:00:00Z','2024-03-01T00:00:00Z');"
        /* The externalId index (store-users.h): users 1 and 2 settled, carol above the mark;
         * 'E9' is a stale entry of user 2 that the comparison on the row itself refuses. */
        "CREATE TABLE user_external_ids(external_id TEXT NOT NULL, seq INTEGER NOT NULL,"
        " PRIMARY KEY(external_id, seq)) WITHOUT ROWID;"
        "INSERT INTO user_external_ids VALUES('E1',1),('E2',2),('E9',2);"
        "CREATE TABLE index_marks(name TEXT PRIMARY KEY, seq INTEGER NOT NULL);"
        "INSERT INTO index_marks VALUES('user_external_ids', 2);";
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    sqlite3_close(db);
    return 0;
}

static const char *match_sql(const char *text) {
    static char out[200];
    struct adc_scim_filter *f = parse_ok(text);
    struct adc_sql_where w;
    char err[200];
    if (adc_store_filter_sql(f, ADC_SQL_SQLITE, &w, err, sizeof(err)) < 0)
        fail_msg("'%s': %s", text, err);
    char *sql = sqlite3_mprintf("SELECT group_concat(user_name, ',') FROM (SELECT user_name "
                                "FROM users WHERE %s ORDER BY seq)",
                                w.sql);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("'%s': bad SQL %s: %s", text, w.sql, sqlite3_errmsg(db));
    assert_int_equal(bind_args(st, 1, w.args, w.n), 0);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    const unsigned char *t = sqlite3_column_text(st, 0);
    snprintf(out, sizeof(out), "%s", t ? (const char *)t : "");
    sqlite3_finalize(st);
    sqlite3_free(sql);
    adc_sql_where_done(&w);
    adc_scim_filter_free(f);
    return out;
}

static void sql_matches(void **state) {
    (void)state;
    assert_string_equal(match_sql("userName eq \"alice@example.COM\""), "Alice@Example.com");
    assert_string_equal(match_sql("externalId eq \"e1\""), ""); /* caseExact */
    assert_string_equal(match_sql("externalId eq \"E1\""), "Alice@Example.com");
    assert_string_equal(match_sql("userName co \"EXAMPLE\""), "Alice@Example.com");
    assert_string_equal(match_sql("userName sw \"B\""), "bob");
    assert_string_equal(match_sql("userName ew \"OL\""), "carol");
    assert_string_equal(match_sql("externalId eq \"e3\""), "carol");     /* above the mark */
    assert_string_equal(match_sql("externalId eq \"E9\""), "");          /* stale entry */
    assert_string_equal(match_sql("externalId gt \"E1\""), "bob,carol"); /* both parts */
    assert_string_equal(match_sql("not (externalId eq \"E2\")"), "Alice@Example.com,carol");
    assert_string_equal(match_sql("externalId sw \"e\""), "carol");
    assert_string_equal(match_sql("externalId ew \"3\""), "carol");
    /* A chain of "externalId eq" as one look-up (store-filter.c gen_external_id_in): both parts,
     * a stale entry, case, and the same answer as the comparisons one by one. */
    assert_string_equal(match_sql("externalId eq \"E1\" or externalId eq \"e3\""),
                        "Alice@Example.com,carol");
    assert_string_equal(match_sql("externalId eq \"E9\" or externalId eq \"e1\" or "
                                  "EXTERNALID eq \"E2\""),
                        "bob");
    assert_string_equal(match_sql("not (externalId eq \"E2\" or externalId eq \"e3\")"),
                        "Alice@Example.com");
    assert_string_equal(match_sql("externalId eq \"E1\" or userName eq \"carol\""),
                        "Alice@Example.com,carol");
    assert_string_equal(match_sql("(externalId eq \"E1\" or externalId eq \"E2\") and "
                                  "(externalId eq \"E2\" or externalId eq \"e3\")"),
                        "bob");
    assert_string_equal(match_sql("userName gt \"b\""), "bob,carol");
    assert_string_equal(match_sql("active eq false"), "bob");
    assert_string_equal(match_sql("active ne false"), "Alice@Example.com,carol");
    assert_string_equal(match_sql("displayName pr"), "Alice@Example.com,bob");
    assert_string_equal(match_sql("displayName co \"50%_\""), "bob"); /* no wildcards */
    assert_string_equal(match_sql("displayName sw \"bob 50%\""), "bob");
    assert_string_equal(match_sql("displayName sw \"bob 5_\""), "");
    assert_string_equal(match_sql("name.familyName eq \"ANDERS\""), "Alice@Example.com");
    assert_string_equal(match_sql("emails.value eq \"A@HOME\""), "Alice@Example.com");
    assert_string_equal(match_sql("emails eq \"alice@work\""), "Alice@Example.com");
    assert_string_equal(match_sql("emails pr"), "Alice@Example.com");
    assert_string_equal(match_sql("emails[type eq \"home\" and value sw \"a\"]"),
                        "Alice@Example.com");
    assert_string_equal(match_sql("emails[type eq \"home\" and primary eq true]"), "");
    assert_string_equal(match_sql("not (emails pr)"), "bob,carol");
    assert_string_equal(match_sql("not (displayName eq \"Alice A\")"), "bob,carol");
    assert_string_equal(
        match_sql("urn:adconnect:scim:schemas:extension:sync:2.0:User:provider eq \"app1\" and "
                  "not (active eq false)"),
        "Alice@Example.com,carol");
    assert_string_equal(match_sql("meta.created ge \"2024-02-01T00:00:00Z\""), "bob,carol");
    assert_string_equal(match_sql("meta.lastModified gt \"2024-05-01T00:00:00Z\""),
                        "Alice@Example.com");
    assert_string_equal(match_sql("id eq \"i2\" or userName eq \"carol\""), "bob,carol");
    assert_string_equal(match_sql("externalId eq null"), "");
    /* quotes in values are bound, never spliced into SQL */
    assert_string_equal(match_sql("userName eq \"x' OR 1=1 --\""), "");
}

/* A long chain is legal (the server bounds only the filter's length): its SQL must not nest a
 * bracket per link, which overflowed SQLite's parser stack at about 100 (found by fuzzing). */
static void sql_long_chains(void **state) {
    (void)state;
    char text[8192];
    size_t n = 0;
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%sdisplayName pr", i ? " and " : "");
    assert_string_equal(match_sql(text), "Alice@Example.com,bob");
    n = 0;
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%suserName eq \"u%d\"", i ? " or " : "",
                              i);
    snprintf(text + n, sizeof(text) - n, " or userName eq \"bob\"");
    assert_string_equal(match_sql(text), "bob");
    n = (size_t)snprintf(text, sizeof(text), "emails[");
    for (int i = 0; i < 200; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%stype eq \"home\"", i ? " and " : "");
    snprintf(text + n, sizeof(text) - n, "]");
    assert_string_equal(match_sql(text), "Alice@Example.com");
}

static void sql_rejects(void **state) {
    (void)state;
    const char *bad[][2] = {
        {"password eq \"x\"", "unsupported attribute"},
        {"active eq \"yes\"", "boolean"},
        {"active gt true", "boolean"},
        {"userName eq 5", "string"},
        {"userName gt null", "null"},
        {"displayName[value eq \"x\"]", "not a multi-valued"},
        {"emails[a.b eq \"x\"]", "invalid sub-attribute"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct adc_scim_filter *f = parse_ok(bad[i][0]);
        struct adc_sql_where w;
        char err[200] = "";
        assert_int_equal(adc_store_filter_sql(f, ADC_SQL_SQLITE, &w, err, sizeof(err)), -EINVAL);
        if (!strstr(err, bad[i][1]))
            fail_msg("'%s': reason '%s' lacks '%s'", bad[i][0], err, bad[i][1]);
        adc_scim_filter_free(f);
    }
}

static bool matches(const char *filter, const char *json) {
    struct adc_scim_filter *f = parse_ok(filter);
    json_t *j = json_loads(json, 0, NULL);
    assert_non_null(j);
    bool m = adc_scim_filter_match(f, j);
    json_decref(j);
    adc_scim_filter_free(f);
    return m;
}

static void json_evaluation(void **state) {
    (void)state;
    const char *email = "{\"value\":\"Ann@Work\",\"type\":\"work\",\"primary\":true}";
    assert_true(matches("type eq \"WORK\"", email));
    assert_true(matches("TYPE eq \"work\" and value ew \"@work\"", email));
    assert_true(matches("primary eq true", email));
    assert_false(matches("primary eq false", email));
    assert_true(matches("display pr or value co \"n@\"", email));
    assert_false(matches("display pr", email));
    assert_true(matches("not (type eq \"home\")", email));
    assert_true(matches("display eq null", email));
    assert_true(matches("emails[type eq \"work\"]", "{\"emails\":[{\"type\":\"work\"}]}"));
    assert_false(matches("emails[type eq \"home\"]", "{\"emails\":[{\"type\":\"work\"}]}"));
    assert_true(matches("name.givenName sw \"a\"", "{\"name\":{\"givenName\":\"Ann\"}}"));
    assert_true(matches("count gt 2", "{\"count\":3}"));
}

/* Groups: the same filters over the groups table, members through group_members (one index
 * lookup per member condition), and the member filter of a PATCH path. */
static void group_tables(void) {
    const char *sql =
        "CREATE TABLE groups(seq INTEGER PRIMARY KEY, id TEXT, display_name TEXT COLLATE NOCASE,"
        " external_id TEXT, provider TEXT, member_count INTEGER, created TEXT, modified TEXT);"
        "CREATE TABLE group_members(group_id TEXT, member_id TEXT, type TEXT,"
        " PRIMARY KEY(group_id, member_id)) WITHOUT ROWID;"
        "INSERT INTO groups VALUES(1,'g1','Staff','x1','app1',2,'2024-01-01','2024-01-01');"
        "INSERT INTO groups VALUES(2,'g2','staff admins','x2','local',1,'2024-02-01','2024-02-01');"
        "INSERT INTO groups VALUES(3,'g3','Empty',NULL,'app1',0,'2024-03-01','2024-03-01');"
        "INSERT INTO group_members VALUES('g1','i1','User'),('g1','g2','Group'),"
        " ('g2','i2','User');";
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
}

/* The names of the groups a filter matches, or with members=true the member ids of group g1
 * that a member filter matches. */
static const char *match_groups(const char *text, bool members) {
    static char out[200];
    struct adc_scim_filter *f = parse_ok(text);
    struct adc_sql_where w;
    char err[200];
    int r = members ? adc_store_filter_sql_members(f, ADC_SQL_SQLITE, &w, err, sizeof(err))
                    : adc_store_filter_sql_groups(f, ADC_SQL_SQLITE, &w, err, sizeof(err));
    if (r < 0)
        fail_msg("'%s': %s", text, err);
    char *sql = members ? sqlite3_mprintf("SELECT group_concat(member_id, ',') FROM (SELECT "
                                          "member_id FROM group_members AS m WHERE "
                                          "m.group_id = 'g1' AND (%s) ORDER BY member_id)",
                                          w.sql)
                        : sqlite3_mprintf("SELECT group_concat(display_name, ',') FROM (SELECT "
                                          "display_name FROM groups WHERE %s ORDER BY seq)",
                                          w.sql);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("'%s': bad SQL %s: %s", text, w.sql, sqlite3_errmsg(db));
    assert_int_equal(bind_args(st, 1, w.args, w.n), 0);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    const unsigned char *t = sqlite3_column_text(st, 0);
    snprintf(out, sizeof(out), "%s", t ? (const char *)t : "");
    sqlite3_finalize(st);
    sqlite3_free(sql);
    adc_sql_where_done(&w);
    adc_scim_filter_free(f);
    return out;
}

static void sql_groups(void **state) {
    (void)state;
    group_tables();
    assert_string_equal(match_groups("displayName eq \"STAFF\"", false), "Staff");
    assert_string_equal(match_groups("displayName sw \"staff\"", false), "Staff,staff admins");
    assert_string_equal(match_groups("externalId eq \"X1\"", false), "");
    assert_string_equal(match_groups("externalId eq \"x2\"", false), "staff admins");
    assert_string_equal(match_groups("members.value eq \"i2\"", false), "staff admins");
    assert_string_equal(match_groups("members eq \"g2\"", false), "Staff");
    assert_string_equal(match_groups("members[type eq \"Group\"]", false), "Staff");
    assert_string_equal(match_groups("members[value eq \"i1\" or value eq \"i2\"]", false),
                        "Staff,staff admins");
    assert_string_equal(match_groups("members pr", false), "Staff,staff admins");
    assert_string_equal(match_groups("not (members pr)", false), "Empty");
    assert_string_equal(match_groups("urn:ietf:params:scim:schemas:core:2.0:Group:displayName "
                                     "eq \"empty\"",
                                     false),
                        "Empty");
    assert_string_equal(
        match_groups("urn:adconnect:scim:schemas:extension:sync:2.0:Group:provider eq \"app1\"",
                     false),
        "Staff,Empty");
    assert_string_equal(match_groups("meta.created gt \"2024-01-15\" and id ne \"g3\"", false),
                        "staff admins");
    assert_string_equal(match_groups("value eq \"i1\"", true), "i1");
    assert_string_equal(match_groups("type eq \"Group\" or value eq \"nope\"", true), "g2");
    assert_string_equal(match_groups("not (value eq \"i1\")", true), "g2");
    const char *bad[][2] = {
        {"userName eq \"x\"", "unsupported attribute"},
        {"members.display eq \"x\"", "value and type"},
        {"members[display eq \"x\"]", "value and type"},
        {"displayName[value eq \"x\"]", "not a multi-valued"},
        {"members.value[value eq \"x\"]", "not a multi-valued"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct adc_scim_filter *f = parse_ok(bad[i][0]);
        struct adc_sql_where w;
        char err[200] = "";
        assert_int_equal(adc_store_filter_sql_groups(f, ADC_SQL_SQLITE, &w, err, sizeof(err)),
                         -EINVAL);
        if (!strstr(err, bad[i][1]))
            fail_msg("'%s': reason '%s' lacks '%s'", bad[i][0], err, bad[i][1]);
        adc_scim_filter_free(f);
    }
    struct adc_scim_filter *f = parse_ok("display eq \"x\"");
    struct adc_sql_where w;
    char err[200] = "";
    assert_int_equal(adc_store_filter_sql_members(f, ADC_SQL_SQLITE, &w, err, sizeof(err)),
                     -EINVAL);
    adc_scim_filter_free(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(precedence_and_over_or),
        cmocka_unit_test(values_and_case),
        cmocka_unit_test(syntax_errors),
        cmocka_unit_test_setup_teardown(sql_matches, setup, teardown),
        cmocka_unit_test_setup_teardown(sql_long_chains, setup, teardown),
        cmocka_unit_test(sql_rejects),
        cmocka_unit_test_setup_teardown(sql_groups, setup, teardown),
        cmocka_unit_test(json_evaluation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
