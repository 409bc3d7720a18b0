/* Hexadecimal text of bytes, both ways: digests, keys and escapes (%XX). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Lowercase hex of in[0..n) into out, which holds 2 * n + 1 bytes (NUL-terminated). */
void adc_hex_encode(const unsigned char *in, size_t n, char *out);
/* The value of one hex digit of either case, or -1. */
int adc_hex_digit(char c);
/* Exactly 2 * n hex digits of in into out[0..n); false at the first other character (out is
 * then partly written). */
bool adc_hex_decode(const char *in, size_t n, unsigned char *out);
