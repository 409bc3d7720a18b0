/* common/arena: strings in shared blocks, a growing first block, giving back after a failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/arena.h"

static void copies_stay_put(void **state) {
    (void)state;
    struct adc_arena a = {0};
    char *first = adc_arena_strndup(&a, "alice", 3);
    assert_string_equal(first, "ali");
    /* Many copies, some larger than a block: each stays readable where it was put. */
    char *big = NULL, *last = NULL;
    static char text[ADC_ARENA_BLOCK + 10];
    memset(text, 'x', sizeof(text));
    for (int i = 0; i < 20000; i++) {
        last = adc_arena_strndup(&a, "0123456789abcdef", 16);
        assert_non_null(last);
        if (i == 100)
            assert_non_null(big = adc_arena_strndup(&a, text, sizeof(text)));
    }
    assert_string_equal(first, "ali");
    assert_int_equal(strlen(big), sizeof(text));
    assert_string_equal(last, "0123456789abcdef");
    assert_null(adc_arena_strndup(&a, "x", SIZE_MAX));
    adc_arena_done(&a);
    assert_null(a.blocks);
}

static void mark_rewind_and_clear(void **state) {
    (void)state;
    struct adc_arena a;
    adc_arena_init_growing(&a, 16);
    char *p = adc_arena_strndup(&a, "abc", 3);
    struct adc_arena_mark m = adc_arena_mark(&a);
    char *q = adc_arena_strndup(&a, "def", 3);
    adc_arena_rewind(&a, m); /* same block: the space is given back */
    char *r = adc_arena_strndup(&a, "ghi", 3);
    assert_ptr_equal(q, r);
    assert_string_equal(p, "abc");
    /* The blocks double: 16, 32, 64 ... each copy of 24 bytes after the first needs a new one
     * until they are large enough, and a rewind across a new block changes nothing. */
    m = adc_arena_mark(&a);
    char *s = adc_arena_strndup(&a, "0123456789abcdefghijklm", 23);
    adc_arena_rewind(&a, m);
    assert_string_equal(s, "0123456789abcdefghijklm");
    assert_int_equal(a.next, 64);
    adc_arena_clear(&a); /* keeps the newest block, empty */
    assert_ptr_equal(adc_arena_strndup(&a, "z", 1), s);
    adc_arena_done(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(copies_stay_put),
        cmocka_unit_test(mark_rewind_and_clear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
