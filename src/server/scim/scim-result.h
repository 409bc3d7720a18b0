/* The frame of every SCIM operation on the server (users, groups, Bulk): who asks (the context),
 * the outcome (status and resource, or a SCIM error), entity tags, and the checks of what the
 * client may do (the server-side settings of its sync configuration, docs/product.md section 6). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/macros.h"
#include "common/wire.h" /* the URNs (ADC_SCIM_SCHEMA_*) */
#include "http/auth.h"

struct adc_db;

#define ADC_PROVIDER_LOCAL "local"

struct adc_scim_ctx {
    struct adc_db *db;
    const struct adc_principal *who;
    const char *base_url; /* "https://host", for meta.location */
    /* In a Bulk request: the id an earlier operation created with this bulkId, or NULL
     * (RFC 7644 section 3.7.2, "bulkId:x" as a member's value). NULL outside Bulk. */
    const char *(*bulk_id)(void *bulk, const char *bulk_id);
    void *bulk;
};

/* The outcome of one operation: a status, and either the resource (when asked for) or an
 * error with SCIM scimType and detail. */
struct adc_scim_result {
    unsigned status;
    const char *scim_type;
    char detail[400];
    json_t *resource;
    char id[40];
    int64_t version;
};

void adc_scim_result_done(struct adc_scim_result *r);
/* Fills r with an error; returns -1. */
int adc_scim_fail(struct adc_scim_result *r, unsigned status, const char *scim_type,
                  const char *fmt, ...) _printf_(4, 5);
/* Whether If-Match (NULL: no condition) admits this version. */
bool adc_scim_etag_matches(const char *if_match, int64_t version);
/* Whether the server sets s to true for this client (unset: the client decides). */
bool adc_scim_setting_on(const struct adc_principal *who, enum adc_setting s);
/* Refuses a write (`what`: "create", "update", "delete") that the sync configuration's
 * dry-run setting or setting s (negative: none) forbids: 0, or -1 with the 403 in r. Not for
 * administrators. */
int adc_scim_enforce(struct adc_scim_ctx *ctx, const char *what, enum adc_setting s,
                     struct adc_scim_result *r);
/* An administrator's provider value: "local" or an existing Application ID; 0 or -1 (400). */
int adc_scim_check_provider(struct adc_scim_ctx *ctx, const char *provider,
                            struct adc_scim_result *r);
/* The SCIM error object for a failed result. */
json_t *adc_scim_result_error(const struct adc_scim_result *r);

/* "W/\"N\"" */
void adc_scim_etag(int64_t version, char *buf, size_t size);
