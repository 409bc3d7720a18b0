/* GET /metrics: adc-server's counters in the Prometheus text format (version 0.0.4), for the
 * operators of a service; System Administrator only (the figures tell how many agents and
 * sign-ins a customer base has). Per instance, except the runs, which are counted in the
 * database every instance shares. */
#pragma once

#include "http/http.h"

/* Counts a finished request: sign-ins (POST /api/v1/login) by outcome with their latency, and
 * SCIM requests by status. Called once per request by the HTTP layer; lock-free. */
void adc_metrics_request(const char *method, const char *path, unsigned status, double ms);

void adc_metrics_handle(struct adc_http_request *req, struct adc_http_response *res);
