/* Active Directory live changes: the connection and what the root DSE says of the DC, the
 * start position, the change notification, and the loop that reads changes when notified or
 * when due (watch/watch-ad.h gives the whole picture). */
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
#include "watch/watch-ad.h"

#define OID_NOTIFY "1.2.840.113556.1.4.528"
/* Every user (and group, with backend.ldap.groups); tombstones keep objectClass (not
 * objectCategory), so deletes match too. Which of them the sync and group filters take is the
 * sink's to judge (it reads the entry): a change that made an entry leave them still shows. */
#define USER_FILTER "(objectClass=user)"
#define USER_GROUP_FILTER "(|(objectClass=user)(objectClass=group))"
/* How long one wait for a notification lasts: keep_going is asked this often. */
#define WAIT_MS 500
/* Without notifications, read at least this often (a read that finds nothing is cheap). */
#define QUIET_READ_S 5

static const char *kind_name(const struct adc_ad *a) { return adc_watch_name(a->kind); }

const char *adc_ad_objects(const struct adc_ad *a) {
    return a->cfg->groups_filter ? USER_GROUP_FILTER : USER_FILTER;
}

void adc_ad_hex16(const unsigned char g[16], char out[33]) {
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", g[i]);
}

int adc_ad_failed(struct adc_ad *a, const char *what, int rc) {
    char *why = adc_ldap_conn_strerror(a->ld, rc);
    *a->err = adc_strdup_printf("%s: %s", what, why ? why : "error");
    free(why);
    return ADC_WATCH_RETRY;
}

int adc_ad_search_base(struct adc_ad *a, const char *dn, char **attrs, LDAPControl **ctrls,
                       LDAPMessage **res) {
    int timeout = a->cfg->timeout > 0 ? a->cfg->timeout : 30;
    struct timeval limit = {timeout, 0};
    return ldap_search_ext_s(a->ld, dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, ctrls, NULL,
                             &limit, 1, res);
}

/* Connects, and reads from the root DSE what the watcher needs: the naming context of base_dn,
 * the DC (dsServiceName) and its invocationId, whether notifications are offered. */
static int ad_open(struct adc_ad *a) {
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
    if (!(a->base = adc_ad_dn_norm(a->cfg->base_dn ? a->cfg->base_dn : ""))) {
        *a->err = strdup("the base DN is not a valid DN");
        return -EINVAL;
    }
    int rc = adc_ad_search_base(a, "", root_attrs, NULL, &res);
    LDAPMessage *e = rc == LDAP_SUCCESS ? ldap_first_entry(a->ld, res) : NULL;
    if (!e) {
        ldap_msgfree(res);
        return adc_ad_failed(a, "cannot read the root DSE", rc == LDAP_SUCCESS ? LDAP_OTHER : rc);
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
        _cleanup_free_ char *n = text ? adc_ad_dn_norm(text) : NULL;
        int depth;
        if (n && adc_ad_dn_under(a->base, n, &depth) && strlen(n) >= best) {
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
    rc = adc_ad_search_base(a, a->dsa, dsa_attrs, NULL, &res);
    e = rc == LDAP_SUCCESS ? ldap_first_entry(a->ld, res) : NULL;
    struct berval **inv = e ? ldap_get_values_len(a->ld, e, "invocationId") : NULL;
    bool ok = inv && inv[0] && inv[0]->bv_len == 16;
    if (ok)
        memcpy(a->invocation, inv[0]->bv_val, 16);
    ldap_value_free_len(inv);
    ldap_msgfree(res);
    if (!ok) {
        if (rc != LDAP_SUCCESS)
            return adc_ad_failed(a, "cannot read the domain controller's invocationId", rc);
        *a->err = adc_strdup_printf("cannot read the invocationId of '%s'", a->dsa);
        return -EINVAL;
    }
    return 0;
}

/* Whether the account sees any tombstone in the Deleted Objects container (found by its
 * well-known GUID, [MS-ADTS] 6.1.1.4): when it sees none, it most likely lacks the right to list
 * it, and deletes wait for a full sync; said once per start, since a domain without any deleted
 * object yet looks the same. */
static void check_tombstones(struct adc_ad *a) {
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

/* Registers the change notification (all objects under the naming context, tombstones too). */
static void notify_register(struct adc_ad *a) {
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

static int read_changes(struct adc_ad *a) {
    return a->kind == ADC_WATCH_DIRSYNC ? adc_ad_dirsync_read(a, true) : adc_ad_usn_read(a);
}

/* The position to start from: the saved one, checked against this DC; else the current one,
 * followed by a full sync (changes made during it are read again afterwards: harmless). */
static int start_position(struct adc_ad *a, const char *position) {
    if (position)
        return a->kind == ADC_WATCH_DIRSYNC ? adc_ad_cookie_check(a, position)
                                            : adc_ad_usn_check(a, position);
    int r = a->kind == ADC_WATCH_DIRSYNC ? adc_ad_dirsync_read(a, false)
                                         : adc_ad_highest_usn(a, &a->usn);
    if (r < 0)
        return r;
    char *pos = a->kind == ADC_WATCH_DIRSYNC ? adc_watch_hex_encode(&a->cookie, COOKIE_MAX)
                                             : adc_ad_usn_position(a, a->usn);
    r = pos ? a->sink->baseline(a->sink->userdata, pos) : -ENOMEM;
    free(pos);
    return r;
}

int adc_watch_ad_run(const struct adc_ldap_config *cfg, enum adc_watch kind, const char *position,
                     const struct adc_watch_sink *sink, char **err) {
    struct adc_ad a = {.cfg = cfg, .sink = sink, .kind = kind, .err = err, .notify_id = -1};
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
            r = adc_ad_failed(&a, "the directory connection was lost",
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
