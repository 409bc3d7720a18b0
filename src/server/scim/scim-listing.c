/* A listing of Users or Groups (RFC 7644 section 3.4.2): paging, the filter as SQL, the
 * attribute selection, the read transaction, and the ListResponse's text (scim.h). */
#include "scim/scim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "scim/scim-filter.h"
#include "server.h"
#include "store/store-filter.h"

/* An optional integer parameter: 0 when absent, 1 when read into *out, -EINVAL otherwise. */
static int parse_int(const char *s, int64_t *out) {
    if (!s)
        return 0;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return -EINVAL;
    *out = v;
    return 1;
}

/* The filter and attribute selection, read into *f, *where and *proj (the caller frees them in
 * either case). 0, or -1 with the 400 answered in res. */
static int list_options(struct adc_http_request *req, struct adc_http_response *res,
                        const char *filter, const char *attributes, const char *excluded,
                        adc_scim_filter_sql_fn to_sql, struct adc_scim_filter **f,
                        struct adc_sql_where *where, struct adc_scim_projection *proj) {
    if (filter) {
        char err[300];
        if (strlen(filter) > ADC_SCIM_MAX_FILTER_LEN) {
            adc_http_error(res, 400, "invalidFilter", "filter longer than %d characters",
                           ADC_SCIM_MAX_FILTER_LEN);
            return -1;
        }
        if (adc_scim_filter_parse(filter, f, err, sizeof(err)) < 0 ||
            to_sql(*f, adc_store_dialect(req->server->store), where, err, sizeof(err)) < 0) {
            adc_http_error(res, 400, "invalidFilter", "%s", err);
            return -1;
        }
    }
    if ((attributes && excluded) ||
        adc_scim_projection_parse(attributes ? attributes : excluded, !attributes, proj) < 0) {
        adc_http_error(res, 400, "invalidValue",
                       "attributes or excludedAttributes: a comma-separated list, not both");
        return -1;
    }
    return 0;
}

/* startIndex and count (RFC 7644 section 3.4.2.4), clamped to 1.. and 0..maxResults. 0, or -1
 * with the 400 answered in res. */
static int paging(struct adc_http_response *res, const char *start_s, const char *count_s,
                  int64_t *start, int64_t *count) {
    *start = 1;
    *count = ADC_SCIM_DEFAULT_COUNT;
    if (parse_int(start_s, start) < 0) {
        adc_http_error(res, 400, "invalidValue", "startIndex must be an integer");
        return -1;
    }
    if (parse_int(count_s, count) < 0) {
        adc_http_error(res, 400, "invalidValue", "count must be an integer");
        return -1;
    }
    /* RFC 7644 section 3.4.2.4: startIndex below 1 means 1; a negative count means 0. */
    if (*start < 1)
        *start = 1;
    if (*count < 0)
        *count = 0;
    if (*count > ADC_SCIM_MAX_RESULTS)
        *count = ADC_SCIM_MAX_RESULTS;
    return 0;
}

int adc_scim_listing_begin(struct adc_http_request *req, struct adc_http_response *res,
                           const char *filter, const char *start_s, const char *count_s,
                           const char *attributes, const char *excluded,
                           adc_scim_filter_sql_fn to_sql, struct adc_scim_listing *l) {
    memset(l, 0, sizeof(*l));
    if (paging(res, start_s, count_s, &l->start, &l->count) < 0 ||
        list_options(req, res, filter, attributes, excluded, to_sql, &l->f, &l->where, &l->proj) <
            0)
        return -1;
    l->db = adc_store_acquire(req->server->store);
    if (!l->db || adc_db_begin(l->db, false) < 0) {
        adc_http_error(res, 503, NULL, "database unavailable");
        return -1;
    }
    return 0;
}

void adc_scim_listing_done(struct adc_scim_listing *l) {
    adc_store_release(l->db);
    adc_sql_where_done(&l->where);
    adc_scim_filter_free(l->f);
    adc_scim_projection_done(&l->proj);
    memset(l, 0, sizeof(*l));
}

int adc_scim_list_response_text(struct adc_buf *out, int64_t total, size_t n, int64_t start,
                                const struct adc_buf *items) {
    adc_buf_printf(out,
                   "{\"schemas\":[\"" ADC_SCIM_SCHEMA_LIST "\"],\"totalResults\":%lld,"
                   "\"itemsPerPage\":%zu,\"startIndex\":%lld,\"Resources\":[",
                   (long long)total, n, (long long)start);
    adc_buf_append(out, items->data ? items->data : "", items->len);
    return adc_buf_puts(out, "]}");
}
