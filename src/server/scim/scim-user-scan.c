/* A User resource of a Bulk create read without a tree (scim-user-scan.h). It mirrors
 * adc_scim_user_check in scim-user-check.c: every condition there that could fail, or that depends
 * on which of two duplicates counts, makes this reader decline instead. Any negative return inside
 * this file means "decline". */
#include "scim/scim-user-scan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/json-scan.h"
#include "common/json-util.h"
#include "scim/scim-attrs.h"

#define DECLINE (-ECANCELED)
#define MAX_MEMBERS 24     /* stored attributes: 20 core ones and the enterprise extension */
#define MAX_NESTED_KEYS 32 /* keys of one object inside a stored value */

struct member {
    const char *canon;
    enum adc_scim_attr_type type;
    const char *from, *to; /* the value's text */
};

struct user_scan {
    struct member m[MAX_MEMBERS];
    size_t n;
    const char *seen[MAX_MEMBERS]; /* canonical names met, null values included */
    size_t n_seen;
    bool schemas, core_schema, provider_ext, enterprise, has_active, active;
    char *provider; /* decoded, or NULL */
};

static int string_is(struct adc_json_scan *s, const char *want, bool *is) {
    char *v = NULL;
    int r = adc_json_scan_string_dup(s, &v);
    if (r == 0)
        *is = strcasecmp(v, want) == 0;
    free(v);
    return r;
}

/* A value stored as it came: checked to hold no object whose keys would be read differently
 * by jansson (which keeps the last of two equal keys) and SQLite's JSON functions (which find
 * the first): no key twice, no escaped key. */
static int plain_value(struct adc_json_scan *s) {
    adc_json_scan_ws(s);
    if (s->p >= s->end || (*s->p != '{' && *s->p != '[')) {
        /* A string that may be over the limit (its text counts escapes too): jansson's reader
         * decides exactly (scim-attrs.h). */
        const char *from = s->p;
        int r = adc_json_scan_skip(s);
        if (r == 0 && *from == '"' && (size_t)(s->p - from) > ADC_SCIM_MAX_STRING_LEN + 2)
            return DECLINE;
        return r;
    }
    bool object = *s->p == '{';
    char close = object ? '}' : ']';
    s->p++;
    if (++s->depth > s->max_depth)
        return DECLINE;
    struct {
        const char *raw;
        size_t len;
    } keys[MAX_NESTED_KEYS];
    size_t n_keys = 0, n_values = 0;
    if (adc_json_scan_eat(s, close)) {
        s->depth--;
        return 0;
    }
    for (;;) {
        int r;
        if (!object && ++n_values > ADC_SCIM_MAX_VALUES)
            return DECLINE; /* over the limit: the 400 comes from jansson's reader */
        if (object) {
            const char *raw;
            size_t len;
            bool escaped;
            if ((r = adc_json_scan_string(s, &raw, &len, &escaped)) < 0)
                return r;
            if (escaped || n_keys == MAX_NESTED_KEYS || len > ADC_SCIM_MAX_NAME_LEN)
                return DECLINE;
            for (size_t i = 0; i < n_keys; i++)
                if (keys[i].len == len && memcmp(keys[i].raw, raw, len) == 0)
                    return DECLINE;
            keys[n_keys].raw = raw;
            keys[n_keys++].len = len;
            if (!adc_json_scan_eat(s, ':'))
                return DECLINE;
            /* "primary": "True" becomes a boolean in jansson's reader (Entra sends it so). */
            adc_json_scan_ws(s);
            if (len == 7 && strncasecmp(raw, "primary", 7) == 0 && s->p < s->end && *s->p == '"')
                return DECLINE;
        }
        if ((r = plain_value(s)) < 0)
            return r;
        if (adc_json_scan_eat(s, ','))
            continue;
        if (adc_json_scan_eat(s, close)) {
            s->depth--;
            return 0;
        }
        return DECLINE;
    }
}

static int schema(struct adc_json_scan *s, size_t index, void *ctx) {
    struct user_scan *us = ctx;
    (void)index;
    if (!adc_json_scan_next_is(s, '"'))
        return adc_json_scan_skip(s);
    bool is = false;
    int r = string_is(s, ADC_SCIM_SCHEMA_USER, &is);
    us->core_schema = us->core_schema || is;
    return r;
}

static int schemas_member(struct adc_json_scan *s, struct user_scan *us) {
    if (us->schemas || !adc_json_scan_eat(s, '['))
        return DECLINE;
    us->schemas = true;
    int r = adc_json_scan_elements(s, schema, us);
    return r < 0 ? r : us->core_schema ? 0 : DECLINE;
}

static int provider_member(struct adc_json_scan *s, const char *key, void *ctx) {
    struct user_scan *us = ctx;
    if (strcasecmp(key, "provider") != 0)
        return adc_json_scan_skip(s);
    if (us->provider || !adc_json_scan_next_is(s, '"'))
        return DECLINE; /* twice, null or not a string: jansson's reader decides */
    return adc_json_scan_string_dup(s, &us->provider);
}

static int add_member(struct user_scan *us, const char *canon, enum adc_scim_attr_type type,
                      const char *from, const char *to) {
    if (us->n == MAX_MEMBERS)
        return DECLINE;
    us->m[us->n++] = (struct member){.canon = canon, .type = type, .from = from, .to = to};
    return 0;
}

static int extension_member(struct adc_json_scan *s, const char *key, struct user_scan *us) {
    if (strcasecmp(key, ADC_SCIM_SCHEMA_PROVIDER) == 0) {
        if (us->provider_ext)
            return DECLINE;
        us->provider_ext = true;
        if (!adc_json_scan_next_is(s, '{'))
            return adc_json_scan_skip(s); /* not an object: no provider (as the tree check) */
        return adc_json_scan_object(s, provider_member, us);
    }
    if (strcasecmp(key, ADC_SCIM_SCHEMA_ENTERPRISE) == 0) {
        if (us->enterprise || !adc_json_scan_next_is(s, '{'))
            return DECLINE;
        us->enterprise = true;
        const char *from = s->p;
        int r = plain_value(s);
        return r < 0 ? r
                     : add_member(us, ADC_SCIM_SCHEMA_ENTERPRISE, ADC_SCIM_ATTR_NAME, from, s->p);
    }
    return adc_json_scan_skip(s); /* other extensions are not ours to keep */
}

static int active_value(struct adc_json_scan *s, struct user_scan *us) {
    if (adc_json_scan_literal(s, "true")) {
        us->active = true;
    } else if (adc_json_scan_literal(s, "false")) {
        us->active = false;
    } else if (adc_json_scan_next_is(s, '"')) {
        bool yes = false, no = false;
        const char *from = s->p;
        int r = string_is(s, "true", &yes);
        if (r < 0)
            return r;
        s->p = from;
        if ((r = string_is(s, "false", &no)) < 0)
            return r;
        if (!yes && !no)
            return DECLINE;
        us->active = yes;
    } else {
        return DECLINE;
    }
    us->has_active = true;
    return 0;
}

static int user_member(struct adc_json_scan *s, const char *key, void *ctx) {
    struct user_scan *us = ctx;
    if (strcasecmp(key, "schemas") == 0)
        return schemas_member(s, us);
    if (strncasecmp(key, "urn:", 4) == 0)
        return extension_member(s, key, us);
    enum adc_scim_attr_type type;
    const char *canon = adc_scim_core_attr(key, &type);
    if (!canon)
        return adc_json_scan_skip(s);
    for (size_t i = 0; i < us->n_seen; i++)
        if (us->seen[i] == canon)
            return DECLINE; /* which of two counts is jansson's reader's business */
    us->seen[us->n_seen++] = canon;
    if (adc_json_scan_literal(s, "null"))
        return 0; /* null is the same as absent (RFC 7643 section 2.5) */
    if (type == ADC_SCIM_ATTR_ACTIVE) {
        int r = active_value(s, us);
        return r < 0 ? r : add_member(us, canon, type, NULL, NULL);
    }
    char want = type == ADC_SCIM_ATTR_MULTI ? '[' : type == ADC_SCIM_ATTR_NAME ? '{' : '"';
    if (!adc_json_scan_next_is(s, want))
        return DECLINE;
    const char *from = s->p;
    int r = plain_value(s);
    return r < 0 ? r : add_member(us, canon, type, from, s->p);
}

static const struct member *find(const struct user_scan *us, const char *canon) {
    for (size_t i = 0; i < us->n; i++)
        if (strcmp(us->m[i].canon, canon) == 0)
            return &us->m[i];
    return NULL;
}

/* The string value of a member, decoded, checked as adc_scim_user_check checks userName and
 * externalId; NULL when it is absent or not valid. */
static char *checked_text(const struct member *m, bool name) {
    if (!m)
        return NULL;
    struct adc_json_scan s;
    adc_json_scan_init(&s, m->from, (size_t)(m->to - m->from), 1);
    char *v = NULL;
    if (adc_json_scan_string_dup(&s, &v) < 0 ||
        !(name ? adc_scim_valid_name(v) : adc_scim_valid_text(v, ADC_SCIM_MAX_NAME_LEN))) {
        free(v);
        return NULL;
    }
    return v;
}

/* Appends the NUL-terminated s at o; returns the end. */
static char *put(char *o, const char *s) {
    size_t n = strlen(s);
    memcpy(o, s, n);
    return o + n;
}

/* The attributes to store, as JSON text in the order jansson's reader would write them: in the
 * order given, "active" last when it was not given. NULL when out of memory. Built by copies
 * (no printf: this runs for every create of a Bulk request). */
static char *render(const struct user_scan *us, bool active) {
    size_t size = sizeof("{,\"active\":false}");
    for (size_t i = 0; i < us->n; i++)
        size +=
            strlen(us->m[i].canon) + sizeof("\"\":,false") + (size_t)(us->m[i].to - us->m[i].from);
    char *out = malloc(size), *o = out;
    if (!out)
        return NULL;
    const char *flag = active ? "true" : "false";
    *o++ = '{';
    for (size_t i = 0; i < us->n; i++) {
        const struct member *m = &us->m[i];
        /* canonical names are plain ASCII: nothing to escape */
        o = put(o, i ? ",\"" : "\"");
        o = put(o, m->canon);
        o = put(o, "\":");
        if (m->type == ADC_SCIM_ATTR_ACTIVE)
            o = put(o, flag);
        else
            o += adc_json_compact(m->from, m->to, o);
    }
    if (!us->has_active) {
        o = put(o, us->n ? ",\"active\":" : "\"active\":");
        o = put(o, flag);
    }
    *o++ = '}';
    *o = '\0';
    return out;
}

int adc_scim_user_create_prepare_text(struct adc_scim_ctx *ctx, const char *json, size_t len,
                                      struct adc_scim_new_user *nu) {
    struct adc_scim_result r = {0};
    if (adc_scim_create_allowed(ctx, &r) < 0)
        return -1;
    struct user_scan us = {0};
    struct adc_json_scan s;
    adc_json_scan_init(&s, json, len, ADC_JSON_MAX_DEPTH);
    char *user_name = NULL, *external_id = NULL;
    int ret = -1;
    if (!adc_json_scan_next_is(&s, '{') || adc_json_scan_object(&s, user_member, &us) < 0 ||
        adc_json_scan_end(&s) < 0)
        goto out;
    const struct member *un = find(&us, "userName"), *ext = find(&us, "externalId");
    if (!(user_name = checked_text(un, true)) || (ext && !(external_id = checked_text(ext, false))))
        goto out;
    bool active = us.has_active ? us.active : true; /* absent means active */
    if (adc_scim_create_forced_disabled(ctx))
        active = false;
    char *data = render(&us, active);
    if (data && strlen(data) > ADC_SCIM_MAX_USER_SIZE) {
        free(data); /* escapes count here, not in jansson's reader: it decides */
        goto out;
    }
    ret = adc_scim_new_user_fill(ctx, user_name, external_id, active, us.provider, data, nu, &r);
out:
    free(user_name);
    free(external_id);
    free(us.provider);
    return ret < 0 ? -1 : 0;
}
