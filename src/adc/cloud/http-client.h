/* HTTP to adc-server over libcurl: one easy handle per client so that the connection (and the
 * TLS session) stays alive across requests, HTTP Basic authentication, the CA file, certificate
 * verification and proxy of adc.cfg, bounded response bodies, and retries with capped
 * exponential backoff for requests that are safe to repeat. Not thread-safe: one per thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct adc_http;

struct adc_http_options {
    const char *base_url; /* https://cloud.example.com (a trailing slash is ignored) */
    const char *user;     /* HTTP Basic user (the Application ID) */
    const char *password; /* HTTP Basic password (the Secret Token); never logged */
    const char *ca_file;  /* NULL: the system's CA store */
    const char *proxy;    /* NULL: none (curl's environment variables are ignored) */
    bool tls_verify;
    long connect_timeout; /* seconds; 0: 10 */
    long timeout;         /* seconds for a whole request; 0: 300 */
    int max_attempts;     /* for adc_http_request_retry; 0: 5 */
    long backoff_ms;      /* first backoff; doubles up to backoff_max_ms; 0: 500 */
    long backoff_max_ms;  /* 0: 8000 */
    long retry_after_max; /* longest Retry-After honoured, seconds; 0: 60 */
};

struct adc_http_response {
    long status; /* HTTP status */
    char *body;  /* NUL-terminated; NULL when empty */
    size_t len;
    long retry_after; /* seconds from a Retry-After header, -1 when none */
};

/* Largest response body accepted: a page of 5,000 SCIM users is a few MB. */
#define ADC_HTTP_MAX_RESPONSE (64u * 1024 * 1024)

/* Returns 0 or -ENOMEM / -EINVAL. The options' strings are copied. */
int adc_http_new(const struct adc_http_options *o, struct adc_http **ret);
void adc_http_free(struct adc_http *h);

/* One request. `path` is appended to base_url; `body` (JSON) may be NULL. Returns 0 when an
 * HTTP answer came (whatever its status), else a negative errno (-ECONNREFUSED, -ETIMEDOUT,
 * -EIO, -EFBIG for an oversized answer) with a message in *err (new string). */
int adc_http_request(struct adc_http *h, const char *method, const char *path, const char *body,
                     size_t body_len, struct adc_http_response *resp, char **err);

/* The same, repeated on transport failures, 429 and 5xx, waiting with capped exponential
 * backoff or the server's Retry-After. Only for requests whose repetition is harmless. After
 * the last attempt returns what that attempt returned (an HTTP 5xx is returned as 0 with the
 * status in *resp). */
int adc_http_request_retry(struct adc_http *h, const char *method, const char *path,
                           const char *body, size_t body_len, struct adc_http_response *resp,
                           char **err);

/* Changes max_attempts (e.g. 1 for `adc check`, which reports rather than waits). */
void adc_http_set_attempts(struct adc_http *h, int attempts);

/* True for the statuses adc_http_request_retry repeats. */
bool adc_http_status_transient(long status);

void adc_http_response_done(struct adc_http_response *r);

/* Percent-encodes a string for a URL query (new string, NULL on failure). */
char *adc_http_escape(struct adc_http *h, const char *s);

/* Sleeps ms milliseconds (through signals). */
void adc_http_sleep_ms(long ms);

/* The wait before attempt `attempt` (1 = the first retry) in milliseconds: the server's
 * Retry-After when given (capped), else backoff doubling from first_ms up to max_ms. */
long adc_http_backoff_ms(int attempt, long retry_after, long first_ms, long max_ms,
                         long retry_after_max);
