/* The stored core User attributes of scim-attrs.h. */
#include "scim/scim-attrs.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/macros.h"
#include "common/utf8.h"

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

int adc_scim_check_limits(const char *attr, const json_t *v, char *why, size_t why_size) {
    if (json_is_string(v)) {
        if (json_string_length(v) <= ADC_SCIM_MAX_STRING_LEN)
            return 0;
        snprintf(why, why_size, "%s: a value longer than %d bytes (the limit of this server)", attr,
                 ADC_SCIM_MAX_STRING_LEN);
        return -1;
    }
    if (json_is_array(v)) {
        if (json_array_size(v) > ADC_SCIM_MAX_VALUES) {
            snprintf(why, why_size, "%s: more than %d values (the limit of this server)", attr,
                     ADC_SCIM_MAX_VALUES);
            return -1;
        }
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            if (adc_scim_check_limits(attr, e, why, why_size) < 0)
                return -1;
        }
        return 0;
    }
    if (json_is_object(v)) {
        if (json_object_size(v) > ADC_SCIM_MAX_KEYS) {
            snprintf(why, why_size, "%s: more than %d members in one value", attr,
                     ADC_SCIM_MAX_KEYS);
            return -1;
        }
        const char *k;
        json_t *e;
        json_object_foreach((json_t *)v, k, e) {
            if (strlen(k) > ADC_SCIM_MAX_NAME_LEN) {
                snprintf(why, why_size, "%s: a member name longer than %d bytes", attr,
                         ADC_SCIM_MAX_NAME_LEN);
                return -1;
            }
            if (adc_scim_check_limits(attr, e, why, why_size) < 0)
                return -1;
        }
    }
    return 0;
}

bool adc_scim_valid_name(const char *s) {
    return adc_scim_valid_text(s, ADC_SCIM_MAX_NAME_LEN) && adc_utf8_name_valid(s);
}

void adc_scim_booleans_normalize(json_t *array) {
    size_t i;
    json_t *e;
    json_array_foreach(array, i, e) {
        const char *key;
        json_t *v;
        json_object_foreach(e, key, v) {
            if (strcasecmp(key, "primary") != 0 || !json_is_string(v))
                continue;
            if (strcasecmp(json_string_value(v), "true") == 0)
                json_object_set_new(e, key, json_true());
            else if (strcasecmp(json_string_value(v), "false") == 0)
                json_object_set_new(e, key, json_false());
        }
    }
}
