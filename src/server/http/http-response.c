#include "http/http-internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json-util.h"
#include "common/wire.h"
#include "server.h"

void adc_http_json(struct adc_http_response *res, unsigned status, json_t *j) {
    json_decref(res->json);
    res->status = status;
    res->json = j;
}

void adc_http_scim_text(struct adc_http_response *res, struct adc_buf *b) {
    res->raw = adc_buf_take(b, &res->raw_len);
    if (!res->raw) {
        adc_http_error(res, 500, NULL, "out of memory");
        return;
    }
    res->content_type = "application/scim+json";
    res->status = 200;
}

void adc_http_error(struct adc_http_response *res, unsigned status, const char *scim_type,
                    const char *fmt, ...) {
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    char status_str[8];
    snprintf(status_str, sizeof(status_str), "%u", status);
    json_t *j = json_pack("{s:[s],s:s,s:s}", "schemas", ADC_SCIM_SCHEMA_ERROR, "status", status_str,
                          "detail", detail);
    if (scim_type)
        json_object_set_new(j, "scimType", json_string(scim_type));
    adc_http_json(res, status, j);
}

const char *adc_http_query(const struct adc_http_request *req, const char *key) {
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *adc_http_header(const struct adc_http_request *req, const char *name) {
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

void adc_http_base_url(const struct adc_http_request *req, char *buf, size_t size) {
    const char *host = adc_http_header(req, MHD_HTTP_HEADER_HOST);
    /* The Host header is the client's; keep only characters a host name can have, so a
     * malicious value cannot inject anything into meta.location. */
    char clean[256];
    size_t n = 0;
    for (const char *h = host ? host : "localhost"; *h && n + 1 < sizeof(clean); h++)
        if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]_", *h))
            clean[n++] = *h;
    clean[n] = '\0';
    snprintf(buf, size, "%s://%s", req->server->tls ? "https" : "http", clean);
}

bool adc_http_text_printable(const char *s, size_t max) {
    if (!s || strlen(s) > max)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

json_t *adc_http_body_object(struct adc_http_request *req, struct adc_http_response *res) {
    if (req->body_len == 0) {
        adc_http_error(res, 400, "invalidSyntax", "the request needs a JSON body");
        return NULL;
    }
    char err[200];
    json_t *j = adc_json_parse(req->body, req->body_len, ADC_JSON_MAX_DEPTH, err, sizeof(err));
    if (!j) {
        adc_http_error(res, 400, "invalidSyntax", "%s", err);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        adc_http_error(res, 400, "invalidSyntax", "the request body must be a JSON object");
        return NULL;
    }
    return j;
}

enum MHD_Result adc_http_send_response(struct MHD_Connection *conn, struct adc_http_response *res) {
    char *body = NULL;
    size_t len = 0;
    const char *type = "application/json";
    if (res->raw) {
        body = TAKE_PTR(res->raw); /* owned by the MHD response now */
        len = res->raw_len;
        type = res->content_type ? res->content_type : "application/octet-stream";
    } else if (res->json) {
        body = json_dumps(res->json, JSON_COMPACT);
        if (!body) {
            res->status = 500;
            body = strdup("{\"schemas\":[\"" ADC_SCIM_SCHEMA_ERROR "\"],"
                          "\"status\":\"500\",\"detail\":\"out of memory\"}");
        }
        len = body ? strlen(body) : 0;
        type = res->scim ? "application/scim+json" : "application/json";
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, body ? body : (char *)"", body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    if (len > 0)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (res->location)
        MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, res->location);
    if (res->etag[0])
        MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, res->etag);
    if (res->set_cookie)
        MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, res->set_cookie);
    if (res->retry_after) {
        char seconds[16];
        snprintf(seconds, sizeof(seconds), "%u", res->retry_after);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, seconds);
    }
    if (res->status == 401 && !res->no_challenge)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Basic realm=\"adc-server\", Bearer realm=\"adc-server\"");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    /* A browser must not read an API answer as HTML or script, whatever it contains. */
    MHD_add_response_header(r, MHD_HTTP_HEADER_X_CONTENT_TYPE_OPTIONS, "nosniff");
    enum MHD_Result ret = MHD_queue_response(conn, res->status, r);
    MHD_destroy_response(r);
    return ret;
}

void adc_http_response_done(struct adc_http_response *res) {
    json_decref(res->json);
    free(res->location);
    free(res->raw);
    free(res->set_cookie);
    *res = (struct adc_http_response){0};
}
