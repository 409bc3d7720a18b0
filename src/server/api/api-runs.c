/* The System Administrator API of runs (docs/product.md section 6): run history, "sync now"
 * (also the schedule's way to queue a sync), the audit log, and GET /metrics. */
#include "api/api-admin.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/channel.h"
#include "api/metrics.h"
#include "api/runs-lifecycle.h"
#include "api/runs.h"
#include "common/log.h"
#include "common/wire.h"
#include "http/http.h"
#include "server.h"
#include "store/store-configs.h"
#include "store/store-runs.h"

#define DEFAULT_RUN_LIMIT 50
#define MAX_LIST_LIMIT 1000

static int64_t limit_param(struct adc_http_request *req, int64_t def) {
    const char *s = adc_http_query(req, "limit");
    if (!s)
        return def;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || v < 1)
        return -1;
    return v > MAX_LIST_LIMIT ? MAX_LIST_LIMIT : v;
}

static int run_cb(const struct adc_store_run *r, void *ctx) {
    json_array_append_new(ctx, adc_run_render(r));
    return 0;
}

static void config_runs(struct adc_http_request *req, struct adc_http_response *res) {
    int64_t limit = limit_param(req, DEFAULT_RUN_LIMIT);
    if (limit < 0) {
        adc_http_error(res, 400, "invalidValue", "limit must be a positive integer");
        return;
    }
    struct adc_db *db = adc_api_db_acquire(req, res);
    if (!db)
        return;
    struct adc_store_config c;
    if (adc_api_config_load(db, req->params[0], &c, res) == 0) {
        json_t *items = json_array();
        if (adc_store_run_list(db, c.app_id, limit, run_cb, items) < 0) {
            json_decref(items);
            adc_http_error(res, 500, NULL, "database error");
        } else {
            adc_http_json(res, 200, json_pack("{s:o}", "runs", items));
        }
        adc_store_config_done(&c);
    }
    adc_store_release(db);
}

static void run_get(struct adc_http_request *req, struct adc_http_response *res) {
    struct adc_db *db = adc_api_db_acquire(req, res);
    if (!db)
        return;
    struct adc_store_run r;
    int e = adc_store_run_get(db, req->params[0], &r);
    adc_store_release(db);
    if (e == -ENOENT) {
        adc_http_error(res, 404, NULL, "no run '%s'", req->params[0]);
        return;
    }
    if (e < 0) {
        adc_http_error(res, 500, NULL, "database error");
        return;
    }
    adc_http_json(res, 200, adc_run_render(&r));
    adc_store_run_done(&r);
}

static int audit_cb(const struct adc_store_audit_entry *e, void *ctx) {
    json_t *o = json_pack("{s:I,s:s,s:s,s:s}", "seq", (json_int_t)e->seq, "at", e->at, "actor",
                          e->actor, "action", e->action);
    json_object_set_new(o, "target", e->target ? json_string(e->target) : json_null());
    json_object_set_new(o, "detail", e->detail ? json_string(e->detail) : json_null());
    json_array_append_new(ctx, o);
    return 0;
}

static void audit_list(struct adc_http_request *req, struct adc_http_response *res) {
    int64_t limit = limit_param(req, 100);
    const char *b = adc_http_query(req, "before");
    char *end = NULL;
    long long before = b ? strtoll(b, &end, 10) : 0;
    if (limit < 0 || (b && (end == b || *end || before < 1))) {
        adc_http_error(res, 400, "invalidValue", "limit and before must be positive integers");
        return;
    }
    struct adc_db *db = adc_api_db_acquire(req, res);
    if (!db)
        return;
    json_t *items = json_array();
    if (adc_store_audit_list(db, before, limit, audit_cb, items) < 0) {
        json_decref(items);
        adc_http_error(res, 500, NULL, "database error");
    } else {
        /* The next page: ?before=<seq of the last entry>. */
        size_t n = json_array_size(items);
        json_t *next = n == (size_t)limit ? json_integer(json_integer_value(json_object_get(
                                                json_array_get(items, n - 1), "seq")))
                                          : json_null();
        adc_http_json(res, 200, json_pack("{s:o,s:o}", "entries", items, "next_before", next));
    }
    adc_store_release(db);
}

/* Serializes "is a sync of this configuration queued or running? then queue one", so that two
 * admins pressing "sync now" at once get one run and one 409. */
static pthread_mutex_t sync_trigger_lock = PTHREAD_MUTEX_INITIALIZER;

int adc_api_queue_sync(struct adc_server *srv, const char *app_id, bool dry_run,
                       const char *trigger, const char *actor, char run_id[static 40],
                       char busy_run_id[static 40]) {
    pthread_mutex_lock(&sync_trigger_lock);
    struct adc_db *db = adc_store_acquire(srv->store);
    struct adc_store_config cfg = {0};
    char id[40] = "";
    int r;
    busy_run_id[0] = '\0';
    if (!db) {
        r = -EAGAIN;
        goto out;
    }
    if ((r = adc_store_config_get(db, app_id, &cfg, NULL)) < 0)
        goto out;
    if (!adc_channel_connected(srv, app_id)) {
        r = -ENOTCONN;
        goto out;
    }
    /* The check and the new run in one write transaction: `adc imp` and `adc run` create
     * their runs the same way (api-agent.c), so one of two at once gets the 409. */
    r = adc_db_begin(db, true);
    if (r == 0 && adc_run_busy(db, app_id, busy_run_id) > 0) {
        adc_db_rollback(db);
        r = -EBUSY;
        goto out;
    }
    if (r == 0)
        r = adc_run_create(db, app_id, "server", trigger, dry_run, ADC_RUN_QUEUED, actor, id);
    if (r == 0)
        r = adc_db_commit(db);
    else
        adc_db_rollback(db);
    if (r == -EEXIST) { /* the store's one-active-run index: a run began elsewhere meanwhile */
        snprintf(busy_run_id, 40, "of another instance");
        r = -EBUSY;
        goto out;
    }
    if (r < 0) {
        r = -EIO;
        goto out;
    }
    adc_store_release(db);
    db = NULL;
    if (adc_channel_sync(srv, app_id, id, dry_run) < 0) {
        /* The last agent left between the check and now. */
        adc_run_fail(srv->store, id, "no agent connected to run it");
        r = -ENOTCONN;
        goto out;
    }
    log_notice("sync of '%s' queued as run %s%s (%s, by %s)", app_id, id,
               dry_run ? " (dry run)" : "", trigger, actor);
    memcpy(run_id, id, 40);
    r = 0;
out:
    adc_store_release(db);
    pthread_mutex_unlock(&sync_trigger_lock);
    adc_store_config_done(&cfg);
    return r;
}

/* POST /api/v1/sync-configs/{app_id}/sync: "sync now" through a connected agent. */
static void config_sync(struct adc_http_request *req, struct adc_http_response *res) {
    const char *app_id = req->params[0];
    bool dry_run = false;
    if (req->body_len > 0) {
        json_t *body = adc_http_body_object(req, res);
        if (!body)
            return;
        json_t *d = json_object_get(body, ADC_WIRE_DRY_RUN);
        if (d && !json_is_boolean(d)) {
            json_decref(body);
            adc_http_error(res, 400, "invalidValue", "dry_run must be true or false");
            return;
        }
        dry_run = json_is_true(d);
        json_decref(body);
    }
    char run_id[40], busy[40];
    int r = adc_api_queue_sync(req->server, app_id, dry_run, "manual", req->principal.actor, run_id,
                               busy);
    switch (r) {
    case 0:
        adc_http_json(
            res, 202,
            json_pack("{s:s, s:s}", ADC_WIRE_RUN_ID, run_id, ADC_WIRE_STATUS, ADC_RUN_QUEUED));
        break;
    case -EAGAIN: adc_http_error(res, 503, NULL, "the store is busy; try again"); break;
    case -ENOENT: adc_http_error(res, 404, NULL, "no sync configuration '%s'", app_id); break;
    case -ENOTCONN:
        adc_http_error(res, 409, NULL,
                       "no agent of sync configuration '%s' is connected; start `adc run` next "
                       "to the directory",
                       app_id);
        break;
    case -EBUSY:
        adc_http_error(res, 409, NULL, "a sync of '%s' is already queued or running (run %s)",
                       app_id, busy);
        break;
    default:
        adc_http_error(res, 500, NULL, "cannot read or record the sync of '%s': %s", app_id,
                       strerror(-r));
        break;
    }
}

const struct adc_route adc_api_runs_routes[] = {
    {"GET", "/api/v1/sync-configs/{}/runs", ADC_AUTH_ADMIN, config_runs},
    {"POST", "/api/v1/sync-configs/{}/sync", ADC_AUTH_ADMIN, config_sync},
    {"GET", "/api/v1/runs/{}", ADC_AUTH_ADMIN, run_get},
    {"GET", "/api/v1/audit", ADC_AUTH_ADMIN, audit_list},
    {"GET", "/metrics", ADC_AUTH_ADMIN, adc_metrics_handle},
    {NULL, NULL, 0, NULL},
};
