/* The access handler of the HTTP layer, called by libmicrohttpd's event loop for every step of
 * a request (headers, body pieces, the answer). It never blocks: everything that may (credentials
 * checked against the store, the handlers) goes to the workers through http-run.c. */
#include "http/http-internal.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "api/metrics.h"
#include "common/log.h"
#include "http/console.h"
#include "http/downloads.h"
#include "server.h"

/* Bodies up to this size are read before the credentials are checked (they fit in the
 * connection's buffer); larger ones only after (docs/product.md section 11: an unauthenticated
 * request never gets more than a small body buffered). */
#define AUTH_AFTER_BODY_MAX 4096u

static enum MHD_Result answer_now(struct conn_state *st) {
    double ms = (mono_now() - st->start) * 1e3;
    /* The URL path holds ids and names, never credentials; the query is not logged. */
    log_info("%s %s -> %u (%.1f ms) from %s", st->method, ADC_LOG_E(st->url), st->res.status, ms,
             st->req.client);
    adc_metrics_request(st->method, st->url, st->res.status, ms);
    st->phase = PHASE_SENT;
    enum MHD_Result r = adc_http_send_response(st->conn, &st->res);
    adc_http_response_done(&st->res);
    return r;
}

/* First call: the headers are complete, no body read. Everything that can be refused without
 * the body is refused here, and the client that sent no credentials gets its 401 before a byte
 * of its body is buffered. */
static enum MHD_Result headers_arrived(struct conn_state *st) {
    struct MHD_Connection *conn = st->conn;
    if (adc_console_owns(st->url)) {
        st->phase = PHASE_SENT;
        return adc_console_handle(conn, st->method, st->url); /* static pages, no credentials */
    }
    if (adc_downloads_owns(st->url)) {
        st->phase = PHASE_SENT;
        return adc_downloads_handle(st->srv, conn, st->method, st->url); /* serve --downloads */
    }
    st->res.scim = strncmp(st->url, "/scim/", 6) == 0;
    bool path_known;
    st->route = adc_http_find_route(st, &path_known);
    if (!st->route) {
        if (path_known)
            adc_http_error(&st->res, 405, NULL, "method %s is not allowed on %s", st->method,
                           st->url);
        else
            adc_http_error(&st->res, 404, NULL, "no such endpoint: %s %s", st->method, st->url);
        return answer_now(st);
    }
    if (adc_http_has_body(conn)) {
        const char *ct =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (!adc_http_json_media_type(ct)) {
            adc_http_error(&st->res, 415, NULL,
                           "the request body must be application/json or application/scim+json "
                           "(Content-Type: %s)",
                           ct ? ct : "none");
            return answer_now(st);
        }
    }
    st->max_body = st->route->auth == ADC_AUTH_NONE ? ADC_HTTP_MAX_PUBLIC_BODY : ADC_HTTP_MAX_BODY;
    if (st->route->auth != ADC_AUTH_NONE) {
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (!MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                         MHD_HTTP_HEADER_TRANSFER_ENCODING) &&
            (!cl || strtoull(cl, NULL, 10) <= AUTH_AFTER_BODY_MAX)) {
            /* No body or a small one (a poll, an agent's answer, most API calls): it is read
             * first (MHD holds it in the connection's buffer anyway) and the credentials are
             * checked in the handler's job, which saves a trip through the workers. */
            st->auth_later = true;
            st->max_body = AUTH_AFTER_BODY_MAX;
            st->phase = PHASE_BODY;
            return MHD_YES;
        }
        st->phase = PHASE_AUTH;
        adc_http_check_credentials(st);
        return MHD_YES;
    }
    st->phase = PHASE_BODY;
    return adc_http_size_check(st) ? answer_now(st) : MHD_YES;
}

/* Handlers that never block (no store, no waiting) run on the event loop itself, so that they
 * answer even when every worker is busy: the health check a load balancer relies on. */
static bool on_loop(const struct conn_state *st) {
    return strcmp(st->method, "GET") == 0 && strcmp(st->url, "/api/v1/health") == 0;
}

enum MHD_Result adc_http_access_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                        const char *method, const char *version,
                                        const char *upload_data, size_t *upload_data_size,
                                        void **con_cls) {
    (void)version;
    struct conn_state *st = *con_cls;
    if (!st) {
        st = calloc(1, sizeof(*st));
        if (!st)
            return MHD_NO;
        *con_cls = st;
        st->srv = cls;
        st->conn = conn;
        st->url = url;
        st->method = method;
        st->start = mono_now();
        adc_buf_init_secret(&st->body, 0); /* the route's limit is checked before each append */
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        st->track = ci ? ci->socket_context : NULL;
        adc_http_track_busy(st->track, true);
        st->req =
            (struct adc_http_request){.conn = conn, .server = cls, .method = method, .path = url};
        adc_http_client_address(conn, st->req.client, sizeof(st->req.client));
        return headers_arrived(st);
    }
    switch (st->phase) {
    case PHASE_ANSWER: return answer_now(st);
    case PHASE_SENT: return MHD_YES;
    case PHASE_AUTH:
    case PHASE_RUN: return MHD_YES; /* not called while suspended; nothing to do */
    case PHASE_BODY: break;
    }
    if (st->auth_resumed) {
        /* MHD repeats the header-time call after the credentials' check resumed us. */
        st->auth_resumed = false;
        if (*upload_data_size == 0)
            return adc_http_size_check(st) ? answer_now(st) : MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        return adc_http_body_data(st, upload_data, n) ? MHD_YES : MHD_NO;
    }
    /* Final call: the whole body is here. */
    if (st->too_large) {
        adc_http_error(&st->res, 413, NULL, "request body larger than %zu bytes", st->max_body);
        return answer_now(st);
    }
    st->req.body = st->body.data ? st->body.data : (char *)"";
    st->req.body_len = st->body.len;
    if (on_loop(st)) {
        st->route->handler(&st->req, &st->res);
        if (st->res.status == 0)
            adc_http_error(&st->res, 500, NULL, "the handler gave no answer");
        return answer_now(st);
    }
    st->phase = PHASE_RUN;
    adc_http_run_handler(st);
    return MHD_YES;
}

void adc_http_request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                                enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)conn;
    (void)toe;
    struct conn_state *st = *con_cls;
    if (!st)
        return;
    adc_http_track_busy(st->track, false);
    adc_buf_done(&st->body); /* wiped: a secret buffer */
    adc_http_response_done(&st->res);
    free(st);
    *con_cls = NULL;
}
