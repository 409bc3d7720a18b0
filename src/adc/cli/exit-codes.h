/* Exit status of adc, docs/product.md section 3. */
#pragma once

enum adc_exit {
    ADC_EXIT_OK = 0,
    ADC_EXIT_FAILURE = 1,       /* runtime failure (also: password denied for `adc auth`) */
    ADC_EXIT_USAGE = 2,
    ADC_EXIT_CONFIG = 3,        /* invalid configuration */
    ADC_EXIT_GUARD = 4,         /* stopped by a safety guard, nothing changed */
    ADC_EXIT_PARTIAL = 5,       /* finished, but some users failed */
    ADC_EXIT_BUSY = 6,          /* another sync of this configuration is in progress */
};
