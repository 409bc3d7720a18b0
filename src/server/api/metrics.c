#include "api/metrics.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/hub.h"
#include "common/buf.h"
#include "common/macros.h"
#include "server.h"
#include "store/store-runs.h"
#include "store/store.h"

/* Sign-in outcomes, from the answer's status (api/login.c). */
enum login_outcome { L_ACCEPTED, L_DENIED, L_THROTTLED, L_UNAVAILABLE, L_INVALID, L_ERROR, L_N };
static const char *const outcome_names[L_N] = {"accepted",    "denied",  "throttled",
                                               "unavailable", "invalid", "error"};
/* Latency buckets (seconds): a sign-in waits for an agent and the directory behind it. */
static const double buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

static atomic_uint_fast64_t logins[L_N];
static atomic_uint_fast64_t login_buckets[ADC_ARRAY_SIZE(buckets)];
static atomic_uint_fast64_t login_count, login_us;
static atomic_uint_fast64_t scim_by_status[600];

static enum login_outcome outcome_of(unsigned status) {
    switch (status) {
    case 200: return L_ACCEPTED;
    case 401: return L_DENIED;
    case 429: return L_THROTTLED;
    case 503: return L_UNAVAILABLE;
    default: return status >= 400 && status < 500 ? L_INVALID : L_ERROR;
    }
}

void adc_metrics_request(const char *method, const char *path, unsigned status, double ms) {
    if (!method || !path)
        return;
    if (strcmp(path, "/api/v1/login") == 0 && strcmp(method, "POST") == 0) {
        atomic_fetch_add(&logins[outcome_of(status)], 1);
        double s = ms / 1000;
        for (size_t i = 0; i < ADC_ARRAY_SIZE(buckets); i++)
            if (s <= buckets[i])
                atomic_fetch_add(&login_buckets[i], 1); /* cumulative, as Prometheus wants */
        atomic_fetch_add(&login_count, 1);
        atomic_fetch_add(&login_us, (uint_fast64_t)(ms * 1000));
    } else if (strncmp(path, "/scim/", 6) == 0 && status < ADC_ARRAY_SIZE(scim_by_status)) {
        atomic_fetch_add(&scim_by_status[status], 1);
    }
}

static void help(struct adc_buf *b, const char *name, const char *type, const char *text) {
    adc_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

static void add_run_count(const char *status, int64_t n, void *ctx) {
    adc_buf_printf(ctx, "adc_runs{status=\"%s\"} %lld\n", status, (long long)n);
}

void adc_metrics_handle(struct adc_http_request *req, struct adc_http_response *res) {
    struct adc_server *srv = req->server;
    struct adc_buf b;
    adc_buf_init(&b, 1 << 20);
    size_t agents = 0, queued = 0;
    if (srv->hub)
        adc_hub_counts(srv->hub, &agents, &queued);
    help(&b, "adc_connected_agents", "gauge", "Agents connected to this instance.");
    adc_buf_printf(&b, "adc_connected_agents %zu\n", agents);
    help(&b, "adc_queued_commands", "gauge",
         "Commands (sync now, password checks) queued on this instance for an agent.");
    adc_buf_printf(&b, "adc_queued_commands %zu\n", queued);

    help(&b, "adc_logins_total", "counter", "Sign-ins through POST /api/v1/login by outcome.");
    for (size_t i = 0; i < L_N; i++)
        adc_buf_printf(&b, "adc_logins_total{outcome=\"%s\"} %llu\n", outcome_names[i],
                       (unsigned long long)atomic_load(&logins[i]));
    help(&b, "adc_login_duration_seconds", "histogram",
         "Time from a sign-in request to its answer.");
    for (size_t i = 0; i < ADC_ARRAY_SIZE(buckets); i++)
        adc_buf_printf(&b, "adc_login_duration_seconds_bucket{le=\"%g\"} %llu\n", buckets[i],
                       (unsigned long long)atomic_load(&login_buckets[i]));
    unsigned long long n = atomic_load(&login_count);
    adc_buf_printf(&b,
                   "adc_login_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                   "adc_login_duration_seconds_sum %.6f\nadc_login_duration_seconds_count %llu\n",
                   n, (double)atomic_load(&login_us) / 1e6, n);

    help(&b, "adc_scim_requests_total", "counter", "SCIM requests (/scim/v2) by HTTP status.");
    for (size_t s = 0; s < ADC_ARRAY_SIZE(scim_by_status); s++) {
        unsigned long long c = atomic_load(&scim_by_status[s]);
        if (c)
            adc_buf_printf(&b, "adc_scim_requests_total{status=\"%zu\"} %llu\n", s, c);
    }

    help(&b, "adc_runs", "gauge", "Run records in the database by status.");
    struct adc_db *db = adc_store_acquire(srv->store);
    if (db)
        adc_store_runs_by_status(db, add_run_count, &b);
    adc_store_release(db);
    /* Read last: a failure to count the runs above is counted here already. */
    help(&b, "adc_database_errors_total", "counter",
         "Database errors (I/O, connection, unexpected SQL errors) since this instance started.");
    adc_buf_printf(&b, "adc_database_errors_total %llu\n", (unsigned long long)adc_store_errors());

    size_t len;
    char *text = adc_buf_take(&b, &len);
    if (!text) {
        adc_http_error(res, 500, NULL, "out of memory");
        return;
    }
    res->status = 200;
    res->raw = text;
    res->raw_len = len;
    res->content_type = "text/plain; version=0.0.4; charset=utf-8";
}
