/* Authentication: System Administrator tokens and sync-configuration secrets.
 * Tokens are 32 random bytes from OpenSSL's RAND_bytes, base64url-encoded behind a prefix that
 * says what they are ("adca_" admin, "adcs_" sync secret). Only their SHA-256 is stored; the hash
 * of a presented token is compared in constant time (adc_secret_equal). Failed attempts are
 * slowed down per client address (the answer waits; no thread does). */
#pragma once

#include <stddef.h>

#include "http/http.h"

#define ADC_TOKEN_PREFIX_ADMIN "adca_"
#define ADC_TOKEN_PREFIX_SYNC "adcs_"
/* Hex SHA-256 plus NUL. */
#define ADC_TOKEN_HASH_SIZE 65

struct adc_auth;
struct adc_db;

int adc_auth_new(struct adc_auth **out);
void adc_auth_free(struct adc_auth *a);

/* A new random token "PREFIX" + 43 base64url characters; free with adc_secret_free(). */
char *adc_auth_token_new(const char *prefix);
/* A new Application ID or run id: a random UUID (version 4), lowercase. buf must hold 37
 * bytes. */
void adc_auth_uuid(char buf[static 37]);
/* A new user id: a UUID version 7 (RFC 9562: 48 bits of Unix milliseconds, then random bits).
 * Ids made later sort later, so the unique index on users.id grows at its end instead of taking
 * every insert at a random page. */
void adc_auth_uuid7(char buf[static 37]);
/* Hex SHA-256 of a token. */
void adc_auth_hash(const char *token, char out[static ADC_TOKEN_HASH_SIZE]);

/* Checks the Authorization header of a request against what the route needs and fills
 * req->principal. Returns 0, or an HTTP status (401 wrong or missing credentials, 403 valid
 * credentials of the wrong kind) with the reason in why. A failure is to be slowed down:
 * *delay_ms says for how long the answer waits (adc_http_delay; no thread sleeps). */
unsigned adc_auth_check(struct adc_http_request *req, const char *authorization,
                        enum adc_auth_kind need, char *why, size_t why_size, unsigned *delay_ms);
