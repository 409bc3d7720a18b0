/* Entry -> user mapping (src/adc/user-map.c): identity formats, names, disabled flags, skips and
 * duplicates, on byte values as libldap hands them over. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "common/buf.h"
#include "directory/user-map.h"

static struct adc_ldap_config base_cfg(void) {
    return (struct adc_ldap_config){.username_attribute = "mail", .tls_verify = true};
}

/* Adds a value (text, NUL-terminated) for an attribute as the server would return it. */
static void put(const struct adc_user_map *m, struct adc_entry_values *v, const char *attr,
                const char *value, unsigned count) {
    struct adc_bytes b = {value, strlen(value)};
    adc_entry_values_add(v, adc_user_map_fields(m, attr), &b, count);
}

static void put_bytes(const struct adc_user_map *m, struct adc_entry_values *v, const char *attr,
                      const void *p, size_t n) {
    struct adc_bytes b = {p, n};
    adc_entry_values_add(v, adc_user_map_fields(m, attr), &b, 1);
}

struct mapped {
    int r;
    struct adc_user u;
    char *name, *reason;
    const char *id_attr;
};

static struct mapped map(const struct adc_user_map *m, const struct adc_entry_values *v) {
    struct mapped out = {0};
    out.r = adc_user_map_entry(m, "uid=x,dc=example,dc=org", v, &out.u, &out.name, &out.reason,
                               &out.id_attr);
    return out;
}

static void mapped_done(struct mapped *x) {
    if (x->r == 0)
        adc_user_done(&x->u);
    free(x->name);
    free(x->reason);
}

static void guid_known_vector(void **state) {
    (void)state;
    /* {3F2504E0-4F89-11D3-9A0C-0305E82C3301} as Windows stores it (base64 in LDIF:
     * 4AQlP4lP0xGaDAMF6CwzAQ==): the first three groups little-endian. */
    static const unsigned char g[16] = {0xe0, 0x04, 0x25, 0x3f, 0x89, 0x4f, 0xd3, 0x11,
                                        0x9a, 0x0c, 0x03, 0x05, 0xe8, 0x2c, 0x33, 0x01};
    char s[37];
    adc_guid_format(g, s);
    assert_string_equal(s, "3f2504e0-4f89-11d3-9a0c-0305e82c3301");
}

/* Values as an LDIF file carries them ("attr:: base64", RFC 2849): decoded, they are the bytes
 * the server sends. */
static size_t from_base64(const char *b64, unsigned char *out) {
    int n = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)strlen(b64));
    assert_true(n > 0);
    size_t len = (size_t)n;
    for (const char *p = b64 + strlen(b64); p > b64 && p[-1] == '='; p--)
        len--; /* EVP_DecodeBlock counts the padding */
    return len;
}

static void base64_ldif_values(void **state) {
    (void)state;
    struct adc_ldap_config cfg = base_cfg();
    cfg.username_attribute = "cn";
    struct adc_user_map m;
    adc_user_map_init(&m, &cfg);
    unsigned char guid[32], name[64];
    size_t guid_len = from_base64("4AQlP4lP0xGaDAMF6CwzAQ==", guid);
    size_t name_len = from_base64("Wm/DqyDDhW5nc3Ryw7Zt", name);
    assert_int_equal(guid_len, 16);
    struct adc_entry_values v = {0};
    put_bytes(&m, &v, "cn", name, name_len);
    put_bytes(&m, &v, "objectGUID", guid, guid_len);
    struct mapped x = map(&m, &v);
    assert_int_equal(x.r, 0);
    assert_string_equal(x.u.user_name, "Zo\xc3\xab \xc3\x85ngstr\xc3\xb6m");
    assert_string_equal(x.u.external_id, "3f2504e0-4f89-11d3-9a0c-0305e82c3301");
    mapped_done(&x);
}

static void request_list_has_each_attribute_once(void **state) {
    (void)state;
    struct adc_ldap_config cfg = base_cfg(); /* mail is both the name and the email */
    struct adc_user_map m;
    adc_user_map_init(&m, &cfg);
    size_t n = 0, mails = 0;
    bool pwdlock = false, guid = false;
    for (; m.request[n]; n++) {
        mails += strcmp(m.request[n], "mail") == 0;
        pwdlock |= strcmp(m.request[n], "pwdAccountLockedTime") == 0;
        guid |= strcmp(m.request[n], "objectGUID") == 0;
    }
    assert_int_equal(mails, 1);
    assert_true(pwdlock); /* operational: only returned when asked by name */
    assert_true(guid);
    /* mail fills two fields; names compare case-insensitively; options are not the attribute */
    assert_int_equal(adc_user_map_fields(&m, "MAIL"),
                     (1u << ADC_FIELD_NAME) | (1u << ADC_FIELD_EMAIL));
    assert_int_equal(adc_user_map_fields(&m, "cn;lang-de"), 0);
    assert_int_equal(adc_user_map_fields(&m, "description"), 0);
}

static void maps_a_regular_openldap_entry(void **state) {
    (void)state;
    struct adc_ldap_config cfg = base_cfg();
    struct adc_user_map m;
    struct adc_entry_values v = {0};
    adc_user_map_init(&m, &cfg);
    put(&m, &v, "mail", "zoe@example.org", 1);
    put(&m, &v, "entryUUID", "0f6c3f6e-1b1d-103c-8c5e-6f3b8a2c2a11", 1);
    put(&m, &v, "cn", "Zoë Ångström", 1);
    put(&m, &v, "givenName", "Zoë", 2); /* multi-valued: the first is taken */
    put(&m, &v, "sn", "Ångström", 1);
    struct mapped x = map(&m, &v);
    assert_int_equal(x.r, 0);
    assert_string_equal(x.u.user_name, "zoe@example.org");
    assert_string_equal(x.u.external_id, "0f6c3f6e-1b1d-103c-8c5e-6f3b8a2c2a11");
    assert_string_equal(x.id_attr, "entryUUID");
    assert_string_equal(x.u.display_name, "Zoë Ångström"); /* no displayName: cn */
    assert_string_equal(x.u.given_name, "Zoë");
    assert_string_equal(x.u.family_name, "Ångström");
    assert_string_equal(x.u.email, "zoe@example.org");
    assert_string_equal(x.u.dn, "uid=x,dc=example,dc=org");
    assert_true(x.u.active);
    mapped_done(&x);
}

static void object_guid_and_ns_unique_id_are_detected(void **state) {
    (void)state;
    static const unsigned char g[16] = {0xe0, 0x04, 0x25, 0x3f, 0x89, 0x4f, 0xd3, 0x11,
                                        0x9a, 0x00, 0x03, 0x05, 0xe8, 0x2c, 0x33, 0x01};
    struct adc_ldap_config cfg = base_cfg();
    cfg.username_attribute = "sAMAccountName";
    struct adc_user_map m;
    adc_user_map_init(&m, &cfg);

    struct adc_entry_values v = {0};
    put(&m, &v, "sAMAccountName", "jdoe", 1);
    put_bytes(&m, &v, "objectGUID", g, sizeof(g)); /* binary, with a zero byte inside */
    put(&m, &v, "userAccountControl", "512", 1);
    struct mapped x = map(&m, &v);
    assert_int_equal(x.r, 0);
    assert_string_equal(x.u.external_id, "3f2504e0-4f89-11d3-9a00-0305e82c3301");
    assert_string_equal(x.id_attr, "objectGUID");
    assert_true(x.u.active);
    assert_null(x.u.display_name);
    assert_null(x.u.email);
    mapped_done(&x);

    struct adc_entry_values v2 = {0};
    put(&m, &v2, "sAMAccountName", "jdoe", 1);
    put(&m, &v2, "nsUniqueId", "66446001-1dd211b2-80bac4cb-25cd2f8a", 1);
    x = map(&m, &v2);
    assert_int_equal(x.r, 0);
    assert_string_equal(x.u.external_id, "66446001-1dd211b2-80bac4cb-25cd2f8a");
    assert_string_equal(x.id_attr, "nsUniqueId");
    mapped_done(&x);

    /* A truncated GUID is not an identity. */
    struct adc_entry_values v3 = {0};
    put(&m, &v3, "sAMAccountName", "jdoe", 1);
    put_bytes(&m, &v3, "objectGUID", g, 15);
    x = map(&m, &v3);
    assert_int_equal(x.r, 1);
    assert_non_null(strstr(x.reason, "not 16"));
    assert_string_equal(x.name, "jdoe");
    mapped_done(&x);
}

static void configured_id_attribute_wins(void **state) {
    (void)state;
    struct adc_ldap_config cfg = base_cfg();
    cfg.id_attribute = "employeeNumber";
    struct adc_user_map m;
    adc_user_map_init(&m, &cfg);
    for (size_t i = 0; m.request[i]; i++)
        assert_string_not_equal(m.request[i], "entryUUID");
    struct adc_entry_values v = {0};
    put(&m, &v, "mail", "a@example.org", 1);
    put(&m, &v, "entryUUID", "ignored", 1); /* not requested, so not a field */
    put(&m, &v, "employeeNumber", "E-1001", 1);
    struct mapped x = map(&m, &v);
    assert_int_equal(x.r, 0);
    assert_string_equal(x.u.external_id, "E-1001");
    assert_string_equal(x.id_attr, "employeeNumber");
    mapped_done(&x);

    struct adc_entry_values v2 = {0};
    put(&m, &v2, "mail", "a@example.org", 1);
    x = map(&m, &v2);
    assert_int_equal(x.r, 1);
    assert_non_null(strstr(x.reason, "employeeNumber"));
    mapped_done(&x);
}

static void unusable_names_are_skipped(void **state) {
    (void)state;
    struct adc_ldap_config cfg = base_cfg();
    struct adc_user_map m;
    adc_user_map_init(&m, &cfg);
    struct mapped x;

    struct adc_entry_values none = {0};
    put(&m, &none, "entryUUID", "u1", 1);
    x = map(&m, &none);
    assert_int_equal(x.r, 1);
    assert_non_null(strstr(x.reason, "no value of 'mail'"));
    assert_null(x.name);
    mapped_done(&x);

    struct adc_entry_values bad = {0};
    put(&m, &bad, "entryUUID", "u1", 1);
    put(&m, &bad, "mail", "caf\xe9@example.org", 1); /* Latin-1, not UTF-8 */
    x = map(&m, &bad);
    assert_int_equal(x.r, 1);
    assert_non_null(strstr(x.reason, "not UTF-8"));
    mapped_done(&x);

    struct adc_entry_values noid = {0};
    put(&m, &noid, "mail", "a@example.org", 1);
    x = map(&m, &noid);
    assert_int_equal(x.r, 1);
    assert_non_null(strstr(x.reason, "no identifier"));
    assert_string_equal(x.name, "a@example.org");
    mapped_done(&x);
}

static void bad_optional_values_are_dropped(void **state) {
    (void)state;
    struct adc_ldap_config cfg = base_cfg();
    cfg.username_attribute = "uid";
    struct adc_user_map m;
    adc_user_map_init(&m, &cfg);
    struct adc_entry_values v = {0};
    put(&m, &v, "uid", "山田", 1);
    put(&m, &v, "entryUUID", "u1", 1);
    put(&m, &v, "displayName", "bad \xc0\x80 overlong", 1);
    put(&m, &v, "cn", "Yamada Taro", 1);
    put(&m, &v, "sn", "", 1);
    struct mapped x = map(&m, &v);
    assert_int_equal(x.r, 0);
    assert_string_equal(x.u.user_name, "山田");
    assert_string_equal(x.u.display_name, "Yamada Taro"); /* the bad one falls back to cn */
    assert_null(x.u.family_name);
    mapped_done(&x);
}

static bool disabled_with(const char *attr, const char *value) {
    struct adc_ldap_config cfg = base_cfg();
    struct adc_user_map m;
    struct adc_entry_values v = {0};
    adc_user_map_init(&m, &cfg);
    put(&m, &v, attr, value, 1);
    return adc_user_map_disabled(&v);
}

static void disabled_flags(void **state) {
    (void)state;
    struct adc_entry_values none = {0};
    assert_false(adc_user_map_disabled(&none));
    assert_false(disabled_with("userAccountControl", "512"));  /* NORMAL_ACCOUNT */
    assert_true(disabled_with("userAccountControl", "514"));   /* + ACCOUNTDISABLE */
    assert_true(disabled_with("userAccountControl", "66050")); /* + DONT_EXPIRE_PASSWORD */
    assert_false(disabled_with("userAccountControl", "66048"));
    assert_true(disabled_with("userAccountControl", "-2147483646")); /* signed 32-bit form */
    assert_true(disabled_with("userAccountControl", "garbage"));     /* unreadable: fail closed */
    assert_true(disabled_with("nsAccountLock", "TRUE"));
    assert_true(disabled_with("nsAccountLock", "true"));
    assert_false(disabled_with("nsAccountLock", "false"));
    assert_true(disabled_with("pwdAccountLockedTime", "000001010000Z"));
    assert_true(disabled_with("pwdAccountLockedTime", "20260101120000Z"));
}

/* 389's password-policy lockout: accountUnlockTime in the future, or 19700101000000Z (no
 * expiry), locks; one in the past is a lockout that has ended. */
static void lockout_389(void **state) {
    (void)state;
    struct adc_ldap_config cfg = base_cfg();
    struct adc_user_map m;
    adc_user_map_init(&m, &cfg);
    const long long now = 1780000000; /* 2026-05-28 */
    struct {
        const char *value;
        bool locked;
    } cases[] = {
        {"19700101000000Z", true},  {"20990101000000Z", true}, {"20200101000000Z", false},
        {"20260528202640Z", false}, {"20260528202641Z", true}, {"garbage", true},
        {"2026052820264", true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct adc_entry_values v = {0};
        put(&m, &v, "accountUnlockTime", cases[i].value, 1);
        assert_int_equal(adc_user_map_disabled_at(&v, now), cases[i].locked);
    }
    struct adc_entry_values v = {0};
    put(&m, &v, "passwordRetryCount", "2", 1); /* not a lock by itself */
    assert_false(adc_user_map_disabled_at(&v, now));
}

/* Several mails (aliases): the first value the server returns names the user and is the
 * primary address, the others become further addresses (once each, never the primary again). */
static void several_mails_are_aliases(void **state) {
    (void)state;
    struct adc_ldap_config cfg = base_cfg();
    struct adc_user_map m;
    adc_user_map_init(&m, &cfg);
    const char *mails[] = {"ann@example.org",    "a.alias@example.org", "ANN@example.org",
                           "second@example.org", "a.alias@example.org", "bad\nline@x"};
    struct adc_entry_values v = {0};
    put(&m, &v, "entryUUID", "u1", 1);
    unsigned mask = adc_user_map_fields(&m, "mail");
    struct adc_bytes first = {mails[0], strlen(mails[0])};
    adc_entry_values_add(&v, mask, &first, 6);
    for (size_t i = 1; i < 6; i++) {
        struct adc_bytes b = {mails[i], strlen(mails[i])};
        adc_entry_values_add_more(&v, mask, &b);
    }
    struct mapped x = map(&m, &v);
    assert_int_equal(x.r, 0);
    assert_string_equal(x.u.user_name, "ann@example.org");
    assert_string_equal(x.u.email, "ann@example.org");
    assert_string_equal(x.u.other_emails, "a.alias@example.org\nsecond@example.org");
    assert_string_equal(x.u.id_attribute, "entryUUID");
    mapped_done(&x);

    /* Only the email attribute keeps further values. */
    struct adc_entry_values w = {0};
    put(&m, &w, "entryUUID", "u1", 1);
    put(&m, &w, "mail", "solo@example.org", 1);
    struct adc_bytes cn = {"Other Name", 10};
    adc_entry_values_add_more(&w, adc_user_map_fields(&m, "cn"), &cn);
    x = map(&m, &w);
    assert_int_equal(x.r, 0);
    assert_null(x.u.other_emails);
    mapped_done(&x);

    /* More values than kept: the first ADC_USER_EMAILS_MAX further ones. */
    struct adc_entry_values many = {0};
    char buf[ADC_USER_EMAILS_MAX + 8][32];
    put(&m, &many, "entryUUID", "u1", 1);
    put(&m, &many, "mail", "many@example.org", ADC_USER_EMAILS_MAX + 9);
    for (size_t i = 0; i < ADC_USER_EMAILS_MAX + 8; i++) {
        snprintf(buf[i], sizeof(buf[i]), "m%zu@example.org", i);
        struct adc_bytes b = {buf[i], strlen(buf[i])};
        adc_entry_values_add_more(&many, adc_user_map_fields(&m, "mail"), &b);
    }
    x = map(&m, &many);
    assert_int_equal(x.r, 0);
    size_t lines = 1;
    for (const char *p = x.u.other_emails; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, ADC_USER_EMAILS_MAX);
    mapped_done(&x);
}

/* Each user says which attribute gave its identity: on 389-ds, entries older than the
 * entryUUID plugin have only nsUniqueId. */
static void identity_attribute_per_user(void **state) {
    (void)state;
    struct adc_ldap_config cfg = base_cfg();
    struct adc_user_map m;
    adc_user_map_init(&m, &cfg);
    struct adc_entry_values v = {0};
    put(&m, &v, "mail", "old@example.org", 1);
    put(&m, &v, "nsUniqueId", "4aee9736-f0f511f1-b5b7b2ca-b5e5c04e", 1);
    struct mapped x = map(&m, &v);
    assert_int_equal(x.r, 0);
    assert_string_equal(x.u.id_attribute, "nsUniqueId");
    assert_string_equal(x.id_attr, "nsUniqueId");
    mapped_done(&x);
    put(&m, &v, "entryUUID", "12e386b4-f42b-4ef6-b82d-5d750db2fe7d", 1);
    x = map(&m, &v);
    assert_string_equal(x.u.id_attribute, "entryUUID");
    assert_string_equal(x.u.external_id, "12e386b4-f42b-4ef6-b82d-5d750db2fe7d");
    mapped_done(&x);
}

static void utf8_validation(void **state) {
    (void)state;
    assert_true(adc_utf8_valid("plain", 5));
    assert_true(adc_utf8_valid("Zo\xc3\xab", 4));
    assert_true(adc_utf8_valid("\xf0\x9f\x98\x80", 4));  /* U+1F600 */
    assert_false(adc_utf8_valid("\xc0\x80", 2));         /* overlong NUL */
    assert_false(adc_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(adc_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    assert_false(adc_utf8_valid("\xc3", 1));             /* truncated */
    assert_false(adc_utf8_valid("a\0b", 3));             /* embedded NUL */
}

static void add_user(struct adc_dir_users *l, const char *name, const char *dn) {
    struct adc_user u = {.user_name = (char *)name, .dn = (char *)dn, .external_id = (char *)dn};
    assert_non_null(adc_dir_users_add(l, &u)); /* copies the strings */
}

static void duplicates_are_all_skipped(void **state) {
    (void)state;
    struct adc_dir_users l;
    struct adc_skipped_entry *skipped = NULL;
    size_t n_skipped = 0, cap_skipped = 0;
    adc_dir_users_init(&l);
    add_user(&l, "b@example.org", "uid=b");
    add_user(&l, "Dup.User@example.org", "uid=dup1");
    add_user(&l, "a@example.org", "uid=a");
    add_user(&l, "dup.user@example.org", "uid=dup2");
    add_user(&l, "DUP.USER@EXAMPLE.ORG", "uid=dup3");
    add_user(&l, "c@example.org", "uid=c");
    int r = adc_user_map_drop_duplicates(&l, &skipped, &n_skipped, &cap_skipped);
    assert_int_equal(r, 3);
    assert_int_equal(l.n, 3);
    assert_string_equal(adc_dir_user_name(&l.items[0]), "a@example.org"); /* sorted */
    assert_string_equal(adc_dir_user_name(&l.items[1]), "b@example.org");
    assert_string_equal(adc_dir_user_name(&l.items[2]), "c@example.org");
    assert_int_equal(n_skipped, 3);
    for (size_t i = 0; i < n_skipped; i++) {
        assert_non_null(strstr(skipped[i].reason, "duplicate"));
        assert_non_null(strstr(skipped[i].dn, "uid=dup"));
        assert_non_null(strstr(skipped[i].reason, skipped[i].dn)); /* which one it is */
        free(skipped[i].dn);
        free(skipped[i].user_name);
        free(skipped[i].reason);
    }
    free(skipped);
    adc_dir_users_done(&l);
}

/* The enumeration maps each entry into one reused buffer (adc_user_map_entry_view): every
 * string of a user is there, values are read by their length (the reader lends them without a
 * terminator), and the next entry's strings replace them. */
static void view_reuses_one_buffer(void **state) {
    (void)state;
    static const unsigned char g[16] = {0xe0, 0x04, 0x25, 0x3f, 0x89, 0x4f, 0xd3, 0x11,
                                        0x9a, 0x00, 0x03, 0x05, 0xe8, 0x2c, 0x33, 0x01};
    struct adc_ldap_config cfg = base_cfg();
    cfg.id_attribute = "objectGUID";
    struct adc_user_map m;
    adc_user_map_init(&m, &cfg);
    struct adc_buf buf;
    adc_buf_init(&buf, 0);
    /* values cut out of one longer text, as they stand in an LDAP message */
    const char *msg = "ann@example.orgXAnn ExampleXAnnXExampleXa.alias@example.orgX";
    struct adc_entry_values v = {0};
    unsigned mail = adc_user_map_fields(&m, "mail");
    struct adc_bytes b = {msg, 15};
    adc_entry_values_add(&v, mail, &b, 2);
    b = (struct adc_bytes){msg + 40, 19};
    adc_entry_values_add_more(&v, mail, &b);
    b = (struct adc_bytes){msg + 16, 11};
    adc_entry_values_add(&v, adc_user_map_fields(&m, "displayName"), &b, 1);
    b = (struct adc_bytes){msg + 28, 3};
    adc_entry_values_add(&v, adc_user_map_fields(&m, "givenName"), &b, 1);
    b = (struct adc_bytes){msg + 32, 7};
    adc_entry_values_add(&v, adc_user_map_fields(&m, "sn"), &b, 1);
    put_bytes(&m, &v, "objectGUID", g, sizeof(g));

    struct adc_user u;
    char *name = NULL, *reason = NULL;
    const char *id_attr = NULL;
    assert_int_equal(adc_user_map_entry_view(&m, "uid=ann,dc=example,dc=org", &v, &buf, &u, &name,
                                             &reason, &id_attr),
                     0);
    assert_null(name);
    assert_null(reason);
    assert_string_equal(u.user_name, "ann@example.org");
    assert_string_equal(u.email, "ann@example.org");
    assert_string_equal(u.other_emails, "a.alias@example.org");
    assert_string_equal(u.display_name, "Ann Example");
    assert_string_equal(u.given_name, "Ann");
    assert_string_equal(u.family_name, "Example");
    assert_string_equal(u.external_id, "3f2504e0-4f89-11d3-9a00-0305e82c3301");
    assert_string_equal(u.dn, "uid=ann,dc=example,dc=org");
    assert_string_equal(id_attr, "objectGUID");
    assert_true(u.active);
    /* all of them in the buffer */
    const char *fields[] = {u.user_name,  u.email,       u.other_emails, u.display_name,
                            u.given_name, u.family_name, u.external_id,  u.dn};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        assert_true(fields[i] >= buf.data && fields[i] < buf.data + buf.cap);

    /* the next entry in the same buffer: only its own strings */
    struct adc_entry_values w = {0};
    put(&m, &w, "mail", "bob@example.org", 1);
    put_bytes(&m, &w, "objectGUID", g, sizeof(g));
    assert_int_equal(adc_user_map_entry_view(&m, "uid=bob,dc=example,dc=org", &w, &buf, &u, &name,
                                             &reason, &id_attr),
                     0);
    assert_string_equal(u.user_name, "bob@example.org");
    assert_null(u.other_emails);
    assert_null(u.display_name);
    assert_string_equal(u.dn, "uid=bob,dc=example,dc=org");

    /* a skipped entry: the name and the reason are the caller's */
    struct adc_entry_values x = {0};
    put(&m, &x, "mail", "carl@example.org", 1);
    assert_int_equal(adc_user_map_entry_view(&m, "uid=carl,dc=example,dc=org", &x, &buf, &u, &name,
                                             &reason, &id_attr),
                     1);
    assert_string_equal(name, "carl@example.org");
    assert_non_null(strstr(reason, "objectGUID"));
    free(name);
    free(reason);
    adc_buf_done(&buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(guid_known_vector),
        cmocka_unit_test(base64_ldif_values),
        cmocka_unit_test(request_list_has_each_attribute_once),
        cmocka_unit_test(maps_a_regular_openldap_entry),
        cmocka_unit_test(object_guid_and_ns_unique_id_are_detected),
        cmocka_unit_test(configured_id_attribute_wins),
        cmocka_unit_test(unusable_names_are_skipped),
        cmocka_unit_test(bad_optional_values_are_dropped),
        cmocka_unit_test(disabled_flags),
        cmocka_unit_test(lockout_389),
        cmocka_unit_test(several_mails_are_aliases),
        cmocka_unit_test(identity_attribute_per_user),
        cmocka_unit_test(utf8_validation),
        cmocka_unit_test(duplicates_are_all_skipped),
        cmocka_unit_test(view_reuses_one_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
