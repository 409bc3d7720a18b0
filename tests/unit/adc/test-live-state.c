/* The live-change state file (watch/live-state.h): it round-trips, is written atomically, and
 * any file that is missing, corrupt, of another version or made for another configuration is
 * refused (the caller then runs a full sync, docs/product.md section 9). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sync/delta.h"
#include "watch/live-state.h"

struct fixture {
    char dir[64];
    struct adc_service_config svc;
    struct adc_yaml_config yaml;
};

static int setup(void **state) {
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/adc-live-state-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->svc.app_id = "app/../1";
    f->svc.state_dir = f->dir;
    f->yaml.ldap.addr = "ldap://dc1";
    f->yaml.ldap.base_dn = "dc=example,dc=org";
    f->yaml.ldap.filter = "(objectClass=inetOrgPerson)";
    f->yaml.ldap.scope = ADC_SCOPE_SUB;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    struct fixture *f = *state;
    char *p = adc_live_state_path(&f->svc);
    unlink(p);
    free(p);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void write_file(struct fixture *f, const char *text) {
    char *p = adc_live_state_path(&f->svc);
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    free(p);
}

static void round_trip_and_safe_name(void **state) {
    struct fixture *f = *state;
    char *p = adc_live_state_path(&f->svc);
    /* The Application ID cannot walk out of state_dir. */
    assert_non_null(strstr(p, "/live-app____1.json"));
    free(p);
    struct adc_live_state st = {.watch = "syncrepl", .position = "7269643d303030", .n_owned = 42};
    char *err = NULL;
    assert_int_equal(adc_live_state_save(&f->svc, &f->yaml, &st, &err), 0);
    struct adc_live_state got = {0};
    char *why = NULL;
    assert_int_equal(adc_live_state_load(&f->svc, &f->yaml, "syncrepl", &got, &why), 0);
    assert_string_equal(got.position, "7269643d303030");
    assert_null(got.invocation_id);
    assert_int_equal(got.n_owned, 42);
    adc_live_state_done(&got);
    /* Another watcher's position is not this one's. */
    assert_int_equal(adc_live_state_load(&f->svc, &f->yaml, "poll", &got, &why), -EINVAL);
    assert_non_null(strstr(why, "another kind of watcher"));
    free(why);
}

static void another_directory_or_filter_is_outdated(void **state) {
    struct fixture *f = *state;
    struct adc_live_state st = {.watch = "poll", .position = "20261205120000Z"};
    char *err = NULL, *why = NULL;
    struct adc_live_state got = {0};
    assert_int_equal(adc_live_state_save(&f->svc, &f->yaml, &st, &err), 0);
    f->yaml.ldap.filter = "(objectClass=person)";
    assert_int_equal(adc_live_state_load(&f->svc, &f->yaml, "poll", &got, &why), -EINVAL);
    assert_non_null(strstr(why, "another directory"));
    free(why);
    f->yaml.ldap.filter = "(objectClass=inetOrgPerson)";
    f->yaml.ldap.addr = "ldap://dc2";
    assert_int_equal(adc_live_state_load(&f->svc, &f->yaml, "poll", &got, &why), -EINVAL);
    free(why);
}

static void missing_and_corrupt_files_are_refused(void **state) {
    struct fixture *f = *state;
    struct adc_live_state got = {0};
    char *why = NULL;
    assert_int_equal(adc_live_state_remove(&f->svc), 0);
    assert_int_equal(adc_live_state_load(&f->svc, &f->yaml, "poll", &got, &why), -ENOENT);
    static const char *const bad[] = {
        "",
        "{",
        "[]",
        "{\"version\": 1}",
        "{\"version\": 2, \"watch\": \"poll\", \"position\": \"x\", \"n_owned\": 0}",
        "{\"version\": 1, \"watch\": \"poll\", \"position\": \"\", \"n_owned\": 0}",
        "{\"version\": 1, \"watch\": \"poll\", \"position\": \"x\", \"n_owned\": -1}",
        "{\"version\": 1, \"watch\": \"poll\", \"position\": 5, \"n_owned\": 0}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_file(f, bad[i]);
        assert_int_equal(adc_live_state_load(&f->svc, &f->yaml, "poll", &got, &why), -EINVAL);
        assert_non_null(why);
        free(why);
        why = NULL;
    }
}

static void uuid_forms(void **state) {
    (void)state;
    const unsigned char u[16] = {0x6f, 0x5e, 0x8d, 0x01, 0x1d, 0xd2, 0x11, 0xb2,
                                 0xa0, 0x7e, 0xc7, 0xa8, 0x9e, 0x0b, 0x1d, 0x4e};
    char a[37], b[36];
    adc_delta_uuid_forms(u, a, b);
    assert_string_equal(a, "6f5e8d01-1dd2-11b2-a07e-c7a89e0b1d4e");
    assert_string_equal(b, "6f5e8d01-1dd211b2-a07ec7a8-9e0b1d4e");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(round_trip_and_safe_name, setup, teardown),
        cmocka_unit_test_setup_teardown(another_directory_or_filter_is_outdated, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_and_corrupt_files_are_refused, setup, teardown),
        cmocka_unit_test(uuid_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
