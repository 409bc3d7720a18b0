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
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <time.h>

#include "api/metrics.h"
#include "http/auth.h"
#include "common/buf.h"
#include "http/console.h"
#include "http/downloads.h"
#include "common/json-util.h"
#include "common/log.h"
#include "common/secret.h"
#include "server.h"
#include "http/sessions.h"
#include "http/workers.h"
#include "common/wire.h"

/* The most of an oversized body we read (and drop) to be able to answer 413. */
#define DRAIN_MAX (64u * 1024 * 1024)
/* Each connection's buffer for request headers and body pieces (MHD's default is 32 KiB, and
 * MHD clears it between requests, so it is resident): 16 KiB holds any header set a client of
 * this API sends (a SCIM filter is at most ADC_SCIM_MAX_FILTER_LEN) and halves the memory of
 * 10,000 idle agents. */
#define CONNECTION_MEMORY (16u * 1024)
/* Bodies up to this size are read before the credentials are checked (they fit in the
 * connection's buffer); larger ones only after (docs/product.md section 11: an unauthenticated
 * request never gets more than a small body buffered). */
#define AUTH_AFTER_BODY_MAX 4096u
/* The event loop's listen backlog: 10,000 agents reconnecting after a restart arrive at once. */
#define LISTEN_BACKLOG 4096

enum phase {
    PHASE_AUTH,   /* credentials being checked on a worker (connection suspended) */
    PHASE_BODY,   /* reading the body on the event loop */
    PHASE_RUN,    /* the handler runs on a worker, or its answer is deferred or delayed */
    PHASE_ANSWER, /* the answer is ready: sent at the next call of the access handler */
    PHASE_SENT,
};

struct track;

/* Per-request state kept by MHD between calls of the access handler. While the connection is
 * suspended (PHASE_AUTH, PHASE_RUN) only the worker, wake or timer that owns it touches it. */
struct conn_state {
    struct adc_server *srv;
    struct MHD_Connection *conn;
    struct track *track;
    enum phase phase;
    bool auth_resumed; /* the access handler's next call repeats the header-time call */
    bool auth_later;   /* a small body: credentials checked with the handler (one job) */
    const struct adc_route *route;
    const char *url, *method;
    char scratch[1024]; /* the route's {} segments */
    struct adc_http_request req;
    struct adc_http_response res;
    char *body;
    size_t len, cap, max_body;
    bool too_large;
    size_t drained; /* bytes of an oversized body read and dropped */
    double start;   /* monotonic seconds */
    double body_start;
    /* A job on the workers, or a wait in the timer's list. */
    struct adc_work work;
    /* Deferral (adc_http_defer / adc_http_wake), under defer_lock. */
    bool woken;   /* a wake came while the handler ran */
    bool waiting; /* deferred, handler returned: the next wake submits the resume */
    double answer_at;
    struct conn_state *timer_next;
};

static const struct adc_route *const route_tables[] = {
    adc_api_admin_routes, adc_api_runs_routes, adc_api_agent_routes, adc_channel_routes,
    adc_scim_routes,      adc_session_routes,  adc_downloads_routes,
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

static double mono_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

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

static void response_done(struct adc_http_response *res) {
    json_decref(res->json);
    free(res->location);
    free(res->raw);
    free(res->set_cookie);
    *res = (struct adc_http_response){0};
}

/* ---- the daemon's shared state ----
 * One adc-server runs one daemon; these live from adc_http_start to adc_http_stop. */
static struct adc_workers *workers;
static unsigned per_address_limit = ADC_HTTP_DEFAULT_PER_ADDRESS;
/* Requests whose connection we suspended and have not resumed yet (adc_http_stop waits). */
static unsigned long in_flight;
static pthread_mutex_t defer_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- connections: deadlines and per-address counts ----
 * Every connection is tracked from accept to close (MHD_OPTION_NOTIFY_CONNECTION). The timer
 * thread cuts one whose request headers did not arrive within ADC_HTTP_HEADER_DEADLINE by
 * shutting its socket down (MHD then closes it on its own thread; MHD notifies "closed" before it
 * closes the descriptor, and that notification takes track_lock, so the descriptor is never
 * another connection's). */
struct track {
    struct track *prev, *next;
    int fd;
    unsigned char addr[16];
    bool counted; /* in the per-address table */
    bool busy;    /* a request's headers arrived; until its answer is sent */
    bool cut;
    double since; /* when the wait for headers began */
};

#define ADDR_BUCKETS 4096

struct addr_count {
    struct addr_count *next;
    unsigned char addr[16];
    unsigned n;
};

static pthread_mutex_t track_lock = PTHREAD_MUTEX_INITIALIZER;
static struct track *tracks;
static struct addr_count *addr_table[ADDR_BUCKETS];

static size_t addr_hash(const unsigned char a[16]) {
    size_t h = 1469598103934665603ull;
    for (int i = 0; i < 16; i++)
        h = (h ^ a[i]) * 1099511628211ull;
    return h % ADDR_BUCKETS;
}

/* Under track_lock. */
static struct addr_count **addr_slot(const unsigned char a[16]) {
    struct addr_count **p = &addr_table[addr_hash(a)];
    while (*p && memcmp((*p)->addr, a, 16) != 0)
        p = &(*p)->next;
    return p;
}

/* Refuses a connection beyond the per-address limit before MHD sets it up. A trusted proxy
 * carries many clients, so it is not limited (the proxy limits them). */
static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr, socklen_t len) {
    (void)cls;
    (void)len;
    unsigned char a[16];
    if (addr->sa_family == AF_INET) {
        memset(a, 0, 10);
        a[10] = a[11] = 0xff;
        memcpy(a + 12, &((const struct sockaddr_in *)addr)->sin_addr, 4);
    } else if (addr->sa_family == AF_INET6) {
        memcpy(a, &((const struct sockaddr_in6 *)addr)->sin6_addr, 16);
    } else {
        return MHD_YES;
    }
    if (is_trusted(a))
        return MHD_YES;
    pthread_mutex_lock(&track_lock);
    struct addr_count *c = *addr_slot(a);
    bool ok = !c || c->n < per_address_limit;
    pthread_mutex_unlock(&track_lock);
    if (!ok) {
        char text[INET6_ADDRSTRLEN];
        format_addr(a, text, sizeof(text));
        log_debug("refused a connection from %s: %u connections from it already", text,
                  per_address_limit);
    }
    return ok ? MHD_YES : MHD_NO;
}

static void notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                              enum MHD_ConnectionNotificationCode code) {
    (void)cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        struct track *t = calloc(1, sizeof(*t));
        if (!t)
            return;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        t->fd = ci ? ci->connect_fd : -1;
        t->since = mono_now();
        pthread_mutex_lock(&track_lock);
        if (peer_addr(conn, t->addr) && !is_trusted(t->addr)) {
            struct addr_count **slot = addr_slot(t->addr);
            if (!*slot && (*slot = calloc(1, sizeof(**slot))))
                memcpy((*slot)->addr, t->addr, 16);
            if (*slot) {
                (*slot)->n++;
                t->counted = true;
            }
        }
        t->next = tracks;
        if (tracks)
            tracks->prev = t;
        tracks = t;
        pthread_mutex_unlock(&track_lock);
        *socket_context = t;
        return;
    }
    struct track *t = *socket_context;
    if (!t)
        return;
    pthread_mutex_lock(&track_lock);
    if (t->prev)
        t->prev->next = t->next;
    else
        tracks = t->next;
    if (t->next)
        t->next->prev = t->prev;
    if (t->counted) {
        struct addr_count **slot = addr_slot(t->addr);
        if (*slot && --(*slot)->n == 0) {
            struct addr_count *dead = *slot;
            *slot = dead->next;
            free(dead);
        }
    }
    pthread_mutex_unlock(&track_lock);
    *socket_context = NULL;
    free(t);
}

static void track_busy(struct track *t, bool busy) {
    if (!t)
        return;
    pthread_mutex_lock(&track_lock);
    t->busy = busy;
    t->since = mono_now();
    pthread_mutex_unlock(&track_lock);
}

/* Shuts down connections past their header deadline. */
/* Shuts down connections past their header deadline, and connections between requests whose
 * client closed its side: no request can complete on them (libmicrohttpd's epoll loop does not
 * always notice a hang-up that comes before a request line it can parse, and would keep such a
 * connection until the deadline). The connections between requests are few (agents' polls and
 * requests in progress are busy), so one poll() over them costs little. */
static void cut_slow_headers(double now) {
    struct pollfd fds[256];
    struct track *which[256];
    size_t n = 0;
    pthread_mutex_lock(&track_lock);
    for (struct track *t = tracks; t; t = t->next) {
        if (t->busy || t->cut || t->fd < 0)
            continue;
        if (now - t->since > ADC_HTTP_HEADER_DEADLINE) {
            shutdown(t->fd, SHUT_RDWR);
            t->cut = true;
        } else if (n < ADC_ARRAY_SIZE(fds)) {
            fds[n] = (struct pollfd){.fd = t->fd, .events = POLLRDHUP};
            which[n++] = t;
        }
    }
    if (n > 0 && poll(fds, n, 0) > 0)
        for (size_t i = 0; i < n; i++)
            if (fds[i].revents & (POLLRDHUP | POLLHUP | POLLERR)) {
                shutdown(which[i]->fd, SHUT_RDWR);
                which[i]->cut = true;
            }
    pthread_mutex_unlock(&track_lock);
}

/* ---- the timer thread: delayed answers (adc_http_delay) and the header deadline ---- */
static pthread_mutex_t timer_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t timer_cond;
static struct conn_state *timer_list; /* sorted by answer_at */
static bool timer_stop;
static bool timer_started;
static pthread_t timer_thread;

static void resume_answer(struct conn_state *st) {
    st->phase = PHASE_ANSWER;
    MHD_resume_connection(st->conn);
    __atomic_sub_fetch(&in_flight, 1, __ATOMIC_SEQ_CST);
}

static struct timespec realtime_at(double mono_at) {
    /* The condition variable uses CLOCK_MONOTONIC (timer_start). */
    struct timespec ts = {.tv_sec = (time_t)mono_at};
    ts.tv_nsec = (long)((mono_at - (double)ts.tv_sec) * 1e9);
    return ts;
}

static void *timer_main(void *userdata) {
    (void)userdata;
    double next_sweep = 0;
    pthread_mutex_lock(&timer_lock);
    for (;;) {
        double now = mono_now();
        while (timer_list && (timer_list->answer_at <= now || timer_stop)) {
            struct conn_state *st = timer_list;
            timer_list = st->timer_next;
            pthread_mutex_unlock(&timer_lock);
            resume_answer(st);
            pthread_mutex_lock(&timer_lock);
        }
        if (timer_stop)
            break;
        if (now >= next_sweep) {
            pthread_mutex_unlock(&timer_lock);
            cut_slow_headers(now);
            pthread_mutex_lock(&timer_lock);
            next_sweep = now + 0.1;
        }
        double wake = next_sweep;
        if (timer_list && timer_list->answer_at < wake)
            wake = timer_list->answer_at;
        struct timespec at = realtime_at(wake);
        pthread_cond_timedwait(&timer_cond, &timer_lock, &at);
    }
    pthread_mutex_unlock(&timer_lock);
    return NULL;
}

static void timer_add(struct conn_state *st) {
    pthread_mutex_lock(&timer_lock);
    if (timer_stop) { /* stopping: no more waiting */
        pthread_mutex_unlock(&timer_lock);
        resume_answer(st);
        return;
    }
    struct conn_state **p = &timer_list;
    while (*p && (*p)->answer_at <= st->answer_at)
        p = &(*p)->timer_next;
    st->timer_next = *p;
    *p = st;
    pthread_cond_signal(&timer_cond);
    pthread_mutex_unlock(&timer_lock);
}

/* ---- running handlers on the workers ---- */

/* The answer in st->res is final: send it now, or after its delay. */
static void complete(struct conn_state *st) {
    if (st->res.delay_ms > 0) {
        st->answer_at = mono_now() + st->res.delay_ms / 1000.0;
        timer_add(st);
        return;
    }
    resume_answer(st);
}

void adc_http_delay(struct adc_http_response *res, unsigned ms) { res->delay_ms = ms; }

void adc_http_defer(struct adc_http_request *req, struct adc_http_response *res,
                    adc_http_resume_fn fn, void *userdata) {
    (void)req;
    res->resume = fn;
    res->resume_userdata = userdata;
}

static void run_job(void *arg);

void adc_http_wake(void *userdata) {
    struct adc_http_request *req = userdata;
    struct conn_state *st = (struct conn_state *)((char *)req - offsetof(struct conn_state, req));
    pthread_mutex_lock(&defer_lock);
    bool submit = st->waiting;
    if (submit)
        st->waiting = false;
    else
        st->woken = true;
    pthread_mutex_unlock(&defer_lock);
    if (submit) {
        st->work.fn = run_job;
        st->work.arg = st;
        adc_workers_submit(workers, &st->work);
    }
}

/* Checks the request's credentials for its route; false with the answer (401/403/503, and the
 * delay that slows a guesser down) in st->res. */
static bool credentials_ok(struct conn_state *st) {
    char why[200];
    unsigned delay_ms = 0;
    unsigned status = adc_auth_check(&st->req, adc_http_header(&st->req, "Authorization"),
                                     st->route->auth, why, sizeof(why), &delay_ms);
    if (status == 0)
        return true;
    st->res.no_challenge = adc_session_cookie_present(&st->req);
    adc_http_error(&st->res, status, NULL, "%s", why);
    st->res.delay_ms = delay_ms;
    return false;
}

/* Runs the route's handler, or the resume function of a deferred answer, until there is an
 * answer or the request waits for its wake-up. */
static void run_job(void *arg) {
    struct conn_state *st = arg;
    if (st->auth_later) {
        st->auth_later = false;
        if (!credentials_ok(st)) {
            complete(st);
            return;
        }
    }
    for (;;) {
        pthread_mutex_lock(&defer_lock);
        st->woken = false;
        pthread_mutex_unlock(&defer_lock);
        adc_http_resume_fn resume = st->res.resume;
        if (resume) {
            st->res.resume = NULL;
            resume(&st->req, &st->res, st->res.resume_userdata);
        } else {
            st->route->handler(&st->req, &st->res);
        }
        if (!st->res.resume)
            break;
        pthread_mutex_lock(&defer_lock);
        bool again = st->woken;
        if (!again)
            st->waiting = true;
        pthread_mutex_unlock(&defer_lock);
        if (!again)
            return; /* adc_http_wake submits the rest */
    }
    if (st->res.status == 0)
        adc_http_error(&st->res, 500, NULL, "the handler gave no answer");
    complete(st);
}

/* Checks the credentials of a request whose headers arrived; its body is not read yet. */
static void auth_job(void *arg) {
    struct conn_state *st = arg;
    st->auth_resumed = true;
    if (!credentials_ok(st)) {
        complete(st);
        return;
    }
    st->phase = PHASE_BODY;
    MHD_resume_connection(st->conn);
    __atomic_sub_fetch(&in_flight, 1, __ATOMIC_SEQ_CST);
}

static void suspend_for(struct conn_state *st, void (*fn)(void *)) {
    __atomic_add_fetch(&in_flight, 1, __ATOMIC_SEQ_CST);
    MHD_suspend_connection(st->conn);
    st->work.fn = fn;
    st->work.arg = st;
    adc_workers_submit(workers, &st->work);
}

/* ---- the access handler (event loop thread: never blocks) ---- */

static const struct adc_route *find_route(struct conn_state *st, bool *path_known) {
    *path_known = false;
    for (size_t t = 0; t < ADC_ARRAY_SIZE(route_tables); t++)
        for (const struct adc_route *r = route_tables[t]; r->method; r++) {
            if (!match(r->pattern, st->url, st->req.params, st->scratch, sizeof(st->scratch)))
                continue;
            *path_known = true;
            if (strcmp(r->method, st->method) == 0)
                return r;
        }
    return NULL;
}

/* docs/product.md section 11: bodies only as JSON (which also keeps a cross-site HTML form,
 * which can only send form or text types, from posting here). */
static bool json_media_type(const char *ct) {
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

static bool has_body(struct MHD_Connection *conn) {
    const char *cl =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strspn(cl, "0 \t") != strlen(cl))
        return true;
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) !=
           NULL;
}

static enum MHD_Result answer_now(struct conn_state *st) {
    double ms = (mono_now() - st->start) * 1e3;
    /* The URL path holds ids and names, never credentials; the query is not logged. */
    log_info("%s %s -> %u (%.1f ms) from %s", st->method, ADC_LOG_E(st->url), st->res.status, ms,
             st->req.client);
    adc_metrics_request(st->method, st->url, st->res.status, ms);
    st->phase = PHASE_SENT;
    enum MHD_Result r = send_response(st->conn, &st->res);
    response_done(&st->res);
    return r;
}

/* The size check of the headers: a Content-Length above the route's limit is answered 413 at
 * once when the client waits for "100 Continue" (curl does for large bodies). Others are sending
 * already: closing on them would hand them a broken pipe instead of our 413, so their body is
 * read and dropped (up to DRAIN_MAX) and answered at the end. Returns true when answered. */
static bool size_check(struct conn_state *st) {
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
    st->route = find_route(st, &path_known);
    if (!st->route) {
        if (path_known)
            adc_http_error(&st->res, 405, NULL, "method %s is not allowed on %s", st->method,
                           st->url);
        else
            adc_http_error(&st->res, 404, NULL, "no such endpoint: %s %s", st->method, st->url);
        return answer_now(st);
    }
    if (has_body(conn)) {
        const char *ct =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (!json_media_type(ct)) {
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
        suspend_for(st, auth_job);
        return MHD_YES;
    }
    st->phase = PHASE_BODY;
    return size_check(st) ? answer_now(st) : MHD_YES;
}

/* Handlers that never block (no store, no waiting) run on the event loop itself, so that they
 * answer even when every worker is busy: the health check a load balancer relies on. */
static bool on_loop(const struct conn_state *st) {
    return strcmp(st->method, "GET") == 0 && strcmp(st->url, "/api/v1/health") == 0;
}

/* Appends a piece of the body; false closes the connection. */
static bool body_data(struct conn_state *st, const char *data, size_t n) {
    double now = mono_now();
    if (st->body_start == 0)
        st->body_start = now;
    /* A body that trickles in holds a connection and its buffer: after a grace period it must
     * keep an average rate (docs/RELIABILITY.md, slow clients). */
    double elapsed = now - st->body_start;
    size_t got = st->len + st->drained + n;
    if (elapsed > ADC_HTTP_BODY_GRACE && (double)got < elapsed * ADC_HTTP_MIN_BODY_RATE) {
        log_info("%s %s: body too slow (%zu bytes in %.0f s) from %s; closing", st->method,
                 ADC_LOG_E(st->url), got, elapsed, st->req.client);
        return false;
    }
    if (st->too_large) {
        st->drained += n;
        return st->drained <= DRAIN_MAX;
    }
    if (st->len + n > st->max_body) {
        st->too_large = true;
        free(st->body);
        st->body = NULL;
        st->len = st->cap = 0;
        st->drained = n;
        return true;
    }
    if (st->len + n + 1 > st->cap) {
        size_t cap = st->cap ? st->cap : 4096;
        while (cap < st->len + n + 1)
            cap *= 2;
        char *b = realloc(st->body, cap);
        if (!b)
            return false;
        st->body = b;
        st->cap = cap;
    }
    memcpy(st->body + st->len, data, n);
    st->len += n;
    st->body[st->len] = '\0';
    return true;
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url,
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
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        st->track = ci ? ci->socket_context : NULL;
        track_busy(st->track, true);
        st->req =
            (struct adc_http_request){.conn = conn, .server = cls, .method = method, .path = url};
        client_address(conn, st->req.client, sizeof(st->req.client));
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
            return size_check(st) ? answer_now(st) : MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        return body_data(st, upload_data, n) ? MHD_YES : MHD_NO;
    }
    /* Final call: the whole body is here. */
    if (st->too_large) {
        adc_http_error(&st->res, 413, NULL, "request body larger than %zu bytes", st->max_body);
        return answer_now(st);
    }
    st->req.body = st->body ? st->body : (char *)"";
    st->req.body_len = st->len;
    if (on_loop(st)) {
        st->route->handler(&st->req, &st->res);
        if (st->res.status == 0)
            adc_http_error(&st->res, 500, NULL, "the handler gave no answer");
        return answer_now(st);
    }
    st->phase = PHASE_RUN;
    suspend_for(st, run_job);
    return MHD_YES;
}

static void request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)conn;
    (void)toe;
    struct conn_state *st = *con_cls;
    if (!st)
        return;
    track_busy(st->track, false);
    if (st->body) {
        explicit_bzero(st->body, st->len); /* sign-in bodies hold passwords */
        free(st->body);
    }
    response_done(&st->res);
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

/* 10,000 agents need 10,000 descriptors: raise the soft limit to the hard one, and keep the
 * connection limit below what the process may open (SQLite and the listen socket need some). */
static unsigned fit_descriptors(unsigned want) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return want;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)want + 64) {
        unsigned fit = rl.rlim_cur > 128 ? (unsigned)rl.rlim_cur - 64 : 64;
        log_warning("open files limited to %llu: serving at most %u connections instead of %u "
                    "(raise LimitNOFILE)",
                    (unsigned long long)rl.rlim_cur, fit, want);
        return fit;
    }
    return want;
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
    /* One epoll thread for every connection; suspended connections (credentials being checked,
     * handlers running, long polls waiting) are out of its set until resumed. */
    unsigned flags = MHD_USE_EPOLL | MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
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
    per_address_limit =
        opts->per_address_limit ? opts->per_address_limit : ADC_HTTP_DEFAULT_PER_ADDRESS;
    unsigned max_conn = fit_descriptors(opts->max_connections ? opts->max_connections
                                                              : ADC_HTTP_DEFAULT_MAX_CONNECTIONS);
    unsigned n_workers = opts->workers ? opts->workers : ADC_HTTP_DEFAULT_WORKERS;
    r = adc_workers_new(
        n_workers, n_workers > ADC_HTTP_MAX_WORKERS ? n_workers : ADC_HTTP_MAX_WORKERS, &workers);
    if (r < 0) {
        log_error("cannot start the worker threads: %s", strerror(-r));
        goto out;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&timer_cond, &ca);
    pthread_condattr_destroy(&ca);
    timer_stop = false;
    if (pthread_create(&timer_thread, NULL, timer_main, NULL) != 0) {
        log_error("cannot start the timer thread");
        r = -EAGAIN;
        goto out;
    }
    timer_started = true;
    struct MHD_OptionItem tls_opts[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, key},
        {MHD_OPTION_END, 0, NULL},
    };
    if (!cert)
        tls_opts[0].option = MHD_OPTION_END;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, accept_policy, NULL, access_handler, srv, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED, request_completed, NULL,
        MHD_OPTION_NOTIFY_CONNECTION, notify_connection, NULL, MHD_OPTION_CONNECTION_LIMIT,
        max_conn, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)LISTEN_BACKLOG,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
        /* Idle connections (no bytes either way) are closed; suspended ones (long polls) are not
         * idle in MHD's sense. */
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)ADC_HTTP_IDLE_TIMEOUT, MHD_OPTION_EXTERNAL_LOGGER,
        mhd_logger, NULL, MHD_OPTION_UNESCAPE_CALLBACK, adc_http_unescape_keep_nul, NULL,
        MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
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
    if (r < 0)
        adc_http_stop(NULL);
    adc_secret_free(key);
    free(cert);
    return r;
}

void adc_http_stop(struct MHD_Daemon *d) {
    /* Requests in the workers' hands finish first (the hub was shut down before: long polls
     * and sign-ins waiting for an agent end at once); delayed answers leave now. */
    pthread_mutex_lock(&timer_lock);
    timer_stop = true;
    pthread_cond_signal(&timer_cond);
    pthread_mutex_unlock(&timer_lock);
    if (timer_started)
        pthread_join(timer_thread, NULL);
    timer_started = false;
    for (int i = 0; i < 500 && __atomic_load_n(&in_flight, __ATOMIC_SEQ_CST) > 0; i++)
        usleep(10000);
    if (d)
        MHD_stop_daemon(d);
    adc_workers_free(workers);
    workers = NULL;
}

unsigned adc_http_port(struct MHD_Daemon *d) {
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    return di ? di->port : 0;
}
