/* Sign-in names come from the network (POST /api/v1/login through the agent) and reach
 * adc_ldap_filter_from_template; filters come from adc.yaml. Whatever the bytes: no crash, and
 * an escaped value always makes a valid filter (else the escaping let something through). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "directory/ldap-filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';

    size_t off;
    const char *msg;
    if (adc_ldap_filter_validate(s, &off, &msg) < 0 && (off > strlen(s) || !msg))
        __builtin_trap();
    (void)adc_ldap_filter_attr_validate(s, &off, &msg);

    char *e = adc_ldap_filter_escape_len(s, size);
    if (e) {
        char *f = malloc(strlen(e) + 8);
        if (f) {
            strcpy(f, "(cn=");
            strcat(f, e);
            strcat(f, ")");
            if (adc_ldap_filter_validate(f, NULL, NULL) < 0)
                __builtin_trap();
            free(f);
        }
        free(e);
    }
    char *t = adc_ldap_filter_from_template("(&(objectClass=person)(uid=%s))", s);
    if (t && adc_ldap_filter_validate(t, NULL, NULL) < 0)
        __builtin_trap();
    free(t);
    /* the input as a template */
    free(adc_ldap_filter_from_template(s, "x*)("));
    free(s);
    return 0;
}
