/* Every JSON body adc-server and adc accept goes through adc_json_parse with its depth limit
 * (ADC_JSON_MAX_DEPTH) before jansson sees it. Whatever the bytes: no crash, no leak, a depth
 * answer that agrees with the parser (nothing deeper than the limit is ever returned), and a
 * reason whenever parsing fails. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/json-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int depth_of(const json_t *j) {
    int d = 0;
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v) {
            int c = depth_of(v);
            if (c > d)
                d = c;
        }
        return d + 1;
    }
    if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) {
            int c = depth_of(v);
            if (c > d)
                d = c;
        }
        return d + 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* The first byte picks the limit so that small limits get exercised too. */
    int limit = size ? data[0] % (ADC_JSON_MAX_DEPTH + 1) : ADC_JSON_MAX_DEPTH;
    const char *buf = size ? (const char *)data + 1 : "";
    size_t len = size ? size - 1 : 0;
    char err[200];
    err[0] = '\0';
    int depth = adc_json_depth(buf, len, limit);
    json_t *j = adc_json_parse(buf, len, limit, err, sizeof(err));
    if (j) {
        if (depth_of(j) > limit || depth < 0)
            __builtin_trap();
        /* What we parsed we can print and read back. */
        char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!s)
            __builtin_trap();
        json_t *again = json_loads(s, JSON_DECODE_ANY, NULL);
        if (!again || !json_equal(j, again))
            __builtin_trap();
        json_decref(again);
        free(s);
        json_decref(j);
    } else if (!err[0]) {
        __builtin_trap();
    }
    return 0;
}
