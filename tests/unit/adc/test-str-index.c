/* The plan's hash index (src/adc/sync/str-index.c): lookups, duplicates, case folding, a full
 * table that wraps around, and the packed user of common/user.c that the plan's inputs use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/user.h"
#include "sync/str-index.h"

static void put_get_and_duplicates(void **state) {
    (void)state;
    struct adc_strindex ix;
    assert_int_equal(adc_strindex_init(&ix, 4, false), 0);
    assert_true(adc_strindex_put(&ix, "a", 0) == ADC_STRINDEX_NONE);
    assert_true(adc_strindex_put(&ix, "b", 1) == ADC_STRINDEX_NONE);
    assert_true(adc_strindex_put(&ix, "A", 2) == ADC_STRINDEX_NONE); /* case counts */
    assert_int_equal(adc_strindex_put(&ix, "a", 3), 0);              /* first one is kept */
    assert_int_equal(adc_strindex_get(&ix, "a"), 0);
    assert_int_equal(adc_strindex_get(&ix, "b"), 1);
    assert_int_equal(adc_strindex_get(&ix, "A"), 2);
    assert_true(adc_strindex_get(&ix, "c") == ADC_STRINDEX_NONE);
    assert_true(adc_strindex_get(&ix, NULL) == ADC_STRINDEX_NONE);
    adc_strindex_done(&ix);
    adc_strindex_done(&ix); /* twice is harmless */
    assert_true(adc_strindex_get(&ix, "a") == ADC_STRINDEX_NONE);
}

static void fold_case_is_ascii_only(void **state) {
    (void)state;
    struct adc_strindex ix;
    assert_int_equal(adc_strindex_init(&ix, 3, true), 0);
    assert_true(adc_strindex_put(&ix, "Alice@Example.org", 7) == ADC_STRINDEX_NONE);
    assert_int_equal(adc_strindex_get(&ix, "alice@example.ORG"), 7);
    assert_int_equal(adc_strindex_put(&ix, "ALICE@EXAMPLE.ORG", 8), 7);
    assert_true(adc_strindex_put(&ix, "\xc3\x89mile", 9) == ADC_STRINDEX_NONE);
    assert_true(adc_strindex_get(&ix, "\xc3\xa9mile") == ADC_STRINDEX_NONE);
    adc_strindex_done(&ix);
}

/* Every key of a full index is found, whatever slot it landed in (the probe wraps from the
 * last slot to the first), and no absent key is. */
static void many_keys(void **state) {
    (void)state;
    enum { N = 20000 };
    char(*keys)[24] = calloc(N, sizeof(*keys));
    assert_non_null(keys);
    struct adc_strindex ix;
    assert_int_equal(adc_strindex_init(&ix, N, true), 0);
    assert_true(ix.cap >= N + N / 3); /* load at most 3/4 */
    for (size_t i = 0; i < N; i++) {
        snprintf(keys[i], sizeof(keys[i]), "User%zu@x", i);
        assert_true(adc_strindex_put(&ix, keys[i], i) == ADC_STRINDEX_NONE);
    }
    for (size_t i = 0; i < N; i++) {
        char k[24];
        snprintf(k, sizeof(k), "user%zu@X", i);
        assert_int_equal(adc_strindex_get(&ix, k), i);
        snprintf(k, sizeof(k), "user%zu@y", i);
        assert_true(adc_strindex_get(&ix, k) == ADC_STRINDEX_NONE);
    }
    adc_strindex_done(&ix);
    free(keys);
}

static const char *key_of_row(const void *ctx, size_t pos) { return ((const char(*)[24])ctx)[pos]; }

/* A keyed index stores no key pointers: it finds keys through the caller's function, with the
 * same answers as an index that keeps them (case folding, the first of duplicates kept). */
static void keyed_index(void **state) {
    (void)state;
    enum { N = 20000 };
    char(*keys)[24] = calloc(N, sizeof(*keys));
    assert_non_null(keys);
    struct adc_strindex ix;
    assert_int_equal(adc_strindex_init_keyed(&ix, N, true, key_of_row, keys), 0);
    assert_null(ix.keys);
    for (size_t i = 0; i < N; i++) {
        snprintf(keys[i], sizeof(keys[i]), "User%zu@x", i % (N - 10)); /* 10 repeats */
        size_t held = adc_strindex_put(&ix, keys[i], i);
        if (i < N - 10)
            assert_true(held == ADC_STRINDEX_NONE);
        else
            assert_int_equal(held, i - (N - 10));
    }
    for (size_t i = 0; i < N - 10; i++) {
        char k[24];
        snprintf(k, sizeof(k), "user%zu@X", i);
        assert_int_equal(adc_strindex_get(&ix, k), i);
        snprintf(k, sizeof(k), "user%zu@y", i);
        assert_true(adc_strindex_get(&ix, k) == ADC_STRINDEX_NONE);
    }
    adc_strindex_done(&ix);
    free(keys);
}

/* The smallest index, filled to the last slot: lookups of absent keys still end. */
static void full_small_index(void **state) {
    (void)state;
    struct adc_strindex ix;
    assert_int_equal(adc_strindex_init(&ix, 0, false), 0);
    char keys[64][24];
    size_t n = ix.cap;
    assert_true(n <= 64);
    for (size_t i = 0; i < n; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%zu", i);
        assert_true(adc_strindex_put(&ix, keys[i], i) == ADC_STRINDEX_NONE);
    }
    for (size_t i = 0; i < n; i++)
        assert_int_equal(adc_strindex_get(&ix, keys[i]), i);
    adc_strindex_done(&ix);
}

static void packed_user(void **state) {
    (void)state;
    struct adc_user u = {0};
    u.user_name = strdup("alice@example.org");
    u.external_id = strdup("0b8e1f2a-0000-4000-8000-000000000001");
    u.display_name = strdup("Alice A");
    u.email = strdup("alice@example.org");
    u.dn = strdup("uid=alice,ou=people,dc=example,dc=org");
    u.id_attribute = "entryUUID";
    u.active = true;
    assert_int_equal(adc_user_pack(&u), 0);
    assert_true(u.packed);
    assert_string_equal(u.user_name, "alice@example.org");
    assert_string_equal(u.external_id, "0b8e1f2a-0000-4000-8000-000000000001");
    assert_string_equal(u.display_name, "Alice A");
    assert_null(u.given_name);
    assert_null(u.family_name);
    assert_string_equal(u.email, "alice@example.org");
    assert_ptr_equal(u.email, u.user_name); /* the same address: one copy */
    assert_null(u.other_emails);
    assert_string_equal(u.dn, "uid=alice,ou=people,dc=example,dc=org");
    assert_string_equal(u.id_attribute, "entryUUID");
    assert_true(u.active);
    /* One block, starting at the name. */
    assert_true(u.external_id > u.user_name && u.dn > u.email);
    assert_int_equal(adc_user_pack(&u), 0); /* packing twice changes nothing */
    adc_user_done(&u);                      /* frees the one block (ASan checks) */
    assert_null(u.user_name);
    assert_false(u.packed);
}

/* A compact directory user gives back exactly what it was made from: every string or NULL,
 * the email shared with an equal name, an externalId kept as a UUID's bytes or as text. */
static void compact_dir_user(void **state) {
    (void)state;
    static const char *const exts[] = {"0b8e1f2a-0000-4000-8000-000000000001",
                                       "0B8E1F2A-0000-4000-8000-000000000001", "e2", NULL};
    struct adc_dir_users l;
    adc_dir_users_init(&l);
    for (size_t i = 0; i < 4; i++) {
        struct adc_user u = {.user_name = "alice@example.org",
                             .external_id = (char *)exts[i],
                             .dn = "uid=alice,ou=people,dc=example,dc=org",
                             .display_name = i == 2 ? NULL : "Alice A",
                             .given_name = "Alice",
                             .email = i == 1 ? "other@example.org" : "alice@example.org",
                             .other_emails = i == 3 ? "a@x\nb@x" : NULL,
                             .id_attribute = i == 3 ? "nsUniqueId" : "entryUUID",
                             .primary_group_rid = (unsigned)i,
                             .active = i % 2 == 0};
        struct adc_dir_user alone;
        assert_int_equal(adc_dir_user_make_alone(&alone, &u), 0);
        const struct adc_dir_user *list_user = adc_dir_users_add(&l, &u);
        assert_non_null(list_user);
        const struct adc_dir_user *ds[] = {list_user, &alone};
        for (size_t k = 0; k < 2; k++) {
            const struct adc_dir_user *d = ds[k];
            struct adc_user v;
            char buf[ADC_DIR_UUID_TEXT], buf2[ADC_DIR_UUID_TEXT];
            adc_dir_user_view(d, &v, buf);
            assert_string_equal(v.user_name, u.user_name);
            assert_string_equal(adc_dir_user_name(d), u.user_name);
            if (exts[i]) {
                assert_string_equal(v.external_id, exts[i]);
                assert_string_equal(adc_dir_user_external_id(d, buf2), exts[i]);
            } else {
                assert_null(v.external_id);
                assert_null(adc_dir_user_external_id(d, buf2));
            }
            assert_int_equal(adc_dir_user_external_id_is_text(d), i != 0);
            assert_string_equal(v.dn, u.dn);
            assert_string_equal(adc_dir_user_dn(d), u.dn);
            if (u.display_name)
                assert_string_equal(v.display_name, u.display_name);
            else
                assert_null(v.display_name);
            assert_string_equal(v.given_name, "Alice");
            assert_null(v.family_name);
            assert_string_equal(v.email, u.email);
            if (i != 1)
                assert_ptr_equal(v.email, v.user_name); /* one copy */
            if (u.other_emails)
                assert_string_equal(v.other_emails, u.other_emails);
            else
                assert_null(v.other_emails);
            assert_ptr_equal(v.id_attribute, u.id_attribute);
            assert_ptr_equal(adc_dir_user_id_attribute(d), u.id_attribute);
            assert_int_equal(v.primary_group_rid, i);
            assert_int_equal(v.active, u.active);
        }
        adc_dir_user_free_alone(&alone);
    }
    assert_int_equal(sizeof(struct adc_dir_user), 16);
    adc_dir_users_done(&l);
}

/* A put with the hash computed ahead (adc_strindex_hash, adc_strindex_prefetch: the plan's fill
 * loops) is the same put: the same answers for new keys, duplicates and folded case, in an
 * index with keys and in a keyed one; a prefetch of an empty index does nothing. */
static void hashed_puts(void **state) {
    (void)state;
    enum { N = 3000 };
    char(*keys)[24] = calloc(N, sizeof(*keys));
    assert_non_null(keys);
    for (size_t i = 0; i < N; i++)
        snprintf(keys[i], sizeof(keys[i]), "%s%zu@x", i % 2 ? "User" : "user", i / 2);
    struct adc_strindex plain, hashed, keyed;
    assert_int_equal(adc_strindex_init(&plain, N, true), 0);
    assert_int_equal(adc_strindex_init(&hashed, N, true), 0);
    assert_int_equal(adc_strindex_init_keyed(&keyed, N, true, key_of_row, keys), 0);
    for (size_t i = 0; i < N; i++) {
        uint64_t h = adc_strindex_hash(&hashed, keys[i]);
        assert_true(h == adc_strindex_hash(&keyed, keys[i]));
        adc_strindex_prefetch(&hashed, h);
        size_t want = adc_strindex_put(&plain, keys[i], i);
        /* pairs differ in case only: every odd key is a duplicate of the even one before it */
        assert_true(want == (i % 2 ? i - 1 : ADC_STRINDEX_NONE));
        assert_true(adc_strindex_put_hashed(&hashed, keys[i], h, i) == want);
        assert_true(adc_strindex_put_hashed(&keyed, keys[i], h, i) == want);
    }
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(adc_strindex_get(&hashed, keys[i]), i - i % 2);
        assert_int_equal(adc_strindex_get(&keyed, keys[i]), i - i % 2);
    }
    adc_strindex_done(&plain);
    adc_strindex_done(&hashed);
    adc_strindex_done(&keyed);
    adc_strindex_prefetch(&hashed, 42); /* cap 0 */
    free(keys);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(put_get_and_duplicates),
        cmocka_unit_test(fold_case_is_ascii_only),
        cmocka_unit_test(many_keys),
        cmocka_unit_test(hashed_puts),
        cmocka_unit_test(keyed_index),
        cmocka_unit_test(full_small_index),
        cmocka_unit_test(packed_user),
        cmocka_unit_test(compact_dir_user),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
