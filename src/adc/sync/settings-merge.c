#include "sync/settings-merge.h"

void adc_settings_merge(const enum adc_tristate *yaml, const enum adc_tristate *server,
                        bool cli_dry_run, struct adc_effective_settings *out) {
    for (int i = 0; i < ADC_SETTING_COUNT; i++) {
        out->value[i] = false;
        out->source[i] = ADC_SOURCE_DEFAULT;
        if (yaml && yaml[i] != ADC_UNSET) {
            out->value[i] = yaml[i] == ADC_TRUE;
            out->source[i] = ADC_SOURCE_YAML;
        }
        /* The server wins where it sets a value: it also enforces it on every request. */
        if (server && server[i] != ADC_UNSET) {
            out->value[i] = server[i] == ADC_TRUE;
            out->source[i] = ADC_SOURCE_SERVER;
        }
    }
    if (cli_dry_run) {
        out->value[ADC_SETTING_DRY_RUN] = true;
        out->source[ADC_SETTING_DRY_RUN] = ADC_SOURCE_COMMAND_LINE;
    }
}
