/* From directory entry to struct adc_user (docs/product.md section 4, rules 1, 4 and 8): which
 * attributes to ask for, the identity (entryUUID, objectGUID, nsUniqueId), names, the
 * enabled/disabled state, and which entries to skip and why. Pure functions on byte values, so
 * the unit tests need no server. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "directory/ldap-source.h"
#include "common/user.h"

/* Longest attribute value taken over (bytes). Longer optional values are dropped, a longer
 * user name or identifier skips the entry: real names and ids are far shorter. */
#define ADC_USER_VALUE_MAX 4096

/* Further values of the email attribute taken over as additional addresses; more are dropped
 * (aliases are a handful; the server limits the size of a user anyway). */
#define ADC_USER_EMAILS_MAX 16

enum adc_user_field {
    ADC_FIELD_NAME,      /* authentication.username_attribute */
    ADC_FIELD_ID,        /* sync.id_attribute when configured */
    ADC_FIELD_ENTRYUUID, /* detected identifiers, in order of preference */
    ADC_FIELD_OBJECTGUID,
    ADC_FIELD_NSUNIQUEID,
    ADC_FIELD_DISPLAY,
    ADC_FIELD_CN, /* display name fallback */
    ADC_FIELD_GIVEN,
    ADC_FIELD_FAMILY,
    ADC_FIELD_EMAIL,
    ADC_FIELD_UAC,           /* AD userAccountControl, bit 0x2 = disabled */
    ADC_FIELD_NSLOCK,        /* 389 nsAccountLock */
    ADC_FIELD_PWDLOCK,       /* OpenLDAP ppolicy pwdAccountLockedTime (operational) */
    ADC_FIELD_UNLOCKTIME,    /* 389 password-policy lockout: accountUnlockTime (operational) */
    ADC_FIELD_PRIMARY_GROUP, /* AD primaryGroupID, read when groups are synced */
    ADC_FIELD_COUNT
};

struct adc_user_map {
    const char *attr[ADC_FIELD_COUNT]; /* directory attribute per field; NULL = not used */
    /* The attributes to request, each once, NULL-terminated (for ldap_search_ext). */
    char *request[ADC_FIELD_COUNT + 1];
    bool id_configured;
};

/* Borrowed bytes of one value (not NUL-terminated). */
struct adc_bytes {
    const char *p;
    size_t n;
};

/* What one entry holds for each field: its first value and how many values there were. */
struct adc_entry_values {
    struct adc_bytes first[ADC_FIELD_COUNT];
    unsigned count[ADC_FIELD_COUNT];
    /* The values of the email attribute after its first, in the server's order (at most
     * ADC_USER_EMAILS_MAX; count[ADC_FIELD_EMAIL] still counts them all). */
    struct adc_bytes more_email[ADC_USER_EMAILS_MAX];
    unsigned n_more_email;
};

/* Fills the map from the configuration (defaults for attributes left unset). The strings are
 * borrowed from cfg and static tables: cfg must outlive the map. */
void adc_user_map_init(struct adc_user_map *m, const struct adc_ldap_config *cfg);

/* The fields an attribute description returned by the server fills, as a bit mask of
 * (1u << enum adc_user_field). Descriptions with options ("cn;lang-de") fill nothing. */
unsigned adc_user_map_fields(const struct adc_user_map *m, const char *attr);

/* Records the values of one attribute in *v for the fields in `mask`. */
void adc_entry_values_add(struct adc_entry_values *v, unsigned mask, const struct adc_bytes *first,
                          unsigned count);

/* Records a further value (the second, third... of the attribute) for the fields in `mask`:
 * only the email field keeps them, as additional addresses. */
void adc_entry_values_add_more(struct adc_entry_values *v, unsigned mask,
                               const struct adc_bytes *value);

/* Whether the entry's state says disabled or locked (rule 4): AD userAccountControl bit 0x2,
 * 389 nsAccountLock=true, 389 accountUnlockTime in the future (or 19700101000000Z, a lockout
 * without expiry), OpenLDAP pwdAccountLockedTime present. `now` is the time to compare with
 * (time(NULL); a parameter so that tests choose it). */
bool adc_user_map_disabled_at(const struct adc_entry_values *v, long long now);
/* adc_user_map_disabled_at(v, time(NULL)). */
bool adc_user_map_disabled(const struct adc_entry_values *v);

/* Maps one entry. The first value of username_attribute names the user, even when there are
 * several (aliases: the password check accepts only this first value, see ldap-auth.c).
 * Returns 0 with *u filled (new strings; u->id_attribute says where the identity came from), 1 when
 * the entry is skipped (*reason a new string saying why, *name the user name when known, else
 * NULL), or -ENOMEM. *id_attr gets the identity attribute used (a static string or the configured
 * name). */
int adc_user_map_entry(const struct adc_user_map *m, const char *dn,
                       const struct adc_entry_values *v, struct adc_user *u, char **name,
                       char **reason, const char **id_attr);
/* The same without an allocation per string: *u's strings are written one after the other
 * into buf (cleared first, its memory kept for the next entry) and lent from there until buf
 * is used again; never adc_user_done such a u. For the enumeration, which copies each user
 * into its list's arena at once: sixteen allocations and frees less per entry
 * (docs/BENCHMARKS.md, issue 21). *name and *reason are new strings as above. */
struct adc_buf;
int adc_user_map_entry_view(const struct adc_user_map *m, const char *dn,
                            const struct adc_entry_values *v, struct adc_buf *buf,
                            struct adc_user *u, char **name, char **reason, const char **id_attr);

/* Formats a 16-byte objectGUID in its canonical string form: the first three groups are stored
 * little-endian (Microsoft's GUID struct), the last two as bytes. out holds 37 bytes. */
void adc_guid_format(const unsigned char guid[16], char out[37]);

/* Whether s[0..n) is well-formed UTF-8 (RFC 3629) without NUL bytes. */
bool adc_utf8_valid(const char *s, size_t n);

/* Rule 8: users sharing a user name (ASCII case-insensitive, as the server matches userName)
 * are all moved out of `users` into the skipped list with a reason. Also sorts `users` by
 * name. Returns the number of users moved, or -ENOMEM. */
int adc_user_map_drop_duplicates(struct adc_dir_users *users, struct adc_skipped_entry **skipped,
                                 size_t *n_skipped, size_t *cap_skipped);

/* Frees a skipped list of n entries and their strings (NULL: nothing). */
void adc_skipped_free(struct adc_skipped_entry *skipped, size_t n);
/* Appends to a skipped list of *n_skipped entries in *cap_skipped places (grown with
 * adc_grow_array), taking ownership of the three strings (even on failure). 0 or -ENOMEM. */
int adc_skipped_append(struct adc_skipped_entry **skipped, size_t *n_skipped, size_t *cap_skipped,
                       char *dn, char *user_name, char *reason);
