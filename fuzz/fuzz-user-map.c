/* Attribute values come from the directory server: whatever bytes it sends, mapping an entry
 * must not crash, and a mapped user must hold only what the output may carry (a non-empty
 * UTF-8 name, an identifier, UTF-8 optional values). Input: a sequence of values separated by
 * 0xff; value i fills field i % ADC_FIELD_COUNT (a field filled twice counts two values). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
        adc_entry_values_add(&v, 1u << (field % ADC_FIELD_COUNT), &b, 1);
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
