#include "common/user.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "common/buf.h"

void adc_user_done(struct adc_user *u) {
    if (!u)
        return;
    if (u->packed) {
        free(u->user_name); /* the block; NULL when its owner took it */
        memset(u, 0, sizeof(*u));
        return;
    }
    free(u->user_name);
    free(u->external_id);
    free(u->display_name);
    free(u->given_name);
    free(u->family_name);
    free(u->email);
    free(u->other_emails);
    free(u->dn);
    free(u->id);
    free(u->provider);
    free(u->version);
    memset(u, 0, sizeof(*u));
}

int adc_user_pack(struct adc_user *u) {
    char **fields[] = {&u->user_name,   &u->external_id, &u->display_name, &u->given_name,
                       &u->family_name, &u->email,       &u->other_emails, &u->dn,
                       &u->id,          &u->provider,    &u->version};
    size_t size = 0;
    if (u->packed || !u->user_name)
        return 0;
    /* With username_attribute: mail (the usual choice) the name is the primary address: one
     * copy for both (about 23 bytes a user). */
    bool share_email = u->email && u->email != u->user_name && strcmp(u->email, u->user_name) == 0;
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        if (*fields[i] && !(share_email && fields[i] == &u->email))
            size += strlen(*fields[i]) + 1;
    char *block = malloc(size), *p = block;
    if (!block)
        return -ENOMEM;
    if (share_email) {
        free(u->email);
        u->email = NULL; /* set to the name's copy below */
    }
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (!*fields[i])
            continue;
        size_t len = strlen(*fields[i]) + 1;
        memcpy(p, *fields[i], len);
        free(*fields[i]);
        *fields[i] = p; /* user_name first: the block starts with it */
        p += len;
    }
    if (share_email)
        u->email = u->user_name;
    u->packed = true;
    return 0;
}

static uint64_t digest_key;
static pthread_once_t digest_once = PTHREAD_ONCE_INIT;

static void digest_key_init(void) {
    uint64_t k = 0;
    if (getrandom(&k, sizeof(k), 0) != (ssize_t)sizeof(k)) {
        /* No entropy yet (early boot): the clock still keeps the key from being known in
         * advance; a weaker key only makes a chosen collision possible, never a wrong write. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        k = (uint64_t)ts.tv_sec * 1000000007ULL ^ (uint64_t)ts.tv_nsec;
    }
    digest_key = k | 1;
}

/* FNV-1a over the bytes from a keyed start, then murmur3's finalizer: cheap for the short
 * strings of a user (about 60 bytes in all), and well spread in all 64 bits. */
static uint64_t digest_bytes(uint64_t h, const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    return h;
}

static uint64_t digest_final(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

void adc_user_digest(const struct adc_user *u, uint64_t out[ADC_DIGEST_COUNT]) {
    pthread_once(&digest_once, digest_key_init);
    uint64_t start = 0xcbf29ce484222325ULL ^ digest_key;
    out[ADC_DIGEST_DISPLAY_NAME] = digest_final(digest_bytes(start, u->display_name));
    out[ADC_DIGEST_GIVEN_NAME] = digest_final(digest_bytes(start, u->given_name));
    out[ADC_DIGEST_FAMILY_NAME] = digest_final(digest_bytes(start, u->family_name));
    /* A byte no string holds between the two: ("a", "") and ("", "a") differ. */
    uint64_t h = digest_bytes(start, u->email);
    h = (h ^ 0x100) * 0x100000001b3ULL;
    out[ADC_DIGEST_EMAILS] = digest_final(digest_bytes(h, u->other_emails));
}

void adc_user_list_init(struct adc_user_list *l) { memset(l, 0, sizeof(*l)); }

void adc_user_list_done(struct adc_user_list *l) {
    for (size_t i = 0; i < l->n; i++)
        adc_user_done(&l->items[i]);
    free(l->items);
    memset(l, 0, sizeof(*l));
}

struct adc_user *adc_user_list_append(struct adc_user_list *l) {
    if (adc_grow_array(l->items, l->cap, l->n, 64) < 0)
        return NULL;
    struct adc_user *u = &l->items[l->n++];
    memset(u, 0, sizeof(*u));
    return u;
}

/* ---- compact directory users ------------------------------------------------------------ */

#define DIR_STRINGS 8
#define DIR_EXT 1 /* the position of the externalId among the strings */

/* The identity attributes' names, interned: a user keeps the index (1 byte, not an 8-byte
 * pointer). They are a handful (entryUUID, objectGUID, nsUniqueId, the configured one); slots
 * are only ever added, under the lock, and published after they are written. */
#define ID_ATTRS 32
static const char *id_attrs[ID_ATTRS];
static unsigned n_id_attrs;
static pthread_mutex_t id_attrs_lock = PTHREAD_MUTEX_INITIALIZER;

static uint8_t id_attr_index(const char *name) {
    unsigned n = __atomic_load_n(&n_id_attrs, __ATOMIC_ACQUIRE);
    for (unsigned i = 0; i < n; i++)
        if (id_attrs[i] == name)
            return (uint8_t)i;
    pthread_mutex_lock(&id_attrs_lock);
    unsigned i = 0;
    for (n = n_id_attrs; i < n && id_attrs[i] != name; i++)
        ;
    if (i == n && n < ID_ATTRS) {
        id_attrs[n] = name;
        __atomic_store_n(&n_id_attrs, n + 1, __ATOMIC_RELEASE);
    } else if (i == n) {
        /* More distinct strings than any configuration has: compare by text, then reuse. */
        for (i = 0; i < n && !(name && id_attrs[i] && strcmp(id_attrs[i], name) == 0); i++)
            ;
        if (i == n)
            i = 0;
    }
    pthread_mutex_unlock(&id_attrs_lock);
    return (uint8_t)i;
}

const char *adc_dir_user_id_attribute(const struct adc_dir_user *d) {
    return d->id_attribute < __atomic_load_n(&n_id_attrs, __ATOMIC_ACQUIRE)
               ? id_attrs[d->id_attribute]
               : NULL;
}

void adc_dir_users_init(struct adc_dir_users *l) { memset(l, 0, sizeof(*l)); }

void adc_dir_users_done(struct adc_dir_users *l) {
    if (!l)
        return;
    adc_arena_done(&l->arena);
    free(l->items);
    memset(l, 0, sizeof(*l));
}

/* Lowercase only, unlike adc_hex_digit: only the canonical form is stored as bytes. */
static int hex(char ch) {
    return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

bool adc_uuid_parse(const char *s, unsigned char out[16]) {
    if (strlen(s) != 36)
        return false;
    size_t k = 0;
    for (size_t i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
            continue;
        }
        int hi = hex(s[i]), lo = hi < 0 ? -1 : hex(s[i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[k++] = (unsigned char)(hi << 4 | lo);
        i++;
    }
    return true;
}

const char *adc_uuid_format(const unsigned char u[16], char buf[ADC_DIR_UUID_TEXT]) {
    static const char digits[] = "0123456789abcdef";
    char *p = buf;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = digits[u[i] >> 4];
        *p++ = digits[u[i] & 15];
    }
    *p = '\0';
    return buf;
}

/* u's strings in the stored order; email is left out (NULL) when it equals the name. */
static void strings_of(const struct adc_user *u, bool email_is_name, const char *s[DIR_STRINGS]) {
    s[0] = u->user_name;
    s[1] = u->external_id;
    s[2] = u->dn;
    s[3] = u->display_name;
    s[4] = u->given_name;
    s[5] = u->family_name;
    s[6] = email_is_name ? NULL : u->email;
    s[7] = u->other_emails;
}

/* The size of d's strings block for u, and d's fields but `strings`; uuid gets the
 * externalId's bytes when it is kept so. */
static size_t plan_strings(const struct adc_user *u, struct adc_dir_user *d,
                           const char *s[DIR_STRINGS], unsigned char uuid[16]) {
    size_t size = 0;
    memset(d, 0, sizeof(*d));
    bool email_is_name = u->email && u->user_name && strcmp(u->email, u->user_name) == 0;
    strings_of(u, email_is_name, s);
    if (s[DIR_EXT] && adc_uuid_parse(s[DIR_EXT], uuid))
        d->flags |= ADC_DIR_EXT_UUID;
    for (size_t i = 0; i < DIR_STRINGS; i++)
        if (s[i]) {
            d->present |= (uint8_t)(1u << i);
            size += i == DIR_EXT && (d->flags & ADC_DIR_EXT_UUID) ? 16 : strlen(s[i]) + 1;
        }
    d->flags |= (u->active ? ADC_DIR_ACTIVE : 0) | (email_is_name ? ADC_DIR_EMAIL_IS_NAME : 0);
    d->id_attribute = id_attr_index(u->id_attribute);
    d->primary_group_rid = u->primary_group_rid;
    return size;
}

static void copy_strings(char *p, const struct adc_dir_user *d, const char *s[DIR_STRINGS],
                         const unsigned char uuid[16]) {
    for (size_t i = 0; i < DIR_STRINGS; i++) {
        if (!s[i])
            continue;
        if (i == DIR_EXT && (d->flags & ADC_DIR_EXT_UUID)) {
            memcpy(p, uuid, 16);
            p += 16;
            continue;
        }
        size_t len = strlen(s[i]) + 1;
        memcpy(p, s[i], len);
        p += len;
    }
}

struct adc_dir_user *adc_dir_users_add(struct adc_dir_users *l, const struct adc_user *u) {
    struct adc_dir_user d;
    const char *s[DIR_STRINGS];
    unsigned char uuid[16];
    size_t size = plan_strings(u, &d, s, uuid);
    if (adc_grow_array(l->items, l->cap, l->n, 64) < 0)
        return NULL;
    char *p = adc_arena_alloc(&l->arena, size ? size : 1);
    if (!p)
        return NULL;
    copy_strings(p, &d, s, uuid);
    d.strings = p;
    l->items[l->n] = d;
    return &l->items[l->n++];
}

int adc_dir_user_make_alone(struct adc_dir_user *out, const struct adc_user *u) {
    const char *s[DIR_STRINGS];
    unsigned char uuid[16];
    size_t size = plan_strings(u, out, s, uuid);
    char *p = malloc(size ? size : 1);
    if (!p)
        return -ENOMEM;
    copy_strings(p, out, s, uuid);
    out->strings = p;
    return 0;
}

void adc_dir_user_free_alone(struct adc_dir_user *d) {
    if (!d)
        return;
    free((char *)d->strings);
    d->strings = NULL;
}

/* Where string i of d starts (d has it). */
static const char *string_at(const struct adc_dir_user *d, unsigned i) {
    const char *p = d->strings;
    for (unsigned k = 0; k < i; k++)
        if (d->present & (1u << k))
            p += k == DIR_EXT && (d->flags & ADC_DIR_EXT_UUID) ? 16 : strlen(p) + 1;
    return p;
}

const char *adc_dir_user_external_id(const struct adc_dir_user *d, char buf[ADC_DIR_UUID_TEXT]) {
    if (!(d->present & (1u << DIR_EXT)))
        return NULL;
    const char *p = string_at(d, DIR_EXT);
    return d->flags & ADC_DIR_EXT_UUID ? adc_uuid_format((const unsigned char *)p, buf) : p;
}

const char *adc_dir_user_dn(const struct adc_dir_user *d) {
    return d->present & 4 ? string_at(d, 2) : NULL;
}

void adc_dir_user_view(const struct adc_dir_user *d, struct adc_user *out,
                       char ext_buf[ADC_DIR_UUID_TEXT]) {
    char *s[DIR_STRINGS] = {0};
    const char *p = d->strings;
    for (unsigned i = 0; i < DIR_STRINGS; i++) {
        if (!(d->present & (1u << i)))
            continue;
        if (i == DIR_EXT && (d->flags & ADC_DIR_EXT_UUID)) {
            s[i] = (char *)adc_uuid_format((const unsigned char *)p, ext_buf);
            p += 16;
            continue;
        }
        s[i] = (char *)p;
        p += strlen(p) + 1;
    }
    memset(out, 0, sizeof(*out));
    out->user_name = s[0];
    out->external_id = s[1];
    out->dn = s[2];
    out->display_name = s[3];
    out->given_name = s[4];
    out->family_name = s[5];
    out->email = d->flags & ADC_DIR_EMAIL_IS_NAME ? s[0] : s[6];
    out->other_emails = s[7];
    out->id_attribute = adc_dir_user_id_attribute(d);
    out->primary_group_rid = d->primary_group_rid;
    out->active = d->flags & ADC_DIR_ACTIVE;
}
