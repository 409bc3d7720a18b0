/* POST /api/v1/login: sign-in through the agent (docs/product.md section 5,
 * docs/agent-protocol.md). The server never sees a directory password at rest: it hands the check
 * to one connected agent of the configuration that owns the user and relays the answer. It does not
 * guess: no agent or no answer in time is 503, never 200 or 401. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/channel.h"
#include "api/hub.h"
#include "common/log.h"
#include "common/macros.h"
#include "common/secret.h"
#include "server.h"
#include "store/store-users.h"

/* A userName longer than this cannot exist in the store (SCIM limit of this server) and a
 * password longer than this is no password anyone types; both are refused before any work. */
#define MAX_USER_NAME 256
#define MAX_PASSWORD 1024

/* A denied sign-in answers after this pause: guessing passwords through the agent costs the
 * guesser time, not the directory. The accepted path is not slowed. */
#define DENIED_DELAY_US 200000

static void denied(struct adc_http_response *res) {
    adc_http_delay(res, DENIED_DELAY_US / 1000); /* the answer waits, no thread does */
    adc_http_error(res, 401, NULL, "invalid username or password");
}

void adc_login_handle(struct adc_http_request *req, struct adc_http_response *res) {
    struct adc_server *srv = req->server;
    struct adc_store_user user = {0};
    char *password = NULL;
    json_t *body = adc_http_body_object(req, res);
    /* The raw body holds the password too; parsed, it is needed no more. */
    explicit_bzero(req->body, req->body_len);
    if (!body)
        return;
    const char *name = json_string_value(json_object_get(body, "username"));
    const char *pw = json_string_value(json_object_get(body, "password"));
    if (!name || !pw) {
        adc_http_error(res, 400, "invalidValue",
                       "\"username\" and \"password\" are required strings");
        goto out;
    }
    if (strlen(name) == 0 || strlen(name) > MAX_USER_NAME || strlen(pw) > MAX_PASSWORD) {
        denied(res);
        goto out;
    }
    password = strdup(pw);
    if (!password) {
        adc_http_error(res, 500, NULL, "out of memory");
        goto out;
    }
    /* The parsed body holds the only other copy; it goes now. */
    json_object_del(body, "password");
    /* docs/product.md section 5: an empty password would be an anonymous bind that "succeeds". */
    if (password[0] == '\0') {
        log_info("login %s: denied (empty password)", ADC_LOG_Q(name));
        denied(res);
        goto out;
    }

    struct adc_db *db = adc_store_acquire(srv->store);
    if (!db) {
        adc_http_error(res, 503, NULL, "the store is busy; try again");
        goto out;
    }
    int r = adc_store_user_get_by_name(db, name, &user);
    adc_store_release(db); /* never held while waiting for the agent */
    if (r == -ENOENT ||
        (r == 0 && (!user.active || !user.provider || adc_streq(user.provider, "local")))) {
        log_info("login %s: denied (%s)", ADC_LOG_Q(name),
                 r == -ENOENT   ? "no such user"
                 : !user.active ? "user disabled"
                                : "user not owned by a sync configuration");
        denied(res);
        goto out;
    }
    if (r < 0) {
        adc_http_error(res, 500, NULL, "cannot read the user");
        goto out;
    }

    enum adc_hub_outcome o;
    char *reason = NULL;
    r = adc_hub_check_password(srv->hub, user.provider, user.user_name, password,
                               srv->login_timeout * 1000, &o, &reason);
    adc_secret_free(password);
    password = NULL;
    if (r < 0) {
        adc_http_error(res, 500, NULL, "out of memory");
        goto out;
    }
    switch (o) {
    case ADC_HUB_ACCEPTED:
        log_info("login %s: accepted by the agent of '%s'", ADC_LOG_Q(user.user_name),
                 user.provider);
        adc_http_json(res, 200, json_pack("{s:s, s:s}", "userName", user.user_name, "id", user.id));
        break;
    case ADC_HUB_DENIED:
        log_info("login %s: denied by the agent (%s)", ADC_LOG_Q(user.user_name),
                 ADC_LOG_E(reason ? reason : ""));
        denied(res);
        break;
    case ADC_HUB_UNAVAILABLE:
        log_warning("login %s: cannot check the password: %s", ADC_LOG_Q(user.user_name),
                    reason ? reason : "no answer");
        adc_http_error(res, 503, NULL, "cannot check the password right now: %s",
                       reason ? reason : "no answer from the agent");
        break;
    }
    free(reason);
out:
    adc_secret_free(password);
    adc_store_user_done(&user);
    json_decref(body);
}
