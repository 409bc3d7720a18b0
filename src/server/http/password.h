/* Slow password hashing for System Administrator accounts of the console: yescrypt ("$y$")
 * through libxcrypt, the default of Debian's /etc/shadow. */
#pragma once

#include <stdbool.h>

/* Shortest and longest password accepted for an administrator account. Long passphrases are
 * welcome; the upper bound (below libxcrypt's CRYPT_MAX_PASSPHRASE_SIZE of 512) keeps a
 * hostile request from feeding megabytes to the hash. */
#define ADC_PASSWORD_MIN 12
#define ADC_PASSWORD_MAX 256

/* Hashes a password with a fresh random salt. On success *ret is a new string
 * ("$y$j9T$..."). Returns 0, -EINVAL for a password outside the length limits, or another
 * negative errno. */
int adc_password_hash(const char *password, char **ret);

/* Checks a password against a stored hash in time that does not depend on where they differ.
 * At most two checks run at once: each takes tens of milliseconds and several MB of memory,
 * so a flood of sign-ins must queue instead of exhausting the machine. Returns true on a
 * match; false on a mismatch, a NULL hash, or an unusable stored hash. */
bool adc_password_verify(const char *password, const char *hash);

/* Burns the time of one verification without a stored hash, so an unknown name answers as
 * slowly as a wrong password and cannot be told apart by timing. */
void adc_password_verify_dummy(const char *password);
