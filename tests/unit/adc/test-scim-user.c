/* SCIM User resources both ways, and the retry schedule of the HTTP client. */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sync/cloud-users.h"
#include "cloud/scim-list-parse.h"
#include "cloud/scim-user.h"

static void parses_a_full_resource(void **state) {
    (void)state;
    json_t *j = json_loads(
        "{\"schemas\":[\"" ADC_SCIM_SCHEMA_USER "\"],\"id\":\"42\",\"userName\":\"ana\","
        "\"externalId\":\"uuid-1\",\"displayName\":\"Ana A\",\"name\":{\"givenName\":\"Ana\","
        "\"familyName\":\"A\"},\"emails\":[{\"value\":\"x@e.org\"},{\"value\":\"ana@e.org\","
        "\"primary\":true}],\"active\":false,\"meta\":{\"version\":\"W/\\\"3\\\"\"},"
        "\"" ADC_SCIM_SCHEMA_PROVIDER "\":{\"provider\":\"app-1\"}}",
        0, NULL);
    assert_non_null(j);
    struct adc_user u;
    assert_int_equal(adc_scim_user_from_json(j, &u), 0);
    assert_string_equal(u.id, "42");
    assert_string_equal(u.user_name, "ana");
    assert_string_equal(u.external_id, "uuid-1");
    assert_string_equal(u.display_name, "Ana A");
    assert_string_equal(u.given_name, "Ana");
    assert_string_equal(u.family_name, "A");
    assert_string_equal(u.email, "ana@e.org"); /* the primary one */
    assert_false(u.active);
    assert_string_equal(u.version, "W/\"3\"");
    assert_string_equal(u.provider, "app-1");
    adc_user_done(&u);
    json_decref(j);
}

static void minimal_resource_defaults(void **state) {
    (void)state;
    json_t *j = json_loads("{\"id\":\"1\",\"userName\":\"bo\",\"emails\":[{\"value\":\"b@e\"}],"
                           "\"name\":\"not an object\"}",
                           0, NULL);
    struct adc_user u;
    assert_int_equal(adc_scim_user_from_json(j, &u), 0);
    assert_true(u.active); /* absent means active */
    assert_null(u.external_id);
    assert_null(u.provider);
    assert_null(u.given_name);
    assert_string_equal(u.email, "b@e"); /* first when none is primary */
    adc_user_done(&u);
    json_decref(j);
}

static void rejects_what_is_not_a_user(void **state) {
    (void)state;
    const char *bad[] = {"[]", "{\"id\":\"1\"}", "{\"userName\":\"x\"}",
                         "{\"id\":1,\"userName\":\"x\"}",
                         /* empty strings are no id and no name (found by fuzz-scim-answers) */
                         "{\"id\":\"\",\"userName\":\"x\"}", "{\"id\":\"1\",\"userName\":\"\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *j = json_loads(bad[i], 0, NULL);
        struct adc_user u;
        assert_int_equal(adc_scim_user_from_json(j, &u), -EINVAL);
        struct adc_cloud_users cu;
        adc_cloud_users_init(&cu);
        assert_int_equal(adc_scim_user_from_json_with(j, &u, adc_cloud_users_strdup, &cu), -EINVAL);
        adc_cloud_users_done(&cu);
        json_decref(j);
    }
}

/* The resource as adc sends it, read back by jansson: it must be valid JSON. */
static json_t *to_json(const struct adc_user *d, bool active, const char *provider) {
    char *text = adc_scim_user_to_text(d, active, provider);
    assert_non_null(text);
    json_error_t e;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &e);
    if (!j)
        fail_msg("not JSON: %s in %s", e.text, text);
    free(text);
    return j;
}

static void escapes_what_json_requires(void **state) {
    (void)state;
    struct adc_user d = {.user_name = "q\"uote\\back\nline\ttab\x01ctl/é",
                         .external_id = "e",
                         .display_name = "日本"};
    json_t *j = to_json(&d, true, "app");
    assert_string_equal(json_string_value(json_object_get(j, "userName")),
                        "q\"uote\\back\nline\ttab\x01ctl/é");
    assert_string_equal(json_string_value(json_object_get(j, "displayName")), "日本");
    json_decref(j);
}

static void writes_a_resource_and_reads_it_back(void **state) {
    (void)state;
    struct adc_user d = {.user_name = "ćirilo",
                         .external_id = "uuid-2",
                         .display_name = "Ćirilo",
                         .given_name = "Ćirilo",
                         .family_name = NULL,
                         .email = "c@e.org"};
    json_t *j = to_json(&d, false, "app-9");
    assert_non_null(j);
    assert_int_equal(json_array_size(json_object_get(j, "schemas")), 2);
    struct adc_user u;
    assert_int_equal(adc_scim_user_from_json(j, &u), -EINVAL); /* no id yet: not stored */
    json_object_set_new(j, "id", json_string("7"));
    assert_int_equal(adc_scim_user_from_json(j, &u), 0);
    assert_string_equal(u.user_name, "ćirilo");
    assert_string_equal(u.given_name, "Ćirilo");
    assert_null(u.family_name);
    assert_string_equal(u.email, "c@e.org");
    assert_false(u.active);
    assert_string_equal(u.provider, "app-9");
    adc_user_done(&u);
    json_decref(j);

    struct adc_user bare = {.user_name = "z", .external_id = "e"};
    j = to_json(&bare, true, NULL);
    assert_null(json_object_get(j, "name"));
    assert_null(json_object_get(j, "emails"));
    assert_null(json_object_get(j, ADC_SCIM_SCHEMA_PROVIDER));
    assert_true(json_is_true(json_object_get(j, "active")));
    json_decref(j);
}

/* Further addresses (the directory's aliases): written after the primary one, read back
 * the same way by both readers (jansson and the list parser), so an unchanged user compares
 * equal. */
static void other_emails_round_trip(void **state) {
    (void)state;
    struct adc_user d = {.user_name = "ann",
                         .external_id = "e1",
                         .email = "ann@example.org",
                         .other_emails = "a.alias@example.org\nsecond\"q@example.org"};
    json_t *j = to_json(&d, true, "app-1");
    assert_non_null(j);
    json_t *emails = json_object_get(j, "emails");
    assert_int_equal(json_array_size(emails), 3);
    assert_true(json_is_true(json_object_get(json_array_get(emails, 0), "primary")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(emails, 2), "value")),
                        "second\"q@example.org");
    assert_string_equal(json_string_value(json_object_get(json_array_get(emails, 1), "type")),
                        "other");
    json_object_set_new(j, "id", json_string("9"));
    struct adc_user u;
    assert_int_equal(adc_scim_user_from_json(j, &u), 0);
    assert_string_equal(u.email, "ann@example.org");
    assert_string_equal(u.other_emails, d.other_emails);
    adc_user_done(&u);

    /* The same resource in a ListResponse, read by the streaming parser; the primary one
     * last this time. */
    json_array_append(emails, json_array_get(emails, 0));
    json_array_remove(emails, 0);
    json_t *list = json_pack("{s:i, s:[O]}", "totalResults", 1, "Resources", j);
    char *text = json_dumps(list, JSON_COMPACT);
    struct adc_cloud_users c;
    size_t total = 0, n_items = 0;
    char err[200];
    adc_cloud_users_init(&c);
    assert_int_equal(
        adc_scim_list_parse(text, strlen(text), &c, &total, &n_items, err, sizeof(err)), 0);
    assert_int_equal(c.n, 1);
    /* The compact form keeps digests of the emails (sync/cloud-users.h): those of the
     * addresses as the jansson reader read them, and not those of other addresses. */
    uint64_t want[ADC_DIGEST_COUNT];
    struct adc_user e = {.email = "ann@example.org", .other_emails = d.other_emails};
    adc_user_digest(&e, want);
    assert_true(c.items[0].digest[ADC_DIGEST_EMAILS] == want[ADC_DIGEST_EMAILS]);
    e.other_emails = "second\"q@example.org\na.alias@example.org"; /* another order */
    adc_user_digest(&e, want);
    assert_false(c.items[0].digest[ADC_DIGEST_EMAILS] == want[ADC_DIGEST_EMAILS]);
    adc_cloud_users_done(&c);
    free(text);
    json_decref(list);
    json_decref(j);
}

static void error_detail(void **state) {
    (void)state;
    json_t *j = json_loads("{\"status\":\"409\",\"scimType\":\"uniqueness\",\"detail\":\"taken\"}",
                           0, NULL);
    assert_string_equal(adc_scim_error_detail(j), "taken");
    json_object_del(j, "detail");
    assert_string_equal(adc_scim_error_detail(j), "uniqueness");
    assert_null(adc_scim_error_detail(NULL));
    json_decref(j);
}

static void cloud_users_share_blocks_and_provider(void **state) {
    (void)state;
    struct adc_cloud_users c;
    adc_cloud_users_init(&c);
    assert_int_equal(adc_cloud_users_reserve(&c, 3), 0);
    char long_name[300000]; /* larger than a block */
    memset(long_name, 'x', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    for (int i = 0; i < 200; i++) {
        json_t *j =
            json_pack("{s:s, s:s, s:{s:s}}", "id", i == 7 ? long_name : "id", "userName", "u",
                      ADC_SCIM_SCHEMA_PROVIDER, "provider", i < 150 ? "app-1" : "local");
        struct adc_user u;
        assert_int_equal(adc_scim_user_from_json(j, &u), 0);
        assert_non_null(adc_cloud_users_add(&c, &u));
        adc_user_done(&u);
        json_decref(j);
    }
    assert_int_equal(c.n, 200);
    char id_buf[ADC_UUID_TEXT];
    assert_string_equal(adc_cloud_user_id(&c.items[7], id_buf), long_name);
    assert_string_equal(adc_cloud_user_provider(&c.items[0]), "app-1");
    assert_ptr_equal(adc_cloud_user_provider(&c.items[149]), adc_cloud_user_provider(&c.items[0]));
    assert_string_equal(adc_cloud_user_provider(&c.items[150]), "local");
    assert_ptr_equal(adc_cloud_user_provider(&c.items[199]),
                     adc_cloud_user_provider(&c.items[150]));
    /* Not kept for the plan: the compact record has no meta.version at all, and the
     * attributes only as digests (absent ones digest as empty ones do). */
    uint64_t none[ADC_DIGEST_COUNT];
    adc_user_digest(&(struct adc_user){.display_name = ""}, none);
    assert_memory_equal(c.items[3].digest, none, sizeof(none));
    assert_true(c.items[3].active);
    adc_cloud_users_done(&c);
    adc_cloud_users_done(NULL);
}

/* Identifiers in the canonical lowercase UUID form are kept as 16 bytes and given back as the
 * same text; any other text (uppercase, braces, 389-ds's nsUniqueId) is kept as it is. */
static void cloud_user_identifiers(void **state) {
    (void)state;
    static const char *const ids[] = {"0190d4c0-1234-7abc-8def-0123456789ab",
                                      "0190D4C0-1234-7ABC-8DEF-0123456789AB",
                                      "{0190d4c0-1234-7abc-8def-0123456789ab}",
                                      "c0a8e3a1-4e1a11ef-8f2fd6c3-1d5c1ab2",
                                      "0190d4c0-1234-7abc-8def-0123456789a",
                                      "0190d4c0-1234-7abc-8def-0123456789abc",
                                      "0190d4c0x1234-7abc-8def-0123456789ab",
                                      "g190d4c0-1234-7abc-8def-0123456789ab",
                                      "7"};
    struct adc_cloud_users c;
    adc_cloud_users_init(&c);
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        struct adc_user u = {
            .id = (char *)ids[i], .user_name = "u", .external_id = i % 2 ? (char *)ids[i] : NULL};
        const struct adc_cloud_user *cu = adc_cloud_users_add(&c, &u);
        assert_non_null(cu);
        char buf[ADC_UUID_TEXT], ext_buf[ADC_UUID_TEXT];
        assert_string_equal(adc_cloud_user_id(cu, buf), ids[i]);
        assert_int_equal(cu->ident_uuid & 1, i == 0);
        if (i % 2) {
            assert_string_equal(adc_cloud_user_external_id(cu, ext_buf), ids[i]);
            assert_true(adc_cloud_user_has_external_id(cu));
        } else {
            assert_null(adc_cloud_user_external_id(cu, ext_buf));
            assert_false(adc_cloud_user_has_external_id(cu));
        }
    }
    adc_cloud_users_done(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_a_full_resource),
        cmocka_unit_test(minimal_resource_defaults),
        cmocka_unit_test(rejects_what_is_not_a_user),
        cmocka_unit_test(writes_a_resource_and_reads_it_back),
        cmocka_unit_test(escapes_what_json_requires),
        cmocka_unit_test(error_detail),
        cmocka_unit_test(other_emails_round_trip),
        cmocka_unit_test(cloud_users_share_blocks_and_provider),
        cmocka_unit_test(cloud_user_identifiers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
