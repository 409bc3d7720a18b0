/* Serving the web console's embedded static files with their content type, revalidation
 * headers and a strict Content-Security-Policy. */
#include "http/console.h"

#include <string.h>

#include "http/console-assets.h"
#include "common/macros.h"

bool adc_console_owns(const char *url) {
    return adc_streq(url, "/") || adc_streq(url, "/console") || strncmp(url, "/console/", 9) == 0;
}

const struct adc_console_asset *adc_console_find(const char *url) {
    /* The pages are one document; "/" and "/console/" both answer with it, and the client
     * routes by the fragment (#/configs/...), which never reaches the server. */
    if (adc_streq(url, "/") || adc_streq(url, "/console/"))
        url = "/console/index.html";
    for (size_t i = 0; i < adc_console_assets_count; i++)
        if (strcmp(adc_console_assets[i].path, url) == 0)
            return &adc_console_assets[i];
    return NULL;
}

/* Headers every console answer carries, errors included. */
static void add_security_headers(struct MHD_Response *resp) {
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_SECURITY_POLICY, ADC_CONSOLE_CSP);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_X_CONTENT_TYPE_OPTIONS, "nosniff");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_X_FRAME_OPTIONS, "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
}

static enum MHD_Result answer_text(struct MHD_Connection *conn, unsigned status, const char *text,
                                   const char *allow) {
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    add_security_headers(resp);
    enum MHD_Result r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

enum MHD_Result adc_console_handle(struct MHD_Connection *conn, const char *method,
                                   const char *url) {
    if (!adc_streq(method, "GET") && !adc_streq(method, "HEAD"))
        return answer_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n", "GET, HEAD");

    if (adc_streq(url, "/console")) {
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        if (!resp)
            return MHD_NO;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, "/console/");
        add_security_headers(resp);
        enum MHD_Result r = MHD_queue_response(conn, MHD_HTTP_MOVED_PERMANENTLY, resp);
        MHD_destroy_response(resp);
        return r;
    }

    const struct adc_console_asset *a = adc_console_find(url);
    if (!a)
        return answer_text(conn, MHD_HTTP_NOT_FOUND, "not found\n", NULL);

    /* Cache-Control no-cache + a strong ETag: the browser keeps a copy but asks every time,
     * so an upgraded server never runs with yesterday's script, and the answer is a tiny 304. */
    const char *inm =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    bool not_modified = inm && (strstr(inm, a->etag) || adc_streq(inm, "*"));

    struct MHD_Response *resp =
        not_modified
            ? MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT)
            : MHD_create_response_from_buffer(a->size, (void *)a->data, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    if (!not_modified)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, a->etag);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    add_security_headers(resp);
    enum MHD_Result r =
        MHD_queue_response(conn, not_modified ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return r;
}
