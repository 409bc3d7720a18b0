/* libcurl client of the agent channel. Each client owns a multi handle and one easy handle:
 * the multi interface lets a 20-second long poll also listen to a wake descriptor (signals),
 * and the persistent easy/multi pair keeps the connection alive across requests. */
#include "agent/agent-channel.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "common/secret.h"

struct adc_channel {
    CURLM *multi;
    CURL *easy;
    char *url;     /* without trailing '/' */
    char *app_id;
    char *secret;
    char *ca_file;
    char *proxy;
    bool tls_verify;
    int wake_fd;
    int tick_ms;
    adc_channel_wake_fn wake_fn;
    void *wake_userdata;
    char errbuf[CURL_ERROR_SIZE];
};

struct body_buf {
    char *data;
    size_t len;
    size_t cap;
    bool too_big;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

void adc_channel_reply_done(struct adc_channel_reply *r) {
    if (!r)
        return;
    json_decref(r->body);
    free(r->error);
    *r = (struct adc_channel_reply){0};
}

int adc_channel_new(const struct adc_service_config *svc, struct adc_channel **ret) {
    if (!svc || !svc->server_url || !svc->app_id || !svc->secret)
        return -EINVAL;
    pthread_once(&curl_once, curl_init_once);

    struct adc_channel *ch = calloc(1, sizeof(*ch));
    if (!ch)
        return -ENOMEM;
    ch->wake_fd = -1;
    ch->url = strdup(svc->server_url);
    ch->app_id = strdup(svc->app_id);
    ch->secret = strdup(svc->secret);
    ch->ca_file = svc->ca_file ? strdup(svc->ca_file) : NULL;
    ch->proxy = svc->proxy ? strdup(svc->proxy) : NULL;
    ch->tls_verify = svc->tls_verify;
    ch->multi = curl_multi_init();
    ch->easy = curl_easy_init();
    if (!ch->url || !ch->app_id || !ch->secret || (svc->ca_file && !ch->ca_file) ||
        (svc->proxy && !ch->proxy) || !ch->multi || !ch->easy) {
        adc_channel_free(ch);
        return -ENOMEM;
    }
    size_t n = strlen(ch->url);
    while (n > 0 && ch->url[n - 1] == '/')
        ch->url[--n] = '\0';
    *ret = ch;
    return 0;
}

void adc_channel_free(struct adc_channel *ch) {
    if (!ch)
        return;
    if (ch->easy)
        curl_easy_cleanup(ch->easy);
    if (ch->multi)
        curl_multi_cleanup(ch->multi);
    free(ch->url);
    free(ch->app_id);
    adc_secret_free(ch->secret);
    free(ch->ca_file);
    free(ch->proxy);
    free(ch);
}

void adc_channel_set_wake(struct adc_channel *ch, int wake_fd, int tick_ms, adc_channel_wake_fn fn,
                          void *userdata) {
    ch->wake_fd = wake_fd;
    ch->tick_ms = tick_ms;
    ch->wake_fn = fn;
    ch->wake_userdata = userdata;
}

const char *adc_channel_url(const struct adc_channel *ch) { return ch->url; }

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata) {
    struct body_buf *b = userdata;
    size_t n = size * nmemb;
    if (b->len + n > ADC_CHANNEL_MAX_BODY) {
        b->too_big = true;
        return 0; /* makes curl fail the transfer with CURLE_WRITE_ERROR */
    }
    if (b->len + n + 1 > b->cap) {
        /* Grown by hand, not realloc: poll answers carry passwords, and every copy left
         * behind is wiped before it is freed. */
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = malloc(cap);
        if (!p)
            return 0;
        if (b->data) {
            memcpy(p, b->data, b->len);
            explicit_bzero(b->data, b->cap);
            free(b->data);
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

/* Runs the transfer, listening to the wake descriptor. */
static int perform(struct adc_channel *ch) {
    int r = 0;
    if (curl_multi_add_handle(ch->multi, ch->easy) != CURLM_OK)
        return -ENOMEM;
    for (;;) {
        int running = 0;
        if (curl_multi_perform(ch->multi, &running) != CURLM_OK) {
            r = -EIO;
            break;
        }
        if (!running)
            break;
        struct curl_waitfd extra = {.fd = ch->wake_fd, .events = CURL_WAIT_POLLIN};
        int numfds = 0;
        int timeout = ch->wake_fn && ch->tick_ms > 0 ? ch->tick_ms : 1000;
        if (curl_multi_poll(ch->multi, ch->wake_fd >= 0 ? &extra : NULL, ch->wake_fd >= 0 ? 1 : 0,
                            timeout, &numfds) != CURLM_OK) {
            r = -EIO;
            break;
        }
        if (ch->wake_fn) {
            int w = ch->wake_fn(ch->wake_userdata);
            if (w < 0) {
                r = w;
                break;
            }
        }
    }
    if (r == 0) {
        int left = 0;
        CURLMsg *m;
        r = -EIO;
        while ((m = curl_multi_info_read(ch->multi, &left)))
            if (m->msg == CURLMSG_DONE && m->easy_handle == ch->easy)
                r = m->data.result == CURLE_OK ? 0 : -(int)m->data.result - 10000;
    }
    curl_multi_remove_handle(ch->multi, ch->easy);
    return r;
}

int adc_channel_request(struct adc_channel *ch, const char *method, const char *path, json_t *body,
                        long timeout_s, struct adc_channel_reply *reply) {
    *reply = (struct adc_channel_reply){0};
    struct body_buf in = {0};
    struct curl_slist *headers = NULL;
    _cleanup_free_ char *url = NULL;
    _cleanup_free_ char *payload = NULL;
    int r = -ENOMEM;

    if (asprintf(&url, "%s%s", ch->url, path) < 0) {
        url = NULL;
        goto out;
    }
    if (body) {
        payload = json_dumps(body, JSON_COMPACT);
        if (!payload)
            goto out;
    }

    CURL *e = ch->easy;
    /* Options are set again on every request; reset keeps the connection cache and DNS cache. */
    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    curl_easy_setopt(e, CURLOPT_USERNAME, ch->app_id);
    curl_easy_setopt(e, CURLOPT_PASSWORD, ch->secret);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "adc/" ADC_VERSION);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    /* Only http(s): a redirect to file:// or similar from a hostile server is refused. */
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &in);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, ch->errbuf);
    ch->errbuf[0] = '\0';
    if (ch->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, ch->ca_file);
    if (!ch->tls_verify) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (ch->proxy)
        curl_easy_setopt(e, CURLOPT_PROXY, ch->proxy);
    headers = curl_slist_append(headers, "Accept: application/json");
    if (!headers)
        goto out;
    if (payload) {
        struct curl_slist *h = curl_slist_append(headers, "Content-Type: application/json");
        if (!h)
            goto out;
        headers = h;
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, payload);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(payload));
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 0L);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);

    r = perform(ch);
    if (r <= -10000) {
        CURLcode code = (CURLcode)(-(r + 10000));
        const char *msg = in.too_big ? "answer larger than the limit"
                          : ch->errbuf[0] ? ch->errbuf
                                          : curl_easy_strerror(code);
        /* A private CA is the usual cause: name the option that fixes it. */
        if (code == CURLE_PEER_FAILED_VERIFICATION && !in.too_big) {
            if (asprintf(&reply->error, "%s; set ca_file in adc.cfg to the CA that signed the "
                         "server's certificate", msg) < 0)
                reply->error = NULL;
        } else {
            reply->error = strdup(msg);
        }
        r = -EIO;
        goto out;
    }
    if (r < 0) {
        if (r == -EIO)
            reply->error = strdup(ch->errbuf[0] ? ch->errbuf : "transfer failed");
        goto out;
    }
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &reply->status);
    if (in.data && in.len > 0)
        reply->body = json_loadb(in.data, in.len, 0, NULL);
    r = 0;
out:
    curl_slist_free_all(headers);
    if (in.data) {
        explicit_bzero(in.data, in.cap);
        free(in.data);
    }
    return r;
}
