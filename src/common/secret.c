#include "common/secret.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

void adc_secret_free(char *s) {
    if (!s)
        return;
    explicit_bzero(s, strlen(s));
    free(s);
}

bool adc_secret_equal(const char *a, const char *b) {
    if (!a || !b)
        return false;
    size_t la = strlen(a), lb = strlen(b);
    /* Lengths of tokens are not secret (fixed format); their contents are. */
    if (la != lb)
        return false;
    return CRYPTO_memcmp(a, b, la) == 0;
}
