/* scim-write: the request of each write and what an answer means for it, whether it went alone
 * or inside a Bulk request (the rules that make every write safe to repeat). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cloud/scim-internal.h"
#include "cloud/scim-list-parse.h"

static void requests_of_each_kind(void **state) {
    (void)state;
    struct adc_scim_write w[] = {
        {.kind = ADC_SCIM_CREATE, .resource = "{\"userName\":\"a\"}"},
        {.kind = ADC_SCIM_REPLACE, .id = "42", .resource = "{\"userName\":\"b\"}"},
        {.kind = ADC_SCIM_DISABLE, .id = "43"},
        {.kind = ADC_SCIM_DELETE, .id = "44"},
    };
    const char *methods[] = {"POST", "PUT", "PATCH", "DELETE"};
    const char *paths[] = {"/Users", "/Users/42", "/Users/43", "/Users/44"};
    for (size_t i = 0; i < 4; i++) {
        char *path = NULL;
        const char *body = NULL;
        assert_int_equal(adc_scim_describe_write(&w[i], &path, &body), 0);
        assert_string_equal(adc_scim_method_of(w[i].kind), methods[i]);
        assert_string_equal(path, paths[i]);
        free(path);
        if (i < 2)
            assert_ptr_equal(body, w[i].resource);
        else if (i == 2)
            assert_non_null(strstr(body, "\"path\":\"active\",\"value\":false"));
        else
            assert_null(body);
    }
    /* A create or replace without its resource is a programming error, reported. */
    struct adc_scim_write bad = {.kind = ADC_SCIM_REPLACE, .id = "1"};
    char *path = NULL;
    const char *body = NULL;
    assert_int_equal(adc_scim_describe_write(&bad, &path, &body), -EINVAL);
}

static void answers_that_mean_done_retry_conflict_or_failed(void **state) {
    (void)state;
    struct adc_scim_write create = {.kind = ADC_SCIM_CREATE};
    struct adc_scim_write del = {.kind = ADC_SCIM_DELETE, .id = "9"};
    struct adc_scim_write put = {.kind = ADC_SCIM_REPLACE, .id = "9"};
    assert_int_equal(adc_scim_classify(&create, 201, NULL), ADC_SCIM_OUT_DONE);
    assert_int_equal(adc_scim_classify(&put, 200, NULL), ADC_SCIM_OUT_DONE);
    assert_int_equal(adc_scim_classify(&del, 204, NULL), ADC_SCIM_OUT_DONE);
    /* A delete that finds nothing was done before (a lost answer, or someone else). */
    assert_int_equal(adc_scim_classify(&del, 404, NULL), ADC_SCIM_OUT_DONE);
    /* A create that collides is looked up by its externalId (adc_scim_created_before). */
    assert_int_equal(adc_scim_classify(&create, 409, "taken"), ADC_SCIM_OUT_CONFLICT);
    assert_int_equal(adc_scim_classify(&put, 503, NULL), ADC_SCIM_OUT_RETRY);
    assert_int_equal(adc_scim_classify(&put, 429, NULL), ADC_SCIM_OUT_RETRY);
    assert_null(put.error);
    /* A replace that finds nothing failed; the detail is kept, bounded. */
    assert_int_equal(adc_scim_classify(&put, 404, "no such user"), ADC_SCIM_OUT_FAILED);
    assert_string_equal(put.error, "HTTP 404: no such user");
    char *big = malloc(5000);
    memset(big, 'x', 4999);
    big[4999] = '\0';
    assert_int_equal(adc_scim_classify(&put, 400, big), ADC_SCIM_OUT_FAILED);
    assert_true(strlen(put.error) < 600);
    free(big);
    adc_scim_write_done(&put);
    assert_null(put.error);
}

static void settling_and_failing(void **state) {
    (void)state;
    struct adc_scim_write w = {.kind = ADC_SCIM_REPLACE, .id = "1"};
    adc_scim_settle(&w, ADC_SCIM_OUT_RETRY, 503);
    assert_false(w.done);
    assert_non_null(strstr(w.error, "HTTP 503, still after"));
    /* A write that already has its reason keeps it. */
    adc_scim_fail_write(&w, "server unreachable");
    assert_non_null(strstr(w.error, "HTTP 503"));
    adc_scim_write_done(&w);

    struct adc_scim_write ok = {.kind = ADC_SCIM_DELETE, .id = "2"};
    adc_scim_settle(&ok, ADC_SCIM_OUT_DONE, 204);
    assert_true(ok.done);
    adc_scim_fail_write(&ok, "server unreachable"); /* done stays done, without an error */
    assert_null(ok.error);

    struct adc_scim_write c = {.kind = ADC_SCIM_CREATE};
    adc_scim_conflict_failed(&c, NULL);
    assert_string_equal(c.error, "HTTP 409: userName already exists in the cloud");
    adc_scim_conflict_failed(&c, "uniqueness");
    assert_string_equal(c.error, "HTTP 409: uniqueness");
    adc_scim_write_done(&c);
}

/* A create answered 409 whose user adc_scim_created_before found ours (docs/product.md
 * section 4 rule 1): created once when an earlier attempt may have written it, else it was
 * there before this run and becomes a replace of it, never counted as created. */
static void a_conflict_found_ours(void **state) {
    (void)state;
    /* This run's earlier attempt wrote it and its answer was lost: done, a create. */
    struct adc_scim_write lost = {.kind = ADC_SCIM_CREATE, .external_id = "e1"};
    adc_scim_conflict_failed(&lost, NULL);
    lost.sent_before = true;
    lost.found_id = strdup("7");
    assert_false(adc_scim_settle_ours(&lost));
    assert_true(lost.done);
    assert_false(lost.existed);
    assert_null(lost.error);
    assert_int_equal(lost.kind, ADC_SCIM_CREATE);
    adc_scim_write_done(&lost);
    assert_null(lost.found_id);

    /* First sent now, yet there already: a replace of that user, to be sent again. */
    struct adc_scim_write old = {
        .kind = ADC_SCIM_CREATE, .external_id = "e2", .resource = "{\"userName\":\"b\"}"};
    adc_scim_conflict_failed(&old, "taken");
    old.found_id = strdup("8");
    assert_true(adc_scim_settle_ours(&old));
    assert_false(old.done);
    assert_true(old.existed);
    assert_null(old.error);
    char *path = NULL;
    const char *body = NULL;
    assert_int_equal(adc_scim_describe_write(&old, &path, &body), 0);
    assert_string_equal(adc_scim_method_of(old.kind), "PUT");
    assert_string_equal(path, "/Users/8");
    assert_ptr_equal(body, old.resource);
    free(path);
    /* Its answer settles it like any replace: a second 409 is a failure, not a loop. */
    assert_int_equal(adc_scim_classify(&old, 200, NULL), ADC_SCIM_OUT_DONE);
    assert_int_equal(adc_scim_classify(&old, 409, "taken"), ADC_SCIM_OUT_FAILED);
    adc_scim_write_done(&old);
}

/* A create's new id from its Bulk answer's location (or a resource's id): what the groups'
 * members of a first import name the users by, without listing them again. */
struct seen_op {
    size_t n;
    char location[128];
};

static void on_op(void *ud, size_t pos, const char *bulk_id, long status, const char *detail,
                  const char *location) {
    struct seen_op *s = ud;
    (void)pos, (void)bulk_id, (void)status, (void)detail;
    if (s->n++ == 0)
        snprintf(s->location, sizeof(s->location), "%s", location ? location : "(none)");
}

static void a_create_keeps_its_new_id(void **state) {
    (void)state;
    static const char answer[] =
        "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:BulkResponse\"],\"Operations\":["
        "{\"method\":\"POST\",\"bulkId\":\"b0\",\"status\":\"201\",\"location\":"
        "\"https://x/scim/v2/Users/0b9e7c1e-56b8-4d7f-9c2a-2f0c1b7e5a10\"},"
        "{\"method\":\"POST\",\"bulkId\":\"b1\",\"status\":\"409\"}]}";
    struct seen_op seen = {0};
    char err[128];
    assert_int_equal(
        adc_scim_bulk_parse(answer, sizeof(answer) - 1, on_op, &seen, err, sizeof(err)), 0);
    assert_int_equal(seen.n, 2);
    struct adc_scim_write w = {.kind = ADC_SCIM_CREATE};
    adc_scim_note_new_id(&w, seen.location);
    assert_string_equal(w.new_id, "0b9e7c1e-56b8-4d7f-9c2a-2f0c1b7e5a10");
    adc_scim_note_new_id(&w, "plain-id"); /* a resource's "id" */
    assert_string_equal(w.new_id, "plain-id");
    adc_scim_note_new_id(&w, NULL); /* nothing said: the last one stays */
    assert_string_equal(w.new_id, "plain-id");
    adc_scim_note_new_id(&w, "https://x/scim/v2/Users/"); /* an empty id is none */
    assert_string_equal(w.new_id, "plain-id");
    adc_scim_write_done(&w);
    assert_null(w.new_id);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(requests_of_each_kind),
        cmocka_unit_test(answers_that_mean_done_retry_conflict_or_failed),
        cmocka_unit_test(settling_and_failing),
        cmocka_unit_test(a_conflict_found_ours),
        cmocka_unit_test(a_create_keeps_its_new_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
