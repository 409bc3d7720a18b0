/* The paged listing of the cloud users (RFC 7644 section 3.4.2.4), with the next page fetched
 * on a second connection while the current one is parsed. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloud/scim-internal.h"
#include "cloud/scim-list-parse.h"
#include "common/buf.h"
#include "common/macros.h"
#include "common/wire.h"

/* Page size of the listing; the server may answer fewer (its filter.maxResults). 2,000 keeps
 * the round trips few (the server continues from a cursor, so pages cost the same) and the
 * parsed page small next to the users kept. */
#define LIST_PAGE 2000

/* One page of the listing, fetched on a thread of its own. */
struct page {
    struct adc_scim *s;
    struct adc_transport *h;
    size_t start;
    struct adc_transport_reply resp;
    int r;
    pthread_t thread;
    bool running;
};

static void *fetch_page(void *p) {
    struct page *pg = p;
    char path[96];
    /* Without meta (created, lastModified, location, version), which the plan does not read:
     * a quarter of each user's text, for adc-server to write and for adc to scan. */
    snprintf(path, sizeof(path),
             ADC_WIRE_SCIM_USERS "?startIndex=%zu&count=%d&excludedAttributes=meta", pg->start,
             LIST_PAGE);
    pg->r = adc_transport_request_retry(pg->h, "GET", path, NULL, 0, 0, &pg->resp);
    return NULL;
}

static void page_start(struct page *pg, struct adc_scim *s, struct adc_transport *h, size_t start) {
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
    adc_transport_reply_done(&pg->resp);
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
    struct adc_transport *conns[2] = {s->http, s->prefetch};
    int which = 0, r;

    page_start(cur, s, conns[which], start);
    for (bool first = true;; first = false) {
        page_wait(cur);
        if ((r = cur->r) < 0) {
            if (err)
                *err = TAKE_PTR(cur->resp.error);
            goto out;
        }
        char path[96];
        snprintf(path, sizeof(path), ADC_WIRE_SCIM_USERS "?startIndex=%zu", start);
        if (cur->resp.status != 200) {
            adc_transport_status_error(s->http, "GET", path, &cur->resp, err);
            r = adc_transport_status_errno(cur->resp.status);
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
                adc_set_error(err, "GET %s%s: not a SCIM ListResponse of Users: %s",
                              adc_transport_url(s->http), path, why);
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

int adc_scim_find_users(struct adc_scim *s, const char *const *attrs, const char *const *values,
                        size_t n_values, struct adc_cloud_users *out, char **err) {
    _cleanup_free_ char *f = NULL;
    size_t len = 0;
    for (size_t i = 0; i < n_values; i++) {
        _cleanup_free_ char *one = adc_scim_filter_eq(attrs[i], values[i]);
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
    _cleanup_free_ char *q = adc_transport_escape(f);
    _cleanup_free_ char *path = NULL;
    if (!q || asprintf(&path, ADC_WIRE_SCIM_USERS "?filter=%s&count=%zu", q, 4 * n_values) < 0) {
        path = NULL;
        return -ENOMEM;
    }
    struct adc_transport_reply resp = {.retry_after = -1};
    int r = adc_transport_request_retry(s->http, "GET", path, NULL, 0, 0, &resp);
    if (r < 0) {
        if (err)
            *err = TAKE_PTR(resp.error);
        goto out;
    }
    if (resp.status != 200) {
        adc_transport_status_error(s->http, "GET", path, &resp, err);
        r = adc_transport_status_errno(resp.status);
        goto out;
    }
    size_t total = 0, n = 0;
    char why[160];
    r = adc_scim_list_parse(resp.body ? resp.body : "", resp.len, out, &total, &n, why,
                            sizeof(why));
    if (r == -EBADMSG)
        adc_set_error(err, "GET %s%s: not a SCIM ListResponse of Users: %s",
                      adc_transport_url(s->http), path, why);
out:
    adc_transport_reply_done(&resp);
    return r;
}
