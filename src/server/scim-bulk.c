/* POST /scim/v2/Bulk (RFC 7644 section 3.7). All operations of one request run in one SQLite
 * transaction: a first import of 100,000 users is 100 requests of 1,000 creates, each one
 * commit (one fsync of the WAL) instead of 1,000. Operations stay independent as the RFC wants:
 * a failing operation changes nothing (each store call is one statement, which SQLite undoes on
 * a constraint error) and the others go on, up to failOnErrors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "json-util.h"
#include "scim.h"
#include "server.h"
#include "store.h"

/* One operation's entry of the BulkResponse, appended as JSON text: 1,000 of them per request,
 * built directly instead of as jansson objects serialized afterwards. */
static void op_result(struct adc_buf *out, const char *method, const char *bulk_id,
                      const char *base, const struct adc_scim_result *r) {
    adc_buf_puts(out, "{\"method\":");
    adc_json_append_string(out, method);
    adc_buf_printf(out, ",\"status\":\"%u\"", r->status);
    if (bulk_id) {
        adc_buf_puts(out, ",\"bulkId\":");
        adc_json_append_string(out, bulk_id);
    }
    if (r->id[0]) {
        char loc[400];
        snprintf(loc, sizeof(loc), "%s/scim/v2/Users/%s", base, r->id);
        adc_buf_puts(out, ",\"location\":");
        adc_json_append_string(out, loc);
    }
    if (r->status < 300 && r->status != 204)
        adc_buf_printf(out, ",\"version\":\"W/\\\"%lld\\\"\"", (long long)r->version);
    if (r->status >= 400) {
        json_t *e = adc_scim_result_error(r);
        char *t = json_dumps(e, JSON_COMPACT);
        json_decref(e);
        adc_buf_puts(out, ",\"response\":");
        adc_buf_puts(out, t ? t : "null");
        free(t);
    }
    adc_buf_puts(out, "}");
}

static int bad(struct adc_scim_result *r, const char *scim_type, const char *detail) {
    r->status = 400;
    r->scim_type = scim_type;
    snprintf(r->detail, sizeof(r->detail), "%s", detail);
    return -1;
}

/* A create checked and rendered before the write lock is taken (see prepare_creates). */
struct pre_create {
    bool has; /* the operation is a well-formed POST: run_op uses rc, nu and r */
    int rc;
    struct adc_scim_new_user nu; /* rc == 0 */
    struct adc_scim_result r;    /* rc < 0: the error */
};

/* The part of each create that needs no database (settings, validation, the JSON text to
 * store) done for all creates of the request before it takes the write lock: with two
 * requests at the server, this part of one overlaps the other's writes. run_op checks the
 * same conditions in the same order, so errors come out as before. */
static void prepare_creates(struct adc_scim_ctx *ctx, const json_t *ops, struct pre_create *pre) {
    size_t i;
    json_t *op;
    json_array_foreach(ops, i, op) {
        const char *method = json_string_value(json_object_get(op, "method"));
        const char *path = json_string_value(json_object_get(op, "path"));
        if (!json_is_object(op) || !method || strcasecmp(method, "POST") != 0 || !path ||
            strcmp(path, "/Users") != 0 || !json_string_value(json_object_get(op, "bulkId")))
            continue;
        pre[i].has = true;
        pre[i].rc =
            adc_scim_user_create_prepare(ctx, json_object_get(op, "data"), &pre[i].nu, &pre[i].r);
    }
}

/* Runs one operation. bulk_ids maps the bulkIds of earlier creates to their ids; pre is its
 * prepared create, if any. */
static int run_op(struct adc_scim_ctx *ctx, const json_t *op, json_t *bulk_ids,
                  struct pre_create *pre, const char **method, const char **bulk_id,
                  struct adc_scim_result *r) {
    if (!json_is_object(op))
        return bad(r, "invalidSyntax", "an operation must be an object");
    *method = json_string_value(json_object_get(op, "method"));
    *bulk_id = json_string_value(json_object_get(op, "bulkId"));
    const char *path = json_string_value(json_object_get(op, "path"));
    const char *version = json_string_value(json_object_get(op, "version"));
    json_t *data = json_object_get(op, "data");
    if (!*method)
        return bad(r, "invalidSyntax", "method is required (POST, PUT, PATCH or DELETE)");
    if (!path)
        return bad(r, "invalidSyntax", "path is required");
    if (strcasecmp(*method, "POST") == 0) {
        *method = "POST";
        if (strcmp(path, "/Users") != 0)
            return bad(r, "invalidPath", "POST path must be /Users");
        if (!*bulk_id)
            return bad(r, "invalidSyntax", "bulkId is required for POST (RFC 7644 3.7)");
        int rc;
        if (pre->has && pre->rc < 0) {
            *r = pre->r;
            rc = -1;
        } else if (pre->has) {
            rc = adc_scim_user_create_commit(ctx, &pre->nu, false, r);
        } else {
            rc = adc_scim_user_create(ctx, data, false, r);
        }
        if (rc == 0)
            json_object_set_new(bulk_ids, *bulk_id, json_string(r->id));
        return rc;
    }
    if (strncmp(path, "/Users/", 7) != 0 || !path[7] || strchr(path + 7, '/'))
        return bad(r, "invalidPath", "path must be /Users/{id}");
    const char *id = path + 7;
    if (strncmp(id, "bulkId:", 7) == 0) {
        id = json_string_value(json_object_get(bulk_ids, id + 7));
        if (!id)
            return bad(r, "invalidValue", "unknown bulkId in path");
    }
    if (strcasecmp(*method, "PUT") == 0) {
        *method = "PUT";
        return adc_scim_user_replace(ctx, id, data, version, false, r);
    }
    if (strcasecmp(*method, "PATCH") == 0) {
        *method = "PATCH";
        return adc_scim_user_patch(ctx, id, data, version, false, r);
    }
    if (strcasecmp(*method, "DELETE") == 0) {
        *method = "DELETE";
        return adc_scim_user_delete(ctx, id, version, r);
    }
    return bad(r, "invalidSyntax", "method must be POST, PUT, PATCH or DELETE");
}

void adc_scim_bulk(struct adc_http_request *req, struct adc_http_response *res) {
    if (req->body_len > ADC_SCIM_BULK_MAX_PAYLOAD) {
        adc_http_error(res, 413, NULL, "bulk request larger than maxPayloadSize (%u bytes)",
                       ADC_SCIM_BULK_MAX_PAYLOAD);
        return;
    }
    json_t *body = adc_http_body_object(req, res);
    if (!body)
        return;
    struct adc_db *db = NULL;
    json_t *bulk_ids = NULL;
    struct pre_create *pre = NULL;
    size_t n_pre = 0;
    struct adc_buf out;
    adc_buf_init(&out, 0);
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
        goto out;
    }
    json_t *ops = json_object_get(body, "Operations");
    if (!json_is_array(ops)) {
        adc_http_error(res, 400, "invalidSyntax", "Operations must be an array");
        goto out;
    }
    if (json_array_size(ops) > ADC_SCIM_BULK_MAX_OPS) {
        adc_http_error(res, 413, NULL, "%zu operations; maxOperations is %d", json_array_size(ops),
                       ADC_SCIM_BULK_MAX_OPS);
        goto out;
    }
    json_t *foe = json_object_get(body, "failOnErrors");
    if (foe && (!json_is_integer(foe) || json_integer_value(foe) < 1)) {
        adc_http_error(res, 400, "invalidValue", "failOnErrors must be an integer of at least 1");
        goto out;
    }
    json_int_t fail_on = foe ? json_integer_value(foe) : 0;
    n_pre = json_array_size(ops);
    if (!(pre = calloc(n_pre ? n_pre : 1, sizeof(*pre)))) {
        adc_http_error(res, 500, NULL, "out of memory");
        goto out;
    }
    struct adc_scim_ctx pctx = {.db = NULL, .who = &req->principal};
    prepare_creates(&pctx, ops, pre);
    db = adc_store_acquire(req->server->store);
    if (!db || adc_db_begin(db, true) < 0) {
        adc_http_error(res, 503, NULL, "database busy; retry");
        goto out;
    }
    char base[300];
    adc_http_base_url(req, base, sizeof(base));
    struct adc_scim_ctx ctx = {.db = db, .who = &req->principal, .base_url = base};
    bulk_ids = json_object();
    adc_buf_puts(&out, "{\"schemas\":[\"" ADC_SCIM_SCHEMA_BULK_RESPONSE "\"],\"Operations\":[");
    json_int_t errors = 0;
    json_t *op;
    json_array_foreach(ops, i, op) {
        struct adc_scim_result r = {0};
        const char *method = NULL, *bulk_id = NULL;
        if (run_op(&ctx, op, bulk_ids, &pre[i], &method, &bulk_id, &r) < 0)
            errors++;
        if (i > 0)
            adc_buf_puts(&out, ",");
        op_result(&out, method ? method : "", bulk_id, base, &r);
        adc_scim_result_done(&r);
        if (fail_on && errors >= fail_on)
            break; /* the rest is not attempted (RFC 7644 section 3.7.3) */
    }
    if (adc_db_commit(db) < 0) {
        adc_http_error(res, 503, NULL, "database error on commit; nothing of this bulk was saved");
        goto out;
    }
    adc_buf_puts(&out, "]}");
    adc_http_scim_text(res, &out);
out:
    adc_buf_done(&out);
    adc_store_release(db);
    for (size_t k = 0; pre && k < n_pre; k++)
        if (pre[k].has && pre[k].rc == 0)
            adc_scim_new_user_done(&pre[k].nu);
    free(pre);
    json_decref(bulk_ids);
    json_decref(body);
}
