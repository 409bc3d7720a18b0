/* Precedence of the effective settings (docs/product.md section 2, rule 7). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "sync/settings-merge.h"

static void all_unset_is_false_by_default(void **state) {
    (void)state;
    struct adc_effective_settings e;
    adc_settings_merge(NULL, NULL, false, &e);
    for (int i = 0; i < ADC_SETTING_COUNT; i++) {
        assert_false(e.value[i]);
        assert_int_equal(e.source[i], ADC_SOURCE_DEFAULT);
    }
}

static void server_wins_over_yaml_where_it_sets(void **state) {
    (void)state;
    enum adc_tristate yaml[ADC_SETTING_COUNT], server[ADC_SETTING_COUNT];
    for (int i = 0; i < ADC_SETTING_COUNT; i++)
        yaml[i] = server[i] = ADC_UNSET;
    yaml[ADC_SETTING_NO_DELETE] = ADC_TRUE;
    server[ADC_SETTING_NO_DELETE] = ADC_FALSE;
    yaml[ADC_SETTING_DELETE_DISABLES] = ADC_TRUE;
    server[ADC_SETTING_NO_CREATE] = ADC_TRUE;
    yaml[ADC_SETTING_NO_UPDATE] = ADC_FALSE;
    struct adc_effective_settings e;
    adc_settings_merge(yaml, server, false, &e);
    assert_false(e.value[ADC_SETTING_NO_DELETE]);
    assert_int_equal(e.source[ADC_SETTING_NO_DELETE], ADC_SOURCE_SERVER);
    assert_true(e.value[ADC_SETTING_DELETE_DISABLES]);
    assert_int_equal(e.source[ADC_SETTING_DELETE_DISABLES], ADC_SOURCE_YAML);
    assert_true(e.value[ADC_SETTING_NO_CREATE]);
    assert_int_equal(e.source[ADC_SETTING_NO_CREATE], ADC_SOURCE_SERVER);
    assert_false(e.value[ADC_SETTING_NO_UPDATE]);
    assert_int_equal(e.source[ADC_SETTING_NO_UPDATE], ADC_SOURCE_YAML);
    assert_int_equal(e.source[ADC_SETTING_CREATE_AS_DISABLED], ADC_SOURCE_DEFAULT);
}

static void command_line_dry_run_always_previews(void **state) {
    (void)state;
    enum adc_tristate yaml[ADC_SETTING_COUNT], server[ADC_SETTING_COUNT];
    for (int i = 0; i < ADC_SETTING_COUNT; i++)
        yaml[i] = server[i] = ADC_UNSET;
    server[ADC_SETTING_DRY_RUN] = ADC_FALSE;
    struct adc_effective_settings e;
    adc_settings_merge(yaml, server, true, &e);
    assert_true(e.value[ADC_SETTING_DRY_RUN]);
    assert_int_equal(e.source[ADC_SETTING_DRY_RUN], ADC_SOURCE_COMMAND_LINE);
    /* Without --dry-run the server's dry-run holds over adc.yaml's false. */
    yaml[ADC_SETTING_DRY_RUN] = ADC_FALSE;
    server[ADC_SETTING_DRY_RUN] = ADC_TRUE;
    adc_settings_merge(yaml, server, false, &e);
    assert_true(e.value[ADC_SETTING_DRY_RUN]);
    assert_int_equal(e.source[ADC_SETTING_DRY_RUN], ADC_SOURCE_SERVER);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(all_unset_is_false_by_default),
        cmocka_unit_test(server_wins_over_yaml_where_it_sets),
        cmocka_unit_test(command_line_dry_run_always_previews),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
