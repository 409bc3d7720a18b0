#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "agent/agent-backoff.h"

/* 1 s doubling up to 60 s, each delay within +-25 % of its nominal value. */
static void doubles_to_cap_with_jitter(void **state) {
    (void)state;
    struct adc_backoff b;
    adc_backoff_init(&b, 1000, 60000, 42);
    const unsigned nominal[] = {1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000};
    for (size_t i = 0; i < sizeof(nominal) / sizeof(nominal[0]); i++) {
        unsigned d = adc_backoff_next_ms(&b);
        assert_true(d >= nominal[i] * 3 / 4);
        assert_true(d <= nominal[i] * 5 / 4);
    }
    /* Far past the cap, still capped (no overflow after many failures). */
    for (int i = 0; i < 200; i++)
        assert_true(adc_backoff_next_ms(&b) <= 75000);
}

static void reset_starts_over(void **state) {
    (void)state;
    struct adc_backoff b;
    adc_backoff_init(&b, 1000, 60000, 7);
    for (int i = 0; i < 10; i++)
        adc_backoff_next_ms(&b);
    adc_backoff_reset(&b);
    unsigned d = adc_backoff_next_ms(&b);
    assert_true(d >= 750 && d <= 1250);
}

/* Two agents with different seeds do not retry in lockstep. */
static void jitter_spreads(void **state) {
    (void)state;
    struct adc_backoff a, b;
    adc_backoff_init(&a, 1000, 60000, 1);
    adc_backoff_init(&b, 1000, 60000, 2);
    int differ = 0;
    for (int i = 0; i < 8; i++)
        differ += adc_backoff_next_ms(&a) != adc_backoff_next_ms(&b);
    assert_true(differ >= 4);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(doubles_to_cap_with_jitter),
        cmocka_unit_test(reset_starts_over),
        cmocka_unit_test(jitter_spreads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
