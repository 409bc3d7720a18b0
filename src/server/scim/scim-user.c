#include "scim/scim-user.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/auth.h"
#include "common/buf.h"
#include "common/json-util.h"
#include "scim/scim-attrs.h"
#include "scim/scim-filter.h"
#include "store/store-configs.h"
#include "store/store-groups.h"
#include "store/store-runs.h"

void adc_scim_result_done(struct adc_scim_result *r) {
    if (!r)
        return;
    json_decref(r->resource);
    memset(r, 0, sizeof(*r));
}

int adc_scim_fail(struct adc_scim_result *r, unsigned status, const char *scim_type,
                  const char *fmt, ...) {
    r->status = status;
    r->scim_type = scim_type;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
    va_end(ap);
    return -1;
}

#define fail adc_scim_fail

json_t *adc_scim_result_error(const struct adc_scim_result *r) {
    char status[8];
    snprintf(status, sizeof(status), "%u", r->status);
    json_t *j = json_pack("{s:[s],s:s,s:s}", "schemas", ADC_SCIM_SCHEMA_ERROR, "status", status,
                          "detail", r->detail);
    if (r->scim_type)
        json_object_set_new(j, "scimType", json_string(r->scim_type));
    return j;
}

void adc_scim_etag(int64_t version, char *buf, size_t size) {
    snprintf(buf, size, "W/\"%lld\"", (long long)version);
}

json_t *adc_scim_user_render(const struct adc_store_user *u, const char *base_url) {
    json_t *data = json_loads(u->data, 0, NULL);
    if (!json_is_object(data)) {
        json_decref(data);
        data = json_object();
    }
    json_t *res = json_object();
    json_t *schemas = json_pack("[s,s]", ADC_SCIM_SCHEMA_USER, ADC_SCIM_SCHEMA_PROVIDER);
    if (json_object_get(data, ADC_SCIM_SCHEMA_ENTERPRISE))
        json_array_append_new(schemas, json_string(ADC_SCIM_SCHEMA_ENTERPRISE));
    json_object_set_new(res, "schemas", schemas);
    json_object_set_new(res, "id", json_string(u->id));
    json_object_update(res, data);
    json_decref(data);
    /* The columns are the truth for the indexed attributes. */
    json_object_set_new(res, "userName", json_string(u->user_name));
    if (u->external_id)
        json_object_set_new(res, "externalId", json_string(u->external_id));
    json_object_set_new(res, "active", json_boolean(u->active));
    json_object_set_new(res, ADC_SCIM_SCHEMA_PROVIDER, json_pack("{s:s}", "provider", u->provider));
    char etag[32], location[512];
    adc_scim_etag(u->version, etag, sizeof(etag));
    snprintf(location, sizeof(location), "%s/scim/v2/Users/%s", base_url ? base_url : "", u->id);
    json_object_set_new(res, "meta",
                        json_pack("{s:s,s:s,s:s,s:s,s:s}", "resourceType", "User", "created",
                                  u->created, "lastModified", u->modified, "location", location,
                                  "version", etag));
    return res;
}

int adc_scim_user_render_text(const struct adc_store_user *u, const char *base_url,
                              struct adc_buf *out) {
    /* The stored attributes are a compact JSON object written by us (prepare() keeps userName,
     * externalId and active in it equal to the columns); splice its members in. */
    size_t dlen = strlen(u->data);
    if (dlen < 2 || u->data[0] != '{' || u->data[dlen - 1] != '}')
        return -EINVAL;
    adc_buf_puts(out,
                 "{\"schemas\":[\"" ADC_SCIM_SCHEMA_USER "\",\"" ADC_SCIM_SCHEMA_PROVIDER "\"");
    if (strstr(u->data, "\"" ADC_SCIM_SCHEMA_ENTERPRISE "\":"))
        adc_buf_puts(out, ",\"" ADC_SCIM_SCHEMA_ENTERPRISE "\"");
    adc_buf_puts(out, "],\"id\":");
    adc_json_append_string(out, u->id);
    if (dlen > 2) {
        adc_buf_puts(out, ",");
        adc_buf_append(out, u->data + 1, dlen - 2);
    }
    adc_buf_puts(out, ",\"" ADC_SCIM_SCHEMA_PROVIDER "\":{\"provider\":");
    adc_json_append_string(out, u->provider);
    adc_buf_printf(out,
                   "},\"meta\":{\"resourceType\":\"User\",\"created\":\"%s\",\"lastModified\":"
                   "\"%s\",\"location\":",
                   u->created, u->modified);
    char location[512];
    snprintf(location, sizeof(location), "%s/scim/v2/Users/%s", base_url ? base_url : "", u->id);
    adc_json_append_string(out, location);
    return adc_buf_printf(out, ",\"version\":\"W/\\\"%lld\\\"\"}}", (long long)u->version);
}

bool adc_scim_etag_matches(const char *if_match, int64_t version) {
    if (!if_match)
        return true;
    char want[32];
    snprintf(want, sizeof(want), "\"%lld\"", (long long)version);
    /* A list of entity tags, weak or strong: compare the quoted part. */
    const char *p = if_match;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == '*')
            return true;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        size_t n = strcspn(p, ",");
        while (n > 0 && p[n - 1] == ' ')
            n--;
        if (n == strlen(want) && strncmp(p, want, n) == 0)
            return true;
        p += strcspn(p, ",");
    }
    return false;
}

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

struct prepared {
    json_t *data; /* attributes to store */
    const char *user_name, *external_id;
    bool active;
    const char *provider; /* from the extension; NULL when not given */
};

/* Validates an incoming User resource and normalizes it for storage. */
static int prepare(const json_t *in, struct prepared *p, struct adc_scim_result *r) {
    memset(p, 0, sizeof(*p));
    if (!json_is_object(in))
        return fail(r, 400, "invalidSyntax", "a User resource must be a JSON object");
    json_t *schemas = adc_scim_json_get(in, "schemas", NULL);
    if (schemas) {
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
    }
    json_t *data = json_object();
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)in, key, v) {
        if (strncasecmp(key, "urn:", 4) == 0) {
            if (strcasecmp(key, ADC_SCIM_SCHEMA_PROVIDER) == 0) {
                json_t *prov = adc_scim_json_get(v, "provider", NULL);
                if (prov && !json_is_string(prov)) {
                    json_decref(data);
                    return fail(r, 400, "invalidValue", "provider must be a string");
                }
                p->provider = json_string_value(prov);
                continue;
            }
            if (strcasecmp(key, ADC_SCIM_SCHEMA_ENTERPRISE) == 0) {
                if (!json_is_object(v)) {
                    json_decref(data);
                    return fail(r, 400, "invalidValue", "%s must be an object", key);
                }
                char why[200];
                if (adc_scim_check_limits(ADC_SCIM_SCHEMA_ENTERPRISE, v, why, sizeof(why)) < 0) {
                    json_decref(data);
                    return fail(r, 400, "invalidValue", "%s", why);
                }
                json_object_set(data, ADC_SCIM_SCHEMA_ENTERPRISE, v);
            }
            continue; /* other extensions are not ours to keep */
        }
        enum adc_scim_attr_type type;
        const char *canon = adc_scim_core_attr(key, &type);
        if (!canon)
            continue; /* id, meta, schemas, groups, password, unknown: not stored */
        if (json_is_null(v))
            continue; /* null is the same as absent (RFC 7643 section 2.5) */
        if (type == ADC_SCIM_ATTR_STRING && !json_is_string(v)) {
            json_decref(data);
            return fail(r, 400, "invalidValue", "%s must be a string", canon);
        }
        if (type == ADC_SCIM_ATTR_MULTI && !json_is_array(v)) {
            json_decref(data);
            return fail(r, 400, "invalidValue", "%s must be an array", canon);
        }
        if (type == ADC_SCIM_ATTR_NAME && !json_is_object(v)) {
            json_decref(data);
            return fail(r, 400, "invalidValue", "name must be an object");
        }
        if (type == ADC_SCIM_ATTR_ACTIVE) {
            bool b;
            if (as_bool(v, &b) < 0) {
                json_decref(data);
                return fail(r, 400, "invalidValue", "active must be true or false");
            }
            json_object_set_new(data, "active", json_boolean(b));
            continue;
        }
        char why[200];
        if (adc_scim_check_limits(canon, v, why, sizeof(why)) < 0) {
            json_decref(data);
            return fail(r, 400, "invalidValue", "%s", why);
        }
        if (type == ADC_SCIM_ATTR_MULTI) {
            /* Entra sends "primary": "True": a boolean as a string, read as the boolean. */
            json_t *copy = json_deep_copy(v);
            adc_scim_booleans_normalize(copy);
            json_object_set_new(data, canon, copy);
            continue;
        }
        json_object_set(data, canon, v);
    }
    json_t *un = json_object_get(data, "userName");
    if (!un) {
        json_decref(data);
        return fail(r, 400, "invalidValue", "userName is required");
    }
    if (!json_is_string(un) || !adc_scim_valid_name(json_string_value(un))) {
        json_decref(data);
        return fail(r, 400, "invalidValue",
                    "userName must be a non-empty string of at most %d bytes without control, "
                    "format or zero-width characters",
                    ADC_SCIM_MAX_NAME_LEN);
    }
    json_t *ext = json_object_get(data, "externalId");
    if (ext && !adc_scim_valid_text(json_string_value(ext), ADC_SCIM_MAX_NAME_LEN)) {
        json_decref(data);
        return fail(r, 400, "invalidValue",
                    "externalId must be a non-empty string of at most %d characters",
                    ADC_SCIM_MAX_NAME_LEN);
    }
    json_t *act = json_object_get(data, "active");
    /* Absent means active: a PUT that omits it clears it to its default. */
    p->active = act ? json_is_true(act) : true;
    json_object_set_new(data, "active", json_boolean(p->active));
    p->user_name = json_string_value(un);
    p->external_id = json_string_value(ext);
    p->data = data;
    return 0;
}

bool adc_scim_setting_on(const struct adc_principal *who, enum adc_setting s) {
    /* Unset means the client decides (docs/product.md section 6): the server then refuses nothing
     * on that setting's account. For no-update-provider-mismatch this lets the client's own setting
     * (adc.yaml) decide the takeover of a `local` user: its plan writes one only when that setting
     * is false there. New configurations start with it true (docs/product.md section 11). */
    return who->settings[s] == ADC_TRUE;
}

int adc_scim_enforce(struct adc_scim_ctx *ctx, const char *what, enum adc_setting s,
                     struct adc_scim_result *r) {
    if (ctx->who->kind != ADC_PRINCIPAL_SYNC)
        return 0;
    if (adc_scim_setting_on(ctx->who, ADC_SETTING_DRY_RUN))
        return fail(r, 403, NULL,
                    "sync configuration %s is dry-run only (server setting dry-run=true): "
                    "%s refused, nothing changed",
                    ctx->who->app_id, what);
    if ((int)s >= 0 && adc_scim_setting_on(ctx->who, s))
        return fail(r, 403, NULL, "server setting %s=true of sync configuration %s: %s refused",
                    adc_setting_name(s), ctx->who->app_id, what);
    return 0;
}

int adc_scim_check_provider(struct adc_scim_ctx *ctx, const char *provider,
                            struct adc_scim_result *r) {
    if (strcmp(provider, ADC_PROVIDER_LOCAL) == 0)
        return 0;
    struct adc_store_config c;
    int e = adc_store_config_get(ctx->db, provider, &c, NULL);
    if (e == 0) {
        adc_store_config_done(&c);
        return 0;
    }
    if (e == -ENOENT)
        return fail(r, 400, "invalidValue",
                    "provider '%s' is neither 'local' nor the app_id of a sync configuration",
                    provider);
    return fail(r, 500, NULL, "database error");
}

static int store_failure(int e, const char *user_name, struct adc_scim_result *r) {
    if (e == -EEXIST)
        return fail(r, 409, "uniqueness", "userName '%s' is already taken (compared ignoring case)",
                    user_name);
    if (e == -ENOENT)
        return fail(r, 404, NULL, "no such user");
    if (e == -EBUSY)
        return fail(r, 503, NULL, "database busy; retry");
    return fail(r, 500, NULL, "database error");
}

static int audit(struct adc_scim_ctx *ctx, const char *action, const struct adc_store_user *u) {
    char detail[600];
    snprintf(detail, sizeof(detail), "userName=%s provider=%s active=%s", u->user_name, u->provider,
             u->active ? "true" : "false");
    return adc_store_audit(ctx->db, ctx->who->actor, action, u->id, detail);
}

static int finish(struct adc_scim_ctx *ctx, const struct adc_store_user *u, unsigned status,
                  bool want_resource, struct adc_scim_result *r) {
    r->status = status;
    snprintf(r->id, sizeof(r->id), "%s", u->id);
    r->version = u->version;
    if (want_resource)
        r->resource = adc_scim_user_render(u, ctx->base_url);
    return 0;
}

int adc_scim_create_allowed(struct adc_scim_ctx *ctx, struct adc_scim_result *r) {
    return adc_scim_enforce(ctx, "create", ADC_SETTING_NO_CREATE, r);
}

bool adc_scim_create_forced_disabled(const struct adc_scim_ctx *ctx) {
    return ctx->who->kind == ADC_PRINCIPAL_SYNC &&
           adc_scim_setting_on(ctx->who, ADC_SETTING_CREATE_AS_DISABLED);
}

int adc_scim_new_user_fill(const struct adc_scim_ctx *ctx, const char *user_name,
                           const char *external_id, bool active, const char *provider, char *data,
                           struct adc_scim_new_user *nu, struct adc_scim_result *r) {
    memset(nu, 0, sizeof(*nu));
    struct adc_store_user *u = &nu->u;
    u->data = data;
    if (data && strlen(data) > ADC_SCIM_MAX_USER_SIZE) {
        adc_scim_new_user_done(nu);
        return fail(r, 400, "invalidValue",
                    "the user's attributes take more than %d bytes of JSON (the limit of this "
                    "server)",
                    ADC_SCIM_MAX_USER_SIZE);
    }
    if (ctx->who->kind == ADC_PRINCIPAL_SYNC) {
        /* A sync configuration's users are its own, whatever the request says. */
        u->provider = strdup(ctx->who->app_id);
    } else {
        u->provider = strdup(provider ? provider : ADC_PROVIDER_LOCAL);
        nu->check_provider = true;
    }
    u->user_name = strdup(user_name);
    u->external_id = external_id ? strdup(external_id) : NULL;
    u->active = active;
    u->version = 1;
    if (!u->provider || !u->user_name || !u->data || (external_id && !u->external_id)) {
        adc_scim_new_user_done(nu);
        return fail(r, 500, NULL, "out of memory");
    }
    return 0;
}

int adc_scim_user_create_prepare(struct adc_scim_ctx *ctx, const json_t *body,
                                 struct adc_scim_new_user *nu, struct adc_scim_result *r) {
    memset(nu, 0, sizeof(*nu));
    if (adc_scim_create_allowed(ctx, r) < 0)
        return -1;
    struct prepared p;
    if (prepare(body, &p, r) < 0)
        return -1;
    if (adc_scim_create_forced_disabled(ctx)) {
        p.active = false;
        json_object_set_new(p.data, "active", json_false());
    }
    int ret = adc_scim_new_user_fill(ctx, p.user_name, p.external_id, p.active, p.provider,
                                     json_dumps(p.data, JSON_COMPACT), nu, r);
    json_decref(p.data);
    return ret;
}

int adc_scim_user_create_commit(struct adc_scim_ctx *ctx, struct adc_scim_new_user *nu,
                                bool want_resource, struct adc_scim_result *r) {
    struct adc_store_user *u = &nu->u;
    if (nu->check_provider && adc_scim_check_provider(ctx, u->provider, r) < 0)
        return -1;
    adc_auth_uuid7(u->id);
    adc_store_now(u->created);
    memcpy(u->modified, u->created, sizeof(u->modified));
    int e = adc_store_user_insert(ctx->db, u);
    if (e < 0) {
        store_failure(e, u->user_name, r);
        return -1;
    }
    if (audit(ctx, "user.create", u) < 0)
        return fail(r, 500, NULL, "database error");
    return finish(ctx, u, 201, want_resource, r);
}

void adc_scim_new_user_done(struct adc_scim_new_user *nu) {
    adc_store_user_done(&nu->u);
    nu->check_provider = false;
}

int adc_scim_user_create(struct adc_scim_ctx *ctx, const json_t *body, bool want_resource,
                         struct adc_scim_result *r) {
    struct adc_scim_new_user nu;
    if (adc_scim_user_create_prepare(ctx, body, &nu, r) < 0)
        return -1;
    int ret = adc_scim_user_create_commit(ctx, &nu, want_resource, r);
    adc_scim_new_user_done(&nu);
    return ret;
}

/* Loads the target of a change and checks that this client may change it. */
static int load_for_write(struct adc_scim_ctx *ctx, const char *id, const char *if_match,
                          struct adc_store_user *u, struct adc_scim_result *r) {
    int e = adc_store_user_get(ctx->db, id, u);
    if (e < 0)
        return e == -ENOENT ? fail(r, 404, NULL, "no user with id '%s'", id)
                            : fail(r, 500, NULL, "database error");
    if (!adc_scim_etag_matches(if_match, u->version)) {
        char etag[32];
        adc_scim_etag(u->version, etag, sizeof(etag));
        adc_store_user_done(u);
        return fail(r, 412, NULL, "the user was changed meanwhile: its version is now %s", etag);
    }
    return 0;
}

/* Replaces the stored user `old` by the resource `body`. */
static int replace_with(struct adc_scim_ctx *ctx, struct adc_store_user *old, const json_t *body,
                        const char *action, bool want_resource, struct adc_scim_result *r) {
    struct prepared p;
    if (prepare(body, &p, r) < 0)
        return -1;
    int ret = -1;
    const char *provider = old->provider;
    if (ctx->who->kind == ADC_PRINCIPAL_SYNC) {
        if (strcmp(old->provider, ctx->who->app_id) != 0) {
            /* docs/product.md section 11: a configuration writes only its own users. Reading
             * another's is fine (matching by name), but writing one would make it this
             * configuration's, and its password checks would then go to this configuration's
             * agents: whoever holds one secret could capture another tenant's passwords. Only
             * a `local` user (made by hand, owned by no directory) may be taken over. */
            if (strcmp(old->provider, ADC_PROVIDER_LOCAL) != 0) {
                fail(r, 403, NULL,
                     "user '%s' belongs to provider '%s', another sync configuration: sync "
                     "configuration %s may not write it (only 'local' users can be taken over, "
                     "and only when no-update-provider-mismatch is not true)",
                     old->user_name, old->provider, ctx->who->app_id);
                goto out;
            }
            if (adc_scim_setting_on(ctx->who, ADC_SETTING_NO_UPDATE_PROVIDER_MISMATCH)) {
                fail(r, 403, NULL,
                     "user '%s' belongs to provider '%s', not to sync configuration %s; taking it "
                     "over is refused by the server setting no-update-provider-mismatch=true",
                     old->user_name, old->provider, ctx->who->app_id);
                goto out;
            }
            provider = ctx->who->app_id; /* takeover (docs/product.md section 4, rule 3) */
            action = "user.takeover";
        }
    } else if (p.provider && strcmp(p.provider, old->provider) != 0) {
        if (adc_scim_check_provider(ctx, p.provider, r) < 0)
            goto out;
        provider = p.provider;
    }
    struct adc_store_user u = {
        .seq = old->seq,
        .user_name = (char *)p.user_name,
        .external_id = (char *)p.external_id,
        .provider = (char *)provider,
        .active = p.active,
        .version = old->version + 1,
    };
    memcpy(u.id, old->id, sizeof(u.id));
    memcpy(u.created, old->created, sizeof(u.created));
    adc_store_now(u.modified);
    u.data = json_dumps(p.data, JSON_COMPACT);
    if (!u.data) {
        fail(r, 500, NULL, "out of memory");
        goto out;
    }
    if (strlen(u.data) > ADC_SCIM_MAX_USER_SIZE) {
        fail(r, 400, "invalidValue",
             "the user's attributes take more than %d bytes of JSON (the limit of this server)",
             ADC_SCIM_MAX_USER_SIZE);
        free(u.data);
        goto out;
    }
    int e = adc_store_user_update(ctx->db, &u);
    if (e == 0 && audit(ctx, action, &u) < 0)
        e = -EIO;
    if (e < 0)
        store_failure(e, u.user_name, r);
    else
        ret = finish(ctx, &u, 200, want_resource, r);
    free(u.data);
out:
    json_decref(p.data);
    return ret;
}

/* PUT and PATCH: updates are allowed here, the user exists and If-Match agrees. */
static int load_for_update(struct adc_scim_ctx *ctx, const char *id, const char *if_match,
                           struct adc_store_user *u, struct adc_scim_result *r) {
    if (adc_scim_enforce(ctx, "update", ADC_SETTING_NO_UPDATE, r) < 0)
        return -1;
    return load_for_write(ctx, id, if_match, u, r);
}

int adc_scim_user_replace(struct adc_scim_ctx *ctx, const char *id, const json_t *body,
                          const char *if_match, bool want_resource, struct adc_scim_result *r) {
    struct adc_store_user old;
    if (load_for_update(ctx, id, if_match, &old, r) < 0)
        return -1;
    int ret = replace_with(ctx, &old, body, "user.replace", want_resource, r);
    adc_store_user_done(&old);
    return ret;
}

int adc_scim_user_patch(struct adc_scim_ctx *ctx, const char *id, const json_t *body,
                        const char *if_match, bool want_resource, struct adc_scim_result *r) {
    struct adc_store_user old;
    if (load_for_update(ctx, id, if_match, &old, r) < 0)
        return -1;
    int ret = -1;
    /* PATCH edits the resource as the client sees it, then stores it like a PUT: one path for
     * validation, ownership and settings. */
    json_t *res = adc_scim_user_render(&old, ctx->base_url);
    char err[300];
    const char *scim_type = NULL;
    if (adc_scim_patch_apply(res, body, &scim_type, err, sizeof(err)) < 0) {
        fail(r, 400, scim_type, "%s", err);
        goto out;
    }
    /* The rendered resource had both: a PATCH that removed them (remove, or a null value) would
     * be stored as "absent": active true, the provider unchanged. Removing active must not
     * enable a disabled account, and the sync extension is the server's (RFC 7644 section
     * 3.5.2.2 lets the server refuse a remove with mutability). */
    json_t *act = adc_scim_json_get(res, "active", NULL);
    if (!act || json_is_null(act)) {
        fail(r, 400, "mutability",
             "active cannot be removed (an absent active means true: it would enable a disabled "
             "user); replace it with true or false");
        goto out;
    }
    json_t *ext = adc_scim_json_get(res, ADC_SCIM_SCHEMA_PROVIDER, NULL);
    json_t *prov = json_is_object(ext) ? adc_scim_json_get(ext, "provider", NULL) : NULL;
    if (!prov || json_is_null(prov)) {
        fail(r, 400, "mutability",
             "the extension %s and its provider are set by the server; they cannot be removed",
             ADC_SCIM_SCHEMA_PROVIDER);
        goto out;
    }
    ret = replace_with(ctx, &old, res, "user.patch", want_resource, r);
out:
    json_decref(res);
    adc_store_user_done(&old);
    return ret;
}

int adc_scim_user_delete(struct adc_scim_ctx *ctx, const char *id, const char *if_match,
                         struct adc_scim_result *r) {
    if (adc_scim_enforce(ctx, "delete", ADC_SETTING_NO_DELETE, r) < 0)
        return -1;
    if (ctx->who->kind == ADC_PRINCIPAL_SYNC &&
        adc_scim_setting_on(ctx->who, ADC_SETTING_DELETE_DISABLES))
        return fail(r, 403, NULL,
                    "server setting delete-disables=true of sync configuration %s: delete "
                    "refused; disable the user instead (active=false)",
                    ctx->who->app_id);
    struct adc_store_user old;
    if (load_for_write(ctx, id, if_match, &old, r) < 0)
        return -1;
    int ret = -1;
    if (ctx->who->kind == ADC_PRINCIPAL_SYNC && strcmp(old.provider, ctx->who->app_id) != 0) {
        /* Never, not even with takeover allowed (docs/product.md section 4, rule 3). */
        fail(r, 403, NULL,
             "user '%s' belongs to provider '%s': sync configuration %s may not delete it",
             old.user_name, old.provider, ctx->who->app_id);
        goto out;
    }
    int e = adc_store_user_delete(ctx->db, id);
    if (e == 0) {
        /* Its memberships go with it (docs/product.md section 10). */
        char now[24];
        adc_store_now(now);
        int64_t left = adc_store_member_forget(ctx->db, id, now);
        e = left < 0 ? (int)left : 0;
    }
    if (e == 0 && audit(ctx, "user.delete", &old) < 0)
        e = -EIO;
    if (e < 0) {
        store_failure(e, old.user_name, r);
        goto out;
    }
    r->status = 204;
    snprintf(r->id, sizeof(r->id), "%s", id);
    ret = 0;
out:
    adc_store_user_done(&old);
    return ret;
}
