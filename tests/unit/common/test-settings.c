#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "common/settings.h"

static void names_round_trip(void **state) {
    (void)state;
    for (int i = 0; i < ADC_SETTING_COUNT; i++)
        assert_int_equal(adc_setting_from_name(adc_setting_name(i)), i);
    assert_string_equal(adc_setting_name(ADC_SETTING_NO_UPDATE_PROVIDER_MISMATCH),
                        "no-update-provider-mismatch");
}

static void unknown_names_rejected(void **state) {
    (void)state;
    assert_int_equal(adc_setting_from_name("dry_run"), -1);
    assert_int_equal(adc_setting_from_name(""), -1);
    assert_int_equal(adc_setting_from_name(NULL), -1);
    assert_null(adc_setting_name(ADC_SETTING_COUNT));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_round_trip),
        cmocka_unit_test(unknown_names_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
