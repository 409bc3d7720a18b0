/* What adc reads from adc-server (or from whatever answers at the server URL) through
 * jansson: SCIM errors (adc_scim_error_detail), ServiceProviderConfig (as adc_scim_get_limits
 * reads it) and User resources (adc_scim_user_from_json and _with into the cloud users' blocks
 * with the provider interned). Pages of users and Bulk answers go through the tree-less parser
 * of scim-list-parse.c, fuzzed by fuzz-scim-list. Whatever the bytes: no crash, no leak; a user
 * that parsed has a non-empty id and userName, and both readers agree. The whole path through
 * HTTP (garbage, wrong types, huge, cut and hung answers) is tested by
 * tests/integration/test_hostile_server.py. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sync/cloud-users.h"
#include "cloud/scim-user.h"
#include "common/user.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!j)
        return 0;
    const char *detail = adc_scim_error_detail(j);
    if (detail && strlen(detail) > size)
        __builtin_trap();
    /* ServiceProviderConfig, as adc_scim_get_limits reads it. */
    const json_t *bulk = json_object_get(j, "bulk");
    json_int_t ops = json_integer_value(json_object_get(bulk, "maxOperations"));
    json_int_t payload = json_integer_value(json_object_get(bulk, "maxPayloadSize"));
    (void)(json_is_true(json_object_get(bulk, "supported")) && ops > 0 && payload > 1024);

    const json_t *res = json_object_get(j, "Resources");
    const json_t *tr = json_object_get(j, "totalResults");
    if (json_is_integer(tr) && json_integer_value(tr) >= 0 && (!res || json_is_array(res))) {
        struct adc_cloud_users cu;
        adc_cloud_users_init(&cu);
        json_int_t total = json_integer_value(tr);
        /* the client reserves what the server announces: bounded here as there */
        if (total < 100000 && adc_cloud_users_reserve(&cu, (size_t)total + 16) < 0)
            __builtin_trap();
        size_t i;
        const json_t *item;
        json_array_foreach(res, i, item) {
            struct adc_user full = {0}; /* its strings in cu's blocks */
            int r = adc_scim_user_from_json_with(item, &full, adc_cloud_users_strdup, &cu);
            if (r < 0) {
                if (r != -EINVAL)
                    __builtin_trap();
                continue;
            }
            if (!full.user_name || !full.id)
                __builtin_trap();
            const struct adc_cloud_user *u = adc_cloud_users_add(&cu, &full);
            if (!u)
                __builtin_trap();

            struct adc_user plain;
            if (adc_scim_user_from_json(item, &plain) < 0)
                __builtin_trap(); /* both readers agree */
            char id_buf[ADC_UUID_TEXT];
            if (strcmp(plain.user_name, u->user_name) ||
                strcmp(plain.id, adc_cloud_user_id(u, id_buf)))
                __builtin_trap();
            adc_user_done(&plain);
        }
        adc_cloud_users_done(&cu);
    }
    json_decref(j);
    return 0;
}
