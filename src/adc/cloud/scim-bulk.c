/* The Bulk pipeline (RFC 7644 section 3.7): writes packed into as few requests as the server's
 * limits allow, the next request built while the previous one is with the server, and the
 * operations of each answer settled one by one (scim-write.c). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloud/scim-internal.h"
#include "cloud/scim-list-parse.h"
#include "common/buf.h"
#include "common/json-util.h"
#include "common/macros.h"
#include "common/wire.h"

/* One Bulk request: the writes w[idx[0..m)], its body, and once sent, the answer. */
struct bulk {
    struct adc_scim *s;
    struct adc_transport *conn; /* while in flight */
    size_t *idx;                /* positions in w; capacity max_operations */
    size_t m;
    bool creates_only; /* no write of it can depend on another request's (see bulk_round) */
    struct adc_buf body;
    struct adc_transport_reply resp;
    int r;
    pthread_t thread;
    bool running;
};

/* Packs writes from idx[*i..n) into b, within maxOperations and maxPayloadSize. A write too
 * large for any request fails on its own. Returns 0 (b->m may be 0 at the end) or -ENOMEM. */
static int bulk_build(const struct adc_scim_limits *lim, struct adc_scim_write *w,
                      const size_t *idx, size_t n, size_t *i, struct bulk *b) {
    static const char head[] =
        "{\"schemas\":[\"" ADC_SCIM_SCHEMA_BULK_REQUEST "\"],\"Operations\":[";
    b->m = 0;
    adc_buf_clear(&b->body);
    b->creates_only = true;
    if (adc_buf_append(&b->body, head, sizeof(head) - 1) < 0)
        return -ENOMEM;
    for (; *i < n && b->m < lim->max_operations; (*i)++) {
        struct adc_scim_write *wr = &w[idx[*i]];
        _cleanup_free_ char *rel = NULL, *t = NULL;
        const char *data = NULL;
        if (adc_scim_describe_write(wr, &rel, &data) < 0)
            return -ENOMEM;
        /* {"method":"POST","path":"/Users","bulkId":"b12","data":{...}}, written directly: the
         * resource is JSON text already. */
        struct adc_buf op = {0};
        char bid[32];
        snprintf(bid, sizeof(bid), "b%zu", idx[*i]);
        adc_buf_puts(&op, "{\"method\":\"");
        adc_buf_puts(&op, adc_scim_method_of(wr->kind));
        adc_buf_puts(&op, "\",\"path\":");
        adc_json_append_string(&op, rel);
        adc_buf_puts(&op, ",\"bulkId\":\"");
        adc_buf_puts(&op, bid);
        adc_buf_puts(&op, data ? "\",\"data\":" : "\"");
        if (data)
            adc_buf_puts(&op, data);
        adc_buf_puts(&op, "}");
        if (!(t = adc_buf_take(&op, NULL)))
            return -ENOMEM;
        size_t tl = strlen(t);
        /* head, a comma before each operation but the first, and "]}" */
        if (sizeof(head) + tl + 3 > lim->max_payload) {
            adc_scim_fail_write(wr, "the user's resource exceeds the server's maxPayloadSize");
            continue;
        }
        if (b->body.len + tl + 3 > lim->max_payload)
            break; /* starts the next request */
        if ((b->m && adc_buf_append(&b->body, ",", 1) < 0) || adc_buf_append(&b->body, t, tl) < 0)
            return -ENOMEM;
        b->idx[b->m++] = idx[*i];
        if (wr->kind != ADC_SCIM_CREATE)
            b->creates_only = false;
    }
    return adc_buf_append(&b->body, "]}", 2);
}

static void *bulk_send(void *p) {
    struct bulk *b = p;
    /* Not the first connection: it stays free for the look-ups that settle conflicts. */
    b->r = adc_transport_request_retry(b->conn, "POST", ADC_WIRE_SCIM_BULK, b->body.data,
                                       b->body.len, 0, &b->resp);
    return NULL;
}

static void bulk_start(struct bulk *b, struct adc_transport *conn) {
    b->conn = conn;
    adc_transport_reply_done(&b->resp);
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
            *err = TAKE_PTR(b->resp.error);
        return b->r;
    }
    if (b->resp.status != 200) {
        adc_transport_status_error(b->conn, "POST", ADC_WIRE_SCIM_BULK, &b->resp, err);
        return adc_transport_status_errno(b->resp.status);
    }
    return 0;
}

static void bulk_done(struct bulk *b) {
    if (b->running)
        pthread_join(b->thread, NULL);
    b->running = false;
    adc_transport_reply_done(&b->resp);
    adc_buf_done(&b->body);
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

static void on_bulk_op(void *ud, size_t pos, const char *bid, long status, const char *detail,
                       const char *location) {
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
    enum adc_scim_outcome o = adc_scim_classify(wr, status, detail);
    if (o == ADC_SCIM_OUT_RETRY) {
        wr->sent_before = true; /* a 500 may come after the write */
        sc->retry[(*sc->n_retry)++] = b->idx[k];
    } else if (o == ADC_SCIM_OUT_CONFLICT) {
        adc_scim_conflict_failed(wr, detail); /* unless created_before finds it ours */
        sc->conflicts[sc->n_conflicts++] = b->idx[k];
    } else {
        adc_scim_settle(wr, o, status);
        if (o == ADC_SCIM_OUT_DONE && wr->kind == ADC_SCIM_CREATE)
            adc_scim_note_new_id(wr, location);
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
    /* A request sent more than once: the answer of an earlier one may have been lost after
     * the server wrote it. */
    for (size_t k = 0; k < b->m && b->resp.attempts > 1; k++)
        w[b->idx[k]].sent_before = true;
    char why[160];
    r = adc_scim_bulk_parse(b->resp.body ? b->resp.body : "", b->resp.len, on_bulk_op, &sc, why,
                            sizeof(why));
    if (r < 0) {
        if (r == -EBADMSG)
            adc_set_error(err, "POST %s" ADC_WIRE_SCIM_BULK ": not a BulkResponse: %s",
                          adc_transport_url(s->http), why);
        goto out;
    }
    adc_scim_created_before(s, w, sc.conflicts, sc.n_conflicts, ours);
    for (size_t c = 0; c < sc.n_conflicts; c++)
        if (ours[c] && adc_scim_settle_ours(&w[sc.conflicts[c]]))
            retry[(*n_retry)++] = sc.conflicts[c]; /* now a replace, in the next round */
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
    struct adc_transport *conn =
        *n_flying && flying[0]->conn == s->prefetch ? s->bulk2 : s->prefetch;
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
                adc_scim_fail_write(&w[idx[k]], err && *err ? *err : "server unreachable");
            goto out;
        }
        flying[0] = flying[1];
        flying[1] = NULL;
        n_flying--;
        if (ready)
            launch(s, flying, &n_flying, &ready);
        if ((r = bulk_settle(s, w, answered, retry, n_retry, err)) < 0) {
            for (size_t k = 0; k < n; k++)
                adc_scim_fail_write(&w[idx[k]], err && *err ? *err : "bad answer");
            goto out;
        }
    }
    r = 0;
out:
    for (int k = 0; k < 3; k++)
        bulk_done(&slots[k]);
    return r;
}

int adc_scim_write_bulk(struct adc_scim *s, const struct adc_scim_limits *limits,
                        struct adc_scim_write *w, size_t n, char **err) {
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
        if (n_retry && attempt >= ADC_SCIM_OP_ATTEMPTS) {
            for (size_t k = 0; k < n_retry; k++)
                adc_scim_settle(&w[retry[k]], ADC_SCIM_OUT_RETRY, 503);
            break;
        }
        if (n_retry)
            adc_transport_sleep_ms(adc_transport_backoff_ms(attempt, -1, 500, 8000, 60));
        memcpy(idx, retry, n_retry * sizeof(size_t));
        m = n_retry;
    }
    r = 0;
out:
    free(idx);
    free(retry);
    return r;
}
