/* GET /api/v1/groups/{id}/members: one page of a group's members for the console
 * (docs/product.md section 10: a group of 100,000 members is browsable), with a search on the
 * members' names. SCIM has no paging inside a multi-valued attribute (RFC 7644 section 3.4.2.4
 * pages resources, not values), so the console asks here instead of GETting the group whole. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-admin.h"
#include "common/buf.h"
#include "common/json-util.h"
#include "common/wire.h"
#include "http/http.h"
#include "server.h"
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

/* ---- GET /api/v1/agent/group-members: a sync configuration's memberships, page by page ------
 * A first import or a re-sync compares the directory's groups with the cloud's, members
 * included. One SCIM page of groups holding a group of 1,000,000 members would be about 180 MB
 * of JSON (docs/BENCHMARKS.md, issue 21), and SCIM has no paging inside a multi-valued
 * attribute: the agent lists its groups without members (SCIM, excludedAttributes=members) and
 * reads the memberships here, in (group, member) order, at most `count` per answer. The cursor
 * `after` ("SEQ.MEMBER": the group's insertion order and the last member id returned) resumes
 * with one range of group_members' primary key, whatever the page: reading N memberships costs
 * O(N), not the O(N^2 / count) of startIndex. Only the configuration's own groups are read. */

#define MEMBERS_DEFAULT 10000
#define MEMBERS_MAX 50000
#define GROUPS_PER_PAGE 200

struct gm_group {
    int64_t seq;
    char id[40];
};

struct gm_page {
    struct gm_group *groups;
    size_t n;
};

static int gm_collect(const struct adc_store_group *g, void *ctx) {
    struct gm_page *p = ctx;
    p->groups[p->n].seq = g->seq;
    memcpy(p->groups[p->n].id, g->id, sizeof(p->groups[0].id));
    p->n++;
    return 0;
}

struct gm_out {
    struct adc_buf *b;
    const char *group;
    size_t n;
    char last[64]; /* the last member id written */
};

static int gm_member(const char *id, const char *type, const char *display, void *ctx) {
    (void)display;
    struct gm_out *o = ctx;
    adc_buf_puts(o->b, o->n++ ? ",{\"group\":" : "{\"group\":");
    adc_json_append_string(o->b, o->group);
    adc_buf_puts(o->b, ",\"value\":");
    adc_json_append_string(o->b, id);
    adc_buf_puts(o->b, ",\"type\":");
    adc_json_append_string(o->b, type ? type : ADC_MEMBER_USER);
    snprintf(o->last, sizeof(o->last), "%s", id);
    return adc_buf_puts(o->b, "}");
}

/* "SEQ" or "SEQ.MEMBER" (absent: from the start). 0, or -1 when malformed. */
static int gm_cursor(const char *after, int64_t *seq, char member[64]) {
    *seq = 0;
    member[0] = '\0';
    if (!after)
        return 0;
    char *end;
    long long v = strtoll(after, &end, 10);
    if (end == after || v < 0 || (*end && *end != '.') || (*end && strlen(end + 1) >= 64))
        return -1;
    *seq = v;
    if (*end)
        snprintf(member, 64, "%s", end + 1);
    return 0;
}

static void agent_group_members(struct adc_http_request *req, struct adc_http_response *res) {
    long long count = positive(req, "count", MEMBERS_DEFAULT);
    int64_t seq0;
    char member0[64];
    if (count < 0 || gm_cursor(adc_http_query(req, ADC_WIRE_AFTER), &seq0, member0) < 0) {
        adc_http_error(res, 400, "invalidValue",
                       "count must be a positive integer and after a cursor this endpoint gave");
        return;
    }
    if (count > MEMBERS_MAX)
        count = MEMBERS_MAX;
    struct gm_group groups[GROUPS_PER_PAGE];
    struct gm_page page = {.groups = groups};
    struct adc_buf b;
    adc_buf_init(&b, 0);
    struct adc_sql_arg arg = {.type = ADC_SQL_TEXT, .text = req->principal.app_id};
    struct adc_db *db = adc_store_acquire(req->server->store);
    if (!db || adc_db_begin(db, false) < 0) {
        adc_http_error(res, 503, NULL, "database unavailable; retry");
        goto out;
    }
    if (adc_store_group_list(db, "provider = ?", &arg, 1, seq0 - 1, 0, GROUPS_PER_PAGE, gm_collect,
                             &page) < 0) {
        adc_http_error(res, 500, NULL, "database error while listing groups");
        goto out;
    }
    adc_buf_puts(&b, "{\"Resources\":[");
    struct gm_out o = {.b = &b};
    int64_t left = count;
    size_t i = 0;
    for (; i < page.n && left > 0; i++) {
        o.group = groups[i].id;
        o.last[0] = '\0';
        int64_t n = adc_store_group_members_after(
            db, groups[i].id, groups[i].seq == seq0 ? member0 : "", left, gm_member, &o);
        if (n < 0) {
            adc_http_error(res, 500, NULL, "database error while listing members");
            goto out;
        }
        left -= n;
    }
    adc_db_commit(db);
    adc_buf_puts(&b, "]");
    /* Full: resume after the last member written. Every listed group done: the next groups,
     * if a whole page of them was listed. */
    if (left == 0)
        adc_buf_printf(&b, ",\"" ADC_WIRE_NEXT "\":\"%lld.%s\"", (long long)groups[i - 1].seq,
                       o.last);
    else if (page.n == GROUPS_PER_PAGE)
        adc_buf_printf(&b, ",\"" ADC_WIRE_NEXT "\":\"%lld\"",
                       (long long)groups[page.n - 1].seq + 1);
    adc_buf_puts(&b, "}");
    adc_http_scim_text(res, &b);
out:
    if (db)
        adc_db_rollback(db);
    adc_store_release(db);
    adc_buf_done(&b);
}

const struct adc_route adc_api_groups_routes[] = {
    {"GET", "/api/v1/groups/{}/members", ADC_AUTH_ADMIN, group_members},
    {"GET", ADC_WIRE_AGENT_GROUP_MEMBERS, ADC_AUTH_SYNC, agent_group_members},
    {NULL, NULL, 0, NULL},
};
