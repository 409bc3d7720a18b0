/* The cloud users of one sync, as listed from adc-server, in the compact form the plan needs:
 * the SCIM id, userName, externalId and provider as strings, `active`, and a digest of each
 * other compared attribute instead of its text (common/user.h). Their strings live in large
 * blocks (one allocation per 256 KiB instead of several per user) and the owner, nearly always
 * the same Application ID, is stored once.
 *
 * Memory: 80 bytes a user plus its userName (about 23 bytes), where a `struct adc_user` with
 * all the attributes took about 272 (at 1,000,000 users: 103 MB instead of 270 MB;
 * docs/product.md section 14, docs/BENCHMARKS.md). The attributes' text is never needed: a
 * change is written from the directory's side. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/user.h"

/* The text of a UUID in its canonical form, with its NUL. */
#define ADC_UUID_TEXT 37

/* An identifier of a cloud user: its 16 bytes when its text is a UUID in the canonical lowercase
 * form (adc-server's SCIM ids, OpenLDAP's entryUUID, objectGUID as adc writes it), which the
 * text is exactly given back from; else the text itself (in the list's blocks). 16 bytes
 * instead of a pointer and 37 bytes of text. Read with adc_cloud_user_id/_external_id. */
struct adc_cloud_ident {
    union {
        unsigned char uuid[16];
        const char *text; /* NULL: none */
    };
};

struct adc_cloud_user {
    struct adc_cloud_ident id_;        /* SCIM id; never absent in a listed user */
    struct adc_cloud_ident ext_;       /* externalId; may be absent */
    const char *user_name;             /* never NULL in a listed user */
    uint64_t digest[ADC_DIGEST_COUNT]; /* adc_user_digest of the user's attributes */
    uint16_t provider_; /* interned ("local", an Application ID): adc_cloud_user_provider */
    bool active;
    uint8_t ident_uuid; /* bit 0: id_ holds a UUID's bytes; bit 1: ext_ does */
};

/* c's provider ("local" or the owning Application ID; NULL when none). The strings are
 * interned for the process's life (a handful: one per sync configuration), so a user keeps 2
 * bytes instead of an 8-byte pointer, and the pointer can be lent and compared. */
const char *adc_cloud_user_provider(const struct adc_cloud_user *c);

/* The SCIM id and the externalId of c as text: a pointer into the list (valid as long as it)
 * when stored as text, else formatted into buf. The externalId is NULL when absent (the id is
 * never absent in a listed user). */
const char *adc_cloud_user_id(const struct adc_cloud_user *c, char buf[ADC_UUID_TEXT]);
const char *adc_cloud_user_external_id(const struct adc_cloud_user *c, char buf[ADC_UUID_TEXT]);
/* Whether c has an externalId (not empty). */
static inline bool adc_cloud_user_has_external_id(const struct adc_cloud_user *c) {
    return (c->ident_uuid & 2) || (c->ext_.text && *c->ext_.text);
}

struct adc_cloud_users {
    struct adc_cloud_user *items; /* strings point into the blocks */
    size_t n, cap;
    struct adc_arena blocks;
    const char *last_provider; /* the provider of the previous user, and its index */
    uint16_t last_provider_index;
};

void adc_cloud_users_init(struct adc_cloud_users *c);
void adc_cloud_users_done(struct adc_cloud_users *c);
/* Makes room for `n` users in all (an exact size avoids the slack of doubling). -ENOMEM. */
int adc_cloud_users_reserve(struct adc_cloud_users *c, size_t n);
/* Appends the compact form of `u` (its id, userName and externalId copied into the blocks,
 * the provider interned, the other attributes digested). `u` is only read. Returns the new
 * user (valid until the next append) or NULL when out of memory, or with more than 65,535
 * distinct providers in the process (then nothing was appended). */
struct adc_cloud_user *adc_cloud_users_add(struct adc_cloud_users *c, const struct adc_user *u);
/* Copies s[0..len) into the blocks (NUL-terminated). NULL when out of memory. The signature
 * is adc_strdup_fn's, with the list as context. */
char *adc_cloud_users_strdup(void *c, const char *s, size_t len);
/* Forgets every string copied with adc_cloud_users_strdup and keeps one block for the next
 * ones: for a list used as scratch space (its users must not be used any more). */
void adc_cloud_users_clear_strings(struct adc_cloud_users *c);
