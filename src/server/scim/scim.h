/* SCIM 2.0 endpoints under /scim/v2 (RFC 7644): discovery, Users, Groups, Bulk. */
#pragma once

#include "http/http.h"
#include "scim/scim-user.h"
#include "store/store.h"

/* Answers res with a failed operation result (SCIM error schema). */
void adc_scim_respond_error(struct adc_http_response *res, const struct adc_scim_result *r);

/* Discovery, answered without credentials (scim-discovery.c): GET
 * /scim/v2/ServiceProviderConfig, /ResourceTypes, /ResourceTypes/{id}, /Schemas, /Schemas/{id}. */
void adc_scim_service_provider_config(struct adc_http_request *req, struct adc_http_response *res);
void adc_scim_resource_types(struct adc_http_request *req, struct adc_http_response *res);
void adc_scim_resource_type(struct adc_http_request *req, struct adc_http_response *res);
void adc_scim_schemas(struct adc_http_request *req, struct adc_http_response *res);
void adc_scim_schema(struct adc_http_request *req, struct adc_http_response *res);

/* POST /scim/v2/Bulk (scim-bulk.c). */
void adc_scim_bulk(struct adc_http_request *req, struct adc_http_response *res);

/* Groups' list, .search and get (scim-group-list.c). */
void adc_scim_groups_list(struct adc_http_request *req, struct adc_http_response *res);
void adc_scim_groups_search(struct adc_http_request *req, struct adc_http_response *res);
void adc_scim_group_get(struct adc_http_request *req, struct adc_http_response *res);

/* startIndex and count of a listing (RFC 7644 section 3.4.2.4), clamped to 1.. and
 * 0..maxResults. 0, or -1 with the 400 answered in res. */
int adc_scim_paging(struct adc_http_response *res, const char *start_s, const char *count_s,
                    int64_t *start, int64_t *count);

/* attributes / excludedAttributes (RFC 7644 section 3.4.2.5) as top-level attribute names. */
struct adc_scim_projection {
    char **attrs; /* NULL-terminated; NULL when all */
    bool exclude;
};

/* The translation of a filter to SQL over one resource's table (store/store-filter.h). */
struct adc_scim_filter;
struct adc_sql_where;
typedef int (*adc_scim_filter_sql_fn)(const struct adc_scim_filter *f, enum adc_sql_dialect dialect,
                                      struct adc_sql_where *out, char *err, size_t err_size);
/* The filter and attribute selection of a listing of Users or Groups, read into *f, *where
 * and *proj (the caller frees them in either case). 0, or -1 with the 400 answered in res. */
int adc_scim_list_options(struct adc_http_request *req, struct adc_http_response *res,
                          const char *filter, const char *attributes, const char *excluded,
                          adc_scim_filter_sql_fn to_sql, struct adc_scim_filter **f,
                          struct adc_sql_where *where, struct adc_scim_projection *proj);
/* Parses "a,b.c,urn:...:x" (a sub-attribute keeps its parent); NULL or "" means all.
 * 0 or a negative errno; free with adc_scim_projection_done in either case. */
int adc_scim_projection_parse(const char *list, bool exclude, struct adc_scim_projection *p);
void adc_scim_projection_done(struct adc_scim_projection *p);
/* Whether the attribute named is returned. */
bool adc_scim_projection_wants(const struct adc_scim_projection *p, const char *name);
/* Removes what is not returned from res (id and schemas always stay). */
void adc_scim_projection_apply(json_t *res, const struct adc_scim_projection *p);
