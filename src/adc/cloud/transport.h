/* The one way adc reaches adc-server: every request of `adc imp`, `adc check` and `adc run`
 * (SCIM, run records, the agent channel) goes through a transport. One libcurl easy handle per
 * transport, driven through a multi handle, so that the connection (and its TLS session) stays
 * open between requests and a long poll can also listen to a wake-up descriptor (signals).
 *
 * The same rules for every request: HTTP Basic with adc.cfg's app_id and secret, adc.cfg's
 * ca_file and tls_verify, the proxy chosen by adc_transport_proxy_choose, connect and stall
 * timeouts, bounded answers whose memory is wiped before it is freed (poll answers carry
 * passwords), JSON read strictly (duplicate keys refused), and retries with capped exponential
 * backoff or the server's Retry-After for requests that are safe to repeat.
 * Not thread-safe: one transport per thread. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"

struct adc_transport;

/* Largest answer accepted: a page of 5,000 SCIM users is a few MB. */
#define ADC_TRANSPORT_MAX_BODY (64u * 1024 * 1024)

/* Zero fields take the default given. */
struct adc_transport_options {
    long connect_timeout; /* seconds; 10 */
    long timeout;         /* seconds for a request that gives none; 300 */
    int max_attempts;     /* of adc_transport_request_retry; $ADC_HTTP_ATTEMPTS, else 5 */
    long backoff_ms;     /* first wait between attempts, doubling; $ADC_HTTP_BACKOFF_MS, else 500 */
    long backoff_max_ms; /* 8000 */
    long retry_after_max; /* longest Retry-After honoured, seconds; 60 */
};

struct adc_transport_reply {
    long status; /* HTTP status; 0 when no answer came */
    char *body;  /* NUL-terminated, NULL when empty; wiped by adc_transport_reply_done */
    size_t len;
    long retry_after; /* seconds of a Retry-After header, -1 when none */
    char *error;      /* when no answer came: "METHOD URL: why" (new string) */
    int attempts;     /* how many times the request was sent: by adc_transport_request_retry,
                       * and by libcurl again on a fresh connection */
};

/* A transport to the server of `svc` (its strings are copied; `svc` may be freed afterwards).
 * `o` may be NULL. Returns 0, -EINVAL when adc.cfg lacks the server URL or credentials (*err,
 * when not NULL, names the missing key), or -ENOMEM. */
int adc_transport_new(const struct adc_service_config *svc, const struct adc_transport_options *o,
                      struct adc_transport **ret, char **err);
void adc_transport_free(struct adc_transport *t);

/* Changes max_attempts (1 for `adc check`, which reports rather than waits). */
void adc_transport_set_attempts(struct adc_transport *t, int attempts);

/* Called while a request is in flight, when `wake_fd` becomes readable and at least every
 * `tick_ms`, and between the attempts of adc_transport_request_retry: a negative errno aborts
 * the request with that value. fn NULL: nothing but the socket is listened to. */
typedef int (*adc_transport_wake_fn)(void *userdata);
void adc_transport_set_wake(struct adc_transport *t, int wake_fd, int tick_ms,
                            adc_transport_wake_fn fn, void *userdata);

/* Called before each repeat of adc_transport_request_retry (not while a request is in flight):
 * a negative errno stops the repeats with that value. For a thread that must finish the
 * request it has sent but not start another once it is told to stop. */
void adc_transport_set_retry_check(struct adc_transport *t, adc_transport_wake_fn fn,
                                   void *userdata);

/* One request: `method` on `path` (appended to the server URL) with `body` (JSON text, may be
 * NULL). timeout_s 0: the transport's timeout, and an answer that stalls (no byte for
 * $ADC_HTTP_STALL_S, else 60 s) is given up; > 0: that bound and no stall check (a long poll is
 * silent by design). Returns 0 when an HTTP answer came, whatever its status; else a negative
 * errno (-ECONNREFUSED, -ETIMEDOUT, -EHOSTUNREACH, -EPROTO for TLS, -EFBIG for an oversized
 * answer, -EIO, -ENOMEM, or the wake function's) with reply->error. *reply is always set. */
int adc_transport_request(struct adc_transport *t, const char *method, const char *path,
                          const char *body, size_t body_len, long timeout_s,
                          struct adc_transport_reply *reply);

/* The same, repeated while adc_transport_should_retry says so, up to max_attempts, waiting
 * adc_transport_backoff_ms between attempts. Only for requests whose repetition is harmless.
 * Returns what the last attempt returned. */
int adc_transport_request_retry(struct adc_transport *t, const char *method, const char *path,
                                const char *body, size_t body_len, long timeout_s,
                                struct adc_transport_reply *reply);

void adc_transport_reply_done(struct adc_transport_reply *r);

/* The answer's JSON, read strictly: duplicate keys refused, nesting bounded
 * (ADC_JSON_MAX_DEPTH). A new reference, or NULL when the body is empty or not such JSON. */
json_t *adc_transport_reply_json(const struct adc_transport_reply *r);

/* Why an answer is not what was expected, short: "HTTP 503: <detail>" with the server's detail
 * (SCIM "detail" or "scimType", else the agent API's "error", cut at 500 bytes at a character
 * boundary), or reply->error when no answer came. A new string, NULL when out of memory. */
char *adc_transport_reply_why(const struct adc_transport_reply *r);
/* The same for a message that stands alone, "METHOD URL: HTTP 503: <detail>", with the fix for
 * the usual cases: a 401 names adc.cfg's app_id and secret, a 404 without detail asks whether
 * the URL is an adc-server. Writes a new string to *err when err is not NULL. */
void adc_transport_status_error(const struct adc_transport *t, const char *method, const char *path,
                                const struct adc_transport_reply *r, char **err);
/* How many bytes of a server's detail go into a message: at most 500, cut at a UTF-8
 * character boundary (the detail comes from the network and may be megabytes). */
int adc_transport_detail_len(const char *detail);
/* The errno for an unexpected status: -EACCES for 401 and 403, else -EIO. */
int adc_transport_status_errno(long status);

/* The server's base URL (no trailing '/'), for messages. */
const char *adc_transport_url(const struct adc_transport *t);
/* adc.cfg's app_id, for messages. */
const char *adc_transport_app_id(const struct adc_transport *t);

/* Percent-encodes s for a URL path or query (new string, NULL when out of memory). */
char *adc_transport_escape(const char *s);

/* Sleeps ms milliseconds (through signals). */
void adc_transport_sleep_ms(long ms);

/* Policy, as pure functions (unit-tested). */

/* Whether an attempt is worth repeating: r < 0 (no answer) unless out of memory, an oversized
 * answer, a TLS failure or a cancel; an answer of 429, 500, 502, 503 or 504. */
bool adc_transport_should_retry(int r, long status);
/* The wait before attempt `attempt`+1 in milliseconds: the server's Retry-After when given
 * (capped at retry_after_max seconds), else first_ms doubling per attempt up to max_ms. */
long adc_transport_backoff_ms(int attempt, long retry_after, long first_ms, long max_ms,
                              long retry_after_max);
/* A Retry-After header's value (RFC 9110 section 10.2.3) in seconds: delay-seconds only (an
 * HTTP-date gives -1, and our own backoff applies), surrounding white space allowed. */
long adc_transport_retry_after_parse(const char *value, size_t len);

/* The proxy for requests to `url`: `configured` (adc.cfg's proxy) when set, else from the
 * environment as curl reads it — https_proxy or HTTPS_PROXY for https:// URLs, http_proxy
 * (lower case only: HTTP_PROXY may come from a CGI request header) for http:// ones, else
 * all_proxy or ALL_PROXY — unless no_proxy/NO_PROXY names the URL's host. NULL: direct.
 * `env` is getenv, or a table in tests. The answer is borrowed from `configured` or `env`. */
const char *adc_transport_proxy_choose(const char *url, const char *configured,
                                       char *(*env)(const char *name));
/* Whether a no_proxy list ("*", or hosts and domains separated by commas or spaces, a leading
 * '.' optional, matching the host and its subdomains; case-insensitive) covers `host`. */
bool adc_transport_no_proxy_match(const char *host, const char *no_proxy);
