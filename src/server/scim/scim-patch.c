/* PATCH of a SCIM resource (RFC 7644 section 3.5.2): add, replace and remove, with attribute
 * paths, sub-attributes, extension URNs and value filters ("emails[type eq \"work\"].value").
 * Works on the rendered resource; the caller validates the result like a PUT body. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scim/scim-filter.h"
#include "scim/scim-user.h"

#define MAX_PATCH_OPS 1000

enum op { OP_ADD, OP_REPLACE, OP_REMOVE };

struct path {
    char container[200]; /* extension URN holding the attribute, or "" for the core schema */
    char attr[100];
    char sub[100];                  /* "" when none */
    struct adc_scim_filter *filter; /* attr[filter], or NULL */
};

struct patch_err {
    const char **scim_type;
    char *err;
    size_t err_size;
};

static int perr(struct patch_err *e, const char *type, const char *fmt, ...) _printf_(3, 4);
static int perr(struct patch_err *e, const char *type, const char *fmt, ...) {
    *e->scim_type = type;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->err, e->err_size, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *const known_urns[] = {
    ADC_SCIM_SCHEMA_USER,
    ADC_SCIM_SCHEMA_ENTERPRISE,
    ADC_SCIM_SCHEMA_PROVIDER,
};

static int copy_part(char *dst, size_t size, const char *src, size_t n) {
    if (n == 0 || n >= size)
        return -1;
    memcpy(dst, src, n);
    dst[n] = '\0';
    return 0;
}

static int parse_path(const char *text, struct path *p, struct patch_err *e) {
    memset(p, 0, sizeof(*p));
    if (strlen(text) > 1000)
        return perr(e, "invalidPath", "path too long");
    /* The whole path may be an extension's URN: the value is that extension's object. */
    for (size_t i = 1; i < sizeof(known_urns) / sizeof(known_urns[0]); i++)
        if (strcasecmp(text, known_urns[i]) == 0) {
            snprintf(p->attr, sizeof(p->attr), "%s", known_urns[i]);
            return 0;
        }
    size_t bracket = strcspn(text, "[");
    const char *attr = text;
    if (strncasecmp(text, "urn:", 4) == 0) {
        /* The URN ends at the last ':' before any filter; "2.0" has a dot, so split on ':'. */
        const char *colon = NULL;
        for (const char *c = text; c < text + bracket; c++)
            if (*c == ':')
                colon = c;
        if (!colon || copy_part(p->container, sizeof(p->container), text, colon - text) < 0)
            return perr(e, "invalidPath", "invalid path '%s'", text);
        if (strcasecmp(p->container, ADC_SCIM_SCHEMA_USER) == 0)
            p->container[0] = '\0';
        else {
            bool known = false;
            for (size_t i = 1; i < sizeof(known_urns) / sizeof(known_urns[0]); i++)
                if (strcasecmp(p->container, known_urns[i]) == 0) {
                    snprintf(p->container, sizeof(p->container), "%s", known_urns[i]);
                    known = true;
                }
            if (!known)
                return perr(e, "invalidPath", "unknown schema in path '%s'", text);
        }
        attr = colon + 1;
        bracket = strcspn(attr, "[");
    }
    size_t dot = strcspn(attr, ".[");
    if (copy_part(p->attr, sizeof(p->attr), attr, dot) < 0)
        return perr(e, "invalidPath", "invalid path '%s'", text);
    const char *rest = attr + dot;
    if (*rest == '[') {
        const char *close = strrchr(rest, ']');
        if (!close)
            return perr(e, "invalidPath", "missing ']' in path '%s'", text);
        char *ftext = strndup(rest + 1, close - rest - 1);
        if (!ftext)
            return perr(e, NULL, "out of memory");
        char ferr[200];
        int r = adc_scim_filter_parse(ftext, &p->filter, ferr, sizeof(ferr));
        free(ftext);
        if (r < 0)
            return perr(e, "invalidFilter", "invalid filter in path '%s': %s", text, ferr);
        rest = close + 1;
    }
    if (*rest == '.') {
        if (copy_part(p->sub, sizeof(p->sub), rest + 1, strlen(rest + 1)) < 0 ||
            strpbrk(p->sub, ".[]"))
            goto bad;
    } else if (*rest) {
        goto bad;
    }
    return 0;
bad:
    adc_scim_filter_free(p->filter);
    p->filter = NULL;
    return perr(e, "invalidPath", "invalid path '%s'", text);
}

/* Sets obj[key] (matching an existing key ignoring case) with add/replace semantics. */
static void set_attr(json_t *obj, const char *key, json_t *value, enum op op) {
    const char *actual = key;
    json_t *cur = adc_scim_json_get(obj, key, &actual);
    if (cur && json_is_array(cur) && op == OP_ADD) {
        if (json_is_array(value))
            json_array_extend(cur, value);
        else
            json_array_append(cur, value);
        return;
    }
    if (cur && json_is_object(cur) && json_is_object(value)) {
        /* Complex attributes: the given sub-attributes replace, the others stay (3.5.2.1/3). */
        const char *k;
        json_t *v;
        json_object_foreach(value, k, v) set_attr(cur, k, v, OP_REPLACE);
        return;
    }
    char *keep = strdup(actual); /* actual may point into the key being replaced */
    if (!keep)
        return;
    json_object_set(obj, keep, value);
    free(keep);
}

static void remove_attr(json_t *obj, const char *key) {
    const char *actual;
    if (adc_scim_json_get(obj, key, &actual)) {
        char *keep = strdup(actual);
        if (keep)
            json_object_del(obj, keep);
        free(keep);
    }
}

static bool read_only(const char *attr) {
    return !strcasecmp(attr, "id") || !strcasecmp(attr, "meta") || !strcasecmp(attr, "schemas");
}

static json_t *container_of(json_t *res, const struct path *p, bool create) {
    if (!p->container[0])
        return res;
    json_t *c = adc_scim_json_get(res, p->container, NULL);
    if (!c && create) {
        c = json_object();
        json_object_set_new(res, p->container, c);
    }
    return json_is_object(c) ? c : NULL;
}

/* Whether a key of a path-less value is an attribute path rather than an attribute: it has a
 * '.' outside a schema URN, or is an attribute of a known schema written with its URN. */
static bool key_is_path(const char *k) {
    for (size_t i = 0; i < sizeof(known_urns) / sizeof(known_urns[0]); i++) {
        size_t n = strlen(known_urns[i]);
        if (strncasecmp(k, known_urns[i], n) == 0)
            return k[n] == ':';
    }
    return strncasecmp(k, "urn:", 4) != 0 && strchr(k, '.') != NULL;
}

/* For an add to "attr[sub eq \"v\"].x" when no value matches: the value that filter
 * describes, as Entra expects (it sends add emails[type eq "work"].value to give a user the
 * work address it does not have yet). Only for a plain eq on a string; else NULL. */
static json_t *element_from_filter(const struct adc_scim_filter *f) {
    if (!f || f->op != ADC_SCIM_EQ || !f->attr || strchr(f->attr, '.') || !json_is_string(f->value))
        return NULL;
    return json_pack("{s:O}", f->attr, f->value);
}

static int apply_op(json_t *res, enum op op, const char *path_text, json_t *value,
                    struct patch_err *e);

/* An operation without a path: the value is an object of attributes (RFC 7644 section 3.5.2). */
static int apply_without_path(json_t *res, enum op op, json_t *value, struct patch_err *e) {
    if (op == OP_REMOVE)
        return perr(e, "noTarget", "remove needs a path");
    if (!json_is_object(value))
        return perr(e, "invalidValue", "without a path the value must be an object");
    const char *k;
    json_t *v;
    json_object_foreach(value, k, v) {
        if (read_only(k))
            continue; /* clients echo id/schemas back; ignoring them is harmless */
        /* Entra and others send paths as keys: {"name.givenName": "Ann"},
         * {"urn:...:enterprise:2.0:User:department": "R&D"}. Read them as the path they
         * name (RFC 7644 section 3.5.2: "value" without "path" holds attributes). */
        if (key_is_path(k)) {
            if (apply_op(res, op, k, v, e) < 0)
                return -1;
            continue;
        }
        set_attr(res, k, v, op);
    }
    return 0;
}

/* "attr" or "attr.sub" in the container c. */
static void apply_plain(json_t *c, enum op op, const struct path *p, json_t *value) {
    if (p->sub[0]) {
        json_t *parent = adc_scim_json_get(c, p->attr, NULL);
        if (op == OP_REMOVE) {
            if (json_is_object(parent))
                remove_attr(parent, p->sub);
            return;
        }
        if (!json_is_object(parent)) {
            parent = json_object();
            set_attr(c, p->attr, parent, OP_REPLACE);
            json_decref(parent);
            parent = adc_scim_json_get(c, p->attr, NULL);
        }
        set_attr(parent, p->sub, value, op);
    } else if (op == OP_REMOVE) {
        remove_attr(c, p->attr);
    } else if (op == OP_REPLACE && json_is_array(value)) {
        /* replace of a whole multi-valued attribute: the new set */
        const char *actual = p->attr;
        adc_scim_json_get(c, p->attr, &actual);
        char *keep = strdup(actual);
        if (keep)
            json_object_set(c, keep, value);
        free(keep);
    } else {
        set_attr(c, p->attr, value, op);
    }
}

/* "attr[filter]" or "attr[filter].sub": the operation on each element of arr that matches.
 * Returns the number matched, or -1 with the error in e. */
static long apply_to_matches(json_t *arr, enum op op, const struct path *p, json_t *value,
                             const char *path_text, struct patch_err *e) {
    long matched = 0;
    for (size_t i = 0; i < json_array_size(arr);) {
        json_t *el = json_array_get(arr, i);
        if (!json_is_object(el) || !adc_scim_filter_match(p->filter, el)) {
            i++;
            continue;
        }
        matched++;
        if (op == OP_REMOVE && !p->sub[0]) {
            json_array_remove(arr, i);
            continue;
        }
        if (op == OP_REMOVE)
            remove_attr(el, p->sub);
        else if (p->sub[0])
            set_attr(el, p->sub, value, OP_REPLACE);
        else if (json_is_object(value)) {
            const char *k;
            json_t *v;
            json_object_foreach(value, k, v) set_attr(el, k, v, OP_REPLACE);
        } else
            return perr(e, "invalidValue", "the value for '%s' must be an object", path_text);
        i++;
    }
    return matched;
}

/* An add or replace whose filter matched nothing. RFC 7644 section 3.5.2.3: replace is
 * noTarget; add makes the element the filter describes. */
static int add_unmatched(json_t *c, json_t *arr, enum op op, const struct path *p, json_t *value,
                         const char *path_text, struct patch_err *e) {
    json_t *el = op == OP_ADD ? element_from_filter(p->filter) : NULL;
    if (!el || (!p->sub[0] && !json_is_object(value))) {
        json_decref(el);
        return perr(e, "noTarget", "no value of '%s' matches the filter", path_text);
    }
    if (p->sub[0])
        set_attr(el, p->sub, value, OP_REPLACE);
    else
        json_object_update(el, value);
    if (!json_is_array(arr)) {
        json_t *fresh = json_array();
        set_attr(c, p->attr, fresh, OP_REPLACE);
        json_decref(fresh);
        arr = adc_scim_json_get(c, p->attr, NULL);
    }
    json_array_append_new(arr, el);
    return 0;
}

static int apply_op(json_t *res, enum op op, const char *path_text, json_t *value,
                    struct patch_err *e) {
    if (op != OP_REMOVE && !value)
        return perr(e, "invalidValue", "add and replace need a value");
    if (!path_text)
        return apply_without_path(res, op, value, e);
    struct path p;
    if (parse_path(path_text, &p, e) < 0)
        return -1;
    int r = -1;
    if (read_only(p.attr)) {
        perr(e, "mutability", "'%s' is read-only", p.attr);
        goto out;
    }
    json_t *c = container_of(res, &p, op != OP_REMOVE);
    if (!c) {
        r = 0; /* removing from an absent extension: nothing to do */
        goto out;
    }
    if (!p.filter) {
        apply_plain(c, op, &p, value);
        r = 0;
        goto out;
    }
    json_t *arr = adc_scim_json_get(c, p.attr, NULL);
    long matched = json_is_array(arr) ? apply_to_matches(arr, op, &p, value, path_text, e) : 0;
    if (matched < 0)
        goto out;
    if (matched == 0 && op != OP_REMOVE && add_unmatched(c, arr, op, &p, value, path_text, e) < 0)
        goto out;
    r = 0;
out:
    adc_scim_filter_free(p.filter);
    return r;
}

int adc_scim_patch_apply(json_t *resource, const json_t *body, const char **scim_type, char *err,
                         size_t err_size) {
    struct patch_err e = {scim_type, err, err_size};
    if (!json_is_object(body))
        return perr(&e, "invalidSyntax", "a PATCH body must be a JSON object");
    json_t *schemas = adc_scim_json_get(body, "schemas", NULL);
    if (schemas) {
        bool ok = false;
        size_t i;
        json_t *s;
        json_array_foreach(schemas, i, s) {
            if (json_is_string(s) && !strcasecmp(json_string_value(s), ADC_SCIM_SCHEMA_PATCH))
                ok = true;
        }
        if (!ok)
            return perr(&e, "invalidSyntax", "schemas must be [\"%s\"]", ADC_SCIM_SCHEMA_PATCH);
    }
    json_t *ops = adc_scim_json_get(body, "Operations", NULL);
    if (!json_is_array(ops) || json_array_size(ops) == 0)
        return perr(&e, "invalidSyntax", "Operations must be a non-empty array");
    if (json_array_size(ops) > MAX_PATCH_OPS)
        return perr(&e, "tooMany", "at most %d operations in one PATCH", MAX_PATCH_OPS);
    size_t i;
    json_t *o;
    json_array_foreach(ops, i, o) {
        if (!json_is_object(o))
            return perr(&e, "invalidSyntax", "operation %zu is not an object", i + 1);
        json_t *opv = adc_scim_json_get(o, "op", NULL);
        const char *name = json_string_value(opv);
        enum op op;
        /* Operation names are case-insensitive in practice (Azure AD sends "Replace"). */
        if (name && !strcasecmp(name, "add"))
            op = OP_ADD;
        else if (name && !strcasecmp(name, "replace"))
            op = OP_REPLACE;
        else if (name && !strcasecmp(name, "remove"))
            op = OP_REMOVE;
        else
            return perr(&e, "invalidSyntax", "operation %zu: op must be add, replace or remove",
                        i + 1);
        json_t *pathv = adc_scim_json_get(o, "path", NULL);
        if (pathv && !json_is_string(pathv))
            return perr(&e, "invalidPath", "operation %zu: path must be a string", i + 1);
        if (apply_op(resource, op, json_string_value(pathv), adc_scim_json_get(o, "value", NULL),
                     &e) < 0)
            return -1;
    }
    return 0;
}
