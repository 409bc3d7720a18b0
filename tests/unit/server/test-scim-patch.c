/* SCIM PATCH (RFC 7644 section 3.5.2) on resources in memory: add, replace and remove with
 * plain, sub-attribute, URN and value-filter paths, and the errors with their scimType. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "scim/scim-user.h"

static const char *base =
    "{\"userName\":\"ann\",\"displayName\":\"Ann\",\"name\":{\"givenName\":\"Ann\","
    "\"familyName\":\"A\"},\"emails\":[{\"value\":\"ann@work\",\"type\":\"work\"},"
    "{\"value\":\"ann@home\",\"type\":\"home\",\"primary\":true}],\"active\":true}";

/* Applies ops (a JSON array text) to base; returns the result as compact sorted JSON text, or
 * "ERR:<scimType>" */
static char *apply(const char *ops) {
    static char out[2048];
    json_t *res = json_loads(base, 0, NULL);
    char body[1500];
    snprintf(body, sizeof(body), "{\"schemas\":[\"%s\"],\"Operations\":%s}", ADC_SCIM_SCHEMA_PATCH,
             ops);
    json_t *b = json_loads(body, 0, NULL);
    assert_non_null(b);
    const char *type = NULL;
    char err[300];
    if (adc_scim_patch_apply(res, b, &type, err, sizeof(err)) < 0) {
        snprintf(out, sizeof(out), "ERR:%s", type ? type : "?");
    } else {
        char *t = json_dumps(res, JSON_COMPACT | JSON_SORT_KEYS);
        snprintf(out, sizeof(out), "%s", t);
        free(t);
    }
    json_decref(b);
    json_decref(res);
    return out;
}

static json_t *result(const char *ops) {
    json_t *j = json_loads(apply(ops), 0, NULL);
    if (!j)
        fail_msg("%s gave %s", ops, apply(ops));
    return j;
}

static void simple_paths(void **state) {
    (void)state;
    json_t *j = result("[{\"op\":\"replace\",\"path\":\"DISPLAYNAME\",\"value\":\"X\"},"
                       "{\"op\":\"add\",\"path\":\"title\",\"value\":\"T\"},"
                       "{\"op\":\"remove\",\"path\":\"name.familyName\"},"
                       "{\"op\":\"add\",\"path\":\"name.middleName\",\"value\":\"M\"}]");
    assert_string_equal(json_string_value(json_object_get(j, "displayName")), "X");
    assert_null(json_object_get(j, "DISPLAYNAME")); /* the existing key's spelling is kept */
    assert_string_equal(json_string_value(json_object_get(j, "title")), "T");
    json_t *name = json_object_get(j, "name");
    assert_null(json_object_get(name, "familyName"));
    assert_string_equal(json_string_value(json_object_get(name, "middleName")), "M");
    assert_string_equal(json_string_value(json_object_get(name, "givenName")), "Ann");
    json_decref(j);
}

static void no_path_merges(void **state) {
    (void)state;
    json_t *j = result("[{\"op\":\"Replace\",\"value\":{\"name\":{\"familyName\":\"B\"},"
                       "\"active\":false,\"id\":\"ignored\"}},"
                       "{\"op\":\"Add\",\"value\":{\"emails\":[{\"value\":\"x@y\"}]}}]");
    json_t *name = json_object_get(j, "name");
    assert_string_equal(json_string_value(json_object_get(name, "familyName")), "B");
    assert_string_equal(json_string_value(json_object_get(name, "givenName")), "Ann");
    assert_true(json_is_false(json_object_get(j, "active")));
    assert_null(json_object_get(j, "id"));
    assert_int_equal(json_array_size(json_object_get(j, "emails")), 3); /* add appends */
    json_decref(j);
}

static void multi_valued(void **state) {
    (void)state;
    json_t *j = result("[{\"op\":\"replace\",\"path\":\"emails[type eq \\\"work\\\"].value\","
                       "\"value\":\"new@work\"},"
                       "{\"op\":\"remove\",\"path\":\"emails[primary eq true]\"}]");
    json_t *e = json_object_get(j, "emails");
    assert_int_equal(json_array_size(e), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(e, 0), "value")),
                        "new@work");
    json_decref(j);
    j = result("[{\"op\":\"replace\",\"path\":\"emails\",\"value\":[{\"value\":\"only\"}]}]");
    assert_int_equal(json_array_size(json_object_get(j, "emails")), 1);
    json_decref(j);
    j = result("[{\"op\":\"remove\",\"path\":\"emails\"}]");
    assert_null(json_object_get(j, "emails"));
    json_decref(j);
    /* remove with a filter that matches nothing: nothing to do */
    j = result("[{\"op\":\"remove\",\"path\":\"emails[type eq \\\"other\\\"]\"}]");
    assert_int_equal(json_array_size(json_object_get(j, "emails")), 2);
    json_decref(j);
}

static void extension_urns(void **state) {
    (void)state;
    json_t *j = result("[{\"op\":\"add\",\"path\":\"" ADC_SCIM_SCHEMA_ENTERPRISE
                       ":employeeNumber\",\"value\":\"7\"},"
                       "{\"op\":\"add\",\"path\":\"" ADC_SCIM_SCHEMA_ENTERPRISE
                       ":manager.value\",\"value\":\"boss\"},"
                       "{\"op\":\"replace\",\"path\":\"" ADC_SCIM_SCHEMA_USER
                       ":displayName\",\"value\":\"Core\"},"
                       "{\"op\":\"replace\",\"path\":\"" ADC_SCIM_SCHEMA_PROVIDER
                       ":provider\",\"value\":\"app\"}]");
    json_t *ent = json_object_get(j, ADC_SCIM_SCHEMA_ENTERPRISE);
    assert_string_equal(json_string_value(json_object_get(ent, "employeeNumber")), "7");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(ent, "manager"), "value")), "boss");
    assert_string_equal(json_string_value(json_object_get(j, "displayName")), "Core");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(j, ADC_SCIM_SCHEMA_PROVIDER), "provider")),
                        "app");
    json_decref(j);
    j = result("[{\"op\":\"remove\",\"path\":\"" ADC_SCIM_SCHEMA_ENTERPRISE ":department\"}]");
    assert_null(json_object_get(j, ADC_SCIM_SCHEMA_ENTERPRISE));
    json_decref(j);
}

static void errors(void **state) {
    (void)state;
    assert_string_equal(apply("[]"), "ERR:invalidSyntax");
    assert_string_equal(apply("[{\"op\":\"move\",\"path\":\"a\"}]"), "ERR:invalidSyntax");
    assert_string_equal(apply("[{\"op\":\"add\",\"path\":\"title\"}]"), "ERR:invalidValue");
    assert_string_equal(apply("[{\"op\":\"add\",\"value\":\"x\"}]"), "ERR:invalidValue");
    assert_string_equal(apply("[{\"op\":\"remove\"}]"), "ERR:noTarget");
    assert_string_equal(apply("[{\"op\":\"replace\",\"path\":\"meta.version\",\"value\":1}]"),
                        "ERR:mutability");
    assert_string_equal(apply("[{\"op\":\"replace\",\"path\":\"emails[type eq \\\"x\\\"].value\","
                              "\"value\":\"v\"}]"),
                        "ERR:noTarget");
    assert_string_equal(apply("[{\"op\":\"replace\",\"path\":\"emails[type eq\",\"value\":1}]"),
                        "ERR:invalidPath");
    assert_string_equal(apply("[{\"op\":\"replace\",\"path\":\"emails[type qq 1]\",\"value\":1}]"),
                        "ERR:invalidFilter");
    assert_string_equal(apply("[{\"op\":\"replace\",\"path\":\"urn:unknown:x\",\"value\":1}]"),
                        "ERR:invalidPath");
    assert_string_equal(apply("[{\"op\":\"replace\",\"path\":\"a.b.c\",\"value\":1}]"),
                        "ERR:invalidPath");
    assert_string_equal(apply("[{\"op\":\"add\",\"path\":7,\"value\":1}]"), "ERR:invalidPath");
}

/* What big provisioning clients send (Entra, Okta): op in any case, paths as keys of a
 * path-less value, and a value filter that matches nothing yet. */
static void tolerant_reading(void **state) {
    (void)state;
    json_t *j = result("[{\"op\":\"Replace\",\"value\":{\"name.givenName\":\"Bo\","
                       "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department\":"
                       "\"R&D\",\"urn:ietf:params:scim:schemas:core:2.0:User:title\":\"Dr\","
                       "\"nickName\":\"B\"}}]");
    json_t *name = json_object_get(j, "name");
    assert_string_equal(json_string_value(json_object_get(name, "givenName")), "Bo");
    assert_string_equal(json_string_value(json_object_get(name, "familyName")), "A");
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(j, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
            "department")),
        "R&D");
    assert_string_equal(json_string_value(json_object_get(j, "title")), "Dr");
    assert_string_equal(json_string_value(json_object_get(j, "nickName")), "B");
    json_decref(j);
    /* add of emails[type eq "other"].value: no such value yet, so it is made */
    j = result("[{\"op\":\"ADD\",\"path\":\"emails[type eq \\\"other\\\"].value\","
               "\"value\":\"ann@other\"},"
               "{\"op\":\"add\",\"path\":\"phoneNumbers[type eq \\\"work\\\"].value\","
               "\"value\":\"+1 555\"}]");
    json_t *emails = json_object_get(j, "emails");
    assert_int_equal(json_array_size(emails), 3);
    json_t *other = json_array_get(emails, 2);
    assert_string_equal(json_string_value(json_object_get(other, "type")), "other");
    assert_string_equal(json_string_value(json_object_get(other, "value")), "ann@other");
    json_t *phone = json_array_get(json_object_get(j, "phoneNumbers"), 0);
    assert_string_equal(json_string_value(json_object_get(phone, "value")), "+1 555");
    json_decref(j);
    /* the existing work address is replaced, not duplicated */
    j = result("[{\"op\":\"replace\",\"path\":\"emails[type eq \\\"work\\\"].value\","
               "\"value\":\"ann@new\"}]");
    emails = json_object_get(j, "emails");
    assert_int_equal(json_array_size(emails), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(emails, 0), "value")),
                        "ann@new");
    json_decref(j);
    /* a filter that does not say what to make, or a replace, still finds no target */
    assert_string_equal(apply("[{\"op\":\"add\",\"path\":\"emails[value co \\\"x\\\"].type\","
                              "\"value\":\"w\"}]"),
                        "ERR:noTarget");
    assert_string_equal(
        apply("[{\"op\":\"Replace\",\"path\":\"emails[type eq \\\"other\\\"].value\","
              "\"value\":\"w\"}]"),
        "ERR:noTarget");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(simple_paths), cmocka_unit_test(no_path_merges),
        cmocka_unit_test(multi_valued), cmocka_unit_test(extension_urns),
        cmocka_unit_test(errors),       cmocka_unit_test(tolerant_reading),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
