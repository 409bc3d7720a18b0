/* Administrator password hashing (src/server/password.c): yescrypt through libxcrypt. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "http/password.h"
#include "common/secret.h"

static void test_roundtrip(void **state) {
    (void)state;
    char *h = NULL;
    assert_int_equal(adc_password_hash("correct horse battery staple", &h), 0);
    assert_non_null(h);
    assert_memory_equal(h, "$y$", 3); /* yescrypt, as Debian's /etc/shadow */
    assert_null(strstr(h, "correct horse"));
    assert_true(adc_password_verify("correct horse battery staple", h));
    assert_false(adc_password_verify("correct horse battery stapl", h));
    assert_false(adc_password_verify("correct horse battery staple ", h));
    assert_false(adc_password_verify("", h));
    adc_secret_free(h);
}

static void test_salted(void **state) {
    (void)state;
    char *a = NULL, *b = NULL;
    assert_int_equal(adc_password_hash("the same password", &a), 0);
    assert_int_equal(adc_password_hash("the same password", &b), 0);
    assert_string_not_equal(a, b); /* a fresh salt every time */
    assert_true(adc_password_verify("the same password", b));
    adc_secret_free(a);
    adc_secret_free(b);
}

static void test_limits(void **state) {
    (void)state;
    char *h = (char *)"untouched";
    assert_int_equal(adc_password_hash("short", &h), -EINVAL);
    assert_int_equal(adc_password_hash("", &h), -EINVAL);
    assert_int_equal(adc_password_hash(NULL, &h), -EINVAL);
    char big[ADC_PASSWORD_MAX + 2];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(adc_password_hash(big, &h), -EINVAL);
    assert_string_equal(h, "untouched"); /* output written only on success */
    big[ADC_PASSWORD_MAX] = '\0';        /* exactly the maximum is fine */
    assert_int_equal(adc_password_hash(big, &h), 0);
    assert_true(adc_password_verify(big, h));
    adc_secret_free(h);
}

static void test_bad_stored_hash(void **state) {
    (void)state;
    assert_false(adc_password_verify("anything at all", NULL));
    assert_false(adc_password_verify("anything at all", ""));
    assert_false(adc_password_verify("anything at all", "*"));
    assert_false(adc_password_verify("anything at all", "$y$garbage"));
    assert_false(adc_password_verify(NULL, "$y$j9T$abc"));
}

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* An unknown account must cost what a wrong password costs (no user enumeration by timing);
 * both must be slow enough to matter (at least 5 ms a guess). The fastest of several
 * interleaved tries is compared: other processes on a shared machine only ever add time. */
static void test_dummy_costs_like_a_check(void **state) {
    (void)state;
    char *h = NULL;
    assert_int_equal(adc_password_hash("a real password here", &h), 0);
    double real = 1e9, dummy = 1e9;
    for (int i = 0; i < 7; i++) {
        double t0 = seconds();
        assert_false(adc_password_verify("a wrong password", h));
        double t1 = seconds();
        adc_password_verify_dummy("a wrong password");
        double t2 = seconds();
        if (t1 - t0 < real)
            real = t1 - t0;
        if (t2 - t1 < dummy)
            dummy = t2 - t1;
    }
    assert_true(real > 0.005);
    assert_true(dummy > real * 0.5 && dummy < real * 2.0);
    adc_secret_free(h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_salted),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_bad_stored_hash),
        cmocka_unit_test(test_dummy_costs_like_a_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
