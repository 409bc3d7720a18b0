/* SCIM discovery (RFC 7644 section 4, docs/product.md section 10): ServiceProviderConfig,
 * ResourceTypes and Schemas, answered without credentials. The routes are in scim.c. */
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "scim/scim-attrs.h"
#include "scim/scim.h"
#include "server.h"

/* ---- discovery (RFC 7644 section 4) ------------------------------------------------------ */

/* meta.location is absolute everywhere (RFC 7643 section 3.1: "the URI of the resource"), as
 * for users: base_url is "http(s)://host" of the request. */
static json_t *meta(const char *resource_type, const char *base_url, const char *path) {
    char location[512];
    snprintf(location, sizeof(location), "%s/scim/v2%s", base_url, path);
    return json_pack("{s:s,s:s}", "resourceType", resource_type, "location", location);
}

void adc_scim_service_provider_config(struct adc_http_request *req, struct adc_http_response *res) {
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

void adc_scim_resource_types(struct adc_http_request *req, struct adc_http_response *res) {
    char base[300];
    adc_http_base_url(req, base, sizeof(base));
    adc_http_json(res, 200,
                  list_of(json_pack("[o,o]", resource_type_user(base), resource_type_group(base))));
}

void adc_scim_resource_type(struct adc_http_request *req, struct adc_http_response *res) {
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

static const struct attr_def enterprise_attrs[] = {ATTR("employeeNumber", "string"),
                                                   ATTR("costCenter", "string"),
                                                   ATTR("organization", "string"),
                                                   ATTR("division", "string"),
                                                   ATTR("department", "string"),
                                                   {"manager", "complex", false, false, false,
                                                    "readWrite", "default", "none", NULL,
                                                    manager_subs, NULL, false},
                                                   END};

static const struct attr_def provider_attrs[] = {
    {"provider", "string", false, false, true, "readOnly", "default", "none",
     "'local' or the Application ID of the sync configuration that owns the user. Set by the "
     "server: a sync configuration's users are its own (it never writes another's); a System "
     "Administrator may set it when creating or replacing a user",
     NULL, NULL, false},
    END};

/* RFC 7643 section 4.2 (and 8.7.1): displayName and members of User or Group. */
static const struct attr_def member_subs[] = {{"value", "string", false, false, false, "immutable",
                                               "default", "none", NULL, NULL, NULL, true},
                                              {"$ref", "reference", false, false, false,
                                               "immutable", "default", "none", NULL, NULL,
                                               "User,Group", true},
                                              {"type", "string", false, false, false, "immutable",
                                               "default", "none", NULL, NULL, "User,Group", true},
                                              {"display", "string", false, false, false, "readOnly",
                                               "default", "none", NULL, NULL, NULL, true},
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
    {"memberCount", "integer", false, false, false, "readOnly", "default", "none", NULL, NULL, NULL,
     true},
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
        json_object_set_new(
            a, strcmp(d->type, "reference") == 0 ? "referenceTypes" : "canonicalValues", list);
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
                     schema_defs[i].id, "name", schema_defs[i].name, "description",
                     schema_defs[i].description, "attributes", attrs_json(schema_defs[i].attrs),
                     "meta", meta("Schema", base, path));
}

void adc_scim_schemas(struct adc_http_request *req, struct adc_http_response *res) {
    char base[300];
    adc_http_base_url(req, base, sizeof(base));
    json_t *items = json_array();
    for (size_t i = 0; i < ADC_ARRAY_SIZE(schema_defs); i++)
        json_array_append_new(items, schema_json(i, base));
    adc_http_json(res, 200, list_of(items));
}

void adc_scim_schema(struct adc_http_request *req, struct adc_http_response *res) {
    char base[300];
    adc_http_base_url(req, base, sizeof(base));
    for (size_t i = 0; i < ADC_ARRAY_SIZE(schema_defs); i++)
        if (strcmp(req->params[0], schema_defs[i].id) == 0) {
            adc_http_json(res, 200, schema_json(i, base));
            return;
        }
    adc_http_error(res, 404, NULL, "no schema '%s'", req->params[0]);
}
