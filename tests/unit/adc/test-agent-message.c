#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/agent-message.h"

static json_t *load(const char *text) {
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    return j;
}

/* Parses text as one command; returns the parser's result. */
static int parse(const char *text, struct adc_agent_command *c, const char **why) {
    json_t *j = load(text);
    int r = adc_agent_command_parse(j, c, why);
    if (r == 0)
        assert_null(*why);
    else
        assert_non_null(*why);
    /* the strings are borrowed: compare before the tree goes */
    if (c->id)
        c->id = strdup(c->id);
    if (c->run_id)
        c->run_id = strdup(c->run_id);
    if (c->username)
        c->username = strdup(c->username);
    if (c->password)
        c->password = strdup(c->password);
    json_decref(j);
    return r;
}

static void done(struct adc_agent_command *c) {
    free((char *)c->id);
    free((char *)c->run_id);
    free((char *)c->username);
    free((char *)c->password);
}

static void valid_check_password(void **state) {
    (void)state;
    struct adc_agent_command c;
    const char *why;
    assert_int_equal(parse("{\"type\":\"check_password\",\"id\":\"c-1.A_z\",\"username\":\"alice\","
                           "\"password\":\"s3cret\",\"extra\":[1]}",
                           &c, &why),
                     0);
    assert_int_equal(c.type, ADC_AGENT_CMD_CHECK_PASSWORD);
    assert_string_equal(c.id, "c-1.A_z");
    assert_string_equal(c.username, "alice");
    assert_string_equal(c.password, "s3cret");
    assert_null(c.run_id);
    done(&c);
}

static void valid_sync(void **state) {
    (void)state;
    struct adc_agent_command c;
    const char *why;
    assert_int_equal(
        parse("{\"type\":\"sync\",\"id\":\"c2\",\"run_id\":\"r-9\",\"dry_run\":true}", &c, &why),
        0);
    assert_int_equal(c.type, ADC_AGENT_CMD_SYNC);
    assert_string_equal(c.id, "c2");
    assert_string_equal(c.run_id, "r-9");
    assert_true(c.dry_run);
    done(&c);
    /* dry_run only when it is JSON true */
    assert_int_equal(
        parse("{\"type\":\"sync\",\"id\":\"c2\",\"run_id\":\"r\",\"dry_run\":1}", &c, &why), 0);
    assert_false(c.dry_run);
    done(&c);
    assert_int_equal(parse("{\"type\":\"sync\",\"id\":\"c2\",\"run_id\":\"r\"}", &c, &why), 0);
    assert_false(c.dry_run);
    done(&c);
}

/* A refused command still names its id when it is a valid one, and its type when known. */
static void invalid_commands(void **state) {
    (void)state;
    struct adc_agent_command c;
    const char *why;
    assert_int_equal(parse("{\"type\":\"reboot\",\"id\":\"c3\"}", &c, &why), -EINVAL);
    assert_string_equal(why, "unknown command type");
    assert_int_equal(c.type, ADC_AGENT_CMD_UNKNOWN);
    assert_string_equal(c.id, "c3");
    done(&c);

    assert_int_equal(parse("{\"id\":\"c3\"}", &c, &why), -EINVAL);
    assert_string_equal(why, "unknown command type");
    done(&c);

    assert_int_equal(
        parse("{\"type\":\"check_password\",\"id\":\"c4\",\"username\":\"bob\"}", &c, &why),
        -EINVAL);
    assert_string_equal(why, "malformed check_password command");
    assert_int_equal(c.type, ADC_AGENT_CMD_CHECK_PASSWORD);
    assert_string_equal(c.id, "c4");
    assert_null(c.username);
    assert_null(c.password);
    done(&c);

    assert_int_equal(
        parse("{\"type\":\"check_password\",\"id\":\"c4\",\"password\":\"pw\"}", &c, &why),
        -EINVAL);
    assert_null(c.password);
    done(&c);

    assert_int_equal(parse("{\"type\":\"sync\",\"id\":\"c5\"}", &c, &why), -EINVAL);
    assert_int_equal(c.type, ADC_AGENT_CMD_SYNC);
    assert_string_equal(c.id, "c5");
    assert_null(c.run_id);
    done(&c);

    assert_int_equal(parse("{\"type\":\"sync\",\"run_id\":\"r1\"}", &c, &why), -EINVAL);
    assert_null(c.id);
    done(&c);
}

static void wrong_json_types(void **state) {
    (void)state;
    struct adc_agent_command c;
    const char *why;
    const char *bad[] = {
        "[]",
        "\"sync\"",
        "42",
        "null",
        "{\"type\":1,\"id\":\"c1\"}",
        "{\"type\":\"sync\",\"id\":7,\"run_id\":\"r\"}",
        "{\"type\":\"sync\",\"id\":\"c1\",\"run_id\":[\"r\"]}",
        "{\"type\":\"sync\",\"id\":\"c1\",\"run_id\":null}",
        "{\"type\":\"check_password\",\"id\":\"c1\",\"username\":{},\"password\":\"p\"}",
        "{\"type\":\"check_password\",\"id\":\"c1\",\"username\":\"u\",\"password\":false}",
        "{\"type\":[\"sync\"],\"id\":\"c1\",\"run_id\":\"r\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *j = json_loads(bad[i], JSON_DECODE_ANY, NULL);
        assert_non_null(j);
        assert_int_equal(adc_agent_command_parse(j, &c, &why), -EINVAL);
        assert_non_null(why);
        assert_null(c.username);
        assert_null(c.password);
        json_decref(j);
    }
    assert_int_equal(adc_agent_command_parse(NULL, &c, &why), -EINVAL);
}

/* Ids go into URL paths and the poll URL's query. */
static void hostile_ids(void **state) {
    (void)state;
    char long_id[130];
    memset(long_id, 'a', sizeof(long_id) - 1);
    long_id[129] = '\0'; /* 129 characters: one too many */
    const char *bad[] = {"",    "../admin", "a/b", "a?b=c", "a&agent_id=x",
                         "a b", "a%2f",     "é",   "a\nb",  long_id};
    struct adc_agent_command c;
    const char *why;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "type", "check_password", "id", bad[i],
                              "username", "u", "password", "p");
        assert_int_equal(adc_agent_command_parse(j, &c, &why), -EINVAL);
        assert_null(c.id);
        json_decref(j);
        j = json_pack("{s:s, s:s, s:s}", "type", "sync", "id", "ok", "run_id", bad[i]);
        assert_int_equal(adc_agent_command_parse(j, &c, &why), -EINVAL);
        assert_null(c.run_id);
        json_decref(j);
        char *agent_id;
        int wait;
        j = json_pack("{s:s}", "agent_id", bad[i]);
        assert_int_equal(adc_agent_connect_answer_parse(j, &agent_id, &wait), -EINVAL);
        assert_null(agent_id);
        json_decref(j);
    }
    /* 128 characters is the longest accepted. */
    long_id[128] = '\0';
    json_t *j = json_pack("{s:s, s:s, s:s}", "type", "sync", "id", long_id, "run_id", long_id);
    assert_int_equal(adc_agent_command_parse(j, &c, &why), 0);
    json_decref(j);
    /* A NUL inside a JSON string would cut the C string: "ok\u0000/x" must not pass as "ok",
     * nor a password as its beginning. */
    j = json_loads("{\"type\":\"sync\",\"id\":\"ok\\u0000/x\",\"run_id\":\"r\"}", JSON_ALLOW_NUL,
                   NULL);
    assert_non_null(j);
    assert_int_equal(adc_agent_command_parse(j, &c, &why), -EINVAL);
    assert_null(c.id);
    json_decref(j);
    j = json_loads("{\"type\":\"check_password\",\"id\":\"c\",\"username\":\"u\","
                   "\"password\":\"right\\u0000wrong\"}",
                   JSON_ALLOW_NUL, NULL);
    assert_non_null(j);
    assert_int_equal(adc_agent_command_parse(j, &c, &why), -EINVAL);
    assert_null(c.password);
    json_decref(j);
}

static void connect_answer(void **state) {
    (void)state;
    char *id;
    int wait;
    json_t *j = load("{\"agent_id\":\"ag-1\",\"poll_wait\":20}");
    assert_int_equal(adc_agent_connect_answer_parse(j, &id, &wait), 0);
    assert_string_equal(id, "ag-1");
    assert_int_equal(wait, 20);
    free(id);
    json_decref(j);

    const char *defaulted[] = {"{\"agent_id\":\"a\"}",
                               "{\"agent_id\":\"a\",\"poll_wait\":0}",
                               "{\"agent_id\":\"a\",\"poll_wait\":301}",
                               "{\"agent_id\":\"a\",\"poll_wait\":-5}",
                               "{\"agent_id\":\"a\",\"poll_wait\":\"20\"}",
                               "{\"agent_id\":\"a\",\"poll_wait\":20.5}",
                               "{\"agent_id\":\"a\",\"poll_wait\":9223372036854775807}"};
    for (size_t i = 0; i < sizeof(defaulted) / sizeof(defaulted[0]); i++) {
        j = load(defaulted[i]);
        assert_int_equal(adc_agent_connect_answer_parse(j, &id, &wait), 0);
        assert_int_equal(wait, ADC_AGENT_DEFAULT_POLL_WAIT);
        free(id);
        json_decref(j);
    }
    j = load("{\"agent_id\":\"a\",\"poll_wait\":300}");
    assert_int_equal(adc_agent_connect_answer_parse(j, &id, &wait), 0);
    assert_int_equal(wait, 300);
    free(id);
    json_decref(j);

    const char *bad[] = {"{}", "{\"agent_id\":5}", "{\"agent_id\":null}", "[\"agent_id\"]",
                         "{\"agent_id\":[\"a\"]}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        j = load(bad[i]);
        assert_int_equal(adc_agent_connect_answer_parse(j, &id, &wait), -EINVAL);
        assert_null(id);
        json_decref(j);
    }
    assert_int_equal(adc_agent_connect_answer_parse(NULL, &id, &wait), -EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_check_password), cmocka_unit_test(valid_sync),
        cmocka_unit_test(invalid_commands),     cmocka_unit_test(wrong_json_types),
        cmocka_unit_test(hostile_ids),          cmocka_unit_test(connect_answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
