/* What the watchers decide without a directory (watch/watch.h): positions as hex text, the
 * invocationId in an Active Directory DirSync cookie (a restored DC means a full sync), and
 * whether an entry is within the base DN and scope (outside: a delete). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "watch/watch.h"

static void test_hex_round_trip(void **state) {
    (void)state;
    struct berval in = {5, "a\0\xff\x10z"}, out = {0};
    char *hex = adc_watch_hex_encode(&in, 16);
    assert_string_equal(hex, "6100ff107a");
    assert_int_equal(adc_watch_hex_decode(hex, 16, &out), 0);
    assert_int_equal(out.bv_len, 5);
    assert_memory_equal(out.bv_val, in.bv_val, 5);
    free(out.bv_val);
    free(hex);
    /* Too long, empty, odd, not hex: refused. */
    assert_null(adc_watch_hex_encode(&in, 4));
    struct berval none = {0, NULL};
    assert_null(adc_watch_hex_encode(&none, 16));
    const char *bad[] = {"", "abc", "zz", "0x12", "12 4", "+1", "123456"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(adc_watch_hex_decode(bad[i], 2, &out), -EINVAL);
}

static void test_dirsync_invocation(void **state) {
    (void)state;
    /* A cookie as Samba 4.17 returned it: "MSDS", version 3, time, reserved, vector length,
     * high-water mark, invocationId (78794df3...), the up-to-dateness vector. */
    static const char hex[] =
        "4d5344530300000080530b911c85dd01000000000000000028000000ee0f000000000000000000000000"
        "0000ee0f00000000000078794df3422abe43926f8c3166917a1c0100000000000000010000000000000078"
        "794df3422abe43926f8c3166917a1cee0f000000000000";
    static const unsigned char inv[16] = {0x78, 0x79, 0x4d, 0xf3, 0x42, 0x2a, 0xbe, 0x43,
                                          0x92, 0x6f, 0x8c, 0x31, 0x66, 0x91, 0x7a, 0x1c};
    struct berval c = {0};
    unsigned char got[16];
    assert_int_equal(adc_watch_hex_decode(hex, 4096, &c), 0);
    assert_int_equal(adc_watch_dirsync_invocation(&c, got), 0);
    assert_memory_equal(got, inv, 16);
    /* Cut before the end of the invocationId, or not "MSDS": not a cookie. */
    struct berval cut = {67, c.bv_val};
    assert_int_equal(adc_watch_dirsync_invocation(&cut, got), -EINVAL);
    c.bv_val[0] = 'X';
    assert_int_equal(adc_watch_dirsync_invocation(&c, got), -EINVAL);
    free(c.bv_val);
}

static void test_dn_in_scope(void **state) {
    (void)state;
    const char *base = "OU=Live,DC=adc,DC=test";
    assert_true(adc_watch_dn_in_scope(base, ADC_SCOPE_SUB, "CN=a,OU=Live,DC=adc,DC=test"));
    assert_true(adc_watch_dn_in_scope(base, ADC_SCOPE_SUB, "cn=a, ou=live, dc=ADC, dc=test"));
    assert_true(adc_watch_dn_in_scope(base, ADC_SCOPE_SUB, "CN=a,OU=x,OU=Live,DC=adc,DC=test"));
    assert_true(adc_watch_dn_in_scope(base, ADC_SCOPE_SUB, base));
    assert_false(adc_watch_dn_in_scope(base, ADC_SCOPE_SUB, "CN=a,OU=Elsewhere,DC=adc,DC=test"));
    /* A suffix that is not at an RDN boundary, or inside an escaped value, is not below it. */
    assert_false(adc_watch_dn_in_scope(base, ADC_SCOPE_SUB, "CN=a,OU=NotLive,DC=adc,DC=test"));
    assert_false(adc_watch_dn_in_scope(base, ADC_SCOPE_SUB, "CN=a\\,OU=Live,DC=adc,DC=test"));
    assert_false(adc_watch_dn_in_scope(base, ADC_SCOPE_SUB,
                                       "CN=a\\0ADEL:48071e31,CN=Deleted Objects,DC=adc,DC=test"));
    assert_true(adc_watch_dn_in_scope(base, ADC_SCOPE_ONE, "CN=a,OU=Live,DC=adc,DC=test"));
    assert_false(adc_watch_dn_in_scope(base, ADC_SCOPE_ONE, "CN=a,OU=x,OU=Live,DC=adc,DC=test"));
    assert_false(adc_watch_dn_in_scope(base, ADC_SCOPE_ONE, base));
    assert_true(adc_watch_dn_in_scope(base, ADC_SCOPE_BASE, base));
    assert_false(adc_watch_dn_in_scope(base, ADC_SCOPE_BASE, "CN=a,OU=Live,DC=adc,DC=test"));
    assert_false(adc_watch_dn_in_scope(base, ADC_SCOPE_SUB, "not a DN"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex_round_trip),
        cmocka_unit_test(test_dirsync_invocation),
        cmocka_unit_test(test_dn_in_scope),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
