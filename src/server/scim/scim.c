#include "scim/scim.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/log.h"
#include "scim/scim-attrs.h"
#include "scim/scim-filter.h"
#include "store/store-filter.h"
#include "server.h"
#include "scim/scim-group.h"
#include "store/store-users.h"

void adc_scim_respond_error(struct adc_http_response *res, const struct adc_scim_result *r) {
    adc_http_json(res, r->status, adc_scim_result_error(r));
}

/* ---- listing ----------------------------------------------------------------------------- */

/* Where the previous page of a listing ended. A client paging through all users asks for
 * startIndex = previous startIndex + count with the same filter; continuing after the last seen
 * row instead of skipping startIndex-1 rows keeps a full listing linear, not quadratic. Rows
 * inserted meanwhile come last; rows deleted meanwhile do not shift the pages (RFC 7644 section
 * 3.4.2.4 leaves consistency across pages to the server). The continuation also keeps the
 * first page's totalResults: counting a million users for each of 500 pages made a full
 * listing quadratic again (a listing is a snapshot as of its first page, give or take the rows
 * added or removed meanwhile, which the pages show). */
#define CURSORS 32
static struct {
    char filter[ADC_SCIM_MAX_FILTER_LEN + 1];
    int64_t next_index;
    int64_t last_seq;
    int64_t total;
    unsigned long used;
} cursors[CURSORS];
static unsigned long cursor_clock;
static pthread_mutex_t cursor_lock = PTHREAD_MUTEX_INITIALIZER;

static int64_t cursor_find(const char *filter, int64_t start_index, int64_t *total) {
    int64_t seq = -1;
    pthread_mutex_lock(&cursor_lock);
    for (size_t i = 0; i < CURSORS; i++)
        if (cursors[i].used && cursors[i].next_index == start_index &&
            strcmp(cursors[i].filter, filter) == 0) {
            seq = cursors[i].last_seq;
            *total = cursors[i].total;
            cursors[i].used = ++cursor_clock;
            break;
        }
    pthread_mutex_unlock(&cursor_lock);
    return seq;
}

static void cursor_save(const char *filter, int64_t next_index, int64_t last_seq, int64_t total) {
    pthread_mutex_lock(&cursor_lock);
    size_t slot = 0;
    for (size_t i = 0; i < CURSORS; i++) {
        if (cursors[i].used && cursors[i].next_index == next_index &&
            strcmp(cursors[i].filter, filter) == 0) {
            slot = i;
            break;
        }
        if (cursors[i].used < cursors[slot].used)
            slot = i;
    }
    snprintf(cursors[slot].filter, sizeof(cursors[slot].filter), "%s", filter);
    cursors[slot].next_index = next_index;
    cursors[slot].last_seq = last_seq;
    cursors[slot].total = total;
    cursors[slot].used = ++cursor_clock;
    pthread_mutex_unlock(&cursor_lock);
}

struct page {
    json_t *items;        /* with a projection */
    struct adc_buf *text; /* without: the resources as JSON text, comma-separated */
    bool meta;            /* with text: each resource's meta too */
    size_t n;
    const char *base_url;
    const struct adc_scim_projection *proj;
    int64_t last_seq;
    size_t bytes; /* stored text of the users so far */
};

static int add_item(const struct adc_store_user *u, void *ctx) {
    struct page *pg = ctx;
    /* A page holds at most ADC_SCIM_MAX_PAGE_BYTES of users (5,000 users of 64 KiB would be
     * 320 MB): it ends early, which RFC 7644 section 3.4.2.4 allows (itemsPerPage says how many
     * came; the client asks for the next startIndex). */
    size_t size = strlen(u->data);
    if (pg->n > 0 && pg->bytes + size > ADC_SCIM_MAX_PAGE_BYTES)
        return -ENOBUFS;
    pg->bytes += size;
    pg->last_seq = u->seq;
    if (pg->text) {
        if (pg->n++ > 0)
            adc_buf_append(pg->text, ",", 1);
        return adc_scim_user_render_text(u, pg->base_url, pg->meta, pg->text);
    }
    json_t *r = adc_scim_user_render(u, pg->base_url);
    if (!r)
        return -ENOMEM;
    adc_scim_projection_apply(r, pg->proj);
    json_array_append_new(pg->items, r);
    pg->n++;
    return 0;
}

static void list_users(struct adc_http_response *res, struct adc_http_request *req,
                       const char *filter, const char *start_s, const char *count_s,
                       const char *attributes, const char *excluded) {
    struct adc_scim_listing l;
    json_t *items = NULL;
    if (adc_scim_listing_begin(req, res, filter, start_s, count_s, attributes, excluded,
                               adc_store_filter_sql, &l) < 0)
        goto out;
    struct adc_db *db = l.db;
    int64_t start = l.start, count = l.count;
    const char *fkey = filter ? filter : "";
    int64_t total = -1, after = count > 0 ? cursor_find(fkey, start, &total) : -1;
    if (after < 0)
        total = adc_store_user_count(db, l.where.sql, l.where.args, l.where.n);
    if (total < 0) {
        adc_http_error(res, 500, NULL, "database error while counting users");
        goto out;
    }
    char base[300];
    adc_http_base_url(req, base, sizeof(base));
    items = json_array();
    struct adc_buf text;
    adc_buf_init(&text, 0);
    bool as_text = !l.proj.attrs || adc_scim_projection_all_but_meta(&l.proj);
    struct page pg = {.items = items,
                      .text = as_text ? &text : NULL,
                      .meta = !l.proj.attrs,
                      .base_url = base,
                      .proj = &l.proj,
                      .last_seq = -1};
    if (count > 0 && start <= total) {
        int n = after >= 0 ? adc_store_user_list(db, l.where.sql, l.where.args, l.where.n, after, 0,
                                                 count, add_item, &pg)
                           : adc_store_user_list(db, l.where.sql, l.where.args, l.where.n, -1,
                                                 start - 1, count, add_item, &pg);
        if (n == -ENOBUFS)
            n = (int)pg.n; /* the page is full before count */
        if (n < 0) {
            adc_buf_done(&text);
            adc_http_error(res, 500, NULL, "database error while listing users");
            goto out;
        }
        if (n > 0 && start + n <= total)
            cursor_save(fkey, start + n, pg.last_seq, total);
    }
    adc_db_commit(db);
    size_t n_items = pg.n;
    if (pg.text) {
        /* Built as text: no parse and re-serialization of every stored user. */
        struct adc_buf out;
        adc_buf_init(&out, 0);
        adc_scim_list_response_text(&out, total, n_items, start, &text);
        adc_buf_done(&text);
        adc_http_scim_text(res, &out);
        goto out;
    }
    adc_buf_done(&text);
    adc_http_json(res, 200,
                  json_pack("{s:[s],s:I,s:I,s:I,s:O}", "schemas", ADC_SCIM_SCHEMA_LIST,
                            "totalResults", (json_int_t)total, "itemsPerPage", (json_int_t)n_items,
                            "startIndex", (json_int_t)start, "Resources", items));
out:
    json_decref(items);
    adc_scim_listing_done(&l);
}

static void users_list(struct adc_http_request *req, struct adc_http_response *res) {
    list_users(res, req, adc_http_query(req, "filter"), adc_http_query(req, "startIndex"),
               adc_http_query(req, "count"), adc_http_query(req, "attributes"),
               adc_http_query(req, "excludedAttributes"));
}

/* POST /Users/.search (RFC 7644 section 3.4.3): the query in the body. */
static void users_search(struct adc_http_request *req, struct adc_http_response *res) {
    json_t *b = adc_http_body_object(req, res);
    if (!b)
        return;
    char start[32] = "", count[32] = "";
    json_t *sv = json_object_get(b, "startIndex"), *cv = json_object_get(b, "count");
    if ((sv && !json_is_integer(sv)) || (cv && !json_is_integer(cv))) {
        adc_http_error(res, 400, "invalidValue", "startIndex and count must be integers");
        json_decref(b);
        return;
    }
    snprintf(start, sizeof(start), "%lld", (long long)json_integer_value(sv));
    snprintf(count, sizeof(count), "%lld", (long long)json_integer_value(cv));
    json_t *fv = json_object_get(b, "filter");
    if (fv && !json_is_string(fv)) {
        adc_http_error(res, 400, "invalidFilter", "filter must be a string");
        json_decref(b);
        return;
    }
    /* attributes: an array of names in the body */
    char *attrs = NULL;
    json_t *av = json_object_get(b, "attributes");
    if (json_is_array(av)) {
        size_t i, len = 0;
        json_t *a;
        json_array_foreach(av, i, a) len += json_string_length(a) + 1;
        attrs = calloc(len + 1, 1);
        json_array_foreach(av, i, a) {
            if (attrs && json_is_string(a)) {
                if (*attrs)
                    strcat(attrs, ",");
                strcat(attrs, json_string_value(a));
            }
        }
    }
    list_users(res, req, json_string_value(fv), sv ? start : NULL, cv ? count : NULL, attrs, NULL);
    free(attrs);
    json_decref(b);
}

/* Searches at the root (RFC 7644 sections 3.4.2.1 and 3.4.3) would mix users and groups in
 * one paged listing; this server answers them with 501 and the SCIM error (RFC 7644 section
 * 3.4.2: "if the service provider does not support ... it SHALL return 501"), so that a client
 * searches /Users or /Groups instead. */
static void root_search(struct adc_http_request *req, struct adc_http_response *res) {
    (void)req;
    adc_http_error(res, 501, NULL,
                   "searches at the root are not supported: search /Users or /Groups "
                   "(GET with filter, or POST .search)");
}

/* ---- single users ------------------------------------------------------------------------ */

static void user_get(struct adc_http_request *req, struct adc_http_response *res) {
    struct adc_db *db = adc_store_acquire(req->server->store);
    if (!db) {
        adc_http_error(res, 503, NULL, "database unavailable");
        return;
    }
    struct adc_store_user u;
    int e = adc_store_user_get(db, req->params[0], &u);
    adc_store_release(db);
    if (e == -ENOENT) {
        adc_http_error(res, 404, NULL, "no user with id '%s'", req->params[0]);
        return;
    }
    if (e < 0) {
        adc_http_error(res, 500, NULL, "database error");
        return;
    }
    adc_scim_etag(u.version, res->etag, sizeof(res->etag));
    const char *inm = adc_http_header(req, "If-None-Match");
    if (inm && strstr(inm, res->etag + 2)) { /* compare the quoted part of W/"n" */
        res->status = 304;
        adc_store_user_done(&u);
        return;
    }
    char base[300];
    adc_http_base_url(req, base, sizeof(base));
    json_t *r = adc_scim_user_render(&u, base);
    struct adc_scim_projection proj;
    const char *a = adc_http_query(req, "attributes"),
               *x = adc_http_query(req, "excludedAttributes");
    if (adc_scim_projection_parse(a ? a : x, !a, &proj) == 0)
        adc_scim_projection_apply(r, &proj);
    adc_scim_projection_done(&proj);
    adc_store_user_done(&u);
    adc_http_json(res, 200, r);
}

enum write_kind { W_CREATE, W_REPLACE, W_PATCH, W_DELETE };

static int group_write(struct adc_scim_ctx *ctx, struct adc_http_request *req, enum write_kind kind,
                       const json_t *body, const char *if_match, struct adc_scim_result *r) {
    const char *id = req->params[0];
    switch (kind) {
    case W_CREATE: return adc_scim_group_create(ctx, body, true, r);
    case W_REPLACE: return adc_scim_group_replace(ctx, id, body, if_match, true, r);
    case W_DELETE: return adc_scim_group_delete(ctx, id, if_match, r);
    case W_PATCH: break;
    }
    /* A PATCH answers 204 (RFC 7644 section 3.5.2 allows it): the members of a large group
     * would otherwise travel back with every change. Asked with attributes or
     * excludedAttributes, it answers 200 with the group so projected. */
    const char *a = adc_http_query(req, "attributes"),
               *x = adc_http_query(req, "excludedAttributes");
    struct adc_scim_projection proj;
    if (adc_scim_projection_parse(a ? a : x, !a, &proj) < 0)
        return adc_scim_fail(r, 400, "invalidValue", "attributes or excludedAttributes: a list");
    int rc = adc_scim_group_patch(ctx, id, body, if_match, a || x,
                                  adc_scim_projection_wants(&proj, "members"), r);
    if (rc == 0 && r->resource)
        adc_scim_projection_apply(r->resource, &proj);
    adc_scim_projection_done(&proj);
    return rc;
}

static void resource_write(struct adc_http_request *req, struct adc_http_response *res,
                           enum write_kind kind, bool group) {
    json_t *body = NULL;
    if (kind != W_DELETE && !(body = adc_http_body_object(req, res)))
        return;
    struct adc_db *db = adc_store_acquire_writer(req->server->store);
    if (!db) {
        json_decref(body);
        adc_http_error(res, 503, NULL, "database unavailable");
        return;
    }
    char base[300];
    adc_http_base_url(req, base, sizeof(base));
    struct adc_scim_ctx ctx = {.db = db, .who = &req->principal, .base_url = base};
    struct adc_scim_result r = {0};
    const char *if_match = adc_http_header(req, "If-Match");
    int rc = adc_db_begin(db, true);
    if (rc < 0) {
        r.status = 503;
        snprintf(r.detail, sizeof(r.detail), "database busy; retry");
    } else {
        switch (group ? -1 : (int)kind) {
        case -1: rc = group_write(&ctx, req, kind, body, if_match, &r); break;
        case W_CREATE: rc = adc_scim_user_create(&ctx, body, true, &r); break;
        case W_REPLACE:
            rc = adc_scim_user_replace(&ctx, req->params[0], body, if_match, true, &r);
            break;
        case W_PATCH:
            rc = adc_scim_user_patch(&ctx, req->params[0], body, if_match, true, &r);
            break;
        case W_DELETE: rc = adc_scim_user_delete(&ctx, req->params[0], if_match, &r); break;
        }
        if (rc == 0 && adc_db_commit(db) < 0) {
            rc = -1;
            adc_scim_result_done(&r);
            r.status = 503;
            snprintf(r.detail, sizeof(r.detail), "database error on commit; retry");
        } else if (rc < 0) {
            adc_db_rollback(db);
        } else if (kind == W_CREATE && !group) {
            adc_scim_users_settle(db);
        }
    }
    adc_store_release(db);
    json_decref(body);
    if (rc < 0) {
        adc_scim_respond_error(res, &r);
    } else if (kind == W_DELETE) {
        res->status = 204;
    } else {
        adc_scim_etag(r.version, res->etag, sizeof(res->etag));
        if (kind == W_CREATE && asprintf(&res->location, "%s/scim/v2/%s/%s", base,
                                         group ? "Groups" : "Users", r.id) < 0)
            res->location = NULL;
        if (r.resource)
            adc_http_json(res, r.status, TAKE_PTR(r.resource));
        else
            res->status = r.status;
    }
    adc_scim_result_done(&r);
}

static void user_create(struct adc_http_request *req, struct adc_http_response *res) {
    resource_write(req, res, W_CREATE, false);
}
static void user_replace(struct adc_http_request *req, struct adc_http_response *res) {
    resource_write(req, res, W_REPLACE, false);
}
static void user_patch(struct adc_http_request *req, struct adc_http_response *res) {
    resource_write(req, res, W_PATCH, false);
}
static void user_delete(struct adc_http_request *req, struct adc_http_response *res) {
    resource_write(req, res, W_DELETE, false);
}
static void group_create(struct adc_http_request *req, struct adc_http_response *res) {
    resource_write(req, res, W_CREATE, true);
}
static void group_replace(struct adc_http_request *req, struct adc_http_response *res) {
    resource_write(req, res, W_REPLACE, true);
}
static void group_patch(struct adc_http_request *req, struct adc_http_response *res) {
    resource_write(req, res, W_PATCH, true);
}
static void group_delete(struct adc_http_request *req, struct adc_http_response *res) {
    resource_write(req, res, W_DELETE, true);
}

const struct adc_route adc_scim_routes[] = {
    {"GET", "/scim/v2/ServiceProviderConfig", ADC_AUTH_NONE, adc_scim_service_provider_config},
    {"GET", "/scim/v2/ResourceTypes", ADC_AUTH_NONE, adc_scim_resource_types},
    {"GET", "/scim/v2/ResourceTypes/{}", ADC_AUTH_NONE, adc_scim_resource_type},
    {"GET", "/scim/v2/Schemas", ADC_AUTH_NONE, adc_scim_schemas},
    {"GET", "/scim/v2/Schemas/{}", ADC_AUTH_NONE, adc_scim_schema},
    {"GET", "/scim/v2/Users", ADC_AUTH_ANY, users_list},
    {"POST", "/scim/v2/Users", ADC_AUTH_ANY, user_create},
    {"POST", "/scim/v2/Users/.search", ADC_AUTH_ANY, users_search},
    {"GET", "/scim/v2", ADC_AUTH_ANY, root_search},
    {"POST", "/scim/v2/.search", ADC_AUTH_ANY, root_search},
    {"GET", "/scim/v2/Users/{}", ADC_AUTH_ANY, user_get},
    {"PUT", "/scim/v2/Users/{}", ADC_AUTH_ANY, user_replace},
    {"PATCH", "/scim/v2/Users/{}", ADC_AUTH_ANY, user_patch},
    {"DELETE", "/scim/v2/Users/{}", ADC_AUTH_ANY, user_delete},
    {"GET", "/scim/v2/Groups", ADC_AUTH_ANY, adc_scim_groups_list},
    {"POST", "/scim/v2/Groups", ADC_AUTH_ANY, group_create},
    {"POST", "/scim/v2/Groups/.search", ADC_AUTH_ANY, adc_scim_groups_search},
    {"GET", "/scim/v2/Groups/{}", ADC_AUTH_ANY, adc_scim_group_get},
    {"PUT", "/scim/v2/Groups/{}", ADC_AUTH_ANY, group_replace},
    {"PATCH", "/scim/v2/Groups/{}", ADC_AUTH_ANY, group_patch},
    {"DELETE", "/scim/v2/Groups/{}", ADC_AUTH_ANY, group_delete},
    {"POST", "/scim/v2/Bulk", ADC_AUTH_ANY, adc_scim_bulk},
    {NULL, NULL, 0, NULL},
};
