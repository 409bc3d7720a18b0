/* SCIM 2.0 endpoints under /scim/v2 (RFC 7644): discovery, Users, Bulk. */
#pragma once

#include "http/http.h"
#include "scim/scim-user.h"

/* Answers res with a failed operation result (SCIM error schema). */
void adc_scim_respond_error(struct adc_http_response *res, const struct adc_scim_result *r);

/* POST /scim/v2/Bulk (scim-bulk.c). */
void adc_scim_bulk(struct adc_http_request *req, struct adc_http_response *res);
