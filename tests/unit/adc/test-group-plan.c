/* The groups' plan of docs/product.md section 10 on the pure function: members resolved by DN,
 * uniqueMember and memberUid, unknown members reported, nesting kept or flattened, cycles,
 * membership diffs of only the changed members, renames, deletes, and the settings. Also the
 * DN normalization and AD's range option. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "directory/group-read.h"
#include "sync/group-plan.h"

#define NU 4
static struct adc_user users[NU];
static char *dns[] = {"uid=ann,ou=people,dc=x", "uid=bob,ou=people,dc=x",
                      "cn=Cat Smith,ou=people,dc=x", "uid=dan,ou=people,dc=x"};
static char *exts[] = {"u-ann", "u-bob", "u-cat", "u-dan"};
static char *names[] = {"ann@x", "bob@x", "cat@x", "dan@x"};

static struct adc_dir_users compact; /* users[] as the plan reads them (common/user.h) */

static int setup(void **state) {
    (void)state;
    for (int i = 0; i < NU; i++)
        users[i] = (struct adc_user){.dn = dns[i], .external_id = exts[i], .user_name = names[i]};
    return 0;
}

/* users[] in their compact form, made anew (a test may have changed users[]). */
static const struct adc_dir_user *dir_users(void) {
    adc_dir_users_done(&compact);
    for (int i = 0; i < NU; i++)
        assert_non_null(adc_dir_users_add(&compact, &users[i]));
    return compact.items;
}

static int teardown(void **state) {
    (void)state;
    adc_dir_users_done(&compact);
    return 0;
}

static struct adc_dir_group group(char *dn, char *ext, char *name, char **m, size_t nm, char **uids,
                                  size_t nu) {
    return (struct adc_dir_group){.dn = dn,
                                  .external_id = ext,
                                  .name = name,
                                  .member_dns = m,
                                  .n_member_dns = nm,
                                  .member_uids = uids,
                                  .n_member_uids = nu};
}

static const struct adc_group_change *find(const struct adc_group_plan *p, const char *name) {
    for (size_t i = 0; i < p->n_changes; i++)
        if (p->changes[i].name && strcmp(p->changes[i].name, name) == 0)
            return &p->changes[i];
    return NULL;
}

/* Whether keys[0..n) name the member whose key text (adc_group_key_text) is `key`. */
static bool has(const struct adc_group_plan_input *in, const adc_group_key *keys, size_t n,
                const char *key) {
    for (size_t i = 0; i < n; i++) {
        char buf[256];
        if (strcmp(adc_group_key_text(in, keys[i], buf, sizeof(buf)), key) == 0)
            return true;
    }
    return false;
}

static void members_resolved_and_reported(void **state) {
    (void)state;
    char *eng_m[] = {"UID=ann, OU=People,DC=x", "uid=bob,ou=people,dc=x",
                     "uid=ghost,ou=people,dc=x", "cn=ops,ou=groups,dc=x", "uid=ann,ou=people,dc=x"};
    char *ops_m[] = {"cn=Cat Smith,ou=people,dc=x"};
    char *posix_u[] = {"dan", "bob@x", "nobody"};
    struct adc_dir_group dir[] = {
        group("cn=eng,ou=groups,dc=x", "g-eng", "eng", eng_m, 5, NULL, 0),
        group("cn=ops,ou=groups,dc=x", "g-ops", "ops", ops_m, 1, NULL, 0),
        group("cn=posix,ou=groups,dc=x", "g-posix", "posix", NULL, 0, posix_u, 3),
    };
    struct adc_group_plan_input in = {.dir = dir, .n_dir = 3, .users = dir_users(), .n_users = NU};
    struct adc_group_plan p;
    assert_int_equal(adc_group_plan_build(&in, &p), 0);
    assert_int_equal(p.created, 3);
    const struct adc_group_change *eng = find(&p, "eng");
    assert_non_null(eng);
    assert_int_equal(eng->op, ADC_GROUP_CREATE);
    assert_int_equal(eng->n_add, 3); /* ann once, bob, the ops group */
    assert_true(has(&in, eng->add, eng->n_add, "u:u-ann"));
    assert_true(has(&in, eng->add, eng->n_add, "u:u-bob"));
    assert_true(has(&in, eng->add, eng->n_add, "g:g-ops"));
    const struct adc_group_change *posix = find(&p, "posix");
    assert_int_equal(posix->n_add, 2); /* memberUid by the uid RDN, or by userName */
    assert_true(has(&in, posix->add, posix->n_add, "u:u-dan"));
    assert_true(has(&in, posix->add, posix->n_add, "u:u-bob"));
    assert_int_equal(p.unresolved, 2); /* ghost, nobody */
    assert_int_equal(p.in_cycles, 0);
    adc_group_plan_done(&p);
}

static void flatten_and_cycles(void **state) {
    (void)state;
    char *a_m[] = {"cn=b,dc=x", "uid=ann,ou=people,dc=x"};
    char *b_m[] = {"cn=a,dc=x", "uid=bob,ou=people,dc=x"};
    struct adc_dir_group dir[] = {
        group("cn=a,dc=x", "g-a", "a", a_m, 2, NULL, 0),
        group("cn=b,dc=x", "g-b", "b", b_m, 2, NULL, 0),
    };
    struct adc_group_plan_input in = {.dir = dir, .n_dir = 2, .users = dir_users(), .n_users = NU};
    struct adc_group_plan p;
    assert_int_equal(adc_group_plan_build(&in, &p), 0);
    assert_true(p.in_cycles >= 1);
    assert_non_null(p.cycle_example);
    assert_true(has(&in, find(&p, "a")->add, find(&p, "a")->n_add, "g:g-b"));
    adc_group_plan_done(&p);
    in.flatten = true;
    assert_int_equal(adc_group_plan_build(&in, &p), 0);
    const struct adc_group_change *a = find(&p, "a");
    assert_int_equal(a->n_add, 2); /* ann, and bob through b; no group */
    assert_true(has(&in, a->add, a->n_add, "u:u-ann"));
    assert_true(has(&in, a->add, a->n_add, "u:u-bob"));
    adc_group_plan_done(&p);
}

static void diffs_renames_deletes_settings(void **state) {
    (void)state;
    char *eng_m[] = {"uid=ann,ou=people,dc=x", "uid=dan,ou=people,dc=x"};
    struct adc_dir_group dir[] = {group("cn=eng,dc=x", "g-eng", "Engineering", eng_m, 2, NULL, 0)};
    /* the cloud's members as keys: ann and bob by their positions, and a member added by hand
     * (an other: n_users + n_dir + its position in the table) */
    struct adc_group_others others = {0};
    adc_group_key by_hand = adc_group_other_add(&others, NU + 1, '?', "someone-by-hand");
    assert_int_equal(by_hand, NU + 1);
    adc_group_key have[] = {0, 1, by_hand};
    struct adc_cloud_group cloud[] = {
        {.id = "c1",
         .external_id = "g-eng",
         .display_name = "eng",
         .members = have,
         .n_members = 3},
        {.id = "c2", .external_id = "g-gone", .display_name = "gone"},
    };
    struct adc_group_plan_input in = {.dir = dir,
                                      .n_dir = 1,
                                      .users = dir_users(),
                                      .n_users = NU,
                                      .cloud = cloud,
                                      .n_cloud = 2,
                                      .others = &others};
    struct adc_group_plan p;
    assert_int_equal(adc_group_plan_build(&in, &p), 0);
    const struct adc_group_change *eng = find(&p, "Engineering");
    assert_int_equal(eng->op, ADC_GROUP_UPDATE);
    assert_string_equal(eng->cloud_id, "c1");
    assert_true(eng->rename);
    assert_int_equal(eng->n_add, 1);
    char buf[64];
    assert_string_equal(adc_group_key_text(&in, eng->add[0], buf, sizeof(buf)), "u:u-dan");
    assert_int_equal(eng->n_remove, 2);
    assert_true(has(&in, eng->remove, eng->n_remove, "u:u-bob"));
    assert_true(has(&in, eng->remove, eng->n_remove, "?:someone-by-hand"));
    assert_int_equal(p.deleted, 1);
    assert_int_equal(find(&p, "gone")->op, ADC_GROUP_DELETE);
    adc_group_plan_done(&p);
    /* the settings: nothing updated or deleted */
    in.settings[ADC_SETTING_NO_UPDATE] = true;
    in.settings[ADC_SETTING_NO_DELETE] = true;
    assert_int_equal(adc_group_plan_build(&in, &p), 0);
    assert_int_equal(p.n_changes, 0);
    assert_int_equal(p.skipped, 2);
    adc_group_plan_done(&p);
    /* unchanged */
    adc_group_key same[] = {3, 0}; /* dan, ann */
    cloud[0].members = same;
    cloud[0].n_members = 2;
    cloud[0].display_name = "Engineering";
    in.n_cloud = 1;
    in.settings[ADC_SETTING_NO_UPDATE] = false;
    assert_int_equal(adc_group_plan_build(&in, &p), 0);
    assert_int_equal(p.n_changes, 0);
    assert_int_equal(p.unchanged, 1);
    adc_group_plan_done(&p);
    adc_group_others_done(&others);
}

/* AD: users whose primaryGroupID is a synced group's RID are its members, although the group's
 * member attribute does not list them; a RID of no synced group adds nothing. */
static void primary_group(void **state) {
    (void)state;
    users[0].primary_group_rid = 513;
    users[1].primary_group_rid = 513;
    users[2].primary_group_rid = 1105;
    char *m[] = {"uid=ann,ou=people,dc=x"}; /* listed and primary: counted once */
    struct adc_dir_group dir[] = {
        group("cn=Domain Users,dc=x", "g-du", "Domain Users", m, 1, NULL, 0)};
    dir[0].rid = 513;
    struct adc_group_plan_input in = {.dir = dir, .n_dir = 1, .users = dir_users(), .n_users = NU};
    struct adc_group_plan p;
    assert_int_equal(adc_group_plan_build(&in, &p), 0);
    const struct adc_group_change *du = find(&p, "Domain Users");
    assert_int_equal(du->n_add, 2);
    assert_true(has(&in, du->add, du->n_add, "u:u-ann"));
    assert_true(has(&in, du->add, du->n_add, "u:u-bob"));
    assert_int_equal(p.unresolved, 0);
    adc_group_plan_done(&p);
    /* S-1-5-21-1-2-3-513 */
    const unsigned char sid[] = {1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0,    0,    1, 0,
                                 0, 0, 2, 0, 0, 0, 3, 0, 0,  0, 0x01, 0x02, 0, 0};
    assert_int_equal(adc_sid_rid(sid, sizeof(sid)), 513);
    assert_int_equal(adc_sid_rid(sid, sizeof(sid) - 1), 0);
    assert_int_equal(adc_sid_rid((const unsigned char *)"\x02\x01", 2), 0);
}

/* Members the reader resolved to positions (sync/group-sync.c resolves DNs as they arrive),
 * beside DNs: the same keys as by DN; a key's text names the user or group. */
static void positions_and_key_table(void **state) {
    (void)state;
    char *m[] = {"uid=bob,ou=people,dc=x"};
    uint32_t pos[] = {3, 0, 3, 99}; /* 99: outside the users, ignored */
    struct adc_dir_group dir[] = {group("cn=eng,ou=groups,dc=x", "g-eng", "eng", m, 1, NULL, 0)};
    dir[0].member_pos = pos;
    dir[0].n_member_pos = 4;
    const struct adc_dir_user *du = dir_users();
    struct adc_group_plan_input in = {.dir = dir, .n_dir = 1, .users = du, .n_users = NU};
    char buf[64];
    assert_string_equal(adc_group_key_text(&in, 0, buf, sizeof(buf)), "u:u-ann");
    assert_string_equal(adc_group_key_text(&in, NU, buf, sizeof(buf)), "g:g-eng");
    struct adc_group_plan p;
    assert_int_equal(adc_group_plan_build(&in, &p), 0);
    const struct adc_group_change *eng = find(&p, "eng");
    assert_non_null(eng);
    assert_int_equal(eng->n_add, 3);
    assert_true(has(&in, eng->add, eng->n_add, "u:u-ann"));
    assert_true(has(&in, eng->add, eng->n_add, "u:u-bob"));
    assert_true(has(&in, eng->add, eng->n_add, "u:u-dan"));
    assert_int_equal(p.unresolved, 0);
    adc_group_plan_done(&p);
}

static void dn_and_range(void **state) {
    (void)state;
    char *n = adc_dn_normalize(" UID=Ann , OU=People,DC=X ");
    assert_string_equal(n, "uid=ann,ou=people,dc=x");
    free(n);
    n = adc_dn_normalize("cn=Smith\\, John,dc=x");
    assert_string_equal(n, "cn=smith\\, john,dc=x");
    free(n);
    long lo, hi;
    assert_int_equal(adc_ldap_range_parse("member;range=0-1499", "member", &lo, &hi), 0);
    assert_int_equal(lo, 0);
    assert_int_equal(hi, 1499);
    assert_int_equal(adc_ldap_range_parse("Member;Range=1500-*", "member", &lo, &hi), 0);
    assert_int_equal(lo, 1500);
    assert_int_equal(hi, -1);
    assert_int_equal(adc_ldap_range_parse("member", "member", &lo, &hi), -1);
    assert_int_equal(adc_ldap_range_parse("member;range=9-3", "member", &lo, &hi), -1);
    assert_int_equal(adc_ldap_range_parse("member;range=x-3", "member", &lo, &hi), -1);
    assert_int_equal(adc_ldap_range_parse("memberOf;range=0-1", "member", &lo, &hi), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(members_resolved_and_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(flatten_and_cycles, setup, teardown),
        cmocka_unit_test_setup_teardown(diffs_renames_deletes_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(primary_group, setup, teardown),
        cmocka_unit_test_setup_teardown(positions_and_key_table, setup, teardown),
        cmocka_unit_test(dn_and_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
