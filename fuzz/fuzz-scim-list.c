/* A page of cloud users comes from the server: whatever bytes it sends, the parser must not
 * crash, and what it accepts must agree with jansson, which must accept it too (the fast
 * parser is strict JSON). Differential: every user it yields matches jansson's reading. */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
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
