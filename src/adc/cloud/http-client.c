#include "cloud/http-client.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/log.h"
#include "common/macros.h"
#include "common/secret.h"

struct adc_http {
    CURL *curl;
    char *base_url;
    char *user;
    char *password;
    char *ca_file;
    char *proxy;
    bool tls_verify;
    long connect_timeout, timeout, stall;
    int max_attempts;
    long backoff_ms, backoff_max_ms, retry_after_max;
    char curl_err[CURL_ERROR_SIZE];
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static void global_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static int dup_opt(const char *s, char **out) {
    *out = NULL;
    if (!s)
        return 0;
    return (*out = strdup(s)) ? 0 : -ENOMEM;
}

int adc_http_new(const struct adc_http_options *o, struct adc_http **ret) {
    if (!o->base_url || !*o->base_url)
        return -EINVAL;
    pthread_once(&global_once, global_init);
    struct adc_http *h = calloc(1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    if (dup_opt(o->base_url, &h->base_url) < 0 || dup_opt(o->user, &h->user) < 0 ||
        dup_opt(o->password, &h->password) < 0 || dup_opt(o->ca_file, &h->ca_file) < 0 ||
        dup_opt(o->proxy, &h->proxy) < 0 || !(h->curl = curl_easy_init())) {
        adc_http_free(h);
        return -ENOMEM;
    }
    size_t n = strlen(h->base_url);
    while (n > 0 && h->base_url[n - 1] == '/')
        h->base_url[--n] = '\0';
    h->tls_verify = o->tls_verify;
    h->connect_timeout = o->connect_timeout > 0 ? o->connect_timeout : 10;
    h->timeout = o->timeout > 0 ? o->timeout : 300;
    /* A server that took the request but sends nothing back for this long is hung (it answers
     * a Bulk request of 1,000 operations in about a second): give up on this attempt instead
     * of waiting for the 300 s timeout, five times over. Tests shorten it. */
    const char *stall = getenv("ADC_HTTP_STALL_S");
    h->stall = stall && atol(stall) > 0 ? atol(stall) : 60;
    h->max_attempts = o->max_attempts > 0 ? o->max_attempts : 5;
    h->backoff_ms = o->backoff_ms > 0 ? o->backoff_ms : 500;
    h->backoff_max_ms = o->backoff_max_ms > 0 ? o->backoff_max_ms : 8000;
    h->retry_after_max = o->retry_after_max > 0 ? o->retry_after_max : 60;
    *ret = h;
    return 0;
}

void adc_http_free(struct adc_http *h) {
    if (!h)
        return;
    if (h->curl)
        curl_easy_cleanup(h->curl);
    free(h->base_url);
    free(h->user);
    adc_secret_free(h->password);
    free(h->ca_file);
    free(h->proxy);
    free(h);
}

void adc_http_response_done(struct adc_http_response *r) {
    if (!r)
        return;
    free(r->body);
    memset(r, 0, sizeof(*r));
    r->retry_after = -1;
}

struct sink {
    char *buf;
    size_t len, cap;
    bool too_big;
    long retry_after;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud) {
    struct sink *s = ud;
    size_t n = size * nmemb;
    if (s->len + n + 1 > ADC_HTTP_MAX_RESPONSE) {
        s->too_big = true;
        return 0; /* aborts the transfer */
    }
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 16384;
        while (cap < s->len + n + 1)
            cap *= 2;
        char *b = realloc(s->buf, cap);
        if (!b)
            return 0;
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud) {
    struct sink *s = ud;
    size_t n = size * nmemb;
    static const char name[] = "retry-after:";
    if (n > sizeof(name) - 1 && strncasecmp(data, name, sizeof(name) - 1) == 0) {
        /* Delay-seconds only (RFC 9110 10.2.3); an HTTP-date falls back to our backoff. */
        char tmp[32];
        size_t k = n - (sizeof(name) - 1);
        if (k >= sizeof(tmp))
            k = sizeof(tmp) - 1;
        memcpy(tmp, data + sizeof(name) - 1, k);
        tmp[k] = '\0';
        char *end;
        long v = strtol(tmp, &end, 10);
        while (*end == ' ' || *end == '\r' || *end == '\n' || *end == '\t')
            end++;
        if (end != tmp && *end == '\0' && v >= 0)
            s->retry_after = v;
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

int adc_http_request(struct adc_http *h, const char *method, const char *path, const char *body,
                     size_t body_len, struct adc_http_response *resp, char **err) {
    _cleanup_free_ char *url = NULL;
    struct curl_slist *headers = NULL;
    struct sink sink = {.retry_after = -1};
    int r = -ENOMEM;

    if (asprintf(&url, "%s%s", h->base_url, path) < 0) {
        url = NULL;
        goto out;
    }
    CURL *c = h->curl;
    /* Reset per request but keep the handle: its connection cache keeps the connection. */
    curl_easy_reset(c);
    headers = curl_slist_append(headers, "Accept: application/scim+json, application/json");
    if (body)
        headers = curl_slist_append(headers, "Content-Type: application/scim+json");
    /* No "Expect: 100-continue" round trip before large Bulk bodies. */
    headers = curl_slist_append(headers, "Expect:");
    if (!headers)
        goto out;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, h->connect_timeout);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, h->timeout);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, h->stall);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->curl_err);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &sink);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    if (h->user) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERNAME, h->user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, h->password ? h->password : "");
    }
    if (h->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, h->tls_verify ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, h->tls_verify ? 2L : 0L);
    /* adc.cfg decides the proxy; "" stops curl from reading http_proxy from the environment. */
    curl_easy_setopt(c, CURLOPT_PROXY, h->proxy ? h->proxy : "");
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    h->curl_err[0] = '\0';
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        r = sink.too_big ? -EFBIG : curl_errno(cc);
        if (err) {
            const char *why = sink.too_big     ? "answer too large"
                              : h->curl_err[0] ? h->curl_err
                                               : curl_easy_strerror(cc);
            /* The usual cause: a server certificate from a private CA. Say which option fixes
             * it, not only what OpenSSL saw. */
            const char *hint =
                cc != CURLE_PEER_FAILED_VERIFICATION ? ""
                : h->ca_file ? " (the certificate is not signed by the CA in adc.cfg's ca_file)"
                             : "; set ca_file in adc.cfg to the CA that signed the server's "
                               "certificate";
            if (asprintf(err, "%s %s%s: %s%s", method, h->base_url, path, why, hint) < 0)
                *err = NULL;
        }
        goto out;
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    *resp = (struct adc_http_response){
        .status = status,
        .body = TAKE_PTR(sink.buf),
        .len = sink.len,
        .retry_after = sink.retry_after,
    };
    r = 0;
out:
    curl_slist_free_all(headers);
    free(sink.buf);
    return r;
}

void adc_http_set_attempts(struct adc_http *h, int attempts) {
    h->max_attempts = attempts > 0 ? attempts : 1;
}

bool adc_http_status_transient(long status) {
    return status == 429 || status == 502 || status == 503 || status == 504 || status == 500;
}

long adc_http_backoff_ms(int attempt, long retry_after, long first_ms, long max_ms,
                         long retry_after_max) {
    if (retry_after >= 0)
        return (retry_after < retry_after_max ? retry_after : retry_after_max) * 1000;
    long ms = first_ms;
    for (int i = 1; i < attempt && ms < max_ms; i++)
        ms *= 2;
    return ms < max_ms ? ms : max_ms;
}

void adc_http_sleep_ms(long ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int adc_http_request_retry(struct adc_http *h, const char *method, const char *path,
                           const char *body, size_t body_len, struct adc_http_response *resp,
                           char **err) {
    for (int attempt = 1;; attempt++) {
        _cleanup_free_ char *e = NULL;
        struct adc_http_response rr = {.retry_after = -1};
        int r = adc_http_request(h, method, path, body, body_len, &rr, &e);
        bool again = r < 0 ? (r != -ENOMEM && r != -EFBIG && r != -EPROTO)
                           : adc_http_status_transient(rr.status);
        if (!again || attempt >= h->max_attempts) {
            if (r < 0) {
                if (err)
                    *err = TAKE_PTR(e);
            } else {
                *resp = rr;
            }
            return r;
        }
        long wait = adc_http_backoff_ms(attempt, r < 0 ? -1 : rr.retry_after, h->backoff_ms,
                                        h->backoff_max_ms, h->retry_after_max);
        if (r < 0)
            log_debug("%s; retrying in %ld ms", e ? e : "request failed", wait);
        else
            log_debug("%s %s: HTTP %ld; retrying in %ld ms", method, path, rr.status, wait);
        adc_http_response_done(&rr);
        adc_http_sleep_ms(wait);
    }
}

char *adc_http_escape(struct adc_http *h, const char *s) {
    char *c = curl_easy_escape(h->curl, s, 0);
    if (!c)
        return NULL;
    char *r = strdup(c);
    curl_free(c);
    return r;
}
