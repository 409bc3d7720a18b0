/* adc_log_quote (src/common/log.c): values from outside cannot forge or hide log lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <string.h>

#include "common/log.h"

static void plain_text_is_quoted(void **state) {
    (void)state;
    char buf[64];
    assert_string_equal(adc_log_quote("alice@example.com", buf, sizeof(buf)),
                        "\"alice@example.com\"");
    assert_string_equal(adc_log_quote("", buf, sizeof(buf)), "\"\"");
    assert_string_equal(adc_log_quote(NULL, buf, sizeof(buf)), "(null)");
    /* Readable UTF-8 stays as it is. */
    assert_string_equal(adc_log_quote("J\xc3\xbcrgen \xe6\x97\xa5", buf, sizeof(buf)),
                        "\"J\xc3\xbcrgen \xe6\x97\xa5\"");
}

static void line_breaks_and_controls_are_escaped(void **state) {
    (void)state;
    char buf[128];
    /* A name that would start a forged line. */
    assert_string_equal(adc_log_quote("bob\nadc-server: login 'admin': accepted", buf, sizeof(buf)),
                        "\"bob\\nadc-server: login 'admin': accepted\"");
    assert_string_equal(adc_log_quote("a\rb\tc\x1b[31m\x7f", buf, sizeof(buf)),
                        "\"a\\rb\\tc\\x1b[31m\\x7f\"");
    assert_string_equal(adc_log_quote("say \"hi\" \\o/", buf, sizeof(buf)),
                        "\"say \\\"hi\\\" \\\\o/\"");
    /* C1 controls, the Unicode line separators, and bytes that are not UTF-8. */
    assert_string_equal(adc_log_quote("x\xc2\x85y\xe2\x80\xa8z", buf, sizeof(buf)),
                        "\"x\\u{0085}y\\u{2028}z\"");
    assert_string_equal(adc_log_quote("\xff\xc3(\xed\xa0\x80", buf, sizeof(buf)),
                        "\"\\xff\\xc3(\\xed\\xa0\\x80\"");
    /* Nothing unescaped below 0x20 survives, whatever the input. */
    for (int c = 1; c < 256; c++) {
        char in[2] = {(char)c, 0};
        adc_log_quote(in, buf, sizeof(buf));
        for (const unsigned char *p = (const unsigned char *)buf; *p; p++)
            assert_true(*p >= 0x20 && *p != 0x7f);
    }
}

static void long_values_are_cut_visibly(void **state) {
    (void)state;
    char big[1000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    char buf[32];
    const char *q = adc_log_quote(big, buf, sizeof(buf));
    assert_true(strlen(q) < sizeof(buf));
    assert_int_equal(q[0], '"');
    assert_string_equal(q + strlen(q) - 4, "\"...");
    /* A multi-byte character is never split. */
    char utf[200] = "";
    for (int i = 0; i < 60; i++)
        strcat(utf, "\xc3\xa9");
    q = adc_log_quote(utf, buf, sizeof(buf));
    assert_int_equal((strlen(q) - 5) % 2, 0);
    const char *macro = ADC_LOG_Q("new\nline");
    assert_string_equal(macro, "\"new\\nline\"");
    assert_string_equal(ADC_LOG_E("/scim/v2/Users\nfake"), "/scim/v2/Users\\nfake");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_text_is_quoted),
        cmocka_unit_test(line_breaks_and_controls_are_escaped),
        cmocka_unit_test(long_values_are_cut_visibly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
