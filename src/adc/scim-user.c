#include "scim-user.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

struct dupper {
    adc_strdup_fn fn;
    void *ctx;
    bool keep_version;
};

static char *plain_dup(void *ctx, const char *s, size_t len) {
    (void)ctx;
    return strndup(s, len);
}

static int dup_str(const struct dupper *d, const json_t *obj, const char *key, char **out) {
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v) || json_string_length(v) == 0)
        return 0;
    return (*out = d->fn(d->ctx, json_string_value(v), json_string_length(v))) ? 0 : -ENOMEM;
}

static const json_t *primary_email(const json_t *res) {
    const json_t *emails = json_object_get(res, "emails"), *first = NULL, *e;
    size_t i;
    if (!json_is_array(emails))
        return NULL;
    json_array_foreach(emails, i, e) {
        if (!json_is_object(e))
            continue;
        if (json_is_true(json_object_get(e, "primary")))
            return e;
        if (!first)
            first = e;
    }
    return first;
}

static int from_json(const json_t *res, struct adc_user *u, const struct dupper *d) {
    memset(u, 0, sizeof(*u));
    /* An empty id or userName is none: the user would be one nobody can address or match. */
    if (!json_is_object(res) || json_string_length(json_object_get(res, "id")) == 0 ||
        json_string_length(json_object_get(res, "userName")) == 0)
        return -EINVAL;
    const json_t *name = json_object_get(res, "name");
    const json_t *meta = json_object_get(res, "meta");
    const json_t *ext = json_object_get(res, ADC_SCIM_SCHEMA_SYNC);
    const json_t *email = primary_email(res);
    const json_t *active = json_object_get(res, "active");
    int r;
    if ((r = dup_str(d, res, "id", &u->id)) < 0 ||
        (r = dup_str(d, res, "userName", &u->user_name)) < 0 ||
        (r = dup_str(d, res, "externalId", &u->external_id)) < 0 ||
        (r = dup_str(d, res, "displayName", &u->display_name)) < 0 ||
        (json_is_object(name) && (r = dup_str(d, name, "givenName", &u->given_name)) < 0) ||
        (json_is_object(name) && (r = dup_str(d, name, "familyName", &u->family_name)) < 0) ||
        (email && (r = dup_str(d, email, "value", &u->email)) < 0) ||
        (d->keep_version && json_is_object(meta) &&
         (r = dup_str(d, meta, "version", &u->version)) < 0) ||
        (json_is_object(ext) && (r = dup_str(d, ext, "provider", &u->provider)) < 0))
        return r;
    u->active = !json_is_false(active);
    return 0;
}

int adc_scim_user_from_json(const json_t *res, struct adc_user *u) {
    struct dupper d = {.fn = plain_dup, .keep_version = true};
    int r = from_json(res, u, &d);
    if (r < 0)
        adc_user_done(u);
    return r;
}

int adc_scim_user_from_json_with(const json_t *res, struct adc_user *u, adc_strdup_fn dup,
                                 void *ctx) {
    struct dupper d = {.fn = dup, .ctx = ctx};
    return from_json(res, u, &d);
}

static int set_str(json_t *obj, const char *key, const char *value) {
    if (!value || !*value)
        return 0;
    return json_object_set_new(obj, key, json_string(value));
}

json_t *adc_scim_user_to_json(const struct adc_user *d, bool active, const char *provider) {
    json_t *res = json_object(), *schemas = json_array();
    if (!res || !schemas)
        goto fail;
    if (json_object_set_new(res, "schemas", schemas) < 0) {
        schemas = NULL;
        goto fail;
    }
    if (json_array_append_new(schemas, json_string(ADC_SCIM_SCHEMA_USER)) < 0 ||
        set_str(res, "userName", d->user_name) < 0 ||
        set_str(res, "externalId", d->external_id) < 0 ||
        set_str(res, "displayName", d->display_name) < 0 ||
        json_object_set_new(res, "active", json_boolean(active)) < 0)
        goto fail;
    if ((d->given_name && *d->given_name) || (d->family_name && *d->family_name)) {
        json_t *name = json_object();
        if (json_object_set_new(res, "name", name) < 0 ||
            set_str(name, "givenName", d->given_name) < 0 ||
            set_str(name, "familyName", d->family_name) < 0)
            goto fail;
    }
    if (d->email && *d->email) {
        json_t *e = json_pack("[{s:s, s:s, s:b}]", "value", d->email, "type", "work", "primary", 1);
        if (json_object_set_new(res, "emails", e) < 0)
            goto fail;
    }
    if (provider) {
        if (json_array_append_new(schemas, json_string(ADC_SCIM_SCHEMA_SYNC)) < 0 ||
            json_object_set_new(res, ADC_SCIM_SCHEMA_SYNC,
                                json_pack("{s:s}", "provider", provider)) < 0)
            goto fail;
    }
    return res;
fail:
    json_decref(res);
    if (!res)
        json_decref(schemas);
    return NULL;
}

const char *adc_scim_error_detail(const json_t *body) {
    const json_t *v = json_object_get(body, "detail");
    if (json_is_string(v))
        return json_string_value(v);
    v = json_object_get(body, "scimType");
    return json_is_string(v) ? json_string_value(v) : NULL;
}
