/* The agent's side of the channel to adc-server (docs/agent-protocol.md): one HTTP client per
 * thread, each keeping its connection open between requests so that a password check costs
 * one request on a warm connection, never a TCP or TLS handshake. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "config/config.h"

/* Bodies the server sends are small JSON documents; a batch of commands stays far below this. */
#define ADC_CHANNEL_MAX_BODY (4u * 1024u * 1024u)

struct adc_channel;

struct adc_channel_reply {
    long status;    /* HTTP status, 0 when no answer came (connection failure, timeout) */
    json_t *body;   /* parsed JSON body, or NULL (empty or not JSON) */
    char *error;    /* why no answer came (curl's message), or NULL */
};

void adc_channel_reply_done(struct adc_channel_reply *r);

/* Called while a request is in flight: when `wake_fd` becomes readable, and at least every
 * `tick_ms`. Returning a negative errno aborts the request with that value. */
typedef int (*adc_channel_wake_fn)(void *userdata);

/* A client for the server of `svc` (URL, Application ID and Secret Token, CA file, proxy). The
 * strings are copied; `svc` may be freed afterwards. Returns 0 or a negative errno. */
int adc_channel_new(const struct adc_service_config *svc, struct adc_channel **ret);
void adc_channel_free(struct adc_channel *ch);

/* Sets what a long request listens to besides its socket (see adc_channel_wake_fn). */
void adc_channel_set_wake(struct adc_channel *ch, int wake_fd, int tick_ms, adc_channel_wake_fn fn,
                          void *userdata);

/* One request: `method` on `path` (appended to the server URL), with `body` as JSON when not
 * NULL, bounded by `timeout_s` seconds. Returns 0 when an HTTP answer came (whatever its status,
 * see reply->status), -EIO when none came (reply->error says why), or the wake function's error.
 * *reply is always initialised. */
int adc_channel_request(struct adc_channel *ch, const char *method, const char *path, json_t *body,
                        long timeout_s, struct adc_channel_reply *reply);

/* The server's base URL, for messages. */
const char *adc_channel_url(const struct adc_channel *ch);
