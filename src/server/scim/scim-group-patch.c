/* PATCH of a group (RFC 7644 section 3.5.2, docs/product.md section 10): the paths a group
 * has, members added, removed by value or by filter, replaced. The reading of members, the
 * ownership check and the saving are scim-group.c's (scim-group-internal.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/json-util.h"
#include "scim/scim-filter.h"
#include "scim/scim-group-internal.h"
#include "scim/scim-group.h"

#define fail adc_scim_fail

#define MAX_PATCH_OPS 1000

/* ---- PATCH -------------------------------------------------------------------------------- */

enum patch_op { P_ADD, P_REPLACE, P_REMOVE };

/* A patch path of a group: the attribute ("members", "displayName", "externalId", "provider",
 * or "" for none) and, for members[...], the filter. */
struct gpath {
    char attr[16];
    struct adc_scim_filter *filter;
};

static int parse_gpath(const char *text, struct gpath *p, struct adc_scim_result *r) {
    memset(p, 0, sizeof(*p));
    if (!text)
        return 0;
    if (strlen(text) > 1000)
        return fail(r, 400, "invalidPath", "path too long");
    const char *a = text;
    if (strncasecmp(a, ADC_SCIM_SCHEMA_GROUP ":", strlen(ADC_SCIM_SCHEMA_GROUP) + 1) == 0)
        a += strlen(ADC_SCIM_SCHEMA_GROUP) + 1;
    static const char *const names[] = {"members", "displayName", "externalId"};
    if (strcasecmp(a, ADC_SCIM_SCHEMA_GROUP_PROVIDER) == 0 ||
        strcasecmp(a, ADC_SCIM_SCHEMA_GROUP_PROVIDER ":provider") == 0) {
        snprintf(p->attr, sizeof(p->attr), "%s",
                 strcasecmp(a, ADC_SCIM_SCHEMA_GROUP_PROVIDER) == 0 ? "provider-ext" : "provider");
        return 0;
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        size_t n = strlen(names[i]);
        if (strncasecmp(a, names[i], n) != 0)
            continue;
        snprintf(p->attr, sizeof(p->attr), "%s", names[i]);
        if (a[n] == '\0')
            return 0;
        if (i != 0 || a[n] != '[' || a[strlen(a) - 1] != ']')
            break;
        /* members[filter] */
        char *ftext = strndup(a + n + 1, strlen(a) - n - 2);
        char err[200];
        int e = ftext ? adc_scim_filter_parse(ftext, &p->filter, err, sizeof(err)) : -ENOMEM;
        free(ftext);
        if (e < 0)
            return fail(r, 400, "invalidFilter", "invalid filter in path '%s': %s", text,
                        e == -ENOMEM ? "out of memory" : err);
        return 0;
    }
    return fail(r, 400, "invalidPath",
                "path '%s': a group's paths are members, members[filter], displayName, "
                "externalId and the provider",
                text);
}

struct patch_state {
    struct adc_scim_ctx *ctx;
    struct adc_store_group *g;
    int64_t added, removed; /* member rows */
};

static int patch_members(struct patch_state *s, enum patch_op op, const struct gpath *p,
                         const json_t *value, struct adc_scim_result *r) {
    int64_t delta = 0;
    int ret;
    if (p->filter) {
        /* RFC 7644 section 3.5.2.2: remove with a value filter; add and replace of filtered
         * elements make no sense for members (value and type are all there is). */
        if (op != P_REMOVE)
            return fail(r, 400, "invalidPath", "only remove takes a filter on members");
        ret = adc_scim_group_remove_where(s->ctx, s->g->id, p->filter, &delta, r);
    } else if (op == P_REMOVE) {
        /* Without a value, every member goes (RFC 7644 section 3.5.2.2); with one (as Entra ID
         * sends it), the members it lists. */
        ret = value ? adc_scim_group_remove_listed(s->ctx, s->g->id, value, &delta, r)
                    : adc_scim_group_remove_where(s->ctx, s->g->id, NULL, &delta, r);
    } else {
        if (!json_is_array(value) && !json_is_object(value))
            return fail(r, 400, "invalidValue", "members: the value must be an array of members");
        ret = op == P_REPLACE ? adc_scim_group_remove_where(s->ctx, s->g->id, NULL, &delta, r) : 0;
        if (ret == 0) {
            s->removed -= delta;
            delta = 0;
            ret = adc_scim_group_add_members(s->ctx, s->g->id, value, &delta, r);
        }
    }
    if (delta > 0)
        s->added += delta;
    else
        s->removed -= delta;
    return ret;
}

static int patch_text(struct patch_state *s, enum patch_op op, const char *attr,
                      const json_t *value, struct adc_scim_result *r) {
    bool name = strcmp(attr, "displayName") == 0;
    if (op == P_REMOVE) {
        if (name)
            return fail(r, 400, "mutability", "displayName is required and cannot be removed");
        return adc_scim_group_set_text(&s->g->external_id, NULL, r);
    }
    if (adc_scim_group_check_name(value, attr, r) < 0)
        return -1;
    return adc_scim_group_set_text(name ? &s->g->display_name : &s->g->external_id,
                                   json_string_value(value), r);
}

/* add or replace without a path: the value is an object of attributes. */
static int patch_object(struct patch_state *s, enum patch_op op, const json_t *value,
                        struct adc_scim_result *r) {
    if (!json_is_object(value))
        return fail(r, 400, "invalidValue", "without a path, the value must be an object");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)value, key, v) {
        struct gpath p;
        if (strcasecmp(key, "schemas") == 0 || strcasecmp(key, "id") == 0 ||
            strcasecmp(key, "meta") == 0)
            continue;
        if (parse_gpath(key, &p, r) < 0)
            return -1;
        int e;
        if (strcmp(p.attr, "members") == 0)
            e = patch_members(s, op, &p, v, r);
        else if (!strcmp(p.attr, "provider-ext") || !strcmp(p.attr, "provider"))
            e = fail(r, 400, "invalidPath", "set the provider with its path");
        else
            e = patch_text(s, op, p.attr, v, r);
        adc_scim_filter_free(p.filter);
        if (e < 0)
            return -1;
    }
    return 0;
}

/* The provider: "…:Group:provider" with a string, or the extension URN with {"provider"}. */
static int patch_provider(struct patch_state *s, enum patch_op op, bool whole_extension,
                          const json_t *value, struct adc_scim_result *r) {
    if (op == P_REMOVE)
        return fail(r, 400, "mutability", "the provider cannot be removed");
    const char *provider = NULL;
    if (whole_extension) {
        if (adc_scim_group_read_provider(value, &provider, r) < 0)
            return -1;
    } else if (json_is_string(value)) {
        provider = json_string_value(value);
    } else {
        return fail(r, 400, "invalidValue", "provider must be a string");
    }
    return adc_scim_group_set_provider(s->ctx, s->g, provider, r);
}

static int patch_one(struct patch_state *s, const json_t *o, struct adc_scim_result *r) {
    json_t *opv = adc_scim_json_get(o, "op", NULL), *pathv = adc_scim_json_get(o, "path", NULL);
    json_t *value = adc_scim_json_get(o, "value", NULL);
    if (!json_is_object(o) || !json_is_string(opv))
        return fail(r, 400, "invalidSyntax", "each operation needs \"op\"");
    if (pathv && !json_is_string(pathv))
        return fail(r, 400, "invalidPath", "path must be a string");
    const char *ops = json_string_value(opv);
    enum patch_op op;
    if (strcasecmp(ops, "add") == 0)
        op = P_ADD;
    else if (strcasecmp(ops, "replace") == 0)
        op = P_REPLACE;
    else if (strcasecmp(ops, "remove") == 0)
        op = P_REMOVE;
    else
        return fail(r, 400, "invalidSyntax", "op must be add, replace or remove, not '%s'", ops);
    if (!pathv) {
        if (op == P_REMOVE)
            return fail(r, 400, "noTarget", "remove needs a path");
        return patch_object(s, op, value, r);
    }
    if (op != P_REMOVE && !value)
        return fail(r, 400, "invalidValue", "%s needs a value", ops);
    struct gpath p;
    if (parse_gpath(json_string_value(pathv), &p, r) < 0)
        return -1;
    int e;
    if (strcmp(p.attr, "members") == 0) {
        e = patch_members(s, op, &p, op == P_REMOVE && json_is_null(value) ? NULL : value, r);
    } else if (!strcmp(p.attr, "provider") || !strcmp(p.attr, "provider-ext")) {
        e = patch_provider(s, op, !strcmp(p.attr, "provider-ext"), value, r);
    } else {
        e = patch_text(s, op, p.attr, value, r);
    }
    adc_scim_filter_free(p.filter);
    return e;
}

static int read_patch_ops(const json_t *body, const json_t **ops, struct adc_scim_result *r) {
    if (!json_is_object(body))
        return fail(r, 400, "invalidSyntax", "a PatchOp must be a JSON object");
    json_t *schemas = adc_scim_json_get(body, "schemas", NULL);
    bool ok = false;
    size_t i;
    json_t *s;
    json_array_foreach(schemas, i, s) {
        if (json_is_string(s) && strcasecmp(json_string_value(s), ADC_SCIM_SCHEMA_PATCH) == 0)
            ok = true;
    }
    if (!ok)
        return fail(r, 400, "invalidSyntax", "schemas must be [\"%s\"]", ADC_SCIM_SCHEMA_PATCH);
    *ops = adc_scim_json_get(body, "Operations", NULL);
    if (!json_is_array(*ops) || json_array_size(*ops) == 0)
        return fail(r, 400, "invalidSyntax", "Operations must be a non-empty array");
    if (json_array_size(*ops) > MAX_PATCH_OPS)
        return fail(r, 413, NULL, "more than %d operations in one PATCH", MAX_PATCH_OPS);
    return 0;
}

int adc_scim_group_patch(struct adc_scim_ctx *ctx, const char *id, const json_t *body,
                         const char *if_match, bool want_resource, bool members,
                         struct adc_scim_result *r) {
    /* The order of adc_scim_group_replace's on purpose (settings, body, then the stored group):
     * a refusal costs no read of the store. */
    if (adc_scim_enforce(ctx, "update", ADC_SETTING_NO_UPDATE, r) < 0)
        return -1;
    const json_t *ops;
    if (read_patch_ops(body, &ops, r) < 0)
        return -1;
    struct adc_store_group g;
    bool takeover;
    if (adc_scim_group_load_for_write(ctx, id, if_match, false, &g, &takeover, r) < 0)
        return -1;
    int ret = -1;
    if (takeover && adc_scim_group_set_text(&g.provider, ctx->who->app_id, r) < 0)
        goto out;
    /* The operations change rows as they go; a failing one fails the request, whose
     * transaction the caller then rolls back: all or nothing (RFC 7644 section 3.5.2). */
    struct patch_state s = {.ctx = ctx, .g = &g};
    size_t i;
    json_t *o;
    json_array_foreach(ops, i, o) {
        if (patch_one(&s, o, r) < 0)
            goto out;
    }
    char extra[64];
    snprintf(extra, sizeof(extra), "added=%lld removed=%lld", (long long)s.added,
             (long long)s.removed);
    ret = adc_scim_group_save(ctx, &g, s.added - s.removed,
                              takeover ? "group.takeover" : "group.patch", extra,
                              want_resource ? 200 : 204, want_resource, members, r);
out:
    adc_store_group_done(&g);
    return ret;
}
