/* The two readers of a BulkRequest (scim-bulk-read.h). The text reader declines whatever the
 * tree reader would answer with an error, or would read in a way that depends on which of two
 * equal keys counts: a member given twice, a member of the wrong type. So where both accept a
 * request, they read the same operations; the fuzz target bulk-read checks it. */
#include "scim/scim-bulk-read.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json-scan.h"
#include "common/json-util.h"
#include "scim/scim-user.h"
#include "server.h"

#define DECLINE (-ECANCELED)

struct text_reader {
    struct adc_bulk_request *req;
    char *next; /* where the next decoded string goes in req->strings */
    size_t cap_ops;
    bool schemas, schema_ok, operations, fail_on;
};

/* A string decoded into req->strings, which has room for all of them: a decoded string and its
 * NUL never take more bytes than the string's JSON text with its quotes. */
static int string_copy(struct adc_json_scan *s, struct text_reader *tr, const char **out) {
    const char *raw;
    size_t len;
    bool escaped;
    if (!adc_json_scan_next_is(s, '"'))
        return DECLINE;
    int r = adc_json_scan_string(s, &raw, &len, &escaped);
    if (r < 0)
        return r;
    char *o = tr->next;
    if (escaped) {
        len = adc_json_unescape(raw, len, o);
    } else {
        memcpy(o, raw, len);
        o[len] = '\0';
    }
    tr->next += len + 1;
    *out = o;
    return 0;
}

static int op_member(struct adc_json_scan *s, const char *key, void *ctx) {
    struct text_reader *tr = ctx;
    struct adc_bulk_op *op = &tr->req->ops[tr->req->n_ops - 1];
    const char **field = strcmp(key, "method") == 0    ? &op->method
                         : strcmp(key, "bulkId") == 0  ? &op->bulk_id
                         : strcmp(key, "path") == 0    ? &op->path
                         : strcmp(key, "version") == 0 ? &op->version
                                                       : NULL;
    if (field)
        return *field ? DECLINE : string_copy(s, tr, field);
    if (strcmp(key, "data") != 0)
        return adc_json_scan_skip(s);
    if (op->data_text)
        return DECLINE;
    const char *from = s->p;
    int r = adc_json_scan_skip(s);
    op->data_text = from;
    op->data_len = (size_t)(s->p - from);
    return r;
}

static int operation(struct adc_json_scan *s, size_t index, void *ctx) {
    struct text_reader *tr = ctx;
    struct adc_bulk_request *req = tr->req;
    (void)index;
    if (req->n_ops == ADC_SCIM_BULK_MAX_OPS || !adc_json_scan_next_is(s, '{'))
        return DECLINE; /* too many, or not an operation: the tree reader says why */
    if (adc_grow_array(req->ops, tr->cap_ops, req->n_ops, 64) < 0)
        return -ENOMEM;
    req->ops[req->n_ops++] = (struct adc_bulk_op){.is_object = true};
    return adc_json_scan_object(s, op_member, tr);
}

static int operations(struct adc_json_scan *s, struct text_reader *tr) {
    if (tr->operations || !adc_json_scan_eat(s, '['))
        return DECLINE;
    tr->operations = true;
    return adc_json_scan_elements(s, operation, tr);
}

static int schema(struct adc_json_scan *s, size_t index, void *ctx) {
    struct text_reader *tr = ctx;
    (void)index;
    if (!adc_json_scan_next_is(s, '"'))
        return adc_json_scan_skip(s);
    const char *v;
    int r = string_copy(s, tr, &v);
    if (r == 0 && strcmp(v, ADC_SCIM_SCHEMA_BULK_REQUEST) == 0)
        tr->schema_ok = true;
    return r;
}

/* schemas must hold the BulkRequest URI (an empty array does not). */
static int schemas(struct adc_json_scan *s, struct text_reader *tr) {
    if (tr->schemas || !adc_json_scan_eat(s, '['))
        return DECLINE;
    tr->schemas = true;
    int r = adc_json_scan_elements(s, schema, tr);
    return r < 0 ? r : tr->schema_ok ? 0 : DECLINE;
}

static int request_member(struct adc_json_scan *s, const char *key, void *ctx) {
    struct text_reader *tr = ctx;
    if (strcmp(key, "schemas") == 0)
        return schemas(s, tr);
    if (strcmp(key, "Operations") == 0)
        return operations(s, tr);
    if (strcmp(key, "failOnErrors") == 0) {
        long long v;
        if (tr->fail_on || adc_json_scan_number(s, &v) < 0 || v < 1)
            return DECLINE; /* the tree reader says what is wrong with it */
        tr->fail_on = true;
        tr->req->fail_on = v;
        return 0;
    }
    return adc_json_scan_skip(s);
}

int adc_bulk_read_text(const char *body, size_t len, struct adc_bulk_request *req) {
    memset(req, 0, sizeof(*req));
    if (!(req->strings = malloc(len + 1)))
        return -1;
    struct text_reader tr = {.req = req, .next = req->strings};
    struct adc_json_scan s;
    adc_json_scan_init(&s, body, len, ADC_JSON_MAX_DEPTH);
    if (!adc_json_scan_next_is(&s, '{') || adc_json_scan_object(&s, request_member, &tr) < 0 ||
        adc_json_scan_end(&s) < 0 || !tr.operations) {
        adc_bulk_request_done(req);
        return -1;
    }
    return 0;
}

int adc_bulk_read_tree(struct adc_http_request *http, struct adc_http_response *res,
                       struct adc_bulk_request *req) {
    memset(req, 0, sizeof(*req));
    json_t *body = adc_http_body_object(http, res);
    if (!body)
        return -1;
    req->body = body;
    json_t *schemas = json_object_get(body, "schemas");
    bool schema_ok = !schemas;
    size_t i;
    json_t *s;
    json_array_foreach(schemas, i, s) {
        if (json_is_string(s) && strcmp(json_string_value(s), ADC_SCIM_SCHEMA_BULK_REQUEST) == 0)
            schema_ok = true;
    }
    if (!schema_ok) {
        adc_http_error(res, 400, "invalidSyntax", "schemas must be [\"%s\"]",
                       ADC_SCIM_SCHEMA_BULK_REQUEST);
        goto fail;
    }
    json_t *ops = json_object_get(body, "Operations");
    if (!json_is_array(ops)) {
        adc_http_error(res, 400, "invalidSyntax", "Operations must be an array");
        goto fail;
    }
    if (json_array_size(ops) > ADC_SCIM_BULK_MAX_OPS) {
        adc_http_error(res, 413, NULL, "%zu operations; maxOperations is %d", json_array_size(ops),
                       ADC_SCIM_BULK_MAX_OPS);
        goto fail;
    }
    json_t *foe = json_object_get(body, "failOnErrors");
    if (foe && (!json_is_integer(foe) || json_integer_value(foe) < 1)) {
        adc_http_error(res, 400, "invalidValue", "failOnErrors must be an integer of at least 1");
        goto fail;
    }
    req->fail_on = foe ? json_integer_value(foe) : 0;
    req->n_ops = json_array_size(ops);
    if (!(req->ops = calloc(req->n_ops ? req->n_ops : 1, sizeof(*req->ops)))) {
        adc_http_error(res, 500, NULL, "out of memory");
        goto fail;
    }
    json_t *op;
    json_array_foreach(ops, i, op) {
        req->ops[i] = (struct adc_bulk_op){
            .is_object = json_is_object(op),
            .method = json_string_value(json_object_get(op, "method")),
            .bulk_id = json_string_value(json_object_get(op, "bulkId")),
            .path = json_string_value(json_object_get(op, "path")),
            .version = json_string_value(json_object_get(op, "version")),
            .data = json_object_get(op, "data"),
        };
    }
    return 0;
fail:
    adc_bulk_request_done(req);
    return -1;
}

json_t *adc_bulk_op_data(const struct adc_bulk_op *op, json_t **owned) {
    *owned = NULL;
    if (!op->data_text)
        return op->data;
    char err[200];
    /* The text reader checked the whole request, so this cannot fail but for memory. */
    *owned = adc_json_parse(op->data_text, op->data_len, ADC_JSON_MAX_DEPTH, err, sizeof(err));
    return *owned;
}

void adc_bulk_request_done(struct adc_bulk_request *req) {
    free(req->ops);
    free(req->strings);
    json_decref(req->body);
    memset(req, 0, sizeof(*req));
}
