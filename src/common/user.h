/* A user as both sides see it: read from the directory by adc, or held by adc-server. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

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
 * 1,000,000 users over 100 MB, docs/BENCHMARKS.md). id_attribute stays borrowed. Returns 0,
 * or -ENOMEM with `u` unchanged (still valid, unpacked). A packed user's strings must not be
 * freed or replaced one by one. */
int adc_user_pack(struct adc_user *u);

void adc_user_list_init(struct adc_user_list *l);
void adc_user_list_done(struct adc_user_list *l);
/* Appends a zeroed user and returns it, or NULL when out of memory. The pointer is valid until
 * the next append. */
struct adc_user *adc_user_list_append(struct adc_user_list *l);
