#include "scim/scim-group.h"
#include "scim/scim-group-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/json-util.h"
#include "http/auth.h"
#include "scim/scim-attrs.h"
#include "scim/scim-filter.h"
#include "store/store-filter.h"
#include "store/store-runs.h"

#define fail adc_scim_fail

/* ---- rendering ----------------------------------------------------------------------------- */

struct member_text {
    struct adc_buf *out;
    const char *base;
    size_t n;
};

static int member_text(const char *id, const char *type, const char *display, void *ctx) {
    struct member_text *m = ctx;
    adc_buf_puts(m->out, m->n++ ? ",{\"value\":" : "{\"value\":");
    adc_json_append_string(m->out, id);
    adc_buf_puts(m->out, ",\"type\":");
    adc_json_append_string(m->out, type);
    if (display) {
        adc_buf_puts(m->out, ",\"display\":");
        adc_json_append_string(m->out, display);
    }
    adc_buf_printf(m->out, ",\"$ref\":\"%s/scim/v2/%s/", m->base,
                   strcmp(type, ADC_MEMBER_GROUP) == 0 ? "Groups" : "Users");
    adc_buf_puts(m->out, id); /* ids are UUIDs we made: nothing to escape */
    return adc_buf_puts(m->out, "\"}");
}

int adc_scim_group_render_text(struct adc_db *db, const struct adc_store_group *g,
                               const char *base_url, bool members, struct adc_buf *out) {
    const char *base = base_url ? base_url : "";
    adc_buf_puts(out, "{\"schemas\":[\"" ADC_SCIM_SCHEMA_GROUP
                      "\",\"" ADC_SCIM_SCHEMA_GROUP_PROVIDER "\"],\"id\":");
    adc_json_append_string(out, g->id);
    adc_buf_puts(out, ",\"displayName\":");
    adc_json_append_string(out, g->display_name);
    if (g->external_id) {
        adc_buf_puts(out, ",\"externalId\":");
        adc_json_append_string(out, g->external_id);
    }
    if (members) {
        /* An empty multi-valued attribute is unassigned and left out (RFC 7643 section 2.5). */
        size_t mark = out->len;
        adc_buf_puts(out, ",\"members\":[");
        struct member_text m = {.out = out, .base = base};
        int64_t n = adc_store_group_members_list(db, g->id, member_text, &m);
        if (n < 0)
            return (int)n;
        if (n == 0 && !out->failed) {
            out->len = mark;
            out->data[mark] = '\0';
        } else {
            adc_buf_puts(out, "]");
        }
    }
    adc_buf_puts(out, ",\"" ADC_SCIM_SCHEMA_GROUP_PROVIDER "\":{\"provider\":");
    adc_json_append_string(out, g->provider);
    adc_buf_printf(out,
                   ",\"memberCount\":%lld},\"meta\":{\"resourceType\":\"Group\",\"created\":\"%s\","
                   "\"lastModified\":\"%s\",\"location\":",
                   (long long)g->member_count, g->created, g->modified);
    char location[512];
    snprintf(location, sizeof(location), "%s/scim/v2/Groups/%s", base, g->id);
    adc_json_append_string(out, location);
    adc_buf_printf(out, ",\"version\":\"W/\\\"%lld\\\"\"}}", (long long)g->version);
    return out->failed ? -ENOMEM : 0;
}

json_t *adc_scim_group_render(struct adc_db *db, const struct adc_store_group *g,
                              const char *base_url, bool members) {
    struct adc_buf b;
    adc_buf_init(&b, 0);
    json_t *j = NULL;
    if (adc_scim_group_render_text(db, g, base_url, members, &b) == 0)
        j = json_loadb(b.data, b.len, 0, NULL);
    adc_buf_done(&b);
    return j;
}

/* ---- reading a Group resource -------------------------------------------------------------- */

struct group_in {
    const char *display_name, *external_id;
    const char *provider;  /* from the extension; NULL when not given */
    const json_t *members; /* an array, or NULL */
};

static int check_schemas(const json_t *in, struct adc_scim_result *r) {
    json_t *schemas = adc_scim_json_get(in, "schemas", NULL);
    if (!schemas)
        return 0;
    if (!json_is_array(schemas))
        return fail(r, 400, "invalidSyntax", "schemas must be an array of URIs");
    size_t i;
    json_t *s;
    json_array_foreach(schemas, i, s) {
        if (json_is_string(s) && strcasecmp(json_string_value(s), ADC_SCIM_SCHEMA_GROUP) == 0)
            return 0;
    }
    return fail(r, 400, "invalidSyntax", "schemas must include %s", ADC_SCIM_SCHEMA_GROUP);
}

int adc_scim_group_check_name(const json_t *v, const char *what, struct adc_scim_result *r) {
    if (!json_is_string(v) || !adc_scim_valid_text(json_string_value(v), ADC_SCIM_MAX_NAME_LEN))
        return fail(r, 400, "invalidValue",
                    "%s must be a non-empty string of at most %d characters without control "
                    "characters",
                    what, ADC_SCIM_MAX_NAME_LEN);
    return 0;
}

int adc_scim_group_read_provider(const json_t *ext, const char **provider,
                                 struct adc_scim_result *r) {
    json_t *p = adc_scim_json_get(ext, "provider", NULL);
    if (!json_is_object(ext) || (p && !json_is_string(p)))
        return fail(r, 400, "invalidValue", "provider must be a string");
    *provider = json_string_value(p);
    return 0;
}

/* Reads a Group resource: displayName required; members, if given, an array. */
static int read_group(const json_t *in, struct group_in *g, struct adc_scim_result *r) {
    memset(g, 0, sizeof(*g));
    if (!json_is_object(in))
        return fail(r, 400, "invalidSyntax", "a Group resource must be a JSON object");
    if (check_schemas(in, r) < 0)
        return -1;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)in, key, v) {
        if (json_is_null(v))
            continue; /* null is the same as absent (RFC 7643 section 2.5) */
        if (strcasecmp(key, "displayName") == 0) {
            if (adc_scim_group_check_name(v, "displayName", r) < 0)
                return -1;
            g->display_name = json_string_value(v);
        } else if (strcasecmp(key, "externalId") == 0) {
            if (adc_scim_group_check_name(v, "externalId", r) < 0)
                return -1;
            g->external_id = json_string_value(v);
        } else if (strcasecmp(key, "members") == 0) {
            if (!json_is_array(v))
                return fail(r, 400, "invalidValue", "members must be an array");
            g->members = v;
        } else if (strcasecmp(key, ADC_SCIM_SCHEMA_GROUP_PROVIDER) == 0) {
            if (adc_scim_group_read_provider(v, &g->provider, r) < 0)
                return -1;
        }
        /* id, meta, schemas, other extensions: not stored */
    }
    if (!g->display_name)
        return fail(r, 400, "invalidValue", "displayName is required");
    return 0;
}

/* ---- members ------------------------------------------------------------------------------- */

/* The id a member value names: itself, or in Bulk the id created for "bulkId:x". */
static const char *member_id(struct adc_scim_ctx *ctx, const char *value,
                             struct adc_scim_result *r) {
    if (strncmp(value, "bulkId:", 7) != 0)
        return value;
    const char *id = ctx->bulk_id ? ctx->bulk_id(ctx->bulk, value + 7) : NULL;
    if (!id)
        fail(r, 400, "invalidValue",
             "member '%s': no earlier operation of this request has "
             "that bulkId",
             value);
    return id;
}

/* Reads one element of members: {"value": id, "type"?: "User"|"Group"}. *id is what to store,
 * *declared the type the client named (NULL when none); a group cannot contain itself. Whether
 * the member exists is add_chunk's question, asked for many members at once. */
static int read_member(struct adc_scim_ctx *ctx, const char *group_id, const json_t *m,
                       const char **id, const char **declared, struct adc_scim_result *r) {
    json_t *value = adc_scim_json_get(m, "value", NULL);
    if (!json_is_object(m) || !json_is_string(value))
        return fail(r, 400, "invalidValue", "a member must be an object with a string \"value\"");
    json_t *t = adc_scim_json_get(m, "type", NULL);
    if (t && !json_is_null(t) && !json_is_string(t))
        return fail(r, 400, "invalidValue", "a member's type must be \"User\" or \"Group\"");
    *declared = json_string_value(t);
    if (!(*id = member_id(ctx, json_string_value(value), r)))
        return -1;
    if (strlen(*id) >= 40)
        return fail(r, 400, "invalidValue", "member '%.60s...' is neither a user nor a group", *id);
    if (strcmp(*id, group_id) == 0)
        return fail(r, 400, "invalidValue", "a group cannot be a member of itself");
    return 0;
}

/* Members are checked and written this many at a time: the lists and JSON texts of one chunk
 * are about 100 bytes a member. */
#define MEMBER_CHUNK 10000

/* What add_chunk learns of each member: its type, and whose it is. */
struct found {
    const char **types;
    unsigned char *whose; /* FOUND_OWN, FOUND_LOCAL or FOUND_OTHER */
    const char *owner;    /* the sync configuration asking; NULL for an administrator */
};
enum { FOUND_OWN, FOUND_LOCAL, FOUND_OTHER };

static int found_type(int64_t i, const char *type, const char *provider, void *ctx) {
    struct found *f = ctx;
    /* A user before a group, as the single lookup this replaces answered (ids are UUIDs: an
     * id naming both does not happen). */
    if (!f->types[i] || strcmp(type, ADC_MEMBER_USER) == 0) {
        f->types[i] = type;
        f->whose[i] = !f->owner || adc_streq(provider, f->owner) ? FOUND_OWN
                      : adc_streq(provider, ADC_PROVIDER_LOCAL)  ? FOUND_LOCAL
                                                                 : FOUND_OTHER;
    }
    return 0;
}

/* docs/product.md section 11: a sync configuration writes only its own users and groups and
 * cannot reach another's; section 10: only synced users and groups become members. So what it
 * names as a member must be its own: another configuration's user or group is refused, and so
 * is a `local` one (an administrator may add it; or the configuration takes it over first,
 * where the takeover rules allow, and then it is its own). An administrator may name any. */
static int refuse_not_own(struct adc_scim_ctx *ctx, const char *id, const char *type, int whose,
                          struct adc_scim_result *r) {
    if (whose == FOUND_LOCAL)
        return fail(r, 403, NULL,
                    "member '%s' is a local %s, owned by no sync configuration: sync "
                    "configuration %s may name only its own users and groups as members (an "
                    "administrator may add it)",
                    id, type, ctx->who->app_id);
    /* The other configuration is not named: it is none of this one's business. */
    return fail(r, 403, NULL,
                "member '%s' belongs to another sync configuration: sync configuration %s may "
                "name only its own users and groups as members",
                id, ctx->who->app_id);
}

static void append_id(struct adc_buf *list, const char *id) {
    adc_buf_puts(list, list->len ? "," : "[");
    adc_json_append_string(list, id);
}

/* Adds elements [from, to) of a members list in three statements (the types of all, then the
 * users and the groups inserted) instead of two per member: creating a group of 100,000 members
 * in Bulk was a lookup and an insert each (docs/BENCHMARKS.md, groups). The errors are those
 * of checking the members one by one, in the list's order: the first malformed or unknown
 * member (or type mismatch) is the one reported. */
static int add_chunk(struct adc_scim_ctx *ctx, const char *group_id, const json_t *list,
                     size_t from, size_t to, int64_t *delta, struct adc_scim_result *r) {
    size_t n = to - from, good = n;
    const char **ids = calloc(n, sizeof(*ids)), **declared = calloc(n, sizeof(*declared));
    const char **types = calloc(n, sizeof(*types));
    unsigned char *whose = calloc(n, 1);
    struct found found = {
        .types = types,
        .whose = whose,
        .owner = ctx->who->kind == ADC_PRINCIPAL_SYNC ? ctx->who->app_id : NULL,
    };
    struct adc_buf all, users, groups;
    adc_buf_init(&all, 0);
    adc_buf_init(&users, 0);
    adc_buf_init(&groups, 0);
    int ret = -1;
    if (!ids || !declared || !types || !whose) {
        fail(r, 500, NULL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *m = json_is_array(list) ? json_array_get(list, from + i) : list;
        if (read_member(ctx, group_id, m, &ids[i], &declared[i], r) < 0) {
            good = i; /* r says why; unless an earlier member is unknown */
            break;
        }
        append_id(&all, ids[i]);
    }
    if (good > 0) {
        adc_buf_puts(&all, "]");
        if (all.failed) {
            fail(r, 500, NULL, "out of memory");
            goto out;
        }
        if (adc_store_member_types(ctx->db, all.data, found_type, &found) < 0) {
            fail(r, 500, NULL, "database error");
            goto out;
        }
    }
    for (size_t i = 0; i < good; i++) {
        if (!types[i]) {
            fail(r, 400, "invalidValue", "member '%s' is neither a user nor a group", ids[i]);
            goto out;
        }
        if (declared[i] && strcasecmp(declared[i], types[i]) != 0) {
            fail(r, 400, "invalidValue", "member '%s' is a %s, not a %s", ids[i], types[i],
                 declared[i]);
            goto out;
        }
        if (whose[i] != FOUND_OWN) {
            refuse_not_own(ctx, ids[i], types[i], whose[i], r);
            goto out;
        }
        append_id(strcmp(types[i], ADC_MEMBER_USER) == 0 ? &users : &groups, ids[i]);
    }
    if (good < n)
        goto out; /* the malformed member's error */
    adc_buf_puts(&users, "]");
    adc_buf_puts(&groups, "]");
    if (users.failed || groups.failed) {
        fail(r, 500, NULL, "out of memory");
        goto out;
    }
    int64_t added = 0;
    if (users.len > 1)
        added = adc_store_group_members_add_all(ctx->db, group_id, users.data, ADC_MEMBER_USER);
    if (added >= 0 && groups.len > 1) {
        int64_t g =
            adc_store_group_members_add_all(ctx->db, group_id, groups.data, ADC_MEMBER_GROUP);
        added = g < 0 ? g : added + g;
    }
    if (added < 0) {
        fail(r, 500, NULL, "database error");
        goto out;
    }
    *delta += added;
    ret = 0;
out:
    free(ids);
    free(declared);
    free(types);
    free(whose);
    adc_buf_done(&all);
    adc_buf_done(&users);
    adc_buf_done(&groups);
    return ret;
}

/* Adds the members of an array (or a single member object); *delta grows by those that were
 * not members yet. */
int adc_scim_group_add_members(struct adc_scim_ctx *ctx, const char *group_id, const json_t *list,
                               int64_t *delta, struct adc_scim_result *r) {
    size_t n = json_is_array(list) ? json_array_size(list) : 1;
    for (size_t i = 0; i < n; i += MEMBER_CHUNK)
        if (add_chunk(ctx, group_id, list, i, n - i < MEMBER_CHUNK ? n : i + MEMBER_CHUNK, delta,
                      r) < 0)
            return -1;
    return 0;
}

/* Removes the members whose values a list names ({"value": id} each; unknown ones are not
 * members, which is no error). */
int adc_scim_group_remove_listed(struct adc_scim_ctx *ctx, const char *group_id, const json_t *list,
                                 int64_t *delta, struct adc_scim_result *r) {
    size_t n = json_is_array(list) ? json_array_size(list) : 1;
    for (size_t i = 0; i < n; i++) {
        const json_t *m = json_is_array(list) ? json_array_get(list, i) : list;
        json_t *value = adc_scim_json_get(m, "value", NULL);
        if (!json_is_string(value))
            return fail(r, 400, "invalidValue", "a member to remove needs a string \"value\"");
        const char *id = member_id(ctx, json_string_value(value), r);
        if (!id)
            return -1;
        int e = adc_store_group_member_remove(ctx->db, group_id, id);
        if (e < 0)
            return fail(r, 500, NULL, "database error");
        *delta -= e;
    }
    return 0;
}

int adc_scim_group_remove_where(struct adc_scim_ctx *ctx, const char *group_id,
                                const struct adc_scim_filter *f, int64_t *delta,
                                struct adc_scim_result *r) {
    struct adc_sql_where w = {0};
    char err[300];
    if (f && adc_store_filter_sql_members(f, adc_db_dialect(ctx->db), &w, err, sizeof(err)) < 0)
        return fail(r, 400, "invalidFilter", "%s", err);
    int64_t n = adc_store_group_members_remove_where(ctx->db, group_id, w.sql, w.args, w.n);
    adc_sql_where_done(&w);
    if (n < 0)
        return fail(r, 500, NULL, "database error");
    *delta -= n;
    return 0;
}

/* ---- ownership, settings, audit ------------------------------------------------------------- */

static int audit(struct adc_scim_ctx *ctx, const char *action, const struct adc_store_group *g,
                 const char *extra) {
    char detail[700];
    snprintf(detail, sizeof(detail), "displayName=%s provider=%s members=%lld%s%s", g->display_name,
             g->provider, (long long)g->member_count, extra ? " " : "", extra ? extra : "");
    return adc_store_audit(ctx->db, ctx->who->actor, action, g->id, detail);
}

static int store_failure(int e, struct adc_scim_result *r) {
    if (e == -ENOENT)
        return fail(r, 404, NULL, "no such group");
    if (e == -EBUSY)
        return fail(r, 503, NULL, "database busy; retry");
    return fail(r, 500, NULL, "database error");
}

/* Loads a group to change: it exists, If-Match agrees, and this client may write it. A sync
 * configuration writes its own groups; another provider's group it may take over only when it
 * is a `local` one and the server does not refuse takeovers (docs/product.md sections 4 and
 * 11); *takeover says so. */
int adc_scim_group_load_for_write(struct adc_scim_ctx *ctx, const char *id, const char *if_match,
                                  bool deleting, struct adc_store_group *g, bool *takeover,
                                  struct adc_scim_result *r) {
    *takeover = false;
    int e = adc_store_group_get(ctx->db, id, g);
    if (e < 0)
        return e == -ENOENT ? fail(r, 404, NULL, "no group with id '%s'", id)
                            : fail(r, 500, NULL, "database error");
    int ret = -1;
    if (!adc_scim_etag_matches(if_match, g->version)) {
        fail(r, 412, NULL, "the group was changed meanwhile: its version is now W/\"%lld\"",
             (long long)g->version);
        goto out;
    }
    if (ctx->who->kind == ADC_PRINCIPAL_SYNC && strcmp(g->provider, ctx->who->app_id) != 0) {
        if (deleting || strcmp(g->provider, ADC_PROVIDER_LOCAL) != 0) {
            fail(r, 403, NULL,
                 "group '%s' belongs to provider '%s': sync configuration %s may not %s it",
                 g->display_name, g->provider, ctx->who->app_id, deleting ? "delete" : "change");
            goto out;
        }
        if (adc_scim_setting_on(ctx->who, ADC_SETTING_NO_UPDATE_PROVIDER_MISMATCH)) {
            fail(r, 403, NULL,
                 "group '%s' belongs to provider '%s', not to sync configuration %s; taking it "
                 "over is refused by the server setting no-update-provider-mismatch=true",
                 g->display_name, g->provider, ctx->who->app_id);
            goto out;
        }
        *takeover = true;
    }
    ret = 0;
out:
    if (ret < 0)
        adc_store_group_done(g);
    return ret;
}

/* Replaces a string field of g (owned). */
int adc_scim_group_set_text(char **field, const char *value, struct adc_scim_result *r) {
    char *v = value ? strdup(value) : NULL;
    if (value && !v)
        return fail(r, 500, NULL, "out of memory");
    free(*field);
    *field = v;
    return 0;
}

/* The provider an administrator asks for, checked. */
int adc_scim_group_set_provider(struct adc_scim_ctx *ctx, struct adc_store_group *g,
                                const char *provider, struct adc_scim_result *r) {
    if (!provider || ctx->who->kind == ADC_PRINCIPAL_SYNC || !strcmp(provider, g->provider))
        return 0; /* a sync configuration's groups are its own, whatever the request says */
    if (adc_scim_check_provider(ctx, provider, r) < 0)
        return -1;
    return adc_scim_group_set_text(&g->provider, provider, r);
}

/* Stores the changed group (version + 1, modified now) and audits it. */
int adc_scim_group_save(struct adc_scim_ctx *ctx, struct adc_store_group *g, int64_t delta,
                        const char *action, const char *extra, unsigned status, bool want_resource,
                        bool members, struct adc_scim_result *r) {
    g->member_count += delta;
    g->version++;
    adc_store_now(g->modified);
    int e = adc_store_group_update(ctx->db, g);
    if (e == 0 && audit(ctx, action, g, extra) < 0)
        e = -EIO;
    if (e < 0)
        return store_failure(e, r);
    r->status = status;
    snprintf(r->id, sizeof(r->id), "%s", g->id);
    r->version = g->version;
    if (want_resource && !(r->resource = adc_scim_group_render(ctx->db, g, ctx->base_url, members)))
        return fail(r, 500, NULL, "cannot render the group");
    return 0;
}

/* ---- create, replace, delete ----------------------------------------------------------------- */

int adc_scim_group_create(struct adc_scim_ctx *ctx, const json_t *body, bool want_resource,
                          struct adc_scim_result *r) {
    if (adc_scim_enforce(ctx, "create", ADC_SETTING_NO_CREATE, r) < 0)
        return -1;
    struct group_in in;
    if (read_group(body, &in, r) < 0)
        return -1;
    struct adc_store_group g = {.version = 0};
    int ret = -1;
    const char *provider = ADC_PROVIDER_LOCAL;
    if (ctx->who->kind == ADC_PRINCIPAL_SYNC)
        provider = ctx->who->app_id;
    else if (in.provider && adc_scim_check_provider(ctx, in.provider, r) < 0)
        return -1;
    else if (in.provider)
        provider = in.provider;
    if (adc_scim_group_set_text(&g.display_name, in.display_name, r) < 0 ||
        adc_scim_group_set_text(&g.external_id, in.external_id, r) < 0 ||
        adc_scim_group_set_text(&g.provider, provider, r) < 0)
        goto out;
    adc_auth_uuid7(g.id);
    adc_store_now(g.created);
    memcpy(g.modified, g.created, sizeof(g.modified));
    int e = adc_store_group_insert(ctx->db, &g);
    if (e < 0) {
        store_failure(e, r);
        goto out;
    }
    int64_t delta = 0;
    if (in.members && adc_scim_group_add_members(ctx, g.id, in.members, &delta, r) < 0)
        goto out;
    /* Saving counts the first version: a new group is version 1, as a new user is. */
    ret = adc_scim_group_save(ctx, &g, delta, "group.create", NULL, 201, want_resource, true, r);
out:
    adc_store_group_done(&g);
    return ret;
}

int adc_scim_group_replace(struct adc_scim_ctx *ctx, const char *id, const json_t *body,
                           const char *if_match, bool want_resource, struct adc_scim_result *r) {
    if (adc_scim_enforce(ctx, "update", ADC_SETTING_NO_UPDATE, r) < 0)
        return -1;
    struct group_in in;
    if (read_group(body, &in, r) < 0)
        return -1;
    struct adc_store_group g;
    bool takeover;
    if (adc_scim_group_load_for_write(ctx, id, if_match, false, &g, &takeover, r) < 0)
        return -1;
    int ret = -1;
    if (adc_scim_group_set_text(&g.display_name, in.display_name, r) < 0 ||
        adc_scim_group_set_text(&g.external_id, in.external_id, r) < 0 ||
        adc_scim_group_set_text(&g.provider, takeover ? ctx->who->app_id : g.provider, r) < 0 ||
        adc_scim_group_set_provider(ctx, &g, in.provider, r) < 0)
        goto out;
    /* PUT replaces the whole resource: members absent means none (RFC 7644 section 3.5.1). */
    int64_t delta = 0;
    if (adc_scim_group_remove_where(ctx, g.id, NULL, &delta, r) < 0 ||
        (in.members && adc_scim_group_add_members(ctx, g.id, in.members, &delta, r) < 0))
        goto out;
    ret = adc_scim_group_save(ctx, &g, delta, takeover ? "group.takeover" : "group.replace", NULL,
                              200, want_resource, true, r);
out:
    adc_store_group_done(&g);
    return ret;
}

int adc_scim_group_delete(struct adc_scim_ctx *ctx, const char *id, const char *if_match,
                          struct adc_scim_result *r) {
    if (adc_scim_enforce(ctx, "delete", ADC_SETTING_NO_DELETE, r) < 0)
        return -1;
    /* delete-disables has no meaning for a group (it has no active flag): the group goes. */
    struct adc_store_group g;
    bool takeover;
    if (adc_scim_group_load_for_write(ctx, id, if_match, true, &g, &takeover, r) < 0)
        return -1;
    char now[24];
    adc_store_now(now);
    int ret = -1;
    int e = adc_store_group_delete(ctx->db, id, now);
    if (e == 0 && audit(ctx, "group.delete", &g, NULL) < 0)
        e = -EIO;
    if (e < 0) {
        store_failure(e, r);
        goto out;
    }
    r->status = 204;
    snprintf(r->id, sizeof(r->id), "%s", id);
    ret = 0;
out:
    adc_store_group_done(&g);
    return ret;
}
