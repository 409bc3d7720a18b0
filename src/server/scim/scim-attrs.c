/* The stored core User attributes of scim-attrs.h. */
#include "scim/scim-attrs.h"

#include <strings.h>

#include "common/macros.h"

/* Others are dropped on write, as are "groups" (read-only, we have no groups) and "password"
 * (sign-in goes to the directory through the agent; a password is never stored). */
static const struct {
    const char *name;
    enum adc_scim_attr_type type;
} core_attrs[] = {
    {"userName", ADC_SCIM_ATTR_USER_NAME},     {"name", ADC_SCIM_ATTR_NAME},
    {"displayName", ADC_SCIM_ATTR_STRING},     {"nickName", ADC_SCIM_ATTR_STRING},
    {"profileUrl", ADC_SCIM_ATTR_STRING},      {"title", ADC_SCIM_ATTR_STRING},
    {"userType", ADC_SCIM_ATTR_STRING},        {"preferredLanguage", ADC_SCIM_ATTR_STRING},
    {"locale", ADC_SCIM_ATTR_STRING},          {"timezone", ADC_SCIM_ATTR_STRING},
    {"active", ADC_SCIM_ATTR_ACTIVE},          {"emails", ADC_SCIM_ATTR_MULTI},
    {"phoneNumbers", ADC_SCIM_ATTR_MULTI},     {"ims", ADC_SCIM_ATTR_MULTI},
    {"photos", ADC_SCIM_ATTR_MULTI},           {"addresses", ADC_SCIM_ATTR_MULTI},
    {"entitlements", ADC_SCIM_ATTR_MULTI},     {"roles", ADC_SCIM_ATTR_MULTI},
    {"x509Certificates", ADC_SCIM_ATTR_MULTI}, {"externalId", ADC_SCIM_ATTR_STRING},
};

const char *adc_scim_core_attr(const char *key, enum adc_scim_attr_type *type) {
    for (size_t i = 0; i < ADC_ARRAY_SIZE(core_attrs); i++)
        if (strcasecmp(core_attrs[i].name, key) == 0) {
            *type = core_attrs[i].type;
            return core_attrs[i].name;
        }
    return NULL;
}

bool adc_scim_valid_text(const char *s, size_t max) {
    size_t n = 0;
    for (; s[n]; n++)
        if ((unsigned char)s[n] < 0x20)
            return false;
    return n > 0 && n <= max;
}
