/* Attribute values come from the directory server: whatever bytes it sends, mapping an entry
 * must not crash, and a mapped user must hold only what the output may carry (a non-empty
 * UTF-8 name, an identifier, UTF-8 optional values). Input: a sequence of values separated by
 * 0xff; value i fills field i % ADC_FIELD_COUNT (a field filled twice counts two values). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "directory/user-map.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s, bool required) {
    if (!s) {
        if (required)
            __builtin_trap();
        return;
    }
    if (!*s || !adc_utf8_valid(s, strlen(s)))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct adc_ldap_config cfg = {.username_attribute = "mail", .tls_verify = true};
    struct adc_user_map m;
    struct adc_entry_values v;
    adc_user_map_init(&m, &cfg);
    memset(&v, 0, sizeof(v));

    size_t field = 0, start = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i < size && data[i] != 0xff)
            continue;
        struct adc_bytes b = {(const char *)data + start, i - start};
        unsigned f = 1u << (field % ADC_FIELD_COUNT);
        /* A second value of the email field: a further address, as the reader passes it. */
        if (field % ADC_FIELD_COUNT == ADC_FIELD_EMAIL && v.count[ADC_FIELD_EMAIL] > 0)
            adc_entry_values_add_more(&v, f, &b);
        adc_entry_values_add(&v, f, &b, 1);
        field++;
        start = i + 1;
    }

    struct adc_user u;
    char *name = NULL, *reason = NULL;
    const char *id_attr = NULL;
    int r = adc_user_map_entry(&m, "uid=fuzz,dc=example,dc=org", &v, &u, &name, &reason, &id_attr);
    if (r == 0) {
        check_text(u.user_name, true);
        if (!u.external_id || !*u.external_id || !id_attr)
            __builtin_trap();
        check_text(u.display_name, false);
        check_text(u.given_name, false);
        check_text(u.family_name, false);
        check_text(u.email, false);
        check_text(u.other_emails, false); /* lines: UTF-8, no empty line, never the primary */
        for (const char *p = u.other_emails; p && *p;) {
            const char *nl = strchr(p, '\n');
            size_t n = nl ? (size_t)(nl - p) : strlen(p);
            if (n == 0 || !u.email || (strlen(u.email) == n && strncasecmp(u.email, p, n) == 0))
                __builtin_trap();
            p = nl ? nl + 1 : p + n;
        }
        if (u.id_attribute != id_attr)
            __builtin_trap();
        if (u.active == adc_user_map_disabled(&v))
            __builtin_trap();
        adc_user_done(&u);
    } else if (r == 1) {
        if (!reason)
            __builtin_trap();
        if (name)
            check_text(name, true);
    }
    free(name);
    free(reason);
    return 0;
}
