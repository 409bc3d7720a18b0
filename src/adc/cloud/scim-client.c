/* SCIM 2.0 (RFC 7644) and the agent API of adc-server, from the sync's side.
 *
 * Writes are made safe to repeat, so that a lost answer never turns into a wrong state: a PUT
 * of the whole resource and a PATCH of active=false give the same result twice; a DELETE
 * answered 404 was done before; a create answered 409 (uniqueness) is looked up by its
 * externalId, and when that user is ours the create happened before its answer was lost. */
#include "cloud/scim-client.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cloud/http-client.h"
#include "cloud/json-text.h"
#include "common/log.h"
#include "common/macros.h"
#include "cloud/scim-list-parse.h"
#include "cloud/scim-user.h"
#include "common/wire.h"

/* Page size of the listing; the server may answer fewer (its filter.maxResults). 2,000 keeps
 * the round trips few (the server continues from a cursor, so pages cost the same) and the
 * parsed page small next to the users kept. */
#define LIST_PAGE 2000
/* Rounds for the operations of a Bulk answer that failed transiently (429, 5xx). */
#define OP_ATTEMPTS 5

struct adc_scim {
    struct adc_http *http;
    struct adc_http *prefetch; /* a second connection: the next page while this one parses */
    struct adc_http *bulk2;    /* a third: a second Bulk of creates in flight beside the first */
    char *app_id;
    char *server_url;
};

int adc_scim_new(const struct adc_service_config *svc, struct adc_scim **ret, char **err) {
    const char *missing = !svc                                    ? "adc.cfg"
                          : !svc->server_url || !*svc->server_url ? "server"
                          : !svc->app_id || !*svc->app_id         ? "app_id"
                          : !svc->secret || !*svc->secret         ? "secret"
                                                                  : NULL;
    if (missing) {
        if (err && asprintf(err, "no '%s' in the service configuration (adc.cfg)", missing) < 0)
            *err = NULL;
        return -EINVAL;
    }
    struct adc_scim *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    struct adc_http_options o = {
        .base_url = svc->server_url,
        .user = svc->app_id,
        .password = svc->secret,
        .ca_file = svc->ca_file,
        .proxy = svc->proxy,
        .tls_verify = svc->tls_verify,
    };
    /* Tests shorten the retry schedule; the defaults are for real outages. */
    const char *e = getenv("ADC_HTTP_BACKOFF_MS");
    if (e)
        o.backoff_ms = atol(e);
    if ((e = getenv("ADC_HTTP_ATTEMPTS")))
        o.max_attempts = atoi(e);
    int r = adc_http_new(&o, &s->http);
    if (r >= 0)
        r = adc_http_new(&o, &s->prefetch);
    if (r >= 0)
        r = adc_http_new(&o, &s->bulk2);
    if (r < 0 || !(s->app_id = strdup(svc->app_id)) || !(s->server_url = strdup(svc->server_url))) {
        adc_scim_free(s);
        return r < 0 ? r : -ENOMEM;
    }
    *ret = s;
    return 0;
}

void adc_scim_set_attempts(struct adc_scim *s, int attempts) {
    adc_http_set_attempts(s->http, attempts);
    adc_http_set_attempts(s->prefetch, attempts);
    adc_http_set_attempts(s->bulk2, attempts);
}

void adc_scim_free(struct adc_scim *s) {
    if (!s)
        return;
    adc_http_free(s->http);
    adc_http_free(s->prefetch);
    adc_http_free(s->bulk2);
    free(s->app_id);
    free(s->server_url);
    free(s);
}

static void set_err(char **err, const char *fmt, ...) _printf_(2, 3);
static void set_err(char **err, const char *fmt, ...) {
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(err, fmt, ap) < 0)
        *err = NULL;
    va_end(ap);
}

static json_t *parse(const struct adc_http_response *resp) {
    if (!resp->body || !resp->len)
        return NULL;
    return json_loadb(resp->body, resp->len, JSON_REJECT_DUPLICATES, NULL);
}

/* How much of a server's error detail goes into a message: the detail comes from the network
 * and may be megabytes. Cut at a character boundary (UTF-8). */
#define DETAIL_MAX 500
static int detail_len(const char *d) {
    size_t n = strlen(d);
    if (n <= DETAIL_MAX)
        return (int)n;
    n = DETAIL_MAX;
    while (n > 0 && ((unsigned char)d[n] & 0xc0) == 0x80)
        n--;
    return (int)n;
}

/* The message for an unexpected HTTP status, with what the user can do about the common ones. */
static void status_err(struct adc_scim *s, char **err, const char *method, const char *path,
                       const struct adc_http_response *resp) {
    json_t *body = parse(resp);
    const char *detail = body ? adc_scim_error_detail(body) : NULL;
    if (resp->status == 401)
        set_err(err,
                "%s refused the credentials of application '%s' (HTTP 401); check app_id and "
                "secret in adc.cfg (the secret may have been rotated)",
                s->server_url, s->app_id);
    else if (resp->status == 404 && !detail)
        set_err(err, "%s %s%s: not found (HTTP 404); is '%s' an adc-server?", method, s->server_url,
                path, s->server_url);
    else
        set_err(err, "%s %s%s: HTTP %ld%s%.*s%s", method, s->server_url, path, resp->status,
                detail ? ": " : "", detail ? detail_len(detail) : 0, detail ? detail : "",
                detail && detail[detail_len(detail)] ? "..." : "");
    json_decref(body);
}

/* A request safe to repeat whose answer must be 2xx JSON, on connection h. */
static int call_json_on(struct adc_scim *s, struct adc_http *h, const char *method,
                        const char *path, const char *body, json_t **out, char **err) {
    struct adc_http_response resp = {.retry_after = -1};
    int r = adc_http_request_retry(h, method, path, body, body ? strlen(body) : 0, &resp, err);
    if (r < 0)
        return r;
    if (resp.status < 200 || resp.status > 299) {
        status_err(s, err, method, path, &resp);
        r = resp.status == 401 || resp.status == 403 ? -EACCES : -EIO;
        goto out;
    }
    json_t *j = parse(&resp);
    if (!j && resp.status != 204) {
        set_err(err, "%s %s%s: the answer is not JSON", method, s->server_url, path);
        r = -EBADMSG;
        goto out;
    }
    *out = j;
    r = 0;
out:
    adc_http_response_done(&resp);
    return r;
}

static int call_json(struct adc_scim *s, const char *method, const char *path, const char *body,
                     json_t **out, char **err) {
    return call_json_on(s, s->http, method, path, body, out, err);
}

int adc_scim_get_settings(struct adc_scim *s, struct adc_server_settings *out, char **err) {
    json_t *j = NULL;
    int r = call_json(s, "GET", "/api/v1/agent/config", NULL, &j, err);
    if (r < 0)
        return r;
    struct adc_server_settings st = {0};
    for (int i = 0; i < ADC_SETTING_COUNT; i++)
        st.settings[i] = ADC_UNSET;
    const json_t *settings = json_object_get(j, "settings");
    r = -EBADMSG;
    if (!json_is_object(j) || (settings && !json_is_object(settings))) {
        set_err(err, "GET %s/api/v1/agent/config: unexpected answer", s->server_url);
        goto out;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)settings, key, v) {
        int i = adc_setting_from_name(key);
        if (i < 0) {
            /* A newer server may know more settings; this client cannot honour them. */
            log_warning("the server sets '%s', which this version of adc does not know", key);
            continue;
        }
        if (json_is_null(v))
            continue;
        if (!json_is_boolean(v)) {
            set_err(err, "GET %s/api/v1/agent/config: setting '%s' is not a boolean", s->server_url,
                    key);
            goto out;
        }
        st.settings[i] = json_is_true(v) ? ADC_TRUE : ADC_FALSE;
    }
    const char *app_id = json_string_value(json_object_get(j, "app_id"));
    const char *name = json_string_value(json_object_get(j, "name"));
    r = -ENOMEM;
    if ((app_id && !(st.app_id = strdup(app_id))) || (name && !(st.name = strdup(name)))) {
        adc_server_settings_done(&st);
        goto out;
    }
    *out = st;
    r = 0;
out:
    json_decref(j);
    return r;
}

void adc_server_settings_done(struct adc_server_settings *st) {
    if (!st)
        return;
    free(st->app_id);
    free(st->name);
    st->app_id = st->name = NULL;
}

/* The most adc puts in one Bulk request, whatever a server allows (adc-server: 1,000 and 4 MiB). */
#define BULK_MAX_OPERATIONS 10000
#define BULK_MAX_PAYLOAD (64 * 1024 * 1024)

int adc_scim_get_limits(struct adc_scim *s, struct adc_scim_limits *out, char **err) {
    json_t *j = NULL;
    int r = call_json(s, "GET", "/scim/v2/ServiceProviderConfig", NULL, &j, err);
    if (r < 0)
        return r;
    const json_t *bulk = json_object_get(j, "bulk");
    json_int_t ops = json_integer_value(json_object_get(bulk, "maxOperations"));
    json_int_t payload = json_integer_value(json_object_get(bulk, "maxPayloadSize"));
    /* The server's word sizes our buffers (an array per Bulk request of max_operations):
     * never more than we would send anyway, whatever it advertises. */
    if (ops > BULK_MAX_OPERATIONS)
        ops = BULK_MAX_OPERATIONS;
    if (payload > BULK_MAX_PAYLOAD)
        payload = BULK_MAX_PAYLOAD;
    *out = (struct adc_scim_limits){
        .bulk = json_is_true(json_object_get(bulk, "supported")) && ops > 0 && payload > 1024,
        .max_operations = ops > 0 ? (size_t)ops : 1,
        .max_payload = payload > 0 ? (size_t)payload : 0,
    };
    json_decref(j);
    return 0;
}

/* One page of the listing, fetched on a thread of its own. */
struct page {
    struct adc_scim *s;
    struct adc_http *h;
    size_t start;
    struct adc_http_response resp;
    int r;
    char *err;
    pthread_t thread;
    bool running;
};

static void *fetch_page(void *p) {
    struct page *pg = p;
    char path[96];
    snprintf(path, sizeof(path), "/scim/v2/Users?startIndex=%zu&count=%d", pg->start, LIST_PAGE);
    pg->r = adc_http_request_retry(pg->h, "GET", path, NULL, 0, &pg->resp, &pg->err);
    return NULL;
}

static void page_start(struct page *pg, struct adc_scim *s, struct adc_http *h, size_t start) {
    *pg = (struct page){.s = s, .h = h, .start = start, .resp = {.retry_after = -1}};
    pg->running = pthread_create(&pg->thread, NULL, fetch_page, pg) == 0;
    if (!pg->running)
        fetch_page(pg);
}

static void page_wait(struct page *pg) {
    if (pg->running)
        pthread_join(pg->thread, NULL);
    pg->running = false;
}

static void page_discard(struct page *pg) {
    page_wait(pg);
    adc_http_response_done(&pg->resp);
    free(pg->err);
    pg->err = NULL;
}

/* Pages are read in order (the server continues from where the previous page ended). While
 * one page is turned into users, the next is already being fetched on a second connection:
 * the server's work and ours overlap. The guess of where it starts is checked; a short page
 * makes us fetch the right one instead. */
int adc_scim_list_users(struct adc_scim *s, struct adc_cloud_users *out, adc_progress_fn progress,
                        void *userdata, char **err) {
    size_t start = 1;
    /* Two slots, swapped by pointer: a running fetch writes into its own slot. */
    struct page slots[2] = {0}, *cur = &slots[0], *next = &slots[1];
    struct adc_http *conns[2] = {s->http, s->prefetch};
    int which = 0, r;

    page_start(cur, s, conns[which], start);
    for (bool first = true;; first = false) {
        page_wait(cur);
        if ((r = cur->r) < 0) {
            if (err)
                *err = TAKE_PTR(cur->err);
            goto out;
        }
        char path[96];
        snprintf(path, sizeof(path), "/scim/v2/Users?startIndex=%zu", start);
        if (cur->resp.status != 200) {
            status_err(s, err, "GET", path, &cur->resp);
            r = cur->resp.status == 401 || cur->resp.status == 403 ? -EACCES : -EIO;
            goto out;
        }
        /* The first page says how many there are: room for all at once, no doubling slack on
         * 100,000 users (a few more in case users are added while we page). Then the
         * resources go straight into the list. */
        size_t total = 0, n = 0;
        char why[160];
        /* totalResults comes first in the answer: a guess, checked by the parse below, that
         * sizes the list and lets the next page be fetched while this one is parsed. */
        const char *tr = cur->resp.body ? strstr(cur->resp.body, "\"totalResults\":") : NULL;
        unsigned long long guess = tr ? strtoull(tr + 15, NULL, 10) : 0;
        if (first && guess < SIZE_MAX / 4 && adc_cloud_users_reserve(out, (size_t)guess + 16) < 0) {
            r = -ENOMEM;
            goto out;
        }
        bool prefetched = start + LIST_PAGE <= guess;
        if (prefetched) {
            which ^= 1;
            page_start(next, s, conns[which], start + LIST_PAGE);
        }
        if ((r = adc_scim_list_parse(cur->resp.body ? cur->resp.body : "", cur->resp.len, out,
                                     &total, &n, why, sizeof(why))) < 0) {
            if (r == -EBADMSG)
                set_err(err, "GET %s%s: not a SCIM ListResponse of Users: %s", s->server_url, path,
                        why);
            goto out;
        }
        page_discard(cur);
        if (progress)
            progress(userdata, out->n, total);
        if (n == 0 || start + n > total) {
            r = 0;
            goto out;
        }
        start += n;
        if (!prefetched || next->start != start) {
            /* The guess was wrong (a short page, or a total that changed). */
            page_discard(next);
            which ^= 1;
            page_start(next, s, conns[which], start);
        }
        struct page *t = cur;
        cur = next;
        next = t;
    }
out:
    page_discard(cur);
    page_discard(next);
    return r;
}

/* A string literal inside a SCIM filter: JSON string rules (RFC 7644 3.4.2.2). */
static char *filter_eq(const char *attr, const char *value) {
    json_t *v = json_string(value);
    char *lit = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL, *f = NULL;
    json_decref(v);
    if (lit && asprintf(&f, "%s eq %s", attr, lit) < 0)
        f = NULL;
    free(lit);
    return f;
}

/* Longest filter we send: adc-server accepts 4096 characters. */
#define CONFLICT_FILTER_MAX 3500

/* After creates got 409 (uniqueness): which of them are already ours, found by externalId?
 * Those happened before (their answer was lost, or a listing missed them): they are done.
 * Asks for many at once ("externalId eq .. or externalId eq .."), so that a repeated Bulk
 * request of 1,000 creates costs a few look-ups, not 1,000. Sets ours[k] for w[pos[k]]. */
static void created_before(struct adc_scim *s, struct adc_scim_write *w, const size_t *pos,
                           size_t n, bool *ours) {
    size_t first = 0;
    while (first < n) {
        _cleanup_free_ char *f = NULL;
        size_t len = 0, last = first;
        for (; last < n; last++) {
            const char *ext = w[pos[last]].external_id;
            if (!ext)
                continue; /* no identity: cannot be recognized */
            _cleanup_free_ char *one = filter_eq("externalId", ext);
            if (!one)
                return;
            size_t ol = strlen(one);
            if (len && len + ol + 4 > CONFLICT_FILTER_MAX)
                break;
            char *nf = realloc(f, len + ol + 5);
            if (!nf)
                return;
            f = nf;
            if (len) {
                memcpy(f + len, " or ", 4);
                len += 4;
            }
            memcpy(f + len, one, ol + 1);
            len += ol;
        }
        if (!f)
            return;
        _cleanup_free_ char *q = adc_http_escape(s->http, f);
        _cleanup_free_ char *path = NULL;
        _cleanup_free_ char *e = NULL;
        json_t *j = NULL;
        if (!q || asprintf(&path, "/scim/v2/Users?filter=%s&count=%zu", q, last - first) < 0) {
            path = NULL;
            return;
        }
        if (call_json(s, "GET", path, NULL, &j, &e) < 0)
            return; /* unknown: those stay failed; the next run sees them in its listing */
        size_t i;
        const json_t *item;
        json_array_foreach(json_object_get(j, "Resources"), i, item) {
            const char *ext = json_string_value(json_object_get(item, "externalId"));
            const json_t *x = json_object_get(item, ADC_SCIM_SCHEMA_PROVIDER);
            if (!ext || !adc_streq(json_string_value(json_object_get(x, "provider")), s->app_id))
                continue;
            for (size_t k = first; k < last; k++)
                if (adc_streq(w[pos[k]].external_id, ext))
                    ours[k] = true;
        }
        json_decref(j);
        first = last;
    }
}

static const char *method_of(enum adc_scim_write_kind k) {
    switch (k) {
    case ADC_SCIM_CREATE: return "POST";
    case ADC_SCIM_REPLACE: return "PUT";
    case ADC_SCIM_DISABLE: return "PATCH";
    case ADC_SCIM_DELETE: return "DELETE";
    }
    return "?";
}

/* The path (relative to /scim/v2) and the body of one write. */
static const char DISABLE_BODY[] =
    "{\"schemas\":[\"" ADC_SCIM_SCHEMA_PATCH "\"],\"Operations\":[{\"op\":"
    "\"replace\",\"path\":\"active\",\"value\":false}]}";

/* The path (relative to /scim/v2) and the body (lent; NULL for a delete) of one write. The
 * SCIM id in the path comes from the server; escaped like any JSON string where it goes into
 * one. */
static int describe_write(const struct adc_scim_write *w, char **path, const char **body) {
    *body = NULL;
    if (w->kind == ADC_SCIM_CREATE) {
        *path = strdup("/Users");
    } else if (asprintf(path, "/Users/%s", w->id ? w->id : "") < 0) {
        *path = NULL;
    }
    if (!*path)
        return -ENOMEM;
    if (w->kind == ADC_SCIM_CREATE || w->kind == ADC_SCIM_REPLACE)
        *body = w->resource;
    else if (w->kind == ADC_SCIM_DISABLE)
        *body = DISABLE_BODY;
    if (w->kind != ADC_SCIM_DELETE && !*body) {
        free(*path);
        return -EINVAL;
    }
    return 0;
}

enum outcome { OUT_DONE, OUT_FAILED, OUT_RETRY, OUT_CONFLICT };

static enum outcome classify(struct adc_scim_write *w, long status, const char *detail) {
    if (status >= 200 && status <= 299)
        return OUT_DONE;
    if (w->kind == ADC_SCIM_DELETE && status == 404)
        return OUT_DONE; /* gone already: a retried delete, or deleted by someone else */
    if (w->kind == ADC_SCIM_CREATE && status == 409)
        return OUT_CONFLICT;
    if (adc_http_status_transient(status))
        return OUT_RETRY;
    free(w->error);
    if (asprintf(&w->error, "HTTP %ld%s%.*s", status, detail ? ": " : "",
                 detail ? detail_len(detail) : 0, detail ? detail : "") < 0)
        w->error = NULL;
    return OUT_FAILED;
}

static void fail_write(struct adc_scim_write *w, const char *why) {
    if (w->done || w->error)
        return;
    w->error = strdup(why ? why : "not written");
}

static void conflict_failed(struct adc_scim_write *w, const char *detail) {
    free(w->error);
    if (!detail)
        detail = "userName already exists in the cloud";
    if (asprintf(&w->error, "HTTP 409: %.*s", detail_len(detail), detail) < 0)
        w->error = NULL;
}

/* Settles a write by its outcome; a conflict is settled by the caller (created_before). */
static void settle(struct adc_scim_write *w, enum outcome o, long status) {
    switch (o) {
    case OUT_DONE: w->done = true; break;
    case OUT_FAILED:
    case OUT_CONFLICT: break;
    case OUT_RETRY:
        free(w->error);
        if (asprintf(&w->error, "HTTP %ld, still after %d attempts", status, OP_ATTEMPTS) < 0)
            w->error = NULL;
        break;
    }
}

static int write_one_by_one(struct adc_scim *s, struct adc_scim_write *w, size_t n, char **err) {
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *rel = NULL, *path = NULL;
        const char *body = NULL;
        if (describe_write(&w[i], &rel, &body) < 0 || asprintf(&path, "/scim/v2%s", rel) < 0) {
            path = NULL;
            fail_write(&w[i], "out of memory");
            continue;
        }
        struct adc_http_response resp = {.retry_after = -1};
        int r = adc_http_request_retry(s->http, method_of(w[i].kind), path, body,
                                       body ? strlen(body) : 0, &resp, err);
        if (r < 0) {
            for (size_t k = i; k < n; k++)
                fail_write(&w[k], err && *err ? *err : "server unreachable");
            return r;
        }
        if (resp.status == 401) {
            status_err(s, err, method_of(w[i].kind), path, &resp);
            adc_http_response_done(&resp);
            for (size_t k = i; k < n; k++)
                fail_write(&w[k], err && *err ? *err : "credentials refused");
            return -EACCES;
        }
        json_t *j = parse(&resp);
        const char *detail = j ? adc_scim_error_detail(j) : NULL;
        enum outcome o = classify(&w[i], resp.status, detail);
        settle(&w[i], o, resp.status);
        if (o == OUT_CONFLICT) {
            bool ours = false;
            created_before(s, w, &i, 1, &ours);
            if (ours)
                w[i].done = true;
            else
                conflict_failed(&w[i], detail);
        }
        json_decref(j);
        adc_http_response_done(&resp);
    }
    return 0;
}

/* One Bulk request: the writes w[idx[0..m)], its body, and once sent, the answer. */
struct bulk {
    struct adc_scim *s;
    struct adc_http *conn; /* while in flight */
    size_t *idx;           /* positions in w; capacity max_operations */
    size_t m;
    bool creates_only; /* no write of it can depend on another request's (see bulk_round) */
    char *body;
    size_t len, cap;
    struct adc_http_response resp;
    int r;
    char *err;
    pthread_t thread;
    bool running;
};

static int body_append(struct bulk *b, const char *t, size_t tl) {
    if (b->len + tl + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->len + tl + 1)
            cap *= 2;
        char *nb = realloc(b->body, cap);
        if (!nb)
            return -ENOMEM;
        b->body = nb;
        b->cap = cap;
    }
    memcpy(b->body + b->len, t, tl);
    b->len += tl;
    b->body[b->len] = '\0';
    return 0;
}

/* Packs writes from idx[*i..n) into b, within maxOperations and maxPayloadSize. A write too
 * large for any request fails on its own. Returns 0 (b->m may be 0 at the end) or -ENOMEM. */
static int bulk_build(const struct adc_scim_limits *lim, struct adc_scim_write *w,
                      const size_t *idx, size_t n, size_t *i, struct bulk *b) {
    static const char head[] =
        "{\"schemas\":[\"" ADC_SCIM_SCHEMA_BULK_REQUEST "\"],\"Operations\":[";
    b->m = 0;
    b->len = 0;
    b->creates_only = true;
    if (body_append(b, head, sizeof(head) - 1) < 0)
        return -ENOMEM;
    for (; *i < n && b->m < lim->max_operations; (*i)++) {
        struct adc_scim_write *wr = &w[idx[*i]];
        _cleanup_free_ char *rel = NULL, *t = NULL;
        const char *data = NULL;
        if (describe_write(wr, &rel, &data) < 0)
            return -ENOMEM;
        /* {"method":"POST","path":"/Users","bulkId":"b12","data":{...}}, written directly: the
         * resource is JSON text already. */
        struct adc_json_text op = {0};
        char bid[32];
        snprintf(bid, sizeof(bid), "b%zu", idx[*i]);
        adc_json_text_lit(&op, "{\"method\":\"");
        adc_json_text_lit(&op, method_of(wr->kind));
        adc_json_text_lit(&op, "\",\"path\":");
        adc_json_text_str(&op, rel);
        adc_json_text_lit(&op, ",\"bulkId\":\"");
        adc_json_text_lit(&op, bid);
        adc_json_text_lit(&op, data ? "\",\"data\":" : "\"");
        if (data)
            adc_json_text_lit(&op, data);
        adc_json_text_lit(&op, "}");
        if (!(t = adc_json_text_take(&op)))
            return -ENOMEM;
        size_t tl = strlen(t);
        /* head, a comma before each operation but the first, and "]}" */
        if (sizeof(head) + tl + 3 > lim->max_payload) {
            fail_write(wr, "the user's resource exceeds the server's maxPayloadSize");
            continue;
        }
        if (b->len + tl + 3 > lim->max_payload)
            break; /* starts the next request */
        if ((b->m && body_append(b, ",", 1) < 0) || body_append(b, t, tl) < 0)
            return -ENOMEM;
        b->idx[b->m++] = idx[*i];
        if (wr->kind != ADC_SCIM_CREATE)
            b->creates_only = false;
    }
    return body_append(b, "]}", 2);
}

static void *bulk_send(void *p) {
    struct bulk *b = p;
    /* Not the first connection: it stays free for the look-ups that settle conflicts. */
    b->r = adc_http_request_retry(b->conn, "POST", "/scim/v2/Bulk", b->body, b->len, &b->resp,
                                  &b->err);
    return NULL;
}

static void bulk_start(struct bulk *b, struct adc_http *conn) {
    b->conn = conn;
    adc_http_response_done(&b->resp);
    b->r = 0;
    b->running = pthread_create(&b->thread, NULL, bulk_send, b) == 0;
    if (!b->running)
        bulk_send(b);
}

/* Waits for the answer. Returns 0 when it is a 200, else a negative errno with *err: the
 * request as a whole failed (unreachable, refused, or an error status after the retries). */
static int bulk_wait(struct bulk *b, char **err) {
    if (b->running)
        pthread_join(b->thread, NULL);
    b->running = false;
    if (b->r < 0) {
        if (err)
            *err = TAKE_PTR(b->err);
        return b->r;
    }
    if (b->resp.status != 200) {
        status_err(b->s, err, "POST", "/scim/v2/Bulk", &b->resp);
        return b->resp.status == 401 || b->resp.status == 403 ? -EACCES : -EIO;
    }
    return 0;
}

static void bulk_done(struct bulk *b) {
    if (b->running)
        pthread_join(b->thread, NULL);
    b->running = false;
    adc_http_response_done(&b->resp);
    free(b->err);
    free(b->body);
    free(b->idx);
    memset(b, 0, sizeof(*b));
}

/* Settles each write of an answered Bulk request; the ones that failed transiently go to
 * retry[]. Returns 0, or -EBADMSG / -ENOMEM. */
struct settle_ctx {
    struct adc_scim_write *w;
    struct bulk *b;
    bool *seen;
    size_t *retry, *n_retry;
    size_t *conflicts, n_conflicts;
};

static void on_bulk_op(void *ud, size_t pos, const char *bid, long status, const char *detail) {
    struct settle_ctx *sc = ud;
    struct bulk *b = sc->b;
    /* Our bulkId is "b<index into w>"; fall back to the position for servers that do not
     * echo it on other methods than POST. */
    size_t k = pos;
    if (bid && bid[0] == 'b') {
        char *end;
        unsigned long wi = strtoul(bid + 1, &end, 10);
        /* Answers come in request order (RFC 7644 3.7.3 keeps it in practice): look at the
         * same position first, so matching stays linear. */
        if (!*end && !(pos < b->m && b->idx[pos] == wi))
            for (size_t t = 0; t < b->m; t++)
                if (b->idx[t] == wi) {
                    k = t;
                    break;
                }
    }
    if (k >= b->m || sc->seen[k])
        return;
    sc->seen[k] = true;
    struct adc_scim_write *wr = &sc->w[b->idx[k]];
    enum outcome o = classify(wr, status, detail);
    if (o == OUT_RETRY) {
        sc->retry[(*sc->n_retry)++] = b->idx[k];
    } else if (o == OUT_CONFLICT) {
        conflict_failed(wr, detail); /* unless created_before finds it ours */
        sc->conflicts[sc->n_conflicts++] = b->idx[k];
    } else {
        settle(wr, o, status);
    }
}

/* Settles each write of an answered Bulk request; the ones that failed transiently go to
 * retry[]. Returns 0, or -EBADMSG / -ENOMEM. */
static int bulk_settle(struct adc_scim *s, struct adc_scim_write *w, struct bulk *b, size_t *retry,
                       size_t *n_retry, char **err) {
    size_t m = b->m ? b->m : 1;
    struct settle_ctx sc = {.w = w, .b = b, .retry = retry, .n_retry = n_retry};
    bool *ours = NULL;
    int r = -ENOMEM;
    if (!(sc.seen = calloc(m, sizeof(bool))) || !(sc.conflicts = calloc(m, sizeof(size_t))) ||
        !(ours = calloc(m, sizeof(bool))))
        goto out;
    char why[160];
    r = adc_scim_bulk_parse(b->resp.body ? b->resp.body : "", b->resp.len, on_bulk_op, &sc, why,
                            sizeof(why));
    if (r < 0) {
        if (r == -EBADMSG)
            set_err(err, "POST %s/scim/v2/Bulk: not a BulkResponse: %s", s->server_url, why);
        goto out;
    }
    created_before(s, w, sc.conflicts, sc.n_conflicts, ours);
    for (size_t c = 0; c < sc.n_conflicts; c++)
        if (ours[c]) {
            struct adc_scim_write *wr = &w[sc.conflicts[c]];
            wr->done = true;
            free(wr->error);
            wr->error = NULL;
        }
    /* An operation the answer does not mention was not performed (RFC 7644 3.7.3 allows a
     * server to stop after errors): it is safe to send again. */
    for (size_t k = 0; k < b->m; k++)
        if (!sc.seen[k])
            retry[(*n_retry)++] = b->idx[k];
    r = 0;
out:
    free(sc.seen);
    free(sc.conflicts);
    free(ours);
    return r;
}

/* Sends *ready if it may go now: when nothing is in flight, or as the second of two requests
 * of creates only, on the connection the first does not use. */
static bool launch(struct adc_scim *s, struct bulk **flying, size_t *n_flying,
                   struct bulk **ready) {
    if (*n_flying > 1 || (*n_flying == 1 && !(flying[0]->creates_only && (*ready)->creates_only)))
        return false;
    struct adc_http *conn = *n_flying && flying[0]->conn == s->prefetch ? s->bulk2 : s->prefetch;
    flying[(*n_flying)++] = *ready;
    *ready = NULL;
    bulk_start(flying[*n_flying - 1], conn);
    return true;
}

/* One round over the writes idx[0..n). Bulk requests go in order, since a later one may depend
 * on an earlier (a rename or a delete frees a userName a create takes): the next is built while
 * the previous one is with the server, and answered ones are settled while the next is. Two
 * requests of creates only may be at the server at once (on two connections): creates of
 * different users never depend on each other (the plan has settled duplicates), and the server
 * parses one while it writes the other, which takes about a third off a first import. */
static int bulk_round(struct adc_scim *s, const struct adc_scim_limits *lim,
                      struct adc_scim_write *w, const size_t *idx, size_t n, size_t *retry,
                      size_t *n_retry, char **err) {
    struct bulk slots[3] = {{.s = s}, {.s = s}, {.s = s}};
    struct bulk *flying[2] = {NULL, NULL}; /* in the order sent */
    struct bulk *ready = NULL;
    size_t n_flying = 0, i = 0;
    int r = -ENOMEM;
    for (int k = 0; k < 3; k++)
        if (!(slots[k].idx = calloc(lim->max_operations ? lim->max_operations : 1, sizeof(size_t))))
            goto out;
    for (;;) {
        if (!ready && i < n) {
            struct bulk *b = NULL;
            for (int k = 0; k < 3 && !b; k++)
                if (&slots[k] != flying[0] && &slots[k] != flying[1])
                    b = &slots[k];
            if ((r = bulk_build(lim, w, idx, n, &i, b)) < 0)
                goto out;
            if (b->m)
                ready = b;
            else if (i < n)
                continue; /* every write of this pack failed on its own: pack the next */
        }
        if (ready && launch(s, flying, &n_flying, &ready))
            continue; /* build the next one meanwhile */
        if (n_flying == 0)
            break;
        struct bulk *answered = flying[0];
        if ((r = bulk_wait(answered, err)) < 0) {
            /* Unreachable or refused: what was not answered is not done. */
            for (size_t k = 0; k < n; k++)
                fail_write(&w[idx[k]], err && *err ? *err : "server unreachable");
            goto out;
        }
        flying[0] = flying[1];
        flying[1] = NULL;
        n_flying--;
        if (ready)
            launch(s, flying, &n_flying, &ready);
        if ((r = bulk_settle(s, w, answered, retry, n_retry, err)) < 0) {
            for (size_t k = 0; k < n; k++)
                fail_write(&w[idx[k]], err && *err ? *err : "bad answer");
            goto out;
        }
    }
    r = 0;
out:
    for (int k = 0; k < 3; k++)
        bulk_done(&slots[k]);
    return r;
}

int adc_scim_write(struct adc_scim *s, const struct adc_scim_limits *limits,
                   struct adc_scim_write *w, size_t n, char **err) {
    if (!limits->bulk)
        return write_one_by_one(s, w, n, err);

    size_t *idx = malloc((n ? n : 1) * sizeof(size_t)),
           *retry = malloc((n ? n : 1) * sizeof(size_t));
    int r = -ENOMEM;
    if (!idx || !retry)
        goto out;
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    size_t m = n;
    for (int attempt = 1; m > 0; attempt++) {
        size_t n_retry = 0;
        if ((r = bulk_round(s, limits, w, idx, m, retry, &n_retry, err)) < 0)
            goto out;
        if (n_retry && attempt >= OP_ATTEMPTS) {
            for (size_t k = 0; k < n_retry; k++)
                settle(&w[retry[k]], OUT_RETRY, 503);
            break;
        }
        if (n_retry)
            adc_http_sleep_ms(adc_http_backoff_ms(attempt, -1, 500, 8000, 60));
        memcpy(idx, retry, n_retry * sizeof(size_t));
        m = n_retry;
    }
    r = 0;
out:
    free(idx);
    free(retry);
    return r;
}

void adc_scim_write_done(struct adc_scim_write *w) {
    if (!w)
        return;
    free(w->error);
    w->error = NULL;
}

int adc_scim_run_start(struct adc_scim *s, bool dry_run, const char *source, char **run_id,
                       char **err) {
    json_t *req = json_pack("{s:b, s:s}", "dry_run", dry_run, "source", source);
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!body)
        return -ENOMEM;
    /* Not retried: a repeated POST would leave a second run record behind. */
    struct adc_http_response resp = {.retry_after = -1};
    int r = adc_http_request(s->http, "POST", "/api/v1/agent/runs", body, strlen(body), &resp, err);
    free(body);
    if (r < 0)
        return r;
    json_t *j = NULL;
    if (resp.status < 200 || resp.status > 299) {
        status_err(s, err, "POST", "/api/v1/agent/runs", &resp);
        r = -EIO;
        goto out;
    }
    j = parse(&resp);
    const char *id = json_string_value(json_object_get(j, "run_id"));
    if (!id) {
        set_err(err, "POST %s/api/v1/agent/runs: no run_id in the answer", s->server_url);
        r = -EBADMSG;
        goto out;
    }
    r = (*run_id = strdup(id)) ? 0 : -ENOMEM;
out:
    json_decref(j);
    adc_http_response_done(&resp);
    return r;
}

int adc_scim_run_update(struct adc_scim *s, const char *run_id, const char *status, json_t *stats,
                        json_t *errors, char **err) {
    json_t *req = json_pack("{s:s}", "status", status);
    if (req && stats)
        json_object_set(req, "stats", stats);
    if (req && errors)
        json_object_set(req, "errors", errors);
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    _cleanup_free_ char *rid = adc_http_escape(s->http, run_id);
    _cleanup_free_ char *path = NULL;
    if (!body || !rid || asprintf(&path, "/api/v1/agent/runs/%s", rid) < 0) {
        free(body);
        return -ENOMEM;
    }
    json_t *j = NULL;
    int r = call_json(s, "PUT", path, body, &j, err);
    json_decref(j);
    free(body);
    return r;
}

int adc_scim_find_users(struct adc_scim *s, const char *const *attrs, const char *const *values,
                        size_t n_values, struct adc_cloud_users *out, char **err) {
    _cleanup_free_ char *f = NULL;
    size_t len = 0;
    for (size_t i = 0; i < n_values; i++) {
        _cleanup_free_ char *one = filter_eq(attrs[i], values[i]);
        if (!one)
            return -ENOMEM;
        size_t ol = strlen(one);
        char *nf = realloc(f, len + ol + 5);
        if (!nf)
            return -ENOMEM;
        f = nf;
        if (len) {
            memcpy(f + len, " or ", 4);
            len += 4;
        }
        memcpy(f + len, one, ol + 1);
        len += ol;
    }
    if (!f)
        return 0;
    _cleanup_free_ char *q = adc_http_escape(s->http, f);
    _cleanup_free_ char *path = NULL;
    if (!q || asprintf(&path, "/scim/v2/Users?filter=%s&count=%zu", q, 4 * n_values) < 0) {
        path = NULL;
        return -ENOMEM;
    }
    struct adc_http_response resp = {.retry_after = -1};
    int r = adc_http_request_retry(s->http, "GET", path, NULL, 0, &resp, err);
    if (r < 0)
        return r;
    if (resp.status != 200) {
        status_err(s, err, "GET", path, &resp);
        r = resp.status == 401 || resp.status == 403 ? -EACCES : -EIO;
        goto out;
    }
    size_t total = 0, n = 0;
    char why[160];
    r = adc_scim_list_parse(resp.body ? resp.body : "", resp.len, out, &total, &n, why,
                            sizeof(why));
    if (r == -EBADMSG)
        set_err(err, "GET %s%s: not a SCIM ListResponse of Users: %s", s->server_url, path, why);
out:
    adc_http_response_done(&resp);
    return r;
}
