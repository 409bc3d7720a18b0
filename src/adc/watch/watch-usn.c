/* Active Directory live changes by uSNChanged on one domain controller: the search and its
 * position (watch/watch-ad.h). */
#include <errno.h>
#include <ldap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/macros.h"
#include "watch/watch-ad.h"

/* More changes than this in one uSNChanged read (AD's MaxPageSize is 1000) go to a full sync. */
#define USN_MAX 1000

char *adc_ad_usn_position(const struct adc_ad *a, unsigned long long usn) {
    char inv[33];
    adc_ad_hex16(a->invocation, inv);
    return adc_strdup_printf("%llu %s %s", usn, inv, a->dsa);
}

int adc_ad_usn_check(struct adc_ad *a, const char *position) {
    unsigned long long usn;
    char inv[33], now[33];
    int end = 0;
    if (sscanf(position, "%llu %32[0-9a-f] %n", &usn, inv, &end) != 2 || end == 0 ||
        strlen(inv) != 32) {
        *a->err = strdup("the saved position is not a uSNChanged position");
        return ADC_WATCH_REFUSED;
    }
    adc_ad_hex16(a->invocation, now);
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

int adc_ad_highest_usn(struct adc_ad *a, unsigned long long *out) {
    static char *attrs[] = {"highestCommittedUSN", NULL};
    LDAPMessage *res = NULL;
    int rc = adc_ad_search_base(a, "", attrs, NULL, &res);
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
        return adc_ad_failed(a, "cannot read highestCommittedUSN",
                             rc == LDAP_SUCCESS ? LDAP_OTHER : rc);
    return 0;
}

static int by_usn(const void *x, const void *y) {
    unsigned long long a = *(const unsigned long long *)x, b = *(const unsigned long long *)y;
    return a < b ? -1 : a > b;
}

/* The objects whose uSNChanged is above the position and at most the DC's highest committed
 * USN (read first, so every change up to it is visible), tombstones included, in USN order. */
int adc_ad_usn_read(struct adc_ad *a) {
    static char *attrs[] = {"objectGUID", "isDeleted", "uSNChanged", NULL};
    unsigned long long high;
    int r = adc_ad_highest_usn(a, &high);
    if (r < 0 || high <= a->usn)
        return r;
    char filter[160];
    snprintf(filter, sizeof(filter), "(&%s(uSNChanged>=%llu)(uSNChanged<=%llu))", adc_ad_objects(a),
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
        _cleanup_free_ char *pos = adc_ad_usn_position(a, high);
        if (!pos)
            return -ENOMEM;
        r = a->sink->baseline(a->sink->userdata, pos);
        if (r == 0)
            a->usn = high;
        return r;
    }
    if (rc != LDAP_SUCCESS && rc != LDAP_REFERRAL) {
        ldap_msgfree(res);
        return adc_ad_failed(a, "the uSNChanged search failed", rc);
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
        r = adc_ad_on_object(a, v[i].e);
    free(v);
    ldap_msgfree(res);
    if (r < 0)
        return r;
    a->usn = high;
    _cleanup_free_ char *pos = adc_ad_usn_position(a, high);
    return pos ? a->sink->position(a->sink->userdata, pos) : -ENOMEM;
}
