/* common/hex: bytes to hex text and back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/hex.h"

static void encode_and_decode(void **state) {
    (void)state;
    const unsigned char in[] = {0x00, 0x7f, 0xa5, 0xff};
    char text[2 * sizeof(in) + 1];
    adc_hex_encode(in, sizeof(in), text);
    assert_string_equal(text, "007fa5ff");
    unsigned char back[sizeof(in)];
    assert_true(adc_hex_decode("007FA5ff", sizeof(back), back));
    assert_memory_equal(back, in, sizeof(in));
    assert_false(adc_hex_decode("007fa5fg", sizeof(back), back));
    assert_false(adc_hex_decode("0", 1, back)); /* the NUL is not a digit */
    assert_int_equal(adc_hex_digit('F'), 15);
    assert_int_equal(adc_hex_digit('g'), -1);
    assert_int_equal(adc_hex_digit('\0'), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encode_and_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
