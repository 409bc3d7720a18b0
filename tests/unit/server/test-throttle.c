/* The sign-in throttling rules (src/server/api/throttle.c), on rows as the store holds them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "api/throttle.h"

#define T0 1700000000

static void attempt_failed(struct adc_throttle *t, int64_t now) {
    unsigned write;
    adc_throttle_failed(t, now, &write);
    assert_true(write & 1u << ADC_THROTTLE_PAIR);
    assert_true(write & 1u << ADC_THROTTLE_CLIENT);
}

static void keys_fold_case(void **state) {
    (void)state;
    struct adc_throttle a, b;
    assert_int_equal(adc_throttle_init(&a, "Alice@Example.org", "192.0.2.1"), 0);
    assert_int_equal(adc_throttle_init(&b, "alice@example.ORG", "192.0.2.1"), 0);
    for (int i = 0; i < ADC_THROTTLE_KEYS; i++)
        assert_string_equal(a.keys[i], b.keys[i]);
    assert_int_equal(adc_throttle_init(&b,
                                       "\xE2\x84\xAA"
                                       "im",
                                       "192.0.2.1"),
                     0);
    assert_int_equal(adc_throttle_init(&a, "kim", "192.0.2.1"), 0);
    assert_string_equal(a.keys[ADC_THROTTLE_ACCOUNT], b.keys[ADC_THROTTLE_ACCOUNT]);
    assert_int_equal(adc_throttle_init(&a, "\xC3(", "192.0.2.1"), -22);
}

static void pair_budget_then_growing_lockouts(void **state) {
    (void)state;
    struct adc_throttle t;
    adc_throttle_init(&t, "alice", "192.0.2.1");
    int64_t now = T0;
    for (int i = 0; i < ADC_THROTTLE_PAIR_BUDGET; i++) {
        assert_int_equal(adc_throttle_check(&t, now), 0);
        attempt_failed(&t, now);
    }
    int64_t wait = adc_throttle_check(&t, now);
    assert_int_equal(wait, ADC_THROTTLE_LOCK_BASE);
    /* the first lockout passes; the account's bucket (6) still has room for one failure */
    now += wait;
    assert_int_equal(adc_throttle_check(&t, now), 0);
    /* the second lockout of the pair lasts twice as long */
    struct adc_throttle u;
    adc_throttle_init(&u, "alice", "192.0.2.1");
    u.rows[ADC_THROTTLE_PAIR] = t.rows[ADC_THROTTLE_PAIR];
    for (int i = 0; i < ADC_THROTTLE_PAIR_BUDGET; i++)
        attempt_failed(&u, now);
    assert_int_equal(u.rows[ADC_THROTTLE_PAIR].locked_until - now, 2 * ADC_THROTTLE_LOCK_BASE);
    for (int k = 0; k < 10; k++) {
        now = u.rows[ADC_THROTTLE_PAIR].locked_until;
        for (int i = 0; i < ADC_THROTTLE_PAIR_BUDGET; i++)
            attempt_failed(&u, now);
    }
    assert_int_equal(u.rows[ADC_THROTTLE_PAIR].locked_until - now, ADC_THROTTLE_LOCK_MAX);
    /* a day of quiet forgets the lockouts */
    now += 2 * 86400;
    for (int i = 0; i < ADC_THROTTLE_PAIR_BUDGET; i++)
        attempt_failed(&u, now);
    assert_int_equal(u.rows[ADC_THROTTLE_PAIR].locked_until - now, ADC_THROTTLE_LOCK_BASE);
}

static void account_bucket_across_addresses(void **state) {
    (void)state;
    struct adc_store_login_throttle account = {0};
    int64_t now = T0;
    int allowed = 0;
    /* attackers on many addresses, 2 guesses each, all within a minute */
    for (int addr = 0; addr < 20; addr++) {
        struct adc_throttle t;
        char client[32];
        snprintf(client, sizeof(client), "198.51.100.%d", addr);
        adc_throttle_init(&t, "carol", client);
        t.rows[ADC_THROTTLE_ACCOUNT] = account;
        for (int i = 0; i < 2; i++)
            if (adc_throttle_check(&t, now) == 0) {
                attempt_failed(&t, now);
                allowed++;
            }
        account = t.rows[ADC_THROTTLE_ACCOUNT];
        now += 2;
    }
    assert_int_equal(allowed, ADC_THROTTLE_ACCOUNT_BUDGET);
    /* a familiar address is not held back by the account's bucket */
    struct adc_throttle f;
    adc_throttle_init(&f, "carol", "203.0.113.9");
    f.rows[ADC_THROTTLE_ACCOUNT] = account;
    assert_true(adc_throttle_check(&f, now) > 0);
    f.rows[ADC_THROTTLE_FAMILIAR] =
        (struct adc_store_login_throttle){.exists = true, .updated = T0};
    assert_int_equal(adc_throttle_check(&f, now), 0);
    /* the bucket drains one failure per ADC_THROTTLE_ACCOUNT_LEAK seconds */
    f.rows[ADC_THROTTLE_FAMILIAR].exists = false;
    assert_int_equal(adc_throttle_check(&f, now + ADC_THROTTLE_ACCOUNT_LEAK + 1), 0);
    /* within any 30 minutes at most 8 failures reach the directory from unfamiliar addresses */
    int reached = 0;
    struct adc_store_login_throttle a2 = {0};
    for (int64_t s = 0; s < 1800; s += 10) {
        struct adc_throttle t;
        adc_throttle_init(&t, "dora", "198.51.100.200");
        t.rows[ADC_THROTTLE_ACCOUNT] = a2; /* the account only: a fresh address each time */
        if (adc_throttle_check(&t, T0 + s) == 0) {
            attempt_failed(&t, T0 + s);
            reached++;
        }
        a2 = t.rows[ADC_THROTTLE_ACCOUNT];
    }
    assert_true(reached <= 8);
}

static void inflight_counts_as_failures(void **state) {
    (void)state;
    struct adc_throttle t[ADC_THROTTLE_PAIR_BUDGET + 1];
    for (int i = 0; i <= ADC_THROTTLE_PAIR_BUDGET; i++)
        adc_throttle_init(&t[i], "erin", "192.0.2.77");
    /* two failures recorded: three more may be in flight, not four */
    t[0].rows[ADC_THROTTLE_PAIR] = (struct adc_store_login_throttle){
        .exists = true, .failures = 2, .window_start = T0, .updated = T0};
    for (int i = 1; i <= ADC_THROTTLE_PAIR_BUDGET; i++)
        t[i].rows[ADC_THROTTLE_PAIR] = t[0].rows[ADC_THROTTLE_PAIR];
    for (int i = 0; i < ADC_THROTTLE_PAIR_BUDGET - 2; i++) {
        assert_int_equal(adc_throttle_check(&t[i], T0), 0);
        assert_true(adc_throttle_enter(&t[i], T0));
    }
    assert_false(adc_throttle_enter(&t[ADC_THROTTLE_PAIR_BUDGET], T0));
    adc_throttle_leave(&t[ADC_THROTTLE_PAIR_BUDGET]); /* not entered: nothing to give back */
    adc_throttle_leave(&t[0]);
    assert_true(adc_throttle_enter(&t[ADC_THROTTLE_PAIR_BUDGET], T0));
    adc_throttle_leave(&t[ADC_THROTTLE_PAIR_BUDGET]);
    for (int i = 1; i < ADC_THROTTLE_PAIR_BUDGET - 2; i++)
        adc_throttle_leave(&t[i]);
    /* the account's bucket: at most ADC_THROTTLE_ACCOUNT_BUDGET attempts in flight from
     * unfamiliar addresses */
    struct adc_throttle u[ADC_THROTTLE_ACCOUNT_BUDGET + 1];
    int entered = 0;
    for (int i = 0; i <= ADC_THROTTLE_ACCOUNT_BUDGET; i++) {
        char client[32];
        snprintf(client, sizeof(client), "192.0.2.%d", 100 + i);
        adc_throttle_init(&u[i], "fred", client);
        entered += adc_throttle_enter(&u[i], T0);
    }
    assert_int_equal(entered, ADC_THROTTLE_ACCOUNT_BUDGET);
    for (int i = 0; i <= ADC_THROTTLE_ACCOUNT_BUDGET; i++)
        adc_throttle_leave(&u[i]);
}

static void client_budget_spraying(void **state) {
    (void)state;
    struct adc_store_login_throttle client = {0};
    int allowed = 0;
    for (int i = 0; i < ADC_THROTTLE_CLIENT_BUDGET + 100; i++) {
        struct adc_throttle t;
        char name[32];
        snprintf(name, sizeof(name), "user%d", i);
        adc_throttle_init(&t, name, "192.0.2.99");
        t.rows[ADC_THROTTLE_CLIENT] = client;
        if (adc_throttle_check(&t, T0) == 0) {
            attempt_failed(&t, T0);
            allowed++;
        }
        client = t.rows[ADC_THROTTLE_CLIENT];
    }
    assert_int_equal(allowed, ADC_THROTTLE_CLIENT_BUDGET);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keys_fold_case),
        cmocka_unit_test(pair_budget_then_growing_lockouts),
        cmocka_unit_test(account_bucket_across_addresses),
        cmocka_unit_test(inflight_counts_as_failures),
        cmocka_unit_test(client_budget_spraying),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
