#include "http/http-internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"

/* The most of an oversized body we read (and drop) to be able to answer 413. */
#define DRAIN_MAX (64u * 1024 * 1024)

/* docs/product.md section 11: bodies only as JSON (which also keeps a cross-site HTML form,
 * which can only send form or text types, from posting here). */
bool adc_http_json_media_type(const char *ct) {
    if (!ct)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    static const char *const types[] = {"application/json", "application/scim+json"};
    for (size_t i = 0; i < ADC_ARRAY_SIZE(types); i++) {
        size_t n = strlen(types[i]);
        if (strncasecmp(ct, types[i], n) == 0 &&
            (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t'))
            return true;
    }
    return false;
}

bool adc_http_has_body(struct MHD_Connection *conn) {
    const char *cl =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strspn(cl, "0 \t") != strlen(cl))
        return true;
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) !=
           NULL;
}

/* The size check of the headers: a Content-Length above the route's limit is answered 413 at
 * once when the client waits for "100 Continue" (curl does for large bodies). Others are sending
 * already: closing on them would hand them a broken pipe instead of our 413, so their body is
 * read and dropped (up to DRAIN_MAX) and answered at the end. Returns true when answered. */
bool adc_http_size_check(struct conn_state *st) {
    const char *cl =
        MHD_lookup_connection_value(st->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!cl || strtoull(cl, NULL, 10) <= st->max_body)
        return false;
    st->too_large = true;
    const char *expect =
        MHD_lookup_connection_value(st->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
    if (!expect || strcasecmp(expect, "100-continue") != 0)
        return false;
    adc_http_error(&st->res, 413, NULL, "request body larger than %zu bytes", st->max_body);
    return true;
}

/* Appends a piece of the body; false closes the connection. */
bool adc_http_body_data(struct conn_state *st, const char *data, size_t n) {
    double now = mono_now();
    if (st->body_start == 0)
        st->body_start = now;
    /* A body that trickles in holds a connection and its buffer: after a grace period it must
     * keep an average rate (docs/RELIABILITY.md, slow clients). */
    double elapsed = now - st->body_start;
    size_t got = st->body.len + st->drained + n;
    if (elapsed > ADC_HTTP_BODY_GRACE && (double)got < elapsed * ADC_HTTP_MIN_BODY_RATE) {
        log_info("%s %s: body too slow (%zu bytes in %.0f s) from %s; closing", st->method,
                 ADC_LOG_E(st->url), got, elapsed, st->req.client);
        return false;
    }
    if (st->too_large) {
        st->drained += n;
        return st->drained <= DRAIN_MAX;
    }
    if (st->body.len + n > st->max_body) {
        st->too_large = true;
        adc_buf_done(&st->body);
        st->drained = n;
        return true;
    }
    if (!st->body.data) {
        /* The whole body in one block from the start: grown by doubling, a Bulk of 1,000
         * creates (about 500 kB) was copied and wiped about once over. A client that announces
         * more than it sends holds the announced size, at most the route's limit (checked
         * with the headers), for as long as the slow-body rule above lets it. */
        const char *cl =
            MHD_lookup_connection_value(st->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        unsigned long long want = cl ? strtoull(cl, NULL, 10) : 0;
        if (want > n && want <= st->max_body)
            adc_buf_reserve(&st->body, (size_t)want); /* on failure the append below fails */
    }
    return adc_buf_append(&st->body, data, n) == 0;
}
