/* HTTP on libmicrohttpd, event-driven (docs/design.md): one epoll thread reads and writes every
 * connection; a connection holds no thread while it waits. Credentials are checked when the
 * headers arrive, before any body is read; bodies are collected up to ADC_HTTP_MAX_BODY (small
 * for public routes) and only as JSON; handlers run on a pool of worker threads (they may block
 * on SQLite), and one that waits for something (a long poll) defers its answer with
 * adc_http_defer instead of holding its worker. Routing by method and path pattern, JSON
 * responses. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/macros.h"
#include "common/settings.h"

struct MHD_Connection;
struct MHD_Daemon;
struct adc_server;

enum adc_auth_kind {
    ADC_AUTH_NONE,  /* public */
    ADC_AUTH_ADMIN, /* Bearer admin token */
    ADC_AUTH_SYNC,  /* Basic app_id:secret or Bearer secret of a sync configuration */
    ADC_AUTH_ANY,   /* either of the two (SCIM) */
};

enum adc_principal_kind {
    ADC_PRINCIPAL_NONE,
    ADC_PRINCIPAL_ADMIN,
    ADC_PRINCIPAL_SYNC,
};

/* Who sent a request, resolved before the handler runs. */
struct adc_principal {
    enum adc_principal_kind kind;
    char name[128];  /* admin token name, or the sync configuration's name */
    char app_id[64]; /* sync configurations only */
    /* Server-side settings of the sync configuration (ADC_UNSET = client decides). */
    signed char settings[ADC_SETTING_COUNT];
    char actor[200]; /* for the audit log: "admin:NAME" or "sync:APP_ID" */
};

#define ADC_HTTP_MAX_PARAMS 4

struct adc_http_request {
    struct MHD_Connection *conn;
    struct adc_server *server;
    const char *method;
    const char *path;                        /* URL path, already %-decoded, no query */
    const char *params[ADC_HTTP_MAX_PARAMS]; /* the {} segments of the route pattern */
    char *body;                              /* NUL-terminated */
    size_t body_len;
    struct adc_principal principal;
    char client[64]; /* client address (adc_http_client_addr), for throttling and logs */
};

struct adc_http_response;
/* Continues a deferred request (adc_http_defer) once woken: fills res, or defers again. */
typedef void (*adc_http_resume_fn)(struct adc_http_request *req, struct adc_http_response *res,
                                   void *userdata);

struct adc_http_response {
    unsigned status;
    json_t *json;   /* owned; sent when set */
    bool scim;      /* Content-Type application/scim+json instead of application/json */
    char *location; /* owned; Location header */
    char etag[48];  /* ETag header when not empty */
    char *raw;      /* owned; sent instead of json when set */
    size_t raw_len;
    const char *content_type;  /* for raw */
    char *set_cookie;          /* owned; Set-Cookie header (console sessions) */
    bool no_challenge;         /* a 401 without WWW-Authenticate: see sessions.h */
    unsigned delay_ms;         /* adc_http_delay */
    adc_http_resume_fn resume; /* adc_http_defer */
    void *resume_userdata;
    unsigned retry_after;      /* seconds for a Retry-After header (429, 503) when not 0 */
};

typedef void (*adc_http_handler)(struct adc_http_request *req, struct adc_http_response *res);

/* One entry of a route table. pattern: segments separated by '/', "{}" matches exactly one
 * non-empty segment, which the handler finds in req->params in order. Tables end with an
 * entry whose method is NULL. */
struct adc_route {
    const char *method;
    const char *pattern;
    enum adc_auth_kind auth;
    adc_http_handler handler;
};

#define ADC_HTTP_MAX_TRUSTED_PROXIES 16

struct adc_http_options {
    const char *listen; /* "ADDR:PORT", "[v6]:PORT" or "PORT" */
    const char *tls_cert_file;
    const char *tls_key_file;
    unsigned max_connections;
    /* --trusted-proxy: addresses ("ADDR" or "ADDR/PREFIX") whose X-Forwarded-For is believed. */
    const char *trusted_proxies[ADC_HTTP_MAX_TRUSTED_PROXIES];
    size_t n_trusted_proxies;
    unsigned per_address_limit; /* connections from one client address; 0: the default */
    unsigned workers;           /* handler threads kept; 0: the default */
};

#define ADC_HTTP_DEFAULT_MAX_CONNECTIONS 20000
#define ADC_HTTP_DEFAULT_PER_ADDRESS 128
#define ADC_HTTP_DEFAULT_WORKERS 8 /* threads kept; more start while all are busy ... */
#define ADC_HTTP_MAX_WORKERS 256   /* ... up to this many (http/workers.h) */
/* Bodies of routes without credentials (sign-in): nobody needs more, and an anonymous client
 * must not make the server buffer megabytes. */
#define ADC_HTTP_MAX_PUBLIC_BODY (64u * 1024)
/* Deadlines against slow clients: the headers of a request must arrive within this many seconds
 * of the connection (or of the previous answer on it); a body must arrive at
 * ADC_HTTP_MIN_BODY_RATE bytes per second on average once ADC_HTTP_BODY_GRACE seconds passed;
 * a connection idle this long is closed. */
#define ADC_HTTP_HEADER_DEADLINE 20
#define ADC_HTTP_BODY_GRACE 10
#define ADC_HTTP_MIN_BODY_RATE 4096
#define ADC_HTTP_IDLE_TIMEOUT 30

/* Checks one --trusted-proxy value: 0, or -EINVAL (message logged). */
int adc_http_trusted_proxy_valid(const char *spec);

/* Starts serving; returns 0 and the daemon, or a negative errno with a message logged. */
int adc_http_start(struct adc_server *srv, const struct adc_http_options *opts,
                   struct MHD_Daemon **out);
void adc_http_stop(struct MHD_Daemon *d);
/* The port actually bound (useful with port 0). */
unsigned adc_http_port(struct MHD_Daemon *d);

/* The client's address, numeric ("192.0.2.7", "2001:db8::1"): the peer of the connection, or,
 * when the peer is a --trusted-proxy, the rightmost address of X-Forwarded-For that is not a
 * trusted proxy (the leftmost when all are). Use it for everything that is per client
 * (throttling, logs), never the raw peer or the raw header. Valid as long as req. */
const char *adc_http_client_addr(const struct adc_http_request *req);

/* A handler that cannot answer yet (it waits for an agent) calls this and returns: the
 * connection waits suspended, holding no thread, until adc_http_wake(req) is called — once, from
 * any thread, even before the handler returned; then fn(req, res, userdata) runs on a worker
 * thread to fill res (or to defer again). req and res stay valid meanwhile. */
void adc_http_defer(struct adc_http_request *req, struct adc_http_response *res,
                    adc_http_resume_fn fn, void *userdata);
/* Wakes a deferred request; userdata is its req. Fits adc_hub_wake_fn: it takes only the HTTP
 * layer's own locks and never blocks. */
void adc_http_wake(void *req);
/* The answer leaves no earlier than ms from now, and no thread waits meanwhile: slowing down a
 * password guesser costs the server nothing. */
void adc_http_delay(struct adc_http_response *res, unsigned ms);

/* Request helpers. */
const char *adc_http_query(const struct adc_http_request *req, const char *key);
const char *adc_http_header(const struct adc_http_request *req, const char *name);
/* "http(s)://host" of this request, for SCIM meta.location; written into buf. */
void adc_http_base_url(const struct adc_http_request *req, char *buf, size_t size);

/* Parses the request body as a JSON object. On failure fills res with a 400 (invalidSyntax)
 * and returns NULL. */
json_t *adc_http_body_object(struct adc_http_request *req, struct adc_http_response *res);
/* Whether a string a client sent, shown to administrators later (an agent's host, version, live
 * detail), is at most max bytes without control characters. NULL: false. */
bool adc_http_text_printable(const char *s, size_t max);

/* Response helpers. adc_http_json takes ownership of j. */
void adc_http_json(struct adc_http_response *res, unsigned status, json_t *j);
/* A 200 whose body is the buffer's text as application/scim+json (large answers are built as
 * text, without a JSON tree); a 500 when the buffer failed. Takes the buffer's data. */
struct adc_buf;
void adc_http_scim_text(struct adc_http_response *res, struct adc_buf *b);
/* An error in the SCIM error schema (RFC 7644 section 3.12), used by every endpoint so that
 * clients parse one format: {"schemas":[...Error], "status":"400", "scimType":..., "detail":...}.
 * scim_type may be NULL. */
void adc_http_error(struct adc_http_response *res, unsigned status, const char *scim_type,
                    const char *fmt, ...) _printf_(4, 5);

/* Route tables of the modules; http-route.c tries them in order. */
extern const struct adc_route adc_api_admin_routes[];
extern const struct adc_route adc_api_runs_routes[];  /* api-runs.c: runs, sync now, audit, metrics */
extern const struct adc_route adc_api_groups_routes[]; /* api-groups.c: a group's members */
extern const struct adc_route adc_api_agent_routes[];
extern const struct adc_route adc_channel_routes[]; /* channel.c: agent channel, sync now, login */
extern const struct adc_route adc_scim_routes[];
extern const struct adc_route adc_session_routes[];
extern const struct adc_route adc_downloads_routes[]; /* downloads.c: GET /api/v1/downloads */
