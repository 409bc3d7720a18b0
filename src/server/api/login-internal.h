/* Sign-in through the agent, shared between its files (api/channel.h has the public side):
 *   login.c           POST /api/v1/login: reads and checks the request, one visit to the store,
 *                     the answers (the equal-time denial, 429, 503)
 *   login-admit.c     the store's side of throttling and the room among attempts in flight
 *   login-check.c     the password check through an agent, here or on another instance, and
 *                     the rule of agents for names that do not exist
 *   login-familiar.c  familiar addresses written behind the sign-ins by one thread
 * docs/product.md sections 5 and 11; docs/design.md. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "api/throttle.h"
#include "http/http.h"
#include "server.h"
#include "store/store-users.h"

/* One sign-in from its request to its answer; owned by the request, or by the deferred request
 * while it waits for room (adc_login_admit_or_wait). */
struct login_state {
    struct login_state *next; /* in the waiting list while it waits for room */
    struct adc_http_request *req;
    double started; /* adc_login_now() when the request began */
    bool owned;     /* a sync configuration owns the user: the agent is asked */
    json_t *body;   /* holds the name as typed */
    const char *name;
    char *password; /* wiped and freed once the agent has it */
    struct adc_throttle t;
    struct adc_store_user user;
};

/* Frees st (NULL: nothing), wiping the password. */
void adc_login_state_free(struct login_state *st);

/* ---- the answers (login.c) ---- */
/* CLOCK_MONOTONIC in seconds. */
double adc_login_now(void);
/* 401, answered DENIED_DELAY_US after `started` whatever the cause (no thread waits). */
void adc_login_denied(struct adc_http_response *res, double started);
/* 503: the password cannot be checked now (why: for the message). */
void adc_login_unavailable(struct adc_http_response *res, const char *why);
/* 429 with Retry-After: wait seconds. */
void adc_login_throttled(struct adc_http_response *res, const char *name, const char *client,
                         int64_t wait);

/* ---- throttling and admission (login-admit.c) ---- */
/* Reads t's rows from db. Returns 0 or a negative errno. */
int adc_login_throttle_load(struct adc_db *db, struct adc_throttle *t);
/* Records a denial and ends the attempt's place in flight. Failures to write are logged. */
void adc_login_record_failure(struct adc_server *srv, struct adc_throttle *t);
/* After an accepted sign-in: forgets the failures, makes the address familiar. */
void adc_login_record_success(struct adc_server *srv, struct adc_throttle *t, int64_t now);
/* Ends the attempt's place in flight without a failure (and wakes the waiting ones). */
void adc_login_leave(struct adc_throttle *t);
/* Enters st's attempt and goes on with adc_login_check, or answers, or waits for room (st then
 * belongs to the deferred request). Frees st unless it waits. */
void adc_login_admit_or_wait(struct login_state *st, struct adc_http_request *req,
                             struct adc_http_response *res);
/* Wakes the waiting sign-ins whose time is up at `now` (called by the background thread). */
void adc_login_admit_expire(double now);

/* ---- the check (login-check.c) ---- */
/* Draws the key of the hash that picks a configuration for unknown names. Returns 0 or -EIO. */
int adc_login_check_start(void);
/* Whether an unknown name would be checked now (an agent of the configuration it stands for is
 * connected); db is the caller's. */
bool adc_login_unknown_reachable(struct adc_server *srv, struct adc_db *db, const char *key);
/* The entered attempt: denied when no configuration owns the name, else checked through an
 * agent; answers res. Does not free st. */
void adc_login_check(struct login_state *st, struct adc_http_request *req,
                     struct adc_http_response *res);

/* ---- familiar addresses (login-familiar.c) ---- */
/* Queues a familiar-address key (copied) for the background write; dropped when full. */
void adc_login_familiar_queue(const char *key);
