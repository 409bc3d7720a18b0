/* HTTP to adc-server over libcurl: see transport.h. */
#include "cloud/transport.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cloud/scim-user.h"
#include "common/buf.h"
#include "common/mem.h"
#include "common/json-util.h"
#include "common/log.h"
#include "common/macros.h"
#include "common/secret.h"

struct adc_transport {
    CURLM *multi;
    CURL *easy;
    char *url; /* without trailing '/' */
    char *app_id;
    char *secret;
    char *ca_file;
    char *proxy; /* chosen once (adc_transport_proxy_choose); NULL: direct */
    bool tls_verify;
    long connect_timeout, timeout, stall;
    int max_attempts;
    long backoff_ms, backoff_max_ms, retry_after_max;
    int wake_fd;
    int tick_ms;
    adc_transport_wake_fn wake_fn;
    void *wake_userdata;
    adc_transport_wake_fn retry_check;
    void *retry_check_userdata;
    char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static long env_long(const char *name, long fallback) {
    const char *e = getenv(name);
    return e && atol(e) > 0 ? atol(e) : fallback;
}

static int dup_opt(const char *s, char **out) {
    *out = NULL;
    return !s || (*out = strdup(s)) ? 0 : -ENOMEM;
}

int adc_transport_new(const struct adc_service_config *svc, const struct adc_transport_options *o,
                      struct adc_transport **ret, char **err) {
    const char *missing = !svc                                    ? "adc.cfg"
                          : !svc->server_url || !*svc->server_url ? "server"
                          : !svc->app_id || !*svc->app_id         ? "app_id"
                          : !svc->secret || !*svc->secret         ? "secret"
                                                                  : NULL;
    if (missing) {
        adc_set_error(err, "no '%s' in the service configuration (adc.cfg)", missing);
        return -EINVAL;
    }
    static const struct adc_transport_options defaults = {0};
    if (!o)
        o = &defaults;
    pthread_once(&curl_once, curl_init_once);
    struct adc_transport *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->wake_fd = -1;
    const char *proxy = adc_transport_proxy_choose(svc->server_url, svc->proxy, getenv);
    if (dup_opt(svc->server_url, &t->url) < 0 || dup_opt(svc->app_id, &t->app_id) < 0 ||
        dup_opt(svc->secret, &t->secret) < 0 || dup_opt(svc->ca_file, &t->ca_file) < 0 ||
        dup_opt(proxy, &t->proxy) < 0 || !(t->multi = curl_multi_init()) ||
        !(t->easy = curl_easy_init())) {
        adc_transport_free(t);
        return -ENOMEM;
    }
    size_t n = strlen(t->url);
    while (n > 0 && t->url[n - 1] == '/')
        t->url[--n] = '\0';
    t->tls_verify = svc->tls_verify;
    t->connect_timeout = o->connect_timeout > 0 ? o->connect_timeout : 10;
    t->timeout = o->timeout > 0 ? o->timeout : 300;
    /* A server that took the request but sends nothing back for this long is hung (it answers
     * a Bulk request of 1,000 operations in about a second): give up on this attempt instead
     * of waiting for the 300 s timeout, five times over. Tests shorten it and the retries. */
    t->stall = env_long("ADC_HTTP_STALL_S", 60);
    t->max_attempts = o->max_attempts > 0 ? o->max_attempts : (int)env_long("ADC_HTTP_ATTEMPTS", 5);
    t->backoff_ms = o->backoff_ms > 0 ? o->backoff_ms : env_long("ADC_HTTP_BACKOFF_MS", 500);
    t->backoff_max_ms = o->backoff_max_ms > 0 ? o->backoff_max_ms : 8000;
    t->retry_after_max = o->retry_after_max > 0 ? o->retry_after_max : 60;
    *ret = t;
    return 0;
}

void adc_transport_free(struct adc_transport *t) {
    if (!t)
        return;
    if (t->easy)
        curl_easy_cleanup(t->easy);
    if (t->multi)
        curl_multi_cleanup(t->multi);
    free(t->url);
    free(t->app_id);
    adc_secret_free(t->secret);
    free(t->ca_file);
    free(t->proxy);
    free(t);
}

void adc_transport_set_attempts(struct adc_transport *t, int attempts) {
    t->max_attempts = attempts > 0 ? attempts : 1;
}

void adc_transport_set_wake(struct adc_transport *t, int wake_fd, int tick_ms,
                            adc_transport_wake_fn fn, void *userdata) {
    t->wake_fd = wake_fd;
    t->tick_ms = tick_ms;
    t->wake_fn = fn;
    t->wake_userdata = userdata;
}

void adc_transport_set_retry_check(struct adc_transport *t, adc_transport_wake_fn fn,
                                   void *userdata) {
    t->retry_check = fn;
    t->retry_check_userdata = userdata;
}

const char *adc_transport_url(const struct adc_transport *t) { return t->url; }
const char *adc_transport_app_id(const struct adc_transport *t) { return t->app_id; }

void adc_transport_reply_done(struct adc_transport_reply *r) {
    if (!r)
        return;
    if (r->body) {
        explicit_bzero(r->body, r->len);
        free(r->body);
    }
    free(r->error);
    *r = (struct adc_transport_reply){.retry_after = -1};
}

struct sink {
    struct adc_buf body; /* a secret buffer: poll answers carry passwords */
    bool too_big;
    long retry_after;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud) {
    struct sink *s = ud;
    size_t n = size * nmemb;
    /* A failed append (over the limit, out of memory) returns 0: curl aborts the transfer. */
    int r = adc_buf_append(&s->body, data, n);
    s->too_big = r == -E2BIG;
    return r < 0 ? 0 : n;
}

long adc_transport_retry_after_parse(const char *value, size_t len) {
    char tmp[32];
    while (len > 0 && (*value == ' ' || *value == '\t')) {
        value++;
        len--;
    }
    if (len == 0 || len >= sizeof(tmp))
        return -1;
    memcpy(tmp, value, len);
    tmp[len] = '\0';
    char *end;
    errno = 0;
    long v = strtol(tmp, &end, 10);
    while (*end == ' ' || *end == '\r' || *end == '\n' || *end == '\t')
        end++;
    return end != tmp && *end == '\0' && v >= 0 && errno == 0 && tmp[0] != '-' ? v : -1;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud) {
    struct sink *s = ud;
    size_t n = size * nmemb;
    static const char name[] = "retry-after:";
    static const char length[] = "content-length:";
    if (n > sizeof(name) - 1 && strncasecmp(data, name, sizeof(name) - 1) == 0)
        s->retry_after =
            adc_transport_retry_after_parse(data + sizeof(name) - 1, n - (sizeof(name) - 1));
    /* The body's size known before it comes: room for it at once. Grown by doubling, a secret
     * buffer copies and wipes each old block: for the 2,000 users of a listing's page (about
     * 1 MB) that was a fifth of adc's CPU in an unchanged re-sync (docs/BENCHMARKS.md, issue
     * 21). A size over the limit is not reserved: the appends fail there, as without it. */
    if (n > sizeof(length) - 1 && strncasecmp(data, length, sizeof(length) - 1) == 0) {
        long v =
            adc_transport_retry_after_parse(data + sizeof(length) - 1, n - (sizeof(length) - 1));
        if (v > 0 && (unsigned long)v <= ADC_TRANSPORT_MAX_BODY && s->body.len == 0)
            if (adc_buf_reserve(&s->body, (size_t)v) == 0)
                adc_mem_populate(s->body.data, (size_t)v);
    }
    return n;
}

static int curl_errno(CURLcode c) {
    switch (c) {
    case CURLE_COULDNT_CONNECT: return -ECONNREFUSED;
    case CURLE_OPERATION_TIMEDOUT: return -ETIMEDOUT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return -EHOSTUNREACH;
    case CURLE_OUT_OF_MEMORY: return -ENOMEM;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CONNECT_ERROR: return -EPROTO;
    default: return -EIO;
    }
}

/* Runs the transfer, listening to the wake descriptor. Returns 0 with *code set when the
 * transfer ended, else a negative errno (the wake function's, or -EIO). */
static int perform(struct adc_transport *t, CURLcode *code) {
    int r = 0;
    if (curl_multi_add_handle(t->multi, t->easy) != CURLM_OK)
        return -ENOMEM;
    for (;;) {
        int running = 0;
        if (curl_multi_perform(t->multi, &running) != CURLM_OK) {
            r = -EIO;
            break;
        }
        if (!running)
            break;
        struct curl_waitfd extra = {.fd = t->wake_fd, .events = CURL_WAIT_POLLIN};
        int timeout = t->wake_fn && t->tick_ms > 0 ? t->tick_ms : 1000;
        if (curl_multi_poll(t->multi, t->wake_fd >= 0 ? &extra : NULL, t->wake_fd >= 0 ? 1 : 0,
                            timeout, NULL) != CURLM_OK) {
            r = -EIO;
            break;
        }
        if (t->wake_fn && (r = t->wake_fn(t->wake_userdata)) < 0)
            break;
    }
    if (r == 0) {
        int left = 0;
        CURLMsg *m;
        r = -EIO;
        while ((m = curl_multi_info_read(t->multi, &left)))
            if (m->msg == CURLMSG_DONE && m->easy_handle == t->easy) {
                *code = m->data.result;
                r = 0;
            }
    }
    curl_multi_remove_handle(t->multi, t->easy);
    return r;
}

/* The options of one request; curl_easy_reset before keeps the connection and DNS caches. */
/* A request's body, handed to curl as it asks for it rather than as POSTFIELDS: libcurl sends a
 * request again by itself, on a fresh connection, when a reused one died without an answer, and
 * it rewinds the body to do so. The rewind is how adc learns that the request may have reached
 * the server twice (a create answered 409 then is this request's own: scim-write.c). curl
 * copies a POSTFIELDS body in 64 KiB pieces too: a first import costs the same either way
 * (docs/BENCHMARKS.md). */
struct source {
    const char *data;
    size_t len, off;
    int rewinds;
};

static size_t on_read(char *buf, size_t size, size_t nmemb, void *ud) {
    struct source *s = ud;
    size_t n = size * nmemb < s->len - s->off ? size * nmemb : s->len - s->off;
    memcpy(buf, s->data + s->off, n);
    s->off += n;
    return n;
}

static int on_seek(void *ud, curl_off_t offset, int origin) {
    struct source *s = ud;
    if (origin != SEEK_SET || offset < 0 || (size_t)offset > s->len)
        return CURL_SEEKFUNC_CANTSEEK;
    s->off = (size_t)offset;
    s->rewinds++;
    return CURL_SEEKFUNC_OK;
}

static void setup(struct adc_transport *t, const char *url, const char *method,
                  struct curl_slist *headers, long timeout_s, struct sink *sink) {
    CURL *e = t->easy;
    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    curl_easy_setopt(e, CURLOPT_USERNAME, t->app_id);
    curl_easy_setopt(e, CURLOPT_PASSWORD, t->secret);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "adc/" ADC_VERSION);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, t->connect_timeout);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, timeout_s > 0 ? timeout_s : t->timeout);
    if (timeout_s <= 0) {
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, t->stall);
    }
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    /* Only http(s): a redirect to file:// or similar from a hostile server is refused. */
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, sink);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, sink);
    if (t->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, t->ca_file);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, t->tls_verify ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, t->tls_verify ? 2L : 0L);
    /* The proxy was chosen once for every request (adc_transport_proxy_choose): "" and an
     * empty no-proxy list stop curl from reading the environment again on its own terms. */
    curl_easy_setopt(e, CURLOPT_PROXY, t->proxy ? t->proxy : "");
    curl_easy_setopt(e, CURLOPT_NOPROXY, "");
    t->errbuf[0] = '\0';
}

static void set_error(struct adc_transport *t, const char *method, const char *path, CURLcode cc,
                      bool too_big, struct adc_transport_reply *reply) {
    const char *why = too_big        ? "answer too large"
                      : t->errbuf[0] ? t->errbuf
                                     : curl_easy_strerror(cc);
    /* The usual cause: a server certificate from a private CA. Say which option fixes it, not
     * only what OpenSSL saw. */
    const char *hint = cc != CURLE_PEER_FAILED_VERIFICATION ? ""
                       : t->ca_file
                           ? " (the certificate is not signed by the CA in adc.cfg's ca_file)"
                           : "; set ca_file in adc.cfg to the CA that signed the server's "
                             "certificate";
    reply->error = adc_strdup_printf("%s %s%s: %s%s", method, t->url, path, why, hint);
}

static const char *content_type(const char *path) {
    /* RFC 7644 section 3.1 for SCIM; the agent API speaks plain JSON. */
    return strncmp(path, "/scim/", 6) == 0 ? "Content-Type: application/scim+json"
                                           : "Content-Type: application/json";
}

int adc_transport_request(struct adc_transport *t, const char *method, const char *path,
                          const char *body, size_t body_len, long timeout_s,
                          struct adc_transport_reply *reply) {
    *reply = (struct adc_transport_reply){.retry_after = -1, .attempts = 1};
    struct sink sink = {.retry_after = -1};
    struct curl_slist *headers = NULL, *h;
    _cleanup_free_ char *url = NULL;
    int r = -ENOMEM;

    adc_buf_init_secret(&sink.body, ADC_TRANSPORT_MAX_BODY);
    if (asprintf(&url, "%s%s", t->url, path) < 0) {
        url = NULL;
        goto out;
    }
    /* No "Expect: 100-continue" round trip before large Bulk bodies. */
    static const char *const fixed[] = {"Accept: application/scim+json, application/json",
                                        "Expect:"};
    for (size_t i = 0; i < ADC_ARRAY_SIZE(fixed); i++) {
        if (!(h = curl_slist_append(headers, fixed[i])))
            goto out;
        headers = h;
    }
    bool has_body = body || (strcmp(method, "GET") != 0 && strcmp(method, "DELETE") != 0);
    if (has_body) {
        if (!(h = curl_slist_append(headers, content_type(path))))
            goto out;
        headers = h;
    }
    setup(t, url, method, headers, timeout_s, &sink);
    struct source src = {.data = body ? body : "", .len = body ? body_len : 0};
    if (has_body) {
        curl_easy_setopt(t->easy, CURLOPT_POST, 1L);
        curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)src.len);
        curl_easy_setopt(t->easy, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(t->easy, CURLOPT_READDATA, &src);
        curl_easy_setopt(t->easy, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(t->easy, CURLOPT_SEEKDATA, &src);
    }
    CURLcode cc = CURLE_OK;
    r = perform(t, &cc);
    reply->attempts = 1 + src.rewinds;
    if (r == 0 && cc != CURLE_OK) {
        r = sink.too_big ? -EFBIG : curl_errno(cc);
        set_error(t, method, path, cc, sink.too_big, reply);
        goto out;
    }
    if (r < 0) {
        if (r == -EIO)
            set_error(t, method, path, CURLE_RECV_ERROR, false, reply);
        goto out;
    }
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &reply->status);
    reply->retry_after = sink.retry_after;
    if (sink.body.len > 0) {
        reply->body = adc_buf_take(&sink.body, &reply->len);
        if (!reply->body) {
            r = -ENOMEM;
            goto out;
        }
    }
    r = 0;
out:
    curl_slist_free_all(headers);
    adc_buf_done(&sink.body);
    return r;
}

bool adc_transport_should_retry(int r, long status) {
    if (r < 0)
        return r != -ENOMEM && r != -EFBIG && r != -EPROTO && r != -ECANCELED;
    return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

long adc_transport_backoff_ms(int attempt, long retry_after, long first_ms, long max_ms,
                              long retry_after_max) {
    if (retry_after >= 0)
        return (retry_after < retry_after_max ? retry_after : retry_after_max) * 1000;
    long ms = first_ms;
    for (int i = 1; i < attempt && ms < max_ms; i++)
        ms *= 2;
    return ms < max_ms ? ms : max_ms;
}

void adc_transport_sleep_ms(long ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int adc_transport_request_retry(struct adc_transport *t, const char *method, const char *path,
                                const char *body, size_t body_len, long timeout_s,
                                struct adc_transport_reply *reply) {
    int sent = 0;
    for (int attempt = 1;; attempt++) {
        int r = adc_transport_request(t, method, path, body, body_len, timeout_s, reply);
        reply->attempts = sent += reply->attempts;
        if (!adc_transport_should_retry(r, reply->status) || attempt >= t->max_attempts)
            return r;
        long wait = adc_transport_backoff_ms(attempt, r < 0 ? -1 : reply->retry_after,
                                             t->backoff_ms, t->backoff_max_ms, t->retry_after_max);
        if (r < 0)
            log_debug("%s; retrying in %ld ms", reply->error ? reply->error : "request failed",
                      wait);
        else
            log_debug("%s %s: HTTP %ld; retrying in %ld ms", method, path, reply->status, wait);
        adc_transport_reply_done(reply);
        adc_transport_sleep_ms(wait);
        int w = t->wake_fn ? t->wake_fn(t->wake_userdata) : 0;
        if (w == 0 && t->retry_check)
            w = t->retry_check(t->retry_check_userdata);
        if (w < 0) {
            reply->error =
                adc_strdup_printf("%s %s%s: stopped before the next attempt", method, t->url, path);
            return w;
        }
    }
}

json_t *adc_transport_reply_json(const struct adc_transport_reply *r) {
    if (!r->body || !r->len || adc_json_depth(r->body, r->len, ADC_JSON_MAX_DEPTH) < 0)
        return NULL;
    return json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, NULL);
}

/* How much of a server's error detail goes into a message: the detail comes from the network
 * and may be megabytes. Cut at a character boundary (UTF-8). */
#define DETAIL_MAX 500
int adc_transport_detail_len(const char *d) {
    size_t n = strlen(d);
    if (n <= DETAIL_MAX)
        return (int)n;
    n = DETAIL_MAX;
    while (n > 0 && ((unsigned char)d[n] & 0xc0) == 0x80)
        n--;
    return (int)n;
}

static char *why_of(const struct adc_transport_reply *r, const char **detail_out) {
    json_t *body = adc_transport_reply_json(r);
    const char *detail = adc_scim_error_detail(body); /* "detail", else "scimType" */
    if (!detail)
        detail = json_string_value(json_object_get(body, "error"));
    char *s = adc_strdup_printf("HTTP %ld%s%.*s%s", r->status, detail ? ": " : "",
                                detail ? adc_transport_detail_len(detail) : 0, detail ? detail : "",
                                detail && detail[adc_transport_detail_len(detail)] ? "..." : "");
    if (detail_out)
        *detail_out = detail ? "" : NULL; /* only whether there was one */
    json_decref(body);
    return s;
}

char *adc_transport_reply_why(const struct adc_transport_reply *r) {
    if (r->status == 0)
        return strdup(r->error ? r->error : "no answer");
    return why_of(r, NULL);
}

void adc_transport_status_error(const struct adc_transport *t, const char *method, const char *path,
                                const struct adc_transport_reply *r, char **err) {
    if (!err)
        return;
    *err = NULL;
    if (r->status == 0) {
        *err = strdup(r->error ? r->error : "no answer");
        return;
    }
    const char *had_detail = NULL;
    _cleanup_free_ char *why = why_of(r, &had_detail);
    if (r->status == 401)
        *err = adc_strdup_printf(
            "%s refused the credentials of application '%s' (HTTP 401); check app_id and secret "
            "in adc.cfg (the secret may have been rotated)",
            t->url, t->app_id);
    else if (r->status == 404 && !had_detail)
        *err = adc_strdup_printf("%s %s%s: not found (HTTP 404); is '%s' an adc-server?", method,
                                 t->url, path, t->url);
    else
        *err =
            adc_strdup_printf("%s %s%s: %s", method, t->url, path, why ? why : "unexpected answer");
}

int adc_transport_status_errno(long status) {
    return status == 401 || status == 403 ? -EACCES : -EIO;
}

char *adc_transport_escape(const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    struct adc_buf b;
    adc_buf_init(&b, 0);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        /* RFC 3986 section 2.3: unreserved characters stay, everything else is encoded. */
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~')
            adc_buf_append(&b, p, 1);
        else
            adc_buf_printf(&b, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
    }
    return adc_buf_take(&b, NULL);
}
