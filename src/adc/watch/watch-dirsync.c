/* Active Directory live changes by the DirSync control: its search and its cookie
 * (watch/watch-ad.h). */
#include <errno.h>
#include <ldap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "watch/watch-ad.h"

#define OID_DIRSYNC "1.2.840.113556.1.4.841"
#define DIRSYNC_OBJECT_SECURITY 0x1
/* Multi-valued attributes as the values added ("member;range=1-1") and removed
 * ("member;range=0-0") rather than all of them: a membership change of a large group costs its
 * changed members only. */
#define DIRSYNC_INCREMENTAL_VALUES 0x80000000u
/* The cookie's invocationId ([MS-ADTS] 3.1.1.3.4.1.3): "MSDS", version, time, two reserved
 * words, the vector's length, the high-water mark (3 x 8 bytes), then the GUID. */
#define COOKIE_INVOCATION_AT 52

int adc_watch_dirsync_invocation(const struct berval *cookie, unsigned char out[16]) {
    if (!cookie->bv_val || cookie->bv_len < COOKIE_INVOCATION_AT + 16 ||
        memcmp(cookie->bv_val, "MSDS", 4) != 0)
        return -EINVAL;
    memcpy(out, cookie->bv_val + COOKIE_INVOCATION_AT, 16);
    return 0;
}

int adc_ad_cookie_check(struct adc_ad *a, const char *position) {
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
        adc_ad_hex16(inv, was);
        adc_ad_hex16(a->invocation, now);
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
int adc_ad_dirsync_read(struct adc_ad *a, bool report) {
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
                                   report ? adc_ad_objects(a) : "(objectGUID=\\00)", NULL, 0, ctrls,
                                   NULL, &limit, 0, &res);
        ber_free(ber, 1);
        int r = 0;
        LDAPControl **rctrls = NULL;
        if (rc < 0 || !res) {
            r = adc_ad_failed(a, "the DirSync search failed", rc);
        } else if (rc != LDAP_SUCCESS) {
            /* What Samba answers a cookie it cannot read (12), and what AD may (2, 53). */
            bool refused = a->cookie.bv_val && (rc == LDAP_PROTOCOL_ERROR ||
                                                rc == LDAP_UNAVAILABLE_CRITICAL_EXTENSION ||
                                                rc == LDAP_UNWILLING_TO_PERFORM);
            r = adc_ad_failed(
                a, refused ? "the DC refused the DirSync cookie" : "the DirSync search failed", rc);
            if (refused)
                r = ADC_WATCH_REFUSED;
        } else if (ldap_parse_result(a->ld, res, &rc, NULL, NULL, NULL, &rctrls, 0) !=
                   LDAP_SUCCESS) {
            r = adc_ad_failed(a, "the DirSync answer cannot be read", LDAP_DECODING_ERROR);
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
            r = adc_ad_on_object(a, e);
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
