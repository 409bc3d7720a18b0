/* GET /api/v1/groups/{id}/members: one page of a group's members for the console
 * (docs/product.md section 10: a group of 100,000 members is browsable), with a search on the
 * members' names. SCIM has no paging inside a multi-valued attribute (RFC 7644 section 3.4.2.4
 * pages resources, not values), so the console asks here instead of GETting the group whole. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-admin.h"
#include "http/http.h"
#include "store/store-groups.h"

#define DEFAULT_COUNT 100
#define MAX_COUNT 1000
#define MAX_SEARCH 256

/* A positive integer query parameter (def when absent); -1 when malformed. */
static long long positive(const struct adc_http_request *req, const char *key, long long def) {
    const char *s = adc_http_query(req, key);
    if (!s)
        return def;
    char *end;
    long long v = strtoll(s, &end, 10);
    return end == s || *end || v < 1 ? -1 : v;
}

static int member_cb(const char *id, const char *type, const char *display, void *ctx) {
    json_t *m = json_pack("{s:s, s:s}", "value", id, "type", type ? type : ADC_MEMBER_USER);
    if (m && display)
        json_object_set_new(m, "display", json_string(display));
    return m && json_array_append_new(ctx, m) == 0 ? 0 : -ENOMEM;
}

static void group_members(struct adc_http_request *req, struct adc_http_response *res) {
    long long start = positive(req, "startIndex", 1);
    long long count = positive(req, "count", DEFAULT_COUNT);
    const char *search = adc_http_query(req, "search");
    if (start < 0 || count < 0) {
        adc_http_error(res, 400, "invalidValue", "startIndex and count must be positive integers");
        return;
    }
    if (search && strlen(search) > MAX_SEARCH) {
        adc_http_error(res, 400, "invalidValue", "search is longer than %d bytes", MAX_SEARCH);
        return;
    }
    if (count > MAX_COUNT)
        count = MAX_COUNT;
    struct adc_db *db = adc_api_db_acquire(req, res);
    if (!db)
        return;
    struct adc_store_group g = {0};
    int r = adc_store_group_get(db, req->params[0], &g);
    if (r == -ENOENT) {
        adc_http_error(res, 404, NULL, "no group '%s'", req->params[0]);
        goto out;
    }
    json_t *items = r == 0 ? json_array() : NULL;
    int64_t total = 0;
    int64_t n = items ? adc_store_group_members_page(db, g.id, search, start - 1, count, &total,
                                                     member_cb, items)
                      : -EIO;
    if (n < 0) {
        json_decref(items);
        adc_http_error(res, 500, NULL, "database error");
        goto out;
    }
    adc_http_json(res, 200,
                  json_pack("{s:I, s:I, s:I, s:o}", "totalResults", (json_int_t)total, "startIndex",
                            (json_int_t)start, "itemsPerPage", (json_int_t)n, "Resources", items));
out:
    adc_store_group_done(&g);
    adc_store_release(db);
}

const struct adc_route adc_api_groups_routes[] = {
    {"GET", "/api/v1/groups/{}/members", ADC_AUTH_ADMIN, group_members},
    {NULL, NULL, 0, NULL},
};
