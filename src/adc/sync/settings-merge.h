/* The effective value of each synchronization setting, and where it came from (docs/product.md section
 * 2 and rule 7): `--dry-run` on the command line > the server's setting > adc.yaml > default
 * (false). */
#pragma once

#include <stdbool.h>

#include "common/settings.h"

struct adc_effective_settings {
    bool value[ADC_SETTING_COUNT];
    enum adc_setting_source source[ADC_SETTING_COUNT];
};

/* `yaml` and `server` hold ADC_UNSET where that side leaves a setting open; either may be NULL
 * (nothing set there). `cli_dry_run` is --dry-run: it can only turn a preview on, never off. */
void adc_settings_merge(const enum adc_tristate *yaml, const enum adc_tristate *server,
                        bool cli_dry_run, struct adc_effective_settings *out);
