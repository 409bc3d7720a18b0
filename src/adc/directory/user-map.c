/* Entry -> user. The rules (docs/product.md section 4):
 * - the user name is the first value of username_attribute; none, or bytes that are not UTF-8,
 *   make the entry unusable (rule 8). Several values are aliases (a common `mail` layout in 389
 *   and OpenLDAP): the first one the server returns names the user, and the password check
 *   (ldap-auth.c) signs in only that name, so one person is one cloud user whichever alias the
 *   directory also lists;
 * - the identity is the configured id_attribute, else the first of entryUUID, objectGUID,
 *   nsUniqueId the entry has (rule 1); each user records which one it was (389-ds 2.x gives
 *   entryUUID only to entries added since its entryUUID plugin runs: older ones fall back);
 * - other attributes take their first value; a value that is not UTF-8 or too long is dropped;
 *   the email attribute's further values become additional addresses;
 * - disabled: AD userAccountControl bit 0x2, 389 nsAccountLock=true, 389 password-policy
 *   lockout (accountUnlockTime), OpenLDAP ppolicy pwdAccountLockedTime present (rule 4). */
#include "directory/user-map.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "directory/ldap-conn.h"
#include "common/buf.h"
#include "common/macros.h"

static const char *default_or(const char *value, const char *fallback) {
    return value && *value ? value : fallback;
}

void adc_user_map_init(struct adc_user_map *m, const struct adc_ldap_config *cfg) {
    memset(m, 0, sizeof(*m));
    m->attr[ADC_FIELD_NAME] = cfg->username_attribute;
    m->id_configured = cfg->id_attribute && *cfg->id_attribute;
    if (m->id_configured) {
        m->attr[ADC_FIELD_ID] = cfg->id_attribute;
    } else {
        m->attr[ADC_FIELD_ENTRYUUID] = "entryUUID";
        m->attr[ADC_FIELD_OBJECTGUID] = "objectGUID";
        m->attr[ADC_FIELD_NSUNIQUEID] = "nsUniqueId";
    }
    m->attr[ADC_FIELD_DISPLAY] = default_or(cfg->display_name_attribute, "displayName");
    m->attr[ADC_FIELD_CN] = "cn";
    m->attr[ADC_FIELD_GIVEN] = default_or(cfg->given_name_attribute, "givenName");
    m->attr[ADC_FIELD_FAMILY] = default_or(cfg->family_name_attribute, "sn");
    m->attr[ADC_FIELD_EMAIL] = default_or(cfg->email_attribute, "mail");
    m->attr[ADC_FIELD_UAC] = "userAccountControl";
    m->attr[ADC_FIELD_NSLOCK] = "nsAccountLock";
    /* Operational: servers return it only when asked by name. */
    m->attr[ADC_FIELD_PWDLOCK] = "pwdAccountLockedTime";
    m->attr[ADC_FIELD_UNLOCKTIME] = "accountUnlockTime";
    if (cfg->groups_filter)
        m->attr[ADC_FIELD_PRIMARY_GROUP] = "primaryGroupID";

    size_t n = 0;
    for (size_t f = 0; f < ADC_FIELD_COUNT; f++) {
        const char *a = m->attr[f];
        if (!a)
            continue;
        bool seen = false;
        for (size_t i = 0; i < n && !seen; i++)
            seen = strcasecmp(m->request[i], a) == 0;
        if (!seen)
            m->request[n++] = (char *)a; /* ldap_search_ext wants char **, never writes */
    }
    m->request[n] = NULL;
}

unsigned adc_user_map_fields(const struct adc_user_map *m, const char *attr) {
    unsigned mask = 0;
    /* Called for every attribute of every entry: the first letter rules out most fields
     * before the full case-insensitive comparison. */
    int first = tolower((unsigned char)attr[0]);
    for (size_t f = 0; f < ADC_FIELD_COUNT; f++)
        if (m->attr[f] && tolower((unsigned char)m->attr[f][0]) == first &&
            strcasecmp(m->attr[f], attr) == 0)
            mask |= 1u << f;
    return mask;
}

void adc_entry_values_add(struct adc_entry_values *v, unsigned mask, const struct adc_bytes *first,
                          unsigned count) {
    for (size_t f = 0; f < ADC_FIELD_COUNT; f++) {
        if (!(mask & (1u << f)))
            continue;
        /* An attribute returned twice (it cannot be, but a broken server could) adds up. */
        if (v->count[f] == 0)
            v->first[f] = *first;
        v->count[f] += count;
    }
}

void adc_entry_values_add_more(struct adc_entry_values *v, unsigned mask,
                               const struct adc_bytes *value) {
    if ((mask & (1u << ADC_FIELD_EMAIL)) && v->n_more_email < ADC_USER_EMAILS_MAX)
        v->more_email[v->n_more_email++] = *value;
}

bool adc_utf8_valid(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + len > n)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        /* overlong forms, UTF-16 surrogates, beyond U+10FFFF */
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

void adc_guid_format(const unsigned char g[16], char out[37]) {
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", g[3],
             g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12], g[13],
             g[14], g[15]);
}

/* A usable text value of a field: present, non-empty, UTF-8, not too long. */
static bool text_ok(const struct adc_entry_values *v, enum adc_user_field f) {
    const struct adc_bytes *b = &v->first[f];
    return v->count[f] > 0 && b->n > 0 && b->n <= ADC_USER_VALUE_MAX && adc_utf8_valid(b->p, b->n);
}

/* A copy of p[0..n) and a NUL at the end of b, which was reserved for all of an entry's
 * strings (adc_user_map_entry_view): the pointers handed out stay valid. NULL if b had to move
 * (it cannot, reserved) or failed. */
static char *put(struct adc_buf *b, const char *p, size_t n) {
    char *before = b->data, *d = b->data ? b->data + b->len : NULL;
    if (adc_buf_append(b, p, n) < 0 || adc_buf_append(b, "", 1) < 0 || b->data != before)
        return NULL;
    return d;
}

static int dup_field(const struct adc_entry_values *v, enum adc_user_field f, struct adc_buf *b,
                     char **ret) {
    *ret = NULL;
    if (!text_ok(v, f))
        return 0;
    *ret = put(b, v->first[f].p, v->first[f].n);
    return *ret ? 0 : -ENOMEM;
}

/* 389's accountUnlockTime (GeneralizedTime, "YYYYMMDDHHMMSSZ"): when the lockout ends. The
 * server sets it when the retry limit (passwordMaxFailure) is reached and leaves it behind when
 * the lockout has expired; "19700101000000Z" is a lockout that never expires
 * (passwordUnlock: off). Returns whether it still locks at `now`. */
static bool unlock_time_locks(const struct adc_bytes *b, long long now) {
    char buf[32];
    struct tm tm = {0};
    if (b->n < 15 || b->n >= sizeof(buf))
        return true; /* unreadable state: fail closed */
    memcpy(buf, b->p, b->n);
    buf[b->n] = '\0';
    if (strncmp(buf, "19700101000000", 14) == 0)
        return true;
    char *end = strptime(buf, "%Y%m%d%H%M%S", &tm);
    if (!end || (*end != 'Z' && *end != '.'))
        return true;
    return (long long)timegm(&tm) > now;
}

bool adc_user_map_disabled(const struct adc_entry_values *v) {
    return adc_user_map_disabled_at(v, (long long)time(NULL));
}

bool adc_user_map_disabled_at(const struct adc_entry_values *v, long long now) {
    if (v->count[ADC_FIELD_UAC] > 0) {
        const struct adc_bytes *b = &v->first[ADC_FIELD_UAC];
        char buf[32];
        char *end = NULL;
        if (b->n == 0 || b->n >= sizeof(buf))
            return true; /* unreadable state: fail closed */
        memcpy(buf, b->p, b->n);
        buf[b->n] = '\0';
        errno = 0;
        long long uac = strtoll(buf, &end, 10);
        if (errno || *end)
            return true;
        /* AD stores the flags as a signed 32-bit integer; bit 0x2 is ACCOUNTDISABLE. */
        if ((uint32_t)uac & 0x2)
            return true;
    }
    if (v->count[ADC_FIELD_NSLOCK] > 0) {
        const struct adc_bytes *b = &v->first[ADC_FIELD_NSLOCK];
        if (b->n == 4 && strncasecmp(b->p, "true", 4) == 0)
            return true;
    }
    /* ppolicy sets pwdAccountLockedTime when it locks an account and removes it on unlock;
     * "000001010000Z" is the administrative, permanent lock. */
    if (v->count[ADC_FIELD_PWDLOCK] > 0)
        return true;
    if (v->count[ADC_FIELD_UNLOCKTIME] > 0 &&
        unlock_time_locks(&v->first[ADC_FIELD_UNLOCKTIME], now))
        return true;
    return false;
}

/* The identity: returns 0 with *ret (new string) and *attr, 1 when there is none usable (with
 * *reason), -ENOMEM. */
static int map_identity(const struct adc_user_map *m, const struct adc_entry_values *v,
                        struct adc_buf *buf, char **ret, const char **attr, char **reason) {
    static const enum adc_user_field detected[] = {ADC_FIELD_ENTRYUUID, ADC_FIELD_OBJECTGUID,
                                                   ADC_FIELD_NSUNIQUEID};
    enum adc_user_field f = ADC_FIELD_COUNT;

    if (m->id_configured) {
        f = ADC_FIELD_ID;
    } else {
        for (size_t i = 0; i < ADC_ARRAY_SIZE(detected) && f == ADC_FIELD_COUNT; i++)
            if (v->count[detected[i]] > 0)
                f = detected[i];
    }
    if (f == ADC_FIELD_COUNT || v->count[f] == 0) {
        *reason = m->id_configured
                      ? adc_strdup_printf("no value of '%s' (sync.id_attribute) to identify it",
                                          m->attr[ADC_FIELD_ID])
                      : strdup("no identifier (entryUUID, objectGUID or nsUniqueId)");
        return *reason ? 1 : -ENOMEM;
    }
    if (v->count[f] > 1) {
        *reason = adc_strdup_printf("%u values of the identifier '%s'", v->count[f], m->attr[f]);
        return *reason ? 1 : -ENOMEM;
    }
    const struct adc_bytes *b = &v->first[f];
    if (strcasecmp(m->attr[f], "objectGUID") == 0) {
        if (b->n != 16) {
            *reason = adc_strdup_printf("objectGUID is %zu bytes long, not 16", b->n);
            return *reason ? 1 : -ENOMEM;
        }
        char s[37];
        adc_guid_format((const unsigned char *)b->p, s);
        *ret = put(buf, s, strlen(s));
    } else {
        if (!text_ok(v, f)) {
            *reason = adc_strdup_printf("the identifier '%s' is empty, too long or not UTF-8",
                                        m->attr[f]);
            return *reason ? 1 : -ENOMEM;
        }
        *ret = put(buf, b->p, b->n);
    }
    if (!*ret)
        return -ENOMEM;
    *attr = m->attr[f];
    return 0;
}

/* The further values of the email attribute as one string in buf, one address per line: usable
 * text only (UTF-8, no line breaks, not too long), none twice, not the primary address again;
 * *ret NULL when none is left. */
static int join_more_emails(const struct adc_entry_values *v, const char *primary,
                            struct adc_buf *buf, char **ret) {
    char *before = buf->data, *s = buf->data ? buf->data + buf->len : NULL;
    size_t n = 0;
    *ret = NULL;
    for (unsigned i = 0; i < v->n_more_email; i++) {
        const struct adc_bytes *b = &v->more_email[i];
        if (b->n == 0 || b->n > ADC_USER_VALUE_MAX || memchr(b->p, '\n', b->n) ||
            memchr(b->p, '\r', b->n) || !adc_utf8_valid(b->p, b->n) ||
            (strlen(primary) == b->n && strncasecmp(primary, b->p, b->n) == 0))
            continue;
        bool seen = false;
        for (unsigned k = 0; k < i && !seen; k++)
            seen = v->more_email[k].n == b->n && strncasecmp(v->more_email[k].p, b->p, b->n) == 0;
        if (seen)
            continue;
        if ((n && adc_buf_append(buf, "\n", 1) < 0) || adc_buf_append(buf, b->p, b->n) < 0)
            return -ENOMEM;
        n += (n ? 1 : 0) + b->n;
    }
    if (n == 0)
        return 0;
    if (adc_buf_append(buf, "", 1) < 0 || buf->data != before)
        return -ENOMEM; /* reserved: cannot move */
    *ret = s;
    return 0;
}

/* Room for every string of the entry at once (put): the pointers into buf then stay valid. */
static size_t strings_size(const struct adc_entry_values *v, const char *dn) {
    size_t size = strlen(dn) + 1 + 37; /* 37: an objectGUID's text */
    for (size_t f = 0; f < ADC_FIELD_COUNT; f++)
        if (v->count[f] > 0)
            size += v->first[f].n + 1;
    for (unsigned i = 0; i < v->n_more_email; i++)
        size += v->more_email[i].n + 1;
    return size;
}

int adc_user_map_entry_view(const struct adc_user_map *m, const char *dn,
                            const struct adc_entry_values *v, struct adc_buf *buf,
                            struct adc_user *u, char **name, char **reason, const char **id_attr) {
    struct adc_user tmp = {0};
    const char *name_attr = m->attr[ADC_FIELD_NAME];
    const struct adc_bytes *nb = &v->first[ADC_FIELD_NAME];
    int r;

    *name = NULL;
    *reason = NULL;
    if (v->count[ADC_FIELD_NAME] == 0) {
        *reason = adc_strdup_printf("no value of '%s' (username_attribute)", name_attr);
        return *reason ? 1 : -ENOMEM;
    }
    if (!text_ok(v, ADC_FIELD_NAME)) {
        *reason = adc_strdup_printf("the value of '%s' (username_attribute) is empty, longer than "
                                    "%d bytes or not UTF-8",
                                    name_attr, ADC_USER_VALUE_MAX);
        return *reason ? 1 : -ENOMEM;
    }
    adc_buf_clear(buf);
    if (adc_buf_reserve(buf, strings_size(v, dn)) < 0 || !(tmp.user_name = put(buf, nb->p, nb->n)))
        return -ENOMEM;

    r = map_identity(m, v, buf, &tmp.external_id, id_attr, reason);
    if (r != 0) {
        if (r == 1 && !(*name = strdup(tmp.user_name))) {
            free(*reason);
            *reason = NULL;
            r = -ENOMEM;
        }
        return r;
    }
    if ((r = dup_field(v, ADC_FIELD_DISPLAY, buf, &tmp.display_name)) < 0 ||
        (!tmp.display_name && (r = dup_field(v, ADC_FIELD_CN, buf, &tmp.display_name)) < 0) ||
        (r = dup_field(v, ADC_FIELD_GIVEN, buf, &tmp.given_name)) < 0 ||
        (r = dup_field(v, ADC_FIELD_FAMILY, buf, &tmp.family_name)) < 0 ||
        (r = dup_field(v, ADC_FIELD_EMAIL, buf, &tmp.email)) < 0 ||
        (tmp.email && (r = join_more_emails(v, tmp.email, buf, &tmp.other_emails)) < 0))
        return r;
    if (!(tmp.dn = put(buf, dn, strlen(dn))))
        return -ENOMEM;
    tmp.active = !adc_user_map_disabled(v);
    tmp.id_attribute = *id_attr;
    if (v->count[ADC_FIELD_PRIMARY_GROUP] == 1 && v->first[ADC_FIELD_PRIMARY_GROUP].n < 12) {
        char rid[12];
        memcpy(rid, v->first[ADC_FIELD_PRIMARY_GROUP].p, v->first[ADC_FIELD_PRIMARY_GROUP].n);
        rid[v->first[ADC_FIELD_PRIMARY_GROUP].n] = '\0';
        char *end;
        unsigned long n = strtoul(rid, &end, 10);
        if (end != rid && !*end && n <= 0xffffffffUL)
            tmp.primary_group_rid = (unsigned)n;
    }
    *u = tmp;
    return 0;
}

int adc_user_map_entry(const struct adc_user_map *m, const char *dn,
                       const struct adc_entry_values *v, struct adc_user *u, char **name,
                       char **reason, const char **id_attr) {
    struct adc_buf buf;
    struct adc_user view, tmp;
    adc_buf_init(&buf, 0);
    int r = adc_user_map_entry_view(m, dn, v, &buf, &view, name, reason, id_attr);
    if (r != 0)
        goto out;
    /* Each string a copy of its own (adc_user_done frees them one by one). */
    tmp = view;
    char **own[] = {&tmp.user_name,   &tmp.external_id, &tmp.display_name, &tmp.given_name,
                    &tmp.family_name, &tmp.email,       &tmp.other_emails, &tmp.dn};
    for (size_t i = 0; i < ADC_ARRAY_SIZE(own); i++)
        *own[i] = NULL;
    const char *from[] = {view.user_name,   view.external_id, view.display_name, view.given_name,
                          view.family_name, view.email,       view.other_emails, view.dn};
    for (size_t i = 0; i < ADC_ARRAY_SIZE(own); i++)
        if (from[i] && !(*own[i] = strdup(from[i]))) {
            adc_user_done(&tmp);
            r = -ENOMEM;
            goto out;
        }
    *u = tmp;
out:
    adc_buf_done(&buf);
    return r;
}

void adc_skipped_free(struct adc_skipped_entry *skipped, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(skipped[i].dn);
        free(skipped[i].user_name);
        free(skipped[i].reason);
    }
    free(skipped);
}

int adc_skipped_append(struct adc_skipped_entry **skipped, size_t *n_skipped, size_t *cap_skipped,
                       char *dn, char *user_name, char *reason) {
    size_t n = *n_skipped;
    if (adc_grow_array(*skipped, *cap_skipped, n, 8) < 0) {
        free(dn);
        free(user_name);
        free(reason);
        return -ENOMEM;
    }
    (*skipped)[n] = (struct adc_skipped_entry){.dn = dn, .user_name = user_name, .reason = reason};
    *n_skipped = n + 1;
    return 0;
}

static int cmp_name(const void *a, const void *b) {
    const struct adc_dir_user *x = a, *y = b;
    int c = strcasecmp(adc_dir_user_name(x), adc_dir_user_name(y));
    /* Then by DN, so the order (and the output) does not depend on the server's order. */
    if (c)
        return c;
    const char *dx = adc_dir_user_dn(x), *dy = adc_dir_user_dn(y);
    return strcmp(dx ? dx : "", dy ? dy : "");
}

int adc_user_map_drop_duplicates(struct adc_dir_users *users, struct adc_skipped_entry **skipped,
                                 size_t *n_skipped, size_t *cap_skipped) {
    size_t n = users->n, kept = 0;
    int moved = 0;

    if (n > 1)
        qsort(users->items, n, sizeof(users->items[0]), cmp_name);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && strcasecmp(adc_dir_user_name(&users->items[i]),
                                   adc_dir_user_name(&users->items[j])) == 0)
            j++;
        if (j - i == 1) {
            if (kept != i)
                users->items[kept] = users->items[i];
            kept++;
        } else {
            for (size_t k = i; k < j; k++) {
                const struct adc_dir_user *u = &users->items[k];
                const char *u_name = adc_dir_user_name(u), *u_dn = adc_dir_user_dn(u);
                /* The DN says which entry this line is about (the name is the same on all). */
                char *reason = adc_strdup_printf("%zu entries share the user name '%s' "
                                                 "(compared case-insensitively): duplicate; this "
                                                 "one is %s",
                                                 j - i, u_name, u_dn ? u_dn : "(no DN)");
                /* The list's arena keeps the strings: copy the two the skip line keeps (the
                 * user's own place in the arena is lost space until the list is freed). */
                char *dn = u_dn ? strdup(u_dn) : NULL;
                char *name = strdup(u_name);
                int r = adc_skipped_append(skipped, n_skipped, cap_skipped, dn, name, reason);
                if (r < 0) {
                    /* Keep the list consistent: drop the rest of this group too. */
                    for (size_t l = j; l < n; l++)
                        users->items[kept++] = users->items[l];
                    users->n = kept;
                    return r;
                }
                moved++;
            }
        }
        i = j;
    }
    users->n = kept;
    return moved;
}
