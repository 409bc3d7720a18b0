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
#include "common/log.h"
#include "scim/scim-attrs.h"
#include "scim/scim-filter.h"
#include "store/store-configs.h"
#include "store/store-groups.h"
#include "store/store-runs.h"

#define fail adc_scim_fail

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

#define AUDIT_DETAIL_SIZE 600

/* The audit record's detail for u; its length (cut at AUDIT_DETAIL_SIZE - 1). */
static size_t audit_detail(const struct adc_store_user *u, char detail[static AUDIT_DETAIL_SIZE]) {
    int n = snprintf(detail, AUDIT_DETAIL_SIZE, "userName=%s provider=%s active=%s", u->user_name,
                     u->provider, u->active ? "true" : "false");
    return n < 0 ? 0 : (size_t)n < AUDIT_DETAIL_SIZE ? (size_t)n : AUDIT_DETAIL_SIZE - 1;
}

static int audit(struct adc_scim_ctx *ctx, const char *action, const struct adc_store_user *u) {
    char detail[AUDIT_DETAIL_SIZE];
    audit_detail(u, detail);
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
    struct adc_scim_user_input p;
    if (adc_scim_user_check(body, &p, r) < 0)
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
    if (!nu->audit_detail) { /* not stamped beforehand */
        adc_auth_uuid7(u->id);
        adc_store_now(u->created);
        memcpy(u->modified, u->created, sizeof(u->modified));
    }
    int e = adc_store_user_insert(ctx->db, u);
    if (e < 0) {
        store_failure(e, u->user_name, r);
        return -1;
    }
    e = nu->audit_detail
            ? adc_store_audit(ctx->db, ctx->who->actor, "user.create", u->id, nu->audit_detail)
            : audit(ctx, "user.create", u);
    if (e < 0)
        return fail(r, 500, NULL, "database error");
    return finish(ctx, u, 201, want_resource, r);
}

int adc_scim_user_create_stamp(struct adc_scim_new_user *nu, const char now[static 24]) {
    struct adc_store_user *u = &nu->u;
    char detail[AUDIT_DETAIL_SIZE];
    size_t n = audit_detail(u, detail);
    char *d = malloc(n + 1);
    if (!d)
        return -ENOMEM;
    memcpy(d, detail, n + 1);
    nu->audit_detail = d;
    adc_auth_uuid7(u->id);
    memcpy(u->created, now, sizeof(u->created));
    memcpy(u->modified, now, sizeof(u->modified));
    return 0;
}

void adc_scim_new_user_done(struct adc_scim_new_user *nu) {
    adc_store_user_done(&nu->u);
    free(nu->audit_detail);
    nu->audit_detail = NULL;
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
    struct adc_scim_user_input p;
    if (adc_scim_user_check(body, &p, r) < 0)
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

void adc_scim_users_settle(struct adc_db *db) {
    int64_t r = adc_store_users_settle(db, false);
    if (r < 0)
        log_warning("externalId index: settling failed: %s", strerror((int)-r));
}
