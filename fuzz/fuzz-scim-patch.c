/* PATCH bodies come from the network (PATCH /scim/v2/Users/{id}, Bulk). Whatever the bytes:
 * no crash, no leak; a failure has a reason and a scimType; a success leaves a JSON object. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/json-util.h"
#include "scim/scim-user.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[300];
    json_t *body = adc_json_parse((const char *)data, size, ADC_JSON_MAX_DEPTH, err, sizeof(err));
    if (!body)
        return 0;
    json_t *res = json_loads(
        "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"id\":\"1\","
        "\"userName\":\"ann\",\"name\":{\"givenName\":\"Ann\"},\"emails\":[{\"value\":\"a@w\","
        "\"type\":\"work\"},{\"value\":\"a@h\",\"type\":\"home\",\"primary\":true}],"
        "\"active\":true,\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\":"
        "{\"department\":\"x\"}}",
        0, NULL);
    const char *type = NULL;
    err[0] = '\0';
    if (adc_scim_patch_apply(res, body, &type, err, sizeof(err)) < 0) {
        if (!err[0])
            __builtin_trap();
    } else if (!json_is_object(res)) {
        __builtin_trap();
    }
    json_decref(res);
    json_decref(body);
    return 0;
}
