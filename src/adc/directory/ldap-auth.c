/* The password check of docs/product.md section 5: find exactly one entry with the username filter
 * template (the name escaped per RFC 4515), refuse disabled accounts, then bind as that entry's
 * DN with the password on a connection that is not the lookup's. All within
 * authentication.timeout.
 *
 * The lookups use a small pool of connections bound as bind_dn: a fresh connect + bind per check
 * would double the round trips, and the agent answers a thousand checks a second. The users'
 * binds use a second pool, because a fresh connection per check costs a TCP connect and, over
 * ldaps:// or StartTLS (which Active Directory requires for simple binds), a full TLS handshake:
 * about 300 checks a second instead of over a thousand.
 *
 * The invariant that keeps identities apart: a connection of the bind pool is used for nothing
 * but users' binds, never for a lookup or any other operation, and a connection of the service
 * pool never for a user's bind. A bind changes the identity of its connection (a refused one
 * leaves it anonymous, RFC 4511 section 4.2.1), so the identity a user's bind leaves behind is
 * only ever replaced by the next user's bind, never used. A bind connection goes back to its
 * pool only after the server gave a definite answer (accepted, or one of the denials below);
 * after a timeout, a broken connection or an unexpected result it is closed. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "directory/ldap-conn.h"
#include "directory/ldap-filter.h"
#include "directory/ldap-search.h"
#include "directory/ldap-auth.h"
#include "directory/ldap-auth-pool.h"
#include "directory/ldap-source.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/macros.h"
#include "directory/user-map.h"

struct lookup {
    int n_entries;
    char *dn;
    bool disabled;
    /* The first value of username_attribute (a new string; NULL when the entry has none):
     * the name the entry was synced under. */
    char *name;
};

enum lookup_status {
    LOOKUP_OK,          /* the server answered: see struct lookup */
    LOOKUP_CONN_FAILED, /* the connection broke (a pooled one may have been closed idle) */
    LOOKUP_FAILED,      /* timeout or an error the server reported: *why says which */
};

/* The DN of the entry found, whether it is disabled (user-map.c's rules), and its name. */
static void read_found(LDAP *ld, LDAPMessage *msg, const struct adc_user_map *map,
                       struct lookup *out) {
    struct adc_entry_values v = {0};
    BerElement *ber = NULL;
    struct berval dnv = {0, NULL}, attr = {0, NULL}, *vals = NULL;
    if (ldap_get_dn_ber(ld, msg, &ber, &dnv) == LDAP_SUCCESS) {
        out->dn = strndup(dnv.bv_val, dnv.bv_len);
        while (ldap_get_attribute_ber(ld, msg, ber, &attr, &vals) == LDAP_SUCCESS && attr.bv_val) {
            char name[128];
            unsigned count = 0;
            while (vals && vals[count].bv_val)
                count++;
            if (attr.bv_len < sizeof(name) && count > 0) {
                memcpy(name, attr.bv_val, attr.bv_len);
                name[attr.bv_len] = '\0';
                struct adc_bytes first = {vals[0].bv_val, vals[0].bv_len};
                adc_entry_values_add(&v, adc_user_map_fields(map, name), &first, count);
            }
            ber_memfree(vals);
            vals = NULL;
        }
        ber_free(ber, 0);
    }
    out->disabled = adc_user_map_disabled(&v);
    const struct adc_bytes *nb = &v.first[ADC_FIELD_NAME];
    if (v.count[ADC_FIELD_NAME] > 0)
        out->name = strndup(nb->p, nb->n);
}

/* The search for the user's entry, size limit 2: one entry is the answer, two are enough to
 * know the name is ambiguous. Asks only for the attributes that tell "disabled". */
static enum lookup_status lookup(const struct adc_ldap_config *cfg, LDAP *ld, const char *filter,
                                 double deadline, struct lookup *out, char **why) {
    /* The state attributes of user-map.c, and the name (ldap_search_ext wants char **; it
     * never writes). */
    char *attrs[] = {"userAccountControl",
                     "nsAccountLock",
                     "pwdAccountLockedTime",
                     "accountUnlockTime",
                     (char *)cfg->username_attribute,
                     NULL};
    struct adc_user_map map = {0};
    int msgid, rc;

    map.attr[ADC_FIELD_UAC] = attrs[0];
    map.attr[ADC_FIELD_NSLOCK] = attrs[1];
    map.attr[ADC_FIELD_PWDLOCK] = attrs[2];
    map.attr[ADC_FIELD_UNLOCKTIME] = attrs[3];
    map.attr[ADC_FIELD_NAME] = attrs[4];
    int timeout = cfg->auth_timeout > 0 ? cfg->auth_timeout : 5;
    struct timeval limit = {timeout, 0};
    rc = ldap_search_ext(ld, cfg->base_dn ? cfg->base_dn : "", adc_ldap_scope(cfg->scope), filter,
                         attrs, 0, NULL, NULL, &limit, 2, &msgid);
    if (rc != LDAP_SUCCESS)
        return LOOKUP_CONN_FAILED;
    for (;;) {
        LDAPMessage *msg = NULL;
        struct timeval tv = adc_ldap_remaining(deadline);
        rc = ldap_result(ld, msgid, LDAP_MSG_ONE, &tv, &msg);
        if (rc == 0) {
            (void)ldap_abandon_ext(ld, msgid, NULL, NULL);
            *why = adc_strdup_printf("the directory did not answer the lookup within %d s "
                                     "(authentication.timeout)",
                                     timeout);
            return LOOKUP_FAILED;
        }
        if (rc < 0)
            return LOOKUP_CONN_FAILED;
        if (rc == LDAP_RES_SEARCH_ENTRY) {
            if (++out->n_entries == 1)
                read_found(ld, msg, &map, out);
            ldap_msgfree(msg);
            continue;
        }
        if (rc != LDAP_RES_SEARCH_RESULT) {
            ldap_msgfree(msg); /* references (AD) and anything else: not the user */
            continue;
        }
        int code = LDAP_OTHER;
        rc = ldap_parse_result(ld, msg, &code, NULL, NULL, NULL, NULL, 1);
        if (rc != LDAP_SUCCESS)
            return LOOKUP_CONN_FAILED;
        if (code == LDAP_SUCCESS || (code == LDAP_SIZELIMIT_EXCEEDED && out->n_entries >= 2))
            return LOOKUP_OK;
        char *e = adc_ldap_conn_strerror(ld, code);
        *why = adc_strdup_printf("the lookup failed: %s", e ? e : "out of memory");
        free(e);
        return LOOKUP_FAILED;
    }
}

/* Result codes of the user's bind that mean "no" rather than "could not ask". */
static bool bind_code_denies(int code) {
    switch (code) {
    case LDAP_INVALID_CREDENTIALS:
    case LDAP_INSUFFICIENT_ACCESS:
    case LDAP_UNWILLING_TO_PERFORM:
    case LDAP_CONSTRAINT_VIOLATION:
    case LDAP_INVALID_DN_SYNTAX:
    case LDAP_NO_SUCH_OBJECT:
    case LDAP_INAPPROPRIATE_AUTH: return true;
    default: return false;
    }
}

/* The lookup of the user's entry on a connection of the service pool. A pooled connection may
 * have been closed by the server while idle (or the server was restarted, and then all idle
 * ones are dead): on failure the idle connections are dropped and the lookup is retried once on
 * a fresh connection before calling the directory unavailable. Returns 0 with *found, or -EIO
 * with *why. */
static int lookup_pooled(const struct adc_ldap_config *cfg, const char *filter, double deadline,
                         int timeout, const char *timeout_desc, struct lookup *found, char **why) {
    LDAP *ld = NULL;
    unsigned gen = 0;
    for (int attempt = 0;; attempt++) {
        bool pooled = false;
        ld = attempt == 0 ? adc_auth_pool_take(ADC_AUTH_SERVICE_POOL, cfg, &gen) : NULL;
        if (attempt > 0)
            adc_auth_pool_drop_idle(ADC_AUTH_SERVICE_POOL);
        if (ld) {
            pooled = true;
        } else {
            int r = adc_ldap_conn_open_service(cfg, deadline, timeout, timeout_desc, &ld, why);
            if (r < 0)
                return -EIO;
        }
        memset(found, 0, sizeof(*found));
        enum lookup_status st = lookup(cfg, ld, filter, deadline, found, why);
        if (st == LOOKUP_OK) {
            adc_auth_pool_give(ADC_AUTH_SERVICE_POOL, TAKE_PTR(ld), gen);
            return 0;
        }
        free(found->dn);
        free(found->name);
        found->dn = found->name = NULL;
        if (st == LOOKUP_CONN_FAILED && pooled && attempt == 0 && adc_ldap_now() < deadline) {
            adc_ldap_conn_close(TAKE_PTR(ld));
            continue;
        }
        if (st == LOOKUP_CONN_FAILED) {
            char *e = adc_ldap_conn_strerror(ld, adc_ldap_conn_last_error(ld));
            *why = adc_strdup_printf("the connection to %s failed during the lookup: %s", cfg->addr,
                                     e ? e : "out of memory");
            free(e);
        }
        adc_ldap_conn_close(ld);
        return -EIO;
    }
}

/* The user's bind, on a connection of the bind pool (*user_ld, its generation in *user_gen;
 * the caller gives it back or closes it). As with the lookup, a pooled one may have been closed
 * by the server while idle: a bind that fails on the connection itself (no answer at all, not a
 * timeout) is tried once more on a fresh connection, so that a restarted directory does not
 * turn a right password into "unavailable". Returns what adc_ldap_conn_bind returns (the
 * result code in *code), or the error of opening a connection with *why. */
static int bind_pooled(const struct adc_ldap_config *cfg, const char *dn, const char *password,
                       double deadline, LDAP **user_ld, unsigned *user_gen, int *code,
                       struct adc_bind_policy *policy, char **why) {
    int r;
    for (int attempt = 0;; attempt++) {
        *user_ld = attempt == 0 ? adc_auth_pool_take(ADC_AUTH_BIND_POOL, cfg, user_gen) : NULL;
        bool pooled = *user_ld != NULL;
        if (attempt > 0)
            adc_auth_pool_drop_idle(ADC_AUTH_BIND_POOL);
        if (!*user_ld && (r = adc_ldap_conn_open(cfg, deadline, user_ld, why)) < 0)
            return r;
        /* The previous user's answer must not show up in this check's reason. */
        if (pooled)
            (void)ldap_set_option(*user_ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, NULL);
        *code = LDAP_OTHER;
        r = adc_ldap_conn_bind_user(*user_ld, dn, password, deadline, code, policy);
        if (r == -EIO && pooled && attempt == 0 && adc_ldap_now() < deadline) {
            adc_ldap_conn_close(TAKE_PTR(*user_ld));
            continue;
        }
        return r;
    }
}

/* Why a check is denied before the directory is asked, or NULL. An LDAP simple bind with an
 * empty password is an unauthenticated bind (RFC 4513 section 5.1.2) that many servers answer
 * with success: never ask. */
static const char *refuse_input(const char *user_name, const char *password) {
    if (!password || !*password)
        return "empty password";
    if (!user_name || !*user_name || strlen(user_name) > ADC_USER_VALUE_MAX ||
        !adc_utf8_valid(user_name, strlen(user_name)))
        return "the user name is empty, too long or not UTF-8";
    return NULL;
}

/* Whether the entry found for user_name is refused before any bind (none or several, no DN,
 * not the synced name, disabled or locked); then *why gets a new string saying why (NULL when
 * out of memory, which the caller reports as such). */
static bool entry_refused(const struct adc_ldap_config *cfg, const struct lookup *found,
                          const char *user_name, char **why) {
    if (found->n_entries == 0)
        *why = adc_strdup_printf("no directory entry matches '%s'", user_name);
    else if (found->n_entries > 1)
        *why = adc_strdup_printf("several directory entries match '%s'", user_name);
    else if (!found->dn || !*found->dn)
        *why = adc_strdup_printf("the entry of '%s' has no usable DN", user_name);
    /* Only the name that was synced signs in (user-map.c): an entry with several values of
     * username_attribute was synced under its first one, and the filter may have matched an
     * alias. Compared as the cloud compares userNames (ASCII case-insensitively). */
    else if (!found->name)
        *why = adc_strdup_printf("the entry '%s' has no readable value of %s (the user name)",
                                 found->dn, cfg->username_attribute);
    else if (strcasecmp(found->name, user_name) != 0)
        *why = adc_strdup_printf("'%s' is not the name the entry '%s' is synced under ('%s', the "
                                 "first value of %s): only that name signs in",
                                 user_name, found->dn, found->name, cfg->username_attribute);
    else if (found->disabled)
        *why =
            adc_strdup_printf("the account '%s' is disabled or locked in the directory", user_name);
    else
        return false;
    return true;
}

/* What the user's bind says: r and code as bind_pooled returned them. *keep: the connection
 * is healthy and goes back to the pool. *why gets a new string. */
static enum adc_auth_outcome judge_bind(const struct adc_ldap_config *cfg, const char *dn, int r,
                                        int code, const struct adc_bind_policy *policy,
                                        LDAP *user_ld, const char *timeout_desc, char **why,
                                        bool *keep) {
    enum adc_auth_outcome outcome = ADC_AUTH_UNAVAILABLE;
    if (r == -ETIMEDOUT) {
        *why = adc_strdup_printf("the directory did not answer the bind of '%s' within %s", dn,
                                 timeout_desc);
        return outcome;
    }
    if (r < 0) {
        char *e = adc_ldap_conn_strerror(user_ld, code);
        *why = adc_strdup_printf("the connection to %s failed during the bind: %s", cfg->addr,
                                 e ? e : "out of memory");
        free(e);
        return outcome;
    }
    /* docs/product.md section 11: a password the directory wants changed, or that has
     * expired, does not sign in to the cloud, although the bind itself succeeded (OpenLDAP
     * ppolicy and 389-ds let such a bind through so that the user can change the password). */
    if (code == LDAP_SUCCESS && (policy->must_change || policy->expired)) {
        outcome = ADC_AUTH_DENIED;
        *why = policy->must_change
                   ? adc_strdup_printf("the password of '%s' must be changed (it was set by an "
                                       "administrator, or has expired): change it in the directory "
                                       "first",
                                       dn)
                   : adc_strdup_printf("the password of '%s' has expired%s", dn,
                                       policy->grace >= 0 ? " (the directory allows grace logins "
                                                            "only to change it)"
                                                          : "");
        *keep = true;
        return outcome;
    }
    if (code == LDAP_SUCCESS) {
        outcome = ADC_AUTH_ACCEPTED;
        *why = adc_strdup_printf("password accepted for '%s'", dn);
        *keep = true;
        return outcome;
    }
    char *e = adc_ldap_conn_strerror(user_ld, code);
    if (bind_code_denies(code)) {
        outcome = ADC_AUTH_DENIED;
        /* Say why in words where the server did: AD's "data 773" and the like, ppolicy. */
        char *diag = NULL;
        (void)ldap_get_option(user_ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
        const char *ad = adc_ldap_ad_bind_reason(diag);
        ldap_memfree(diag);
        const char *pp = policy->locked    ? "the account is locked (password policy)"
                         : policy->expired ? "the password has expired (password policy)"
                                           : NULL;
        *why = adc_strdup_printf("the directory refused the password of '%s': %s%s%s", dn,
                                 ad   ? ad
                                 : pp ? pp
                                      : "",
                                 ad || pp ? "; " : "", e ? e : "out of memory");
        *keep = true;
    } else {
        *why = adc_strdup_printf("the directory could not check the password of '%s': %s", dn,
                                 e ? e : "out of memory");
    }
    free(e);
    return outcome;
}

enum adc_auth_outcome adc_ldap_check_password(const struct adc_ldap_config *cfg,
                                              const char *user_name, const char *password,
                                              char **reason) {
    enum adc_auth_outcome outcome = ADC_AUTH_UNAVAILABLE;
    struct lookup found = {0};
    char *filter = NULL, *why = NULL;
    LDAP *user_ld = NULL;
    unsigned user_gen = 0;
    int timeout = cfg->auth_timeout > 0 ? cfg->auth_timeout : 5;
    double deadline = adc_ldap_now() + timeout;
    char timeout_desc[64];

    *reason = NULL;
    snprintf(timeout_desc, sizeof(timeout_desc), "%d s (authentication.timeout)", timeout);
    const char *refused = refuse_input(user_name, password);
    if (refused) {
        outcome = ADC_AUTH_DENIED;
        why = strdup(refused);
        goto out;
    }
    if (!cfg->username_filter_template) {
        why = strdup("backend.ldap.authentication.username_filter_template is not set");
        goto out;
    }
    filter = adc_ldap_filter_from_template(cfg->username_filter_template, user_name);
    if (!filter) {
        why = strdup("cannot build the lookup filter (out of memory)");
        goto out;
    }

    if (lookup_pooled(cfg, filter, deadline, timeout, timeout_desc, &found, &why) < 0)
        goto out;

    if (entry_refused(cfg, &found, user_name, &why)) {
        outcome = ADC_AUTH_DENIED;
        goto out;
    }

    int code = LDAP_OTHER;
    struct adc_bind_policy policy;
    int r =
        bind_pooled(cfg, found.dn, password, deadline, &user_ld, &user_gen, &code, &policy, &why);
    if (r < 0 && why)
        goto out; /* no connection for the bind: *why says why */
    bool keep = false;
    outcome = judge_bind(cfg, found.dn, r, code, &policy, user_ld, timeout_desc, &why, &keep);
    if (keep)
        adc_auth_pool_give(ADC_AUTH_BIND_POOL, TAKE_PTR(user_ld), user_gen);
out:
    adc_ldap_conn_close(user_ld);
    free(found.dn);
    free(found.name);
    free(filter);
    *reason = why ? why : strdup("out of memory");
    return outcome;
}
