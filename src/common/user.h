/* A user as both sides see it: read from the directory by adc, or held by adc-server. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"

struct adc_user {
    char *user_name;   /* SCIM userName; from backend.ldap.authentication.username_attribute */
    char *external_id; /* immutable directory identifier (entryUUID, objectGUID, nsUniqueId) */
    char *display_name;
    char *given_name;
    char *family_name;
    char *email; /* the primary address */
    /* Further addresses (SCIM emails after the primary one), one per line, in the order the
     * directory returned them; NULL when there are none. From the other values of the
     * directory's email attribute (docs/adc.yaml.5, "Several values"). */
    char *other_emails;
    bool active;
    /* All strings live in one allocation that starts at user_name (adc_user_pack): free only
     * that one. Set on the users of a directory enumeration. */
    bool packed;
    /* Directory side only. */
    /* Active Directory's primaryGroupID: the RID of the user's primary group, a membership the
     * group's member attribute does not list (0: none or not read). Next to the two bools on
     * purpose: it fills their padding (after a pointer it would add 8 bytes to each of the
     * 2,000,000 users a sync of a million holds). */
    unsigned primary_group_rid;
    char *dn;
    /* The attribute that gave external_id ("entryUUID", "nsUniqueId", the configured
     * sync.id_attribute...): borrowed (a static string or the configuration's), never freed. */
    const char *id_attribute;
    /* Cloud side only. */
    char *id;       /* SCIM id */
    char *provider; /* "local" or the owning Application ID */
    char *version;  /* SCIM meta.version (ETag) */
};

/* A directory entry that did not become a user, with the reason (docs/product.md section 4,
 * rule 8): the reader reports it, the plan shows it and keeps its cloud user. */
struct adc_skipped_entry {
    char *dn;
    char *user_name; /* may be NULL */
    char *reason;
};

struct adc_user_list {
    struct adc_user *items;
    size_t n;
    size_t cap;
};

/* Frees the strings of an embedded user (not the struct itself). */
void adc_user_done(struct adc_user *u);
/* Moves the strings of `u` (user_name must be set) into one allocation that starts at
 * user_name, and sets u->packed: a user read from the directory then costs one malloc
 * instead of up to eight, and none of their per-chunk overhead (about 8-24 bytes each; at
 * 1,000,000 users over 100 MB, docs/BENCHMARKS.md). An email equal to the name shares the
 * name's copy. id_attribute stays borrowed. Returns 0,
 * or -ENOMEM with `u` unchanged (still valid, unpacked). A packed user's strings must not be
 * freed or replaced one by one. */
int adc_user_pack(struct adc_user *u);

/* The attributes a sync compares beyond userName, externalId and active, one 64-bit digest each
 * (adc_user_digest): the cloud side of a sync holds these instead of the strings, 32 bytes
 * instead of about 100 per user (docs/BENCHMARKS.md, issue 21). The emails are one digest of
 * the primary address and the further ones together: they are one attribute of an update. */
enum adc_user_digest_field {
    ADC_DIGEST_DISPLAY_NAME,
    ADC_DIGEST_GIVEN_NAME,
    ADC_DIGEST_FAMILY_NAME,
    ADC_DIGEST_EMAILS,
    ADC_DIGEST_COUNT,
};

/* Fills out[] with the digests of u's compared attributes. Absent and empty are the same value
 * (as the cloud stores them), so they digest alike. The hash is keyed with a secret drawn once
 * per process: digests are only ever compared within one run, and nobody can choose a value
 * whose digest equals another's (at worst that would hide a user's own change from the sync). */
void adc_user_digest(const struct adc_user *u, uint64_t out[ADC_DIGEST_COUNT]);

/* A directory user as a sync holds it (issue 21; docs/product.md section 14): 16 bytes and its
 * strings one after the other in the list's arena (no allocation of its own), where a
 * `struct adc_user` takes 104 bytes and an allocation. Read it through adc_dir_user_view, or the
 * accessors; the strings stay where they are for the list's life, so pointers to them can be
 * lent. */
struct adc_dir_user {
    /* The present strings, each NUL-terminated, in the order user_name, external_id, dn,
     * display_name, given_name, family_name, email, other_emails (`present` says which are
     * there; an email equal to the name is not stored twice; an externalId that is a UUID in
     * the canonical lowercase form is stored as its 16 bytes, 21 fewer). */
    const char *strings;
    unsigned primary_group_rid;
    uint8_t present;      /* bit i: string i above is there (else NULL) */
    uint8_t flags;        /* ADC_DIR_* */
    uint8_t id_attribute; /* the attribute that gave the externalId: adc_dir_user_id_attribute */
};

enum {
    ADC_DIR_ACTIVE = 1 << 0,
    ADC_DIR_EMAIL_IS_NAME = 1 << 1,
    ADC_DIR_EXT_UUID = 1 << 2,
};

/* The text of an externalId that a directory user keeps as a UUID's bytes, with its NUL. */
#define ADC_DIR_UUID_TEXT 37

/* s in the canonical lowercase UUID form (8-4-4-4-12 hex digits) into 16 bytes: true, or false
 * for any other text (an uppercase UUID too: its exact text is what a comparison needs, and
 * adc_uuid_format gives lowercase back). */
bool adc_uuid_parse(const char *s, unsigned char out[16]);
/* The canonical lowercase text of u into buf (37 bytes with the NUL); returns buf. */
const char *adc_uuid_format(const unsigned char u[16], char buf[ADC_DIR_UUID_TEXT]);

struct adc_dir_users {
    struct adc_dir_user *items;
    size_t n, cap;
    struct adc_arena arena; /* the users' strings */
};

void adc_dir_users_init(struct adc_dir_users *l);
void adc_dir_users_done(struct adc_dir_users *l);
/* Appends the compact form of `u` (only read: its strings are copied into the arena). Returns
 * the new user (valid until the next append) or NULL when out of memory (nothing appended). */
struct adc_dir_user *adc_dir_users_add(struct adc_dir_users *l, const struct adc_user *u);
/* Fills *out with d's fields, the strings lent from d's arena (the externalId from ext_buf when
 * d keeps it as a UUID's bytes): never adc_user_done a view, nor change its strings. Costs one
 * pass over d's strings (about 130 bytes). */
void adc_dir_user_view(const struct adc_dir_user *d, struct adc_user *out,
                       char ext_buf[ADC_DIR_UUID_TEXT]);
/* One user with its own strings (malloc'd), outside any list: for the few a plan makes itself
 * (a rename cycle's temporary step) and the live path's single users. Returns 0 or -ENOMEM;
 * free with adc_dir_user_free_alone. */
int adc_dir_user_make_alone(struct adc_dir_user *out, const struct adc_user *u);
void adc_dir_user_free_alone(struct adc_dir_user *d);
/* The userName and DN of d (NULL when absent), lent from d's arena, without a whole view. */
static inline const char *adc_dir_user_name(const struct adc_dir_user *d) {
    return d->present & 1 ? d->strings : NULL;
}
const char *adc_dir_user_dn(const struct adc_dir_user *d);
/* d's externalId (NULL when absent): lent from d's arena, or formatted into buf. */
const char *adc_dir_user_external_id(const struct adc_dir_user *d, char buf[ADC_DIR_UUID_TEXT]);
/* Whether the externalId adc_dir_user_external_id gives is lent from the arena (stable as long
 * as the list), not formatted into the caller's buffer. */
static inline bool adc_dir_user_external_id_is_text(const struct adc_dir_user *d) {
    return !(d->flags & ADC_DIR_EXT_UUID);
}
/* The attribute that gave d its externalId ("entryUUID", the configured one...): borrowed as
 * it was given to adc_dir_users_add (a static string or the configuration's). */
const char *adc_dir_user_id_attribute(const struct adc_dir_user *d);

void adc_user_list_init(struct adc_user_list *l);
void adc_user_list_done(struct adc_user_list *l);
/* Appends a zeroed user and returns it, or NULL when out of memory. The pointer is valid until
 * the next append. */
struct adc_user *adc_user_list_append(struct adc_user_list *l);
