/* Sealed boxes between instances (src/server/api/seal.c): a box opens only with the key it was
 * sealed to and the context it was bound to, and any change to it is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/seal.h"
#include "common/secret.h"

static void round_trip(void **state) {
    (void)state;
    struct adc_seal_key *k;
    assert_int_equal(adc_seal_key_new(&k), 0);
    char pub[ADC_SEAL_PUBLIC_HEX];
    adc_seal_key_public(k, pub);
    assert_int_equal(strlen(pub), 64);
    const char *pw = "correct horse battery staple \xc3\xa9";
    char *box = NULL, *box2 = NULL, *out = NULL;
    assert_int_equal(adc_seal(pub, "id1|app|alice", pw, strlen(pw), &box), 0);
    assert_int_equal(strlen(box), 2 * (strlen(pw) + ADC_SEAL_OVERHEAD));
    /* the password is nowhere in the box, and sealing twice gives two boxes */
    assert_null(strstr(box, "correct"));
    assert_int_equal(adc_seal(pub, "id1|app|alice", pw, strlen(pw), &box2), 0);
    assert_string_not_equal(box, box2);
    size_t len = 0;
    assert_int_equal(adc_seal_open(k, "id1|app|alice", box, &out, &len), 0);
    assert_int_equal(len, strlen(pw));
    assert_string_equal(out, pw);
    adc_secret_free(out);
    out = NULL;
    assert_int_equal(adc_seal_open(k, "id1|app|alice", box2, &out, NULL), 0);
    assert_string_equal(out, pw);
    adc_secret_free(out);
    free(box);
    free(box2);
    /* an empty message and an empty context */
    assert_int_equal(adc_seal(pub, "", "", 0, &box), 0);
    assert_int_equal(adc_seal_open(k, NULL, box, &out, &len), 0);
    assert_int_equal(len, 0);
    assert_string_equal(out, "");
    adc_secret_free(out);
    free(box);
    adc_seal_key_free(k);
}

static void refused(void **state) {
    (void)state;
    struct adc_seal_key *k, *other;
    assert_int_equal(adc_seal_key_new(&k), 0);
    assert_int_equal(adc_seal_key_new(&other), 0);
    char pub[ADC_SEAL_PUBLIC_HEX];
    adc_seal_key_public(k, pub);
    char *box = NULL, *out = NULL;
    assert_int_equal(adc_seal(pub, "ctx", "secret", 6, &box), 0);
    /* another instance's key, another row's context */
    assert_int_equal(adc_seal_open(other, "ctx", box, &out, NULL), -EBADMSG);
    assert_int_equal(adc_seal_open(k, "ctx2", box, &out, NULL), -EBADMSG);
    /* every byte altered in turn: ephemeral key, ciphertext, tag */
    size_t n = strlen(box);
    for (size_t i = 0; i < n; i += 2) {
        char saved = box[i];
        box[i] = saved == '0' ? '1' : '0';
        int r = adc_seal_open(k, "ctx", box, &out, NULL);
        assert_true(r == -EBADMSG || r == -EIO);
        box[i] = saved;
    }
    /* cut short, odd length, not hex, nothing */
    box[n - 2] = '\0';
    assert_int_not_equal(adc_seal_open(k, "ctx", box, &out, NULL), 0);
    box[n - 3] = '\0';
    assert_int_equal(adc_seal_open(k, "ctx", box, &out, NULL), -EINVAL);
    assert_int_equal(adc_seal_open(k, "ctx", "abcd", &out, NULL), -EINVAL);
    char junk[2 * ADC_SEAL_OVERHEAD + 3];
    memset(junk, 'z', sizeof(junk) - 1);
    junk[sizeof(junk) - 1] = '\0';
    assert_int_equal(adc_seal_open(k, "ctx", junk, &out, NULL), -EINVAL);
    assert_int_equal(adc_seal_open(k, "ctx", NULL, &out, NULL), -EINVAL);
    /* a low-order ephemeral key (all zero): refused, not a zero secret */
    memset(junk, '0', sizeof(junk) - 1);
    assert_int_equal(adc_seal_open(k, "ctx", junk, &out, NULL), -EBADMSG);
    /* public keys that are not keys */
    assert_int_equal(adc_seal(NULL, "", "x", 1, &box), -EINVAL);
    assert_int_equal(adc_seal("00", "", "x", 1, &box), -EINVAL);
    char bad[ADC_SEAL_PUBLIC_HEX];
    memset(bad, 'g', sizeof(bad) - 1);
    bad[sizeof(bad) - 1] = '\0';
    assert_int_equal(adc_seal(bad, "", "x", 1, &box), -EINVAL);
    /* the all-zero public key (low order): nothing sealed to it */
    memset(bad, '0', sizeof(bad) - 1);
    char *b0 = NULL;
    assert_int_not_equal(adc_seal(bad, "", "x", 1, &b0), 0);
    assert_null(b0);
    free(box);
    adc_seal_key_free(k);
    adc_seal_key_free(other);
    adc_seal_key_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
