/* POST /scim/v2/Bulk (RFC 7644 section 3.7), for Users and Groups; a group's members may name
 * users and groups created earlier in the same request by "bulkId:x". All operations of one request
 * run in one SQLite transaction: a first import of 100,000 users is 100 requests of 1,000 creates,
 * each one commit (one fsync of the WAL) instead of 1,000. Operations stay independent as the RFC
 * wants: a failing operation changes nothing (each store call is one statement, which SQLite undoes
 * on a constraint error) and the others go on, up to failOnErrors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/json-util.h"
#include "scim/scim-bulk-read.h"
#include "scim/scim-group.h"
#include "scim/scim-user-scan.h"
#include "scim/scim.h"
#include "server.h"
#include "store/store.h"

/* One operation's entry of the BulkResponse, appended as JSON text: 1,000 of them per request,
 * built directly instead of as jansson objects serialized afterwards. */
static void op_result(struct adc_buf *out, const char *method, const char *bulk_id,
                      const char *base, const char *path, const struct adc_scim_result *r) {
    adc_buf_puts(out, "{\"method\":");
    adc_json_append_string(out, method);
    adc_buf_printf(out, ",\"status\":\"%u\"", r->status);
    if (bulk_id) {
        adc_buf_puts(out, ",\"bulkId\":");
        adc_json_append_string(out, bulk_id);
    }
    if (r->id[0]) {
        char loc[400];
        snprintf(loc, sizeof(loc), "%s/scim/v2/%s/%s", base,
                 path && strncmp(path, "/Groups", 7) == 0 ? "Groups" : "Users", r->id);
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
    /* rc == 0 and stamped: the operation's BulkResponse entry if it succeeds, at this offset
     * of the request's entries (an offset: the buffer moves as it grows). */
    size_t entry, entry_len;
};

static bool is_create(const struct adc_bulk_op *op) {
    return op->is_object && op->method && strcasecmp(op->method, "POST") == 0 && op->path &&
           strcmp(op->path, "/Users") == 0 && op->bulk_id;
}

/* What a prepared create's success needs besides the database, made before the lock: its
 * id, times and audit detail (adc_scim_user_create_stamp), and its BulkResponse entry, which
 * op_result writes as it would after the commit (201, the new id, version 1). Without memory
 * for them the commit makes them as before. */
static void stamp_create(const struct adc_bulk_op *op, struct pre_create *p, const char *now,
                         const char *base, struct adc_buf *entries) {
    if (adc_scim_user_create_stamp(&p->nu, now) < 0)
        return;
    struct adc_scim_result ok = {.status = 201, .version = p->nu.u.version};
    snprintf(ok.id, sizeof(ok.id), "%s", p->nu.u.id);
    p->entry = entries->len;
    op_result(entries, "POST", op->bulk_id, base, op->path, &ok);
    p->entry_len = entries->failed ? 0 : entries->len - p->entry;
}

/* The part of each create that needs no database (settings, validation, the JSON text to
 * store, the id, the audit detail, the answer) done for all creates of the request before it
 * takes the write lock: with two requests at the server, this part of one overlaps the other's
 * writes. run_op checks the same conditions in the same order, so errors come out as before.
 * A create the text reader read is prepared from its text when scim-user-scan.c can, else from
 * a tree. */
static void prepare_creates(struct adc_scim_ctx *ctx, const struct adc_bulk_request *br,
                            struct pre_create *pre, const char *base, struct adc_buf *entries) {
    char now[24];
    adc_store_now(now);
    for (size_t i = 0; i < br->n_ops; i++) {
        const struct adc_bulk_op *op = &br->ops[i];
        if (!is_create(op))
            continue;
        pre[i].has = true;
        if (!op->data_text ||
            adc_scim_user_create_prepare_text(ctx, op->data_text, op->data_len, &pre[i].nu) < 0) {
            json_t *owned;
            json_t *data = adc_bulk_op_data(op, &owned);
            pre[i].rc = adc_scim_user_create_prepare(ctx, data, &pre[i].nu, &pre[i].r);
            json_decref(owned);
        }
        if (pre[i].rc == 0)
            stamp_create(op, &pre[i], now, base, entries);
    }
}

/* The id of the latest successful create of this request with that bulkId, or NULL. */
static const char *created_id(const struct adc_bulk_request *br, const char (*ids)[40],
                              size_t before, const char *bulk_id) {
    for (size_t i = before; i-- > 0;)
        if (ids[i][0] && strcmp(br->ops[i].bulk_id, bulk_id) == 0)
            return ids[i];
    return NULL;
}

/* What the "bulkId:x" member values of operation `i` resolve to (scim-group.c asks). */
struct bulk_refs {
    const struct adc_bulk_request *br;
    const char (*ids)[40];
    size_t i;
};

static const char *resolve_bulk_id(void *ctx, const char *bulk_id) {
    const struct bulk_refs *b = ctx;
    return created_id(b->br, b->ids, b->i, bulk_id);
}

static int group_op(struct adc_scim_ctx *ctx, const struct adc_bulk_request *br, size_t i,
                    char (*ids)[40], json_t *data, const char **method, struct adc_scim_result *r);

/* Operation i on /Groups (docs/product.md section 10): no prepared half, the group
 * operations run as the single-resource endpoints run them. */
static int run_group_op(struct adc_scim_ctx *ctx, const struct adc_bulk_request *br, size_t i,
                        char (*ids)[40], const char **method, struct adc_scim_result *r) {
    const struct adc_bulk_op *op = &br->ops[i];
    struct bulk_refs refs = {br, (const char(*)[40])ids, i};
    ctx->bulk_id = resolve_bulk_id;
    ctx->bulk = &refs;
    json_t *owned = NULL, *data = adc_bulk_op_data(op, &owned);
    int rc;
    /* A group operation is several statements (the group, each member): one that fails half
     * way is undone to here, while the request goes on with the next operation. */
    if (adc_db_savepoint(ctx->db) < 0) {
        rc = adc_scim_fail(r, 503, NULL, "database busy; retry");
        goto out;
    }
    rc = group_op(ctx, br, i, ids, data, method, r);
    if (adc_db_savepoint_end(ctx->db, rc < 0) < 0 && rc == 0)
        rc = adc_scim_fail(r, 500, NULL, "database error");
out:
    json_decref(owned);
    ctx->bulk_id = NULL;
    ctx->bulk = NULL;
    return rc;
}

static int group_op(struct adc_scim_ctx *ctx, const struct adc_bulk_request *br, size_t i,
                    char (*ids)[40], json_t *data, const char **method, struct adc_scim_result *r) {
    const struct adc_bulk_op *op = &br->ops[i];
    if (strcasecmp(op->method, "POST") == 0) {
        *method = "POST";
        if (strcmp(op->path, "/Groups") != 0)
            return bad(r, "invalidPath", "POST path must be /Users or /Groups");
        if (!op->bulk_id)
            return bad(r, "invalidSyntax", "bulkId is required for POST (RFC 7644 3.7)");
        int rc = adc_scim_group_create(ctx, data, false, r);
        if (rc == 0)
            snprintf(ids[i], sizeof(ids[i]), "%s", r->id);
        return rc;
    }
    if (strncmp(op->path, "/Groups/", 8) != 0 || !op->path[8] || strchr(op->path + 8, '/'))
        return bad(r, "invalidPath", "path must be /Groups/{id}");
    const char *id = op->path + 8;
    if (strncmp(id, "bulkId:", 7) == 0 && !(id = created_id(br, ids, i, id + 7)))
        return bad(r, "invalidValue", "unknown bulkId in path");
    if (strcasecmp(op->method, "DELETE") == 0) {
        *method = "DELETE";
        return adc_scim_group_delete(ctx, id, op->version, r);
    }
    if (strcasecmp(op->method, "PUT") == 0) {
        *method = "PUT";
        return adc_scim_group_replace(ctx, id, data, op->version, false, r);
    }
    if (strcasecmp(op->method, "PATCH") == 0) {
        *method = "PATCH";
        return adc_scim_group_patch(ctx, id, data, op->version, false, false, r);
    }
    return bad(r, "invalidSyntax", "method must be POST, PUT, PATCH or DELETE");
}

/* Runs operation i. ids[k] is the id made by operation k if it was a successful create. */
static int run_op(struct adc_scim_ctx *ctx, const struct adc_bulk_request *br, size_t i,
                  char (*ids)[40], struct pre_create *pre, const char **method,
                  struct adc_scim_result *r) {
    const struct adc_bulk_op *op = &br->ops[i];
    if (!op->is_object)
        return bad(r, "invalidSyntax", "an operation must be an object");
    *method = op->method;
    if (!op->method)
        return bad(r, "invalidSyntax", "method is required (POST, PUT, PATCH or DELETE)");
    if (!op->path)
        return bad(r, "invalidSyntax", "path is required");
    if (strncmp(op->path, "/Groups", 7) == 0)
        return run_group_op(ctx, br, i, ids, method, r);
    if (strcasecmp(op->method, "POST") == 0) {
        *method = "POST";
        if (strcmp(op->path, "/Users") != 0)
            return bad(r, "invalidPath", "POST path must be /Users or /Groups");
        if (!op->bulk_id)
            return bad(r, "invalidSyntax", "bulkId is required for POST (RFC 7644 3.7)");
        int rc;
        if (pre->rc < 0) {
            *r = pre->r;
            rc = -1;
        } else {
            rc = adc_scim_user_create_commit(ctx, &pre->nu, false, r);
        }
        if (rc == 0)
            snprintf(ids[i], sizeof(ids[i]), "%s", r->id);
        return rc;
    }
    if (strncmp(op->path, "/Users/", 7) != 0 || !op->path[7] || strchr(op->path + 7, '/'))
        return bad(r, "invalidPath", "path must be /Users/{id}");
    const char *id = op->path + 7;
    if (strncmp(id, "bulkId:", 7) == 0) {
        id = created_id(br, ids, i, id + 7);
        if (!id)
            return bad(r, "invalidValue", "unknown bulkId in path");
    }
    if (strcasecmp(op->method, "DELETE") == 0) {
        *method = "DELETE";
        return adc_scim_user_delete(ctx, id, op->version, r);
    }
    bool put = strcasecmp(op->method, "PUT") == 0;
    if (!put && strcasecmp(op->method, "PATCH") != 0)
        return bad(r, "invalidSyntax", "method must be POST, PUT, PATCH or DELETE");
    *method = put ? "PUT" : "PATCH";
    json_t *owned;
    json_t *data = adc_bulk_op_data(op, &owned);
    int rc = put ? adc_scim_user_replace(ctx, id, data, op->version, false, r)
                 : adc_scim_user_patch(ctx, id, data, op->version, false, r);
    json_decref(owned);
    return rc;
}

void adc_scim_bulk(struct adc_http_request *req, struct adc_http_response *res) {
    if (req->body_len > ADC_SCIM_BULK_MAX_PAYLOAD) {
        adc_http_error(res, 413, NULL, "bulk request larger than maxPayloadSize (%u bytes)",
                       ADC_SCIM_BULK_MAX_PAYLOAD);
        return;
    }
    struct adc_bulk_request br;
    if (adc_bulk_read_text(req->body, req->body_len, &br) < 0 &&
        adc_bulk_read_tree(req, res, &br) < 0)
        return;
    struct adc_db *db = NULL;
    struct adc_buf out, entries;
    adc_buf_init(&out, 0);
    adc_buf_init(&entries, 0);
    size_t n = br.n_ops ? br.n_ops : 1;
    struct pre_create *pre = calloc(n, sizeof(*pre));
    char(*ids)[40] = calloc(n, sizeof(*ids));
    if (!pre || !ids) {
        adc_http_error(res, 500, NULL, "out of memory");
        goto out;
    }
    char base[300];
    adc_http_base_url(req, base, sizeof(base));
    struct adc_scim_ctx pctx = {.db = NULL, .who = &req->principal};
    prepare_creates(&pctx, &br, pre, base, &entries);
    /* The answer is the entries and a little more (the errors' texts): one block. */
    adc_buf_reserve(&out, entries.len + 256);
    db = adc_store_acquire_writer(req->server->store);
    if (!db || adc_db_begin(db, true) < 0) {
        adc_http_error(res, 503, NULL, "database busy; retry");
        goto out;
    }
    struct adc_scim_ctx ctx = {.db = db, .who = &req->principal, .base_url = base};
    adc_buf_puts(&out, "{\"schemas\":[\"" ADC_SCIM_SCHEMA_BULK_RESPONSE "\"],\"Operations\":[");
    long long errors = 0;
    for (size_t i = 0; i < br.n_ops; i++) {
        struct adc_scim_result r = {0};
        const char *method = NULL;
        int rc = run_op(&ctx, &br, i, ids, &pre[i], &method, &r);
        if (rc < 0)
            errors++;
        if (i > 0)
            adc_buf_puts(&out, ",");
        if (rc == 0 && pre[i].has && pre[i].rc == 0 && pre[i].entry_len)
            adc_buf_append(&out, entries.data + pre[i].entry, pre[i].entry_len); /* a create */
        else
            op_result(&out, method ? method : "", br.ops[i].bulk_id, base, br.ops[i].path, &r);
        adc_scim_result_done(&r);
        if (br.fail_on && errors >= br.fail_on)
            break; /* the rest is not attempted (RFC 7644 section 3.7.3) */
    }
    if (adc_db_commit(db) < 0) {
        adc_http_error(res, 503, NULL, "database error on commit; nothing of this bulk was saved");
        goto out;
    }
    adc_buf_puts(&out, "]}");
    adc_http_scim_text(res, &out);
    adc_scim_users_settle(db);
out:
    adc_buf_done(&out);
    adc_buf_done(&entries);
    adc_store_release(db);
    for (size_t k = 0; pre && k < br.n_ops; k++)
        if (pre[k].has && pre[k].rc == 0)
            adc_scim_new_user_done(&pre[k].nu);
    free(pre);
    free(ids);
    adc_bulk_request_done(&br);
}
