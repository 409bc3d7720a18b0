/* Value helpers shared by the adc.yaml and adc.cfg loaders. */
#pragma once

#include <stdbool.h>

/* true/false/yes/no, any case. Returns 0 or -EINVAL. */
int adc_config_parse_bool(const char *s, bool *ret);
/* A decimal integer in [min, max]. Returns 0, -EINVAL (not an integer) or -ERANGE. */
int adc_config_parse_long(const char *s, long min, long max, long *ret);
/* `path` itself when absolute, else relative to the directory of `base_file`. New string. */
char *adc_config_path_resolve(const char *base_file, const char *path);
/* Reads a secret from a file: its first line without the line break. Returns 0, a negative
 * errno (-EFBIG above 4 KiB, -ENODATA when the first line is empty, -EINVAL when it is not a
 * regular file: a FIFO or a device would block or never end). */
int adc_config_read_secret_file(const char *path, char **ret);
/* Whether users other than the owner may read the file (group or other read bit). */
bool adc_config_readable_by_others(const char *path);
/* Whether the file can be opened for reading; returns 0 or a negative errno (-EISDIR,
 * -EINVAL when it is not a regular file). */
int adc_config_check_readable(const char *path);
/* The message for an error of the two functions above. */
const char *adc_config_file_error(int r);
