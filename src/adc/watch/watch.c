#include "watch/watch.h"

#include <errno.h>
#include <ldap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/hex.h"
#include "directory/ldap-conn.h"

/* Controls and capabilities of the root DSE (RFC 4512 section 5.1) that name a change stream. */
#define OID_SYNCREPL LDAP_CONTROL_SYNC       /* RFC 4533 */
#define OID_DIRSYNC "1.2.840.113556.1.4.841" /* Active Directory DirSync */
#define OID_NOTIFY "1.2.840.113556.1.4.528"  /* Active Directory change notification */
#define OID_AD_DS "1.2.840.113556.1.4.800"   /* capability: Active Directory */

static bool has_value(struct berval **vals, const char *oid) {
    for (size_t i = 0; vals && vals[i]; i++)
        if (vals[i]->bv_len == strlen(oid) && memcmp(vals[i]->bv_val, oid, vals[i]->bv_len) == 0)
            return true;
    return false;
}

int adc_watch_detect(const struct adc_ldap_config *cfg, enum adc_watch *out, char **why,
                     char **err) {
    static char *attrs[] = {"supportedControl", "supportedCapabilities", NULL};
    LDAP *ld = NULL;
    LDAPMessage *res = NULL;
    int timeout = cfg->timeout > 0 ? cfg->timeout : 30;
    char desc[64];
    snprintf(desc, sizeof(desc), "%d s (backend.ldap.timeout)", timeout);
    double deadline =
        adc_ldap_now() + timeout + (cfg->network_timeout > 0 ? cfg->network_timeout : 10);
    int r = adc_ldap_conn_open_service(cfg, deadline, timeout, desc, &ld, err);
    if (r < 0)
        return r;
    struct timeval limit = {timeout, 0};
    int rc = ldap_search_ext_s(ld, "", LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, NULL, NULL,
                               &limit, 1, &res);
    LDAPMessage *e = rc == LDAP_SUCCESS ? ldap_first_entry(ld, res) : NULL;
    if (!e) {
        char *what = adc_ldap_conn_strerror(ld, rc == LDAP_SUCCESS ? LDAP_NO_SUCH_OBJECT : rc);
        *err = adc_strdup_printf("cannot read the root DSE: %s", what ? what : "error");
        free(what);
        r = -EIO;
        goto out;
    }
    struct berval **controls = ldap_get_values_len(ld, e, "supportedControl");
    struct berval **caps = ldap_get_values_len(ld, e, "supportedCapabilities");
    if (has_value(controls, OID_SYNCREPL)) {
        *out = ADC_WATCH_SYNCREPL;
        *why = strdup("the directory offers RFC 4533 content synchronization "
                      "(supportedControl " OID_SYNCREPL ")");
    } else if (has_value(controls, OID_DIRSYNC)) {
        *out = ADC_WATCH_DIRSYNC;
        *why = strdup(has_value(controls, OID_NOTIFY)
                          ? "Active Directory: DirSync (supportedControl " OID_DIRSYNC
                            "), woken by change notifications (" OID_NOTIFY ")"
                          : "Active Directory: DirSync (supportedControl " OID_DIRSYNC ")");
    } else if (has_value(caps, OID_AD_DS)) {
        *out = ADC_WATCH_USN;
        *why = adc_strdup_printf("Active Directory without DirSync: uSNChanged read every %d s",
                                 cfg->poll_interval);
    } else {
        *out = ADC_WATCH_POLL;
        *why = adc_strdup_printf("the directory offers no change stream: polling "
                                 "modifyTimestamp every %d s",
                                 cfg->poll_interval);
    }
    ldap_value_free_len(controls);
    ldap_value_free_len(caps);
    r = 0;
out:
    ldap_msgfree(res);
    adc_ldap_conn_close(ld);
    return r;
}

char *adc_watch_hex_encode(const struct berval *b, size_t max) {
    if (!b->bv_val || b->bv_len == 0 || b->bv_len > max)
        return NULL;
    char *s = malloc(b->bv_len * 2 + 1);
    if (s)
        adc_hex_encode((const unsigned char *)b->bv_val, b->bv_len, s);
    return s;
}

int adc_watch_hex_decode(const char *s, size_t max, struct berval *out) {
    size_t n = strlen(s);
    if (n == 0 || n % 2 || n / 2 > max)
        return -EINVAL;
    unsigned char *b = malloc(n / 2 + 1);
    if (!b)
        return -ENOMEM;
    if (!adc_hex_decode(s, n / 2, b)) {
        free(b);
        return -EINVAL;
    }
    out->bv_val = (char *)b;
    out->bv_len = n / 2;
    return 0;
}
