/* Watchers: how `adc run` learns of changes in the directory as they happen (docs/product.md
 * section 9). Each runs in the caller's thread on a connection of its own and reports changes
 * to a sink, in the directory's order; the sink writes each to the cloud (sync/delta.h) and
 * saves the position that follows it (watch/live-state.h) only after the cloud accepted it.
 *
 *   syncrepl  RFC 4533 refreshAndPersist (OpenLDAP syncprov, 389-ds Content Synchronization):
 *             watch-syncrepl.c
 *   dirsync   Active Directory's DirSync control, woken by change notifications:
 *             watch-dirsync.c;
 *   usn,      uSNChanged on one domain controller (notify: woken by change notifications):
 *   notify    watch-usn.c; the three share the loop of watch-ad.c (watch/watch-ad.h)
 *   poll      a cheap modifyTimestamp search every poll_interval: watch-poll.c
 * The kind is chosen from the root DSE's supportedControl (adc_watch_detect) unless
 * backend.ldap.sync.watch names one. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include <lber.h>

#include "config/config.h"

/* Returned by a sink to say "not now": the watcher stops and the caller starts it again later
 * from the saved position, so the change is seen again. */
#define ADC_WATCH_RETRY (-EAGAIN)

struct adc_watch_sink {
    void *userdata;
    /* The entry `dn` was added, modified or renamed. in_scope: the watcher knows it matches
     * the sync filter (syncrepl); else it may have left it (poll). 0, ADC_WATCH_RETRY, or
     * another negative errno to stop. */
    int (*entry)(void *userdata, const char *dn, bool in_scope);
    /* The entry with this syncUUID was deleted or left the sync filter; external_id: its
     * identity as adc reads it, when the watcher saw the entry (else NULL). */
    int (*delete_uuid)(void *userdata, const unsigned char uuid[16], const char *external_id);
    /* Active Directory (DirSync with incremental values): only the members of the group with
     * this identity changed, by these DNs. -ENOENT when the sink cannot judge that from the
     * values (a group it does not know): the watcher reports the entry instead. May be NULL. */
    int (*group_members)(void *userdata, const char *external_id, const char *const *added,
                         size_t n_added, const char *const *removed, size_t n_removed);
    /* Every change before this point was handled: save `position`. */
    int (*position)(void *userdata, const char *position);
    /* The watcher starts from `position` but cannot tell what changed before it (no saved
     * position, or deletes it cannot see since the saved one): run a full sync, then save
     * `position`. 0 when done; ADC_WATCH_RETRY when the full sync failed. */
    int (*baseline)(void *userdata, const char *position);
    /* Called about twice a second while nothing arrives, and between changes: false stops the
     * watcher (SIGTERM, SIGHUP). */
    bool (*keep_going)(void *userdata);
};

/* What a watcher's run ended with besides 0 (stopped by keep_going): */
#define ADC_WATCH_REFUSED (-ESTALE) /* the directory refused the position: drop it */

/* The watcher the directory offers, from its root DSE: syncrepl when it offers RFC 4533's
 * control, dirsync when it offers DirSync (Active Directory), usn on another Active Directory,
 * else poll. *why says what was found (for `adc check` and the log). 0, or a negative
 * errno with *err (cannot connect or read the root DSE). */
int adc_watch_detect(const struct adc_ldap_config *cfg, enum adc_watch *out, char **why,
                     char **err);

/* Runs until keep_going says stop (returns 0), the connection fails (ADC_WATCH_RETRY, with
 * *err), the directory refuses `position` (ADC_WATCH_REFUSED), or the sink returns an error.
 * position: the saved one, or NULL. */
int adc_watch_syncrepl_run(const struct adc_ldap_config *cfg, const char *position,
                           const struct adc_watch_sink *sink, char **err);
int adc_watch_poll_run(const struct adc_ldap_config *cfg, const char *position,
                       const struct adc_watch_sink *sink, char **err);
/* kind: ADC_WATCH_DIRSYNC, ADC_WATCH_USN or ADC_WATCH_NOTIFY. */
int adc_watch_ad_run(const struct adc_ldap_config *cfg, enum adc_watch kind, const char *position,
                     const struct adc_watch_sink *sink, char **err);

/* Whether `dn` is within base_dn and scope (DNs compared in normalized form, case-insensitive for
 * ASCII): an Active Directory change seen outside them is a delete. */
bool adc_watch_dn_in_scope(const char *base_dn, enum adc_ldap_scope scope, const char *dn);
/* The invocationId a DirSync cookie was made with ([MS-ADTS] 3.1.1.3.4.1.3): 0, or -EINVAL when
 * it is not a DirSync cookie. */
int adc_watch_dirsync_invocation(const struct berval *cookie, unsigned char out[16]);

/* Positions are kept as text: bytes as lower-case hex (a new string; NULL when empty, longer
 * than `max` bytes or out of memory), and back (0 with out->bv_val a new buffer, or -EINVAL for
 * text that is not hex of 1..max bytes, -ENOMEM). */
char *adc_watch_hex_encode(const struct berval *b, size_t max);
int adc_watch_hex_decode(const char *s, size_t max, struct berval *out);
