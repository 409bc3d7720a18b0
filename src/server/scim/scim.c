#include "scim/scim.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/log.h"
#include "scim/scim-attrs.h"
#include "scim/scim-filter.h"
#include "store/store-filter.h"
#include "server.h"
#include "scim/scim-group.h"
#include "store/store-users.h"

void adc_scim_respond_error(struct adc_http_response *res, const struct adc_scim_result *r) {
    adc_http_json(res, r->status, adc_scim_result_error(r));
}

/* ---- discovery (RFC 7644 section 4) ------------------------------------------------------ */

/* meta.location is absolute everywhere (RFC 7643 section 3.1: "the URI of the resource"), as
 * for users: base_url is "http(s)://host" of the request. */
static json_t *meta(const char *resource_type, const char *base_url, const char *path) {
    char location[512];
    snprintf(location, sizeof(location), "%s/scim/v2%s", base_url, path);
    return json_pack("{s:s,s:s}", "resourceType", resource_type, "location", location);
}

static void service_provider_config(struct adc_http_request *req, struct adc_http_response *res) {
    char base[300];
    adc_http_base_url(req, base, sizeof(base));
    /* RFC 7643 section 5: filter has supported and maxResults only (strict clients reject other
     * members); adc-server(8) lists the operators. */
    json_t *j =
        json_pack("{s:[s],s:s,s:{s:b},s:{s:b,s:i,s:i},s:{s:b,s:i},s:{s:b},s:{s:b},s:{s:b},"
                  "s:[{s:s,s:s,s:s,s:b},{s:s,s:s,s:s,s:b}],s:o}",
                  "schemas", "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig",
                  "documentationUri", "https://github.com/ad-connect/ad-connect#adc-server",
                  "patch", "supported", 1, "bulk", "supported", 1, "maxOperations",
                  ADC_SCIM_BULK_MAX_OPS, "maxPayloadSize", (int)ADC_SCIM_BULK_MAX_PAYLOAD, "filter",
                  "supported", 1, "maxResults", ADC_SCIM_MAX_RESULTS, "changePassword", "supported",
                  0, "sort", "supported", 0, "etag", "supported", 1, "authenticationSchemes",
                  "type", "httpbasic", "name", "HTTP Basic", "description",
                  "A sync configuration: Application ID as user name, Secret Token as password",
                  "primary", 1, "type", "oauthbearertoken", "name", "Bearer token", "description",
                  "A System Administrator token, or a sync configuration's Secret Token", "primary",
                  0, "meta", meta("ServiceProviderConfig", base, "/ServiceProviderConfig"));
    adc_http_json(res, 200, j);
}

static json_t *resource_type_user(const char *base) {
    /* Neither extension is required in requests: the server sets the sync extension itself. */
    return json_pack("{s:[s],s:s,s:s,s:s,s:s,s:s,s:[{s:s,s:b},{s:s,s:b}],s:o}", "schemas",
                     ADC_SCIM_SCHEMA_RESOURCE_TYPE, "id", "User", "name", "User", "endpoint",
                     "/Users", "description", "User Account", "schema", ADC_SCIM_SCHEMA_USER,
                     "schemaExtensions", "schema", ADC_SCIM_SCHEMA_PROVIDER, "required", 0,
                     "schema", ADC_SCIM_SCHEMA_ENTERPRISE, "required", 0, "meta",
                     meta("ResourceType", base, "/ResourceTypes/User"));
}

static json_t *resource_type_group(const char *base) {
    return json_pack("{s:[s],s:s,s:s,s:s,s:s,s:s,s:[{s:s,s:b}],s:o}", "schemas",
                     ADC_SCIM_SCHEMA_RESOURCE_TYPE, "id", "Group", "name", "Group", "endpoint",
                     "/Groups", "description", "Group", "schema", ADC_SCIM_SCHEMA_GROUP,
                     "schemaExtensions", "schema", ADC_SCIM_SCHEMA_GROUP_PROVIDER, "required", 0,
                     "meta", meta("ResourceType", base, "/ResourceTypes/Group"));
}

static json_t *list_of(json_t *items) {
    return json_pack("{s:[s],s:I,s:I,s:i,s:o}", "schemas", ADC_SCIM_SCHEMA_LIST, "totalResults",
                     (json_int_t)json_array_size(items), "itemsPerPage",
                     (json_int_t)json_array_size(items), "startIndex", 1, "Resources", items);
}

static void resource_types(struct adc_http_request *req, struct adc_http_response *res) {
    char base[300];
    adc_http_base_url(req, base, sizeof(base));
    adc_http_json(res, 200,
                  list_of(json_pack("[o,o]", resource_type_user(base), resource_type_group(base))));
}

static void resource_type(struct adc_http_request *req, struct adc_http_response *res) {
    char base[300];
    adc_http_base_url(req, base, sizeof(base));
    if (strcmp(req->params[0], "User") == 0)
        adc_http_json(res, 200, resource_type_user(base));
    else if (strcmp(req->params[0], "Group") == 0)
        adc_http_json(res, 200, resource_type_group(base));
    else
        adc_http_error(res, 404, NULL, "no resource type '%s' (this server has User and Group)",
                       req->params[0]);
}

/* ---- /Schemas: the attributes as stored and returned (RFC 7643 sections 4, 7, 8.7.1) ---- */

struct attr_def {
    const char *name, *type;
    bool multi, required, case_exact;
    const char *mutability, *returned, *uniqueness, *description;
    const struct attr_def *subs; /* NULL-name terminated, or NULL */
    /* referenceTypes of a reference, canonicalValues of a string: ","-separated, or NULL */
    const char *values;
    bool no_limit; /* nothing to say about its size (group attributes: their own limits) */
};

#define SUB(n, t)                                                                                  \
    { n, t, false, false, false, "readWrite", "default", "none", NULL, NULL, NULL, false }
#define END                                                                                        \
    { NULL, NULL, false, false, false, NULL, NULL, NULL, NULL, NULL, NULL, false }

/* Plural attributes: "value, display, type, primary" (RFC 7643 section 2.4), with value's type. */
#define PLURAL_SUBS(value_type)                                                                    \
    {                                                                                              \
        SUB("value", value_type), SUB("display", "string"), SUB("type", "string"),                 \
            SUB("primary", "boolean"), END                                                         \
    }

static const struct attr_def name_subs[] = {SUB("formatted", "string"),
                                            SUB("familyName", "string"),
                                            SUB("givenName", "string"),
                                            SUB("middleName", "string"),
                                            SUB("honorificPrefix", "string"),
                                            SUB("honorificSuffix", "string"),
                                            END};
static const struct attr_def string_plural[] = PLURAL_SUBS("string");
static const struct attr_def reference_plural[] = PLURAL_SUBS("reference");
static const struct attr_def binary_plural[] = PLURAL_SUBS("binary");
static const struct attr_def address_subs[] = {
    SUB("formatted", "string"), SUB("streetAddress", "string"), SUB("locality", "string"),
    SUB("region", "string"),    SUB("postalCode", "string"),    SUB("country", "string"),
    SUB("type", "string"),      SUB("primary", "boolean"),      END};
static const struct attr_def manager_subs[] = {
    SUB("value", "string"),
    {"$ref", "reference", false, false, false, "readWrite", "default", "none", NULL, NULL, "User",
     false},
    {"displayName", "string", false, false, false, "readOnly", "default", "none", NULL, NULL, NULL,
     false},
    END};

#define ATTR(n, t)                                                                                 \
    { n, t, false, false, false, "readWrite", "default", "none", NULL, NULL, NULL, false }
#define MULTI(n, subs)                                                                             \
    { n, "complex", true, false, false, "readWrite", "default", "none", NULL, subs, NULL, false }

static const struct attr_def user_attrs[] = {
    {"userName", "string", false, true, false, "readWrite", "always", "server",
     "Unique among all users, compared after Unicode case folding; no control or zero-width "
     "characters",
     NULL, NULL, false},
    {"name", "complex", false, false, false, "readWrite", "default", "none", NULL, name_subs, NULL,
     false},
    ATTR("displayName", "string"),
    ATTR("nickName", "string"),
    {"profileUrl", "reference", false, false, false, "readWrite", "default", "none", NULL, NULL,
     "external", false},
    ATTR("title", "string"),
    ATTR("userType", "string"),
    ATTR("preferredLanguage", "string"),
    ATTR("locale", "string"),
    ATTR("timezone", "string"),
    {"active", "boolean", false, false, false, "readWrite", "default", "none",
     "Absent in a create or replace means true; PATCH may not remove it", NULL, NULL, false},
    {"externalId", "string", false, false, true, "readWrite", "default", "none", NULL, NULL, NULL,
     false},
    MULTI("emails", string_plural),
    MULTI("phoneNumbers", string_plural),
    MULTI("ims", string_plural),
    MULTI("photos", reference_plural),
    MULTI("addresses", address_subs),
    MULTI("entitlements", string_plural),
    MULTI("roles", string_plural),
    MULTI("x509Certificates", binary_plural),
    END};

static const struct attr_def enterprise_attrs[] = {
    ATTR("employeeNumber", "string"),
    ATTR("costCenter", "string"),
    ATTR("organization", "string"),
    ATTR("division", "string"),
    ATTR("department", "string"),
    {"manager", "complex", false, false, false, "readWrite", "default", "none", NULL, manager_subs,
     NULL, false},
    END};

static const struct attr_def provider_attrs[] = {
    {"provider", "string", false, false, true, "readOnly", "default", "none",
     "'local' or the Application ID of the sync configuration that owns the user. Set by the "
     "server: a sync configuration's users are its own (it never writes another's); a System "
     "Administrator may set it when creating or replacing a user",
     NULL, NULL, false},
    END};

/* RFC 7643 section 4.2 (and 8.7.1): displayName and members of User or Group. */
static const struct attr_def member_subs[] = {
    {"value", "string", false, false, false, "immutable", "default", "none", NULL, NULL, NULL,
     true},
    {"$ref", "reference", false, false, false, "immutable", "default", "none", NULL, NULL,
     "User,Group", true},
    {"type", "string", false, false, false, "immutable", "default", "none", NULL, NULL,
     "User,Group", true},
    {"display", "string", false, false, false, "readOnly", "default", "none", NULL, NULL, NULL,
     true},
    END};

static const struct attr_def group_attrs[] = {
    {"displayName", "string", false, true, false, "readWrite", "default", "none", NULL, NULL, NULL,
     true},
    {"externalId", "string", false, false, true, "readWrite", "default", "none", NULL, NULL, NULL,
     true},
    {"members", "complex", true, false, false, "readWrite", "default", "none", NULL, member_subs,
     NULL, true},
    END};

static const struct attr_def group_provider_attrs[] = {
    {"provider", "string", false, false, true, "readOnly", "default", "none",
     "'local' or the Application ID of the sync configuration that owns the group; set by the "
     "server for sync clients",
     NULL, NULL, true},
    {"memberCount", "integer", false, false, false, "readOnly", "default", "none", NULL, NULL,
     NULL, true},
    END};

static json_t *attrs_json(const struct attr_def *defs);

static json_t *attr_json(const struct attr_def *d) {
    json_t *a = json_pack("{s:s,s:s,s:b,s:b,s:b,s:s,s:s,s:s}", "name", d->name, "type", d->type,
                          "multiValued", d->multi, "required", d->required, "caseExact",
                          d->case_exact, "mutability", d->mutability, "returned", d->returned,
                          "uniqueness", d->uniqueness);
    char limit[400];
    if (d->no_limit) {
        if (d->description)
            json_object_set_new(a, "description", json_string(d->description));
    } else if (strcmp(d->type, "complex") != 0) {
        /* The size limits, where RFC 7643 has no member for them (scim-attrs.h). */
        snprintf(limit, sizeof(limit), "%s%sAt most %d bytes.",
                 d->description ? d->description : "", d->description ? ". " : "",
                 strcmp(d->name, "userName") == 0 || strcmp(d->name, "externalId") == 0
                     ? ADC_SCIM_MAX_NAME_LEN
                     : ADC_SCIM_MAX_STRING_LEN);
        json_object_set_new(a, "description", json_string(limit));
    } else if (d->multi) {
        snprintf(limit, sizeof(limit), "At most %d values.", ADC_SCIM_MAX_VALUES);
        json_object_set_new(a, "description", json_string(limit));
    } else if (d->description) {
        json_object_set_new(a, "description", json_string(d->description));
    }
    if (d->values) {
        json_t *list = json_array();
        for (const char *v = d->values; *v;) {
            size_t n = strcspn(v, ",");
            json_array_append_new(list, json_stringn(v, n));
            v += n + (v[n] == ',');
        }
        json_object_set_new(a, strcmp(d->type, "reference") == 0 ? "referenceTypes"
                                                                   : "canonicalValues",
                            list);
    } else if (strcmp(d->type, "reference") == 0) {
        json_object_set_new(a, "referenceTypes", json_pack("[s]", "external"));
    }
    if (d->subs)
        json_object_set_new(a, "subAttributes", attrs_json(d->subs));
    return a;
}

static json_t *attrs_json(const struct attr_def *defs) {
    json_t *arr = json_array();
    for (const struct attr_def *d = defs; d->name; d++)
        json_array_append_new(arr, attr_json(d));
    return arr;
}

static const struct {
    const char *id, *name, *description;
    const struct attr_def *attrs;
} schema_defs[] = {
    {ADC_SCIM_SCHEMA_USER, "User", "User Account", user_attrs},
    {ADC_SCIM_SCHEMA_ENTERPRISE, "EnterpriseUser", "Enterprise User", enterprise_attrs},
    {ADC_SCIM_SCHEMA_PROVIDER, "SyncProvider", "Which sync configuration owns a user",
     provider_attrs},
    {ADC_SCIM_SCHEMA_GROUP, "Group", "Group", group_attrs},
    {ADC_SCIM_SCHEMA_GROUP_PROVIDER, "SyncProviderGroup",
     "Which sync configuration owns a group, and its number of members", group_provider_attrs},
};

static json_t *schema_json(size_t i, const char *base) {
    char path[200];
    snprintf(path, sizeof(path), "/Schemas/%s", schema_defs[i].id);
    return json_pack("{s:[s],s:s,s:s,s:s,s:o,s:o}", "schemas", ADC_SCIM_SCHEMA_SCHEMA, "id",
                     schema_defs[i].id,
                     "name", schema_defs[i].name, "description", schema_defs[i].description,
                     "attributes", attrs_json(schema_defs[i].attrs), "meta",
                     meta("Schema", base, path));
}

static void schemas(struct adc_http_request *req, struct adc_http_response *res) {
    char base[300];
    adc_http_base_url(req, base, sizeof(base));
    json_t *items = json_array();
    for (size_t i = 0; i < ADC_ARRAY_SIZE(schema_defs); i++)
        json_array_append_new(items, schema_json(i, base));
    adc_http_json(res, 200, list_of(items));
}

static void schema(struct adc_http_request *req, struct adc_http_response *res) {
    char base[300];
    adc_http_base_url(req, base, sizeof(base));
    for (size_t i = 0; i < ADC_ARRAY_SIZE(schema_defs); i++)
        if (strcmp(req->params[0], schema_defs[i].id) == 0) {
            adc_http_json(res, 200, schema_json(i, base));
            return;
        }
    adc_http_error(res, 404, NULL, "no schema '%s'", req->params[0]);
}

/* ---- listing ----------------------------------------------------------------------------- */

/* Where the previous page of a listing ended. A client paging through all users asks for
 * startIndex = previous startIndex + count with the same filter; continuing after the last seen
 * row instead of skipping startIndex-1 rows keeps a full listing linear, not quadratic. Rows
 * inserted meanwhile come last; rows deleted meanwhile do not shift the pages (RFC 7644 section
 * 3.4.2.4 leaves consistency across pages to the server). The continuation also keeps the
 * first page's totalResults: counting a million users for each of 500 pages made a full
 * listing quadratic again (a listing is a snapshot as of its first page, give or take the rows
 * added or removed meanwhile, which the pages show). */
#define CURSORS 32
static struct {
    char filter[ADC_SCIM_MAX_FILTER_LEN + 1];
    int64_t next_index;
    int64_t last_seq;
    int64_t total;
    unsigned long used;
} cursors[CURSORS];
static unsigned long cursor_clock;
static pthread_mutex_t cursor_lock = PTHREAD_MUTEX_INITIALIZER;

static int64_t cursor_find(const char *filter, int64_t start_index, int64_t *total) {
    int64_t seq = -1;
    pthread_mutex_lock(&cursor_lock);
    for (size_t i = 0; i < CURSORS; i++)
        if (cursors[i].used && cursors[i].next_index == start_index &&
            strcmp(cursors[i].filter, filter) == 0) {
            seq = cursors[i].last_seq;
            *total = cursors[i].total;
            cursors[i].used = ++cursor_clock;
            break;
        }
    pthread_mutex_unlock(&cursor_lock);
    return seq;
}

static void cursor_save(const char *filter, int64_t next_index, int64_t last_seq, int64_t total) {
    pthread_mutex_lock(&cursor_lock);
    size_t slot = 0;
    for (size_t i = 0; i < CURSORS; i++) {
        if (cursors[i].used && cursors[i].next_index == next_index &&
            strcmp(cursors[i].filter, filter) == 0) {
            slot = i;
            break;
        }
        if (cursors[i].used < cursors[slot].used)
            slot = i;
    }
    snprintf(cursors[slot].filter, sizeof(cursors[slot].filter), "%s", filter);
    cursors[slot].next_index = next_index;
    cursors[slot].last_seq = last_seq;
    cursors[slot].total = total;
    cursors[slot].used = ++cursor_clock;
    pthread_mutex_unlock(&cursor_lock);
}

void adc_scim_projection_done(struct adc_scim_projection *p) {
    if (p->attrs)
        for (char **a = p->attrs; *a; a++)
            free(*a);
    free(p->attrs);
}

int adc_scim_projection_parse(const char *list, bool exclude, struct adc_scim_projection *p) {
    memset(p, 0, sizeof(*p));
    p->exclude = exclude;
    if (!list || !*list)
        return 0;
    size_t n = 1;
    for (const char *c = list; *c; c++)
        n += *c == ',';
    if (n > 100)
        return -EINVAL;
    p->attrs = calloc(n + 1, sizeof(char *));
    if (!p->attrs)
        return -ENOMEM;
    size_t k = 0;
    for (const char *c = list; *c;) {
        size_t len = strcspn(c, ",");
        char *name = strndup(c, len);
        if (!name)
            return -ENOMEM;
        /* Strip the core URN; keep extension URNs whole; cut sub-attributes. */
        char *s = name;
        while (*s == ' ')
            s++;
        if (strncasecmp(s, ADC_SCIM_SCHEMA_USER ":", strlen(ADC_SCIM_SCHEMA_USER) + 1) == 0)
            s += strlen(ADC_SCIM_SCHEMA_USER) + 1;
        else if (strncasecmp(s, ADC_SCIM_SCHEMA_GROUP ":", strlen(ADC_SCIM_SCHEMA_GROUP) + 1) == 0)
            s += strlen(ADC_SCIM_SCHEMA_GROUP) + 1;
        if (strncasecmp(s, "urn:", 4) == 0) {
            char *colon = strrchr(s, ':');
            if (colon && strcasecmp(s, ADC_SCIM_SCHEMA_PROVIDER) != 0 &&
                strcasecmp(s, ADC_SCIM_SCHEMA_GROUP_PROVIDER) != 0 &&
                strcasecmp(s, ADC_SCIM_SCHEMA_ENTERPRISE) != 0)
                *colon = '\0';
        } else {
            s[strcspn(s, ". ")] = '\0';
        }
        p->attrs[k++] = strdup(s);
        free(name);
        c += len;
        if (*c == ',')
            c++;
    }
    return 0;
}

bool adc_scim_projection_wants(const struct adc_scim_projection *p, const char *name) {
    if (!p->attrs)
        return true;
    bool listed = false;
    for (char **a = p->attrs; *a; a++)
        if (strcasecmp(*a, name) == 0)
            listed = true;
    return listed != p->exclude;
}

void adc_scim_projection_apply(json_t *res, const struct adc_scim_projection *p) {
    if (!p->attrs)
        return;
    const char *key;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(res, tmp, key, v) {
        /* id and schemas are always returned (RFC 7643 section 7, "returned": "always"). */
        if (!strcmp(key, "id") || !strcmp(key, "schemas"))
            continue;
        if (!adc_scim_projection_wants(p, key))
            json_object_del(res, key);
    }
}

struct page {
    json_t *items;        /* with a projection */
    struct adc_buf *text; /* without: the resources as JSON text, comma-separated */
    size_t n;
    const char *base_url;
    const struct adc_scim_projection *proj;
    int64_t last_seq;
    size_t bytes; /* stored text of the users so far */
};

static int add_item(const struct adc_store_user *u, void *ctx) {
    struct page *pg = ctx;
    /* A page holds at most ADC_SCIM_MAX_PAGE_BYTES of users (5,000 users of 64 KiB would be
     * 320 MB): it ends early, which RFC 7644 section 3.4.2.4 allows (itemsPerPage says how many
     * came; the client asks for the next startIndex). */
    size_t size = strlen(u->data);
    if (pg->n > 0 && pg->bytes + size > ADC_SCIM_MAX_PAGE_BYTES)
        return -ENOBUFS;
    pg->bytes += size;
    pg->last_seq = u->seq;
    if (pg->text) {
        if (pg->n++ > 0)
            adc_buf_append(pg->text, ",", 1);
        return adc_scim_user_render_text(u, pg->base_url, pg->text);
    }
    json_t *r = adc_scim_user_render(u, pg->base_url);
    if (!r)
        return -ENOMEM;
    adc_scim_projection_apply(r, pg->proj);
    json_array_append_new(pg->items, r);
    pg->n++;
    return 0;
}

static int parse_int(const char *s, int64_t *out) {
    if (!s)
        return 0;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return -EINVAL;
    *out = v;
    return 1;
}

int adc_scim_paging(struct adc_http_response *res, const char *start_s, const char *count_s,
                    int64_t *start, int64_t *count) {
    *start = 1;
    *count = ADC_SCIM_DEFAULT_COUNT;
    if (parse_int(start_s, start) < 0) {
        adc_http_error(res, 400, "invalidValue", "startIndex must be an integer");
        return -1;
    }
    if (parse_int(count_s, count) < 0) {
        adc_http_error(res, 400, "invalidValue", "count must be an integer");
        return -1;
    }
    /* RFC 7644 section 3.4.2.4: startIndex below 1 means 1; a negative count means 0. */
    if (*start < 1)
        *start = 1;
    if (*count < 0)
        *count = 0;
    if (*count > ADC_SCIM_MAX_RESULTS)
        *count = ADC_SCIM_MAX_RESULTS;
    return 0;
}

static void list_users(struct adc_http_response *res, struct adc_http_request *req,
                       const char *filter, const char *start_s, const char *count_s,
                       const char *attributes, const char *excluded) {
    int64_t start, count;
    if (adc_scim_paging(res, start_s, count_s, &start, &count) < 0)
        return;
    struct adc_sql_where where = {0};
    struct adc_scim_filter *f = NULL;
    struct adc_scim_projection proj = {0};
    struct adc_db *db = NULL;
    json_t *items = NULL;
    if (filter) {
        char err[300];
        if (strlen(filter) > ADC_SCIM_MAX_FILTER_LEN) {
            adc_http_error(res, 400, "invalidFilter", "filter longer than %d characters",
                           ADC_SCIM_MAX_FILTER_LEN);
            goto out;
        }
        if (adc_scim_filter_parse(filter, &f, err, sizeof(err)) < 0 ||
            adc_store_filter_sql(f, adc_store_dialect(req->server->store), &where, err,
                                 sizeof(err)) < 0) {
            adc_http_error(res, 400, "invalidFilter", "%s", err);
            goto out;
        }
    }
    if ((attributes && excluded) ||
        adc_scim_projection_parse(attributes ? attributes : excluded, !attributes, &proj) < 0) {
        adc_http_error(res, 400, "invalidValue",
                       "attributes or excludedAttributes: a comma-separated list, not both");
        goto out;
    }
    db = adc_store_acquire(req->server->store);
    if (!db || adc_db_begin(db, false) < 0) {
        adc_http_error(res, 503, NULL, "database unavailable");
        goto out;
    }
    const char *fkey = filter ? filter : "";
    int64_t total = -1, after = count > 0 ? cursor_find(fkey, start, &total) : -1;
    if (after < 0)
        total = adc_store_user_count(db, where.sql, where.args, where.n);
    if (total < 0) {
        adc_http_error(res, 500, NULL, "database error while counting users");
        goto out;
    }
    char base[300];
    adc_http_base_url(req, base, sizeof(base));
    items = json_array();
    struct adc_buf text;
    adc_buf_init(&text, 0);
    struct page pg = {.items = items,
                      .text = proj.attrs ? NULL : &text,
                      .base_url = base,
                      .proj = &proj,
                      .last_seq = -1};
    if (count > 0 && start <= total) {
        int n = after >= 0 ? adc_store_user_list(db, where.sql, where.args, where.n, after, 0,
                                                 count, add_item, &pg)
                           : adc_store_user_list(db, where.sql, where.args, where.n, -1, start - 1,
                                                 count, add_item, &pg);
        if (n == -ENOBUFS)
            n = (int)pg.n; /* the page is full before count */
        if (n < 0) {
            adc_buf_done(&text);
            adc_http_error(res, 500, NULL, "database error while listing users");
            goto out;
        }
        if (n > 0 && start + n <= total)
            cursor_save(fkey, start + n, pg.last_seq, total);
    }
    adc_db_commit(db);
    size_t n_items = pg.n;
    if (pg.text) {
        /* Built as text: no parse and re-serialization of every stored user. */
        struct adc_buf out;
        adc_buf_init(&out, 0);
        adc_buf_printf(&out,
                       "{\"schemas\":[\"" ADC_SCIM_SCHEMA_LIST "\"],\"totalResults\":%lld,"
                       "\"itemsPerPage\":%zu,\"startIndex\":%lld,\"Resources\":[",
                       (long long)total, n_items, (long long)start);
        adc_buf_append(&out, text.data ? text.data : "", text.len);
        adc_buf_puts(&out, "]}");
        adc_buf_done(&text);
        adc_http_scim_text(res, &out);
        goto out;
    }
    adc_buf_done(&text);
    adc_http_json(res, 200,
                  json_pack("{s:[s],s:I,s:I,s:I,s:O}", "schemas", ADC_SCIM_SCHEMA_LIST,
                            "totalResults", (json_int_t)total, "itemsPerPage", (json_int_t)n_items,
                            "startIndex", (json_int_t)start, "Resources", items));
out:
    json_decref(items);
    adc_store_release(db);
    adc_sql_where_done(&where);
    adc_scim_filter_free(f);
    adc_scim_projection_done(&proj);
}

static void users_list(struct adc_http_request *req, struct adc_http_response *res) {
    list_users(res, req, adc_http_query(req, "filter"), adc_http_query(req, "startIndex"),
               adc_http_query(req, "count"), adc_http_query(req, "attributes"),
               adc_http_query(req, "excludedAttributes"));
}

/* POST /Users/.search (RFC 7644 section 3.4.3): the query in the body. */
static void users_search(struct adc_http_request *req, struct adc_http_response *res) {
    json_t *b = adc_http_body_object(req, res);
    if (!b)
        return;
    char start[32] = "", count[32] = "";
    json_t *sv = json_object_get(b, "startIndex"), *cv = json_object_get(b, "count");
    if ((sv && !json_is_integer(sv)) || (cv && !json_is_integer(cv))) {
        adc_http_error(res, 400, "invalidValue", "startIndex and count must be integers");
        json_decref(b);
        return;
    }
    snprintf(start, sizeof(start), "%lld", (long long)json_integer_value(sv));
    snprintf(count, sizeof(count), "%lld", (long long)json_integer_value(cv));
    json_t *fv = json_object_get(b, "filter");
    if (fv && !json_is_string(fv)) {
        adc_http_error(res, 400, "invalidFilter", "filter must be a string");
        json_decref(b);
        return;
    }
    /* attributes: an array of names in the body */
    char *attrs = NULL;
    json_t *av = json_object_get(b, "attributes");
    if (json_is_array(av)) {
        size_t i, len = 0;
        json_t *a;
        json_array_foreach(av, i, a) len += json_string_length(a) + 1;
        attrs = calloc(len + 1, 1);
        json_array_foreach(av, i, a) {
            if (attrs && json_is_string(a)) {
                if (*attrs)
                    strcat(attrs, ",");
                strcat(attrs, json_string_value(a));
            }
        }
    }
    list_users(res, req, json_string_value(fv), sv ? start : NULL, cv ? count : NULL, attrs, NULL);
    free(attrs);
    json_decref(b);
}

/* Searches at the root (RFC 7644 sections 3.4.2.1 and 3.4.3) would mix users and groups in
 * one paged listing; this server answers them with 501 and the SCIM error (RFC 7644 section
 * 3.4.2: "if the service provider does not support ... it SHALL return 501"), so that a client
 * searches /Users or /Groups instead. */
static void root_search(struct adc_http_request *req, struct adc_http_response *res) {
    (void)req;
    adc_http_error(res, 501, NULL,
                   "searches at the root are not supported: search /Users or /Groups "
                   "(GET with filter, or POST .search)");
}

/* ---- single users ------------------------------------------------------------------------ */

static void user_get(struct adc_http_request *req, struct adc_http_response *res) {
    struct adc_db *db = adc_store_acquire(req->server->store);
    if (!db) {
        adc_http_error(res, 503, NULL, "database unavailable");
        return;
    }
    struct adc_store_user u;
    int e = adc_store_user_get(db, req->params[0], &u);
    adc_store_release(db);
    if (e == -ENOENT) {
        adc_http_error(res, 404, NULL, "no user with id '%s'", req->params[0]);
        return;
    }
    if (e < 0) {
        adc_http_error(res, 500, NULL, "database error");
        return;
    }
    adc_scim_etag(u.version, res->etag, sizeof(res->etag));
    const char *inm = adc_http_header(req, "If-None-Match");
    if (inm && strstr(inm, res->etag + 2)) { /* compare the quoted part of W/"n" */
        res->status = 304;
        adc_store_user_done(&u);
        return;
    }
    char base[300];
    adc_http_base_url(req, base, sizeof(base));
    json_t *r = adc_scim_user_render(&u, base);
    struct adc_scim_projection proj;
    const char *a = adc_http_query(req, "attributes"),
               *x = adc_http_query(req, "excludedAttributes");
    if (adc_scim_projection_parse(a ? a : x, !a, &proj) == 0)
        adc_scim_projection_apply(r, &proj);
    adc_scim_projection_done(&proj);
    adc_store_user_done(&u);
    adc_http_json(res, 200, r);
}

enum write_kind { W_CREATE, W_REPLACE, W_PATCH, W_DELETE };

static int group_write(struct adc_scim_ctx *ctx, struct adc_http_request *req, enum write_kind kind,
                       const json_t *body, const char *if_match, struct adc_scim_result *r) {
    const char *id = req->params[0];
    switch (kind) {
    case W_CREATE: return adc_scim_group_create(ctx, body, true, r);
    case W_REPLACE: return adc_scim_group_replace(ctx, id, body, if_match, true, r);
    case W_DELETE: return adc_scim_group_delete(ctx, id, if_match, r);
    case W_PATCH: break;
    }
    /* A PATCH answers 204 (RFC 7644 section 3.5.2 allows it): the members of a large group
     * would otherwise travel back with every change. Asked with attributes or
     * excludedAttributes, it answers 200 with the group so projected. */
    const char *a = adc_http_query(req, "attributes"),
               *x = adc_http_query(req, "excludedAttributes");
    struct adc_scim_projection proj;
    if (adc_scim_projection_parse(a ? a : x, !a, &proj) < 0)
        return adc_scim_fail(r, 400, "invalidValue", "attributes or excludedAttributes: a list");
    int rc = adc_scim_group_patch(ctx, id, body, if_match, a || x,
                                  adc_scim_projection_wants(&proj, "members"), r);
    if (rc == 0 && r->resource)
        adc_scim_projection_apply(r->resource, &proj);
    adc_scim_projection_done(&proj);
    return rc;
}

static void resource_write(struct adc_http_request *req, struct adc_http_response *res,
                           enum write_kind kind, bool group) {
    json_t *body = NULL;
    if (kind != W_DELETE && !(body = adc_http_body_object(req, res)))
        return;
    struct adc_db *db = adc_store_acquire_writer(req->server->store);
    if (!db) {
        json_decref(body);
        adc_http_error(res, 503, NULL, "database unavailable");
        return;
    }
    char base[300];
    adc_http_base_url(req, base, sizeof(base));
    struct adc_scim_ctx ctx = {.db = db, .who = &req->principal, .base_url = base};
    struct adc_scim_result r = {0};
    const char *if_match = adc_http_header(req, "If-Match");
    int rc = adc_db_begin(db, true);
    if (rc < 0) {
        r.status = 503;
        snprintf(r.detail, sizeof(r.detail), "database busy; retry");
    } else {
        switch (group ? -1 : (int)kind) {
        case -1: rc = group_write(&ctx, req, kind, body, if_match, &r); break;
        case W_CREATE: rc = adc_scim_user_create(&ctx, body, true, &r); break;
        case W_REPLACE:
            rc = adc_scim_user_replace(&ctx, req->params[0], body, if_match, true, &r);
            break;
        case W_PATCH:
            rc = adc_scim_user_patch(&ctx, req->params[0], body, if_match, true, &r);
            break;
        case W_DELETE: rc = adc_scim_user_delete(&ctx, req->params[0], if_match, &r); break;
        }
        if (rc == 0 && adc_db_commit(db) < 0) {
            rc = -1;
            adc_scim_result_done(&r);
            r.status = 503;
            snprintf(r.detail, sizeof(r.detail), "database error on commit; retry");
        } else if (rc < 0) {
            adc_db_rollback(db);
        }
    }
    adc_store_release(db);
    json_decref(body);
    if (rc < 0) {
        adc_scim_respond_error(res, &r);
    } else if (kind == W_DELETE) {
        res->status = 204;
    } else {
        adc_scim_etag(r.version, res->etag, sizeof(res->etag));
        if (kind == W_CREATE && asprintf(&res->location, "%s/scim/v2/%s/%s", base,
                                         group ? "Groups" : "Users", r.id) < 0)
            res->location = NULL;
        if (r.resource)
            adc_http_json(res, r.status, TAKE_PTR(r.resource));
        else
            res->status = r.status;
    }
    adc_scim_result_done(&r);
}

static void user_create(struct adc_http_request *req, struct adc_http_response *res) {
    resource_write(req, res, W_CREATE, false);
}
static void user_replace(struct adc_http_request *req, struct adc_http_response *res) {
    resource_write(req, res, W_REPLACE, false);
}
static void user_patch(struct adc_http_request *req, struct adc_http_response *res) {
    resource_write(req, res, W_PATCH, false);
}
static void user_delete(struct adc_http_request *req, struct adc_http_response *res) {
    resource_write(req, res, W_DELETE, false);
}
static void group_create(struct adc_http_request *req, struct adc_http_response *res) {
    resource_write(req, res, W_CREATE, true);
}
static void group_replace(struct adc_http_request *req, struct adc_http_response *res) {
    resource_write(req, res, W_REPLACE, true);
}
static void group_patch(struct adc_http_request *req, struct adc_http_response *res) {
    resource_write(req, res, W_PATCH, true);
}
static void group_delete(struct adc_http_request *req, struct adc_http_response *res) {
    resource_write(req, res, W_DELETE, true);
}

const struct adc_route adc_scim_routes[] = {
    {"GET", "/scim/v2/ServiceProviderConfig", ADC_AUTH_NONE, service_provider_config},
    {"GET", "/scim/v2/ResourceTypes", ADC_AUTH_NONE, resource_types},
    {"GET", "/scim/v2/ResourceTypes/{}", ADC_AUTH_NONE, resource_type},
    {"GET", "/scim/v2/Schemas", ADC_AUTH_NONE, schemas},
    {"GET", "/scim/v2/Schemas/{}", ADC_AUTH_NONE, schema},
    {"GET", "/scim/v2/Users", ADC_AUTH_ANY, users_list},
    {"POST", "/scim/v2/Users", ADC_AUTH_ANY, user_create},
    {"POST", "/scim/v2/Users/.search", ADC_AUTH_ANY, users_search},
    {"GET", "/scim/v2", ADC_AUTH_ANY, root_search},
    {"POST", "/scim/v2/.search", ADC_AUTH_ANY, root_search},
    {"GET", "/scim/v2/Users/{}", ADC_AUTH_ANY, user_get},
    {"PUT", "/scim/v2/Users/{}", ADC_AUTH_ANY, user_replace},
    {"PATCH", "/scim/v2/Users/{}", ADC_AUTH_ANY, user_patch},
    {"DELETE", "/scim/v2/Users/{}", ADC_AUTH_ANY, user_delete},
    {"GET", "/scim/v2/Groups", ADC_AUTH_ANY, adc_scim_groups_list},
    {"POST", "/scim/v2/Groups", ADC_AUTH_ANY, group_create},
    {"POST", "/scim/v2/Groups/.search", ADC_AUTH_ANY, adc_scim_groups_search},
    {"GET", "/scim/v2/Groups/{}", ADC_AUTH_ANY, adc_scim_group_get},
    {"PUT", "/scim/v2/Groups/{}", ADC_AUTH_ANY, group_replace},
    {"PATCH", "/scim/v2/Groups/{}", ADC_AUTH_ANY, group_patch},
    {"DELETE", "/scim/v2/Groups/{}", ADC_AUTH_ANY, group_delete},
    {"POST", "/scim/v2/Bulk", ADC_AUTH_ANY, adc_scim_bulk},
    {NULL, NULL, 0, NULL},
};
