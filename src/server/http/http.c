#include "http/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "http/auth.h"
#include "common/buf.h"
#include "http/console.h"
#include "http/downloads.h"
#include "common/json-util.h"
#include "common/log.h"
#include "common/secret.h"
#include "server.h"
#include "http/sessions.h"

/* The most of an oversized body we read (and drop) to be able to answer 413. */
#define DRAIN_MAX (64u * 1024 * 1024)

/* Per-request state kept by MHD between calls of the access handler. */
struct conn_state {
    char *body;
    size_t len, cap;
    bool too_large;
    size_t drained; /* bytes of an oversized body read and dropped */
    struct timespec start;
    char client[64]; /* adc_http_client_addr */
};

static const struct adc_route *const route_tables[] = {
    adc_api_admin_routes, adc_api_agent_routes, adc_channel_routes,
    adc_scim_routes,      adc_session_routes,   adc_downloads_routes,
};

/* Matches path against pattern; fills params. Both start with '/'. */
static bool match(const char *pattern, const char *path, const char **params, char *scratch,
                  size_t scratch_size) {
    size_t n = 0, used = 0;
    const char *p = pattern, *u = path;
    while (*p && *u) {
        if (p[0] == '{' && p[1] == '}') {
            size_t seg = strcspn(u, "/");
            if (seg == 0 || n >= ADC_HTTP_MAX_PARAMS || used + seg + 1 > scratch_size)
                return false;
            memcpy(scratch + used, u, seg);
            scratch[used + seg] = '\0';
            params[n++] = scratch + used;
            used += seg + 1;
            p += 2;
            u += seg;
            continue;
        }
        if (*p != *u)
            return false;
        p++;
        u++;
    }
    /* A trailing slash on the request is tolerated ("/scim/v2/Users/"). */
    if (*u == '/' && u[1] == '\0')
        u++;
    return *p == '\0' && *u == '\0';
}

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
    json_t *j =
        json_pack("{s:[s],s:s,s:s}", "schemas", "urn:ietf:params:scim:api:messages:2.0:Error",
                  "status", status_str, "detail", detail);
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

/* ---- client addresses and trusted proxies ----
 * Addresses are compared as 16 bytes, IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d), so that a
 * proxy given as "10.0.0.5" matches a peer seen on an IPv6 socket as ::ffff:10.0.0.5. */
struct net {
    unsigned char addr[16];
    unsigned prefix; /* bits, of the 128 */
};

static struct net trusted[ADC_HTTP_MAX_TRUSTED_PROXIES];
static size_t n_trusted;

/* Parses a numeric address (no port, no brackets) of len bytes. */
static bool parse_addr(const char *s, size_t len, unsigned char out[16]) {
    char tmp[INET6_ADDRSTRLEN + 1];
    if (len == 0 || len >= sizeof(tmp))
        return false;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    struct in_addr v4;
    if (inet_pton(AF_INET, tmp, &v4) == 1) {
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &v4, 4);
        return true;
    }
    return inet_pton(AF_INET6, tmp, out) == 1;
}

static bool is_v4_mapped(const unsigned char a[16]) {
    static const unsigned char prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(a, prefix, 12) == 0;
}

static void format_addr(const unsigned char a[16], char *buf, size_t size) {
    if (!inet_ntop(is_v4_mapped(a) ? AF_INET : AF_INET6, is_v4_mapped(a) ? a + 12 : a, buf,
                   (socklen_t)size))
        snprintf(buf, size, "?");
}

static bool parse_net(const char *spec, struct net *n) {
    const char *slash = strchr(spec, '/');
    size_t len = slash ? (size_t)(slash - spec) : strlen(spec);
    if (!parse_addr(spec, len, n->addr))
        return false;
    unsigned max = is_v4_mapped(n->addr) ? 32 : 128;
    n->prefix = 128;
    if (slash) {
        char *end;
        errno = 0;
        unsigned long p = strtoul(slash + 1, &end, 10);
        if (errno || slash[1] == '\0' || *end || p > max)
            return false;
        n->prefix = (unsigned)p + (128 - max);
    }
    return true;
}

int adc_http_trusted_proxy_valid(const char *spec) {
    struct net n;
    if (!spec || !parse_net(spec, &n)) {
        log_error("--trusted-proxy %s: give a numeric address (192.0.2.1, 2001:db8::1) or a "
                  "network (10.0.0.0/8)",
                  ADC_LOG_Q(spec));
        return -EINVAL;
    }
    return 0;
}

static bool is_trusted(const unsigned char a[16]) {
    for (size_t i = 0; i < n_trusted; i++) {
        unsigned bits = trusted[i].prefix, full = bits / 8, rest = bits % 8;
        if (memcmp(a, trusted[i].addr, full) != 0)
            continue;
        if (rest && ((a[full] ^ trusted[i].addr[full]) & (0xff << (8 - rest)) & 0xff))
            continue;
        return true;
    }
    return false;
}

static bool peer_addr(struct MHD_Connection *conn, unsigned char out[16]) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return false;
    if (ci->client_addr->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ci->client_addr;
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &in->sin_addr, 4);
        return true;
    }
    if (ci->client_addr->sa_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr, 16);
        return true;
    }
    return false;
}

/* The X-Forwarded-For headers of a request, in order (a proxy may add a header of its own
 * instead of extending the one it received). */
struct xff {
    const char *values[8];
    size_t n;
    bool overflow;
};

static enum MHD_Result collect_xff(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value) {
    (void)kind;
    struct xff *x = cls;
    if (strcasecmp(key, "X-Forwarded-For") != 0 || !value)
        return MHD_YES;
    if (x->n == ADC_ARRAY_SIZE(x->values)) {
        /* Only the rightmost entries count: keep the last headers. */
        memmove(x->values, x->values + 1, sizeof(x->values) - sizeof(x->values[0]));
        x->n--;
        x->overflow = true;
    }
    x->values[x->n++] = value;
    return MHD_YES;
}

/* Walks the X-Forwarded-For entries from the right: each trusted proxy vouches for the entry to
 * its left. The first entry that is not a trusted proxy is the client; an entry that is not an
 * address (a client can write anything left of what the proxies added) ends the walk at the
 * last address vouched for. */
static void client_address(struct MHD_Connection *conn, char *buf, size_t size) {
    unsigned char peer[16];
    if (!peer_addr(conn, peer)) {
        snprintf(buf, size, "?");
        return;
    }
    unsigned char client[16];
    memcpy(client, peer, 16);
    if (n_trusted > 0 && is_trusted(peer)) {
        struct xff x = {0};
        MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_xff, &x);
        bool done = false;
        for (size_t h = x.n; h-- > 0 && !done;) {
            const char *v = x.values[h];
            size_t end = strlen(v);
            while (!done) {
                size_t start = end;
                while (start > 0 && v[start - 1] != ',')
                    start--;
                size_t a = start, b = end;
                while (a < b && (v[a] == ' ' || v[a] == '\t'))
                    a++;
                while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
                    b--;
                unsigned char e[16];
                if (!parse_addr(v + a, b - a, e)) {
                    done = true;
                    break;
                }
                memcpy(client, e, 16);
                if (!is_trusted(e)) {
                    done = true;
                    break;
                }
                if (start == 0)
                    break;
                end = start - 1;
            }
        }
    }
    format_addr(client, buf, size);
}

const char *adc_http_client_addr(const struct adc_http_request *req) { return req->client; }

static enum MHD_Result send_response(struct MHD_Connection *conn, struct adc_http_response *res) {
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
            body = strdup("{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:Error\"],"
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
    enum MHD_Result ret = MHD_queue_response(conn, res->status, r);
    MHD_destroy_response(r);
    return ret;
}

static void response_done(struct adc_http_response *res) {
    json_decref(res->json);
    free(res->location);
    free(res->raw);
    free(res->set_cookie);
}

static void dispatch(struct adc_server *srv, struct MHD_Connection *conn, const char *url,
                     const char *method, struct conn_state *st, struct adc_http_response *res) {
    struct adc_http_request req = {
        .conn = conn,
        .server = srv,
        .method = method,
        .path = url,
        .body = st->body ? st->body : (char *)"",
        .body_len = st->len,
    };
    client_address(conn, req.client, sizeof(req.client));
    memcpy(st->client, req.client, sizeof(st->client));
    char scratch[1024];
    const struct adc_route *found = NULL;
    bool path_known = false;
    for (size_t t = 0; t < ADC_ARRAY_SIZE(route_tables) && !found; t++)
        for (const struct adc_route *r = route_tables[t]; r->method; r++) {
            if (!match(r->pattern, url, req.params, scratch, sizeof(scratch)))
                continue;
            path_known = true;
            if (strcmp(r->method, method) == 0) {
                found = r;
                break;
            }
        }
    res->scim = strncmp(url, "/scim/", 6) == 0;
    if (!found) {
        if (path_known)
            adc_http_error(res, 405, NULL, "method %s is not allowed on %s", method, url);
        else
            adc_http_error(res, 404, NULL, "no such endpoint: %s %s", method, url);
        return;
    }
    if (st->too_large) {
        adc_http_error(res, 413, NULL, "request body larger than %u bytes", ADC_HTTP_MAX_BODY);
        return;
    }
    if (found->auth != ADC_AUTH_NONE) {
        char why[200];
        unsigned status = adc_auth_check(&req, adc_http_header(&req, "Authorization"), found->auth,
                                         why, sizeof(why));
        if (status) {
            res->no_challenge = adc_session_cookie_present(&req);
            adc_http_error(res, status, NULL, "%s", why);
            return;
        }
    }
    found->handler(&req, res);
    if (res->status == 0)
        adc_http_error(res, 500, NULL, "the handler gave no answer");
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls) {
    (void)version;
    struct adc_server *srv = cls;
    struct conn_state *st = *con_cls;
    if (!st) {
        st = calloc(1, sizeof(*st));
        if (!st)
            return MHD_NO;
        clock_gettime(CLOCK_MONOTONIC, &st->start);
        *con_cls = st;
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        const char *expect =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
        if (cl && strtoull(cl, NULL, 10) > ADC_HTTP_MAX_BODY) {
            /* A client that waits for "100 Continue" (curl does for large bodies) gets the
             * answer before sending anything. Others are sending already: closing on them
             * would hand them a broken pipe instead of our 413, so their body is read and
             * dropped (up to DRAIN_MAX) and answered at the end. */
            st->too_large = true;
            if (!expect || strcasecmp(expect, "100-continue") != 0)
                return MHD_YES;
            struct adc_http_response res = {.scim = strncmp(url, "/scim/", 6) == 0};
            adc_http_error(&res, 413, NULL, "request body larger than %u bytes", ADC_HTTP_MAX_BODY);
            enum MHD_Result r = send_response(conn, &res);
            response_done(&res);
            return r;
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (st->too_large) {
            st->drained += n;
            return st->drained > DRAIN_MAX ? MHD_NO : MHD_YES;
        }
        if (st->len + n > ADC_HTTP_MAX_BODY) {
            st->too_large = true;
            free(st->body);
            st->body = NULL;
            st->len = st->cap = 0;
            return MHD_YES;
        }
        if (st->len + n + 1 > st->cap) {
            size_t cap = st->cap ? st->cap : 4096;
            while (cap < st->len + n + 1)
                cap *= 2;
            char *b = realloc(st->body, cap);
            if (!b)
                return MHD_NO;
            st->body = b;
            st->cap = cap;
        }
        memcpy(st->body + st->len, upload_data, n);
        st->len += n;
        st->body[st->len] = '\0';
        return MHD_YES;
    }
    if (adc_console_owns(url))
        return adc_console_handle(conn, method, url); /* static pages, no authentication */
    if (adc_downloads_owns(url))
        return adc_downloads_handle(srv, conn, method, url); /* serve --downloads DIR */
    struct adc_http_response res = {0};
    dispatch(srv, conn, url, method, st, &res);
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    double ms = (end.tv_sec - st->start.tv_sec) * 1e3 + (end.tv_nsec - st->start.tv_nsec) / 1e6;
    /* The URL path holds ids and names, never credentials; the query is not logged. */
    log_info("%s %s -> %u (%.1f ms) from %s", method, ADC_LOG_E(url), res.status, ms, st->client);
    enum MHD_Result r = send_response(conn, &res);
    response_done(&res);
    return r;
}

static void request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)conn;
    (void)toe;
    struct conn_state *st = *con_cls;
    if (!st)
        return;
    free(st->body);
    free(st);
    *con_cls = NULL;
}

static void mhd_logger(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    log_debug("microhttpd: %s", line);
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            if (cap > 1024 * 1024) { /* no certificate or key is this large */
                free(buf);
                fclose(f);
                errno = EFBIG;
                return NULL;
            }
            char *b = realloc(buf, cap);
            if (!b) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = b;
        }
        size_t n = fread(buf + len, 1, 4096, f);
        len += n;
        if (n < 4096)
            break;
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

/* Parses "ADDR:PORT", "[V6]:PORT" or "PORT" (address 127.0.0.1). */
static int parse_listen(const char *listen, struct sockaddr_storage *ss, bool *v6) {
    char host[128] = "127.0.0.1";
    const char *port = listen;
    if (listen[0] == '[') {
        const char *end = strchr(listen, ']');
        if (!end || end[1] != ':' || (size_t)(end - listen - 1) >= sizeof(host))
            return -EINVAL;
        memcpy(host, listen + 1, end - listen - 1);
        host[end - listen - 1] = '\0';
        port = end + 2;
    } else if (strchr(listen, ':')) {
        const char *colon = strrchr(listen, ':');
        if ((size_t)(colon - listen) >= sizeof(host))
            return -EINVAL;
        memcpy(host, listen, colon - listen);
        host[colon - listen] = '\0';
        port = colon + 1;
    }
    char *end;
    errno = 0;
    unsigned long p = strtoul(port, &end, 10);
    if (errno || *port == '\0' || *end || p > 65535)
        return -EINVAL;
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons(p);
        *v6 = false;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(p);
        *v6 = true;
        return 0;
    }
    return -EINVAL;
}

int adc_http_start(struct adc_server *srv, const struct adc_http_options *opts,
                   struct MHD_Daemon **out) {
    struct sockaddr_storage ss;
    bool v6 = false;
    const char *listen = opts->listen ? opts->listen : "127.0.0.1:8080";
    if (parse_listen(listen, &ss, &v6) < 0) {
        log_error("invalid --listen '%s'; use ADDR:PORT, [IPV6]:PORT or PORT", listen);
        return -EINVAL;
    }
    unsigned flags =
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (v6)
        flags |= MHD_USE_IPv6;
    char *cert = NULL, *key = NULL;
    int r = -EINVAL;
    if ((opts->tls_cert_file != NULL) != (opts->tls_key_file != NULL)) {
        log_error("--tls-cert and --tls-key go together");
        goto out;
    }
    if (opts->tls_cert_file) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            log_error("this libmicrohttpd was built without TLS support");
            goto out;
        }
        cert = read_file(opts->tls_cert_file);
        if (!cert) {
            log_error("cannot read TLS certificate '%s': %m", opts->tls_cert_file);
            goto out;
        }
        key = read_file(opts->tls_key_file);
        if (!key) {
            log_error("cannot read TLS key '%s': %m", opts->tls_key_file);
            goto out;
        }
        flags |= MHD_USE_TLS;
        srv->tls = true;
    }
    n_trusted = 0;
    for (size_t i = 0; i < opts->n_trusted_proxies && i < ADC_HTTP_MAX_TRUSTED_PROXIES; i++) {
        if (!parse_net(opts->trusted_proxies[i], &trusted[n_trusted])) {
            adc_http_trusted_proxy_valid(opts->trusted_proxies[i]);
            goto out;
        }
        n_trusted++;
    }
    unsigned max_conn = opts->max_connections ? opts->max_connections : 256;
    struct MHD_OptionItem tls_opts[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, key},
        {MHD_OPTION_END, 0, NULL},
    };
    if (!cert)
        tls_opts[0].option = MHD_OPTION_END;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, NULL, NULL, access_handler, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_NOTIFY_COMPLETED, request_completed, NULL, MHD_OPTION_CONNECTION_LIMIT, max_conn,
        /* Idle keep-alive connections hold a thread each: close them after a minute. A long
         * poll is not idle (its handler is running), so this does not cut it. */
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL,
        MHD_OPTION_UNESCAPE_CALLBACK, adc_http_unescape_keep_nul, NULL, MHD_OPTION_ARRAY, tls_opts,
        MHD_OPTION_END);
    if (!d) {
        log_error("cannot listen on %s (address in use, or TLS certificate and key not valid)",
                  listen);
        r = -EADDRINUSE;
        goto out;
    }
    *out = d;
    /* MHD keeps pointers to the PEM data; they live as long as the server. */
    srv->tls_cert_pem = TAKE_PTR(cert);
    srv->tls_key_pem = TAKE_PTR(key);
    r = 0;
out:
    adc_secret_free(key);
    free(cert);
    return r;
}

void adc_http_stop(struct MHD_Daemon *d) {
    if (d)
        MHD_stop_daemon(d);
}

unsigned adc_http_port(struct MHD_Daemon *d) {
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    return di ? di->port : 0;
}
