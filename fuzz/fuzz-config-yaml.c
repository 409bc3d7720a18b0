/* adc.yaml from arbitrary bytes: the loader reports or accepts, never crashes or leaks. The
 * input is written to a file in a private directory, so that relative paths it names
 * (bind_password_file, ca_file) stay inside that directory. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/adc-fuzz-XXXXXX";
static char path[64];

static void cleanup(void) {
    unlink(path);
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!path[0]) {
        if (!mkdtemp(dir))
            abort();
        atexit(cleanup);
        snprintf(path, sizeof path, "%s/adc.yaml", dir);
    }
    FILE *f = fopen(path, "w");
    if (!f)
        abort();
    fwrite(data, 1, size, f);
    fclose(f);
    FILE *diag = fopen("/dev/null", "w");
    struct adc_yaml_config *c = NULL;
    if (adc_yaml_config_load(path, diag, &c) == 0)
        adc_yaml_config_free(c);
    fclose(diag);
    return 0;
}
