/* The agent channel's HTTP endpoints (docs/agent-protocol.md) on top of the hub (hub.c); how
 * runs end without their agent is runs-lifecycle.c, "sync now" is api-admin.c.
 * Every /api/v1/agent call authenticates as a sync configuration (HTTP Basic app_id:secret);
 * an agent only ever sees its own configuration's agents and commands. */
#include "api/channel.h"

#include <errno.h>
#include <microhttpd.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/cluster.h"
#include "api/hub.h"
#include "api/schedule.h"
#include "common/log.h"
#include "common/macros.h"
#include "common/wire.h"
#include "server.h"
#include "store/store-configs.h"
#include "api/runs-lifecycle.h"
#include "api/runs.h"
#include "store/store-runs.h"

static void on_run_failed(void *userdata, const char *run_id, const char *why) {
    struct adc_server *srv = userdata;
    /* Several instances: a sync not handed out yet may still reach an agent elsewhere. */
    if (adc_cluster_release(srv, run_id) > 0)
        return;
    adc_run_fail(srv->store, run_id, why);
}

int adc_channel_start(struct adc_server *srv) {
    int r = adc_hub_new(on_run_failed, srv, &srv->hub);
    if (r < 0)
        return r;
    r = adc_login_start(srv);
    if (r == 0)
        r = adc_runs_heartbeat_start(srv->store, srv->run_timeout);
    if (r < 0)
        return r;
    r = adc_runs_recover_start(srv->store);
    return r < 0 ? r : adc_schedule_start(srv);
}

void adc_channel_stop(struct adc_server *srv) {
    adc_cluster_stop(); /* first: its thread hands commands to the hub */
    adc_schedule_stop();
    if (srv->hub)
        adc_hub_shutdown(srv->hub);
    adc_login_wake_waiters();
    adc_runs_recover_stop();
}

void adc_channel_free(struct adc_server *srv) {
    adc_channel_stop(srv);
    adc_login_stop();
    adc_runs_heartbeat_stop();
    adc_schedule_join();
    adc_runs_recover_free();
    adc_cluster_free(); /* after the hub stopped: the checks it runs for others end */
    adc_hub_free(srv->hub);
    srv->hub = NULL;
}

bool adc_channel_connected(struct adc_server *srv, const char *app_id) {
    return (srv->hub && adc_hub_connected(srv->hub, app_id)) ||
           adc_cluster_connected_elsewhere(srv, app_id);
}

json_t *adc_channel_agents(struct adc_server *srv, const char *app_id) {
    json_t *agents = srv->hub ? adc_hub_agents(srv->hub, app_id) : json_array();
    adc_cluster_agents_elsewhere(srv, app_id, agents);
    return agents;
}

int adc_channel_sync(struct adc_server *srv, const char *app_id, const char *run_id, bool dry_run) {
    /* Several instances: through the database, to whichever instance holds an agent (this
     * one included), so that the command outlives an instance that dies. */
    if (adc_cluster_active())
        return adc_cluster_sync(srv, app_id, run_id, dry_run);
    return srv->hub ? adc_hub_sync(srv->hub, app_id, run_id, dry_run) : -ENOENT;
}

void adc_channel_forget(struct adc_server *srv, const char *app_id, const char *why) {
    if (srv->hub)
        adc_hub_drop(srv->hub, app_id, why);
}

void adc_channel_describe(struct adc_server *srv, json_t *config) {
    const char *app_id = json_string_value(json_object_get(config, "app_id"));
    if (!app_id)
        return;
    json_t *agents = adc_channel_agents(srv, app_id);
    bool connected = json_array_size(agents) > 0;
    json_object_set_new(config, "connected", json_boolean(connected));
    json_object_set_new(config, "agents", agents ? agents : json_array());
    /* Live changes flow while an agent is connected and its watcher says it streams. */
    json_t *live = json_object_get(config, "live");
    if (json_is_object(live))
        json_object_set_new(
            live, "flowing",
            json_boolean(
                connected &&
                adc_streq(json_string_value(json_object_get(live, ADC_WIRE_STATE)), "streaming")));
}

static void handle_connect(struct adc_http_request *req, struct adc_http_response *res) {
    json_t *body = adc_http_body_object(req, res);
    if (!body)
        return;
    const char *host = json_string_value(json_object_get(body, ADC_WIRE_HOST));
    const char *version = json_string_value(json_object_get(body, ADC_WIRE_VERSION));
    if (!adc_http_text_printable(host, 253) || !adc_http_text_printable(version, 63)) {
        adc_http_error(res, 400, "invalidValue",
                       "\"host\" (up to 253 characters) and \"version\" (up to 63) are required");
        json_decref(body);
        return;
    }
    char agent_id[ADC_HUB_ID_SIZE];
    int r = adc_hub_connect(req->server->hub, req->principal.app_id, host, version, agent_id);
    if (r == -EUSERS) {
        adc_http_error(res, 503, NULL,
                       "%d agents of this sync configuration are connected already; stop one",
                       ADC_HUB_MAX_AGENTS);
        json_decref(body);
        return;
    }
    if (r < 0) {
        adc_http_error(res, 500, NULL, "cannot register the agent: %s", strerror(-r));
        json_decref(body);
        return;
    }
    log_notice("agent %s connected for '%s' from %s (host '%s', adc %s)", agent_id,
               req->principal.app_id, req->client, host, version);
    adc_cluster_agent_up(req->server, agent_id, req->principal.app_id, host, version);
    adc_schedule_poke(); /* a sync that fell due while no agent was connected runs now */
    adc_http_json(res, 201,
                  json_pack("{s:s, s:i, s:i}", ADC_WIRE_AGENT_ID, agent_id, ADC_WIRE_POLL_WAIT,
                            ADC_HUB_POLL_WAIT, ADC_WIRE_CONNECTED_TIMEOUT,
                            ADC_HUB_CONNECTED_TIMEOUT));
    json_decref(body);
}

/* Whether the agent's TCP connection is still open. The connection is suspended while its poll
 * waits, so nobody reads the socket: a hang-up shows as POLLRDHUP/POLLHUP here. */
static bool client_alive(void *userdata) {
    struct MHD_Connection *conn = userdata;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return true;
    struct pollfd p = {.fd = ci->connect_fd, .events = POLLRDHUP};
    if (poll(&p, 1, 0) <= 0)
        return true;
    return !(p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

static void poll_answer(struct adc_http_request *req, struct adc_http_response *res, int r,
                        json_t *out, const char *agent_id) {
    if (r < 0) {
        adc_http_error(res, 500, NULL, "cannot poll: %s", strerror(-r));
        return;
    }
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(out, ADC_WIRE_COMMANDS), i, c) {
        if (adc_streq(json_string_value(json_object_get(c, ADC_WIRE_TYPE)), ADC_CMD_SYNC)) {
            const char *run_id = json_string_value(json_object_get(c, ADC_WIRE_RUN_ID));
            adc_run_taken(req->server->store, run_id, agent_id);
            adc_cluster_taken(req->server, run_id);
        }
    }
    adc_http_json(res, 200, out);
}

/* A poll that waited: the hub woke it (commands, deadline, agent gone, shutdown). */
static void poll_resume(struct adc_http_request *req, struct adc_http_response *res,
                        void *userdata) {
    struct adc_hub_poll *p = userdata;
    json_t *out = NULL;
    int r = adc_hub_poll_end(req->server->hub, p, &out);
    poll_answer(req, res, r, out, adc_http_query(req, ADC_WIRE_AGENT_ID));
}

static void handle_poll(struct adc_http_request *req, struct adc_http_response *res) {
    const char *agent_id = adc_http_query(req, ADC_WIRE_AGENT_ID);
    const char *wait = adc_http_query(req, "wait");
    int wait_s = ADC_HUB_POLL_WAIT;
    if (wait) {
        char *end;
        long w = strtol(wait, &end, 10);
        if (*end || w < 0) {
            adc_http_error(res, 400, "invalidValue", "wait must be a number of seconds");
            return;
        }
        wait_s = w > ADC_HUB_POLL_WAIT ? ADC_HUB_POLL_WAIT : (int)w;
    }
    if (!agent_id) {
        adc_http_error(res, 400, "invalidValue", "agent_id is required");
        return;
    }
    adc_cluster_agent_seen(req->server, agent_id);
    /* The poll waits without a thread: the connection stays suspended until the hub wakes it
     * (docs/design.md), which is what lets one server hold 10,000 agents. */
    /* A poll of an agent that carries a run is that run's heartbeat (runs-lifecycle.h): an
     * agent busy reading a large directory reports nothing else for minutes. */
    char carried[64];
    if (adc_hub_agent_run(req->server->hub, req->principal.app_id, agent_id, carried) > 0 &&
        adc_run_heartbeat(req->server->store, carried) == -ENOENT)
        adc_hub_run_ended(req->server->hub, req->principal.app_id, carried);
    json_t *out = NULL;
    struct adc_hub_poll *p = NULL;
    int r = adc_hub_poll_begin(req->server->hub, req->principal.app_id, agent_id, wait_s,
                               client_alive, req->conn, adc_http_wake, req, &out, &p);
    if (r == -ENOENT) {
        adc_http_error(res, 404, NULL, "unknown agent '%s'; connect again", agent_id);
        return;
    }
    if (r == 1) {
        adc_http_defer(req, res, poll_resume, p);
        return;
    }
    poll_answer(req, res, r, out, agent_id);
}

static void handle_result(struct adc_http_request *req, struct adc_http_response *res) {
    json_t *body = adc_http_body_object(req, res);
    if (!body)
        return;
    const char *outcome = json_string_value(json_object_get(body, ADC_WIRE_OUTCOME));
    const char *reason = json_string_value(json_object_get(body, ADC_WIRE_REASON));
    char clipped[256];
    snprintf(clipped, sizeof(clipped), "%s", reason ? reason : "");
    int r =
        adc_hub_answer(req->server->hub, req->principal.app_id, req->params[0], outcome, clipped);
    if (r == -EINVAL)
        adc_http_error(res, 400, "invalidValue",
                       "outcome must be \"accepted\", \"denied\" or \"unavailable\"");
    else if (r == -ENOENT)
        adc_http_error(res, 404, NULL,
                       "no command '%s' is waiting for an answer (answered, timed out, or unknown)",
                       req->params[0]);
    else
        res->status = 204;
    json_decref(body);
}

static void handle_disconnect(struct adc_http_request *req, struct adc_http_response *res) {
    json_t *body = adc_http_body_object(req, res);
    if (!body)
        return;
    const char *agent_id = json_string_value(json_object_get(body, ADC_WIRE_AGENT_ID));
    if (!agent_id) {
        adc_http_error(res, 400, "invalidValue", "agent_id is required");
    } else if (adc_hub_disconnect(req->server->hub, req->principal.app_id, agent_id) < 0) {
        adc_http_error(res, 404, NULL, "unknown agent '%s'", agent_id);
    } else {
        log_notice("agent %s of '%s' disconnected", agent_id, req->principal.app_id);
        adc_cluster_agent_down(req->server, agent_id);
        res->status = 204;
    }
    json_decref(body);
}

const struct adc_route adc_channel_routes[] = {
    {"POST", ADC_WIRE_AGENT_CONNECT, ADC_AUTH_SYNC, handle_connect},
    {"GET", ADC_WIRE_AGENT_COMMANDS, ADC_AUTH_SYNC, handle_poll},
    {"POST", ADC_WIRE_AGENT_COMMANDS "/{}/result", ADC_AUTH_SYNC, handle_result},
    {"POST", ADC_WIRE_AGENT_DISCONNECT, ADC_AUTH_SYNC, handle_disconnect},
    {"POST", "/api/v1/login", ADC_AUTH_NONE, adc_login_handle},
    {NULL, NULL, 0, NULL},
};
