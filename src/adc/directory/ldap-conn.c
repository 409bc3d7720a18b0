/* Connections to the directory. Every option is set on the handle, never globally: the agent
 * runs enumerations and password checks in parallel, possibly against differently configured
 * servers after a reload, and libldap's global options are shared by all of them. TLS gets a
 * context of its own per handle (LDAP_OPT_X_TLS_NEWCTX) for the same reason. Every network wait
 * is bounded: the TCP connect by network_timeout, every answer by the caller's deadline. */
#include "directory/ldap-conn.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "directory/ldap-watchdog.h"
#include "directory/tls-diag.h"

double adc_ldap_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct timeval adc_ldap_remaining(double deadline) {
    double left = deadline - adc_ldap_now();
    struct timeval tv = {0, 0};
    if (left > 0) {
        tv.tv_sec = (time_t)left;
        tv.tv_usec = (suseconds_t)((left - (double)tv.tv_sec) * 1e6);
        /* ldap_result() treats {0,0} as "poll once": keep a live deadline non-zero. */
        if (tv.tv_sec == 0 && tv.tv_usec == 0)
            tv.tv_usec = 1;
    }
    return tv;
}

/* libldap initialises its global defaults (reading ldap.conf) on first use without a lock in
 * every path; doing it once here, before any thread opens a connection, keeps that race away. */
static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static void global_init(void) {
    int version = 0;
    (void)ldap_get_option(NULL, LDAP_OPT_PROTOCOL_VERSION, &version);
}

int adc_ldap_conn_last_error(LDAP *ld) {
    int rc = LDAP_OTHER;
    if (!ld || ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &rc) != LDAP_OPT_SUCCESS)
        return LDAP_OTHER;
    return rc;
}

char *adc_ldap_conn_strerror(LDAP *ld, int ldap_rc) {
    char *diag = NULL;
    char *s;
    if (ld)
        (void)ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
    if (diag && *diag)
        s = adc_strdup_printf("%s (%d): %s", ldap_err2string(ldap_rc), ldap_rc, diag);
    else
        s = adc_strdup_printf("%s (%d)", ldap_err2string(ldap_rc), ldap_rc);
    ldap_memfree(diag);
    return s;
}

void adc_ldap_conn_close(LDAP *ld) {
    if (ld)
        (void)ldap_unbind_ext(ld, NULL, NULL);
}

static bool is_ldaps(const char *url) { return url && strncasecmp(url, "ldaps://", 8) == 0; }

static int set_option(LDAP *ld, int option, const void *value, const char *what, char **err) {
    if (ldap_set_option(ld, option, value) == LDAP_OPT_SUCCESS)
        return 0;
    char *why = adc_ldap_conn_strerror(ld, adc_ldap_conn_last_error(ld));
    *err = adc_strdup_printf("cannot set %s: %s", what, why ? why : "out of memory");
    free(why);
    return -EINVAL;
}

/* libldap's own release of a TLS context reference: exported by libldap 2.5 and 2.6
 * (OPENLDAP_2.5 symbol version) but declared only in its private ldap_pvt.h. */
extern void ldap_pvt_tls_ctx_free(void *ctx);

/* The TLS context (CA certificates, verification mode) is shared by all connections with the
 * same settings. A fresh context per connection parses the CA file again every time - with
 * the system bundle that is over a hundred certificates per password check. */
static pthread_mutex_t tls_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    void *ctx; /* one reference held by the cache */
    char *ca_file;
    bool verify;
} tls_cache;

static bool same_str(const char *a, const char *b) {
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

void adc_ldap_conn_tls_flush(void) {
    pthread_mutex_lock(&tls_cache_lock);
    void *ctx = tls_cache.ctx;
    free(tls_cache.ca_file);
    memset(&tls_cache, 0, sizeof(tls_cache));
    pthread_mutex_unlock(&tls_cache_lock);
    if (ctx)
        ldap_pvt_tls_ctx_free(ctx);
}

/* The system's CA certificates when neither adc.yaml (ca_file) nor libldap's ldap.conf
 * (TLS_CACERT, TLS_CACERTDIR) name any: libldap with GnuTLS then trusts nothing. Debian's
 * ldap.conf comes with libldap-common, which a minimal system or the release archive's bin/adc
 * (docs/product.md section 13) does not have; the bundle of ca-certificates is where Debian
 * keeps the system's CAs. NULL when libldap has CAs configured or there is no bundle. */
#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
static const char *system_ca_file;
static pthread_once_t system_ca_once = PTHREAD_ONCE_INIT;

static void find_system_ca(void) {
    char *file = NULL, *dir = NULL;
    ldap_get_option(NULL, LDAP_OPT_X_TLS_CACERTFILE, &file);
    ldap_get_option(NULL, LDAP_OPT_X_TLS_CACERTDIR, &dir);
    if (!file && !dir && access(SYSTEM_CA_BUNDLE, R_OK) == 0)
        system_ca_file = SYSTEM_CA_BUNDLE;
    ldap_memfree(file);
    ldap_memfree(dir);
}

/* Per-handle TLS: verification as configured, the CA file, TLS 1.2 at least, and a context
 * that holds exactly these settings (shared, or new and then shared). */
static int setup_tls(LDAP *ld, const struct adc_ldap_config *cfg, bool verify, char **err) {
    int require = verify ? LDAP_OPT_X_TLS_DEMAND : LDAP_OPT_X_TLS_NEVER;
    int min_proto = LDAP_OPT_X_TLS_PROTOCOL_TLS1_2;
    int is_server = 0;
    int r;

    if ((r = set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &require, "TLS verification", err)) < 0)
        return r;
    pthread_once(&system_ca_once, find_system_ca);
    const char *ca_file = cfg->ca_file ? cfg->ca_file : system_ca_file;
    if (ca_file && (r = set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, ca_file, "the CA file", err)) < 0)
        return r;
    if ((r = set_option(ld, LDAP_OPT_X_TLS_PROTOCOL_MIN, &min_proto, "the TLS version", err)) < 0)
        return r;

    pthread_mutex_lock(&tls_cache_lock);
    bool shared = tls_cache.ctx && tls_cache.verify == verify &&
                  same_str(tls_cache.ca_file, ca_file) &&
                  ldap_set_option(ld, LDAP_OPT_X_TLS_CTX, tls_cache.ctx) == LDAP_OPT_SUCCESS;
    pthread_mutex_unlock(&tls_cache_lock);
    if (shared)
        return 0;

    if (ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &is_server) != LDAP_OPT_SUCCESS) {
        /* With GnuTLS this is where an unreadable or malformed CA file shows up. */
        if (cfg->ca_file)
            *err = adc_strdup_printf("cannot set up TLS with CA file '%s'; check "
                                     "backend.ldap.ca_file (a readable PEM file)",
                                     cfg->ca_file);
        else
            *err = adc_strdup_printf("cannot set up TLS with the system's CA certificates");
        return -EINVAL;
    }
    void *ctx = NULL;
    char *ca_copy = ca_file ? strdup(ca_file) : NULL;
    if (ldap_get_option(ld, LDAP_OPT_X_TLS_CTX, &ctx) != LDAP_OPT_SUCCESS || !ctx ||
        (ca_file && !ca_copy)) {
        free(ca_copy);
        if (ctx)
            ldap_pvt_tls_ctx_free(ctx);
        return 0; /* this handle has its context; it just is not shared */
    }
    pthread_mutex_lock(&tls_cache_lock);
    void *old = tls_cache.ctx;
    free(tls_cache.ca_file);
    tls_cache.ctx = ctx; /* the reference from ldap_get_option is the cache's now */
    tls_cache.ca_file = ca_copy;
    tls_cache.verify = verify;
    pthread_mutex_unlock(&tls_cache_lock);
    if (old)
        ldap_pvt_tls_ctx_free(old);
    return 0;
}

/* A message for a failed connect or StartTLS, with a hint when it looks like the certificate. */
static char *connect_error(const struct adc_ldap_config *cfg, LDAP *ld, int rc, const char *step) {
    char *why = adc_ldap_conn_strerror(ld, rc);
    const char *hint = "";
    bool tls = is_ldaps(cfg->addr) || cfg->starttls;
    if (tls && why &&
        (strcasestr(why, "certificate") || strcasestr(why, "issuer") || strcasestr(why, "verif") ||
         strcasestr(why, "trust")))
        hint = cfg->ca_file ? "; the server's certificate is not trusted by backend.ldap.ca_file"
                            : "; the server's certificate is not trusted: set backend.ldap.ca_file "
                              "to the CA that signed it";
    else if (rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR)
        hint = tls ? "; check backend.ldap.addr and that the server speaks TLS there"
                   : "; check backend.ldap.addr";
    char *s =
        adc_strdup_printf("cannot %s %s: %s%s", step, cfg->addr, why ? why : "out of memory", hint);
    free(why);
    return s;
}

static int start_tls(LDAP *ld, const struct adc_ldap_config *cfg, double deadline, char **err) {
    LDAPMessage *res = NULL;
    int msgid, rc, code = LDAP_OTHER;

    rc = ldap_start_tls(ld, NULL, NULL, &msgid);
    if (rc != LDAP_SUCCESS) {
        *err = connect_error(cfg, ld, rc, "send StartTLS to");
        return -EIO;
    }
    struct timeval tv = adc_ldap_remaining(deadline);
    rc = ldap_result(ld, msgid, LDAP_MSG_ALL, &tv, &res);
    if (rc == 0) {
        *err = adc_strdup_printf("no answer to StartTLS from %s within the timeout", cfg->addr);
        return -ETIMEDOUT;
    }
    if (rc < 0) {
        *err = connect_error(cfg, ld, adc_ldap_conn_last_error(ld), "send StartTLS to");
        return -EIO;
    }
    rc = ldap_parse_result(ld, res, &code, NULL, NULL, NULL, NULL, 1);
    if (rc != LDAP_SUCCESS || code != LDAP_SUCCESS) {
        *err = connect_error(cfg, ld, rc != LDAP_SUCCESS ? rc : code, "start TLS with");
        return -EIO;
    }
    rc = ldap_install_tls(ld);
    if (rc != LDAP_SUCCESS) {
        *err = connect_error(cfg, ld, rc, "start TLS with");
        return -EIO;
    }
    return 0;
}

static int open_handle(const struct adc_ldap_config *cfg, double deadline, bool verify, LDAP **ret,
                       char **err) {
    struct adc_ldap_watch watch;
    bool armed = false;
    LDAP *ld = NULL;
    int r = -EIO, rc;

    pthread_once(&global_once, global_init);
    if (!cfg->addr) {
        *err = strdup("backend.ldap.addr is not set");
        return -EINVAL;
    }
    rc = ldap_initialize(&ld, cfg->addr);
    if (rc != LDAP_SUCCESS) {
        *err = adc_strdup_printf("invalid LDAP address '%s': %s", cfg->addr, ldap_err2string(rc));
        r = -EINVAL;
        goto out;
    }

    int version = LDAP_VERSION3;
    /* Referrals are not chased: libldap would rebind anonymously (or with our credentials) to
     * servers the configuration never named. */
    const void *referrals = cfg->follow_referrals ? LDAP_OPT_ON : LDAP_OPT_OFF;
    struct timeval net = {cfg->network_timeout > 0 ? cfg->network_timeout : 10, 0};
    struct timeval left = adc_ldap_remaining(deadline);
    if (timercmp(&left, &net, <))
        net = left;
    /* The synchronous-call timeout is a safety net only: every wait below has its own bound. */
    struct timeval api = {cfg->timeout > 0 ? cfg->timeout : 30, 0};
    if ((r = set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version, "LDAPv3", err)) < 0 ||
        (r = set_option(ld, LDAP_OPT_REFERRALS, referrals, "referral handling", err)) < 0 ||
        (r = set_option(ld, LDAP_OPT_RESTART, LDAP_OPT_ON, "restart on EINTR", err)) < 0 ||
        (r = set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &net, "the network timeout", err)) < 0 ||
        (r = set_option(ld, LDAP_OPT_TIMEOUT, &api, "the operation timeout", err)) < 0 ||
        (r = set_option(ld, LDAP_OPT_CONNECT_CB, &adc_ldap_watch_callbacks, "the connect callback",
                        err)) < 0)
        goto out;

    if ((is_ldaps(cfg->addr) || cfg->starttls) && (r = setup_tls(ld, cfg, verify, err)) < 0)
        goto out;

    /* Connect now (and for ldaps:// do the handshake) so that an unreachable server or an
     * untrusted certificate is reported as such, not as a failed bind. */
    double net_deadline = adc_ldap_now() + (double)net.tv_sec + (double)net.tv_usec / 1e6;
    adc_ldap_watch_arm(&watch, ld, net_deadline < deadline ? net_deadline : deadline);
    armed = true;
    rc = ldap_connect(ld);
    if (rc != LDAP_SUCCESS) {
        *err = connect_error(cfg, ld, rc, "connect to");
        r = rc == LDAP_TIMEOUT ? -ETIMEDOUT : -EIO;
        goto out;
    }
    if (cfg->starttls && !is_ldaps(cfg->addr) && (r = start_tls(ld, cfg, deadline, err)) < 0)
        goto out;
    armed = false;
    if (adc_ldap_watch_disarm(&watch)) {
        /* cut just as the handshake finished: the connection is unusable */
        *err = adc_strdup_printf("cannot connect to %s: no answer in time", cfg->addr);
        r = -ETIMEDOUT;
        goto out;
    }

    *ret = ld;
    ld = NULL; /* owned by the caller now */
    r = 0;
out:
    if (armed && adc_ldap_watch_disarm(&watch)) {
        free(*err);
        *err = adc_strdup_printf("cannot connect to %s: the server accepted the connection but "
                                 "did not complete the %s handshake in time",
                                 cfg->addr,
                                 cfg->starttls && !is_ldaps(cfg->addr) ? "StartTLS" : "TLS");
        r = -ETIMEDOUT;
    }
    adc_ldap_conn_close(ld);
    return r;
}

int adc_ldap_conn_open(const struct adc_ldap_config *cfg, double deadline, LDAP **ret, char **err) {
    char *probe_err = NULL;
    LDAP *probe = NULL;

    int r = open_handle(cfg, deadline, cfg->tls_verify, ret, err);
    if (r >= 0 || r == -ETIMEDOUT || !(is_ldaps(cfg->addr) || cfg->starttls) || !cfg->tls_verify)
        return r;
    /* libldap (GnuTLS) reports a rejected certificate as a bare connect error. To say what
     * happened, connect once more without verification: if that works, the certificate was the
     * problem. Nothing is sent on the probe connection, it is closed at once. */
    if (open_handle(cfg, deadline, false, &probe, &probe_err) == 0) {
        free(*err);
        /* Which of the two checks failed, from the certificate the server sent. */
        struct berval peer = {0, NULL}; /* filled by libldap: the DER bytes, ours to free */
        char *why = NULL;
        if (ldap_get_option(probe, LDAP_OPT_X_TLS_PEERCERT, &peer) == LDAP_OPT_SUCCESS &&
            peer.bv_val)
            why = adc_tls_diagnose(cfg, (const unsigned char *)peer.bv_val, peer.bv_len);
        ber_memfree(peer.bv_val);
        if (why) {
            *err = adc_strdup_printf("cannot connect to %s: TLS certificate verification failed: "
                                     "%s (tls_verify: false turns verification off, for tests "
                                     "only)",
                                     cfg->addr, why);
            free(why);
            r = -EPERM;
            goto probed;
        }
        *err = adc_strdup_printf(
            "cannot connect to %s: TLS certificate verification failed: the server's certificate "
            "is not signed by %s%s%s, or is not valid for the host name in the address; check "
            "backend.ldap.ca_file (tls_verify: false turns verification off, for tests only)",
            cfg->addr, cfg->ca_file ? "the CA in '" : "a CA the system trusts",
            cfg->ca_file ? cfg->ca_file : "", cfg->ca_file ? "'" : "");
        r = -EPERM;
    }
probed:
    adc_ldap_conn_close(probe);
    free(probe_err);
    return r;
}

/* The response controls of a user's bind into *policy. */
static void read_policy(LDAP *ld, LDAPControl **ctrls, struct adc_bind_policy *policy) {
    LDAPControl *c = ldap_control_find(LDAP_CONTROL_PASSWORDPOLICYRESPONSE, ctrls, NULL);
    if (c) {
        ber_int_t expire = -1, grace = -1;
        LDAPPasswordPolicyError error = PP_noError;
        if (ldap_parse_passwordpolicy_control(ld, c, &expire, &grace, &error) == LDAP_SUCCESS) {
            policy->must_change |= error == PP_changeAfterReset;
            policy->expired |= error == PP_passwordExpired || grace >= 0;
            policy->locked |= error == PP_accountLocked;
            policy->grace = grace;
            policy->expire = expire;
        }
    }
    /* 389-ds: PasswordExpired (its value "0") on a bind with a password an administrator set
     * under passwordMustChange, or an expired one in its grace logins; PasswordExpiring (the
     * seconds left) is a warning. */
    if (ldap_control_find(LDAP_CONTROL_X_PASSWORD_EXPIRED, ctrls, NULL))
        policy->must_change = true;
    c = ldap_control_find(LDAP_CONTROL_X_PASSWORD_EXPIRING, ctrls, NULL);
    if (c && c->ldctl_value.bv_len > 0 && c->ldctl_value.bv_len < 16 && policy->expire < 0) {
        char buf[16];
        memcpy(buf, c->ldctl_value.bv_val, c->ldctl_value.bv_len);
        buf[c->ldctl_value.bv_len] = '\0';
        policy->expire = atoi(buf);
    }
}

/* A simple bind with request controls `sctrls`; the answer's controls go to *policy when
 * policy is not NULL. */
static int bind_with(LDAP *ld, const char *dn, const char *password, double deadline,
                     LDAPControl **sctrls, int *ldap_rc, struct adc_bind_policy *policy) {
    struct berval cred = {password ? strlen(password) : 0, (char *)password};
    LDAPMessage *res = NULL;
    LDAPControl **ctrls = NULL;
    int msgid, rc, code = LDAP_OTHER;

    rc = ldap_sasl_bind(ld, dn ? dn : "", LDAP_SASL_SIMPLE, &cred, sctrls, NULL, &msgid);
    if (rc != LDAP_SUCCESS) {
        *ldap_rc = rc;
        return -EIO;
    }
    struct timeval tv = adc_ldap_remaining(deadline);
    rc = ldap_result(ld, msgid, LDAP_MSG_ALL, &tv, &res);
    if (rc == 0) {
        (void)ldap_abandon_ext(ld, msgid, NULL, NULL);
        *ldap_rc = LDAP_TIMEOUT;
        return -ETIMEDOUT;
    }
    if (rc < 0) {
        *ldap_rc = adc_ldap_conn_last_error(ld);
        return -EIO;
    }
    rc = ldap_parse_result(ld, res, &code, NULL, NULL, NULL, policy ? &ctrls : NULL, 1);
    if (rc != LDAP_SUCCESS) {
        *ldap_rc = rc;
        return -EIO;
    }
    if (policy && ctrls)
        read_policy(ld, ctrls, policy);
    ldap_controls_free(ctrls);
    *ldap_rc = code;
    return 0;
}

int adc_ldap_conn_bind(LDAP *ld, const char *dn, const char *password, double deadline,
                       int *ldap_rc) {
    return bind_with(ld, dn, password, deadline, NULL, ldap_rc, NULL);
}

int adc_ldap_conn_bind_user(LDAP *ld, const char *dn, const char *password, double deadline,
                            int *ldap_rc, struct adc_bind_policy *policy) {
    LDAPControl *pp = NULL;
    *policy = (struct adc_bind_policy){.grace = -1, .expire = -1};
    if (ldap_create_passwordpolicy_control(ld, &pp) != LDAP_SUCCESS) {
        *ldap_rc = LDAP_NO_MEMORY;
        return -ENOMEM;
    }
    pp->ldctl_iscritical = 0;
    LDAPControl *sctrls[] = {pp, NULL};
    int r = bind_with(ld, dn, password, deadline, sctrls, ldap_rc, policy);
    ldap_control_free(pp);
    return r;
}

const char *adc_ldap_ad_bind_reason(const char *diag) {
    static const struct {
        const char *code, *reason;
    } ad[] = {
        {"773", "the password must be changed (Active Directory: data 773, pwdLastSet is 0)"},
        {"532", "the password has expired (Active Directory: data 532)"},
        {"701", "the account has expired (Active Directory: data 701, accountExpires)"},
        {"775", "the account is locked out (Active Directory: data 775)"},
        {"533", "the account is disabled (Active Directory: data 533)"},
    };
    const char *p = diag ? strstr(diag, ", data ") : NULL;
    if (!p)
        return NULL;
    p += 7;
    for (size_t i = 0; i < sizeof(ad) / sizeof(ad[0]); i++)
        if (strncmp(p, ad[i].code, 3) == 0 && (p[3] == ',' || p[3] == '\0' || p[3] == ' '))
            return ad[i].reason;
    return NULL;
}

int adc_ldap_conn_open_service(const struct adc_ldap_config *cfg, double deadline, int op_timeout,
                               const char *timeout_desc, LDAP **ret, char **err) {
    LDAP *ld = NULL;
    int r, code;

    r = adc_ldap_conn_open(cfg, deadline, &ld, err);
    if (r < 0)
        return r;
    double bind_deadline = adc_ldap_now() + op_timeout;
    if (bind_deadline > deadline)
        bind_deadline = deadline;
    r = adc_ldap_conn_bind(ld, cfg->bind_dn, cfg->bind_password, bind_deadline, &code);
    if (r == -ETIMEDOUT) {
        *err = adc_strdup_printf("cannot bind to %s as '%s': no answer within %s", cfg->addr,
                                 cfg->bind_dn ? cfg->bind_dn : "(anonymous)", timeout_desc);
        goto out;
    }
    if (r < 0 || code != LDAP_SUCCESS) {
        char *why = adc_ldap_conn_strerror(ld, code);
        const char *hint = "";
        if (code == LDAP_INVALID_CREDENTIALS || code == LDAP_INVALID_DN_SYNTAX)
            hint = "; check backend.ldap.bind_dn and bind_password";
        else if (code == LDAP_CONFIDENTIALITY_REQUIRED || code == LDAP_STRONG_AUTH_REQUIRED)
            hint = "; the server requires TLS: use ldaps:// or starttls";
        *err = adc_strdup_printf("cannot bind to %s as '%s': %s%s", cfg->addr,
                                 cfg->bind_dn ? cfg->bind_dn : "(anonymous)",
                                 why ? why : "out of memory", hint);
        free(why);
        r = r < 0 ? r : code == LDAP_INVALID_CREDENTIALS ? -EACCES : -EIO;
        goto out;
    }
    *ret = ld;
    ld = NULL; /* owned by the caller now */
    r = 0;
out:
    adc_ldap_conn_close(ld);
    return r;
}
