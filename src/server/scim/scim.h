/* SCIM 2.0 endpoints under /scim/v2 (RFC 7644): discovery, Users, Groups, Bulk. */
#pragma once

#include "http/http.h"
#include "scim/scim-user.h"
#include "store/store-filter.h"
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
/* A listing of Users or Groups being answered (RFC 7644 section 3.4.2): its paging (startIndex
 * and count, clamped to 1.. and 0..maxResults), its filter as SQL over the resource's table, its
 * attribute selection, and the read transaction it runs in. */
struct adc_scim_listing {
    int64_t start, count;
    struct adc_scim_filter *f;
    struct adc_sql_where where;
    struct adc_scim_projection proj;
    struct adc_db *db; /* inside a read transaction */
};
/* Reads the listing's parameters and opens its read transaction. 0, or -1 with the answer (400,
 * 503) in res; adc_scim_listing_done in either case. */
int adc_scim_listing_begin(struct adc_http_request *req, struct adc_http_response *res,
                           const char *filter, const char *start_s, const char *count_s,
                           const char *attributes, const char *excluded,
                           adc_scim_filter_sql_fn to_sql, struct adc_scim_listing *l);
/* Releases the connection (the transaction ends with it) and frees the rest. */
void adc_scim_listing_done(struct adc_scim_listing *l);
/* Appends the ListResponse of n resources (items: their JSON text, comma-separated) to out. */
int adc_scim_list_response_text(struct adc_buf *out, int64_t total, size_t n, int64_t start,
                                const struct adc_buf *items);
/* Parses "a,b.c,urn:...:x" (a sub-attribute keeps its parent); NULL or "" means all.
 * 0 or a negative errno; free with adc_scim_projection_done in either case. */
int adc_scim_projection_parse(const char *list, bool exclude, struct adc_scim_projection *p);
void adc_scim_projection_done(struct adc_scim_projection *p);
/* Whether the attribute named is returned. */
bool adc_scim_projection_wants(const struct adc_scim_projection *p, const char *name);
/* Removes what is not returned from res (id and schemas always stay). */
void adc_scim_projection_apply(json_t *res, const struct adc_scim_projection *p);
/* Whether p returns everything but meta (excludedAttributes=meta, as adc lists users: a
 * quarter of each resource it does not read): the listing then still renders users as text. */
bool adc_scim_projection_all_but_meta(const struct adc_scim_projection *p);
