/* The parts of the wire contract that are code: see wire.h. */
#include "common/wire.h"

#include <string.h>

bool adc_run_status_finished(const char *status) {
    return status &&
           (strcmp(status, ADC_RUN_SUCCEEDED) == 0 || strcmp(status, ADC_RUN_FAILED) == 0);
}

bool adc_wire_id_valid(const char *id) {
    if (!id)
        return false;
    size_t n = strlen(id);
    if (n == 0 || n > ADC_WIRE_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}
