/* adc.yaml from arbitrary bytes: the loader reports or accepts, never crashes or leaks. */
#include <stdint.h>
#include <stdio.h>

#include "config/config.h"
#include "fuzz-file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file_write("adc.yaml", data, size);
    FILE *diag = fopen("/dev/null", "w");
    struct adc_yaml_config *c = NULL;
    if (adc_yaml_config_load(path, diag, &c) == 0)
        adc_yaml_config_free(c);
    fclose(diag);
    return 0;
}
