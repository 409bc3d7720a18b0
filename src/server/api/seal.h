/* Sealed boxes for password checks handed between adc-server instances through the database
 * (api/cluster-check.h): a password crosses the database only encrypted to the public key of
 * the instance that will hand it to its agent, so that reading the database (a dump, a
 * backup, a replica, a stolen disk) yields no password.
 *
 * Each instance makes an X25519 key pair when it starts and keeps the private key in memory
 * only; it publishes the public key in its cluster_instances row. A sealed box is
 * ephemeral-static ECDH (X25519, RFC 7748), HKDF-SHA256 (RFC 5869) over the shared secret with
 * both public keys as salt, and ChaCha20-Poly1305 (RFC 8439) with the check's identity (id,
 * configuration, user name) as associated data: a box moved to another row does not open.
 * OpenSSL's libcrypto, which adc-server links already, does all of it (libsodium's
 * crypto_box_seal is the same construction with other primitives). What it costs: one X25519
 * key generation and two X25519 operations per check, some 100 µs.
 *
 * Boxes travel as lowercase hex: 32 bytes of ephemeral public key, the ciphertext, 16 bytes of
 * tag. */
#pragma once

#include <stddef.h>

#define ADC_SEAL_KEY_BYTES 32
#define ADC_SEAL_OVERHEAD (ADC_SEAL_KEY_BYTES + 16)      /* bytes a box adds to its message */
#define ADC_SEAL_PUBLIC_HEX (2 * ADC_SEAL_KEY_BYTES + 1) /* a public key in hex, with its NUL */

struct adc_seal_key;

/* A new key pair, in memory only. 0, -ENOMEM or -EIO (libcrypto failed). */
int adc_seal_key_new(struct adc_seal_key **out);
/* Wipes and frees; NULL is fine. */
void adc_seal_key_free(struct adc_seal_key *k);
/* The public key in hex (what other instances seal to). */
void adc_seal_key_public(const struct adc_seal_key *k, char out[static ADC_SEAL_PUBLIC_HEX]);

/* Seals len bytes of msg to public_hex, bound to context (a string; "" when none). *out gets a
 * new NUL-terminated hex string (free()). 0; -EINVAL (public_hex is not a key); -ENOMEM; -EIO. */
int adc_seal(const char *public_hex, const char *context, const void *msg, size_t len, char **out);
/* Opens a box of adc_seal with the key it was sealed to and the same context. *out gets a new
 * NUL-terminated copy of the message (free with adc_secret_free()), *len (may be NULL) its
 * length. 0; -EINVAL (not a box: bad hex, too short); -EBADMSG (another key, another context,
 * or altered); -ENOMEM; -EIO. */
int adc_seal_open(const struct adc_seal_key *k, const char *context, const char *box_hex,
                  char **out, size_t *len);
