/* One connection to the directory: URL, TLS (ldaps:// or StartTLS) with per-connection
 * settings, simple bind, and time bounds on every step. Used by the enumeration (ldap-source.c)
 * and the password check (ldap-auth.c); internal to the agent. */
#pragma once

#include <ldap.h>
#include <stdbool.h>
#include <sys/time.h>

#include "config/config.h"
#include "common/macros.h"

/* The largest LDAP message accepted from a server (bytes). */
#define ADC_LDAP_MESSAGE_MAX (16u * 1024 * 1024)
/* The same on a connection that reads groups (directory/group-read.c): a group entry holds
 * all its members in one message where the server sends no ranges (OpenLDAP, 389-ds), about
 * 45 MB for 1,000,000 members (docs/product.md section 14), more than ADC_LDAP_MESSAGE_MAX.
 * 256 MB: about 5,000,000 members of 45-byte DNs; the values are bounded by count too
 * (10,000,000 in one read). */
#define ADC_LDAP_GROUP_MESSAGE_MAX (256u * 1024 * 1024)

/* Monotonic clock in seconds; deadlines below are absolute values of it. */
double adc_ldap_now(void);
/* Time left until `deadline` as a timeval for ldap_result() (zero when passed). */
struct timeval adc_ldap_remaining(double deadline);

/* Opens a connection to cfg->addr with cfg's TLS settings and finishes the TCP connect, the TLS
 * handshake (ldaps://) and StartTLS (cfg->starttls) before returning, so that failures are
 * reported here with their cause. The TCP connect is bounded by cfg->network_timeout, the whole
 * by `deadline`. Returns 0 and a new handle, or a negative errno and a message in *err. */
int adc_ldap_conn_open(const struct adc_ldap_config *cfg, double deadline, LDAP **ret, char **err);

/* Simple bind. Returns 0 when the server answered (its result code, e.g. LDAP_SUCCESS or
 * LDAP_INVALID_CREDENTIALS, in *ldap_rc), -ETIMEDOUT when it did not answer before `deadline`,
 * or -EIO when the connection failed (*ldap_rc then holds libldap's code). */
int adc_ldap_conn_bind(LDAP *ld, const char *dn, const char *password, double deadline,
                       int *ldap_rc);

/* What the server said about the password in a user's bind (its response controls). */
struct adc_bind_policy {
    bool must_change; /* ppolicy changeAfterReset (pwdReset with pwdMustChange), or 389's
                       * PasswordExpired control (2.16.840.1.113730.3.4.4) */
    bool expired;     /* ppolicy passwordExpired, or a grace login (the password has expired) */
    bool locked;      /* ppolicy accountLocked */
    int grace;        /* grace logins left (ppolicy), -1 when not said */
    int expire;       /* seconds until the password expires (warning only), -1 when not said */
};

/* A user's simple bind that asks for the password-policy response control (request control
 * 1.3.6.1.4.1.42.2.27.8.5.1, not critical: servers without ppolicy ignore it) and reads the
 * answer's controls into *policy: the ppolicy response, and 389-ds' PasswordExpired and
 * PasswordExpiring controls (sent whether asked or not). Returns as adc_ldap_conn_bind. */
int adc_ldap_conn_bind_user(LDAP *ld, const char *dn, const char *password, double deadline,
                            int *ldap_rc, struct adc_bind_policy *policy);

/* Active Directory's reason for a refused bind, from the "data XXX" of its diagnostic message
 * ("80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 773, v4563"):
 * "the password must be changed (...data 773)" for 773, likewise 532 (password expired), 701
 * (account expired), 775 (account locked), 533 (account disabled); NULL for anything else.
 * A static string. */
const char *adc_ldap_ad_bind_reason(const char *diagnostic);

/* Opens a connection and binds as cfg->bind_dn (anonymous when bind_dn is not set); the bind
 * waits at most op_timeout seconds, everything ends by `deadline`. On failure *err says where
 * and why, naming bind_dn for a refused bind; `timeout_desc` names the bound that ran out
 * ("30 s (backend.ldap.timeout)"). */
int adc_ldap_conn_open_service(const struct adc_ldap_config *cfg, double deadline, int op_timeout,
                               const char *timeout_desc, LDAP **ret, char **err);

/* "Can't contact LDAP server (-1): <server's diagnostic message>" for a result code on `ld`
 * (ld may be NULL). A new string, or NULL when out of memory. */
char *adc_ldap_conn_strerror(LDAP *ld, int ldap_rc);

/* The libldap result code stored on the handle by the last failed call. */
int adc_ldap_conn_last_error(LDAP *ld);

void adc_ldap_conn_close(LDAP *ld);

/* Drops the shared TLS context, so that the next connection reads the CA file again (after a
 * configuration reload). Connections that use it keep their reference. */
void adc_ldap_conn_tls_flush(void);
