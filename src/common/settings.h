/* The seven synchronization settings of docs/product.md section 2, shared by adc (adc.yaml, command
 * line) and adc-server (server-side settings of a sync configuration). */
#pragma once

#include <stdbool.h>

enum adc_setting {
    ADC_SETTING_DRY_RUN,
    ADC_SETTING_NO_UPDATE,
    ADC_SETTING_NO_CREATE,
    ADC_SETTING_NO_DELETE,
    ADC_SETTING_DELETE_DISABLES,
    ADC_SETTING_NO_UPDATE_PROVIDER_MISMATCH,
    ADC_SETTING_CREATE_AS_DISABLED,
    ADC_SETTING_COUNT,
};

/* A setting's value where it may be left open: the server's "client decides", or a key absent
 * from adc.yaml. */
enum adc_tristate {
    ADC_UNSET = -1,
    ADC_FALSE = 0,
    ADC_TRUE = 1,
};

/* Where an effective value came from, printed by `adc imp`. */
enum adc_setting_source {
    ADC_SOURCE_DEFAULT,
    ADC_SOURCE_YAML,
    ADC_SOURCE_SERVER,
    ADC_SOURCE_COMMAND_LINE,
};

/* The documented key ("dry-run", "no-update", ...). */
const char *adc_setting_name(enum adc_setting s);
/* Index of a documented key, or -1. */
int adc_setting_from_name(const char *name);
const char *adc_setting_source_name(enum adc_setting_source src);
