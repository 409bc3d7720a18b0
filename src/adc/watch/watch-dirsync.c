/* Active Directory (and Samba AD DC) live changes (docs/product.md section 9), three ways that
 * share one loop:
 *
 *   dirsync  the DirSync control (1.2.840.113556.1.4.841) with LDAP_DIRSYNC_OBJECT_SECURITY:
 *            no replication right is needed, the directory returns what the account may read.
 *            Position: the DirSync cookie (hex). Woken by change notifications when offered.
 *   usn      a search for uSNChanged above the last one seen, on one domain controller (USNs
 *            are per DC). Position: "<usn> <invocationId hex> <dsServiceName>".
 *   notify   usn, woken by the change-notification control (1.2.840.113556.1.4.528) instead of
 *            waiting for the next poll.
 *
 * Change notifications only say "something changed": the content always comes from DirSync or
 * the uSNChanged search, which read from a position. So a notification lost in a reconnect costs
 * nothing: after (re)connecting the watcher registers the notification first and reads from the
 * position second. Windows allows 5 notification searches per connection; this uses one.
 * Without notifications (not offered, or refused) it reads every min(poll_interval, 5 s);
 * with them, also every poll_interval as a safety net.
 *
 * Both DirSync and a notification search must start at the root of a naming context (AD refuses
 * anything else), so the watcher reads from the naming context that holds base_dn and keeps
 * to base_dn and scope itself: an entry seen outside them moved out, which is a delete of its
 * identity, as a tombstone is. A changed entry is reported by DN; the sink reads all of it
 * (DirSync returns only the changed attributes).
 *
 * Deletes: AD moves a deleted object to CN=Deleted Objects as a tombstone (isDeleted TRUE,
 * objectGUID and objectClass kept). Both DirSync and the show-deleted control
 * (1.2.840.113556.1.4.417) return tombstones only to accounts that may list and read that
 * container (by default administrators; `dsacls "CN=Deleted Objects,DC=..." /G DOM\svc:LCRP`
 * grants it); without that right a delete is not seen live and the next full sync finds it.
 *
 * A restored DC (or another DC behind the same name) has another invocationId: the position then
 * says nothing about it (its USNs went back; a DirSync cookie names the invocationId it was made
 * with), so it is refused (ADC_WATCH_REFUSED) and the caller runs a full sync. Samba answers a
 * cookie of another invocationId as if it were its own, which is why adc compares them itself. */
#include <errno.h>
#include <ldap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/macros.h"
#include "directory/ldap-conn.h"
#include "directory/user-map.h"
#include "watch/watch.h"

#define OID_DIRSYNC "1.2.840.113556.1.4.841"
#define OID_NOTIFY "1.2.840.113556.1.4.528"
#define OID_SHOW_DELETED "1.2.840.113556.1.4.417"
#define DIRSYNC_OBJECT_SECURITY 0x1
/* Multi-valued attributes as the values added ("member;range=1-1") and removed
 * ("member;range=0-0") rather than all of them: a membership change of a large group costs its
 * changed members only. */
#define DIRSYNC_INCREMENTAL_VALUES 0x80000000u
/* Attributes DirSync returns with every object, which say nothing changed in it. */
static const char *const ALWAYS[] = {"objectGUID", "instanceType", "parentGUID"};
/* Every user (and group, with backend.ldap.groups); tombstones keep objectClass (not
 * objectCategory), so deletes match too. Which of them the sync and group filters take is the
 * sink's to judge (it reads the entry): a change that made an entry leave them still shows. */
#define USER_FILTER "(objectClass=user)"
#define USER_GROUP_FILTER "(|(objectClass=user)(objectClass=group))"
/* How long one wait for a notification lasts: keep_going is asked this often. */
#define WAIT_MS 500
/* Without notifications, read at least this often (a read that finds nothing is cheap). */
#define QUIET_READ_S 5
/* A cookie holds the up-to-dateness vector: 24 bytes per DC. */
#define COOKIE_MAX 65536
/* The cookie's invocationId ([MS-ADTS] 3.1.1.3.4.1.3): "MSDS", version, time, two reserved
 * words, the vector's length, the high-water mark (3 x 8 bytes), then the GUID. */
#define COOKIE_INVOCATION_AT 52
/* More changes than this in one uSNChanged read (AD's MaxPageSize is 1000) go to a full sync. */
#define USN_MAX 1000

struct ad {
    const struct adc_ldap_config *cfg;
    const struct adc_watch_sink *sink;
    enum adc_watch kind;
    LDAP *ld;
    char *nc;   /* the naming context that holds base_dn */
    char *base; /* base_dn, normalized */
    char *dsa;  /* dsServiceName: which DC */
    unsigned char invocation[16];
    bool notify_offered;
    int notify_id; /* the notification search, or -1 */
    /* Position: */
    struct berval cookie; /* dirsync */
    unsigned long long usn;
    char **err;
};

static const char *kind_name(const struct ad *a) { return adc_watch_name(a->kind); }

static const char *objects(const struct ad *a) {
    return a->cfg->groups_filter ? USER_GROUP_FILTER : USER_FILTER;
}

static void hex16(const unsigned char g[16], char out[33]) {
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", g[i]);
}

/* A DN in LDAPv3 form with its attribute types and ASCII letters in lower case, or NULL. */
static char *dn_norm(const char *dn) {
    char *out = NULL;
    if (ldap_dn_normalize(dn, LDAP_DN_FORMAT_LDAPV3, &out, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS)
        return NULL;
    char *s = strdup(out);
    ldap_memfree(out);
    for (char *p = s; p && *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return s;
}

/* Where the RDNs of a normalized DN begin: true when one begins at `at`. */
static bool rdn_starts_at(const char *dn, size_t at) {
    if (at == 0)
        return true;
    for (size_t i = 0; dn[i] && i < at; i++) {
        if (dn[i] == '\\' && dn[i + 1])
            i++;
        else if (dn[i] == ',' && i + 1 == at)
            return true;
    }
    return false;
}

/* Whether normalized `dn` is `base` or below it (how far: *depth RDNs, up to 2). */
static bool under(const char *dn, const char *base, int *depth) {
    size_t n = strlen(dn), b = strlen(base);
    if (b > n || strcmp(dn + n - b, base) != 0 || (b < n && !rdn_starts_at(dn, n - b)))
        return false;
    *depth = 0;
    for (size_t i = 0; i + b < n && *depth < 2; i++) {
        if (dn[i] == '\\' && dn[i + 1])
            i++;
        else if (dn[i] == ',')
            (*depth)++;
    }
    if (b < n && *depth == 0)
        *depth = 1;
    return true;
}

bool adc_watch_dn_in_scope(const char *base_dn, enum adc_ldap_scope scope, const char *dn) {
    _cleanup_free_ char *b = dn_norm(base_dn ? base_dn : "");
    _cleanup_free_ char *n = dn_norm(dn);
    int depth;
    if (!b || !n || !under(n, b, &depth))
        return false;
    switch (scope) {
    case ADC_SCOPE_BASE: return depth == 0;
    case ADC_SCOPE_ONE: return depth == 1;
    default: return true;
    }
}

static bool in_scope(const struct ad *a, const char *dn) {
    return adc_watch_dn_in_scope(a->cfg->base_dn, a->cfg->scope, dn);
}

int adc_watch_dirsync_invocation(const struct berval *cookie, unsigned char out[16]) {
    if (!cookie->bv_val || cookie->bv_len < COOKIE_INVOCATION_AT + 16 ||
        memcmp(cookie->bv_val, "MSDS", 4) != 0)
        return -EINVAL;
    memcpy(out, cookie->bv_val + COOKIE_INVOCATION_AT, 16);
    return 0;
}

static int ldap_failed(struct ad *a, const char *what, int rc) {
    char *why = adc_ldap_conn_strerror(a->ld, rc);
    *a->err = adc_strdup_printf("%s: %s", what, why ? why : "error");
    free(why);
    return ADC_WATCH_RETRY;
}

static int search_base(struct ad *a, const char *dn, char **attrs, LDAPControl **ctrls,
                       LDAPMessage **res) {
    int timeout = a->cfg->timeout > 0 ? a->cfg->timeout : 30;
    struct timeval limit = {timeout, 0};
    return ldap_search_ext_s(a->ld, dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, ctrls, NULL,
                             &limit, 1, res);
}

/* Connects, and reads from the root DSE what the watcher needs: the naming context of base_dn,
 * the DC (dsServiceName) and its invocationId, whether notifications are offered. */
static int ad_open(struct ad *a) {
    static char *root_attrs[] = {"supportedControl", "namingContexts", "dsServiceName", NULL};
    static char *dsa_attrs[] = {"invocationId", NULL};
    LDAPMessage *res = NULL;
    int timeout = a->cfg->timeout > 0 ? a->cfg->timeout : 30;
    char desc[64];
    snprintf(desc, sizeof(desc), "%d s (backend.ldap.timeout)", timeout);
    double deadline =
        adc_ldap_now() + timeout + (a->cfg->network_timeout > 0 ? a->cfg->network_timeout : 10);
    if (adc_ldap_conn_open_service(a->cfg, deadline, timeout, desc, &a->ld, a->err) < 0)
        return ADC_WATCH_RETRY;
    if (!(a->base = dn_norm(a->cfg->base_dn ? a->cfg->base_dn : ""))) {
        *a->err = strdup("the base DN is not a valid DN");
        return -EINVAL;
    }
    int rc = search_base(a, "", root_attrs, NULL, &res);
    LDAPMessage *e = rc == LDAP_SUCCESS ? ldap_first_entry(a->ld, res) : NULL;
    if (!e) {
        ldap_msgfree(res);
        return ldap_failed(a, "cannot read the root DSE", rc == LDAP_SUCCESS ? LDAP_OTHER : rc);
    }
    struct berval **ctrls = ldap_get_values_len(a->ld, e, "supportedControl");
    struct berval **ncs = ldap_get_values_len(a->ld, e, "namingContexts");
    struct berval **dsa = ldap_get_values_len(a->ld, e, "dsServiceName");
    size_t best = 0;
    for (size_t i = 0; ctrls && ctrls[i]; i++)
        if (ctrls[i]->bv_len == strlen(OID_NOTIFY) &&
            memcmp(ctrls[i]->bv_val, OID_NOTIFY, ctrls[i]->bv_len) == 0)
            a->notify_offered = true;
    for (size_t i = 0; ncs && ncs[i]; i++) {
        _cleanup_free_ char *text = strndup(ncs[i]->bv_val, ncs[i]->bv_len);
        _cleanup_free_ char *n = text ? dn_norm(text) : NULL;
        int depth;
        if (n && under(a->base, n, &depth) && strlen(n) >= best) {
            best = strlen(n);
            free(a->nc);
            a->nc = TAKE_PTR(text);
        }
    }
    if (dsa && dsa[0])
        a->dsa = strndup(dsa[0]->bv_val, dsa[0]->bv_len);
    ldap_value_free_len(ctrls);
    ldap_value_free_len(ncs);
    ldap_value_free_len(dsa);
    ldap_msgfree(res);
    res = NULL;
    if (!a->nc || !a->dsa) {
        *a->err = adc_strdup_printf(
            "%s", !a->nc ? "the base DN is in none of the directory's naming contexts"
                         : "the root DSE names no dsServiceName: not an Active Directory DC");
        return -EINVAL;
    }
    rc = search_base(a, a->dsa, dsa_attrs, NULL, &res);
    e = rc == LDAP_SUCCESS ? ldap_first_entry(a->ld, res) : NULL;
    struct berval **inv = e ? ldap_get_values_len(a->ld, e, "invocationId") : NULL;
    bool ok = inv && inv[0] && inv[0]->bv_len == 16;
    if (ok)
        memcpy(a->invocation, inv[0]->bv_val, 16);
    ldap_value_free_len(inv);
    ldap_msgfree(res);
    if (!ok) {
        if (rc != LDAP_SUCCESS)
            return ldap_failed(a, "cannot read the domain controller's invocationId", rc);
        *a->err = adc_strdup_printf("cannot read the invocationId of '%s'", a->dsa);
        return -EINVAL;
    }
    return 0;
}

/* Whether the account sees any tombstone in the Deleted Objects container (found by its
 * well-known GUID, [MS-ADTS] 6.1.1.4): when it sees none, it most likely lacks the right to list
 * it, and deletes wait for a full sync; said once per start, since a domain without any deleted
 * object yet looks the same. */
static void check_tombstones(struct ad *a) {
    static char *attrs[] = {"1.1", NULL};
    LDAPControl show = {.ldctl_oid = OID_SHOW_DELETED, .ldctl_iscritical = 1};
    LDAPControl *ctrls[] = {&show, NULL};
    _cleanup_free_ char *base =
        adc_strdup_printf("<WKGUID=18e2ea80684f11d2b9aa00c04f79f805,%s>", a->nc);
    if (!base)
        return;
    int timeout = a->cfg->timeout > 0 ? a->cfg->timeout : 30;
    struct timeval limit = {timeout, 0};
    LDAPMessage *res = NULL;
    int rc = ldap_search_ext_s(a->ld, base, LDAP_SCOPE_ONELEVEL, "(isDeleted=TRUE)", attrs, 0,
                               ctrls, NULL, &limit, 1, &res);
    int n = res ? ldap_count_entries(a->ld, res) : 0;
    ldap_msgfree(res);
    if (rc < 0 || ((rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED) && n > 0))
        return; /* seen; or the connection failed, which the next read reports */
    log_notice("live changes: the bind account sees no deleted object in CN=Deleted Objects (%s): "
               "unless nothing was ever deleted, it may not list that container, and deletes in "
               "the directory reach the cloud only with the next full sync (see adc(8), LIVE "
               "CHANGES)",
               rc == LDAP_SUCCESS ? "none visible" : ldap_err2string(rc));
}

/* The identity adc gives the object with this objectGUID: the GUID's string unless
 * sync.id_attribute names another attribute, which is then read (tombstones keep objectSid and
 * sAMAccountName). 0 with *out (a new string), 1 when it has none (*out NULL), or an error. */
static int identity(struct ad *a, const unsigned char guid[16], char **out) {
    const char *attr = a->cfg->id_attribute;
    *out = NULL;
    if (!attr || strcasecmp(attr, "objectGUID") == 0) {
        char s[37];
        adc_guid_format(guid, s);
        return (*out = strdup(s)) ? 0 : -ENOMEM;
    }
    char hex[33], dn[48];
    hex16(guid, hex);
    snprintf(dn, sizeof(dn), "<GUID=%s>", hex);
    char *attrs[] = {(char *)attr, NULL};
    LDAPControl show = {.ldctl_oid = OID_SHOW_DELETED, .ldctl_iscritical = 1};
    LDAPControl *ctrls[] = {&show, NULL};
    LDAPMessage *res = NULL;
    int rc = search_base(a, dn, attrs, ctrls, &res);
    LDAPMessage *e = rc == LDAP_SUCCESS ? ldap_first_entry(a->ld, res) : NULL;
    struct berval **v = e ? ldap_get_values_len(a->ld, e, attr) : NULL;
    if (v && v[0] && v[0]->bv_len > 0 && v[0]->bv_len < 1024)
        *out = strndup(v[0]->bv_val, v[0]->bv_len);
    ldap_value_free_len(v);
    ldap_msgfree(res);
    if (rc != LDAP_SUCCESS && rc != LDAP_NO_SUCH_OBJECT)
        return ldap_failed(a, "reading an identity", rc);
    return *out ? 0 : 1;
}

/* A group whose only change is in its members (DirSync with incremental values): the added and
 * removed member DNs go to sink->group_members. -ENOENT when the object changed otherwise, or
 * the sink cannot judge it (a group it does not know yet): then the sink reads the entry. */
static int members_changed(struct ad *a, LDAPMessage *e, const unsigned char guid[16]) {
    if (!a->cfg->groups_filter || !a->sink->group_members || a->kind != ADC_WATCH_DIRSYNC)
        return -ENOENT;
    struct berval **vals[2] = {NULL, NULL}; /* removed (range=0-0), added (range=1-1) */
    BerElement *ber = NULL;
    int r = 0;
    for (char *at = ldap_first_attribute(a->ld, e, &ber); at;
         at = ldap_next_attribute(a->ld, e, ber)) {
        bool known = false;
        for (size_t i = 0; i < ADC_ARRAY_SIZE(ALWAYS) && !known; i++)
            known = strcasecmp(at, ALWAYS[i]) == 0;
        int k = strcasecmp(at, "member;range=0-0") == 0   ? 0
                : strcasecmp(at, "member;range=1-1") == 0 ? 1
                                                          : -1;
        if (k >= 0 && !vals[k])
            vals[k] = ldap_get_values_len(a->ld, e, at);
        else if (!known)
            r = -ENOENT; /* another attribute changed: the whole entry is read */
        ldap_memfree(at);
    }
    ber_free(ber, 0);
    size_t n[2] = {0, 0};
    char **dns[2] = {NULL, NULL};
    char *id = NULL;
    if (r == 0 && !vals[0] && !vals[1])
        r = -ENOENT;
    for (int k = 0; k < 2 && r == 0; k++) {
        while (vals[k] && vals[k][n[k]])
            n[k]++;
        dns[k] = calloc(n[k] + 1, sizeof(char *));
        for (size_t i = 0; dns[k] && i < n[k]; i++)
            if (!(dns[k][i] = strndup(vals[k][i]->bv_val, vals[k][i]->bv_len)))
                r = -ENOMEM;
        if (!dns[k])
            r = -ENOMEM;
    }
    if (r == 0) {
        r = identity(a, guid, &id);
        if (r == 1)
            r = -ENOENT;
    }
    if (r == 0) {
        log_info("live changes: members of group %s: %zu added, %zu removed (incremental values)",
                 id, n[1], n[0]);
        r = a->sink->group_members(a->sink->userdata, id, (const char *const *)dns[1], n[1],
                                   (const char *const *)dns[0], n[0]);
    }
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; dns[k] && i < n[k]; i++)
            free(dns[k][i]);
        free(dns[k]);
        ldap_value_free_len(vals[k]);
    }
    free(id);
    return r;
}

/* One changed object: a tombstone or an entry outside base_dn is a delete of its identity, any
 * other entry is reported by DN (the sink checks the sync filter). */
static int on_object(struct ad *a, LDAPMessage *e) {
    struct berval **guid = ldap_get_values_len(a->ld, e, "objectGUID");
    struct berval **del = ldap_get_values_len(a->ld, e, "isDeleted");
    char *dn = ldap_get_dn(a->ld, e);
    char *id = NULL;
    int r = 0;
    if (!guid || !guid[0] || guid[0]->bv_len != 16 || !dn) {
        log_warning("live changes: an object without a 16-byte objectGUID (%s); ignored",
                    dn ? dn : "no DN");
        goto out;
    }
    bool deleted =
        del && del[0] && del[0]->bv_len == 4 && strncasecmp(del[0]->bv_val, "TRUE", 4) == 0;
    if (!deleted && in_scope(a, dn)) {
        r = members_changed(a, e, (const unsigned char *)guid[0]->bv_val);
        if (r == -ENOENT)
            r = a->sink->entry(a->sink->userdata, dn, false);
        goto out;
    }
    const unsigned char *g = (const unsigned char *)guid[0]->bv_val;
    r = identity(a, g, &id);
    if (r == 1) {
        log_info("live changes: '%s' %s but has no identity to delete by; the next full sync "
                 "settles it",
                 dn, deleted ? "was deleted" : "left the base DN");
        r = 0;
    } else if (r == 0) {
        log_info("live changes: '%s' %s", dn, deleted ? "was deleted" : "is outside the base DN");
        r = a->sink->delete_uuid(a->sink->userdata, g, id);
    }
out:
    free(id);
    ldap_memfree(dn);
    ldap_value_free_len(guid);
    ldap_value_free_len(del);
    return r;
}

/* --- dirsync ------------------------------------------------------------------------------ */

static int cookie_check(struct ad *a, const char *position) {
    struct berval c = {0};
    unsigned char inv[16];
    if (adc_watch_hex_decode(position, COOKIE_MAX, &c) < 0 ||
        adc_watch_dirsync_invocation(&c, inv) < 0) {
        free(c.bv_val);
        *a->err = strdup("the saved position is not a DirSync cookie");
        return ADC_WATCH_REFUSED;
    }
    if (memcmp(inv, a->invocation, 16) != 0) {
        char was[33], now[33];
        hex16(inv, was);
        hex16(a->invocation, now);
        *a->err = adc_strdup_printf("it was made by another domain controller, or before '%s' "
                                    "was restored from a backup (invocationId %s, now %s)",
                                    a->dsa, was, now);
        free(c.bv_val);
        return ADC_WATCH_REFUSED;
    }
    a->cookie = c;
    return 0;
}

/* One DirSync search from the cookie, repeated while the DC has more. report: each object goes
 * to the sink and the cookie after each page to sink->position; else (finding the current
 * position before a full sync) the filter matches nothing and only the cookie is kept. */
static int dirsync_read(struct ad *a, bool report) {
    int timeout = a->cfg->timeout > 0 ? a->cfg->timeout : 30;
    for (bool more = true; more;) {
        BerElement *ber = ber_alloc_t(LBER_USE_DER);
        LDAPControl ctrl = {.ldctl_oid = OID_DIRSYNC, .ldctl_iscritical = 1};
        LDAPControl *ctrls[] = {&ctrl, NULL};
        struct berval empty = {0, ""};
        /* DirSyncRequestValue ::= SEQUENCE { flags INTEGER, maxBytes INTEGER (0: the DC's own
         * limit), cookie OCTET STRING } */
        ber_int_t flags = (ber_int_t)(DIRSYNC_OBJECT_SECURITY |
                                      (a->cfg->groups_filter ? DIRSYNC_INCREMENTAL_VALUES : 0));
        if (!ber ||
            ber_printf(ber, "{iiO}", flags, 0, a->cookie.bv_val ? &a->cookie : &empty) < 0 ||
            ber_flatten2(ber, &ctrl.ldctl_value, 0) < 0) {
            if (ber)
                ber_free(ber, 1);
            return -ENOMEM;
        }
        LDAPMessage *res = NULL;
        struct timeval limit = {timeout, 0};
        /* No attribute list: a list would limit the objects to those whose listed attributes
         * changed. The "nothing" filter still moves the cookie to the DC's newest change. */
        int rc = ldap_search_ext_s(a->ld, a->nc, LDAP_SCOPE_SUBTREE,
                                   report ? objects(a) : "(objectGUID=\\00)", NULL, 0, ctrls, NULL,
                                   &limit, 0, &res);
        ber_free(ber, 1);
        int r = 0;
        LDAPControl **rctrls = NULL;
        if (rc < 0 || !res) {
            r = ldap_failed(a, "the DirSync search failed", rc);
        } else if (rc != LDAP_SUCCESS) {
            /* What Samba answers a cookie it cannot read (12), and what AD may (2, 53). */
            bool refused = a->cookie.bv_val && (rc == LDAP_PROTOCOL_ERROR ||
                                                rc == LDAP_UNAVAILABLE_CRITICAL_EXTENSION ||
                                                rc == LDAP_UNWILLING_TO_PERFORM);
            r = ldap_failed(
                a, refused ? "the DC refused the DirSync cookie" : "the DirSync search failed", rc);
            if (refused)
                r = ADC_WATCH_REFUSED;
        } else if (ldap_parse_result(a->ld, res, &rc, NULL, NULL, NULL, &rctrls, 0) !=
                   LDAP_SUCCESS) {
            r = ldap_failed(a, "the DirSync answer cannot be read", LDAP_DECODING_ERROR);
        }
        LDAPControl *c = r == 0 ? ldap_control_find(OID_DIRSYNC, rctrls, NULL) : NULL;
        ber_int_t flag = 0, max = 0;
        struct berval next = {0};
        BerElement *rb = c ? ber_init(&c->ldctl_value) : NULL;
        if (r == 0 && (!rb || ber_scanf(rb, "{iim}", &flag, &max, &next) == LBER_ERROR ||
                       !next.bv_len || next.bv_len > COOKIE_MAX)) {
            *a->err = strdup("the DC answered DirSync without a cookie");
            r = ADC_WATCH_RETRY;
        }
        for (LDAPMessage *e = r == 0 && report ? ldap_first_entry(a->ld, res) : NULL; e && r == 0;
             e = ldap_next_entry(a->ld, e))
            r = on_object(a, e);
        if (r == 0) {
            char *copy = malloc(next.bv_len);
            if (copy) {
                memcpy(copy, next.bv_val, next.bv_len);
                free(a->cookie.bv_val);
                a->cookie.bv_val = copy;
                a->cookie.bv_len = next.bv_len;
            } else {
                r = -ENOMEM;
            }
        }
        if (rb)
            ber_free(rb, 1);
        ldap_controls_free(rctrls);
        ldap_msgfree(res);
        if (r == 0 && report) {
            char *hex = adc_watch_hex_encode(&a->cookie, COOKIE_MAX);
            r = hex ? a->sink->position(a->sink->userdata, hex) : -ENOMEM;
            free(hex);
        }
        if (r < 0)
            return r;
        more = flag != 0;
    }
    return 0;
}

/* --- usn ---------------------------------------------------------------------------------- */

static char *usn_position(const struct ad *a, unsigned long long usn) {
    char inv[33];
    hex16(a->invocation, inv);
    return adc_strdup_printf("%llu %s %s", usn, inv, a->dsa);
}

static int usn_check(struct ad *a, const char *position) {
    unsigned long long usn;
    char inv[33], now[33];
    int end = 0;
    if (sscanf(position, "%llu %32[0-9a-f] %n", &usn, inv, &end) != 2 || end == 0 ||
        strlen(inv) != 32) {
        *a->err = strdup("the saved position is not a uSNChanged position");
        return ADC_WATCH_REFUSED;
    }
    hex16(a->invocation, now);
    if (strcasecmp(position + end, a->dsa) != 0) {
        *a->err = adc_strdup_printf("it was made on another domain controller ('%s'; now '%s'): "
                                    "USNs are counted per DC",
                                    position + end, a->dsa);
        return ADC_WATCH_REFUSED;
    }
    if (strcmp(inv, now) != 0) {
        *a->err = adc_strdup_printf("'%s' was restored from a backup since (invocationId %s, "
                                    "now %s)",
                                    a->dsa, inv, now);
        return ADC_WATCH_REFUSED;
    }
    a->usn = usn;
    return 0;
}

static int highest_usn(struct ad *a, unsigned long long *out) {
    static char *attrs[] = {"highestCommittedUSN", NULL};
    LDAPMessage *res = NULL;
    int rc = search_base(a, "", attrs, NULL, &res);
    LDAPMessage *e = rc == LDAP_SUCCESS ? ldap_first_entry(a->ld, res) : NULL;
    struct berval **v = e ? ldap_get_values_len(a->ld, e, "highestCommittedUSN") : NULL;
    char text[32] = "";
    if (v && v[0] && v[0]->bv_len < sizeof(text))
        memcpy(text, v[0]->bv_val, v[0]->bv_len);
    ldap_value_free_len(v);
    ldap_msgfree(res);
    char *end;
    *out = strtoull(text, &end, 10);
    if (!*text || *end)
        return ldap_failed(a, "cannot read highestCommittedUSN",
                           rc == LDAP_SUCCESS ? LDAP_OTHER : rc);
    return 0;
}

static int by_usn(const void *x, const void *y) {
    unsigned long long a = *(const unsigned long long *)x, b = *(const unsigned long long *)y;
    return a < b ? -1 : a > b;
}

/* The objects whose uSNChanged is above the position and at most the DC's highest committed
 * USN (read first, so every change up to it is visible), tombstones included, in USN order. */
static int usn_read(struct ad *a) {
    static char *attrs[] = {"objectGUID", "isDeleted", "uSNChanged", NULL};
    unsigned long long high;
    int r = highest_usn(a, &high);
    if (r < 0 || high <= a->usn)
        return r;
    char filter[160];
    snprintf(filter, sizeof(filter), "(&%s(uSNChanged>=%llu)(uSNChanged<=%llu))", objects(a),
             a->usn + 1, high);
    LDAPControl show = {.ldctl_oid = OID_SHOW_DELETED, .ldctl_iscritical = 1};
    LDAPControl *ctrls[] = {&show, NULL};
    int timeout = a->cfg->timeout > 0 ? a->cfg->timeout : 30;
    struct timeval limit = {timeout, 0};
    LDAPMessage *res = NULL;
    int rc = ldap_search_ext_s(a->ld, a->nc, LDAP_SCOPE_SUBTREE, filter, attrs, 0, ctrls, NULL,
                               &limit, USN_MAX + 1, &res);
    if (rc == LDAP_SIZELIMIT_EXCEEDED || ldap_count_entries(a->ld, res) > USN_MAX) {
        ldap_msgfree(res);
        log_notice("live changes: more than %d objects changed since USN %llu; a full sync "
                   "handles them",
                   USN_MAX, a->usn);
        _cleanup_free_ char *pos = usn_position(a, high);
        if (!pos)
            return -ENOMEM;
        r = a->sink->baseline(a->sink->userdata, pos);
        if (r == 0)
            a->usn = high;
        return r;
    }
    if (rc != LDAP_SUCCESS && rc != LDAP_REFERRAL) {
        ldap_msgfree(res);
        return ldap_failed(a, "the uSNChanged search failed", rc);
    }
    /* In USN order, so that a rename and a later change of the same entry keep their order. */
    size_t n = 0, cap = (size_t)ldap_count_entries(a->ld, res);
    struct {
        unsigned long long usn;
        LDAPMessage *e;
    } *v = calloc(cap ? cap : 1, sizeof(*v));
    if (!v) {
        ldap_msgfree(res);
        return -ENOMEM;
    }
    for (LDAPMessage *e = ldap_first_entry(a->ld, res); e && n < cap;
         e = ldap_next_entry(a->ld, e)) {
        struct berval **u = ldap_get_values_len(a->ld, e, "uSNChanged");
        char text[32] = "";
        if (u && u[0] && u[0]->bv_len < sizeof(text))
            memcpy(text, u[0]->bv_val, u[0]->bv_len);
        ldap_value_free_len(u);
        v[n].usn = strtoull(text, NULL, 10);
        v[n++].e = e;
    }
    qsort(v, n, sizeof(*v), by_usn);
    for (size_t i = 0; i < n && r == 0; i++)
        r = on_object(a, v[i].e);
    free(v);
    ldap_msgfree(res);
    if (r < 0)
        return r;
    a->usn = high;
    _cleanup_free_ char *pos = usn_position(a, high);
    return pos ? a->sink->position(a->sink->userdata, pos) : -ENOMEM;
}

/* --- the loop ----------------------------------------------------------------------------- */

/* Registers the change notification (all objects under the naming context, tombstones too). */
static void notify_register(struct ad *a) {
    static char *attrs[] = {"objectGUID", NULL};
    LDAPControl notify = {.ldctl_oid = OID_NOTIFY, .ldctl_iscritical = 1};
    LDAPControl show = {.ldctl_oid = OID_SHOW_DELETED, .ldctl_iscritical = 1};
    LDAPControl *ctrls[] = {&notify, &show, NULL};
    a->notify_id = -1;
    if (a->kind == ADC_WATCH_USN || !a->notify_offered)
        return;
    int rc = ldap_search_ext(a->ld, a->nc, LDAP_SCOPE_SUBTREE, "(objectClass=*)", attrs, 0, ctrls,
                             NULL, NULL, 0, &a->notify_id);
    if (rc != LDAP_SUCCESS) {
        a->notify_id = -1;
        log_warning("live changes: change notifications refused (%s); reading every %d s",
                    ldap_err2string(rc), QUIET_READ_S);
    }
}

static int read_changes(struct ad *a) {
    return a->kind == ADC_WATCH_DIRSYNC ? dirsync_read(a, true) : usn_read(a);
}

/* The position to start from: the saved one, checked against this DC; else the current one,
 * followed by a full sync (changes made during it are read again afterwards: harmless). */
static int start_position(struct ad *a, const char *position) {
    if (position)
        return a->kind == ADC_WATCH_DIRSYNC ? cookie_check(a, position) : usn_check(a, position);
    int r = a->kind == ADC_WATCH_DIRSYNC ? dirsync_read(a, false) : highest_usn(a, &a->usn);
    if (r < 0)
        return r;
    char *pos = a->kind == ADC_WATCH_DIRSYNC ? adc_watch_hex_encode(&a->cookie, COOKIE_MAX)
                                             : usn_position(a, a->usn);
    r = pos ? a->sink->baseline(a->sink->userdata, pos) : -ENOMEM;
    free(pos);
    return r;
}

int adc_watch_ad_run(const struct adc_ldap_config *cfg, enum adc_watch kind, const char *position,
                     const struct adc_watch_sink *sink, char **err) {
    struct ad a = {.cfg = cfg, .sink = sink, .kind = kind, .err = err, .notify_id = -1};
    int r = ad_open(&a);
    if (r == 0)
        r = start_position(&a, position);
    if (r < 0)
        goto out;
    check_tombstones(&a);
    /* Register first, read second: a change between the two is read, not lost. */
    notify_register(&a);
    int interval = cfg->poll_interval > 0 ? cfg->poll_interval : 30;
    log_info("live changes: %s on '%s' from %s%s", kind_name(&a), a.dsa, a.nc,
             a.notify_id >= 0 ? ", woken by change notifications" : "");
    bool due = true;
    double last = 0;
    while (r == 0 && sink->keep_going(sink->userdata)) {
        int every =
            a.notify_id >= 0 ? interval : (interval < QUIET_READ_S ? interval : QUIET_READ_S);
        if (due || adc_ldap_now() - last >= every) {
            r = read_changes(&a);
            last = adc_ldap_now();
            due = false;
            continue;
        }
        if (a.notify_id < 0) {
            struct timespec ts = {0, WAIT_MS * 1000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        LDAPMessage *msg = NULL;
        struct timeval tv = {0, WAIT_MS * 1000};
        int rc = ldap_result(a.ld, a.notify_id, LDAP_MSG_ONE, &tv, &msg);
        if (rc < 0) {
            r = ldap_failed(&a, "the directory connection was lost",
                            adc_ldap_conn_last_error(a.ld));
        } else if (rc == LDAP_RES_SEARCH_ENTRY) {
            due = true;
        } else if (rc == LDAP_RES_SEARCH_RESULT) {
            int code = LDAP_OTHER;
            ldap_parse_result(a.ld, msg, &code, NULL, NULL, NULL, NULL, 0);
            log_warning("live changes: the DC ended the change notifications (%s); reading "
                        "every %d s",
                        ldap_err2string(code), QUIET_READ_S);
            a.notify_id = -1;
        }
        ldap_msgfree(msg);
    }
out:
    free(a.cookie.bv_val);
    free(a.nc);
    free(a.base);
    free(a.dsa);
    adc_ldap_conn_close(a.ld);
    return r;
}
