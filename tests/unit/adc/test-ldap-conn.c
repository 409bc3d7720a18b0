/* What adc says about a refused bind or certificate (src/adc/directory/ldap-conn.c, tls-diag.c):
 * Active Directory's reason codes in words, and the host name libldap checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "directory/ldap-conn.h"
#include "directory/tls-diag.h"

static void ad_reason_codes(void **state) {
    (void)state;
    const char *msg773 = "80090308: LdapErr: DSID-0C09041C, comment: AcceptSecurityContext "
                         "error, data 773, v4563";
    assert_non_null(strstr(adc_ldap_ad_bind_reason(msg773), "must be changed"));
    assert_non_null(strstr(adc_ldap_ad_bind_reason(msg773), "data 773"));
    assert_non_null(strstr(adc_ldap_ad_bind_reason("..., data 532, v1db1"), "has expired"));
    assert_non_null(strstr(adc_ldap_ad_bind_reason("..., data 701, v1db1"), "account has expired"));
    assert_non_null(strstr(adc_ldap_ad_bind_reason("..., data 775, v1db1"), "locked out"));
    assert_non_null(strstr(adc_ldap_ad_bind_reason("..., data 533"), "disabled"));
    /* A wrong password (52e), other codes, prefixes of a code, no code at all. */
    assert_null(adc_ldap_ad_bind_reason("..., data 52e, v1db1"));
    assert_null(adc_ldap_ad_bind_reason("..., data 7731, v1"));
    assert_null(adc_ldap_ad_bind_reason("..., data 77"));
    assert_null(adc_ldap_ad_bind_reason("Invalid credentials"));
    assert_null(adc_ldap_ad_bind_reason(""));
    assert_null(adc_ldap_ad_bind_reason(NULL));
}

static void checked_host(void **state) {
    (void)state;
    char *h = adc_tls_checked_host("ldap.example.org");
    assert_string_equal(h, "ldap.example.org");
    free(h);
    /* "localhost" is checked as the machine's own name (libldap's ldap_pvt_get_fqdn). */
    char name[256];
    assert_int_equal(gethostname(name, sizeof(name)), 0);
    h = adc_tls_checked_host("LocalHost");
    assert_non_null(h);
    assert_true(strlen(h) > 0);
    if (strcmp(name, "localhost") != 0)
        assert_string_not_equal(h, "LocalHost");
    free(h);
    assert_null(adc_tls_checked_host(NULL));
}

/* Garbage instead of a certificate: no explanation, no crash. */
static void diagnose_garbage(void **state) {
    (void)state;
    struct adc_ldap_config cfg = {.addr = "ldaps://ldap.example.org"};
    const unsigned char junk[] = {0x30, 0x82, 0xff, 0xff, 0x01};
    assert_null(adc_tls_diagnose(&cfg, junk, sizeof(junk)));
    assert_null(adc_tls_diagnose(&cfg, junk, 0));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ad_reason_codes),
        cmocka_unit_test(checked_host),
        cmocka_unit_test(diagnose_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
