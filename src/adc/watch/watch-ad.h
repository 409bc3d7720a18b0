/* Active Directory (and Samba AD DC) live changes (docs/product.md section 9), three ways that
 * share one loop (watch-ad.c):
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
 * cookie of another invocationId as if it were its own, which is why adc compares them itself.
 *
 * The parts, each a file: watch-ad.c the connection, the start position, the change
 * notification and the loop; watch-ad-object.c one changed object (in scope or not, its
 * identity, a group's changed members); watch-dirsync.c the DirSync control, its search and
 * its cookie; watch-usn.c the uSNChanged search and its position. Internal to those files. */
#pragma once

#include <ldap.h>
#include <stdbool.h>

#include "watch/watch.h"

/* The show-deleted control: tombstones are returned too. */
#define OID_SHOW_DELETED "1.2.840.113556.1.4.417"
/* A cookie holds the up-to-dateness vector: 24 bytes per DC. */
#define COOKIE_MAX 65536

/* One run of the watcher (adc_watch_ad_run): its connection, the DC, and the position. */
struct adc_ad {
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

/* The objects watched: every user (and group, with backend.ldap.groups), as a filter. */
const char *adc_ad_objects(const struct adc_ad *a);
/* A GUID as 32 hex digits and a NUL. */
void adc_ad_hex16(const unsigned char g[16], char out[33]);
/* A DN in LDAPv3 form with its attribute types and ASCII letters in lower case (a new string),
 * or NULL. */
char *adc_ad_dn_norm(const char *dn);
/* Whether normalized `dn` is `base` or below it (how far: *depth RDNs, up to 2). */
bool adc_ad_dn_under(const char *dn, const char *base, int *depth);
/* Sets *a->err to "what: the LDAP error of rc" and returns ADC_WATCH_RETRY. */
int adc_ad_failed(struct adc_ad *a, const char *what, int rc);
/* A base search of dn with the configured timeout: ldap_search_ext_s's result, *res to free. */
int adc_ad_search_base(struct adc_ad *a, const char *dn, char **attrs, LDAPControl **ctrls,
                       LDAPMessage **res);

/* watch-ad-object.c: one changed object to the sink: a tombstone or an entry outside base_dn
 * is a delete of its identity, a group whose members alone changed goes as those members, any
 * other entry by its DN. 0, ADC_WATCH_RETRY with *a->err, or the sink's error. */
int adc_ad_on_object(struct adc_ad *a, LDAPMessage *e);

/* watch-dirsync.c: adc_ad_cookie_check takes a saved position (the cookie in hex) when this DC
 * made it: 0, or ADC_WATCH_REFUSED with *a->err. adc_ad_dirsync_read reads from a->cookie while
 * the DC has more; report: each object to the sink and each page's cookie to sink->position,
 * else only the cookie is moved to the DC's newest change. 0, ADC_WATCH_RETRY,
 * ADC_WATCH_REFUSED (the DC refused the cookie), -ENOMEM, or the sink's error. */
int adc_ad_cookie_check(struct adc_ad *a, const char *position);
int adc_ad_dirsync_read(struct adc_ad *a, bool report);

/* watch-usn.c: the position "<usn> <invocationId hex> <dsServiceName>" (a new string, NULL when
 * out of memory); the check of a saved one against this DC (0 or ADC_WATCH_REFUSED); the DC's
 * highestCommittedUSN (0 or ADC_WATCH_RETRY); and one read of the objects changed since a->usn
 * (0, ADC_WATCH_RETRY, or the sink's error). */
char *adc_ad_usn_position(const struct adc_ad *a, unsigned long long usn);
int adc_ad_usn_check(struct adc_ad *a, const char *position);
int adc_ad_highest_usn(struct adc_ad *a, unsigned long long *out);
int adc_ad_usn_read(struct adc_ad *a);
