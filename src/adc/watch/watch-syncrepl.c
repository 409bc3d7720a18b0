/* RFC 4533 content synchronization, refreshAndPersist, as a consumer that only needs to know
 * *which* entries changed: it asks for the identity attributes only, so the refresh phase of a
 * first start (every entry) costs DNs and UUIDs, and the sink reads each changed entry itself
 * (delta.c) with the attributes the mapping needs.
 *
 * Why not libldap's ldap_sync_* API: in libldap 2.5 ldap_sync_poll() receives with
 * LDAP_MSG_RECEIVED and then hands the *first* message of the chain to the handler for every
 * message in it, so when several changes arrive together all but the first are lost; it also
 * updates its cookie before the handler ran, which is the wrong order for "save the position only
 * after the cloud accepted the change". This file takes one message at a time (LDAP_MSG_ONE)
 * and reports the cookie after the change it follows.
 *
 * Positions: the cookie, hex-encoded. Phases (RFC 4533 section 3.4):
 *   - no cookie: the refresh phase lists every entry; they are the baseline a full sync
 *     handles, so they are not reported one by one;
 *   - a cookie: the refresh lists what changed since (reported), and deletes either as
 *     syncIdSet with refreshDeletes (reported) or by absence in a "present" phase, which this
 *     consumer cannot see: then the sink runs a full sync (baseline) when the refresh ends;
 *   - persist: each change as it happens, with its cookie;
 *   - e-syncRefreshRequired: the cookie is too old for the server: ADC_WATCH_REFUSED; so is
 *     unwillingToPerform to a cookie, slapd's answer to one newer than its own state (a
 *     directory restored from a backup). */
#include <errno.h>
#include <ldap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/macros.h"
#include "directory/ldap-conn.h"
#include "watch/watch.h"

/* How long one wait for a message lasts: keep_going is asked this often. */
#define WAIT_MS 500
/* A cookie is a few dozen bytes (OpenLDAP: "rid=000,csn=..."); bound what we keep. */
#define COOKIE_MAX 4096

/* syncUUID -> the identity adc uses (externalId). A delete arrives with the syncUUID only
 * (RFC 4533 section 3.3.2); on OpenLDAP that is the entryUUID, but 389-ds' Content
 * Synchronization derives it from nsUniqueId while adc may use entryUUID (389-ds 2.x) or a
 * configured id_attribute. So every entry message carries the identity attributes, and their
 * pairing is kept for the session: 100,000 users take a few MB. A delete of an entry this
 * session never saw (deleted while adc was down) falls back to the two forms of the UUID
 * (delta.h); one that matches neither is left to the next full sync. */
struct id_slot {
    unsigned char uuid[16];
    char *id; /* NULL: empty */
};

struct id_map {
    struct id_slot *v;
    size_t cap, n; /* cap: a power of two */
};

static size_t uuid_hash(const unsigned char *u) {
    size_t h = 1469598103934665603ULL;
    for (int i = 0; i < 16; i++)
        h = (h ^ u[i]) * 1099511628211ULL;
    return h;
}

static struct id_slot *id_find(struct id_map *m, const unsigned char *u) {
    size_t i = uuid_hash(u) & (m->cap - 1);
    while (m->v[i].id && memcmp(m->v[i].uuid, u, 16) != 0)
        i = (i + 1) & (m->cap - 1);
    return &m->v[i];
}

static const char *id_get(struct id_map *m, const unsigned char *u) {
    return m->cap ? id_find(m, u)->id : NULL;
}

static int id_put(struct id_map *m, const unsigned char *u, const char *id, size_t len) {
    /* A rehash into a new zeroed table, not an array's growth: adc_grow's realloc would keep
     * the slots where the old size put them. */
    if ((m->n + 1) * 10 > m->cap * 7) {
        struct id_map bigger = {.cap = m->cap ? m->cap * 2 : 1024};
        if (!(bigger.v = calloc(bigger.cap, sizeof(*bigger.v))))
            return -ENOMEM;
        for (size_t i = 0; i < m->cap; i++)
            if (m->v[i].id)
                *id_find(&bigger, m->v[i].uuid) = m->v[i];
        bigger.n = m->n;
        free(m->v);
        *m = bigger;
    }
    struct id_slot *s = id_find(m, u);
    char *copy = strndup(id, len);
    if (!copy)
        return -ENOMEM;
    if (!s->id)
        m->n++;
    free(s->id);
    memcpy(s->uuid, u, 16);
    s->id = copy;
    return 0;
}

static void id_map_done(struct id_map *m) {
    for (size_t i = 0; i < m->cap; i++)
        free(m->v[i].id);
    free(m->v);
}

struct session {
    LDAP *ld;
    const struct adc_ldap_config *cfg;
    struct id_map ids;
    const struct adc_watch_sink *sink;
    bool had_cookie;
    bool refreshing;
    bool present_seen; /* deletes during the downtime are implied, not listed */
    char *pending;     /* newest cookie (hex) not yet reported */
    char **err;
};

static void note_cookie(struct session *s, const struct berval *c) {
    char *h = adc_watch_hex_encode(c, COOKIE_MAX);
    if (h) {
        free(s->pending);
        s->pending = h;
    }
}

/* Reports the pending cookie once every change before it was handled. */
static int flush_position(struct session *s) {
    if (!s->pending)
        return 0;
    int r = s->sink->position(s->sink->userdata, s->pending);
    free(s->pending);
    s->pending = NULL;
    return r;
}

static int end_refresh(struct session *s) {
    s->refreshing = false;
    if (!s->had_cookie || s->present_seen) {
        log_info("live changes: the refresh ended; %s", !s->had_cookie
                                                            ? "a full sync sets the baseline"
                                                            : "deletes made meanwhile cannot be "
                                                              "listed, a full sync finds them");
        int r = s->sink->baseline(s->sink->userdata, s->pending);
        free(s->pending);
        s->pending = NULL;
        return r;
    }
    return flush_position(s);
}

/* The identity attributes adc uses, in its order of preference (user-map.c). */
static const char *const ID_ATTRS[] = {"entryUUID", "objectGUID", "nsUniqueId"};

/* Pairs the entry's syncUUID with its identity (the first identity attribute it has). */
static int remember_id(struct session *s, LDAPMessage *msg, const struct berval *uuid) {
    const char *one[1] = {s->cfg->id_attribute};
    const char *const *attrs = s->cfg->id_attribute ? one : ID_ATTRS;
    size_t n = s->cfg->id_attribute ? 1 : ADC_ARRAY_SIZE(ID_ATTRS);
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        if (strcmp(attrs[i], "objectGUID") == 0)
            continue; /* Active Directory: no content synchronization */
        struct berval **vals = ldap_get_values_len(s->ld, msg, attrs[i]);
        if (vals && vals[0] && vals[0]->bv_len > 0 && vals[0]->bv_len < 1024) {
            r = id_put(&s->ids, (const unsigned char *)uuid->bv_val, vals[0]->bv_val,
                       vals[0]->bv_len);
            ldap_value_free_len(vals);
            return r;
        }
        ldap_value_free_len(vals);
    }
    return r;
}

static int on_entry(struct session *s, LDAPMessage *msg) {
    LDAPControl **ctrls = NULL;
    BerElement *ber = NULL;
    char *dn = NULL;
    int r = 0;
    if (ldap_get_entry_controls(s->ld, msg, &ctrls) != LDAP_SUCCESS || !ctrls)
        return 0; /* not a sync entry: nothing we can use */
    LDAPControl *c = ldap_control_find(LDAP_CONTROL_SYNC_STATE, ctrls, NULL);
    ber_int_t state = -1;
    struct berval uuid = {0}, cookie = {0};
    if (!c || !(ber = ber_init(&c->ldctl_value)) ||
        ber_scanf(ber, "{em", &state, &uuid) == LBER_ERROR || uuid.bv_len != 16) {
        log_warning("live changes: a malformed sync state control; ignored");
        goto out;
    }
    ber_len_t len;
    if (ber_peek_tag(ber, &len) == LDAP_TAG_SYNC_COOKIE &&
        ber_scanf(ber, "m", &cookie) != LBER_ERROR)
        note_cookie(s, &cookie);
    if (state != LDAP_SYNC_DELETE && (r = remember_id(s, msg, &uuid)) < 0)
        goto out;
    if (s->refreshing && !s->had_cookie)
        goto out; /* the baseline: a full sync follows the refresh */
    switch (state) {
    case LDAP_SYNC_PRESENT: s->present_seen = true; break;
    case LDAP_SYNC_DELETE:
        r = s->sink->delete_uuid(s->sink->userdata, (const unsigned char *)uuid.bv_val,
                                 id_get(&s->ids, (const unsigned char *)uuid.bv_val));
        break;
    case LDAP_SYNC_ADD:
    case LDAP_SYNC_MODIFY:
        dn = ldap_get_dn(s->ld, msg);
        if (dn)
            r = s->sink->entry(s->sink->userdata, dn, true);
        break;
    default: log_warning("live changes: unknown sync state %d; ignored", (int)state); break;
    }
    if (r == 0 && !s->refreshing)
        r = flush_position(s);
out:
    ldap_memfree(dn);
    if (ber)
        ber_free(ber, 1);
    ldap_controls_free(ctrls);
    return r;
}

static int on_intermediate(struct session *s, LDAPMessage *msg) {
    char *oid = NULL;
    struct berval *data = NULL;
    BerElement *ber = NULL;
    BerVarray uuids = NULL;
    int r = 0;
    if (ldap_parse_intermediate(s->ld, msg, &oid, &data, NULL, 0) != LDAP_SUCCESS || !oid ||
        strcmp(oid, LDAP_SYNC_INFO) != 0 || !data || !(ber = ber_init(data)))
        goto out;
    ber_len_t len;
    struct berval cookie = {0};
    ber_tag_t tag = ber_peek_tag(ber, &len);
    switch (tag) {
    case LDAP_TAG_SYNC_NEW_COOKIE:
        if (ber_scanf(ber, "m", &cookie) != LBER_ERROR)
            note_cookie(s, &cookie);
        if (!s->refreshing)
            r = flush_position(s);
        break;
    case LDAP_TAG_SYNC_REFRESH_DELETE:
    case LDAP_TAG_SYNC_REFRESH_PRESENT: {
        if (tag == LDAP_TAG_SYNC_REFRESH_PRESENT && s->had_cookie)
            s->present_seen = true;
        ber_int_t done = 1; /* refreshDone DEFAULT TRUE */
        if (ber_scanf(ber, "{") == LBER_ERROR)
            break;
        if (ber_peek_tag(ber, &len) == LDAP_TAG_SYNC_COOKIE &&
            ber_scanf(ber, "m", &cookie) != LBER_ERROR)
            note_cookie(s, &cookie);
        if (ber_peek_tag(ber, &len) == LDAP_TAG_REFRESHDONE)
            ber_scanf(ber, "b", &done);
        if (done && s->refreshing)
            r = end_refresh(s);
        break;
    }
    case LDAP_TAG_SYNC_ID_SET: {
        ber_int_t deletes = 0; /* refreshDeletes DEFAULT FALSE */
        if (ber_scanf(ber, "{") == LBER_ERROR)
            break;
        if (ber_peek_tag(ber, &len) == LDAP_TAG_SYNC_COOKIE &&
            ber_scanf(ber, "m", &cookie) != LBER_ERROR)
            note_cookie(s, &cookie);
        if (ber_peek_tag(ber, &len) == LDAP_TAG_REFRESHDELETES)
            ber_scanf(ber, "b", &deletes);
        if (ber_scanf(ber, "[W]}", &uuids) == LBER_ERROR)
            break;
        if (!deletes) {
            if (s->had_cookie)
                s->present_seen = true;
            break;
        }
        if (s->refreshing && !s->had_cookie)
            break;
        for (size_t i = 0; uuids && uuids[i].bv_val && r == 0; i++)
            if (uuids[i].bv_len == 16)
                r = s->sink->delete_uuid(s->sink->userdata, (const unsigned char *)uuids[i].bv_val,
                                         id_get(&s->ids, (const unsigned char *)uuids[i].bv_val));
        if (r == 0 && !s->refreshing)
            r = flush_position(s);
        break;
    }
    default: break;
    }
out:
    ber_bvarray_free(uuids);
    if (ber)
        ber_free(ber, 1);
    ldap_memfree(oid);
    ber_bvfree(data);
    return r;
}

static int on_result(struct session *s, LDAPMessage *msg) {
    int code = LDAP_OTHER;
    char *diag = NULL;
    ldap_parse_result(s->ld, msg, &code, NULL, &diag, NULL, NULL, 0);
    int r;
    if (code == LDAP_SYNC_REFRESH_REQUIRED) {
        r = ADC_WATCH_REFUSED;
    } else if (code == LDAP_UNWILLING_TO_PERFORM && s->had_cookie && s->refreshing) {
        /* slapd's "consumer state is newer than provider!": the directory was restored from a
         * backup older than the cookie. Retrying the cookie would never succeed. */
        *s->err = adc_strdup_printf("the directory refused the cookie: %s",
                                    diag && *diag ? diag : "unwilling to perform");
        r = ADC_WATCH_REFUSED;
    } else {
        char *why = adc_ldap_conn_strerror(s->ld, code);
        *s->err =
            adc_strdup_printf("the content synchronization search ended: %s", why ? why : "error");
        free(why);
        r = ADC_WATCH_RETRY;
    }
    ldap_memfree(diag);
    return r;
}

int adc_watch_syncrepl_run(const struct adc_ldap_config *cfg, const char *position,
                           const struct adc_watch_sink *sink, char **err) {
    /* Only the identity: the sink reads a changed entry itself, with what the mapping needs. */
    char *attrs[] = {"entryUUID", "nsUniqueId", NULL};
    if (cfg->id_attribute) {
        attrs[0] = cfg->id_attribute;
        attrs[1] = NULL;
    }
    struct berval cookie = {0};
    struct session s = {.sink = sink, .cfg = cfg, .refreshing = true, .err = err};
    BerElement *ber = NULL;
    int r, msgid;

    if (position && adc_watch_hex_decode(position, COOKIE_MAX, &cookie) < 0) {
        *err = strdup("the saved position is not a cookie");
        return ADC_WATCH_REFUSED;
    }
    s.had_cookie = cookie.bv_val != NULL;
    int timeout = cfg->timeout > 0 ? cfg->timeout : 30;
    char desc[64];
    snprintf(desc, sizeof(desc), "%d s (backend.ldap.timeout)", timeout);
    double deadline =
        adc_ldap_now() + timeout + (cfg->network_timeout > 0 ? cfg->network_timeout : 10);
    r = adc_ldap_conn_open_service(cfg, deadline, timeout, desc, &s.ld, err);
    if (r < 0) {
        r = ADC_WATCH_RETRY;
        goto out;
    }
    LDAPControl ctrl = {.ldctl_oid = LDAP_CONTROL_SYNC, .ldctl_iscritical = 1};
    LDAPControl *ctrls[] = {&ctrl, NULL};
    /* syncRequestValue ::= SEQUENCE { mode ENUMERATED, cookie OCTET STRING OPTIONAL,
     * reloadHint BOOLEAN DEFAULT FALSE } (DER: the default is left out). */
    if (!(ber = ber_alloc_t(LBER_USE_DER)) ||
        ber_printf(ber, "{e", (ber_int_t)LDAP_SYNC_REFRESH_AND_PERSIST) < 0 ||
        (cookie.bv_val && ber_printf(ber, "O", &cookie) < 0) || ber_printf(ber, "}") < 0 ||
        ber_flatten2(ber, &ctrl.ldctl_value, 0) < 0) {
        r = -ENOMEM;
        goto out;
    }
    int scope = cfg->scope == ADC_SCOPE_BASE  ? LDAP_SCOPE_BASE
                : cfg->scope == ADC_SCOPE_ONE ? LDAP_SCOPE_ONELEVEL
                                              : LDAP_SCOPE_SUBTREE;
    const char *filter = cfg->filter ? cfg->filter : "(objectClass=inetOrgPerson)";
    /* With backend.ldap.groups, the group entries too (docs/product.md section 10): a member
     * added or removed is a modify of the group entry. */
    char *both =
        cfg->groups_filter ? adc_strdup_printf("(|%s%s)", filter, cfg->groups_filter) : NULL;
    if (both)
        filter = both;
    int rc = ldap_search_ext(s.ld, cfg->base_dn ? cfg->base_dn : "", scope, filter, attrs, 0, ctrls,
                             NULL, NULL, 0, &msgid);
    free(both);
    if (rc != LDAP_SUCCESS) {
        char *why = adc_ldap_conn_strerror(s.ld, rc);
        *err = adc_strdup_printf("cannot start the content synchronization search: %s",
                                 why ? why : "error");
        free(why);
        r = ADC_WATCH_RETRY;
        goto out;
    }
    log_info("live changes: content synchronization started%s",
             s.had_cookie ? " from the saved position" : "");
    for (r = 0; r == 0;) {
        if (!sink->keep_going(sink->userdata))
            break;
        LDAPMessage *msg = NULL;
        struct timeval tv = {0, WAIT_MS * 1000};
        rc = ldap_result(s.ld, msgid, LDAP_MSG_ONE, &tv, &msg);
        if (rc == 0)
            continue;
        if (rc < 0) {
            char *why = adc_ldap_conn_strerror(s.ld, adc_ldap_conn_last_error(s.ld));
            *err = adc_strdup_printf("the directory connection was lost: %s", why ? why : "error");
            free(why);
            r = ADC_WATCH_RETRY;
            break;
        }
        switch (ldap_msgtype(msg)) {
        case LDAP_RES_SEARCH_ENTRY: r = on_entry(&s, msg); break;
        case LDAP_RES_INTERMEDIATE: r = on_intermediate(&s, msg); break;
        case LDAP_RES_SEARCH_RESULT: r = on_result(&s, msg); break;
        default: break; /* search references: not followed */
        }
        ldap_msgfree(msg);
    }
out:
    if (ber)
        ber_free(ber, 1);
    free(s.pending);
    id_map_done(&s.ids);
    free(cookie.bv_val); /* adc_watch_hex_decode's */
    adc_ldap_conn_close(s.ld);
    return r;
}
