/* The agent API of adc-server: see agent-api.h. */
#include "cloud/agent-api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent-message.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/macros.h"
#include "common/wire.h"

/* Bounds of the channel's short requests: a warm connection answers in milliseconds; these
 * only cap a server or network that stopped answering. */
#define CONNECT_TIMEOUT_S 30
#define RESULT_TIMEOUT_S 15
#define RUN_TIMEOUT_S 30
#define DISCONNECT_TIMEOUT_S 5
#define LIVE_TIMEOUT_S 10
/* A long poll's answer comes within its `wait`; this margin covers a slow network, no more. */
#define POLL_MARGIN_S 15

/* Sends a JSON body (may be NULL), once or with retries. Returns what the transport returns. */
static int send_json(struct adc_transport *t, const char *method, const char *path, json_t *body,
                     long timeout_s, bool retry, struct adc_transport_reply *reply) {
    _cleanup_free_ char *text = NULL;
    if (body && !(text = json_dumps(body, JSON_COMPACT))) {
        *reply = (struct adc_transport_reply){.retry_after = -1};
        return -ENOMEM;
    }
    size_t len = text ? strlen(text) : 0;
    return retry ? adc_transport_request_retry(t, method, path, text, len, timeout_s, reply)
                 : adc_transport_request(t, method, path, text, len, timeout_s, reply);
}

/* Why a request did not get the answer wanted, for the agent's messages: the transport's
 * message, or "HTTP 503: <detail>". */
static void why_failed(const struct adc_transport_reply *rep, char **err) {
    if (err)
        *err = adc_transport_reply_why(rep);
}

static int read_settings(const json_t *j, struct adc_server_settings *st, const char *url,
                         char **err) {
    for (int i = 0; i < ADC_SETTING_COUNT; i++)
        st->settings[i] = ADC_UNSET;
    const json_t *settings = json_object_get(j, "settings");
    if (!json_is_object(j) || (settings && !json_is_object(settings))) {
        adc_set_error(err, "GET %s%s: unexpected answer", url, ADC_WIRE_AGENT_CONFIG);
        return -EBADMSG;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)settings, key, v) {
        int i = adc_setting_from_name(key);
        if (i < 0) {
            /* A newer server may know more settings; this client cannot honour them. */
            log_warning("the server sets '%s', which this version of adc does not know", key);
            continue;
        }
        if (json_is_null(v))
            continue;
        if (!json_is_boolean(v)) {
            adc_set_error(err, "GET %s" ADC_WIRE_AGENT_CONFIG ": setting '%s' is not a boolean",
                          url, key);
            return -EBADMSG;
        }
        st->settings[i] = json_is_true(v) ? ADC_TRUE : ADC_FALSE;
    }
    const char *app_id = json_string_value(json_object_get(j, "app_id"));
    const char *name = json_string_value(json_object_get(j, "name"));
    if ((app_id && !(st->app_id = strdup(app_id))) || (name && !(st->name = strdup(name))))
        return -ENOMEM;
    return 0;
}

int adc_agent_api_get_settings(struct adc_transport *t, struct adc_server_settings *out,
                               char **err) {
    struct adc_transport_reply rep;
    struct adc_server_settings st = {0};
    json_t *j = NULL;
    int r = adc_transport_request_retry(t, "GET", ADC_WIRE_AGENT_CONFIG, NULL, 0, 0, &rep);
    if (r < 0) {
        if (err)
            *err = TAKE_PTR(rep.error);
        goto out;
    }
    if (rep.status < 200 || rep.status > 299) {
        adc_transport_status_error(t, "GET", ADC_WIRE_AGENT_CONFIG, &rep, err);
        r = adc_transport_status_errno(rep.status);
        goto out;
    }
    if (!(j = adc_transport_reply_json(&rep))) {
        adc_set_error(err, "GET %s%s: the answer is not JSON", adc_transport_url(t),
                      ADC_WIRE_AGENT_CONFIG);
        r = -EBADMSG;
        goto out;
    }
    if ((r = read_settings(j, &st, adc_transport_url(t), err)) < 0) {
        adc_server_settings_done(&st);
        goto out;
    }
    *out = st;
    r = 0;
out:
    json_decref(j);
    adc_transport_reply_done(&rep);
    return r;
}

void adc_server_settings_done(struct adc_server_settings *st) {
    if (!st)
        return;
    free(st->app_id);
    free(st->name);
    st->app_id = st->name = NULL;
}

int adc_agent_api_run_start(struct adc_transport *t, bool dry_run, const char *source,
                            const char *agent_id, char **run_id, char **err) {
    json_t *req = json_pack("{s:b, s:s, s:s*}", ADC_WIRE_DRY_RUN, dry_run, ADC_WIRE_SOURCE, source,
                            ADC_WIRE_AGENT_ID, agent_id);
    if (!req)
        return -ENOMEM;
    struct adc_transport_reply rep;
    json_t *j = NULL;
    int r = send_json(t, "POST", ADC_WIRE_AGENT_RUNS, req, RUN_TIMEOUT_S, false, &rep);
    json_decref(req);
    if (r < 0) {
        if (err)
            *err = TAKE_PTR(rep.error);
        goto out;
    }
    if (rep.status < 200 || rep.status > 299) {
        adc_transport_status_error(t, "POST", ADC_WIRE_AGENT_RUNS, &rep, err);
        /* 409: another sync of this configuration is in progress (docs/product.md section 11). */
        r = rep.status == 409 ? -EBUSY : adc_transport_status_errno(rep.status);
        goto out;
    }
    j = adc_transport_reply_json(&rep);
    const char *id = json_string_value(json_object_get(j, ADC_WIRE_RUN_ID));
    if (!adc_wire_id_valid(id)) {
        adc_set_error(err, "POST %s%s: no valid run_id in the answer", adc_transport_url(t),
                      ADC_WIRE_AGENT_RUNS);
        r = -EBADMSG;
        goto out;
    }
    r = (*run_id = strdup(id)) ? 0 : -ENOMEM;
out:
    json_decref(j);
    adc_transport_reply_done(&rep);
    return r;
}

int adc_agent_api_run_update(struct adc_transport *t, const char *run_id, const char *status,
                             json_t *stats, json_t *errors, json_t *progress, bool retry,
                             char **err) {
    if (!adc_wire_id_valid(run_id))
        return -EINVAL; /* it goes into the path */
    char path[sizeof(ADC_WIRE_AGENT_RUNS) + ADC_WIRE_ID_MAX + 2];
    snprintf(path, sizeof(path), ADC_WIRE_AGENT_RUNS "/%s", run_id);
    json_t *body = json_pack("{s:s}", ADC_WIRE_STATUS, status);
    if (!body || (stats && json_object_set(body, ADC_WIRE_STATS, stats) < 0) ||
        (errors && json_object_set(body, ADC_WIRE_ERRORS, errors) < 0) ||
        (progress && json_object_set(body, ADC_WIRE_PROGRESS, progress) < 0)) {
        json_decref(body);
        return -ENOMEM;
    }
    struct adc_transport_reply rep;
    int r = send_json(t, "PUT", path, body, RUN_TIMEOUT_S, retry, &rep);
    json_decref(body);
    if (r < 0) {
        if (err)
            *err = TAKE_PTR(rep.error);
    } else if (rep.status < 200 || rep.status > 299) {
        adc_transport_status_error(t, "PUT", path, &rep, err);
        /* 5xx may pass (the retries are spent by now); 4xx will not. */
        r = rep.status >= 500 ? -EAGAIN : -EPROTO;
    }
    adc_transport_reply_done(&rep);
    return r;
}

int adc_agent_api_connect(struct adc_transport *t, const char *host, char **agent_id,
                          int *poll_wait, char **err) {
    json_t *body = json_pack("{s:s, s:s}", ADC_WIRE_HOST, host, ADC_WIRE_VERSION, ADC_VERSION);
    if (!body)
        return -ENOMEM;
    struct adc_transport_reply rep;
    int r = send_json(t, "POST", ADC_WIRE_AGENT_CONNECT, body, CONNECT_TIMEOUT_S, false, &rep);
    json_decref(body);
    json_t *j = NULL;
    if (r == -ECANCELED || r == -ENOMEM)
        goto out;
    if (r == 0 && (rep.status == 201 || rep.status == 200)) {
        j = adc_transport_reply_json(&rep);
        r = adc_agent_connect_answer_parse(j, agent_id, poll_wait);
        if (r == -EINVAL)
            r = -EBADMSG;
        goto out;
    }
    if (r == 0 && rep.status == 401) {
        r = -EPERM;
        goto out;
    }
    why_failed(&rep, err);
    r = -EAGAIN;
out:
    json_decref(j);
    adc_transport_reply_done(&rep);
    return r;
}

int adc_agent_api_poll(struct adc_transport *t, const char *agent_id, int wait_s, json_t **commands,
                       char **err) {
    if (!adc_wire_id_valid(agent_id))
        return -EINVAL;
    char path[sizeof(ADC_WIRE_AGENT_COMMANDS) + ADC_WIRE_ID_MAX + 32];
    snprintf(path, sizeof(path), ADC_WIRE_AGENT_COMMANDS "?agent_id=%s&wait=%d", agent_id, wait_s);
    struct adc_transport_reply rep;
    int r = adc_transport_request(t, "GET", path, NULL, 0, wait_s + POLL_MARGIN_S, &rep);
    if (r == -ECANCELED || r == -ENOMEM)
        goto out;
    if (r == 0 && rep.status == 200) {
        json_t *j = adc_transport_reply_json(&rep);
        json_t *cmds = json_object_get(j, ADC_WIRE_COMMANDS);
        /* Anything but an array is no command: the same as an empty answer. */
        *commands = json_is_array(cmds) ? json_incref(cmds) : json_array();
        json_decref(j);
        r = *commands ? 0 : -ENOMEM;
        goto out;
    }
    r = r == 0 && rep.status == 401 ? -EPERM : r == 0 && rep.status == 404 ? -ENOENT : -EAGAIN;
    if (r == -EAGAIN)
        why_failed(&rep, err);
out:
    adc_transport_reply_done(&rep);
    return r;
}

int adc_agent_api_post_result(struct adc_transport *t, const char *command_id, const char *outcome,
                              const char *reason) {
    if (!adc_wire_id_valid(command_id))
        return -EINVAL;
    char path[sizeof(ADC_WIRE_AGENT_COMMANDS) + ADC_WIRE_ID_MAX + 16];
    snprintf(path, sizeof(path), ADC_WIRE_AGENT_COMMANDS "/%s/result", command_id);
    json_t *body =
        json_pack("{s:s, s:s}", ADC_WIRE_OUTCOME, outcome, ADC_WIRE_REASON, reason ? reason : "");
    if (!body)
        return -ENOMEM;
    struct adc_transport_reply rep;
    int r = send_json(t, "POST", path, body, RESULT_TIMEOUT_S, false, &rep);
    json_decref(body);
    if (r == 0)
        r = (int)rep.status;
    else
        log_debug("answer to command %s not delivered: %s", command_id,
                  rep.error ? rep.error : "transfer failed");
    adc_transport_reply_done(&rep);
    return r;
}

int adc_agent_api_put_live(struct adc_transport *t, json_t *state) {
    struct adc_transport_reply rep;
    int r = send_json(t, "PUT", ADC_WIRE_AGENT_LIVE, state, LIVE_TIMEOUT_S, false, &rep);
    if (r == 0)
        r = (int)rep.status;
    adc_transport_reply_done(&rep);
    return r;
}

int adc_agent_api_disconnect(struct adc_transport *t, const char *agent_id) {
    json_t *body = json_pack("{s:s}", ADC_WIRE_AGENT_ID, agent_id);
    if (!body)
        return -ENOMEM;
    struct adc_transport_reply rep;
    int r =
        send_json(t, "POST", ADC_WIRE_AGENT_DISCONNECT, body, DISCONNECT_TIMEOUT_S, false, &rep);
    json_decref(body);
    if (r == 0 && (rep.status < 200 || rep.status > 299))
        r = -EIO;
    adc_transport_reply_done(&rep);
    return r;
}
