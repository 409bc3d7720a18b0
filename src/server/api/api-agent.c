/* What a sync configuration's client (adc imp, adc run) calls besides SCIM: its effective
 * server settings and its run records. The agent channel (long polls, commands) joins these
 * routes later. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "api/hub.h"
#include "api/runs-lifecycle.h"
#include "api/runs.h"
#include "server.h"
#include "store/store-configs.h"
#include "store/store-runs.h"
#include "store/store-schedule.h"
#include "common/wire.h"

/* GET /api/v1/agent/config: only the settings the server sets; the client merges them over
 * adc.yaml (docs/product.md section 4, rule 7). */
static void agent_config(struct adc_http_request *req, struct adc_http_response *res) {
    const struct adc_principal *p = &req->principal;
    json_t *settings = json_object();
    for (int i = 0; i < ADC_SETTING_COUNT; i++)
        if (p->settings[i] != ADC_UNSET)
            json_object_set_new(settings, adc_setting_name(i), json_boolean(p->settings[i]));
    adc_http_json(
        res, 200,
        json_pack("{s:s,s:s,s:o}", "app_id", p->app_id, "name", p->name, "settings", settings));
}

/* What a client's POST /api/v1/agent/runs asks for. */
struct run_request {
    const char *source, *trigger; /* static strings or the body's */
    bool dry_run;
    json_t *agent; /* the body's agent_id (a string), or NULL */
};

/* The body of POST /api/v1/agent/runs checked; 0, or -1 with the 400 in res. */
static int read_run_request(struct adc_http_request *req, json_t *body,
                            struct adc_http_response *res, struct run_request *out) {
    json_t *dry = json_object_get(body, ADC_WIRE_DRY_RUN);
    const char *source = json_string_value(json_object_get(body, ADC_WIRE_SOURCE));
    if (dry && !json_is_boolean(dry)) {
        adc_http_error(res, 400, "invalidValue", "dry_run must be true or false");
        return -1;
    }
    if (!source)
        source = ADC_RUN_SOURCE_IMP;
    if (strcmp(source, ADC_RUN_SOURCE_IMP) != 0 && strcmp(source, ADC_RUN_SOURCE_AGENT) != 0) {
        adc_http_error(res, 400, "invalidValue", "source must be \"imp\" or \"agent\"");
        return -1;
    }
    /* A client starts a run itself only as `adc imp` or as `adc run` starting without a
     * position to resume live changes from (docs/product.md section 9); the schedule and
     * "Sync now" are the server's. */
    const char *trigger = strcmp(source, ADC_RUN_SOURCE_IMP) == 0 ? "imp" : "startup";
    json_t *t = json_object_get(body, ADC_WIRE_TRIGGER);
    if (t && !(json_is_string(t) && strcmp(json_string_value(t), trigger) == 0)) {
        adc_http_error(res, 400, "invalidValue", "trigger of a run with source \"%s\" is \"%s\"",
                       source, trigger);
        return -1;
    }
    /* A dry-run-only configuration still records its previews, flagged as such. */
    bool dry_run = json_is_true(dry) || req->principal.settings[ADC_SETTING_DRY_RUN] == ADC_TRUE;
    /* `adc run` names itself, so that its polls keep the run alive (runs-lifecycle.h). */
    json_t *agent = json_object_get(body, ADC_WIRE_AGENT_ID);
    if (agent && !json_is_string(agent)) {
        adc_http_error(res, 400, "invalidValue", "agent_id must be a string");
        return -1;
    }
    *out = (struct run_request){source, trigger, dry_run, agent};
    return 0;
}

static void agent_run_create(struct adc_http_request *req, struct adc_http_response *res) {
    json_t *body = adc_http_body_object(req, res);
    if (!body)
        return;
    struct adc_db *db = NULL;
    struct run_request rq;
    if (read_run_request(req, body, res, &rq) < 0)
        goto out;
    const char *source = rq.source, *trigger = rq.trigger;
    bool dry_run = rq.dry_run;
    json_t *agent = rq.agent;
    db = adc_store_acquire(req->server->store);
    char run_id[40], busy[40];
    if (!db || adc_db_begin(db, true) < 0) {
        adc_http_error(res, 503, NULL, "database error; retry");
        goto out;
    }
    /* One sync per configuration at a time (docs/product.md section 11), `adc imp` included:
     * checked in the transaction that creates the run, as "sync now" does. */
    int b = adc_run_busy(db, req->principal.app_id, busy);
    if (b > 0) {
        struct adc_store_run other = {0};
        adc_store_run_get(db, busy, &other);
        adc_http_error(res, 409, NULL,
                       "another sync of this configuration is in progress (run %s, %s, "
                       "started %s); wait for it to end",
                       busy, other.source[0] ? other.source : "?",
                       other.started[0] ? other.started : other.created);
        adc_store_run_done(&other);
        goto out;
    }
    int c = b < 0 ? b
                  : adc_run_create(db, req->principal.app_id, source, trigger, dry_run,
                                   ADC_RUN_RUNNING, req->principal.actor, run_id);
    if (c == -EEXIST) { /* the store's one-active-run index: a run began elsewhere meanwhile */
        adc_http_error(res, 409, NULL,
                       "another sync of this configuration is in progress; wait for it to end");
        goto out;
    }
    if (c < 0 || adc_db_commit(db) < 0) {
        adc_http_error(res, 503, NULL, "database error; retry");
        goto out;
    }
    if (agent && adc_hub_carry(req->server->hub, req->principal.app_id, json_string_value(agent),
                               run_id) == 0)
        adc_run_taken(req->server->store, run_id, json_string_value(agent));
    if (asprintf(&res->location, "/api/v1/runs/%s", run_id) < 0)
        res->location = NULL;
    adc_http_json(res, 201,
                  json_pack("{s:s,s:s,s:b}", ADC_WIRE_RUN_ID, run_id, ADC_WIRE_STATUS,
                            ADC_RUN_RUNNING, ADC_WIRE_DRY_RUN, dry_run));
out:
    if (db)
        adc_db_rollback(db);
    adc_store_release(db);
    json_decref(body);
}

/* PUT /api/v1/agent/runs/{run_id}: progress and result of a run of this configuration. */
static void agent_run_update(struct adc_http_request *req, struct adc_http_response *res) {
    json_t *body = adc_http_body_object(req, res);
    if (!body)
        return;
    struct adc_store_run run = {0};
    struct adc_db *db = adc_store_acquire(req->server->store);
    if (!db || adc_db_begin(db, true) < 0) {
        adc_http_error(res, 503, NULL, "database busy; retry");
        goto out;
    }
    int e = adc_store_run_get(db, req->params[0], &run);
    /* Another configuration's run is as good as absent. */
    if (e == -ENOENT || (e == 0 && strcmp(run.app_id, req->principal.app_id) != 0)) {
        adc_http_error(res, 404, NULL, "no run '%s' of this sync configuration", req->params[0]);
        goto out;
    }
    if (e < 0) {
        adc_http_error(res, 500, NULL, "database error");
        goto out;
    }
    char why[300];
    unsigned status = adc_run_apply_report(&run, body, why, sizeof(why));
    if (status) {
        adc_http_error(res, status, status == 400 ? "invalidValue" : NULL, "%s", why);
        goto out;
    }
    bool final = run.finished[0] != '\0';
    if (final)
        adc_hub_run_ended(req->server->hub, req->principal.app_id, run.run_id);
    char detail[200];
    snprintf(detail, sizeof(detail), "status=%s", run.status);
    if (adc_store_run_update(db, &run) < 0 ||
        (final &&
         adc_store_audit(db, req->principal.actor, "run.finish", run.run_id, detail) < 0) ||
        adc_db_commit(db) < 0) {
        adc_http_error(res, 500, NULL, "database error");
        goto out;
    }
    res->status = 204;
out:
    if (db)
        adc_db_rollback(db);
    adc_store_release(db);
    adc_store_run_done(&run);
    json_decref(body);
}

static bool one_of(const char *s, const char *const *set, size_t n) {
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(s, set[i]) == 0)
            return true;
    return false;
}

/* A string from the agent shown to admins: absent, null, or printable text of at most max bytes. */
static bool opt_text(const json_t *v, size_t max) {
    return !v || json_is_null(v) || adc_http_text_printable(json_string_value(v), max);
}

/* PUT /api/v1/agent/live: how live changes are going (docs/agent-protocol.md). The agent sends
 * it when its watcher starts, stops or pauses, and at most about once a second while changes
 * are applied; the console shows it. The time of the last change is the server's: an agent's
 * clock may be off. */
static void agent_live(struct adc_http_request *req, struct adc_http_response *res) {
    static const char *const watches[] = {"syncrepl", "dirsync", "notify", "usn", "poll", "off"};
    static const char *const states[] = {"streaming", "paused", "stopped", "error"};
    json_t *body = adc_http_body_object(req, res);
    if (!body)
        return;
    struct adc_db *db = NULL;
    struct adc_store_live old = {0}, l = {0};
    const char *watch = json_string_value(json_object_get(body, ADC_WIRE_WATCH));
    const char *state = json_string_value(json_object_get(body, ADC_WIRE_STATE));
    json_t *applied = json_object_get(body, ADC_WIRE_CHANGES_APPLIED);
    json_t *last = json_object_get(body, ADC_WIRE_LAST_CHANGE),
           *detail = json_object_get(body, ADC_WIRE_DETAIL);
    if (!one_of(watch, watches, 6) || !one_of(state, states, 4)) {
        adc_http_error(res, 400, "invalidValue",
                       "watch must be syncrepl, dirsync, notify, usn, poll or off; state "
                       "streaming, paused, stopped or error");
        goto out;
    }
    if (applied && (!json_is_integer(applied) || json_integer_value(applied) < 0)) {
        adc_http_error(res, 400, "invalidValue", "changes_applied must be a non-negative integer");
        goto out;
    }
    if (!opt_text(last, 300) || !opt_text(detail, 1000)) {
        adc_http_error(res, 400, "invalidValue",
                       "last_change (up to 300 characters) and detail (up to 1000) must be "
                       "strings without control characters");
        goto out;
    }
    snprintf(l.app_id, sizeof(l.app_id), "%.39s", req->principal.app_id);
    snprintf(l.watch, sizeof(l.watch), "%s", watch);
    snprintf(l.state, sizeof(l.state), "%s", state);
    l.changes_applied = applied ? json_integer_value(applied) : 0;
    l.last_change = (char *)json_string_value(last); /* lent from body */
    l.detail = (char *)json_string_value(detail);
    adc_store_now(l.reported);
    db = adc_store_acquire(req->server->store);
    if (!db || adc_db_begin(db, true) < 0) {
        adc_http_error(res, 503, NULL, "database busy; retry");
        goto out;
    }
    int e = adc_store_live_get(db, l.app_id, &old);
    if (e < 0 && e != -ENOENT) {
        adc_http_error(res, 500, NULL, "database error");
        goto out;
    }
    /* A new change since the last report is stamped now; otherwise the old stamp stays. */
    bool changed = l.last_change && (e == -ENOENT || l.changes_applied != old.changes_applied ||
                                     !old.last_change || strcmp(old.last_change, l.last_change));
    memcpy(l.last_change_at, changed ? l.reported : old.last_change_at, sizeof(l.last_change_at));
    if (!changed && !l.last_change)
        l.last_change = old.last_change;
    if (adc_store_live_put(db, &l) < 0 || adc_db_commit(db) < 0) {
        adc_http_error(res, 500, NULL, "database error");
        goto out;
    }
    res->status = 204;
out:
    if (db)
        adc_db_rollback(db);
    adc_store_release(db);
    adc_store_live_done(&old);
    json_decref(body);
}

const struct adc_route adc_api_agent_routes[] = {
    {"PUT", ADC_WIRE_AGENT_LIVE, ADC_AUTH_SYNC, agent_live},
    {"GET", ADC_WIRE_AGENT_CONFIG, ADC_AUTH_SYNC, agent_config},
    {"POST", ADC_WIRE_AGENT_RUNS, ADC_AUTH_SYNC, agent_run_create},
    {"PUT", ADC_WIRE_AGENT_RUNS "/{}", ADC_AUTH_SYNC, agent_run_update},
    {NULL, NULL, 0, NULL},
};
