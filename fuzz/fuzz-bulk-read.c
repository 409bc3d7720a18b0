/* adc-server reads a BulkRequest, and the User of each create in it, without a jansson tree
 * when it can (scim-bulk-read.c, scim-user-scan.c) and with one otherwise. Whatever the bytes,
 * where the text readers accept, the tree readers must accept too and read the same thing: the
 * same operations, the same users with the same stored attributes. The first byte picks who
 * sends the request (a sync configuration, with or without create-as-disabled, or an
 * administrator), the rest is the body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/json-util.h"
#include "scim/scim-bulk-read.h"
#include "scim/scim-user-scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_string(const char *a, const char *b) {
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static json_t *parse(const char *text, size_t len) {
    char err[200];
    return adc_json_parse(text, len, ADC_JSON_MAX_DEPTH, err, sizeof(err));
}

/* Both readers of one create's User: the text reader may decline, else both must agree. */
static void compare_creates(struct adc_scim_ctx *ctx, const char *text, size_t len) {
    struct adc_scim_new_user fast, slow;
    struct adc_scim_result r = {0};
    if (adc_scim_user_create_prepare_text(ctx, text, len, &fast) < 0)
        return;
    json_t *tree = parse(text, len);
    if (!tree || adc_scim_user_create_prepare(ctx, tree, &slow, &r) < 0)
        __builtin_trap();
    json_t *a = parse(fast.u.data, strlen(fast.u.data));
    json_t *b = parse(slow.u.data, strlen(slow.u.data));
    if (!a || !b || !json_equal(a, b) || strcmp(fast.u.user_name, slow.u.user_name) != 0 ||
        !same_string(fast.u.external_id, slow.u.external_id) ||
        strcmp(fast.u.provider, slow.u.provider) != 0 || fast.u.active != slow.u.active ||
        fast.check_provider != slow.check_provider || fast.u.version != slow.u.version)
        __builtin_trap();
    json_decref(a);
    json_decref(b);
    json_decref(tree);
    adc_scim_new_user_done(&fast);
    adc_scim_new_user_done(&slow);
    adc_scim_result_done(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 1 << 20)
        return 0;
    struct adc_principal who = {.kind = ADC_PRINCIPAL_SYNC};
    strcpy(who.app_id, "app-1");
    memset(who.settings, ADC_UNSET, sizeof(who.settings));
    if (data[0] % 3 == 1)
        who.settings[ADC_SETTING_CREATE_AS_DISABLED] = ADC_TRUE;
    if (data[0] % 3 == 2)
        who.kind = ADC_PRINCIPAL_ADMIN;
    struct adc_scim_ctx ctx = {.who = &who};
    /* a NUL-terminated copy, as the server's request bodies are */
    char *body = malloc(size);
    if (!body)
        return 0;
    memcpy(body, data + 1, size - 1);
    body[size - 1] = '\0';
    size_t len = size - 1;

    /* the whole input as one User, as a create's data */
    compare_creates(&ctx, body, len);

    struct adc_bulk_request fast, slow;
    if (adc_bulk_read_text(body, len, &fast) == 0) {
        struct adc_http_request http = {.body = body, .body_len = len};
        struct adc_http_response res = {0};
        if (adc_bulk_read_tree(&http, &res, &slow) < 0)
            __builtin_trap();
        if (fast.n_ops != slow.n_ops || fast.fail_on != slow.fail_on)
            __builtin_trap();
        for (size_t i = 0; i < fast.n_ops; i++) {
            const struct adc_bulk_op *f = &fast.ops[i], *s = &slow.ops[i];
            json_t *owned, *fd = adc_bulk_op_data(f, &owned);
            if (f->is_object != s->is_object || !same_string(f->method, s->method) ||
                !same_string(f->bulk_id, s->bulk_id) || !same_string(f->path, s->path) ||
                !same_string(f->version, s->version) || !fd != !s->data ||
                (fd && !json_equal(fd, s->data)))
                __builtin_trap();
            json_decref(owned);
            if (f->data_text)
                compare_creates(&ctx, f->data_text, f->data_len);
        }
        adc_bulk_request_done(&fast);
        adc_bulk_request_done(&slow);
    }
    free(body);
    return 0;
}
