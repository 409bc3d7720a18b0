#include "common/settings.h"

#include <string.h>

#include "common/macros.h"

static const char *const names[ADC_SETTING_COUNT] = {
    [ADC_SETTING_DRY_RUN] = "dry-run",
    [ADC_SETTING_NO_UPDATE] = "no-update",
    [ADC_SETTING_NO_CREATE] = "no-create",
    [ADC_SETTING_NO_DELETE] = "no-delete",
    [ADC_SETTING_DELETE_DISABLES] = "delete-disables",
    [ADC_SETTING_NO_UPDATE_PROVIDER_MISMATCH] = "no-update-provider-mismatch",
    [ADC_SETTING_CREATE_AS_DISABLED] = "create-as-disabled",
};

const char *adc_setting_name(enum adc_setting s) {
    return (unsigned)s < ADC_SETTING_COUNT ? names[s] : NULL;
}

int adc_setting_from_name(const char *name) {
    for (int i = 0; i < ADC_SETTING_COUNT; i++)
        if (adc_streq(names[i], name))
            return i;
    return -1;
}

const char *adc_setting_source_name(enum adc_setting_source src) {
    switch (src) {
    case ADC_SOURCE_DEFAULT: return "default";
    case ADC_SOURCE_YAML: return "adc.yaml";
    case ADC_SOURCE_SERVER: return "server";
    case ADC_SOURCE_COMMAND_LINE: return "command line";
    }
    return "?";
}
