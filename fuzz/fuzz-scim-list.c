/* A page of cloud users and a Bulk answer come from the server: whatever bytes it sends, the
 * parsers must not crash, and what they accept must agree with jansson, which must accept it
 * too (the fast parsers are strict JSON). Differential: every user yielded matches jansson's
 * reading, every Bulk operation's bulkId and status too. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sync/cloud-users.h"
#include "cloud/scim-list-parse.h"
#include "cloud/scim-user.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const char *a, const char *b) {
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The operations as the parser reported them. They are compared with jansson's reading only
 * once the parse has succeeded: the parser may report operations before the byte that makes
 * it fail (scim-list-parse.h), and a document jansson accepts (with "Operations" twice, say)
 * can still fail the parser later. */
struct op_seen {
    size_t pos;
    char *bulk_id;
    long status;
};

struct ops_seen {
    struct op_seen *v;
    size_t n, cap;
};

static long status_of(const json_t *op) {
    const json_t *st = json_object_get(op, "status");
    if (json_is_string(st))
        return strtol(json_string_value(st), NULL, 10);
    if (json_is_integer(st) && json_integer_value(st) >= 0 && json_integer_value(st) < 1000)
        return (long)json_integer_value(st);
    return -1; /* other forms: not compared */
}

static void on_op(void *ud, size_t pos, const char *bulk_id, long status, const char *detail,
                  const char *location) {
    struct ops_seen *os = ud;
    (void)detail;
    if (location)
        (void)strlen(location); /* readable during the call */
    if (os->n == os->cap) {
        os->cap = os->cap ? os->cap * 2 : 16;
        os->v = realloc(os->v, os->cap * sizeof(*os->v));
        if (!os->v)
            abort();
    }
    os->v[os->n++] = (struct op_seen){pos, bulk_id ? strdup(bulk_id) : NULL, status};
}

static void bulk(const uint8_t *data, size_t size) {
    json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    const json_t *ops = json_object_get(j, "Operations");
    struct ops_seen os = {0};
    char err[160];
    int r = adc_scim_bulk_parse((const char *)data, size, on_op, &os, err, sizeof(err));
    if (r == 0 && !j)
        __builtin_trap(); /* accepted what is not JSON */
    if (r == 0 && json_is_array(ops)) {
        if (os.n != json_array_size(ops))
            __builtin_trap();
        for (size_t i = 0; i < os.n; i++) {
            const json_t *op = json_array_get(ops, i);
            if (os.v[i].pos != i)
                __builtin_trap();
            const char *bid = json_string_value(json_object_get(op, "bulkId"));
            if (bid && *bid && !same(bid, os.v[i].bulk_id))
                __builtin_trap();
            long want = status_of(op);
            if (want >= 0 && want != os.v[i].status)
                __builtin_trap();
        }
    }
    for (size_t i = 0; i < os.n; i++)
        free(os.v[i].bulk_id);
    free(os.v);
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
            const struct adc_cloud_user *f = &c.items[i];
            uint64_t dg[ADC_DIGEST_COUNT];
            adc_user_digest(&u, dg); /* the compact form keeps the attributes as digests */
            char id_buf[ADC_UUID_TEXT], ext_buf[ADC_UUID_TEXT];
            if (!same(u.id, adc_cloud_user_id(f, id_buf)) || !same(u.user_name, f->user_name) ||
                !same(u.external_id, adc_cloud_user_external_id(f, ext_buf)) ||
                memcmp(dg, f->digest, sizeof(dg)) != 0 ||
                !same(u.provider, adc_cloud_user_provider(f)) || u.active != f->active)
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
