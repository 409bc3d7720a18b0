/* SCIM writes made safe to repeat, so that a lost answer never turns into a wrong state: a PUT
 * of the whole resource and a PATCH of active=false give the same result twice; a DELETE
 * answered 404 was done before; a create answered 409 (uniqueness) is looked up by its
 * externalId, and when that user is ours the create happened before its answer was lost.
 * The outcome of each write is settled here, whether it went alone or in a Bulk request
 * (scim-bulk.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloud/scim-internal.h"
#include "cloud/scim-user.h"
#include "common/buf.h"
#include "common/macros.h"
#include "common/wire.h"

char *adc_scim_filter_eq(const char *attr, const char *value) {
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
 * Those happened before: either this run's earlier attempt wrote them and its answer was lost,
 * or they were there before this run and its listing missed them (adc_scim_settle_ours).
 * Asks for many at once ("externalId eq .. or externalId eq .."), so that a repeated Bulk
 * request of 1,000 creates costs a few look-ups, not 1,000. Sets ours[k] for w[pos[k]]. */
void adc_scim_created_before(struct adc_scim *s, struct adc_scim_write *w, const size_t *pos,
                             size_t n, bool *ours) {
    size_t first = 0;
    while (first < n) {
        struct adc_buf f;
        adc_buf_init(&f, 0);
        size_t last = first;
        for (; last < n; last++) {
            const char *ext = w[pos[last]].external_id;
            if (!ext)
                continue; /* no identity: cannot be recognized */
            _cleanup_free_ char *one = adc_scim_filter_eq("externalId", ext);
            if (!one)
                break;
            size_t ol = strlen(one);
            if (f.len && f.len + ol + 4 > CONFLICT_FILTER_MAX)
                break;
            if (f.len)
                adc_buf_puts(&f, " or ");
            adc_buf_append(&f, one, ol);
        }
        if (f.failed || !f.len) {
            adc_buf_done(&f);
            return;
        }
        _cleanup_free_ char *q = adc_transport_escape(f.data);
        adc_buf_done(&f);
        _cleanup_free_ char *path = NULL;
        _cleanup_free_ char *e = NULL;
        json_t *j = NULL;
        if (!q ||
            asprintf(&path, ADC_WIRE_SCIM_USERS "?filter=%s&count=%zu", q, last - first) < 0) {
            path = NULL;
            return;
        }
        if (adc_scim_call_json(s, s->http, "GET", path, NULL, &j, &e) < 0)
            return; /* unknown: those stay failed; the next run sees them in its listing */
        size_t i;
        const json_t *item;
        json_array_foreach(json_object_get(j, "Resources"), i, item) {
            const char *ext = json_string_value(json_object_get(item, "externalId"));
            const json_t *x = json_object_get(item, ADC_SCIM_SCHEMA_PROVIDER);
            if (!ext || !adc_streq(json_string_value(json_object_get(x, "provider")),
                                   adc_transport_app_id(s->http)))
                continue;
            const char *id = json_string_value(json_object_get(item, "id"));
            for (size_t k = first; k < last; k++)
                if (adc_streq(w[pos[k]].external_id, ext)) {
                    ours[k] = true;
                    free(w[pos[k]].found_id);
                    w[pos[k]].found_id = id ? strdup(id) : NULL;
                }
        }
        json_decref(j);
        first = last;
    }
}

bool adc_scim_settle_ours(struct adc_scim_write *w) {
    free(w->error);
    w->error = NULL;
    if (w->sent_before || !w->found_id) {
        /* Created by an earlier attempt of this run whose answer was lost: created, once. (No
         * id in the answer: nothing to replace; done as before.) */
        w->done = true;
        return false;
    }
    /* There before this run: not created now. Its attributes may be older than the
     * directory's, so the create becomes what the plan would have made of it had it seen the
     * user: a replace of the whole resource (idempotent, as any PUT). */
    w->kind = ADC_SCIM_REPLACE;
    w->id = w->found_id;
    w->existed = true;
    return true;
}

const char *adc_scim_method_of(enum adc_scim_write_kind k) {
    switch (k) {
    case ADC_SCIM_CREATE: return "POST";
    case ADC_SCIM_REPLACE: return "PUT";
    case ADC_SCIM_DISABLE: return "PATCH";
    case ADC_SCIM_DELETE: return "DELETE";
    }
    return "?";
}

/* active=false as a PatchOp (RFC 7644 section 3.5.2): the same result however often sent. */
static const char DISABLE_BODY[] =
    "{\"schemas\":[\"" ADC_SCIM_SCHEMA_PATCH "\"],\"Operations\":[{\"op\":"
    "\"replace\",\"path\":\"active\",\"value\":false}]}";

/* The path (relative to /scim/v2) and the body (lent; NULL for a delete) of one write. The
 * SCIM id in the path comes from the server; escaped like any JSON string where it goes into
 * one. */
int adc_scim_describe_write(const struct adc_scim_write *w, char **path, const char **body) {
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

enum adc_scim_outcome adc_scim_classify(struct adc_scim_write *w, long status, const char *detail) {
    if (status >= 200 && status <= 299)
        return ADC_SCIM_OUT_DONE;
    if (w->kind == ADC_SCIM_DELETE && status == 404)
        return ADC_SCIM_OUT_DONE; /* gone already: a retried delete, or deleted by someone else */
    if (w->kind == ADC_SCIM_CREATE && status == 409)
        return ADC_SCIM_OUT_CONFLICT;
    if (adc_transport_should_retry(0, status))
        return ADC_SCIM_OUT_RETRY;
    free(w->error);
    if (asprintf(&w->error, "HTTP %ld%s%.*s", status, detail ? ": " : "",
                 detail ? adc_transport_detail_len(detail) : 0, detail ? detail : "") < 0)
        w->error = NULL;
    return ADC_SCIM_OUT_FAILED;
}

void adc_scim_note_new_id(struct adc_scim_write *w, const char *location) {
    const char *slash = location ? strrchr(location, '/') : NULL;
    const char *id = slash ? slash + 1 : location;
    if (!id || !*id || strlen(id) > ADC_SCIM_NEW_ID_MAX)
        return; /* no id: the caller looks the user up if it needs it */
    free(w->new_id);
    w->new_id = strdup(id);
}

void adc_scim_fail_write(struct adc_scim_write *w, const char *why) {
    if (w->done || w->error)
        return;
    w->error = strdup(why ? why : "not written");
}

void adc_scim_conflict_failed(struct adc_scim_write *w, const char *detail) {
    free(w->error);
    if (!detail)
        detail = "userName already exists in the cloud";
    if (asprintf(&w->error, "HTTP 409: %.*s", adc_transport_detail_len(detail), detail) < 0)
        w->error = NULL;
}

/* Settles a write by its outcome; a conflict is settled by the caller (created_before). */
void adc_scim_settle(struct adc_scim_write *w, enum adc_scim_outcome o, long status) {
    switch (o) {
    case ADC_SCIM_OUT_DONE: w->done = true; break;
    case ADC_SCIM_OUT_FAILED:
    case ADC_SCIM_OUT_CONFLICT: break;
    case ADC_SCIM_OUT_RETRY:
        free(w->error);
        if (asprintf(&w->error, "HTTP %ld, still after %d attempts", status, ADC_SCIM_OP_ATTEMPTS) <
            0)
            w->error = NULL;
        break;
    }
}

static int adc_scim_write_one_by_one(struct adc_scim *s, struct adc_scim_write *w, size_t n,
                                     char **err) {
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *rel = NULL, *path = NULL;
        const char *body = NULL;
        if (adc_scim_describe_write(&w[i], &rel, &body) < 0 ||
            asprintf(&path, "/scim/v2%s", rel) < 0) {
            path = NULL;
            adc_scim_fail_write(&w[i], "out of memory");
            continue;
        }
        struct adc_transport_reply resp;
        int r = adc_transport_request_retry(s->http, adc_scim_method_of(w[i].kind), path, body,
                                            body ? strlen(body) : 0, 0, &resp);
        if (r < 0) {
            if (err)
                *err = TAKE_PTR(resp.error);
            adc_transport_reply_done(&resp);
            for (size_t k = i; k < n; k++)
                adc_scim_fail_write(&w[k], err && *err ? *err : "server unreachable");
            return r;
        }
        if (resp.status == 401) {
            adc_transport_status_error(s->http, adc_scim_method_of(w[i].kind), path, &resp, err);
            adc_transport_reply_done(&resp);
            for (size_t k = i; k < n; k++)
                adc_scim_fail_write(&w[k], err && *err ? *err : "credentials refused");
            return -EACCES;
        }
        json_t *j = adc_transport_reply_json(&resp);
        const char *detail = j ? adc_scim_error_detail(j) : NULL;
        enum adc_scim_outcome o = adc_scim_classify(&w[i], resp.status, detail);
        adc_scim_settle(&w[i], o, resp.status);
        if (o == ADC_SCIM_OUT_DONE && w[i].kind == ADC_SCIM_CREATE)
            adc_scim_note_new_id(&w[i], json_string_value(json_object_get(j, "id")));
        bool again = false;
        if (resp.attempts > 1)
            w[i].sent_before = true; /* an earlier attempt may have been written */
        if (o == ADC_SCIM_OUT_CONFLICT) {
            bool ours = false;
            adc_scim_created_before(s, w, &i, 1, &ours);
            if (ours)
                again = adc_scim_settle_ours(&w[i]);
            else
                adc_scim_conflict_failed(&w[i], detail);
        }
        json_decref(j);
        adc_transport_reply_done(&resp);
        if (again)
            i--; /* the same write, now a replace (never a conflict again) */
    }
    return 0;
}

int adc_scim_write(struct adc_scim *s, const struct adc_scim_limits *limits,
                   struct adc_scim_write *w, size_t n, char **err) {
    if (limits->bulk)
        return adc_scim_write_bulk(s, limits, w, n, err);
    return adc_scim_write_one_by_one(s, w, n, err);
}

void adc_scim_write_done(struct adc_scim_write *w) {
    if (!w)
        return;
    free(w->error);
    w->error = NULL;
    free(w->found_id);
    w->found_id = NULL;
    free(w->new_id);
    w->new_id = NULL;
}
