#include "api/api-admin.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/auth.h"
#include "api/channel.h"
#include "http/http.h"
#include "api/runs-lifecycle.h"
#include "api/runs.h"
#include "common/log.h"
#include "common/secret.h"
#include "server.h"
#include "common/settings.h"
#include "store/store-configs.h"
#include "store/store-runs.h"
#include "store/store-schedule.h"
#include "scim/scim-user.h"
#include "store/store-groups.h"
#include "store/store-users.h"
#include "common/wire.h"

#define MAX_CONFIG_NAME 200
/* The full-sync interval: a month at most; 0 = no schedule (docs/product.md section 9). */
#define DEFAULT_SYNC_INTERVAL 60
#define MAX_SYNC_INTERVAL (31 * 24 * 60)
#define DEFAULT_RUN_LIMIT 50
#define MAX_LIST_LIMIT 1000

static int last_run_cb(const struct adc_store_run *r, void *ctx) {
    *(json_t **)ctx = adc_run_render(r);
    return 0;
}

json_t *adc_api_config_render(struct adc_db *db, const struct adc_store_config *c) {
    json_t *settings = json_loads(c->settings, 0, NULL);
    if (!json_is_object(settings)) {
        json_decref(settings);
        settings = json_object();
    }
    json_t *last = NULL;
    adc_store_run_list(db, c->app_id, 1, last_run_cb, &last);
    json_t *j = json_pack("{s:s,s:s,s:o,s:s,s:s,s:o}", "app_id", c->app_id, "name", c->name,
                          "settings", settings, "created", c->created, "modified", c->modified,
                          "last_run", last ? last : json_null());
    json_object_set_new(j, "secret_rotated",
                        c->secret_rotated[0] ? json_string(c->secret_rotated) : json_null());
    json_object_set_new(j, "sync_interval_minutes", json_integer(c->sync_interval_minutes));
    json_t *next = json_null();
    if (c->sync_interval_minutes > 0 && c->next_sync_at > 0) {
        time_t t = (time_t)c->next_sync_at;
        struct tm tm;
        char buf[24];
        gmtime_r(&t, &tm);
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
        json_decref(next);
        next = json_string(buf);
    }
    json_object_set_new(j, "next_sync", next);
    struct adc_store_live l;
    json_t *live = json_null();
    if (adc_store_live_get(db, c->app_id, &l) == 0) {
        live = json_pack("{s:s,s:s,s:I,s:s?,s:s?,s:s?,s:s,s:b}", ADC_WIRE_WATCH, l.watch,
                         ADC_WIRE_STATE, l.state, ADC_WIRE_CHANGES_APPLIED,
                         (json_int_t)l.changes_applied, ADC_WIRE_LAST_CHANGE, l.last_change,
                         "last_change_at", l.last_change_at[0] ? l.last_change_at : NULL,
                         ADC_WIRE_DETAIL, l.detail, "reported", l.reported, "flowing", 0);
        adc_store_live_done(&l);
    }
    json_object_set_new(j, "live", live ? live : json_null());
    return j;
}

/* sync_interval_minutes from a request: 0 (no schedule) or 1..MAX_SYNC_INTERVAL. */
static bool valid_interval(const json_t *v) {
    return json_is_integer(v) && json_integer_value(v) >= 0 &&
           json_integer_value(v) <= MAX_SYNC_INTERVAL;
}

/* When a configuration with this interval next syncs, counted from now. */
static int64_t next_sync_from_now(const struct adc_server *srv, int64_t interval) {
    int minute = srv->schedule_minute > 0 ? srv->schedule_minute : 60;
    return interval > 0 ? (int64_t)time(NULL) + interval * minute : 0;
}

int adc_api_settings_merge(char **settings, const json_t *in, bool allow_null, char *why,
                           size_t why_size) {
    if (!json_is_object(in)) {
        snprintf(why, why_size, "settings must be an object");
        return -1;
    }
    json_t *cur = json_loads(*settings ? *settings : "{}", 0, NULL);
    if (!json_is_object(cur)) {
        json_decref(cur);
        cur = json_object();
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)in, key, v) {
        if (adc_setting_from_name(key) < 0) {
            snprintf(why, why_size,
                     "unknown setting '%.60s' (known: dry-run no-update no-create no-delete "
                     "delete-disables no-update-provider-mismatch create-as-disabled)",
                     key);
            json_decref(cur);
            return -1;
        }
        if (json_is_boolean(v)) {
            json_object_set(cur, key, v);
        } else if (json_is_null(v) && allow_null) {
            json_object_del(cur, key); /* back to "the client decides" */
        } else {
            snprintf(why, why_size, "setting '%s' must be true, false%s", key,
                     allow_null ? " or null (the client decides)" : "");
            json_decref(cur);
            return -1;
        }
    }
    char *text = json_dumps(cur, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(cur);
    if (!text) {
        snprintf(why, why_size, "out of memory");
        return -1;
    }
    free(*settings);
    *settings = text;
    return 0;
}

static bool valid_name(const json_t *v) {
    const char *s = json_string_value(v);
    if (!s || !*s || strlen(s) > MAX_CONFIG_NAME)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20)
            return false;
    return true;
}

struct adc_db *adc_api_db_acquire(struct adc_http_request *req, struct adc_http_response *res) {
    struct adc_db *db = adc_store_acquire(req->server->store);
    if (!db)
        adc_http_error(res, 503, NULL, "database unavailable");
    return db;
}

static void config_create(struct adc_http_request *req, struct adc_http_response *res) {
    json_t *body = adc_http_body_object(req, res);
    if (!body)
        return;
    struct adc_db *db = NULL;
    char *secret = NULL;
    struct adc_store_config c = {0};
    char why[300];
    json_t *name = json_object_get(body, "name");
    if (!valid_name(name)) {
        adc_http_error(res, 400, "invalidValue",
                       "name is required: a non-empty string of at most %d characters",
                       MAX_CONFIG_NAME);
        goto out;
    }
    /* docs/product.md section 11: a new configuration refuses takeovers until an administrator
     * decides otherwise (false, or null for "the client decides"); the request may say so at
     * once. */
    c.settings = strdup("{\"no-update-provider-mismatch\":true}");
    json_t *settings = json_object_get(body, "settings");
    if (c.settings && settings &&
        adc_api_settings_merge(&c.settings, settings, true, why, sizeof(why)) < 0) {
        adc_http_error(res, 400, "invalidValue", "%s", why);
        goto out;
    }
    json_t *interval = json_object_get(body, "sync_interval_minutes");
    if (interval && !valid_interval(interval)) {
        adc_http_error(res, 400, "invalidValue",
                       "sync_interval_minutes must be 0 (no schedule) or 1 to %d",
                       MAX_SYNC_INTERVAL);
        goto out;
    }
    c.sync_interval_minutes = interval ? json_integer_value(interval) : DEFAULT_SYNC_INTERVAL;
    c.next_sync_at = next_sync_from_now(req->server, c.sync_interval_minutes);
    c.name = strdup(json_string_value(name));
    adc_auth_uuid(c.app_id);
    adc_store_now(c.created);
    memcpy(c.modified, c.created, sizeof(c.modified));
    secret = adc_auth_token_new(ADC_TOKEN_PREFIX_SYNC);
    if (!secret || !c.name || !c.settings) {
        adc_http_error(res, 500, NULL, "out of memory");
        goto out;
    }
    char hash[ADC_TOKEN_HASH_SIZE];
    adc_auth_hash(secret, hash);
    if (!(db = adc_api_db_acquire(req, res)))
        goto out;
    char detail[400];
    snprintf(detail, sizeof(detail), "name=%s sync_interval_minutes=%lld", c.name,
             (long long)c.sync_interval_minutes);
    if (adc_db_begin(db, true) < 0 || adc_store_config_insert(db, &c, hash) < 0 ||
        adc_store_audit(db, req->principal.actor, "sync-config.create", c.app_id, detail) < 0 ||
        adc_db_commit(db) < 0) {
        adc_db_rollback(db);
        adc_http_error(res, 500, NULL, "database error");
        goto out;
    }
    json_t *j = adc_api_config_render(db, &c);
    /* The only time the secret is shown (and on rotation); only its hash is stored. */
    json_object_set_new(j, "secret", json_string(secret));
    if (asprintf(&res->location, "/api/v1/sync-configs/%s", c.app_id) < 0)
        res->location = NULL;
    adc_http_json(res, 201, j);
out:
    adc_store_release(db);
    adc_secret_free(secret);
    adc_store_config_done(&c);
    json_decref(body);
}

struct list_ctx {
    struct adc_db *db;
    json_t *items;
    struct adc_server *srv;
};

static int list_cb(const struct adc_store_config *c, void *ctx) {
    struct list_ctx *l = ctx;
    json_t *j = adc_api_config_render(l->db, c);
    adc_channel_describe(l->srv, j);
    json_array_append_new(l->items, j);
    return 0;
}

static void config_list(struct adc_http_request *req, struct adc_http_response *res) {
    struct adc_db *db = adc_api_db_acquire(req, res);
    if (!db)
        return;
    struct list_ctx l = {db, json_array(), req->server};
    if (adc_store_config_list(db, list_cb, &l) < 0) {
        json_decref(l.items);
        adc_http_error(res, 500, NULL, "database error");
    } else {
        adc_http_json(res, 200, json_pack("{s:o}", "sync_configs", l.items));
    }
    adc_store_release(db);
}

/* Loads the configuration named in the path; answers 404 when there is none. */
int adc_api_config_load(struct adc_db *db, const char *app_id, struct adc_store_config *c,
                        struct adc_http_response *res) {
    int e = adc_store_config_get(db, app_id, c, NULL);
    if (e == -ENOENT)
        adc_http_error(res, 404, NULL, "no sync configuration '%s'", app_id);
    else if (e < 0)
        adc_http_error(res, 500, NULL, "database error");
    return e;
}

/* Opens the write transaction first, so that the change is made to the configuration as read. */
static int load_config_for_write(struct adc_db *db, const char *app_id, struct adc_store_config *c,
                                 struct adc_http_response *res) {
    if (adc_db_begin(db, true) < 0) {
        adc_http_error(res, 503, NULL, "database busy; retry");
        return -EBUSY;
    }
    return adc_api_config_load(db, app_id, c, res);
}

static void config_get(struct adc_http_request *req, struct adc_http_response *res) {
    struct adc_db *db = adc_api_db_acquire(req, res);
    if (!db)
        return;
    struct adc_store_config c;
    if (adc_api_config_load(db, req->params[0], &c, res) == 0) {
        json_t *j = adc_api_config_render(db, &c);
        adc_channel_describe(req->server, j);
        adc_http_json(res, 200, j);
        adc_store_config_done(&c);
    }
    adc_store_release(db);
}

static void config_patch(struct adc_http_request *req, struct adc_http_response *res) {
    json_t *body = adc_http_body_object(req, res);
    if (!body)
        return;
    struct adc_db *db = adc_api_db_acquire(req, res);
    struct adc_store_config c = {0};
    char why[300];
    if (!db)
        goto out;
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v) {
        if (strcmp(key, "name") != 0 && strcmp(key, "settings") != 0 &&
            strcmp(key, "sync_interval_minutes") != 0) {
            adc_http_error(res, 400, "invalidValue",
                           "'%.60s' cannot be changed (only name, settings and "
                           "sync_interval_minutes)",
                           key);
            goto out;
        }
    }
    if (load_config_for_write(db, req->params[0], &c, res) < 0)
        goto out;
    json_t *name = json_object_get(body, "name");
    if (name) {
        if (!valid_name(name)) {
            adc_http_error(res, 400, "invalidValue",
                           "name must be a non-empty string of at most %d characters",
                           MAX_CONFIG_NAME);
            goto out;
        }
        free(c.name);
        c.name = strdup(json_string_value(name));
    }
    json_t *settings = json_object_get(body, "settings");
    if (settings && adc_api_settings_merge(&c.settings, settings, true, why, sizeof(why)) < 0) {
        adc_http_error(res, 400, "invalidValue", "%s", why);
        goto out;
    }
    json_t *interval = json_object_get(body, "sync_interval_minutes");
    if (interval) {
        if (!valid_interval(interval)) {
            adc_http_error(res, 400, "invalidValue",
                           "sync_interval_minutes must be 0 (no schedule) or 1 to %d",
                           MAX_SYNC_INTERVAL);
            goto out;
        }
        /* A new interval counts from now: the next sync comes one new interval from now. */
        if (json_integer_value(interval) != c.sync_interval_minutes) {
            c.sync_interval_minutes = json_integer_value(interval);
            c.next_sync_at = next_sync_from_now(req->server, c.sync_interval_minutes);
        }
    }
    adc_store_now(c.modified);
    char detail[600];
    snprintf(detail, sizeof(detail), "name=%s settings=%s sync_interval_minutes=%lld",
             c.name ? c.name : "", c.settings, (long long)c.sync_interval_minutes);
    if (!c.name || adc_store_config_update(db, &c) < 0 ||
        adc_store_audit(db, req->principal.actor, "sync-config.update", c.app_id, detail) < 0 ||
        adc_db_commit(db) < 0) {
        adc_http_error(res, 500, NULL, "database error");
        goto out;
    }
    adc_http_json(res, 200, adc_api_config_render(db, &c));
out:
    if (db)
        adc_db_rollback(db); /* no-op after a commit */
    adc_store_release(db);
    adc_store_config_done(&c);
    json_decref(body);
}

static void config_delete(struct adc_http_request *req, struct adc_http_response *res) {
    struct adc_db *db = adc_api_db_acquire(req, res);
    if (!db)
        return;
    struct adc_store_config c = {0};
    if (load_config_for_write(db, req->params[0], &c, res) < 0)
        goto out;
    /* The users stay; they are owned by no configuration any more, i.e. "local" cloud users
     * (docs/product.md section 4, rule 3 knows only these two kinds of provider). */
    int released = adc_store_users_reassign(db, c.app_id, ADC_PROVIDER_LOCAL);
    int groups = adc_store_groups_reassign(db, c.app_id, ADC_PROVIDER_LOCAL); /* and its groups */
    char detail[300];
    snprintf(detail, sizeof(detail),
             "name=%s users_released=%d groups_released=%d (now provider local)", c.name, released,
             groups);
    if (released < 0 || groups < 0 || adc_store_config_delete(db, c.app_id) < 0 ||
        adc_store_live_delete(db, c.app_id) < 0 ||
        adc_store_audit(db, req->principal.actor, "sync-config.delete", c.app_id, detail) < 0 ||
        adc_db_commit(db) < 0) {
        adc_http_error(res, 500, NULL, "database error");
        goto out;
    }
    adc_channel_forget(req->server, c.app_id, "the sync configuration was deleted");
    adc_http_json(res, 200,
                  json_pack("{s:s,s:b,s:i,s:s,s:i}", "app_id", c.app_id, "deleted", 1,
                            "users_released", released, "users_provider", ADC_PROVIDER_LOCAL,
                            "groups_released", groups));
out:
    adc_db_rollback(db);
    adc_store_release(db);
    adc_store_config_done(&c);
}

static void config_rotate(struct adc_http_request *req, struct adc_http_response *res) {
    struct adc_db *db = adc_api_db_acquire(req, res);
    if (!db)
        return;
    struct adc_store_config c = {0};
    char *secret = adc_auth_token_new(ADC_TOKEN_PREFIX_SYNC);
    if (!secret) {
        adc_http_error(res, 500, NULL, "cannot make a secret");
        goto out;
    }
    if (load_config_for_write(db, req->params[0], &c, res) < 0)
        goto out;
    char hash[ADC_TOKEN_HASH_SIZE], now[24];
    adc_auth_hash(secret, hash);
    adc_store_now(now);
    if (adc_store_config_set_secret(db, c.app_id, hash, now) < 0 ||
        adc_store_audit(db, req->principal.actor, "sync-config.rotate-secret", c.app_id, NULL) <
            0 ||
        adc_db_commit(db) < 0) {
        adc_http_error(res, 500, NULL, "database error");
        goto out;
    }
    adc_channel_forget(req->server, c.app_id, "the secret of the sync configuration was rotated");
    adc_http_json(
        res, 200,
        json_pack("{s:s,s:s,s:s}", "app_id", c.app_id, "secret", secret, "secret_rotated", now));
out:
    adc_db_rollback(db);
    adc_store_release(db);
    adc_store_config_done(&c);
    adc_secret_free(secret);
}

/* Runs on the HTTP event loop, not on a worker (http-access.c, on_loop): it must never block. */
static void health(struct adc_http_request *req, struct adc_http_response *res) {
    (void)req;
    adc_http_json(res, 200, json_pack("{s:s,s:s}", "status", "ok", "version", ADC_VERSION));
}

const struct adc_route adc_api_admin_routes[] = {
    {"GET", "/api/v1/health", ADC_AUTH_NONE, health},
    {"POST", "/api/v1/sync-configs", ADC_AUTH_ADMIN, config_create},
    {"GET", "/api/v1/sync-configs", ADC_AUTH_ADMIN, config_list},
    {"GET", "/api/v1/sync-configs/{}", ADC_AUTH_ADMIN, config_get},
    {"PATCH", "/api/v1/sync-configs/{}", ADC_AUTH_ADMIN, config_patch},
    {"DELETE", "/api/v1/sync-configs/{}", ADC_AUTH_ADMIN, config_delete},
    {"POST", "/api/v1/sync-configs/{}/secret", ADC_AUTH_ADMIN, config_rotate},
    {NULL, NULL, 0, NULL},
};
