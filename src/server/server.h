/* The state one running adc-server shares between its request threads. */
#pragma once

#include <stdbool.h>

struct adc_store;
struct adc_auth;
struct adc_hub;

/* Hard limits on what a client may send (docs/product.md section 6, "bounded inputs"). The SCIM ones
 * are advertised in ServiceProviderConfig. */
#define ADC_HTTP_MAX_BODY (8u * 1024 * 1024)
#define ADC_SCIM_MAX_RESULTS 5000      /* filter.maxResults: largest page */
#define ADC_SCIM_DEFAULT_COUNT 100     /* page size when the client gives no count */
#define ADC_SCIM_BULK_MAX_OPS 1000     /* bulk.maxOperations */
#define ADC_SCIM_BULK_MAX_PAYLOAD (4u * 1024 * 1024) /* bulk.maxPayloadSize */
#define ADC_SCIM_MAX_FILTER_LEN 4096

struct adc_server {
    struct adc_store *store;
    struct adc_auth *auth;
    bool tls;
    /* Console cookies are Secure and __Host- prefixed: TLS here, or --public-url https://...
     * (TLS ends at a proxy in front). */
    bool secure_cookies;
    char *tls_cert_pem, *tls_key_pem; /* kept while the daemon runs; the key is wiped on free */
    /* Set when SIGTERM arrives: blocking handlers (long polls) return early. */
    volatile bool stopping;
    struct adc_hub *hub; /* the agent channel (channel.c) */
    const char *downloads_dir; /* serve --downloads DIR, or NULL (http/downloads.h) */
    int login_timeout;   /* seconds POST /api/v1/login waits for the agent (--login-timeout) */
    int run_timeout;     /* seconds a run may go without a heartbeat (--run-timeout) */
    /* Seconds in a minute of sync_interval_minutes: 60, or less for tests (--schedule-minute);
     * 0 counts as 60. */
    int schedule_minute;
};
