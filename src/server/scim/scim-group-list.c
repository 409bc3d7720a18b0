/* Reading groups: GET /scim/v2/Groups (filters, paging, attributes), POST /Groups/.search and
 * GET /scim/v2/Groups/{id} (docs/product.md section 10). Every answer is built as text from the
 * store, a group's members row by row; with excludedAttributes=members the member table is
 * not read at all, so listing 1,000 groups costs 1,000 rows whatever their sizes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "scim/scim-filter.h"
#include "scim/scim-group.h"
#include "scim/scim.h"
#include "store/store-filter.h"
#include "server.h"

struct group_page {
    struct adc_db *db;
    struct adc_buf *out;
    const char *base;
    const struct adc_scim_projection *proj;
    size_t n;
};

/* Appends one group as the projection wants it: as text straight from the store, or, when
 * only some attributes are asked for, through a tree that drops the others. */
static int append_group(struct adc_db *db, const struct adc_store_group *g, const char *base,
                        const struct adc_scim_projection *proj, struct adc_buf *out) {
    bool members = adc_scim_projection_wants(proj, "members");
    if (!proj->attrs || (proj->exclude && !proj->attrs[0]))
        return adc_scim_group_render_text(db, g, base, members, out);
    if (proj->exclude && !proj->attrs[1] && !members)
        return adc_scim_group_render_text(db, g, base, false, out); /* the common case */
    json_t *j = adc_scim_group_render(db, g, base, members);
    if (!j)
        return -ENOMEM;
    adc_scim_projection_apply(j, proj);
    char *t = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!t)
        return -ENOMEM;
    int r = adc_buf_puts(out, t);
    free(t);
    return r;
}

static int add_group(const struct adc_store_group *g, void *ctx) {
    struct group_page *pg = ctx;
    if (pg->n++ > 0)
        adc_buf_puts(pg->out, ",");
    return append_group(pg->db, g, pg->base, pg->proj, pg->out);
}

static void list_groups(struct adc_http_request *req, struct adc_http_response *res,
                        const char *filter, const char *start_s, const char *count_s,
                        const char *attributes, const char *excluded) {
    struct adc_scim_listing l;
    struct adc_buf items, out;
    adc_buf_init(&items, 0);
    adc_buf_init(&out, 0);
    if (adc_scim_listing_begin(req, res, filter, start_s, count_s, attributes, excluded,
                               adc_store_filter_sql_groups, &l) < 0)
        goto out;
    struct adc_db *db = l.db;
    int64_t start = l.start, count = l.count;
    int64_t total = adc_store_group_count(db, l.where.sql, l.where.args, l.where.n);
    if (total < 0) {
        adc_http_error(res, 500, NULL, "database error while counting groups");
        goto out;
    }
    char base[300];
    adc_http_base_url(req, base, sizeof(base));
    struct group_page pg = {.db = db, .out = &items, .base = base, .proj = &l.proj};
    if (count > 0 && start <= total &&
        adc_store_group_list(db, l.where.sql, l.where.args, l.where.n, -1, start - 1, count,
                             add_group, &pg) < 0) {
        adc_http_error(res, 500, NULL, "database error while listing groups");
        goto out;
    }
    adc_db_commit(db);
    adc_scim_list_response_text(&out, total, pg.n, start, &items);
    if (out.failed) {
        adc_http_error(res, 500, NULL, "out of memory");
        goto out;
    }
    adc_http_scim_text(res, &out);
out:
    adc_buf_done(&items);
    adc_buf_done(&out);
    adc_scim_listing_done(&l);
}

void adc_scim_groups_list(struct adc_http_request *req, struct adc_http_response *res) {
    list_groups(req, res, adc_http_query(req, "filter"), adc_http_query(req, "startIndex"),
                adc_http_query(req, "count"), adc_http_query(req, "attributes"),
                adc_http_query(req, "excludedAttributes"));
}

/* A list of attribute names in a .search body, as the comma-separated query form. */
static int names_of(json_t *b, const char *key, char **out, struct adc_http_response *res) {
    json_t *v = json_object_get(b, key);
    *out = NULL;
    if (!v)
        return 0;
    if (!json_is_array(v)) {
        adc_http_error(res, 400, "invalidValue", "%s must be an array of names", key);
        return -1;
    }
    struct adc_buf names;
    adc_buf_init(&names, 64 * 1024);
    size_t i;
    json_t *a;
    json_array_foreach(v, i, a) {
        if (!json_is_string(a) || strchr(json_string_value(a), ',')) {
            adc_buf_done(&names);
            adc_http_error(res, 400, "invalidValue", "%s must be an array of names", key);
            return -1;
        }
        if (i > 0)
            adc_buf_puts(&names, ",");
        adc_buf_puts(&names, json_string_value(a));
    }
    if (names.failed) {
        adc_buf_done(&names);
        adc_http_error(res, 400, "invalidValue", "%s: too long", key);
        return -1;
    }
    *out = adc_buf_take(&names, NULL);
    return 0;
}

/* POST /Groups/.search (RFC 7644 section 3.4.3): the query in the body. */
void adc_scim_groups_search(struct adc_http_request *req, struct adc_http_response *res) {
    json_t *b = adc_http_body_object(req, res);
    if (!b)
        return;
    char start[32], count[32];
    char *attrs = NULL, *excluded = NULL;
    json_t *sv = json_object_get(b, "startIndex"), *cv = json_object_get(b, "count");
    json_t *fv = json_object_get(b, "filter");
    if ((sv && !json_is_integer(sv)) || (cv && !json_is_integer(cv))) {
        adc_http_error(res, 400, "invalidValue", "startIndex and count must be integers");
        goto out;
    }
    if (fv && !json_is_string(fv)) {
        adc_http_error(res, 400, "invalidFilter", "filter must be a string");
        goto out;
    }
    if (names_of(b, "attributes", &attrs, res) < 0 ||
        names_of(b, "excludedAttributes", &excluded, res) < 0)
        goto out;
    snprintf(start, sizeof(start), "%lld", (long long)json_integer_value(sv));
    snprintf(count, sizeof(count), "%lld", (long long)json_integer_value(cv));
    list_groups(req, res, json_string_value(fv), sv ? start : NULL, cv ? count : NULL, attrs,
                excluded);
out:
    free(attrs);
    free(excluded);
    json_decref(b);
}

void adc_scim_group_get(struct adc_http_request *req, struct adc_http_response *res) {
    struct adc_scim_projection proj = {0};
    const char *a = adc_http_query(req, "attributes"),
               *x = adc_http_query(req, "excludedAttributes");
    if ((a && x) || adc_scim_projection_parse(a ? a : x, !a, &proj) < 0) {
        adc_scim_projection_done(&proj);
        adc_http_error(res, 400, "invalidValue",
                       "attributes or excludedAttributes: a comma-separated list, not both");
        return;
    }
    struct adc_db *db = adc_store_acquire(req->server->store);
    struct adc_store_group g = {0};
    struct adc_buf out;
    adc_buf_init(&out, 0);
    if (!db || adc_db_begin(db, false) < 0) {
        adc_http_error(res, 503, NULL, "database unavailable");
        goto out;
    }
    int e = adc_store_group_get(db, req->params[0], &g);
    if (e == -ENOENT) {
        adc_http_error(res, 404, NULL, "no group with id '%s'", req->params[0]);
        goto out;
    }
    if (e < 0) {
        adc_http_error(res, 500, NULL, "database error");
        goto out;
    }
    adc_scim_etag(g.version, res->etag, sizeof(res->etag));
    const char *inm = adc_http_header(req, "If-None-Match");
    if (inm && strstr(inm, res->etag + 2)) { /* compare the quoted part of W/"n" */
        res->status = 304;
        goto out;
    }
    char base[300];
    adc_http_base_url(req, base, sizeof(base));
    if (append_group(db, &g, base, &proj, &out) < 0 || out.failed) {
        adc_http_error(res, 500, NULL, "cannot render the group");
        goto out;
    }
    adc_http_scim_text(res, &out);
out:
    adc_store_group_done(&g); /* release ends the read transaction */
    adc_buf_done(&out);
    adc_store_release(db);
    adc_scim_projection_done(&proj);
}
