/* The rules of docs/product.md section 4, one by one and in combination, on the pure plan function.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "sync/plan.h"

#define APP "app-1"

struct fx {
    struct adc_user dir[16];
    size_t n_dir;
    struct adc_user cloud[16];
    size_t n_cloud;
    struct adc_cloud_users compact;   /* cloud[] in the plan's form, made by build() */
    struct adc_dir_users dir_compact; /* dir[] in the plan's form, made by build() */
    struct adc_skipped_entry skipped[4];
    size_t n_skipped;
    bool settings[ADC_SETTING_COUNT];
    struct adc_max_delete max_delete;
    struct adc_plan plan;
};

static int setup(void **state) {
    struct fx *f = calloc(1, sizeof(*f));
    f->max_delete.value = 500;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    struct fx *f = *state;
    adc_plan_done(&f->plan);
    adc_cloud_users_done(&f->compact);
    adc_dir_users_done(&f->dir_compact);
    free(f);
    return 0;
}

/* Test users point at string literals; nothing here frees them. */
static struct adc_user *dir_user(struct fx *f, const char *name, const char *ext, bool active) {
    struct adc_user *u = &f->dir[f->n_dir++];
    memset(u, 0, sizeof(*u));
    u->user_name = (char *)name;
    u->external_id = (char *)ext;
    u->display_name = (char *)name;
    u->active = active;
    u->dn = (char *)"uid=x,dc=example,dc=org";
    return u;
}

static struct adc_user *cloud_user(struct fx *f, const char *id, const char *name, const char *ext,
                                   const char *provider, bool active) {
    struct adc_user *u = &f->cloud[f->n_cloud++];
    memset(u, 0, sizeof(*u));
    u->id = (char *)id;
    u->user_name = (char *)name;
    u->external_id = (char *)ext;
    u->display_name = (char *)name;
    u->provider = (char *)provider;
    u->active = active;
    return u;
}

/* The plan reads cloud users in their compact form (sync/cloud-users.h), as the listing
 * delivers them: the tests describe them as full users and convert them here. */
static void compact_all(const struct adc_user *u, size_t n, struct adc_cloud_users *out) {
    adc_cloud_users_init(out);
    assert_int_equal(adc_cloud_users_reserve(out, n ? n : 1), 0);
    for (size_t i = 0; i < n; i++)
        assert_non_null(adc_cloud_users_add(out, &u[i]));
}

/* The same for the directory users (common/user.h). */
static void compact_dir(const struct adc_user *u, size_t n, struct adc_dir_users *out) {
    adc_dir_users_init(out);
    for (size_t i = 0; i < n; i++)
        assert_non_null(adc_dir_users_add(out, &u[i]));
}

/* Directory user i as the plan saw it. */
static const struct adc_dir_user *du(const struct fx *f, size_t i) {
    return &f->dir_compact.items[i];
}

/* The SCIM id of a cloud user of the plan, as text. */
static const char *id_of(const struct adc_cloud_user *c) {
    static char buf[ADC_UUID_TEXT];
    return adc_cloud_user_id(c, buf);
}

/* Cloud user i as the plan saw it. */
static const struct adc_cloud_user *cu(const struct fx *f, size_t i) {
    return &f->compact.items[i];
}

static void build(struct fx *f) {
    adc_cloud_users_done(&f->compact);
    compact_all(f->cloud, f->n_cloud, &f->compact);
    adc_dir_users_done(&f->dir_compact);
    compact_dir(f->dir, f->n_dir, &f->dir_compact);
    struct adc_plan_input in = {
        .dir = f->dir_compact.items,
        .n_dir = f->n_dir,
        .dir_skipped = f->skipped,
        .n_dir_skipped = f->n_skipped,
        .cloud = f->compact.items,
        .n_cloud = f->n_cloud,
        .max_delete = f->max_delete,
        .app_id = APP,
    };
    memcpy(in.settings, f->settings, sizeof(in.settings));
    adc_plan_done(&f->plan);
    assert_int_equal(adc_plan_build(&in, &f->plan), 0);
}

static const struct adc_plan_change *find(const struct fx *f, const char *name) {
    for (size_t i = 0; i < f->plan.n_changes; i++)
        if (f->plan.changes[i].user_name && strcmp(f->plan.changes[i].user_name, name) == 0)
            return &f->plan.changes[i];
    return NULL;
}

static void expect_stats(const struct fx *f, size_t created, size_t updated, size_t deleted,
                         size_t disabled, size_t unchanged, size_t skipped) {
    const struct adc_plan_stats *s = &f->plan.stats;
    assert_int_equal(s->created, created);
    assert_int_equal(s->updated, updated);
    assert_int_equal(s->deleted, deleted);
    assert_int_equal(s->disabled, disabled);
    assert_int_equal(s->unchanged, unchanged);
    assert_int_equal(s->skipped, skipped);
    assert_int_equal(s->failed, 0);
    assert_int_equal(f->plan.n_changes,
                     created + updated + deleted + disabled + skipped + s->enabled);
}

/* A lock or unlock in the directory counts as disabled / enabled, not as updated. */
static void expect_enabled(const struct fx *f, size_t enabled) {
    assert_int_equal(f->plan.stats.enabled, enabled);
}

static void empty_inputs_plan_nothing(void **state) {
    struct fx *f = *state;
    build(f);
    expect_stats(f, 0, 0, 0, 0, 0, 0);
    assert_false(f->plan.guard_tripped);
}

static void new_directory_user_is_created(void **state) {
    struct fx *f = *state;
    dir_user(f, "alice", "e1", true);
    build(f);
    expect_stats(f, 1, 0, 0, 0, 0, 0);
    const struct adc_plan_change *c = find(f, "alice");
    assert_int_equal(c->op, ADC_PLAN_CREATE);
    assert_true(c->active);
    assert_string_equal(c->external_id, "e1");
    assert_ptr_equal(c->dir, du(f, 0));
    assert_null(c->cloud);
}

static void identical_user_is_unchanged(void **state) {
    struct fx *f = *state;
    dir_user(f, "alice", "e1", true);
    cloud_user(f, "c1", "alice", "e1", APP, true);
    build(f);
    expect_stats(f, 0, 0, 0, 0, 1, 0);
}

static void absent_and_empty_attributes_are_equal(void **state) {
    struct fx *f = *state;
    dir_user(f, "alice", "e1", true)->email = NULL;
    cloud_user(f, "c1", "alice", "e1", APP, true)->email = (char *)"";
    build(f);
    expect_stats(f, 0, 0, 0, 0, 1, 0);
}

static void changed_attributes_are_an_update(void **state) {
    struct fx *f = *state;
    struct adc_user *d = dir_user(f, "alice", "e1", true);
    d->email = (char *)"alice@new.example";
    d->family_name = (char *)"Liddell";
    cloud_user(f, "c1", "alice", "e1", APP, true)->email = (char *)"alice@old.example";
    build(f);
    expect_stats(f, 0, 1, 0, 0, 0, 0);
    const struct adc_plan_change *c = find(f, "alice");
    assert_int_equal(c->op, ADC_PLAN_UPDATE);
    assert_int_equal(c->fields, ADC_FIELD_EMAIL | ADC_FIELD_FAMILY_NAME);
    assert_ptr_equal(c->cloud, cu(f, 0));
    assert_null(c->reason);
}

static void rename_is_an_update_not_delete_and_create(void **state) {
    struct fx *f = *state;
    dir_user(f, "alice.smith", "e1", true)->display_name = (char *)"alice";
    cloud_user(f, "c1", "alice", "e1", APP, true);
    build(f);
    expect_stats(f, 0, 1, 0, 0, 0, 0);
    const struct adc_plan_change *c = find(f, "alice.smith");
    assert_int_equal(c->op, ADC_PLAN_UPDATE);
    assert_int_equal(c->fields, ADC_FIELD_USER_NAME);
    assert_string_equal(id_of(c->cloud), "c1");
}

static void change_of_case_only_is_a_rename(void **state) {
    struct fx *f = *state;
    dir_user(f, "Alice", "e1", true)->display_name = (char *)"alice";
    cloud_user(f, "c1", "alice", "e1", APP, true);
    build(f);
    expect_stats(f, 0, 1, 0, 0, 0, 0);
    assert_int_equal(find(f, "Alice")->fields, ADC_FIELD_USER_NAME);
}

/* docs/product.md section 11: users of this configuration match by externalId only. A new
 * directory identity under a name (compared case-insensitively) that this configuration's
 * user of another identity holds - a new hire with a leaver's address - is a conflict, and the
 * old user is a leaver: deleted, never re-used for the new person. */
static void own_user_of_another_identity_is_a_conflict(void **state) {
    struct fx *f = *state;
    dir_user(f, "bob", "e-new", true)->display_name = (char *)"BOB";
    cloud_user(f, "c1", "BOB", "e-old", APP, true);
    build(f);
    expect_stats(f, 0, 0, 1, 0, 0, 1);
    const struct adc_plan_change *c = find(f, "bob");
    assert_int_equal(c->op, ADC_PLAN_SKIP);
    assert_non_null(strstr(c->reason, "conflict"));
    assert_string_equal(c->reason_detail, "e-old");
    assert_string_equal(c->external_id, "e-new");
    const struct adc_plan_change *d = find(f, "BOB");
    assert_int_equal(d->op, ADC_PLAN_DELETE);
    assert_string_equal(id_of(d->cloud), "c1");
    char buf[300];
    assert_non_null(strstr(adc_plan_change_describe(c, buf, sizeof(buf)), "(e-old)"));
}

/* The leaver's disabled account (delete-disables) is not re-activated for the new person, on
 * this run or any later one while it exists. */
static void disabled_leaver_is_not_reactivated_for_a_new_identity(void **state) {
    struct fx *f = *state;
    f->settings[ADC_SETTING_DELETE_DISABLES] = true;
    dir_user(f, "kim", "e-new", true);
    cloud_user(f, "c1", "kim", "e-old", APP, false);
    build(f);
    expect_stats(f, 0, 0, 0, 0, 1, 1);
    expect_enabled(f, 0);
    const struct adc_plan_change *c = find(f, "kim");
    assert_int_equal(c->op, ADC_PLAN_SKIP);
    assert_ptr_equal(c->cloud, cu(f, 0));
    for (size_t i = 0; i < f->plan.n_changes; i++)
        assert_int_not_equal(f->plan.changes[i].op, ADC_PLAN_UPDATE);
}

/* Without delete-disables the old user goes; only the new identity is never linked to it. */
static void conflict_under_no_delete_keeps_both_apart(void **state) {
    struct fx *f = *state;
    f->settings[ADC_SETTING_NO_DELETE] = true;
    dir_user(f, "lou", "e-new", true);
    cloud_user(f, "c1", "lou", "e-old", APP, true);
    build(f);
    expect_stats(f, 0, 0, 0, 0, 0, 2);
    assert_non_null(strstr(find(f, "lou")->reason, "conflict"));
}

/* Aliases: the further addresses are compared too. */
static void other_emails_are_compared(void **state) {
    struct fx *f = *state;
    struct adc_user *d = dir_user(f, "mae", "e1", true);
    d->email = (char *)"mae@example.org";
    d->other_emails = (char *)"m.alias@example.org";
    struct adc_user *c = cloud_user(f, "c1", "mae", "e1", APP, true);
    c->email = (char *)"mae@example.org";
    build(f);
    expect_stats(f, 0, 1, 0, 0, 0, 0);
    assert_int_equal(find(f, "mae")->fields, ADC_FIELD_EMAIL);
    adc_plan_done(&f->plan);
    c->other_emails = (char *)"m.alias@example.org";
    build(f);
    expect_stats(f, 0, 0, 0, 0, 1, 0);
}

static void own_user_without_external_id_is_linked(void **state) {
    struct fx *f = *state;
    dir_user(f, "bob", "e1", true);
    cloud_user(f, "c1", "bob", NULL, APP, true);
    build(f);
    expect_stats(f, 0, 1, 0, 0, 0, 0);
    assert_int_equal(find(f, "bob")->fields, ADC_FIELD_EXTERNAL_ID);
}

static void other_provider_skipped_under_mismatch_rule(void **state) {
    struct fx *f = *state;
    f->settings[ADC_SETTING_NO_UPDATE_PROVIDER_MISMATCH] = true;
    dir_user(f, "carol", "e1", true);
    cloud_user(f, "c1", "Carol", "x", "local", true);
    cloud_user(f, "c2", "dave", "e2", "app-other", true);
    dir_user(f, "dave", "e2", true);
    build(f);
    expect_stats(f, 0, 0, 0, 0, 0, 2);
    const struct adc_plan_change *c = find(f, "carol");
    assert_int_equal(c->op, ADC_PLAN_SKIP);
    assert_string_equal(c->reason, "owned by another provider");
    assert_string_equal(c->reason_detail, "local");
    assert_string_equal(find(f, "dave")->reason_detail, "app-other");
}

static void other_provider_taken_over_without_mismatch_rule(void **state) {
    struct fx *f = *state;
    dir_user(f, "carol", "e1", true);
    cloud_user(f, "c1", "carol", NULL, "local", true);
    build(f);
    expect_stats(f, 0, 1, 0, 0, 0, 0);
    const struct adc_plan_change *c = find(f, "carol");
    assert_int_equal(c->op, ADC_PLAN_UPDATE);
    assert_true(c->fields & ADC_FIELD_PROVIDER);
    assert_true(c->fields & ADC_FIELD_EXTERNAL_ID);
    assert_string_equal(c->reason, "takeover from another provider");
    assert_string_equal(c->reason_detail, "local");
}

static void other_configurations_user_never_taken_over(void **state) {
    struct fx *f = *state;
    dir_user(f, "dave", "e2", true);
    cloud_user(f, "c2", "dave", "e9", "app-other", true);
    build(f);
    expect_stats(f, 0, 0, 0, 0, 0, 1);
    const struct adc_plan_change *c = find(f, "dave");
    assert_int_equal(c->op, ADC_PLAN_SKIP);
    assert_string_equal(c->reason, "owned by another provider");
    assert_string_equal(c->reason_detail, "app-other");
}

static void takeover_under_no_update_is_skipped(void **state) {
    struct fx *f = *state;
    f->settings[ADC_SETTING_NO_UPDATE] = true;
    dir_user(f, "carol", "e1", true);
    cloud_user(f, "c1", "carol", "e1", "local", true);
    build(f);
    expect_stats(f, 0, 0, 0, 0, 0, 1);
    const struct adc_plan_change *c = find(f, "carol");
    assert_string_equal(c->reason, "no-update is set");
    assert_int_equal(c->fields, ADC_FIELD_PROVIDER);
}

static void other_providers_users_are_never_deleted(void **state) {
    struct fx *f = *state;
    cloud_user(f, "c1", "local-admin", NULL, "local", true);
    cloud_user(f, "c2", "theirs", "e9", "app-other", true);
    cloud_user(f, "c3", "orphan", "e8", NULL, true);
    build(f);
    expect_stats(f, 0, 0, 0, 0, 0, 0);
    assert_int_equal(f->plan.n_owned, 0);
}

static void disabled_directory_account_disables(void **state) {
    struct fx *f = *state;
    dir_user(f, "erin", "e1", false);
    cloud_user(f, "c1", "erin", "e1", APP, true);
    build(f);
    expect_stats(f, 0, 0, 0, 1, 0, 0);
    expect_enabled(f, 0);
    /* A directory lock is not a leaver: the mass-delete guard does not count it. */
    assert_int_equal(f->plan.n_guarded, 0);
    const struct adc_plan_change *c = find(f, "erin");
    assert_int_equal(c->fields, ADC_FIELD_ACTIVE);
    assert_false(c->active);
}

static void reenabled_directory_account_enables(void **state) {
    struct fx *f = *state;
    dir_user(f, "erin", "e1", true);
    cloud_user(f, "c1", "erin", "e1", APP, false);
    build(f);
    expect_stats(f, 0, 0, 0, 0, 0, 0);
    expect_enabled(f, 1);
    assert_true(find(f, "erin")->active);
}

static void disabled_account_is_created_disabled(void **state) {
    struct fx *f = *state;
    dir_user(f, "frank", "e1", false);
    build(f);
    const struct adc_plan_change *c = find(f, "frank");
    assert_int_equal(c->op, ADC_PLAN_CREATE);
    assert_false(c->active);
}

static void create_as_disabled(void **state) {
    struct fx *f = *state;
    f->settings[ADC_SETTING_CREATE_AS_DISABLED] = true;
    dir_user(f, "gina", "e1", true);
    dir_user(f, "hank", "e2", false); /* disabled in the directory too */
    build(f);
    expect_stats(f, 2, 0, 0, 0, 0, 0);
    assert_false(find(f, "gina")->active);
    assert_false(find(f, "hank")->active);
    char buf[200];
    assert_string_equal(adc_plan_change_describe(find(f, "gina"), buf, sizeof(buf)),
                        "created disabled (create-as-disabled)");
    assert_string_equal(adc_plan_change_describe(find(f, "hank"), buf, sizeof(buf)),
                        "disabled in the directory");
}

static void create_as_disabled_leaves_activation_to_the_cloud(void **state) {
    struct fx *f = *state;
    f->settings[ADC_SETTING_CREATE_AS_DISABLED] = true;
    /* Created disabled by the previous run, not yet activated: the next run keeps it so. */
    dir_user(f, "gina", "e1", true);
    cloud_user(f, "c1", "gina", "e1", APP, false);
    /* Activated by the cloud's administrator: stays active. */
    dir_user(f, "ivan", "e2", true);
    cloud_user(f, "c2", "ivan", "e2", APP, true);
    /* Disabled in the directory: disabled in the cloud, create-as-disabled or not. */
    dir_user(f, "judy", "e3", false);
    cloud_user(f, "c3", "judy", "e3", APP, true);
    build(f);
    expect_stats(f, 0, 0, 0, 1, 2, 0);
    assert_false(find(f, "judy")->active);
}

static void leaver_is_deleted(void **state) {
    struct fx *f = *state;
    cloud_user(f, "c1", "kim", "e1", APP, true);
    build(f);
    expect_stats(f, 0, 0, 1, 0, 0, 0);
    const struct adc_plan_change *c = find(f, "kim");
    assert_int_equal(c->op, ADC_PLAN_DELETE);
    assert_string_equal(c->reason, "not in the directory");
    assert_string_equal(id_of(c->cloud), "c1");
    assert_null(c->dir);
}

static void leaver_is_disabled_under_delete_disables(void **state) {
    struct fx *f = *state;
    f->settings[ADC_SETTING_DELETE_DISABLES] = true;
    cloud_user(f, "c1", "kim", "e1", APP, true);
    cloud_user(f, "c2", "lee", "e2", APP, false); /* disabled already: nothing to do */
    build(f);
    expect_stats(f, 0, 0, 0, 1, 1, 0);
    const struct adc_plan_change *c = find(f, "kim");
    assert_int_equal(c->op, ADC_PLAN_DISABLE);
    assert_false(c->active);
    assert_null(find(f, "lee"));
}

static void no_delete_keeps_leavers(void **state) {
    struct fx *f = *state;
    f->settings[ADC_SETTING_NO_DELETE] = true;
    cloud_user(f, "c1", "kim", "e1", APP, true);
    build(f);
    expect_stats(f, 0, 0, 0, 0, 0, 1);
    assert_string_equal(find(f, "kim")->reason, "not in the directory; no-delete is set");
}

static void no_delete_wins_over_delete_disables(void **state) {
    struct fx *f = *state;
    f->settings[ADC_SETTING_NO_DELETE] = true;
    f->settings[ADC_SETTING_DELETE_DISABLES] = true;
    cloud_user(f, "c1", "kim", "e1", APP, true);
    cloud_user(f, "c2", "lee", "e2", APP, false);
    build(f);
    expect_stats(f, 0, 0, 0, 0, 1, 1);
    assert_int_equal(find(f, "kim")->op, ADC_PLAN_SKIP);
    assert_false(f->plan.guard_tripped);
}

static void no_create_skips_new_users(void **state) {
    struct fx *f = *state;
    f->settings[ADC_SETTING_NO_CREATE] = true;
    dir_user(f, "mia", "e1", true);
    dir_user(f, "ned", "e2", false);
    cloud_user(f, "c2", "ned", "e2", APP, true);
    build(f);
    expect_stats(f, 0, 0, 0, 1, 0, 1);
    assert_string_equal(find(f, "mia")->reason, "no-create is set");
    assert_int_equal(find(f, "ned")->op, ADC_PLAN_UPDATE);
}

static void no_update_skips_changes_only(void **state) {
    struct fx *f = *state;
    f->settings[ADC_SETTING_NO_UPDATE] = true;
    dir_user(f, "olga", "e1", false);
    cloud_user(f, "c1", "olga", "e1", APP, true);
    dir_user(f, "pete", "e2", true);
    cloud_user(f, "c2", "pete", "e2", APP, true);
    dir_user(f, "quin", "e3", true);
    cloud_user(f, "c4", "gone", "e4", APP, true);
    build(f);
    expect_stats(f, 1, 0, 1, 0, 1, 1);
    const struct adc_plan_change *c = find(f, "olga");
    assert_int_equal(c->op, ADC_PLAN_SKIP);
    assert_string_equal(c->reason, "no-update is set");
    char buf[200];
    assert_string_equal(adc_plan_change_describe(c, buf, sizeof(buf)),
                        "no-update is set; would change active=false");
}

static void all_three_no_settings_change_nothing(void **state) {
    struct fx *f = *state;
    f->settings[ADC_SETTING_NO_CREATE] = true;
    f->settings[ADC_SETTING_NO_UPDATE] = true;
    f->settings[ADC_SETTING_NO_DELETE] = true;
    dir_user(f, "new", "e1", true);
    dir_user(f, "renamed", "e2", true);
    cloud_user(f, "c2", "old", "e2", APP, true);
    cloud_user(f, "c3", "gone", "e3", APP, true);
    build(f);
    expect_stats(f, 0, 0, 0, 0, 0, 3);
}

static void duplicate_directory_names_are_skipped(void **state) {
    struct fx *f = *state;
    dir_user(f, "Sam", "e1", true);
    dir_user(f, "sam", "e2", true);
    dir_user(f, "tom", "e3", true);
    /* The cloud "sam" belongs to one of the two: it has not left the directory. */
    cloud_user(f, "c1", "sam", "e1", APP, true);
    build(f);
    expect_stats(f, 1, 0, 0, 0, 0, 2);
    assert_string_equal(find(f, "Sam")->reason, "userName used by several directory entries");
    assert_string_equal(find(f, "sam")->reason, "userName used by several directory entries");
    assert_int_equal(find(f, "tom")->op, ADC_PLAN_CREATE);
}

static void duplicate_name_protects_cloud_user_by_name(void **state) {
    struct fx *f = *state;
    dir_user(f, "sam", "e1", true);
    dir_user(f, "sam", "e2", true);
    cloud_user(f, "c1", "SAM", "e-old", APP, true);
    build(f);
    expect_stats(f, 0, 0, 0, 0, 0, 2);
}

static void unusable_directory_users_are_skipped(void **state) {
    struct fx *f = *state;
    dir_user(f, NULL, "e1", true);
    dir_user(f, "", "e2", true);
    dir_user(f, "nid", NULL, true);
    dir_user(f, "dup1", "e5", true);
    dir_user(f, "dup2", "e5", true);
    cloud_user(f, "c1", "was-e1", "e1", APP, true); /* entry still exists */
    cloud_user(f, "c5", "dup1", "e5", APP, true);
    build(f);
    expect_stats(f, 0, 0, 0, 0, 0, 5);
    assert_string_equal(find(f, "nid")->reason, "no identifier (externalId)");
    assert_string_equal(find(f, "dup1")->reason, "identifier used by several directory entries");
    assert_string_equal(find(f, "dup2")->reason, "identifier used by several directory entries");
    size_t no_name = 0;
    for (size_t i = 0; i < f->plan.n_changes; i++)
        if (f->plan.changes[i].reason &&
            strcmp(f->plan.changes[i].reason, "no usable userName") == 0)
            no_name++;
    assert_int_equal(no_name, 2);
}

static void reader_skips_are_reported_and_protect(void **state) {
    struct fx *f = *state;
    f->skipped[f->n_skipped++] = (struct adc_skipped_entry){
        .dn = (char *)"uid=uma,dc=example,dc=org",
        .user_name = (char *)"uma",
        .reason = (char *)"userName is not valid UTF-8",
    };
    f->skipped[f->n_skipped++] = (struct adc_skipped_entry){
        .dn = (char *)"uid=nameless,dc=example,dc=org",
        .reason = (char *)"no mail attribute",
    };
    cloud_user(f, "c1", "UMA", "e1", APP, true);
    build(f);
    expect_stats(f, 0, 0, 0, 0, 0, 2);
    const struct adc_plan_change *c = find(f, "uma");
    assert_string_equal(c->reason, "userName is not valid UTF-8");
    assert_string_equal(c->dn, "uid=uma,dc=example,dc=org");
}

static void cloud_list_repeats_are_ignored(void **state) {
    struct fx *f = *state;
    dir_user(f, "vera", "e1", true);
    cloud_user(f, "c1", "vera", "e1", APP, true);
    cloud_user(f, "c1", "vera", "e1", APP, true); /* the same user listed twice */
    build(f);
    expect_stats(f, 0, 0, 0, 0, 1, 0);
    assert_int_equal(f->plan.n_owned, 1);
}

static void two_cloud_users_with_one_identifier(void **state) {
    struct fx *f = *state;
    dir_user(f, "walt", "e1", true);
    cloud_user(f, "c1", "walt", "e1", APP, true);
    cloud_user(f, "c2", "walt2", "e1", APP, true); /* left over: nobody claims it */
    build(f);
    expect_stats(f, 0, 0, 1, 0, 1, 0);
    assert_string_equal(id_of(find(f, "walt2")->cloud), "c2");
}

static void name_freed_by_a_rename_is_reused(void **state) {
    struct fx *f = *state;
    dir_user(f, "xena.old", "e1", true)->display_name = (char *)"xena";
    dir_user(f, "xena", "e2", true);
    cloud_user(f, "c1", "xena", "e1", APP, true);
    build(f);
    expect_stats(f, 1, 1, 0, 0, 0, 0);
    /* Applied in order: the rename first frees "xena" for the create. */
    assert_int_equal(f->plan.changes[0].op, ADC_PLAN_UPDATE);
    assert_string_equal(id_of(f->plan.changes[0].cloud), "c1");
    assert_int_equal(f->plan.changes[1].op, ADC_PLAN_CREATE);
    assert_string_equal(f->plan.changes[1].external_id, "e2");
}

static void user_coming_back_after_delete_disables(void **state) {
    struct fx *f = *state;
    f->settings[ADC_SETTING_DELETE_DISABLES] = true;
    dir_user(f, "yuri", "e1", true);
    cloud_user(f, "c1", "yuri", "e1", APP, false);
    build(f);
    expect_stats(f, 0, 0, 0, 0, 0, 0);
    expect_enabled(f, 1);
    assert_true(find(f, "yuri")->active);
}

static void changes_come_in_apply_order(void **state) {
    struct fx *f = *state;
    f->settings[ADC_SETTING_NO_UPDATE_PROVIDER_MISMATCH] = true;
    dir_user(f, "zed", "e1", true);  /* create */
    dir_user(f, "amy", "e2", true);  /* create */
    dir_user(f, "bea", "e3", false); /* update */
    cloud_user(f, "c3", "bea", "e3", APP, true);
    cloud_user(f, "c4", "cid", "e4", APP, true); /* delete */
    dir_user(f, "dan", "e5", true);              /* skip */
    cloud_user(f, "c5", "dan", NULL, "local", true);
    build(f);
    const enum adc_plan_op want[] = {ADC_PLAN_DELETE, ADC_PLAN_UPDATE, ADC_PLAN_CREATE,
                                     ADC_PLAN_CREATE, ADC_PLAN_SKIP};
    assert_int_equal(f->plan.n_changes, 5);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(f->plan.changes[i].op, want[i]);
    assert_string_equal(f->plan.changes[2].user_name, "amy");
    assert_string_equal(f->plan.changes[3].user_name, "zed");
}

static void guard_by_count(void **state) {
    struct fx *f = *state;
    f->max_delete.value = 2;
    cloud_user(f, "c1", "a", "e1", APP, true);
    cloud_user(f, "c2", "b", "e2", APP, true);
    build(f);
    assert_false(f->plan.guard_tripped); /* exactly at the limit is allowed */
    cloud_user(f, "c3", "c", "e3", APP, true);
    build(f);
    assert_true(f->plan.guard_tripped);
    assert_int_equal(f->plan.delete_limit, 2);
}

static void guard_counts_disables(void **state) {
    struct fx *f = *state;
    f->max_delete.value = 1;
    f->settings[ADC_SETTING_DELETE_DISABLES] = true;
    cloud_user(f, "c1", "a", "e1", APP, true);
    cloud_user(f, "c2", "b", "e2", APP, true);
    build(f);
    assert_true(f->plan.guard_tripped);
    /* no-delete: nothing would be deleted or disabled, so nothing to guard. */
    f->settings[ADC_SETTING_NO_DELETE] = true;
    build(f);
    assert_false(f->plan.guard_tripped);
}

static void guard_by_percent_of_own_users(void **state) {
    struct fx *f = *state;
    f->max_delete = (struct adc_max_delete){.value = 50, .percent = true};
    static const char *ids[] = {"c0", "c1", "c2", "c3", "c4", "c5"};
    static const char *exts[] = {"e0", "e1", "e2", "e3", "e4", "e5"};
    for (int i = 0; i < 6; i++)
        cloud_user(f, ids[i], exts[i], exts[i], APP, true);
    for (int i = 0; i < 3; i++)
        dir_user(f, exts[i], exts[i], true);
    cloud_user(f, "l1", "local1", NULL, "local", true); /* not counted: not ours */
    build(f);
    assert_int_equal(f->plan.n_owned, 6);
    assert_int_equal(f->plan.delete_limit, 3);
    assert_false(f->plan.guard_tripped);
    f->n_dir = 2;
    build(f);
    assert_true(f->plan.guard_tripped);
    assert_int_equal(adc_plan_delete_limit((struct adc_max_delete){33, true}, 10), 3);
    assert_int_equal(adc_plan_delete_limit((struct adc_max_delete){0, false}, 10), 0);
}

static void describe_updates(void **state) {
    struct fx *f = *state;
    dir_user(f, "amy", "e1", false)->display_name = (char *)"Amy";
    cloud_user(f, "c1", "amy", "e1", "local", true);
    build(f);
    char buf[200];
    assert_string_equal(
        adc_plan_change_describe(find(f, "amy"), buf, sizeof(buf)),
        "takeover from another provider (local); changes displayName, active=false, provider");
    char small[8];
    adc_plan_change_describe(find(f, "amy"), small, sizeof(small));
    assert_string_equal(small, "takeove");
    assert_string_equal(adc_plan_op_name(ADC_PLAN_DISABLE), "disable");
}

/* Plays the plan's writes in order against the cloud's names under the server's rule (userName
 * unique ignoring case after every write) and fails at the first write it would refuse. */
static void applies_without_conflict(const struct fx *f) {
    const char *names[16];
    for (size_t k = 0; k < f->n_cloud; k++)
        names[k] = f->cloud[k].user_name;
    for (size_t i = 0; i < f->plan.n_changes; i++) {
        const struct adc_plan_change *c = &f->plan.changes[i];
        size_t self = c->cloud ? (size_t)(c->cloud - cu(f, 0)) : SIZE_MAX;
        if (c->op == ADC_PLAN_DELETE) {
            names[self] = NULL;
            continue;
        }
        if (c->op != ADC_PLAN_UPDATE && c->op != ADC_PLAN_CREATE)
            continue;
        for (size_t k = 0; k < f->n_cloud; k++)
            if (k != self && names[k] && strcasecmp(names[k], adc_dir_user_name(c->dir)) == 0)
                fail_msg("change %zu: '%s' still held by cloud user %zu", i,
                         adc_dir_user_name(c->dir), k);
        if (c->op == ADC_PLAN_UPDATE)
            names[self] = adc_dir_user_name(c->dir);
    }
}

static size_t n_temporary(const struct fx *f) {
    size_t n = 0;
    for (size_t i = 0; i < f->plan.n_changes; i++)
        n += f->plan.changes[i].temporary;
    return n;
}

static void chain_of_renames_in_dependency_order(void **state) {
    struct fx *f = *state;
    /* e1 takes e2's name, e2 takes e3's, e3 a new one: name order would be the worst. */
    dir_user(f, "bea", "e1", true);
    dir_user(f, "cid", "e2", true);
    dir_user(f, "dan", "e3", true);
    cloud_user(f, "c1", "amy", "e1", APP, true);
    cloud_user(f, "c2", "bea", "e2", APP, true);
    cloud_user(f, "c3", "cid", "e3", APP, true);
    build(f);
    expect_stats(f, 0, 3, 0, 0, 0, 0);
    assert_int_equal(n_temporary(f), 0);
    assert_null(f->plan.temps);
    assert_string_equal(f->plan.changes[0].user_name, "dan");
    assert_string_equal(f->plan.changes[1].user_name, "cid");
    assert_string_equal(f->plan.changes[2].user_name, "bea");
    applies_without_conflict(f);
}

static void swap_of_two_names_goes_through_a_temporary_name(void **state) {
    struct fx *f = *state;
    dir_user(f, "bea", "e1", true);
    dir_user(f, "amy", "e2", true);
    dir_user(f, "zed", "e9", true); /* a create: still last */
    cloud_user(f, "c1", "amy", "e1", APP, true);
    cloud_user(f, "c2", "bea", "e2", APP, false);
    cloud_user(f, "c3", "old", "e3", APP, true); /* a delete: still first */
    build(f);
    /* Two users updated (one of them re-enabled, counted as such), one step more. */
    assert_int_equal(f->plan.stats.updated, 1);
    assert_int_equal(f->plan.stats.enabled, 1);
    assert_int_equal(f->plan.stats.created, 1);
    assert_int_equal(f->plan.stats.deleted, 1);
    assert_int_equal(f->plan.n_changes, 5);
    assert_int_equal(f->plan.n_temps, 1);
    assert_int_equal(f->plan.changes[0].op, ADC_PLAN_DELETE);
    /* The cycle is broken at its first member in name order: "amy", now "bea" (e2). */
    const struct adc_plan_change *t = &f->plan.changes[1];
    assert_int_equal(t->op, ADC_PLAN_UPDATE);
    assert_true(t->temporary);
    assert_string_equal(t->user_name, "adc-rename-e2");
    assert_string_equal(adc_dir_user_name(t->dir), "adc-rename-e2");
    assert_ptr_equal(t->cloud, cu(f, 1));
    assert_string_equal(t->external_id, "e2");
    /* The cloud user's identity, only renamed. */
    char ext_buf[ADC_DIR_UUID_TEXT];
    assert_string_equal(adc_dir_user_external_id(t->dir, ext_buf), "e2");
    assert_false(t->active);
    assert_int_equal(t->fields, ADC_FIELD_USER_NAME);
    char buf[200];
    assert_string_equal(adc_plan_change_describe(t, buf, sizeof(buf)),
                        "temporary userName to free 'bea' for a rename cycle; changes userName");
    assert_string_equal(f->plan.changes[2].user_name, "bea");
    assert_false(f->plan.changes[2].temporary);
    assert_string_equal(f->plan.changes[3].user_name, "amy");
    assert_ptr_equal(f->plan.changes[3].dir, du(f, 1));
    assert_true(f->plan.changes[3].active);
    assert_false(f->plan.changes[3].temporary);
    assert_int_equal(f->plan.changes[4].op, ADC_PLAN_CREATE);
    applies_without_conflict(f);
    /* The same inputs, the same plan. */
    build(f);
    assert_string_equal(f->plan.changes[1].user_name, "adc-rename-e2");
    assert_string_equal(f->plan.changes[2].user_name, "bea");
}

static void cycle_of_three_names(void **state) {
    struct fx *f = *state;
    dir_user(f, "bea", "e1", true); /* amy -> bea */
    dir_user(f, "CID", "e2", true); /* bea -> CID (the case of the target does not matter) */
    dir_user(f, "amy", "e3", true); /* cid -> amy */
    dir_user(f, "kim", "e4", true); /* unrelated rename, keeps its place in name order */
    cloud_user(f, "c1", "amy", "e1", APP, true);
    cloud_user(f, "c2", "bea", "e2", APP, true);
    cloud_user(f, "c3", "cid", "e3", APP, true);
    cloud_user(f, "c4", "ken", "e4", APP, true);
    build(f);
    assert_int_equal(f->plan.stats.updated, 4);
    assert_int_equal(f->plan.n_changes, 5);
    assert_int_equal(n_temporary(f), 1);
    /* amy (e3) waits for bea (e1), which waits for CID (e2), which waits for amy: e3 moves
     * away first, then e2, e1, and e3 to its name. */
    assert_true(f->plan.changes[0].temporary);
    assert_string_equal(f->plan.changes[0].external_id, "e3");
    assert_string_equal(f->plan.changes[0].reason,
                        "temporary userName to free 'cid' for a rename cycle");
    assert_string_equal(f->plan.changes[1].user_name, "CID");
    assert_string_equal(f->plan.changes[2].user_name, "bea");
    assert_string_equal(f->plan.changes[3].user_name, "amy");
    assert_string_equal(f->plan.changes[4].user_name, "kim");
    applies_without_conflict(f);
}

static void change_of_case_only_depends_on_nothing(void **state) {
    struct fx *f = *state;
    dir_user(f, "Bea", "e1", true);
    dir_user(f, "amy", "e2", true);
    cloud_user(f, "c1", "bea", "e1", APP, true);
    cloud_user(f, "c2", "ann", "e2", APP, true);
    build(f);
    expect_stats(f, 0, 2, 0, 0, 0, 0);
    assert_int_equal(n_temporary(f), 0);
    assert_string_equal(f->plan.changes[0].user_name, "amy");
    assert_string_equal(f->plan.changes[1].user_name, "Bea");
    applies_without_conflict(f);
}

static void rename_onto_a_name_held_outside_the_plan(void **state) {
    struct fx *f = *state;
    /* "zoe" is a local user the plan does not touch: e1's rename stays where name order puts
     * it and will be refused for that user alone, as before. */
    dir_user(f, "zoe", "e1", true);
    dir_user(f, "bob", "e2", true);
    dir_user(f, "ann", "e3", true);
    cloud_user(f, "c1", "amy", "e1", APP, true);
    cloud_user(f, "c2", "ann", "e2", APP, true);
    cloud_user(f, "c3", "cid", "e3", APP, true);
    cloud_user(f, "c9", "ZOE", NULL, "local", true);
    build(f);
    expect_stats(f, 0, 3, 0, 0, 0, 0);
    assert_int_equal(n_temporary(f), 0);
    /* ann waits for bob (who holds "ann"); zoe keeps its place. */
    assert_string_equal(f->plan.changes[0].user_name, "bob");
    assert_string_equal(f->plan.changes[1].user_name, "ann");
    assert_string_equal(f->plan.changes[2].user_name, "zoe");
}

static void temporary_name_is_free_and_valid(void **state) {
    struct fx *f = *state;
    static char long_ext[300];
    memset(long_ext, 'x', sizeof(long_ext) - 1);
    dir_user(f, "bea", "e1", true);
    dir_user(f, "amy", "e2", true);
    dir_user(f, "dan", long_ext, true);
    dir_user(f, "cid", "e 4", true);
    cloud_user(f, "c1", "amy", "e1", APP, true);
    cloud_user(f, "c2", "bea", "e2", APP, true);
    cloud_user(f, "c3", "cid", long_ext, APP, true);
    cloud_user(f, "c4", "dan", "e 4", APP, true);
    cloud_user(f, "c5", "ADC-RENAME-e2", NULL, "local", true); /* taken, ignoring case */
    build(f);
    assert_int_equal(f->plan.stats.updated, 4);
    assert_int_equal(n_temporary(f), 2);
    assert_string_equal(f->plan.changes[0].user_name, "adc-rename-e2-2");
    /* Too long, or not plain: a hash of the externalId. */
    const char *t = f->plan.changes[3].user_name;
    assert_true(f->plan.changes[3].temporary);
    assert_int_equal(strlen(t), strlen("adc-rename-") + 16);
    assert_int_equal(strncmp(t, "adc-rename-", 11), 0);
    assert_string_equal(f->plan.changes[4].user_name, "dan");
    assert_string_equal(f->plan.changes[5].user_name, "cid");
    applies_without_conflict(f);
}

/* 50,000 swaps: the reordering is linear too. */
static void fifty_thousand_swaps_in_linear_time(void **state) {
    (void)state;
    enum { N = 100000 };
    struct adc_user *dir = calloc(N, sizeof(*dir)), *cloud = calloc(N, sizeof(*cloud));
    char(*names)[24] = calloc(N, sizeof(*names)), (*exts)[24] = calloc(N, sizeof(*exts));
    assert_non_null(dir);
    assert_non_null(cloud);
    assert_non_null(names);
    assert_non_null(exts);
    for (size_t i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "user%06zu", i);
        snprintf(exts[i], sizeof(exts[i]), "uuid-%zu", i * 7919);
        dir[i] =
            (struct adc_user){.user_name = names[i ^ 1], .external_id = exts[i], .active = true};
        cloud[i] = (struct adc_user){.user_name = names[i],
                                     .external_id = exts[i],
                                     .id = exts[i],
                                     .provider = (char *)APP,
                                     .active = true};
    }
    struct adc_cloud_users cc;
    compact_all(cloud, N, &cc);
    struct adc_dir_users dc;
    compact_dir(dir, N, &dc);
    struct adc_plan_input in = {.dir = dc.items,
                                .n_dir = N,
                                .cloud = cc.items,
                                .n_cloud = N,
                                .max_delete = {500, false},
                                .app_id = APP};
    struct adc_plan plan;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(adc_plan_build(&in, &plan), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_int_equal(plan.stats.updated, N);
    assert_int_equal(plan.n_temps, N / 2);
    assert_int_equal(plan.n_changes, N + N / 2);
    /* Each swap: temporary step, the other member, the final step. */
    assert_true(plan.changes[0].temporary);
    assert_false(plan.changes[1].temporary);
    assert_false(plan.changes[2].temporary);
    assert_true(plan.changes[3].temporary);
    assert_true(secs < 5.0);
    adc_plan_done(&plan);
    adc_cloud_users_done(&cc);
    adc_dir_users_done(&dc);
    free(dir);
    free(cloud);
    free(names);
    free(exts);
}

/* docs/product.md section 8: 100,000 users must not take quadratic time. */
static void hundred_thousand_users_in_linear_time(void **state) {
    (void)state;
    enum { N = 100000 };
    struct adc_user *dir = calloc(N, sizeof(*dir)), *cloud = calloc(N, sizeof(*cloud));
    char(*names)[24] = calloc(N, sizeof(*names)), (*exts)[24] = calloc(N, sizeof(*exts));
    assert_non_null(dir);
    assert_non_null(names);
    for (size_t i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "user%06zu", i);
        snprintf(exts[i], sizeof(exts[i]), "uuid-%zu", i * 7919);
        dir[i] = (struct adc_user){.user_name = names[i], .external_id = exts[i], .active = true};
        cloud[i] = (struct adc_user){.user_name = names[i],
                                     .external_id = exts[i],
                                     .id = exts[i],
                                     .provider = (char *)APP,
                                     .active = true};
    }
    dir[5].active = false; /* one update */
    struct adc_cloud_users cc;
    compact_all(cloud, N, &cc);
    struct adc_dir_users dc;
    compact_dir(dir, N, &dc);
    struct adc_plan_input in = {.dir = dc.items,
                                .n_dir = N - 1,
                                .cloud = cc.items,
                                .n_cloud = N,
                                .max_delete = {500, false},
                                .app_id = APP};
    struct adc_plan plan;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(adc_plan_build(&in, &plan), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_int_equal(plan.stats.unchanged, N - 2);
    assert_int_equal(plan.stats.disabled, 1); /* the one update locks a user */
    assert_int_equal(plan.stats.deleted, 1);
    /* Hashing does this in tens of milliseconds; a quadratic plan would take minutes. The
     * bound is loose for slow sanitizer builds. */
    assert_true(secs < 5.0);
    adc_plan_done(&plan);
    adc_cloud_users_done(&cc);
    adc_dir_users_done(&dc);
    free(dir);
    free(cloud);
    free(names);
    free(exts);
}

/* A create's externalId that the directory user keeps as a UUID's bytes: the plan keeps no
 * text of it (37 bytes a create); adc_plan_change_external_id gives it. */
static void uuid_external_id_is_given_not_copied(void **state) {
    struct fx *f = *state;
    dir_user(f, "ann", "0b9e7c1e-56b8-4d7f-9c2a-2f0c1b7e5a10", true);
    dir_user(f, "bob", "e-bob", true);
    build(f);
    char buf[ADC_DIR_UUID_TEXT];
    const struct adc_plan_change *a = find(f, "ann"), *b = find(f, "bob");
    assert_int_equal(a->op, ADC_PLAN_CREATE);
    assert_null(a->external_id);
    assert_string_equal(adc_plan_change_external_id(a, buf),
                        "0b9e7c1e-56b8-4d7f-9c2a-2f0c1b7e5a10");
    assert_string_equal(adc_plan_change_external_id(b, buf), "e-bob");
    assert_string_equal(b->external_id, "e-bob");
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(empty_inputs_plan_nothing),
        T(new_directory_user_is_created),
        T(identical_user_is_unchanged),
        T(absent_and_empty_attributes_are_equal),
        T(changed_attributes_are_an_update),
        T(rename_is_an_update_not_delete_and_create),
        T(change_of_case_only_is_a_rename),
        T(own_user_of_another_identity_is_a_conflict),
        T(uuid_external_id_is_given_not_copied),
        T(disabled_leaver_is_not_reactivated_for_a_new_identity),
        T(conflict_under_no_delete_keeps_both_apart),
        T(other_emails_are_compared),
        T(own_user_without_external_id_is_linked),
        T(other_provider_skipped_under_mismatch_rule),
        T(other_provider_taken_over_without_mismatch_rule),
        T(other_configurations_user_never_taken_over),
        T(takeover_under_no_update_is_skipped),
        T(other_providers_users_are_never_deleted),
        T(disabled_directory_account_disables),
        T(reenabled_directory_account_enables),
        T(disabled_account_is_created_disabled),
        T(create_as_disabled),
        T(create_as_disabled_leaves_activation_to_the_cloud),
        T(leaver_is_deleted),
        T(leaver_is_disabled_under_delete_disables),
        T(no_delete_keeps_leavers),
        T(no_delete_wins_over_delete_disables),
        T(no_create_skips_new_users),
        T(no_update_skips_changes_only),
        T(all_three_no_settings_change_nothing),
        T(duplicate_directory_names_are_skipped),
        T(duplicate_name_protects_cloud_user_by_name),
        T(unusable_directory_users_are_skipped),
        T(reader_skips_are_reported_and_protect),
        T(cloud_list_repeats_are_ignored),
        T(two_cloud_users_with_one_identifier),
        T(name_freed_by_a_rename_is_reused),
        T(user_coming_back_after_delete_disables),
        T(changes_come_in_apply_order),
        T(guard_by_count),
        T(guard_counts_disables),
        T(guard_by_percent_of_own_users),
        T(describe_updates),
        T(chain_of_renames_in_dependency_order),
        T(swap_of_two_names_goes_through_a_temporary_name),
        T(cycle_of_three_names),
        T(change_of_case_only_depends_on_nothing),
        T(rename_onto_a_name_held_outside_the_plan),
        T(temporary_name_is_free_and_valid),
        cmocka_unit_test(hundred_thousand_users_in_linear_time),
        cmocka_unit_test(fifty_thousand_swaps_in_linear_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
