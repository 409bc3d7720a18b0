/* Unicode case folding and the characters refused in names (src/common/utf8.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "common/utf8.h"

static void fold_is(const char *in, const char *want) {
    char out[64];
    assert_int_equal(adc_utf8_casefold(in, out, sizeof(out)), 0);
    assert_string_equal(out, want);
}

static void folding(void **state) {
    (void)state;
    fold_is("Alice@Example.ORG", "alice@example.org");
    fold_is("\xE2\x84\xAA"
            "elvin",
            "kelvin");                   /* U+212A KELVIN SIGN */
    fold_is("\xC3\x85sa", "\xC3\xA5sa"); /* Å */
    fold_is("\xE2\x84\xAB"
            "sa",
            "\xC3\xA5sa"); /* U+212B ANGSTROM SIGN */
    fold_is("Stra\xC3\x9F"
            "e",
            "strasse"); /* ß folds to ss (full folding) */
    fold_is("\xC5\xBF"
            "am",
            "sam");                                  /* U+017F LONG S */
    fold_is("\xCE\xA3\xCE\xA9", "\xCF\x83\xCF\x89"); /* Greek capitals */
    fold_is("\xD0\x96", "\xD0\xB6");                 /* Cyrillic Zhe */
    fold_is("", "");
}

static void folding_errors(void **state) {
    (void)state;
    char out[8];
    assert_int_equal(adc_utf8_casefold("\xC3(", out, sizeof(out)), -EINVAL);
    assert_int_equal(adc_utf8_casefold("\xC0\xAF", out, sizeof(out)), -EINVAL);     /* overlong */
    assert_int_equal(adc_utf8_casefold("\xED\xA0\x80", out, sizeof(out)), -EINVAL); /* surrogate */
    assert_int_equal(adc_utf8_casefold("\xF4\x90\x80\x80", out, sizeof(out)), -EINVAL);
    assert_int_equal(adc_utf8_casefold("abcdefghij", out, sizeof(out)), -ENOSPC);
    char big[4];
    assert_int_equal(adc_utf8_casefold("\xC3\x9F", big, sizeof(big)), -ENOSPC);
}

static void names(void **state) {
    (void)state;
    assert_true(adc_utf8_name_valid("alice@example.org"));
    assert_true(adc_utf8_name_valid("Jos\xC3\xA9 \xE5\xB1\xB1\xE7\x94\xB0"));
    assert_false(adc_utf8_name_valid("a\tb"));
    assert_false(adc_utf8_name_valid("a\x7f"));
    assert_false(adc_utf8_name_valid("a\xC2\x85"
                                     "b"));                 /* U+0085 NEL (C1) */
    assert_false(adc_utf8_name_valid("al\xE2\x80\x8Bice")); /* U+200B ZERO WIDTH SPACE */
    assert_false(adc_utf8_name_valid("al\xE2\x80\x8D"
                                     "ice")); /* U+200D ZWJ */
    assert_false(adc_utf8_name_valid("\xE2\x80\xAE"
                                     "ecila")); /* U+202E RLO */
    assert_false(adc_utf8_name_valid("\xEF\xBB\xBF"
                                     "alice")); /* U+FEFF BOM */
    assert_false(adc_utf8_name_valid("a\xC2\xAD"
                                     "b")); /* U+00AD SOFT HYPHEN */
    assert_false(adc_utf8_name_valid("a\xE2\x80\xA8"
                                     "b")); /* U+2028 LINE SEPARATOR */
    assert_false(adc_utf8_name_valid("a\xE3\x85\xA4"
                                     "b")); /* U+3164 HANGUL FILLER */
    assert_false(adc_utf8_name_valid("\xC3("));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(folding),
        cmocka_unit_test(folding_errors),
        cmocka_unit_test(names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
