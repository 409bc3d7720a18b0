/* The config loaders read a named file: the fuzz input is written to one in a private directory,
 * so that relative paths it names (secret_file, bind_password_file, ca_file) stay inside that
 * directory. The directory is removed at exit. */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char fuzz_dir[] = "/tmp/adc-fuzz-XXXXXX";
static char fuzz_path[64];

static void fuzz_file_cleanup(void) {
    unlink(fuzz_path);
    rmdir(fuzz_dir);
}

/* Writes data to <private dir>/name (the same name on every call) and returns its path. */
static const char *fuzz_file_write(const char *name, const uint8_t *data, size_t size) {
    if (!fuzz_path[0]) {
        if (!mkdtemp(fuzz_dir))
            abort();
        atexit(fuzz_file_cleanup);
        snprintf(fuzz_path, sizeof fuzz_path, "%s/%s", fuzz_dir, name);
    }
    FILE *f = fopen(fuzz_path, "w");
    if (!f)
        abort();
    fwrite(data, 1, size, f);
    fclose(f);
    return fuzz_path;
}
