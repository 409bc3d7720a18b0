/* Console sessions: sign-in, the session cookie, expiry, CSRF, sign-out. */
#include "http/sessions.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "api/admin-accounts.h"
#include "http/auth.h"
#include "common/log.h"
#include "common/macros.h"
#include "common/secret.h"
#include "server.h"
#include "store/store-admins.h"
#include "store/store-runs.h"
#include "store/store-sessions.h"
#include "store/store-throttle.h"
#include "store/store.h"

#define SESSION_TOKEN_PREFIX "adcw_"
/* last_seen is written at most this often per session (or every quarter of a shorter idle
 * limit): a page polling a run every second must not turn every read into a database write. */
#define TOUCH_INTERVAL 10

static long idle_limit = ADC_SESSION_IDLE_DEFAULT;
static long max_limit = ADC_SESSION_MAX_DEFAULT;

void adc_session_set_limits(long idle_seconds, long max_seconds) {
    if (idle_seconds > 0)
        idle_limit = idle_seconds;
    if (max_seconds > 0)
        max_limit = max_seconds;
}

/* ---- failed sign-ins per client address ----
 * Every attempt counts as a failure until it succeeds (so a burst of parallel guesses cannot
 * all pass the check before the first one fails); a failure costs its client one second; after
 * MAX_FAILURES within FAILURE_WINDOW the address gets 429 until the window passes, which bounds
 * an online guesser to 10 guesses per 15 minutes per address. The counts are in the store
 * (store-throttle.h): every instance on one database sees them, and a restart keeps them. */
#define FAILURE_WINDOW 900
#define MAX_FAILURES 10
#define FAILURE_DELAY 1

static void failure_key(const char *client, char key[static 96]) {
    snprintf(key, 96, "console:%s", client);
}

/* ---- tokens ---- */

/* The CSRF token is derived from the session token, so it needs no storage and dies with the
 * session; without the HttpOnly cookie's value nobody can compute it. */
static void csrf_token(const char *session_token, char out[static ADC_TOKEN_HASH_SIZE]) {
    char buf[256];
    snprintf(buf, sizeof(buf), "csrf:%s", session_token);
    adc_auth_hash(buf, out);
    explicit_bzero(buf, sizeof(buf));
}

static void rfc3339(time_t t, char buf[static 24]) {
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 24, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *cookie_name(const struct adc_http_request *req) {
    return req->server->secure_cookies ? ADC_SESSION_COOKIE_TLS : ADC_SESSION_COOKIE;
}

/* Set-Cookie for a new session (max_age > 0) or one that ends (max_age 0). */
static char *cookie_header(const struct adc_http_request *req, const char *value, long max_age) {
    char *s = NULL;
    if (asprintf(&s, "%s=%s; Path=/; Max-Age=%ld; HttpOnly; SameSite=Strict%s", cookie_name(req),
                 value, max_age, req->server->secure_cookies ? "; Secure" : "") < 0)
        return NULL;
    return s;
}

struct session {
    int64_t account_id;
    char name[ADC_ADMIN_NAME_MAX + 1];
    time_t created, last_seen;
    char csrf[ADC_TOKEN_HASH_SIZE];
};

static time_t expires_at(const struct session *s) {
    time_t idle = s->last_seen + idle_limit, abs = s->created + max_limit;
    return idle < abs ? idle : abs;
}

/* Deletes a session; with an actor (sign-out) the audit log records it, an expired session
 * dropped on sight is not an event worth a line. */
static int delete_session(struct adc_server *srv, const char *token_hash, const char *actor,
                          const char *name) {
    int r;
    struct adc_db *db = adc_store_begin_write(srv->store, &r);
    if (!db)
        return r;
    r = adc_store_session_delete(db, token_hash);
    if (r == 0 && actor)
        r = adc_store_audit(db, actor, "console.sign_out", name, NULL);
    return adc_store_end_write(db, r);
}

/* Finds the session of the request's cookie. Returns 0 with *s filled (and last_seen
 * refreshed), -ENOENT without a cookie, -EACCES for an unknown or expired one, or another
 * negative errno. token_hash receives the stored key. */
static int session_lookup(struct adc_http_request *req, struct session *out,
                          char token_hash[static ADC_TOKEN_HASH_SIZE]) {
    const char *token = MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, cookie_name(req));
    if (!token || !*token)
        return -ENOENT;
    if (strncmp(token, SESSION_TOKEN_PREFIX, strlen(SESSION_TOKEN_PREFIX)) != 0 ||
        strlen(token) > 128)
        return -EACCES;
    adc_auth_hash(token, token_hash);

    struct session s = {0};
    struct adc_store_session row;
    struct adc_db *db = adc_store_acquire(req->server->store);
    int r = db ? adc_store_session_get(db, token_hash, &row) : -EIO;
    if (r == -ENOENT)
        r = -EACCES;
    if (r < 0)
        goto out;
    s.account_id = row.account_id;
    memcpy(s.name, row.name, sizeof(s.name));
    s.created = (time_t)row.created;
    s.last_seen = (time_t)row.last_seen;
    /* Whole seconds: a session lives at least its limits and less than a second more. */
    time_t now = time(NULL);
    if (now > expires_at(&s)) {
        r = -ETIMEDOUT;
        goto out;
    }
    long touch = idle_limit / 4 < TOUCH_INTERVAL ? idle_limit / 4 : TOUCH_INTERVAL;
    if (now - s.last_seen >= touch) {
        if (adc_db_begin(db, true) == 0) {
            if (adc_store_session_touch(db, token_hash, now) == 0)
                adc_db_commit(db);
            else
                adc_db_rollback(db);
        }
        s.last_seen = now; /* a failed touch only shortens the session */
    }
    csrf_token(token, s.csrf);
    *out = s;
    r = 0;
out:
    adc_store_release(db);
    if (r == -ETIMEDOUT) {
        delete_session(req->server, token_hash, NULL, NULL);
        r = -EACCES;
    }
    return r;
}

bool adc_session_cookie_present(const struct adc_http_request *req) {
    const char *token = MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, cookie_name(req));
    return token && *token;
}

static bool safe_method(const char *m) {
    return adc_streq(m, "GET") || adc_streq(m, "HEAD") || adc_streq(m, "OPTIONS");
}

int adc_session_authenticate(struct adc_http_request *req, char *why, size_t why_size) {
    struct session s;
    char th[ADC_TOKEN_HASH_SIZE];
    int r = session_lookup(req, &s, th);
    if (r == -ENOENT)
        return -ENOENT;
    if (r == -EACCES) {
        snprintf(why, why_size, "the console session has expired or was ended; sign in again");
        return 401;
    }
    if (r < 0) {
        snprintf(why, why_size, "cannot check the console session: %s", strerror(-r));
        return 500;
    }
    /* SameSite=Strict already keeps other sites' requests from carrying the cookie; the
     * header is the second lock: a cross-site form cannot set it, and a cross-origin script
     * cannot read the token or send the header without a CORS grant we never give. */
    if (!safe_method(req->method)) {
        const char *h = adc_http_header(req, ADC_SESSION_CSRF_HEADER);
        if (!h || !adc_secret_equal(h, s.csrf)) {
            snprintf(why, why_size,
                     "missing or wrong %s header on a %s made with the session "
                     "cookie",
                     ADC_SESSION_CSRF_HEADER, req->method);
            return 403;
        }
    }
    memset(&req->principal, 0, sizeof(req->principal));
    req->principal.kind = ADC_PRINCIPAL_ADMIN;
    snprintf(req->principal.name, sizeof(req->principal.name), "%s", s.name);
    snprintf(req->principal.actor, sizeof(req->principal.actor), "console:%s", s.name);
    for (size_t i = 0; i < ADC_SETTING_COUNT; i++)
        req->principal.settings[i] = ADC_UNSET;
    return 0;
}

/* ---- the endpoints ---- */

static json_t *session_json(const struct session *s) {
    char exp[24];
    rfc3339(expires_at(s), exp);
    return json_pack("{s:s, s:s, s:I, s:I, s:s}", "name", s->name, "csrf_token", s->csrf,
                     "idle_timeout", (json_int_t)idle_limit, "max_lifetime", (json_int_t)max_limit,
                     "expires_at", exp);
}

static int insert_session(struct adc_server *srv, int64_t account_id, const char *token_hash,
                          const char *client, time_t now, const char *actor, const char *name) {
    int r;
    struct adc_db *db = adc_store_begin_write(srv->store, &r);
    if (!db)
        return r;
    char at[24], detail[100];
    adc_store_now(at);
    snprintf(detail, sizeof(detail), "from %s", client);
    /* Housekeeping first: sessions past either limit are gone for good. */
    r = adc_store_sessions_prune(db, now - idle_limit, now - max_limit);
    if (r == 0)
        r = adc_store_session_insert(db, token_hash, account_id, now, client);
    if (r == 0)
        r = adc_store_admin_signed_in(db, account_id, at);
    if (r == 0)
        r = adc_store_audit(db, actor, "console.sign_in", name, detail);
    return adc_store_end_write(db, r);
}

static void session_create(struct adc_http_request *req, struct adc_http_response *res) {
    res->no_challenge = true; /* the console shows its own sign-in form */
    json_t *body = adc_http_body_object(req, res);
    if (!body)
        return;
    const char *name = json_string_value(json_object_get(body, "name"));
    const char *password = json_string_value(json_object_get(body, "password"));
    if (!name || !password) {
        adc_http_error(res, 400, "invalidValue", "give \"name\" and \"password\" as strings");
        goto out;
    }
    char fkey[96];
    failure_key(req->client, fkey);
    int64_t failures = adc_store_throttle_add(req->server->store, fkey, FAILURE_WINDOW);
    if (failures < 0) {
        adc_http_error(res, 500, NULL, "cannot check the password: %s", strerror((int)-failures));
        goto out;
    }
    if (failures > MAX_FAILURES) {
        adc_http_error(res, 429, NULL,
                       "too many failed sign-ins from this address; try again "
                       "in %d minutes",
                       FAILURE_WINDOW / 60);
        goto out;
    }
    int64_t id;
    char stored[ADC_ADMIN_NAME_MAX + 1];
    int r = adc_admin_account_check(req->server->store, name, password, &id, stored);
    if (r == -EACCES) {
        /* Only a well-formed name is echoed into the log: no control characters from outside. */
        log_notice("console sign-in failed for '%s' from %s",
                   adc_admin_name_valid(name) ? name : "(invalid name)", req->client);
        adc_http_delay(res, FAILURE_DELAY * 1000); /* the answer waits, no thread does */
        adc_http_error(res, 401, NULL, "wrong name or password");
        goto out;
    }
    if (r < 0) {
        adc_http_error(res, 500, NULL, "cannot check the password: %s", strerror(-r));
        goto out;
    }
    adc_store_throttle_reset(req->server->store, fkey);

    char *token = adc_auth_token_new(SESSION_TOKEN_PREFIX);
    if (!token) {
        adc_http_error(res, 500, NULL, "out of memory");
        goto out;
    }
    char th[ADC_TOKEN_HASH_SIZE], actor[200];
    adc_auth_hash(token, th);
    snprintf(actor, sizeof(actor), "console:%s", stored);
    time_t now = time(NULL);
    r = insert_session(req->server, id, th, req->client, now, actor, stored);
    if (r < 0) {
        adc_secret_free(token);
        adc_http_error(res, 500, NULL, "cannot store the session: %s", strerror(-r));
        goto out;
    }
    struct session s = {.account_id = id, .created = now, .last_seen = now};
    memcpy(s.name, stored, sizeof(stored));
    csrf_token(token, s.csrf);
    res->set_cookie = cookie_header(req, token, max_limit);
    adc_secret_free(token);
    adc_http_json(res, 201, session_json(&s));
out:
    json_decref(body);
}

static void session_get(struct adc_http_request *req, struct adc_http_response *res) {
    res->no_challenge = true; /* the console shows its own sign-in form */
    struct session s;
    char th[ADC_TOKEN_HASH_SIZE];
    int r = session_lookup(req, &s, th);
    if (r == -ENOENT || r == -EACCES) {
        if (r == -EACCES) /* drop the dead cookie */
            res->set_cookie = cookie_header(req, "", 0);
        adc_http_error(res, 401, NULL,
                       r == -ENOENT ? "not signed in"
                                    : "the console session has expired; sign "
                                      "in again");
        return;
    }
    if (r < 0) {
        adc_http_error(res, 500, NULL, "cannot check the session: %s", strerror(-r));
        return;
    }
    adc_http_json(res, 200, session_json(&s));
}

static void session_delete(struct adc_http_request *req, struct adc_http_response *res) {
    res->no_challenge = true; /* the console shows its own sign-in form */
    char why[200];
    int r = adc_session_authenticate(req, why, sizeof(why));
    if (r == -ENOENT) {
        adc_http_error(res, 401, NULL, "not signed in");
        return;
    }
    if (r > 0) {
        adc_http_error(res, (unsigned)r, NULL, "%s", why);
        return;
    }
    const char *token = MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, cookie_name(req));
    char th[ADC_TOKEN_HASH_SIZE];
    adc_auth_hash(token, th);
    r = delete_session(req->server, th, req->principal.actor, req->principal.name);
    if (r < 0) {
        adc_http_error(res, 500, NULL, "cannot end the session: %s", strerror(-r));
        return;
    }
    res->set_cookie = cookie_header(req, "", 0);
    res->status = 204;
}

const struct adc_route adc_session_routes[] = {
    /* Public: sign-in has no credentials yet; GET and DELETE check the cookie themselves, so
     * that "not signed in" is an answer rather than a Bearer challenge. */
    {"POST", "/api/v1/session", ADC_AUTH_NONE, session_create},
    {"GET", "/api/v1/session", ADC_AUTH_NONE, session_get},
    {"DELETE", "/api/v1/session", ADC_AUTH_NONE, session_delete},
    {NULL, NULL, ADC_AUTH_NONE, NULL},
};
