/* common/buf: the one growable buffer (plain and secret), the array growth rule, and the
 * printf-into-a-new-string helpers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/wire.h"

static void zeroed_buffer_is_empty_and_usable(void **state) {
    (void)state;
    struct adc_buf b = {0};
    assert_int_equal(adc_buf_puts(&b, "ab"), 0);
    assert_int_equal(adc_buf_printf(&b, "%d", 42), 0);
    size_t len;
    char *s = adc_buf_take(&b, &len);
    assert_string_equal(s, "ab42");
    assert_int_equal(len, 4);
    free(s);
    /* taken: the buffer is empty again, and an empty take is "" */
    s = adc_buf_take(&b, NULL);
    assert_string_equal(s, "");
    free(s);
}

static void clear_keeps_memory_and_forgets_a_failure(void **state) {
    (void)state;
    struct adc_buf b;
    adc_buf_init(&b, 8);
    assert_int_equal(adc_buf_puts(&b, "1234"), 0);
    assert_int_equal(adc_buf_puts(&b, "56789"), -E2BIG);
    assert_true(b.failed);
    assert_int_equal(adc_buf_puts(&b, "x"), -ENOMEM); /* failed: appends do nothing */
    adc_buf_clear(&b);
    assert_false(b.failed);
    assert_int_equal(b.len, 0);
    assert_int_equal(adc_buf_puts(&b, "again"), 0);
    assert_string_equal(b.data, "again");
    adc_buf_done(&b);
}

static void secret_buffer_keeps_its_content_across_growth(void **state) {
    (void)state;
    struct adc_buf b;
    adc_buf_init_secret(&b, 0);
    char chunk[1000];
    for (size_t i = 0; i < sizeof(chunk); i++)
        chunk[i] = (char)('a' + i % 26);
    for (int i = 0; i < 100; i++)
        assert_int_equal(adc_buf_append(&b, chunk, sizeof(chunk)), 0);
    assert_int_equal(b.len, 100 * sizeof(chunk));
    for (int i = 0; i < 100; i++)
        assert_memory_equal(b.data + i * sizeof(chunk), chunk, sizeof(chunk));
    assert_int_equal(b.data[b.len], '\0');
    adc_buf_clear(&b);
    assert_int_equal(b.data[0], '\0');
    adc_buf_done(&b);
    assert_null(b.data);
}

static void reserve_sizes_once_and_respects_max(void **state) {
    (void)state;
    struct adc_buf b;
    adc_buf_init_secret(&b, 100);
    assert_int_equal(adc_buf_reserve(&b, 101), -E2BIG); /* over max: refused, still usable */
    assert_false(b.failed);
    assert_int_equal(adc_buf_reserve(&b, 60), 0);
    assert_non_null(b.data);
    assert_string_equal(b.data, ""); /* NUL-terminated from the start */
    char *block = b.data;
    size_t cap = b.cap;
    assert_int_equal(cap, 61);
    for (int i = 0; i < 6; i++)
        assert_int_equal(adc_buf_puts(&b, "0123456789"), 0);
    assert_ptr_equal(b.data, block); /* the appends up to the reservation stay in its block */
    assert_int_equal(b.cap, cap);
    assert_int_equal(adc_buf_reserve(&b, 40), 0); /* 60 held + 40 = max */
    assert_int_equal(adc_buf_reserve(&b, 41), -E2BIG);
    assert_memory_equal(b.data, "0123456789", 10);
    assert_int_equal(b.len, 60);
    assert_int_equal(adc_buf_reserve(&b, 10), 0); /* room already there: nothing moves */
    adc_buf_done(&b);

    struct adc_buf z = {0}; /* a zeroed one (default max) */
    assert_int_equal(adc_buf_reserve(&z, 1000), 0);
    assert_int_equal(adc_buf_puts(&z, "x"), 0);
    assert_string_equal(z.data, "x");
    adc_buf_done(&z);
}

static void grow_array_doubles_and_refuses_overflow(void **state) {
    (void)state;
    int *v = NULL;
    size_t cap = 0;
    for (size_t n = 0; n < 1000; n++) {
        assert_int_equal(adc_grow_array(v, cap, n, 16), 0);
        assert_true(cap > n);
        v[n] = (int)n;
    }
    assert_int_equal(cap, 1024);
    for (size_t n = 0; n < 1000; n++)
        assert_int_equal(v[n], (int)n);
    free(v);

    struct big {
        char x[1 << 20];
    } *b = NULL;
    size_t bcap = SIZE_MAX / 2;
    assert_int_equal(adc_grow_array(b, bcap, bcap, 16), -ENOMEM);
    assert_null(b);
    assert_int_equal(bcap, SIZE_MAX / 2);
}

static void grow_array_n_knows_the_capacity_from_the_count(void **state) {
    (void)state;
    char **v = NULL;
    size_t n = 0;
    for (; n < 1000; n++) {
        assert_int_equal(adc_grow_array_n(v, n, 4), 0);
        v[n] = (char *)v; /* every place written: ASan sees an overflow */
    }
    assert_int_equal(adc_grow_array_n(v, n, 4), 0); /* 1000 in 1024: nothing to do */
    free(v);
}

static void printf_helpers(void **state) {
    (void)state;
    char *s = adc_strdup_printf("%s-%03d", "run", 7);
    assert_string_equal(s, "run-007");
    free(s);
    char *err = NULL;
    adc_set_error(&err, "no '%s' in adc.cfg", "server");
    assert_string_equal(err, "no 'server' in adc.cfg");
    free(err);
    adc_set_error(NULL, "ignored %d", 1); /* no out-parameter: nothing happens */
}

static void read_file_whole_or_refused(void **state) {
    (void)state;
    char path[] = "/tmp/adc-test-buf-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "key: value\n", 11), 11);
    close(fd);
    char *s = NULL;
    size_t len = 0;
    assert_int_equal(adc_read_file(path, 11, &s, &len), 0);
    assert_int_equal(len, 11);
    assert_string_equal(s, "key: value\n");
    free(s);
    s = NULL;
    assert_int_equal(adc_read_file(path, 10, &s, &len), -EFBIG);
    assert_null(s);
    assert_int_equal(len, 11); /* untouched on failure */
    unlink(path);
    assert_int_equal(adc_read_file(path, 10, &s, NULL), -ENOENT);
    assert_null(s);
}

static void wire_ids_and_run_statuses(void **state) {
    (void)state;
    assert_true(adc_wire_id_valid("a-B_9.z"));
    char max[ADC_WIRE_ID_MAX + 2];
    memset(max, 'x', sizeof(max));
    max[ADC_WIRE_ID_MAX] = '\0';
    assert_true(adc_wire_id_valid(max));
    max[ADC_WIRE_ID_MAX] = 'x';
    max[ADC_WIRE_ID_MAX + 1] = '\0';
    assert_false(adc_wire_id_valid(max));
    assert_false(adc_wire_id_valid(""));
    assert_false(adc_wire_id_valid(NULL));
    assert_false(adc_wire_id_valid("a/b"));
    assert_false(adc_wire_id_valid("a?b"));
    assert_false(adc_wire_id_valid("a%2Fb"));
    assert_false(adc_wire_id_valid("é"));
    assert_true(adc_run_status_finished(ADC_RUN_SUCCEEDED));
    assert_true(adc_run_status_finished(ADC_RUN_FAILED));
    assert_false(adc_run_status_finished(ADC_RUN_RUNNING));
    assert_false(adc_run_status_finished(ADC_RUN_QUEUED));
    assert_false(adc_run_status_finished(NULL));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(zeroed_buffer_is_empty_and_usable),
        cmocka_unit_test(clear_keeps_memory_and_forgets_a_failure),
        cmocka_unit_test(secret_buffer_keeps_its_content_across_growth),
        cmocka_unit_test(reserve_sizes_once_and_respects_max),
        cmocka_unit_test(grow_array_doubles_and_refuses_overflow),
        cmocka_unit_test(grow_array_n_knows_the_capacity_from_the_count),
        cmocka_unit_test(printf_helpers),
        cmocka_unit_test(read_file_whole_or_refused),
        cmocka_unit_test(wire_ids_and_run_statuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
