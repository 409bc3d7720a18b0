/* The password check of a sign-in (docs/product.md section 5, docs/agent-protocol.md): handed to
 * one connected agent of the configuration that owns the user, on this instance or on another
 * (api/cluster-check.h), and its answer relayed. It does not guess: no agent or no answer in time
 * is 503, never 200 or 401. A name no configuration owns gets the same 503 when the agent that
 * would check it is away (adc_login_unknown_reachable, docs/product.md section 11). */
#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "api/channel.h"
#include "api/cluster-check.h"
#include "api/hub.h"
#include "api/login-internal.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/macros.h"
#include "common/secret.h"
#include "server.h"
#include "store/store-configs.h"

static unsigned char hash_key[16]; /* drawn at start: which configuration an unknown name picks */

int adc_login_check_start(void) { return RAND_bytes(hash_key, sizeof(hash_key)) == 1 ? 0 : -EIO; }

/* ---- names that do not exist ---- */

struct app_ids {
    char (*ids)[40];
    size_t n, cap;
};

static int collect_app_id(const struct adc_store_config *c, void *userdata) {
    struct app_ids *a = userdata;
    if (adc_grow_array(a->ids, a->cap, a->n, 8) < 0)
        return -ENOMEM;
    snprintf(a->ids[a->n++], sizeof(a->ids[0]), "%s", c->app_id);
    return 0;
}

/* A name that no sync configuration owns stands for one configuration picked by a keyed hash of
 * it, and is answered 503 when that configuration has no agent, as a user of that configuration
 * would be. With one configuration (the usual case) a missing name and a real one get the same
 * answer in every state of the agent; with several, which configuration a missing name stands
 * for cannot be told from outside. */
bool adc_login_unknown_reachable(struct adc_server *srv, struct adc_db *db, const char *key) {
    struct app_ids a = {0};
    bool reachable = true;
    if (adc_store_config_list(db, collect_app_id, &a) >= 0 && a.n > 0) {
        uint64_t h = 14695981039346656037ull;
        for (size_t i = 0; i < sizeof(hash_key); i++)
            h = (h ^ hash_key[i]) * 1099511628211ull;
        for (const unsigned char *p = (const unsigned char *)key; *p; p++)
            h = (h ^ *p) * 1099511628211ull;
        reachable = adc_channel_connected(srv, a.ids[h % a.n]);
    }
    free(a.ids);
    return reachable;
}

/* ---- the check of an owned user ---- */

/* Asks an agent of the user's configuration, through this instance's agents or another
 * instance's (api/cluster-check.h), and wipes the password. Returns 0 with *o (and *reason, the
 * caller frees) set, or -ENOMEM. */
static int check_with_agent(struct adc_server *srv, struct login_state *st, enum adc_hub_outcome *o,
                            char **reason) {
    struct adc_store_user *user = &st->user;
    int r = adc_cluster_check_password(srv, user->provider, user->user_name, st->password,
                                       srv->login_timeout * 1000, o, reason);
    adc_secret_free(st->password);
    st->password = NULL;
    return r;
}

/* Answers the agent's outcome o, recording it for throttling; the attempt leaves the attempts
 * in flight here. */
static void answer_outcome(struct login_state *st, struct adc_http_request *req,
                           struct adc_http_response *res, enum adc_hub_outcome o,
                           const char *reason) {
    struct adc_server *srv = req->server;
    const char *client = adc_http_client_addr(req);
    struct adc_throttle *t = &st->t;
    struct adc_store_user *user = &st->user;
    switch (o) {
    case ADC_HUB_ACCEPTED:
        adc_login_leave(t);
        log_info("login %s from %s: accepted by the agent of '%s'", ADC_LOG_Q(user->user_name),
                 client, user->provider);
        adc_login_record_success(srv, t, time(NULL));
        adc_http_json(res, 200,
                      json_pack("{s:s, s:s}", "userName", user->user_name, "id", user->id));
        break;
    case ADC_HUB_DENIED:
        /* Counted before it stops being in flight: a parallel burst never sees a gap. */
        adc_login_record_failure(srv, t);
        log_info("login %s from %s: denied by the agent (%s)", ADC_LOG_Q(user->user_name), client,
                 ADC_LOG_Q(reason ? reason : ""));
        adc_login_denied(res, st->started);
        break;
    case ADC_HUB_UNAVAILABLE:
        adc_login_leave(t);
        log_warning("login %s: cannot check the password: %s", ADC_LOG_Q(user->user_name),
                    ADC_LOG_Q(reason ? reason : "no answer"));
        adc_login_unavailable(res, reason ? reason : "no answer from the agent");
        break;
    }
}

void adc_login_check(struct login_state *st, struct adc_http_request *req,
                     struct adc_http_response *res) {
    if (!st->owned) { /* counted as a failure, answered like one */
        adc_login_record_failure(req->server, &st->t);
        adc_login_denied(res, st->started);
        return;
    }
    enum adc_hub_outcome o;
    char *reason = NULL;
    if (check_with_agent(req->server, st, &o, &reason) < 0) {
        adc_login_leave(&st->t);
        adc_http_error(res, 500, NULL, "out of memory");
        return;
    }
    answer_outcome(st, req, res, o, reason);
    free(reason);
}
