/* An incoming User resource (POST, PUT, PATCH's result) checked and normalized for storage:
 * types and limits of each attribute (RFC 7643 sections 2 and 4.1, scim-attrs.c), the provider
 * extension read apart, the indexed columns (userName, externalId, active) taken out. */
#include "scim/scim-user.h"

#include <string.h>
#include <strings.h>

#include "common/json-util.h"
#include "scim/scim-attrs.h"
#include "scim/scim-filter.h"

#define fail adc_scim_fail

/* A boolean, accepting the strings some clients send ("True", "false"). */
static int as_bool(const json_t *v, bool *out) {
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    if (json_is_string(v)) {
        if (strcasecmp(json_string_value(v), "true") == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(json_string_value(v), "false") == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

/* schemas, when given, must be an array naming the core User schema. */
static int check_schemas(const json_t *in, struct adc_scim_result *r) {
    json_t *schemas = adc_scim_json_get(in, "schemas", NULL);
    if (!schemas)
        return 0;
    bool core = false;
    size_t i;
    json_t *s;
    if (!json_is_array(schemas))
        return fail(r, 400, "invalidSyntax", "schemas must be an array of URIs");
    json_array_foreach(schemas, i, s) {
        if (json_is_string(s) && strcasecmp(json_string_value(s), ADC_SCIM_SCHEMA_USER) == 0)
            core = true;
    }
    if (!core)
        return fail(r, 400, "invalidSyntax", "schemas must include %s", ADC_SCIM_SCHEMA_USER);
    return 0;
}

/* A member named by a URN: the provider extension (its value kept in p; v outlives p), the
 * enterprise extension (kept in data); other extensions are not ours to keep. */
static int take_extension(const char *key, json_t *v, json_t *data, struct adc_scim_user_input *p,
                          struct adc_scim_result *r) {
    if (strcasecmp(key, ADC_SCIM_SCHEMA_PROVIDER) == 0) {
        json_t *prov = adc_scim_json_get(v, "provider", NULL);
        if (prov && !json_is_string(prov))
            return fail(r, 400, "invalidValue", "provider must be a string");
        p->provider = json_string_value(prov);
        return 0;
    }
    if (strcasecmp(key, ADC_SCIM_SCHEMA_ENTERPRISE) != 0)
        return 0;
    if (!json_is_object(v))
        return fail(r, 400, "invalidValue", "%s must be an object", key);
    char why[200];
    if (adc_scim_check_limits(ADC_SCIM_SCHEMA_ENTERPRISE, v, why, sizeof(why)) < 0)
        return fail(r, 400, "invalidValue", "%s", why);
    json_object_set(data, ADC_SCIM_SCHEMA_ENTERPRISE, v);
    return 0;
}

/* A core attribute, checked against its type and limits and kept in data under its canonical
 * name; id, meta, schemas, groups, password and unknown names are not stored. */
static int take_core(const char *key, json_t *v, json_t *data, struct adc_scim_result *r) {
    enum adc_scim_attr_type type;
    const char *canon = adc_scim_core_attr(key, &type);
    if (!canon || json_is_null(v))
        return 0; /* null is the same as absent (RFC 7643 section 2.5) */
    if (type == ADC_SCIM_ATTR_STRING && !json_is_string(v))
        return fail(r, 400, "invalidValue", "%s must be a string", canon);
    if (type == ADC_SCIM_ATTR_MULTI && !json_is_array(v))
        return fail(r, 400, "invalidValue", "%s must be an array", canon);
    if (type == ADC_SCIM_ATTR_NAME && !json_is_object(v))
        return fail(r, 400, "invalidValue", "name must be an object");
    if (type == ADC_SCIM_ATTR_ACTIVE) {
        bool b;
        if (as_bool(v, &b) < 0)
            return fail(r, 400, "invalidValue", "active must be true or false");
        json_object_set_new(data, "active", json_boolean(b));
        return 0;
    }
    char why[200];
    if (adc_scim_check_limits(canon, v, why, sizeof(why)) < 0)
        return fail(r, 400, "invalidValue", "%s", why);
    if (type == ADC_SCIM_ATTR_MULTI) {
        /* Entra sends "primary": "True": a boolean as a string, read as the boolean. */
        json_t *copy = json_deep_copy(v);
        adc_scim_booleans_normalize(copy);
        json_object_set_new(data, canon, copy);
        return 0;
    }
    json_object_set(data, canon, v);
    return 0;
}

/* The indexed columns: userName (required), externalId, active (absent means true). */
static int take_columns(json_t *data, struct adc_scim_user_input *p, struct adc_scim_result *r) {
    json_t *un = json_object_get(data, "userName");
    if (!un)
        return fail(r, 400, "invalidValue", "userName is required");
    if (!json_is_string(un) || !adc_scim_valid_name(json_string_value(un)))
        return fail(r, 400, "invalidValue",
                    "userName must be a non-empty string of at most %d bytes without control, "
                    "format or zero-width characters",
                    ADC_SCIM_MAX_NAME_LEN);
    json_t *ext = json_object_get(data, "externalId");
    if (ext && !adc_scim_valid_text(json_string_value(ext), ADC_SCIM_MAX_NAME_LEN))
        return fail(r, 400, "invalidValue",
                    "externalId must be a non-empty string of at most %d characters",
                    ADC_SCIM_MAX_NAME_LEN);
    json_t *act = json_object_get(data, "active");
    /* Absent means active: a PUT that omits it clears it to its default. */
    p->active = act ? json_is_true(act) : true;
    json_object_set_new(data, "active", json_boolean(p->active));
    p->user_name = json_string_value(un);
    p->external_id = json_string_value(ext);
    return 0;
}

int adc_scim_user_check(const json_t *in, struct adc_scim_user_input *p,
                        struct adc_scim_result *r) {
    memset(p, 0, sizeof(*p));
    if (!json_is_object(in))
        return fail(r, 400, "invalidSyntax", "a User resource must be a JSON object");
    if (check_schemas(in, r) < 0)
        return -1;
    json_t *data = json_object();
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)in, key, v) {
        int e = strncasecmp(key, "urn:", 4) == 0 ? take_extension(key, v, data, p, r)
                                                 : take_core(key, v, data, r);
        if (e < 0) {
            json_decref(data);
            return -1;
        }
    }
    if (take_columns(data, p, r) < 0) {
        json_decref(data);
        return -1;
    }
    p->data = data;
    return 0;
}
