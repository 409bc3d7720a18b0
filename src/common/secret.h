/* Handling of secrets: wiping, constant-time comparison, random tokens. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Overwrites and frees a secret string; accepts NULL. */
void adc_secret_free(char *s);
/* Compares two secrets in time that depends only on their lengths. */
bool adc_secret_equal(const char *a, const char *b);
