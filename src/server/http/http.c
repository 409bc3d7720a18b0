#include "http/http.h"
#include "http/http-internal.h"

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

/* ---- the daemon's shared state ----
 * One adc-server runs one daemon; these live from adc_http_start to adc_http_stop. */
static struct adc_workers *workers;
/* Requests whose connection we suspended and have not resumed yet (adc_http_stop waits). */
static unsigned long in_flight;
static pthread_mutex_t defer_lock = PTHREAD_MUTEX_INITIALIZER;

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
            adc_http_cut_slow_headers(now);
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

/* Runs the route's handler, or the resume function of a deferred answer, until there is an
 * answer or the request waits for its wake-up. */
static void run_job(void *arg) {
    struct conn_state *st = arg;
    if (st->auth_later) {
        st->auth_later = false;
        if (!adc_http_credentials_ok(st)) {
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
    if (!adc_http_credentials_ok(st)) {
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
        suspend_for(st, auth_job);
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
    adc_http_track_busy(st->track, false);
    if (st->body) {
        explicit_bzero(st->body, st->len); /* sign-in bodies hold passwords */
        free(st->body);
    }
    adc_http_response_done(&st->res);
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
    adc_http_n_trusted = 0;
    for (size_t i = 0; i < opts->n_trusted_proxies && i < ADC_HTTP_MAX_TRUSTED_PROXIES; i++) {
        if (!adc_http_parse_net(opts->trusted_proxies[i], &adc_http_trusted[adc_http_n_trusted])) {
            adc_http_trusted_proxy_valid(opts->trusted_proxies[i]);
            goto out;
        }
        adc_http_n_trusted++;
    }
    adc_http_per_address_limit =
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
        flags, 0, adc_http_accept_policy, NULL, access_handler, srv, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED, request_completed, NULL,
        MHD_OPTION_NOTIFY_CONNECTION, adc_http_notify_connection, NULL, MHD_OPTION_CONNECTION_LIMIT,
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
