/* adc.cfg from arbitrary bytes: the loader reports or accepts, never crashes or leaks. */
#include <stdint.h>
#include <stdio.h>

#include "config/config.h"
#include "fuzz-file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file_write("adc.cfg", data, size);
    FILE *diag = fopen("/dev/null", "w");
    struct adc_service_config *c = NULL;
    if (adc_service_config_load(path, diag, &c) == 0)
        adc_service_config_free(c);
    fclose(diag);
    return 0;
}
