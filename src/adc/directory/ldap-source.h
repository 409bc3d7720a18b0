/* Reading the directory: connect, bind, and enumerate users completely or fail
 * (docs/product.md sections 2 and 4, rules 1, 4, 5, 8). The password check is ldap-auth.h. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "common/user.h"

typedef struct ldap LDAP;

struct adc_read_result {
    struct adc_dir_users users; /* the mapped users, compact (common/user.h), by userName */
    struct adc_skipped_entry *skipped;
    size_t n_skipped, cap_skipped;
    size_t n_entries;         /* entries the search returned */
    const char *id_attribute; /* the identity attribute of the first user (static string or
                               * the configuration's); see id_attributes when they differ */
    /* Which attribute gave how many users their identity (each user also says it in
     * u->id_attribute). Several entries here mean a mixed directory: on 389-ds 2.x, entries
     * created before its entryUUID plugin ran have only nsUniqueId. */
    struct {
        const char *name;
        size_t users;
    } id_attributes[4];
    size_t n_id_attributes;
};

/* Reads every user matching backend.ldap.sync.filter under base_dn. Returns 0 only after a
 * complete enumeration; on any failure (connect, bind, a failed page, size or time limit, a
 * dropped connection) returns a negative errno, and writes a message saying which to *err
 * (a new string, e.g. "search of 'dc=example,dc=org' failed on page 3: Server is unavailable
 * (52)"). Safe to call from several threads with their own results. */
int adc_ldap_read_users(const struct adc_ldap_config *cfg, struct adc_read_result *out, char **err);
void adc_read_result_done(struct adc_read_result *r);
/* Logs a warning when the users took their identity from different attributes (see
 * id_attributes), with the counts and what to set instead. */
void adc_read_result_warn_mixed_ids(const struct adc_read_result *r);

/* One entry read for a live change (docs/product.md section 9). */
struct adc_entry_read {
    bool found;           /* the entry exists (and matches the sync filter when asked) */
    bool skipped;         /* found, but not a user (rule 8): name (may be NULL) and reason */
    struct adc_user user; /* found and not skipped: the mapped user */
    char *name, *reason;
};
void adc_entry_read_done(struct adc_entry_read *r);

/* Reads the entry `dn` on `ld` (bound as bind_dn: adc_ldap_conn_open_service) with a base
 * search, mapped as the enumeration maps entries. in_scope: with the sync filter, so that an
 * entry outside it reads as not found; else any entry (for its identity). Returns 0 (see
 * out->found), or a negative errno with *err: -EIO (connection lost: open a new one),
 * -ETIMEDOUT, -EPROTO (the server refused the search), -ENOMEM. */
int adc_ldap_read_entry(const struct adc_ldap_config *cfg, LDAP *ld, const char *dn, bool in_scope,
                        struct adc_entry_read *out, char **err);

/* For `adc check`: connects and binds as adc_ldap_read_users would, then asks whether
 * sync.filter matches anything under base_dn (one entry is enough). Returns 0 with *found set,
 * or a negative errno with *err saying which step failed. */
int adc_ldap_probe(const struct adc_ldap_config *cfg, bool *found, char **err);

/* The attributes that say "disabled or locked" (docs/product.md section 4, rule 4). */
#define ADC_LOCK_ATTRIBUTES 4

/* For `adc check`: may the bind account read the lock attributes (userAccountControl,
 * nsAccountLock, pwdAccountLockedTime, accountUnlockTime)? An account whose nsAccountLock the
 * bind user may not read looks active and would sync as active. Takes the first entry of
 * sync.filter and asks the server to compare each attribute on it: insufficientAccessRights
 * means unreadable (absent or unknown attributes answer otherwise). Returns 0 with
 * unreadable[i] (static names, in that order) for the first *n_unreadable and *dn the entry
 * asked about (a new string, NULL when the filter finds nothing), or a negative errno with
 * *err. */
int adc_ldap_probe_lock_access(const struct adc_ldap_config *cfg,
                               const char *unreadable[ADC_LOCK_ATTRIBUTES], size_t *n_unreadable,
                               char **dn, char **err);
