#include "cloud/scim-user.h"

#include "common/buf.h"
#include "common/json-util.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
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

/* The values of the emails other than `primary`, one per line in their order (docs/adc.yaml.5):
 * what adc wrote as the directory's further addresses. NULL when there are none. */
static int other_emails(const json_t *res, const json_t *primary, const struct dupper *d,
                        char **out) {
    const json_t *emails = json_object_get(res, "emails"), *e;
    size_t i, len = 0, seen = 0;
    if (!json_is_array(emails))
        return 0;
    json_array_foreach(emails, i, e) {
        const json_t *v = json_object_get(e, "value");
        if (!json_is_string(v) || json_string_length(v) == 0 || ++seen > ADC_SCIM_EMAILS_MAX)
            continue;
        if (e != primary)
            len += json_string_length(v) + 1;
    }
    if (len == 0)
        return 0;
    char *buf = malloc(len);
    if (!buf)
        return -ENOMEM;
    size_t n = 0;
    seen = 0;
    json_array_foreach(emails, i, e) {
        const json_t *v = json_object_get(e, "value");
        if (!json_is_string(v) || json_string_length(v) == 0 || ++seen > ADC_SCIM_EMAILS_MAX ||
            e == primary)
            continue;
        if (n)
            buf[n++] = '\n';
        memcpy(buf + n, json_string_value(v), json_string_length(v));
        n += json_string_length(v);
    }
    buf[n] = '\0'; /* len counted a separator per value: room for the terminator */
    *out = d->fn(d->ctx, buf, n);
    free(buf);
    return *out ? 0 : -ENOMEM;
}

static int from_json(const json_t *res, struct adc_user *u, const struct dupper *d) {
    memset(u, 0, sizeof(*u));
    /* An empty id or userName is none: the user would be one nobody can address or match. */
    if (!json_is_object(res) || json_string_length(json_object_get(res, "id")) == 0 ||
        json_string_length(json_object_get(res, "userName")) == 0)
        return -EINVAL;
    const json_t *name = json_object_get(res, "name");
    const json_t *meta = json_object_get(res, "meta");
    const json_t *ext = json_object_get(res, ADC_SCIM_SCHEMA_PROVIDER);
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
        (r = other_emails(res, email, d, &u->other_emails)) < 0 ||
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

static void member(struct adc_buf *t, const char *key, const char *value) {
    if (!value || !*value)
        return;
    adc_buf_puts(t, ",\"");
    adc_buf_puts(t, key);
    adc_buf_puts(t, "\":");
    adc_json_append_string(t, value);
}

char *adc_scim_user_to_text(const struct adc_user *d, bool active, const char *provider) {
    struct adc_buf t = {0};
    adc_buf_puts(&t, provider ? "{\"schemas\":[\"" ADC_SCIM_SCHEMA_USER
                                "\",\"" ADC_SCIM_SCHEMA_PROVIDER "\"]"
                              : "{\"schemas\":[\"" ADC_SCIM_SCHEMA_USER "\"]");
    member(&t, "userName", d->user_name);
    member(&t, "externalId", d->external_id);
    member(&t, "displayName", d->display_name);
    adc_buf_puts(&t, active ? ",\"active\":true" : ",\"active\":false");
    bool given = d->given_name && *d->given_name, family = d->family_name && *d->family_name;
    if (given || family) {
        adc_buf_puts(&t, ",\"name\":{");
        if (given) {
            adc_buf_puts(&t, "\"givenName\":");
            adc_json_append_string(&t, d->given_name);
        }
        if (family) {
            adc_buf_puts(&t, given ? ",\"familyName\":" : "\"familyName\":");
            adc_json_append_string(&t, d->family_name);
        }
        adc_buf_puts(&t, "}");
    }
    if (d->email && *d->email) {
        adc_buf_puts(&t, ",\"emails\":[{\"value\":");
        adc_json_append_string(&t, d->email);
        adc_buf_puts(&t, ",\"type\":\"work\",\"primary\":true}");
        /* The directory's further addresses (aliases), in its order. */
        for (const char *p = d->other_emails; p && *p;) {
            const char *nl = strchr(p, '\n');
            size_t n = nl ? (size_t)(nl - p) : strlen(p);
            adc_buf_puts(&t, ",{\"value\":");
            adc_json_append_stringn(&t, p, n);
            adc_buf_puts(&t, ",\"type\":\"other\"}");
            p = nl ? nl + 1 : p + n;
        }
        adc_buf_puts(&t, "]");
    }
    if (provider) {
        adc_buf_puts(&t, ",\"" ADC_SCIM_SCHEMA_PROVIDER "\":{\"provider\":");
        adc_json_append_string(&t, provider);
        adc_buf_puts(&t, "}");
    }
    adc_buf_puts(&t, "}");
    return adc_buf_take(&t, NULL);
}

const char *adc_scim_error_detail(const json_t *body) {
    const json_t *v = json_object_get(body, "detail");
    if (json_is_string(v))
        return json_string_value(v);
    v = json_object_get(body, "scimType");
    return json_is_string(v) ? json_string_value(v) : NULL;
}
