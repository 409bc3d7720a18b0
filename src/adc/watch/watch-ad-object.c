/* Active Directory live changes: one changed object, as DirSync or the uSNChanged search
 * returned it, to the sink (watch/watch-ad.h). */
#include <errno.h>
#include <ldap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/macros.h"
#include "directory/user-map.h"
#include "watch/watch-ad.h"

/* Attributes DirSync returns with every object, which say nothing changed in it. */
static const char *const ALWAYS[] = {"objectGUID", "instanceType", "parentGUID"};

/* A DN in LDAPv3 form with its attribute types and ASCII letters in lower case, or NULL. */
char *adc_ad_dn_norm(const char *dn) {
    char *out = NULL;
    if (ldap_dn_normalize(dn, LDAP_DN_FORMAT_LDAPV3, &out, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS)
        return NULL;
    char *s = strdup(out);
    ldap_memfree(out);
    for (char *p = s; p && *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return s;
}

/* Where the RDNs of a normalized DN begin: true when one begins at `at`. */
static bool rdn_starts_at(const char *dn, size_t at) {
    if (at == 0)
        return true;
    for (size_t i = 0; dn[i] && i < at; i++) {
        if (dn[i] == '\\' && dn[i + 1])
            i++;
        else if (dn[i] == ',' && i + 1 == at)
            return true;
    }
    return false;
}

/* Whether normalized `dn` is `base` or below it (how far: *depth RDNs, up to 2). */
bool adc_ad_dn_under(const char *dn, const char *base, int *depth) {
    size_t n = strlen(dn), b = strlen(base);
    if (b > n || strcmp(dn + n - b, base) != 0 || (b < n && !rdn_starts_at(dn, n - b)))
        return false;
    *depth = 0;
    for (size_t i = 0; i + b < n && *depth < 2; i++) {
        if (dn[i] == '\\' && dn[i + 1])
            i++;
        else if (dn[i] == ',')
            (*depth)++;
    }
    if (b < n && *depth == 0)
        *depth = 1;
    return true;
}

bool adc_watch_dn_in_scope(const char *base_dn, enum adc_ldap_scope scope, const char *dn) {
    _cleanup_free_ char *b = adc_ad_dn_norm(base_dn ? base_dn : "");
    _cleanup_free_ char *n = adc_ad_dn_norm(dn);
    int depth;
    if (!b || !n || !adc_ad_dn_under(n, b, &depth))
        return false;
    switch (scope) {
    case ADC_SCOPE_BASE: return depth == 0;
    case ADC_SCOPE_ONE: return depth == 1;
    default: return true;
    }
}

static bool in_scope(const struct adc_ad *a, const char *dn) {
    return adc_watch_dn_in_scope(a->cfg->base_dn, a->cfg->scope, dn);
}

/* The identity adc gives the object with this objectGUID: the GUID's string unless
 * sync.id_attribute names another attribute, which is then read (tombstones keep objectSid and
 * sAMAccountName). 0 with *out (a new string), 1 when it has none (*out NULL), or an error. */
static int identity(struct adc_ad *a, const unsigned char guid[16], char **out) {
    const char *attr = a->cfg->id_attribute;
    *out = NULL;
    if (!attr || strcasecmp(attr, "objectGUID") == 0) {
        char s[37];
        adc_guid_format(guid, s);
        return (*out = strdup(s)) ? 0 : -ENOMEM;
    }
    char hex[33], dn[48];
    adc_ad_hex16(guid, hex);
    snprintf(dn, sizeof(dn), "<GUID=%s>", hex);
    char *attrs[] = {(char *)attr, NULL};
    LDAPControl show = {.ldctl_oid = OID_SHOW_DELETED, .ldctl_iscritical = 1};
    LDAPControl *ctrls[] = {&show, NULL};
    LDAPMessage *res = NULL;
    int rc = adc_ad_search_base(a, dn, attrs, ctrls, &res);
    LDAPMessage *e = rc == LDAP_SUCCESS ? ldap_first_entry(a->ld, res) : NULL;
    struct berval **v = e ? ldap_get_values_len(a->ld, e, attr) : NULL;
    if (v && v[0] && v[0]->bv_len > 0 && v[0]->bv_len < 1024)
        *out = strndup(v[0]->bv_val, v[0]->bv_len);
    ldap_value_free_len(v);
    ldap_msgfree(res);
    if (rc != LDAP_SUCCESS && rc != LDAP_NO_SUCH_OBJECT)
        return adc_ad_failed(a, "reading an identity", rc);
    return *out ? 0 : 1;
}

/* A group whose only change is in its members (DirSync with incremental values): the added and
 * removed member DNs go to sink->group_members. -ENOENT when the object changed otherwise, or
 * the sink cannot judge it (a group it does not know yet): then the sink reads the entry. */
static int members_changed(struct adc_ad *a, LDAPMessage *e, const unsigned char guid[16]) {
    if (!a->cfg->groups_filter || !a->sink->group_members || a->kind != ADC_WATCH_DIRSYNC)
        return -ENOENT;
    struct berval **vals[2] = {NULL, NULL}; /* removed (range=0-0), added (range=1-1) */
    BerElement *ber = NULL;
    int r = 0;
    for (char *at = ldap_first_attribute(a->ld, e, &ber); at;
         at = ldap_next_attribute(a->ld, e, ber)) {
        bool known = false;
        for (size_t i = 0; i < ADC_ARRAY_SIZE(ALWAYS) && !known; i++)
            known = strcasecmp(at, ALWAYS[i]) == 0;
        int k = strcasecmp(at, "member;range=0-0") == 0   ? 0
                : strcasecmp(at, "member;range=1-1") == 0 ? 1
                                                          : -1;
        if (k >= 0 && !vals[k])
            vals[k] = ldap_get_values_len(a->ld, e, at);
        else if (!known)
            r = -ENOENT; /* another attribute changed: the whole entry is read */
        ldap_memfree(at);
    }
    ber_free(ber, 0);
    size_t n[2] = {0, 0};
    char **dns[2] = {NULL, NULL};
    char *id = NULL;
    if (r == 0 && !vals[0] && !vals[1])
        r = -ENOENT;
    for (int k = 0; k < 2 && r == 0; k++) {
        while (vals[k] && vals[k][n[k]])
            n[k]++;
        dns[k] = calloc(n[k] + 1, sizeof(char *));
        for (size_t i = 0; dns[k] && i < n[k]; i++)
            if (!(dns[k][i] = strndup(vals[k][i]->bv_val, vals[k][i]->bv_len)))
                r = -ENOMEM;
        if (!dns[k])
            r = -ENOMEM;
    }
    if (r == 0) {
        r = identity(a, guid, &id);
        if (r == 1)
            r = -ENOENT;
    }
    if (r == 0) {
        log_info("live changes: members of group %s: %zu added, %zu removed (incremental values)",
                 id, n[1], n[0]);
        r = a->sink->group_members(a->sink->userdata, id, (const char *const *)dns[1], n[1],
                                   (const char *const *)dns[0], n[0]);
    }
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; dns[k] && i < n[k]; i++)
            free(dns[k][i]);
        free(dns[k]);
        ldap_value_free_len(vals[k]);
    }
    free(id);
    return r;
}

/* One changed object: a tombstone or an entry outside base_dn is a delete of its identity, any
 * other entry is reported by DN (the sink checks the sync filter). */
int adc_ad_on_object(struct adc_ad *a, LDAPMessage *e) {
    struct berval **guid = ldap_get_values_len(a->ld, e, "objectGUID");
    struct berval **del = ldap_get_values_len(a->ld, e, "isDeleted");
    char *dn = ldap_get_dn(a->ld, e);
    char *id = NULL;
    int r = 0;
    if (!guid || !guid[0] || guid[0]->bv_len != 16 || !dn) {
        log_warning("live changes: an object without a 16-byte objectGUID (%s); ignored",
                    dn ? dn : "no DN");
        goto out;
    }
    bool deleted =
        del && del[0] && del[0]->bv_len == 4 && strncasecmp(del[0]->bv_val, "TRUE", 4) == 0;
    if (!deleted && in_scope(a, dn)) {
        r = members_changed(a, e, (const unsigned char *)guid[0]->bv_val);
        if (r == -ENOENT)
            r = a->sink->entry(a->sink->userdata, dn, false);
        goto out;
    }
    const unsigned char *g = (const unsigned char *)guid[0]->bv_val;
    r = identity(a, g, &id);
    if (r == 1) {
        log_info("live changes: '%s' %s but has no identity to delete by; the next full sync "
                 "settles it",
                 dn, deleted ? "was deleted" : "left the base DN");
        r = 0;
    } else if (r == 0) {
        log_info("live changes: '%s' %s", dn, deleted ? "was deleted" : "is outside the base DN");
        r = a->sink->delete_uuid(a->sink->userdata, g, id);
    }
out:
    free(id);
    ldap_memfree(dn);
    ldap_value_free_len(guid);
    ldap_value_free_len(del);
    return r;
}
