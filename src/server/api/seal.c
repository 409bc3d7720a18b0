/* Sealed boxes between instances (seal.h): X25519 + HKDF-SHA256 + ChaCha20-Poly1305. */
#include "api/seal.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"

#define TAG_BYTES 16
#define INFO "adc-server sealed password check v1"

struct adc_seal_key {
    EVP_PKEY *pkey;
    unsigned char pub[ADC_SEAL_KEY_BYTES];
};

static EVP_PKEY *keygen(void) {
    EVP_PKEY *k = NULL;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, NULL);
    if (!c || EVP_PKEY_keygen_init(c) <= 0 || EVP_PKEY_keygen(c, &k) <= 0)
        k = NULL;
    EVP_PKEY_CTX_free(c);
    return k;
}

static bool raw_public(EVP_PKEY *k, unsigned char pub[static ADC_SEAL_KEY_BYTES]) {
    size_t n = ADC_SEAL_KEY_BYTES;
    return EVP_PKEY_get_raw_public_key(k, pub, &n) == 1 && n == ADC_SEAL_KEY_BYTES;
}

int adc_seal_key_new(struct adc_seal_key **out) {
    struct adc_seal_key *k = calloc(1, sizeof(*k));
    if (!k)
        return -ENOMEM;
    k->pkey = keygen();
    if (!k->pkey || !raw_public(k->pkey, k->pub)) {
        adc_seal_key_free(k);
        return -EIO;
    }
    *out = k;
    return 0;
}

void adc_seal_key_free(struct adc_seal_key *k) {
    if (!k)
        return;
    EVP_PKEY_free(k->pkey); /* libcrypto clears private key material when it frees it */
    free(k);
}

void adc_seal_key_public(const struct adc_seal_key *k, char out[static ADC_SEAL_PUBLIC_HEX]) {
    adc_hex_encode(k->pub, ADC_SEAL_KEY_BYTES, out);
}

/* The box's key: HKDF-SHA256(X25519(mine, peer), salt = ephemeral public || recipient public). */
static int box_key(EVP_PKEY *mine, EVP_PKEY *peer, const unsigned char eph_pub[static 32],
                   const unsigned char rcpt_pub[static 32], unsigned char key[static 32]) {
    unsigned char shared[32], salt[64];
    size_t n = sizeof(shared);
    int r = -EIO;
    EVP_PKEY_CTX *dc = EVP_PKEY_CTX_new(mine, NULL);
    EVP_PKEY_CTX *kc = NULL;
    if (!dc || EVP_PKEY_derive_init(dc) <= 0 || EVP_PKEY_derive_set_peer(dc, peer) <= 0 ||
        EVP_PKEY_derive(dc, shared, &n) <= 0 || n != sizeof(shared))
        goto out;
    /* An all-zero secret means a low-order peer key (RFC 7748 section 6.1): refuse it. */
    unsigned char any = 0;
    for (size_t i = 0; i < n; i++)
        any |= shared[i];
    if (!any)
        goto out;
    memcpy(salt, eph_pub, 32);
    memcpy(salt + 32, rcpt_pub, 32);
    size_t klen = 32;
    kc = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
    if (kc && EVP_PKEY_derive_init(kc) > 0 && EVP_PKEY_CTX_set_hkdf_md(kc, EVP_sha256()) > 0 &&
        EVP_PKEY_CTX_set1_hkdf_salt(kc, salt, sizeof(salt)) > 0 &&
        EVP_PKEY_CTX_set1_hkdf_key(kc, shared, sizeof(shared)) > 0 &&
        EVP_PKEY_CTX_add1_hkdf_info(kc, (const unsigned char *)INFO, strlen(INFO)) > 0 &&
        EVP_PKEY_derive(kc, key, &klen) > 0 && klen == 32)
        r = 0;
out:
    OPENSSL_cleanse(shared, sizeof(shared));
    EVP_PKEY_CTX_free(dc);
    EVP_PKEY_CTX_free(kc);
    return r;
}

/* ChaCha20-Poly1305 with a zero nonce: each box key encrypts exactly one message (the
 * ephemeral key is new for every box), so the nonce never repeats under a key. */
static int aead(bool seal, const unsigned char key[static 32], const char *context,
                const unsigned char *in, size_t len, unsigned char *out, unsigned char *tag) {
    static const unsigned char nonce[12];
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, r = -EIO;
    size_t alen = strlen(context);
    if (!c || len > INT32_MAX || alen > INT32_MAX)
        goto out;
    if (EVP_CipherInit_ex(c, EVP_chacha20_poly1305(), NULL, NULL, NULL, seal) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, sizeof(nonce), NULL) != 1 ||
        EVP_CipherInit_ex(c, NULL, NULL, key, nonce, seal) != 1)
        goto out;
    if (!seal && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, TAG_BYTES, tag) != 1)
        goto out;
    if (alen > 0 && EVP_CipherUpdate(c, NULL, &n, (const unsigned char *)context, (int)alen) != 1)
        goto out;
    if (len > 0 && EVP_CipherUpdate(c, out, &n, in, (int)len) != 1)
        goto out;
    if (EVP_CipherFinal_ex(c, out + (len > 0 ? n : 0), &n) != 1) {
        r = seal ? -EIO : -EBADMSG;
        goto out;
    }
    if (seal && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, TAG_BYTES, tag) != 1)
        goto out;
    r = 0;
out:
    EVP_CIPHER_CTX_free(c);
    return r;
}

int adc_seal(const char *public_hex, const char *context, const void *msg, size_t len, char **out) {
    unsigned char rcpt_pub[32], eph_pub[32], key[32];
    if (!public_hex || strlen(public_hex) != 2 * ADC_SEAL_KEY_BYTES ||
        !adc_hex_decode(public_hex, 32, rcpt_pub))
        return -EINVAL;
    if (len > SIZE_MAX / 2 - ADC_SEAL_OVERHEAD)
        return -EINVAL;
    EVP_PKEY *peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, rcpt_pub, 32);
    EVP_PKEY *eph = keygen();
    size_t box_len = len + ADC_SEAL_OVERHEAD;
    unsigned char *box = malloc(box_len);
    char *hex = malloc(2 * box_len + 1);
    int r = -ENOMEM;
    if (!box || !hex)
        goto out;
    r = -EIO;
    if (!peer || !eph || !raw_public(eph, eph_pub))
        goto out;
    if ((r = box_key(eph, peer, eph_pub, rcpt_pub, key)) < 0)
        goto out;
    memcpy(box, eph_pub, 32);
    r = aead(true, key, context ? context : "", msg, len, box + 32, box + 32 + len);
    if (r < 0)
        goto out;
    adc_hex_encode(box, box_len, hex);
    *out = hex;
    hex = NULL;
out:
    OPENSSL_cleanse(key, sizeof(key));
    if (box)
        OPENSSL_cleanse(box, box_len);
    free(box);
    free(hex);
    EVP_PKEY_free(peer);
    EVP_PKEY_free(eph);
    return r;
}

int adc_seal_open(const struct adc_seal_key *k, const char *context, const char *box_hex,
                  char **out, size_t *out_len) {
    size_t hex_len = box_hex ? strlen(box_hex) : 0;
    if (hex_len % 2 != 0 || hex_len / 2 < ADC_SEAL_OVERHEAD)
        return -EINVAL;
    size_t box_len = hex_len / 2, len = box_len - ADC_SEAL_OVERHEAD;
    unsigned char *box = malloc(box_len);
    char *msg = malloc(len + 1);
    unsigned char key[32];
    EVP_PKEY *eph = NULL;
    int r = -ENOMEM;
    if (!box || !msg)
        goto out;
    r = -EINVAL;
    if (!adc_hex_decode(box_hex, box_len, box))
        goto out;
    r = -EIO;
    eph = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, box, 32);
    if (!eph)
        goto out;
    if ((r = box_key(k->pkey, eph, box, k->pub, key)) < 0) {
        r = -EBADMSG; /* a low-order "ephemeral key": not a box of ours */
        goto out;
    }
    r = aead(false, key, context ? context : "", box + 32, len, (unsigned char *)msg,
             box + 32 + len);
    if (r < 0)
        goto out;
    msg[len] = '\0';
    *out = msg;
    msg = NULL;
    if (out_len)
        *out_len = len;
out:
    OPENSSL_cleanse(key, sizeof(key));
    if (msg)
        OPENSSL_cleanse(msg, len + 1);
    free(msg);
    if (box)
        OPENSSL_cleanse(box, box_len);
    free(box);
    EVP_PKEY_free(eph);
    return r;
}
