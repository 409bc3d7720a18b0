/* Bounded JSON parsing and the growable buffer of src/common. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/json-util.h"

static void depth(void **state) {
    (void)state;
    assert_int_equal(adc_json_depth("1", 1, 5), 0);
    assert_int_equal(adc_json_depth("[[{}]]", 6, 5), 3);
    /* brackets inside strings, escaped quotes */
    const char *s = "[\"[[[[[[\\\"[[[[\"]";
    assert_int_equal(adc_json_depth(s, strlen(s), 2), 1);
    assert_int_equal(adc_json_depth("[[[[[[", 6, 5), -1);
}

static void parse(void **state) {
    (void)state;
    char err[200];
    json_t *j = adc_json_parse("{\"a\":[1,2]}", 11, 32, err, sizeof(err));
    assert_non_null(j);
    json_decref(j);
    assert_null(adc_json_parse("[[[[", 4, 3, err, sizeof(err)));
    assert_non_null(strstr(err, "deeper than 3"));
    assert_null(adc_json_parse("{\"a\":", 5, 32, err, sizeof(err)));
    assert_non_null(strstr(err, "line 1"));
}

static void append_string(void **state) {
    (void)state;
    struct adc_buf b;
    adc_buf_init(&b, 0);
    adc_json_append_string(&b, "a\"b\\c\n\x01\xc3\xa9");
    size_t len;
    char *t = adc_buf_take(&b, &len);
    assert_string_equal(t, "\"a\\\"b\\\\c\\u000a\\u0001\xc3\xa9\"");
    json_t *j = json_loadb(t, len, JSON_DECODE_ANY, NULL);
    assert_string_equal(json_string_value(j), "a\"b\\c\n\x01\xc3\xa9");
    json_decref(j);
    free(t);
}

/* What adc writes to adc-server: NULL is null, and a length-bounded string may hold a NUL. */
static void append_string_null_and_bounded(void **state) {
    (void)state;
    struct adc_buf b = {0};
    adc_json_append_string(&b, NULL);
    adc_buf_puts(&b, ",");
    adc_json_append_stringn(&b, "a\0b\nnot this", 3);
    char *t = adc_buf_take(&b, NULL);
    assert_string_equal(t, "null,\"a\\u0000b\"");
    free(t);
}

static void buffer_limit(void **state) {
    (void)state;
    struct adc_buf b;
    adc_buf_init(&b, 10);
    assert_int_equal(adc_buf_puts(&b, "12345"), 0);
    assert_int_equal(adc_buf_printf(&b, "%d", 12345), 0);
    assert_int_equal(adc_buf_puts(&b, "x"), -E2BIG);
    assert_true(b.failed);
    assert_int_equal(adc_buf_puts(&b, ""), -ENOMEM); /* stays failed */
    assert_null(adc_buf_take(&b, NULL));
    adc_buf_done(&b);
    adc_buf_init(&b, 0);
    char *empty = adc_buf_take(&b, NULL);
    assert_string_equal(empty, "");
    free(empty);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(depth),         cmocka_unit_test(parse),
        cmocka_unit_test(append_string), cmocka_unit_test(append_string_null_and_bounded),
        cmocka_unit_test(buffer_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
