/* POST /api/v1/login: sign-in through the agent (docs/product.md section 5,
 * docs/agent-protocol.md). The server never sees a directory password at rest: it hands the check
 * to one connected agent of the configuration that owns the user and relays the answer
 * (login-check.c). It does not guess: no agent or no answer in time is 503, never 200 or 401.
 *
 * docs/product.md section 11: attempts are throttled (api/throttle.h, login-admit.c) before the
 * directory is asked, and a name that exists is answered like one that does not: same status,
 * same time (denials are answered DENIED_DELAY_US after the request began, whatever the cause),
 * and the same 503 when the agent that would check it is away (adc_login_unknown_reachable).
 * This file reads the request, makes the one visit to the store and routes to the answers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/channel.h"
#include "api/login-internal.h"
#include "api/throttle.h"
#include "common/log.h"
#include "common/macros.h"
#include "common/secret.h"
#include "server.h"
#include "store/store-users.h"

/* A userName longer than this cannot exist in the store (SCIM limit of this server) and a
 * password longer than this is no password anyone types; both are refused before any work. */
#define MAX_USER_NAME 256
#define MAX_PASSWORD 1024

/* A denied sign-in is answered this long after its request began: guessing costs the guesser
 * time, and the answer takes as long whether the directory was asked (a bind: a few ms) or the
 * name does not exist. The accepted path is not slowed. */
#define DENIED_DELAY_US 200000

/* ---- the answers ---- */

double adc_login_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void adc_login_denied(struct adc_http_response *res, double started) {
    double left = started + DENIED_DELAY_US / 1e6 - adc_login_now();
    if (left > 0) /* the answer waits, no thread does */
        adc_http_delay(res, (unsigned)(left * 1000));
    adc_http_error(res, 401, NULL, "invalid username or password");
}

void adc_login_unavailable(struct adc_http_response *res, const char *why) {
    adc_http_error(res, 503, NULL, "cannot check the password right now: %s", why);
}

void adc_login_throttled(struct adc_http_response *res, const char *name, const char *client,
                         int64_t wait) {
    log_info("login %s from %s: throttled for %lld s", ADC_LOG_Q(name), client, (long long)wait);
    res->retry_after = (unsigned)wait;
    adc_http_error(res, 429, NULL, "too many failed sign-ins; try again in %lld seconds",
                   (long long)wait);
}

void adc_login_state_free(struct login_state *st) {
    if (!st)
        return;
    adc_secret_free(st->password);
    adc_store_user_done(&st->user);
    json_decref(st->body);
    free(st);
}

/* ---- the request ---- */

/* Reads and checks the body. Returns the new state (the only copy of the password, which the
 * request's body and parsed body no longer hold), or NULL when res is answered. */
static struct login_state *login_read(struct adc_http_request *req, struct adc_http_response *res,
                                      double started) {
    json_t *body = adc_http_body_object(req, res);
    /* The raw body holds the password too; parsed, it is needed no more. */
    explicit_bzero(req->body, req->body_len);
    if (!body)
        return NULL;
    const char *name = json_string_value(json_object_get(body, "username"));
    const char *pw = json_string_value(json_object_get(body, "password"));
    const char *client = adc_http_client_addr(req);
    struct login_state *st = NULL;
    if (!name || !pw) {
        adc_http_error(res, 400, "invalidValue",
                       "\"username\" and \"password\" are required strings");
        goto fail;
    }
    /* No such name can exist, and an empty password would be an anonymous bind that "succeeds"
     * (docs/product.md section 5): denied without asking anyone, so nothing to throttle. */
    if (strlen(name) == 0 || strlen(name) > MAX_USER_NAME || strlen(pw) > MAX_PASSWORD ||
        pw[0] == '\0') {
        log_info("login %s from %s: denied (%s)", ADC_LOG_Q(name), client,
                 pw[0] ? "name or password too long" : "empty password");
        adc_login_denied(res, started);
        goto fail;
    }
    st = calloc(1, sizeof(*st));
    if (!st || !(st->password = strdup(pw))) {
        adc_http_error(res, 500, NULL, "out of memory");
        goto fail;
    }
    st->started = started;
    st->body = body; /* holds name from now on */
    st->name = name;
    /* The parsed body holds the only other copy; it goes now. */
    json_object_del(st->body, "password");
    if (adc_throttle_init(&st->t, name, client) < 0) {
        log_info("login %s from %s: denied (not a name)", ADC_LOG_Q(name), client);
        adc_login_denied(res, started);
        adc_login_state_free(st);
        return NULL;
    }
    return st;
fail:
    adc_login_state_free(st);
    json_decref(body);
    return NULL;
}

/* What the one visit to the store found. */
struct login_lookup {
    int r;          /* reading the user: 0, -ENOENT or an error */
    int lr;         /* reading the throttling rows: 0 or an error */
    bool owned;     /* active and owned by a sync configuration */
    bool reachable; /* for a name not owned: an agent would check it now */
    int64_t wait;   /* > 0: locked for that many seconds */
    bool entered;   /* the attempt entered the attempts in flight (it must leave) */
};

/* The user and the throttling rows in one visit to the store, under the account's lock
 * (throttle.h): a sign-in costs one connection from the pool and two indexed reads. Returns 0,
 * or -EBUSY when no store connection is free. */
static int login_lookup(struct adc_server *srv, struct login_state *st, struct login_lookup *lk) {
    struct adc_throttle *t = &st->t;
    struct adc_store_user *user = &st->user;
    adc_throttle_lock(t);
    struct adc_db *db = adc_store_acquire(srv->store);
    if (!db) {
        adc_throttle_unlock(t);
        return -EBUSY;
    }
    lk->r = adc_store_user_get_by_name(db, st->name, user);
    lk->lr = adc_login_throttle_load(db, t);
    bool foreign = user->provider && !adc_streq(user->provider, "local");
    lk->owned = lk->r == 0 && user->active && foreign;
    lk->reachable = true;
    if (lk->r == -ENOENT || (lk->r == 0 && !lk->owned)) {
        /* Answered like a user whose directory said no, by the same rule of agents. */
        lk->reachable = lk->r == 0 && foreign
                            ? adc_channel_connected(srv, user->provider)
                            : adc_login_unknown_reachable(srv, db, t->keys[ADC_THROTTLE_ACCOUNT]);
    }
    adc_store_release(db); /* never held while waiting for the agent */
    int64_t now = time(NULL);
    /* A lock answers first, whoever the name is and wherever its agent is. */
    lk->wait = lk->lr == 0 ? adc_throttle_check(t, now) : 0;
    lk->entered = lk->lr == 0 && lk->wait == 0 && (lk->owned || lk->reachable) &&
                  (lk->r == 0 || lk->r == -ENOENT) && adc_throttle_enter(t, now);
    adc_throttle_unlock(t);
    return 0;
}

/* Answers what the lookup decides, or goes on with the check (entered) or the wait for room.
 * Returns true when st went on (it is then the check's or the waiting request's). */
static bool login_route(struct login_state *st, const struct login_lookup *lk,
                        struct adc_http_request *req, struct adc_http_response *res) {
    const char *client = adc_http_client_addr(req);
    if (lk->lr < 0 || (lk->r < 0 && lk->r != -ENOENT)) {
        adc_http_error(res, lk->lr < 0 ? 503 : 500, NULL,
                       lk->lr < 0 ? "the store is busy; try again" : "cannot read the user");
        return false;
    }
    if (lk->wait > 0) {
        adc_login_throttled(res, st->name, client, lk->wait);
        return false;
    }
    if (!lk->owned) {
        log_info("login %s from %s: denied (%s)", ADC_LOG_Q(st->name), client,
                 lk->r == -ENOENT   ? "no such user"
                 : !st->user.active ? "user disabled"
                                    : "user not owned by a sync configuration");
        if (!lk->reachable) {
            adc_login_unavailable(res, "no agent connected");
            return false;
        }
    }
    st->owned = lk->owned;
    if (lk->entered) {
        adc_login_check(st, req, res);
        return false; /* answered; st is still the caller's */
    }
    adc_login_admit_or_wait(st, req, res); /* st is its now */
    return true;
}

void adc_login_handle(struct adc_http_request *req, struct adc_http_response *res) {
    double started = adc_login_now();
    struct login_state *st = login_read(req, res, started);
    if (!st)
        return;
    struct login_lookup lk;
    if (login_lookup(req->server, st, &lk) < 0) {
        adc_http_error(res, 503, NULL, "the store is busy; try again");
        adc_login_state_free(st);
        return;
    }
    if (!login_route(st, &lk, req, res))
        adc_login_state_free(st);
}
