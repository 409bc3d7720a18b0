/* The tree-less readers of Bulk requests (scim-bulk-read.c) and of the User of a create
 * (scim-user-scan.c): what adc sends is read by them, not handed on to jansson (that would
 * only be slower, so no other test would notice), and what they must not decide is declined.
 * That both readers agree where both accept is the fuzz target bulk-read's job. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "scim/scim-bulk-read.h"
#include "scim/scim-user-scan.h"

#define BULK "urn:ietf:params:scim:api:messages:2.0:BulkRequest"

/* A request as adc writes it (scim-client.c): compact, two creates. */
static const char adc_request[] =
    "{\"schemas\":[\"" BULK "\"],\"failOnErrors\":1000,\"Operations\":["
    "{\"method\":\"POST\",\"bulkId\":\"c0\",\"path\":\"/Users\",\"data\":{\"schemas\":["
    "\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"userName\":\"ann@example.com\","
    "\"externalId\":\"0b7c-1\",\"displayName\":\"Ann A\",\"name\":{\"givenName\":\"Ann\","
    "\"familyName\":\"A\"},\"emails\":[{\"value\":\"ann@example.com\",\"primary\":true}],"
    "\"active\":true}},"
    "{\"method\":\"POST\",\"bulkId\":\"c1\",\"path\":\"/Users\",\"data\":{\"userName\":"
    "\"j\\u00f6rg@example.com\",\"externalId\":\"0b7c-2\",\"active\":false,"
    "\"password\":\"never stored\"}}]}";

static struct adc_principal sync_principal(bool create_as_disabled) {
    struct adc_principal who = {.kind = ADC_PRINCIPAL_SYNC};
    strcpy(who.app_id, "app-1");
    memset(who.settings, ADC_UNSET, sizeof(who.settings));
    if (create_as_disabled)
        who.settings[ADC_SETTING_CREATE_AS_DISABLED] = ADC_TRUE;
    return who;
}

static void reads_what_adc_sends(void **state) {
    (void)state;
    struct adc_bulk_request br;
    assert_int_equal(adc_bulk_read_text(adc_request, strlen(adc_request), &br), 0);
    assert_int_equal(br.n_ops, 2);
    assert_int_equal(br.fail_on, 1000);
    assert_string_equal(br.ops[1].method, "POST");
    assert_string_equal(br.ops[1].bulk_id, "c1");
    assert_string_equal(br.ops[1].path, "/Users");
    assert_null(br.ops[1].version);
    assert_int_equal(br.ops[0].data_text[0], '{');
    assert_int_equal(br.ops[0].data_text[br.ops[0].data_len - 1], '}');

    struct adc_principal who = sync_principal(false);
    struct adc_scim_ctx ctx = {.who = &who};
    struct adc_scim_new_user nu;
    assert_int_equal(
        adc_scim_user_create_prepare_text(&ctx, br.ops[0].data_text, br.ops[0].data_len, &nu), 0);
    assert_string_equal(nu.u.user_name, "ann@example.com");
    assert_string_equal(nu.u.external_id, "0b7c-1");
    assert_string_equal(nu.u.provider, "app-1");
    assert_true(nu.u.active);
    assert_false(nu.check_provider);
    assert_string_equal(nu.u.data,
                        "{\"userName\":\"ann@example.com\",\"externalId\":\"0b7c-1\","
                        "\"displayName\":\"Ann A\",\"name\":{\"givenName\":\"Ann\","
                        "\"familyName\":\"A\"},\"emails\":[{\"value\":\"ann@example.com\","
                        "\"primary\":true}],\"active\":true}");
    adc_scim_new_user_done(&nu);

    assert_int_equal(
        adc_scim_user_create_prepare_text(&ctx, br.ops[1].data_text, br.ops[1].data_len, &nu), 0);
    assert_string_equal(nu.u.user_name, "j\xc3\xb6rg@example.com"); /* decoded */
    assert_false(nu.u.active);
    assert_null(strstr(nu.u.data, "password"));
    adc_scim_new_user_done(&nu);
    adc_bulk_request_done(&br);
}

static void create_as_disabled_and_whitespace(void **state) {
    (void)state;
    struct adc_principal who = sync_principal(true);
    struct adc_scim_ctx ctx = {.who = &who};
    struct adc_scim_new_user nu;
    const char *user = " { \"userName\" : \"a b\" , \"emails\" : [ { \"value\" : \"x y\" } ] } ";
    assert_int_equal(adc_scim_user_create_prepare_text(&ctx, user, strlen(user), &nu), 0);
    assert_false(nu.u.active);
    assert_string_equal(nu.u.data,
                        "{\"userName\":\"a b\",\"emails\":[{\"value\":\"x y\"}],\"active\":false}");
    adc_scim_new_user_done(&nu);
}

static void declines_what_jansson_must_decide(void **state) {
    (void)state;
    struct adc_principal who = sync_principal(false);
    struct adc_scim_ctx ctx = {.who = &who};
    struct adc_scim_new_user nu;
    const char *users[] = {
        "{\"userName\":\"a\",\"USERNAME\":\"b\"}", /* which one counts */
        "{\"userName\":\"a\",\"name\":{\"givenName\":\"x\",\"givenName\":\"y\"}}",
        "{\"userName\":\"a\",\"displayName\":5}", /* an error to report */
        "{\"userName\":\"a\",\"active\":\"yes\"}",
        "{\"userName\":\"\"}",
        "{\"displayName\":\"no userName\"}",
        "{\"userName\":\"a\",\"schemas\":[\"urn:other\"]}",
        "[\"not an object\"]",
        "{\"userName\":\"a\"} trailing",
    };
    for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++)
        if (adc_scim_user_create_prepare_text(&ctx, users[i], strlen(users[i]), &nu) != -1)
            fail_msg("accepted %s", users[i]);
    who.settings[ADC_SETTING_NO_CREATE] = ADC_TRUE; /* the 403 comes from the other reader */
    const char *ok = "{\"userName\":\"a\"}";
    assert_int_equal(adc_scim_user_create_prepare_text(&ctx, ok, strlen(ok), &nu), -1);

    struct adc_bulk_request br;
    const char *requests[] = {
        "{\"failOnErrors\":1.0,\"Operations\":[]}",
        "{\"failOnErrors\":0,\"Operations\":[]}",
        "{\"Operations\":[1]}",
        "{\"Operations\":[{\"method\":7}]}",
        "{\"Operations\":[{\"method\":\"POST\",\"method\":\"PUT\"}]}",
        "{\"schemas\":[],\"Operations\":[]}",
        "{\"schemas\":[\"urn:other\"],\"Operations\":[]}",
        "{\"Operations\":{}}",
        "{\"schemas\":[\"" BULK "\"]}",
        "{\"Operations\":[]",
    };
    for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++)
        if (adc_bulk_read_text(requests[i], strlen(requests[i]), &br) != -1)
            fail_msg("accepted %s", requests[i]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_what_adc_sends),
        cmocka_unit_test(create_as_disabled_and_whitespace),
        cmocka_unit_test(declines_what_jansson_must_decide),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
