/* The probes `adc check` runs before anything is synced (adc.8): whether the search finds a user
 * at all, and which account-lock attributes the service account may read. Each opens its own
 * connection and asks for one entry. */
#include "directory/ldap-source.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "directory/ldap-conn.h"
#include "directory/ldap-search.h"

int adc_ldap_probe(const struct adc_ldap_config *cfg, bool *found, char **err) {
    static char *no_attrs[] = {LDAP_NO_ATTRS, NULL};
    LDAP *ld = NULL;
    LDAPMessage *res = NULL;
    int timeout = adc_ldap_timeout(cfg), r, rc, code = LDAP_OTHER, n = 0;

    r = adc_ldap_open_reader(cfg, &ld, NULL, err);
    if (r < 0)
        return r;
    struct timeval limit = {timeout, 0};
    int msgid;
    const char *filter = cfg->filter ? cfg->filter : "(objectClass=inetOrgPerson)";
    rc = ldap_search_ext(ld, cfg->base_dn ? cfg->base_dn : "", adc_ldap_scope(cfg->scope), filter,
                         no_attrs, 0, NULL, NULL, &limit, 1, &msgid);
    if (rc == LDAP_SUCCESS) {
        struct timeval tv = adc_ldap_remaining(adc_ldap_now() + timeout);
        rc = ldap_result(ld, msgid, LDAP_MSG_ALL, &tv, &res);
        if (rc == 0) {
            *err = adc_strdup_printf("search of '%s' with filter '%s': no answer within %d s "
                                     "(backend.ldap.timeout)",
                                     cfg->base_dn, filter, timeout);
            r = -ETIMEDOUT;
            goto out;
        }
        rc = rc < 0 ? adc_ldap_conn_last_error(ld) : LDAP_SUCCESS;
    }
    if (rc == LDAP_SUCCESS) {
        n = ldap_count_entries(ld, res);
        LDAPMessage *done = ldap_first_message(ld, res);
        while (done && ldap_msgtype(done) != LDAP_RES_SEARCH_RESULT)
            done = ldap_next_message(ld, done);
        rc = done ? ldap_parse_result(ld, done, &code, NULL, NULL, NULL, NULL, 0) : LDAP_OTHER;
    }
    if (rc != LDAP_SUCCESS || (code != LDAP_SUCCESS && code != LDAP_SIZELIMIT_EXCEEDED)) {
        char *why = adc_ldap_conn_strerror(ld, rc != LDAP_SUCCESS ? rc : code);
        *err = adc_strdup_printf("search of '%s' with filter '%s' failed: %s%s", cfg->base_dn,
                                 filter, why ? why : "out of memory",
                                 code == LDAP_NO_SUCH_OBJECT ? "; check backend.ldap.base_dn" : "");
        free(why);
        r = -EIO;
        goto out;
    }
    *found = n > 0;
    r = 0;
out:
    ldap_msgfree(res);
    adc_ldap_conn_close(ld);
    return r;
}

int adc_ldap_probe_lock_access(const struct adc_ldap_config *cfg,
                               const char *unreadable[ADC_LOCK_ATTRIBUTES], size_t *n_unreadable,
                               char **dn, char **err) {
    /* A value of the attribute's syntax each: the answer to a compare is about access and
     * presence, the value matters only in being well-formed. */
    static const struct {
        const char *attr, *value;
    } locks[ADC_LOCK_ATTRIBUTES] = {
        {"userAccountControl", "512"},
        {"nsAccountLock", "true"},
        {"pwdAccountLockedTime", "000001010000Z"},
        {"accountUnlockTime", "19700101000000Z"},
    };
    static char *no_attrs[] = {LDAP_NO_ATTRS, NULL};
    LDAP *ld = NULL;
    LDAPMessage *res = NULL;
    int timeout = adc_ldap_timeout(cfg), r, rc, msgid;

    *n_unreadable = 0;
    *dn = NULL;
    double deadline;
    r = adc_ldap_open_reader(cfg, &ld, &deadline, err);
    if (r < 0)
        return r;
    struct timeval limit = {timeout, 0};
    rc = ldap_search_ext(ld, cfg->base_dn ? cfg->base_dn : "", adc_ldap_scope(cfg->scope),
                         cfg->filter ? cfg->filter : "(objectClass=inetOrgPerson)", no_attrs, 0,
                         NULL, NULL, &limit, 1, &msgid);
    if (rc == LDAP_SUCCESS) {
        struct timeval tv = adc_ldap_remaining(deadline);
        rc = ldap_result(ld, msgid, LDAP_MSG_ALL, &tv, &res) > 0 ? LDAP_SUCCESS : LDAP_TIMEOUT;
    }
    LDAPMessage *e = rc == LDAP_SUCCESS ? ldap_first_entry(ld, res) : NULL;
    char *found = e ? ldap_get_dn(ld, e) : NULL;
    if (!found) {
        r = 0; /* nobody to ask about (adc check reports an empty filter itself) */
        goto out;
    }
    for (size_t i = 0; i < ADC_LOCK_ATTRIBUTES; i++) {
        struct berval v = {strlen(locks[i].value), (char *)locks[i].value};
        LDAPMessage *cres = NULL;
        int code = LDAP_OTHER;
        rc = ldap_compare_ext(ld, found, locks[i].attr, &v, NULL, NULL, &msgid);
        if (rc != LDAP_SUCCESS)
            break;
        struct timeval tv = adc_ldap_remaining(deadline);
        if (ldap_result(ld, msgid, LDAP_MSG_ALL, &tv, &cres) <= 0)
            break;
        if (ldap_parse_result(ld, cres, &code, NULL, NULL, NULL, NULL, 1) != LDAP_SUCCESS)
            break;
        if (code == LDAP_INSUFFICIENT_ACCESS)
            unreadable[(*n_unreadable)++] = locks[i].attr;
    }
    *dn = strdup(found);
    ldap_memfree(found);
    r = *dn ? 0 : -ENOMEM;
    if (r < 0)
        *err = strdup("out of memory");
out:
    ldap_msgfree(res);
    adc_ldap_conn_close(ld);
    return r;
}
