#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "directory/ldap-filter.h"

static void good_filters_accepted(void **state) {
    (void)state;
    static const char *const good[] = {
        "(objectClass=inetOrgPerson)",
        "(cn=)",
        "(cn=*)",
        "(cn=Babs J*)",
        "(cn=*Jensen)",
        "(cn=a*b*c)",
        "(cn=*a*b*)",
        "(o=univ*of*mich*)",
        "(seeAlso=)",
        "(sn~=Jensen)",
        "(uidNumber>=1000)",
        "(uidNumber<=1000)",
        "(&(objectClass=person)(mail=*))",
        "(|(uid=a)(uid=b)(uid=c))",
        "(!(cn=Tim Howes))",
        "(&(objectClass=Person)(|(sn=Jensen)(cn=Babs J*)))",
        "(&(objectCategory=person)(objectClass=user)"
        "(!(userAccountControl:1.2.840.113556.1.4.803:=2)))",
        "(cn:caseExactMatch:=Fred Flintstone)",
        "(cn:=Betty Rubble)",
        "(sn:dn:2.4.6.8.10:=Barney Rubble)",
        "(o:dn:=Ace Industry)",
        "(:1.2.3:=Wilma Flintstone)",
        "(:DN:2.4.6.8.10:=Dino)",
        "(o=Parens R Us \\28for all your parenthetical needs\\29)",
        "(cn=*\\2A*)",
        "(filename=C:\\5cMyFile)",
        "(bin=\\00\\00\\00\\04)",
        "(sn=Lu\\c4\\8di\\c4\\87)",
        "(sn=Lučić)",
        "(1.3.6.1.4.1.1466.0=\\04\\02\\48\\69)",
        "(cn;lang-de=Stra\xc3\x9f"
        "e)",
        "(userCertificate;binary=\\30)",
        "(msDS-UserPasswordExpiryTimeComputed>=1)",
        "(mail=100%@example.com)",
        "(!(!(!(cn=x))))",
        "(&(&(&(|(a=1)(b=2))(c=3))(d=4))(e=5))",
        "(cn=ab=cd)",
        "(cn=a~b)",
        "(description=emoji \xf0\x9f\x98\x80)",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        size_t off = 999;
        const char *msg = NULL;
        int r = adc_ldap_filter_validate(good[i], &off, &msg);
        if (r != 0)
            fail_msg("rejected good filter %s at %zu: %s", good[i], off, msg);
        assert_int_equal(off, 999); /* untouched on success */
    }
}

struct bad {
    const char *filter;
    size_t offset;
    const char *msg_part;
};

static void bad_filters_rejected_at_the_right_place(void **state) {
    (void)state;
    static const struct bad bad[] = {
        {"", 0, "empty"},
        {"objectClass=person", 0, "starts with '('"},
        {"(objectClass=person", 0, "never closed"},
        {"(objectClass=person))", 20, "extra ')'"},
        {"(cn=a)(cn=b)", 6, "after the end"},
        {"()", 1, "empty filter"},
        {"(", 1, "end of filter"},
        {"(=x)", 1, "missing attribute"},
        {"(cn)", 3, "expected '='"},
        {"(cn x=y)", 3, "expected '='"},
        {"(cn=a(b)", 5, "'('"},
        {"(cn=a\\2)", 5, "two hex digits"},
        {"(cn=a\\zz)", 5, "two hex digits"},
        {"(cn=a\\)", 5, "two hex digits"},
        {"(cn>=a*)", 6, "'*'"},
        {"(cn~=*)", 5, "'*'"},
        {"(cn!=x)", 3, "expected '='"},
        {"(cn>x)", 3, "'>='"},
        {"(cn=a**b)", 6, "empty substring"},
        {"(&)", 1, "at least one"},
        {"(|)", 1, "at least one"},
        {"(&cn=x)", 2, "expected '('"},
        {"(!)", 2, "expected '('"},
        {"(!(a=1)(b=2))", 7, "expected ')'"},
        {"(&(cn=x)(sn=y)", 0, "never closed"},
        {"(&(cn=x)(sn=y", 8, "never closed"},
        {"(|(cn=x)(sn=y)))", 15, "extra ')'"},
        {"(:dn:=x)", 1, "needs a matching rule"},
        {"(cn:dn:=x)x", 10, "after the end"},
        {"(cn:1.2.3=x)", 9, "':='"},
        {"(cn:=x*)", 6, "'*'"},
        {"(cn::=x)", 4, "matching rule"},
        {"(1cn=x)", 1, "digits and letters"},
        {"(1=x)", 1, "two components"},
        {"(1.02.3=x)", 3, "leading zero"},
        {"(1..2=x)", 3, "empty component"},
        {"(cn;=x)", 4, "option"},
        {"(_cn=x)", 1, "missing attribute"},
        {"(cn=\xff)", 4, "UTF-8"},
        {"(cn=a\xc3)", 5, "UTF-8"},
        {"(cn=\xc0\xaf)", 4, "UTF-8"},         /* overlong '/' */
        {"(cn=\xed\xa0\x80)", 4, "UTF-8"},     /* surrogate */
        {"(cn=\xf4\x90\x80\x80)", 4, "UTF-8"}, /* above U+10FFFF */
        {"(&(cn=x)(|(sn=y)(ou=(z))))", 20, "'('"},
        {" (cn=x)", 0, "starts with '('"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        size_t off = 999;
        const char *msg = NULL;
        int r = adc_ldap_filter_validate(bad[i].filter, &off, &msg);
        if (r != -EINVAL)
            fail_msg("accepted bad filter %s", bad[i].filter);
        assert_non_null(msg);
        if (off != bad[i].offset || !strstr(msg, bad[i].msg_part))
            fail_msg("filter %s: got offset %zu \"%s\", want offset %zu containing \"%s\"",
                     bad[i].filter, off, msg, bad[i].offset, bad[i].msg_part);
    }
}

static void deep_nesting_is_an_error_not_a_crash(void **state) {
    (void)state;
    size_t depth = 100000;
    char *f = malloc(depth * 3 + 16);
    assert_non_null(f);
    size_t o = 0;
    for (size_t i = 0; i < depth; i++)
        f[o++] = '(', f[o++] = '!';
    strcpy(f + o, "(cn=x)");
    o += 6;
    for (size_t i = 0; i < depth; i++)
        f[o++] = ')';
    f[o] = '\0';
    size_t off;
    const char *msg;
    assert_int_equal(adc_ldap_filter_validate(f, &off, &msg), -EINVAL);
    assert_non_null(strstr(msg, "nested too deeply"));
    free(f);

    /* 60 levels is still fine. */
    char g[512];
    o = 0;
    for (int i = 0; i < 60; i++)
        g[o++] = '(', g[o++] = '!';
    strcpy(g + o, "(cn=x)");
    o += 6;
    for (int i = 0; i < 60; i++)
        g[o++] = ')';
    g[o] = '\0';
    assert_int_equal(adc_ldap_filter_validate(g, NULL, NULL), 0);
}

static void escape_special_characters(void **state) {
    (void)state;
    struct {
        const char *in, *out;
    } cases[] = {
        {"", ""},
        {"alice", "alice"},
        {"*", "\\2a"},
        {"a*b", "a\\2ab"},
        {"(", "\\28"},
        {")", "\\29"},
        {"\\", "\\5c"},
        {"*)(uid=*))(|(uid=*", "\\2a\\29\\28uid=\\2a\\29\\29\\28|\\28uid=\\2a"},
        {"Lučić", "Lučić"},                       /* valid UTF-8 stays */
        {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"}, /* 4-byte sequence stays */
        {"caf\xe9", "caf\\e9"},                   /* Latin-1 byte is not UTF-8 */
        {"\xc3", "\\c3"},                         /* truncated sequence */
        {"\xc3(", "\\c3\\28"},
        {"\xc0\xaf", "\\c0\\af"},         /* overlong */
        {"\xed\xa0\x80", "\\ed\\a0\\80"}, /* surrogate */
        {"\xff\xfe", "\\ff\\fe"},
        {"a=b,c&d|e!f~g<h>", "a=b,c&d|e!f~g<h>"}, /* legal in values */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *e = adc_ldap_filter_escape(cases[i].in);
        assert_non_null(e);
        assert_string_equal(e, cases[i].out);
        /* Whatever goes in, the escaped value makes a valid filter. */
        char f[256];
        snprintf(f, sizeof f, "(cn=%s)", e);
        assert_int_equal(adc_ldap_filter_validate(f, NULL, NULL), 0);
        free(e);
    }
    assert_null(adc_ldap_filter_escape(NULL));
}

static void escape_embedded_nul(void **state) {
    (void)state;
    char *e = adc_ldap_filter_escape_len("a\0b*", 4);
    assert_string_equal(e, "a\\00b\\2a");
    free(e);
    e = adc_ldap_filter_escape_len("\0", 1);
    assert_string_equal(e, "\\00");
    free(e);
    e = adc_ldap_filter_escape_len("", 0);
    assert_string_equal(e, "");
    free(e);
}

static void escape_every_byte_gives_a_valid_filter(void **state) {
    (void)state;
    char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    char *e = adc_ldap_filter_escape_len(all, sizeof all);
    assert_non_null(e);
    char *f = malloc(strlen(e) + 8);
    sprintf(f, "(cn=%s)", e);
    assert_int_equal(adc_ldap_filter_validate(f, NULL, NULL), 0);
    free(f);
    free(e);
}

static void template_substitution(void **state) {
    (void)state;
    const char *tmpl = "(&(objectClass=inetOrgPerson)(mail=%s))";
    char *f = adc_ldap_filter_from_template(tmpl, "alice@example.com");
    assert_string_equal(f, "(&(objectClass=inetOrgPerson)(mail=alice@example.com))");
    free(f);

    /* An injection attempt stays one equality match. */
    f = adc_ldap_filter_from_template(tmpl, "*)(mail=*");
    assert_string_equal(f, "(&(objectClass=inetOrgPerson)(mail=\\2a\\29\\28mail=\\2a))");
    assert_int_equal(adc_ldap_filter_validate(f, NULL, NULL), 0);
    free(f);

    f = adc_ldap_filter_from_template("(uid=%s)", "");
    assert_string_equal(f, "(uid=)");
    free(f);

    /* Other '%' are literal. */
    f = adc_ldap_filter_from_template("(&(description=100%)(uid=%s))", "bob");
    assert_string_equal(f, "(&(description=100%)(uid=bob))");
    free(f);

    f = adc_ldap_filter_from_template("(sAMAccountName=%s)", "m\xfcller");
    assert_string_equal(f, "(sAMAccountName=m\\fcller)");
    free(f);

    assert_null(adc_ldap_filter_from_template("(uid=alice)", "bob"));
    assert_null(adc_ldap_filter_from_template("(|(uid=%s)(mail=%s))", "bob"));
    assert_null(adc_ldap_filter_from_template(NULL, "bob"));
    assert_null(adc_ldap_filter_from_template("(uid=%s)", NULL));
}

static void template_check(void **state) {
    (void)state;
    size_t off = 99;
    assert_int_equal(adc_ldap_filter_template_check("(uid=%s)", &off), 0);
    assert_int_equal(off, 99);
    assert_int_equal(adc_ldap_filter_template_check("(uid=x)", &off), -EINVAL);
    assert_int_equal(off, 0);
    assert_int_equal(adc_ldap_filter_template_check("(|(uid=%s)(mail=%s))", &off), -EINVAL);
    assert_int_equal(off, 16);
    assert_int_equal(adc_ldap_filter_template_check("(uid=%d)", &off), -EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(good_filters_accepted),
        cmocka_unit_test(bad_filters_rejected_at_the_right_place),
        cmocka_unit_test(deep_nesting_is_an_error_not_a_crash),
        cmocka_unit_test(escape_special_characters),
        cmocka_unit_test(escape_embedded_nul),
        cmocka_unit_test(escape_every_byte_gives_a_valid_filter),
        cmocka_unit_test(template_substitution),
        cmocka_unit_test(template_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
