/* A page of cloud users and a Bulk answer come from the server: whatever bytes it sends, the
 * parsers must not crash, and what they accept must agree with jansson, which must accept it
 * too (the fast parsers are strict JSON). Differential: every user yielded matches jansson's
 * reading, every Bulk operation's bulkId and status too. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cloud-users.h"
#include "scim-list-parse.h"
#include "scim-user.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const char *a, const char *b) {
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

struct ops_seen {
    const json_t *ops;
    size_t n;
};

static long status_of(const json_t *op) {
    const json_t *st = json_object_get(op, "status");
    if (json_is_string(st))
        return strtol(json_string_value(st), NULL, 10);
    if (json_is_integer(st) && json_integer_value(st) >= 0 && json_integer_value(st) < 1000)
        return (long)json_integer_value(st);
    return -1; /* other forms: not compared */
}

static void on_op(void *ud, size_t pos, const char *bulk_id, long status, const char *detail) {
    struct ops_seen *os = ud;
    (void)detail;
    /* Not JSON for jansson: nothing to compare with, and the parser may report the operations
     * before the byte that makes it fail (scim-list-parse.h). */
    if (!os->ops)
        return;
    const json_t *op = json_array_get(os->ops, pos);
    if (!op || pos != os->n++)
        __builtin_trap();
    const char *bid = json_string_value(json_object_get(op, "bulkId"));
    if (bid && *bid && !same(bid, bulk_id))
        __builtin_trap();
    long want = status_of(op);
    if (want >= 0 && want != status)
        __builtin_trap();
}

static void bulk(const uint8_t *data, size_t size) {
    json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    struct ops_seen os = {.ops = json_object_get(j, "Operations")};
    char err[160];
    if (j && json_is_array(os.ops)) {
        if (adc_scim_bulk_parse((const char *)data, size, on_op, &os, err, sizeof(err)) == 0 &&
            os.n != json_array_size(os.ops))
            __builtin_trap();
    } else if (adc_scim_bulk_parse((const char *)data, size, on_op, &os, err, sizeof(err)) == 0 &&
               !j) {
        __builtin_trap(); /* accepted what is not JSON */
    }
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    bulk(data, size);
    struct adc_cloud_users c;
    size_t total = 0, n = 0;
    char err[160];
    adc_cloud_users_init(&c);
    int r = adc_scim_list_parse((const char *)data, size, &c, &total, &n, err, sizeof(err));
    if (r == 0) {
        json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        if (!j)
            __builtin_trap(); /* accepted what is not JSON */
        const json_t *res = json_object_get(j, "Resources");
        if (n != c.n || (res && json_array_size(res) != n))
            __builtin_trap();
        for (size_t i = 0; i < n; i++) {
            struct adc_user u;
            if (adc_scim_user_from_json(json_array_get(res, i), &u) < 0)
                __builtin_trap();
            const struct adc_user *f = &c.items[i];
            if (!same(u.id, f->id) || !same(u.user_name, f->user_name) ||
                !same(u.external_id, f->external_id) || !same(u.display_name, f->display_name) ||
                !same(u.given_name, f->given_name) || !same(u.family_name, f->family_name) ||
                !same(u.email, f->email) || !same(u.provider, f->provider) || u.active != f->active)
                __builtin_trap();
            adc_user_done(&u);
        }
        json_decref(j);
    } else if (c.n != 0) {
        __builtin_trap(); /* a rejected page leaves nothing behind */
    }
    adc_cloud_users_done(&c);
    return 0;
}
