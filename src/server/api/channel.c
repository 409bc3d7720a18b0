/* The agent channel's HTTP endpoints (docs/agent-protocol.md) on top of the hub (hub.c), and
 * "sync now" for admins: POST /api/v1/sync-configs/{app_id}/sync.
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

#include "api/hub.h"
#include "common/log.h"
#include "common/macros.h"
#include "common/wire.h"
#include "server.h"
#include "store/store-configs.h"
#include "api/runs.h"
#include "store/store-runs.h"

/* Serializes "is a sync of this configuration queued or running? then queue one", so that two
 * admins pressing "sync now" at once get one run and one 409. */
static pthread_mutex_t sync_trigger_lock = PTHREAD_MUTEX_INITIALIZER;

/* A queued or running run whose record did not change for this long is not counted as in
 * progress: it belongs to an `adc imp` that died without a final report. Agents report progress
 * every few seconds, and the hub fails an agent's run as soon as the agent goes. */
#define STALE_RUN_S (15 * 60)

/* Records a run failed unless it already ended, keeping the errors it reported before.
 * Returns 0, -ENOENT, -EALREADY (already ended), or -EIO. */
static int run_fail(struct adc_store *store, const char *run_id, const char *why) {
    struct adc_db *db = adc_store_acquire(store);
    if (!db)
        return -EIO;
    struct adc_store_run run = {0};
    json_t *report = NULL;
    int r = adc_db_begin(db, true);
    if (r < 0)
        goto out;
    r = adc_store_run_get(db, run_id, &run);
    if (r == 0 && adc_run_status_finished(run.status))
        r = -EALREADY;
    if (r < 0) {
        adc_db_rollback(db);
        goto out;
    }
    json_t *errors = run.errors ? json_loads(run.errors, 0, NULL) : NULL;
    if (!json_is_array(errors)) {
        json_decref(errors);
        errors = json_array();
    }
    json_array_append_new(errors, json_string(why));
    report = json_pack("{s:s, s:o, s:I}", "status", "failed", "errors", errors, "error_count",
                       (json_int_t)(run.error_count + 1 > (int64_t)json_array_size(errors)
                                        ? run.error_count + 1
                                        : (int64_t)json_array_size(errors)));
    char reason[300];
    r = report && adc_run_apply_report(&run, report, reason, sizeof(reason)) == 0 ? 0 : -EIO;
    if (r == 0)
        r = adc_store_run_update(db, &run);
    if (r == 0)
        r = adc_store_audit(db, "server", "run.finish", run_id, why);
    if (r == 0)
        r = adc_db_commit(db);
    else
        adc_db_rollback(db);
    if (r == 0)
        log_notice("run %s failed: %s", run_id, why);
out:
    json_decref(report);
    adc_store_run_done(&run);
    adc_store_release(db);
    return r;
}

/* Notes in the run record which agent took it (shown by GET /api/v1/runs/{id}). */
static void run_taken(struct adc_store *store, const char *run_id, const char *agent_id) {
    struct adc_db *db = adc_store_acquire(store);
    if (!db)
        return;
    struct adc_store_run run = {0};
    if (adc_db_begin(db, true) == 0) {
        if (adc_store_run_get(db, run_id, &run) == 0 && !adc_run_status_finished(run.status)) {
            snprintf(run.agent_id, sizeof(run.agent_id), "%s", agent_id);
            adc_store_now(run.updated);
            if (adc_store_run_update(db, &run) == 0 && adc_db_commit(db) == 0)
                goto out;
        }
        adc_db_rollback(db);
    }
out:
    adc_store_run_done(&run);
    adc_store_release(db);
}

static void on_run_failed(void *userdata, const char *run_id, const char *why) {
    struct adc_server *srv = userdata;
    run_fail(srv->store, run_id, why);
}

/* Runs left unfinished by the previous server process. A queued one can never start (the
 * command queue lived in memory); a running one may still be reported by its agent, which keeps
 * syncing through a restart and connects again: it gets ORPHAN_GRACE_S, then fails if its
 * record did not move. */
#define ORPHAN_GRACE_S 60

struct orphan {
    char run_id[40];
    char updated[24];
    bool queued;
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop;
    bool started;
    pthread_t thread;
    struct adc_store *store;
    struct orphan *list;
    size_t n, cap;
} orphans = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static int collect_unfinished(const struct adc_store_run *r, void *userdata) {
    (void)userdata;
    /* `adc imp` runs belong to no agent: imp reports them itself. */
    if (adc_streq(r->source, "imp") || adc_run_status_finished(r->status))
        return 0;
    if (orphans.n == orphans.cap) {
        size_t cap = orphans.cap ? orphans.cap * 2 : 16;
        void *p = realloc(orphans.list, cap * sizeof(*orphans.list));
        if (!p)
            return -ENOMEM;
        orphans.list = p;
        orphans.cap = cap;
    }
    struct orphan *o = &orphans.list[orphans.n++];
    snprintf(o->run_id, sizeof(o->run_id), "%s", r->run_id);
    snprintf(o->updated, sizeof(o->updated), "%s", r->updated);
    o->queued = adc_streq(r->status, "queued");
    return 0;
}

struct app_ids {
    char (*ids)[40];
    size_t n, cap;
};

static int collect_config(const struct adc_store_config *c, void *userdata) {
    struct app_ids *a = userdata;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        void *p = realloc(a->ids, cap * sizeof(*a->ids));
        if (!p)
            return -ENOMEM;
        a->ids = p;
        a->cap = cap;
    }
    snprintf(a->ids[a->n++], sizeof(a->ids[0]), "%s", c->app_id);
    return 0;
}

static void *orphan_main(void *userdata) {
    (void)userdata;
    struct timespec at;
    clock_gettime(CLOCK_REALTIME, &at);
    at.tv_sec += ORPHAN_GRACE_S;
    pthread_mutex_lock(&orphans.lock);
    while (!orphans.stop)
        if (pthread_cond_timedwait(&orphans.cond, &orphans.lock, &at) == ETIMEDOUT)
            break;
    bool stop = orphans.stop;
    pthread_mutex_unlock(&orphans.lock);
    for (size_t i = 0; i < orphans.n && !stop; i++) {
        struct orphan *o = &orphans.list[i];
        if (o->queued)
            continue;
        struct adc_db *db = adc_store_acquire(orphans.store);
        struct adc_store_run run = {0};
        bool moved = true;
        if (db && adc_store_run_get(db, o->run_id, &run) == 0)
            moved = adc_run_status_finished(run.status) || strcmp(run.updated, o->updated) != 0;
        adc_store_run_done(&run);
        adc_store_release(db);
        if (!moved)
            run_fail(orphans.store, o->run_id,
                     "adc-server restarted while the run was in progress, and no agent reported "
                     "on it since");
    }
    return NULL;
}

int adc_channel_start(struct adc_server *srv) {
    int r = adc_hub_new(on_run_failed, srv, &srv->hub);
    if (r < 0)
        return r;
    r = adc_login_start(srv);
    if (r < 0)
        return r;
    struct app_ids apps = {0};
    struct adc_db *db = adc_store_acquire(srv->store);
    if (db) {
        adc_store_config_list(db, collect_config, &apps);
        for (size_t i = 0; i < apps.n; i++)
            adc_store_run_list(db, apps.ids[i], 200, collect_unfinished, NULL);
        adc_store_release(db);
    }
    free(apps.ids);
    for (size_t i = 0; i < orphans.n; i++)
        if (orphans.list[i].queued)
            run_fail(srv->store, orphans.list[i].run_id,
                     "adc-server restarted before an agent took the run");
    orphans.store = srv->store;
    orphans.stop = false;
    if (orphans.n > 0 && pthread_create(&orphans.thread, NULL, orphan_main, NULL) == 0)
        orphans.started = true;
    return 0;
}

void adc_channel_stop(struct adc_server *srv) {
    if (srv->hub)
        adc_hub_shutdown(srv->hub);
    pthread_mutex_lock(&orphans.lock);
    orphans.stop = true;
    pthread_cond_broadcast(&orphans.cond);
    pthread_mutex_unlock(&orphans.lock);
}

void adc_channel_free(struct adc_server *srv) {
    adc_channel_stop(srv);
    adc_login_stop();
    if (orphans.started)
        pthread_join(orphans.thread, NULL);
    orphans.started = false;
    free(orphans.list);
    orphans.list = NULL;
    orphans.n = orphans.cap = 0;
    adc_hub_free(srv->hub);
    srv->hub = NULL;
}

bool adc_channel_connected(struct adc_server *srv, const char *app_id) {
    return srv->hub && adc_hub_connected(srv->hub, app_id);
}

json_t *adc_channel_agents(struct adc_server *srv, const char *app_id) {
    return srv->hub ? adc_hub_agents(srv->hub, app_id) : json_array();
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
    json_object_set_new(config, "connected", json_boolean(json_array_size(agents) > 0));
    json_object_set_new(config, "agents", agents ? agents : json_array());
}

/* Strings from the agent are shown to admins: bounded and printable. */
static bool printable(const char *s, size_t max) {
    if (!s || strlen(s) > max)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

static void handle_connect(struct adc_http_request *req, struct adc_http_response *res) {
    json_t *body = adc_http_body_object(req, res);
    if (!body)
        return;
    const char *host = json_string_value(json_object_get(body, "host"));
    const char *version = json_string_value(json_object_get(body, "version"));
    if (!printable(host, 253) || !printable(version, 63)) {
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
    adc_http_json(res, 201,
                  json_pack("{s:s, s:i, s:i}", "agent_id", agent_id, "poll_wait", ADC_HUB_POLL_WAIT,
                            "connected_timeout", ADC_HUB_CONNECTED_TIMEOUT));
    json_decref(body);
}

/* Whether the agent's TCP connection is still open. With a thread per connection nobody else
 * reads the socket while the handler waits, so a hang-up shows as POLLRDHUP/POLLHUP here. */
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

static void handle_poll(struct adc_http_request *req, struct adc_http_response *res) {
    const char *agent_id = adc_http_query(req, "agent_id");
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
    json_t *out = NULL;
    int r = adc_hub_poll(req->server->hub, req->principal.app_id, agent_id, wait_s, client_alive,
                         req->conn, &out);
    if (r == -ENOENT) {
        adc_http_error(res, 404, NULL, "unknown agent '%s'; connect again", agent_id);
        return;
    }
    if (r < 0) {
        adc_http_error(res, 500, NULL, "cannot poll: %s", strerror(-r));
        return;
    }
    size_t i;
    json_t *c;
    json_array_foreach(
        json_object_get(out, "commands"), i,
        c) if (adc_streq(json_string_value(json_object_get(c, "type")), ADC_CMD_SYNC))
        run_taken(req->server->store, json_string_value(json_object_get(c, "run_id")), agent_id);
    adc_http_json(res, 200, out);
}

static void handle_result(struct adc_http_request *req, struct adc_http_response *res) {
    json_t *body = adc_http_body_object(req, res);
    if (!body)
        return;
    const char *outcome = json_string_value(json_object_get(body, "outcome"));
    const char *reason = json_string_value(json_object_get(body, "reason"));
    char clipped[256];
    snprintf(clipped, sizeof(clipped), "%s", reason ? reason : "");
    int r = adc_hub_answer(req->server->hub, req->principal.app_id, req->params[0], outcome,
                           clipped);
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
    const char *agent_id = json_string_value(json_object_get(body, "agent_id"));
    if (!agent_id) {
        adc_http_error(res, 400, "invalidValue", "agent_id is required");
    } else if (adc_hub_disconnect(req->server->hub, req->principal.app_id, agent_id) < 0) {
        adc_http_error(res, 404, NULL, "unknown agent '%s'", agent_id);
    } else {
        log_notice("agent %s of '%s' disconnected", agent_id, req->principal.app_id);
        res->status = 204;
    }
    json_decref(body);
}

struct busy_ctx {
    char run_id[40];
    time_t now;
};

static time_t parse_time(const char *s) {
    struct tm tm = {0};
    if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm))
        return 0;
    return timegm(&tm);
}

static int find_busy(const struct adc_store_run *r, void *userdata) {
    struct busy_ctx *c = userdata;
    if (adc_run_status_finished(r->status))
        return 0;
    time_t updated = parse_time(r->updated[0] ? r->updated : r->created);
    if (updated && c->now - updated > STALE_RUN_S)
        return 0;
    if (!c->run_id[0]) /* the newest one */
        snprintf(c->run_id, sizeof(c->run_id), "%s", r->run_id);
    return 0;
}

static void handle_sync(struct adc_http_request *req, struct adc_http_response *res) {
    struct adc_server *srv = req->server;
    const char *app_id = req->params[0];
    bool dry_run = false;
    if (req->body_len > 0) {
        json_t *body = adc_http_body_object(req, res);
        if (!body)
            return;
        json_t *d = json_object_get(body, "dry_run");
        if (d && !json_is_boolean(d)) {
            json_decref(body);
            adc_http_error(res, 400, "invalidValue", "dry_run must be true or false");
            return;
        }
        dry_run = json_is_true(d);
        json_decref(body);
    }

    pthread_mutex_lock(&sync_trigger_lock);
    struct adc_db *db = adc_store_acquire(srv->store);
    struct adc_store_config cfg = {0};
    struct adc_store_run run = {0};
    if (!db) {
        adc_http_error(res, 503, NULL, "the store is busy; try again");
        goto out;
    }
    int r = adc_store_config_get(db, app_id, &cfg, NULL);
    if (r == -ENOENT) {
        adc_http_error(res, 404, NULL, "no sync configuration '%s'", app_id);
        goto out;
    }
    if (r < 0) {
        adc_http_error(res, 500, NULL, "cannot read sync configuration '%s'", app_id);
        goto out;
    }
    if (!adc_hub_connected(srv->hub, app_id)) {
        adc_http_error(res, 409, NULL,
                       "no agent of sync configuration '%s' is connected; start `adc run` next "
                       "to the directory",
                       app_id);
        goto out;
    }
    struct busy_ctx busy = {.now = time(NULL)};
    adc_store_run_list(db, app_id, 50, find_busy, &busy);
    if (busy.run_id[0]) {
        adc_http_error(res, 409, NULL, "a sync of '%s' is already queued or running (run %s)",
                       app_id, busy.run_id);
        goto out;
    }

    r = adc_db_begin(db, true);
    if (r == 0)
        r = adc_run_create(db, app_id, "server", dry_run, "queued", req->principal.actor,
                           run.run_id);
    if (r == 0)
        r = adc_db_commit(db);
    else
        adc_db_rollback(db);
    if (r < 0) {
        adc_http_error(res, 500, NULL, "cannot record the run: %s", strerror(-r));
        goto out;
    }
    adc_store_release(db);
    db = NULL;
    r = adc_hub_sync(srv->hub, app_id, run.run_id, dry_run);
    if (r < 0) {
        /* The last agent left between the check and now. */
        run_fail(srv->store, run.run_id, "no agent connected to run it");
        adc_http_error(res, 409, NULL, "no agent of sync configuration '%s' is connected",
                       app_id);
        goto out;
    }
    log_notice("sync of '%s' queued as run %s%s by %s", app_id, run.run_id,
               dry_run ? " (dry run)" : "", req->principal.actor);
    adc_http_json(res, 202, json_pack("{s:s, s:s}", "run_id", run.run_id, "status", "queued"));
out:
    if (db)
        adc_store_release(db);
    pthread_mutex_unlock(&sync_trigger_lock);
    adc_store_config_done(&cfg);
    adc_store_run_done(&run);
}

const struct adc_route adc_channel_routes[] = {
    {"POST", "/api/v1/agent/connect", ADC_AUTH_SYNC, handle_connect},
    {"GET", "/api/v1/agent/commands", ADC_AUTH_SYNC, handle_poll},
    {"POST", "/api/v1/agent/commands/{}/result", ADC_AUTH_SYNC, handle_result},
    {"POST", "/api/v1/agent/disconnect", ADC_AUTH_SYNC, handle_disconnect},
    {"POST", "/api/v1/sync-configs/{}/sync", ADC_AUTH_ADMIN, handle_sync},
    {"POST", "/api/v1/login", ADC_AUTH_NONE, adc_login_handle},
    {NULL, NULL, 0, NULL},
};
