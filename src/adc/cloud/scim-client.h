/* The SCIM client of a sync (RFC 7644): the cloud users (the paged listing, scim-list.c),
 * writes through SCIM Bulk within the server's advertised limits with retries that are safe to
 * repeat (scim-write.c, scim-bulk.c). Its connections are transports (transport.h) that
 * authenticate as the sync configuration (HTTP Basic app_id:secret from adc.cfg); the agent
 * API (settings, run records) goes over the first, lent by adc_scim_transport. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "sync/cloud-users.h"

struct adc_scim;

/* Called now and then during long operations: `done` of `total` (0 when unknown). */
typedef void (*adc_progress_fn)(void *userdata, size_t done, size_t total);

struct adc_scim_limits {
    bool bulk;             /* Bulk supported */
    size_t max_operations; /* per Bulk request */
    size_t max_payload;    /* bytes per Bulk request */
};

enum adc_scim_write_kind {
    ADC_SCIM_CREATE,  /* POST /Users */
    ADC_SCIM_REPLACE, /* PUT /Users/{id} */
    ADC_SCIM_DISABLE, /* PATCH /Users/{id} active=false */
    ADC_SCIM_DELETE,  /* DELETE /Users/{id} */
};

/* One write. The caller fills the first block; adc_scim_write fills the result. */
struct adc_scim_write {
    enum adc_scim_write_kind kind;
    const char *id;          /* replace, disable, delete: the cloud user's SCIM id */
    const char *external_id; /* create: finds a create that already happened (retry after a
                              * lost answer) */
    const char *resource;    /* create, replace: the User resource as JSON text (lent) */
    /* result */
    bool done;
    char *error; /* when not done: why (new string, freed by adc_scim_write_done) */
    /* A create answered 409 whose user turned out to be ours (docs/product.md section 4 rule
     * 1): when an earlier attempt of this run may have reached the server (sent_before), the
     * create happened then and counts as created; else the user was there before this run, and
     * the create became a replace of it (existed: counted as updated, never as created). */
    bool sent_before;
    bool existed;
    char *found_id; /* the SCIM id of that user (freed by adc_scim_write_done) */
    /* A create done: the new user's SCIM id when the answer gave it (its Bulk location, or the
     * resource's id; freed by adc_scim_write_done), so that the run knows the ids of the users
     * it created without listing them again (docs/BENCHMARKS.md, issue 21). */
    char *new_id;
};

/* Creates the client from adc.cfg's connection settings. Returns 0, -EINVAL (no server URL or
 * credentials: *err says which) or -ENOMEM. */
int adc_scim_new(const struct adc_service_config *svc, struct adc_scim **ret, char **err);
void adc_scim_free(struct adc_scim *s);
/* How often a request safe to repeat is tried (default 5, or $ADC_HTTP_ATTEMPTS). */
void adc_scim_set_attempts(struct adc_scim *s, int attempts);
/* The client's first connection, lent for the agent API (agent-api.h). */
struct adc_transport *adc_scim_transport(struct adc_scim *s);

/* One request to adc-server (path from the server's root) whose answer must be 2xx JSON or
 * 204: 0 with *out (a new reference; NULL for 204), or a negative errno with *err. Retried when
 * safe. For the requests that have no function of their own (cloud/scim-groups.c). */
int adc_scim_call(struct adc_scim *s, const char *method, const char *path, const char *body,
                  json_t **out, char **err);

/* GET /scim/v2/ServiceProviderConfig (bulk support and limits). A server that does not answer
 * it gets conservative defaults (no Bulk). */
int adc_scim_get_limits(struct adc_scim *s, struct adc_scim_limits *out, char **err);

/* Every cloud user the configuration can see, page by page, appended to `out`. Returns 0, or a
 * negative errno with *err: then `out` is incomplete and must not be used for a plan. */
int adc_scim_list_users(struct adc_scim *s, struct adc_cloud_users *out, adc_progress_fn progress,
                        void *userdata, char **err);

/* The cloud users for which attrs[i] ("externalId", "userName") equals values[i] for some i
 * (SCIM filter "a1 eq v1 or a2 eq v2 ..."), appended to `out`: a targeted lookup for one live
 * change instead of listing every user. Returns 0, or a negative errno with *err (-EACCES
 * credentials refused; transport errors as adc_transport_request_retry). */
int adc_scim_find_users(struct adc_scim *s, const char *const *attrs, const char *const *values,
                        size_t n_values, struct adc_cloud_users *out, char **err);

/* Performs the writes in order, as few Bulk requests as the limits allow (single requests when
 * the server has no Bulk). A write the server refuses gets its `error` and the others go on.
 * Returns 0 when every write was tried, or a negative errno with *err when the server became
 * unreachable or refused the credentials: the writes not done then carry that error too. */
int adc_scim_write(struct adc_scim *s, const struct adc_scim_limits *limits,
                   struct adc_scim_write *w, size_t n, char **err);
void adc_scim_write_done(struct adc_scim_write *w);
