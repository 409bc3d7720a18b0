/* The `run` loop: connect, long poll, hand commands out, reconnect with backoff, and the
 * signals of a systemd service (SIGHUP reload, SIGTERM stop, sd_notify readiness).
 *
 * Signals are blocked in every thread and read from a signalfd by the main thread, which waits
 * on it together with the open long poll (curl_multi_poll's extra descriptor): a SIGTERM ends a
 * 20-second poll at once, and a SIGHUP is handled without closing the poll. */
#include "agent/agent.h"

#include <errno.h>
#include <jansson.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent-backoff.h"
#include "agent/agent-live.h"
#include "agent/agent-message.h"
#include "agent/agent-sync.h"
#include "agent/agent-workers.h"
#include "cli/exit-codes.h"
#include "cloud/agent-api.h"
#include "directory/ldap-auth.h"
#include "common/log.h"
#include "common/macros.h"
#include "common/wire.h"

#define BACKOFF_BASE_MS 1000
#define BACKOFF_CAP_MS 60000
#define DEFAULT_POLL_WAIT ADC_AGENT_DEFAULT_POLL_WAIT
/* How long SIGTERM waits for a sync in flight (asked to stop at its next step) before the run
 * is reported failed: below the server's 25 s after which a silent agent is gone (so the run
 * carries this agent's own reason), and well below the unit's TimeoutStopSec. */
#define STOP_SYNC_GRACE_S 20

struct adc_agent_config *adc_agent_config_new(struct adc_yaml_config *yaml,
                                              struct adc_service_config *service,
                                              unsigned generation) {
    struct adc_agent_config *c = calloc(1, sizeof(*c));
    if (!c) {
        adc_yaml_config_free(yaml);
        adc_service_config_free(service);
        return NULL;
    }
    atomic_init(&c->refs, 1);
    c->generation = generation;
    c->yaml = yaml;
    c->service = service;
    return c;
}

struct adc_agent_config *adc_agent_config_ref(struct adc_agent_config *c) {
    if (c)
        atomic_fetch_add(&c->refs, 1);
    return c;
}

void adc_agent_config_unref(struct adc_agent_config *c) {
    if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    adc_yaml_config_free(c->yaml);
    adc_service_config_free(c->service);
    free(c);
}

struct agent {
    struct adc_context *ctx;
    struct adc_agent_config *cfg;
    unsigned generation;
    int sigfd;
    struct adc_transport *ch; /* the main thread's connection: connect, poll, disconnect */
    unsigned ch_generation;
    char *agent_id;
    int poll_wait;
    bool ready_sent;
    bool stopping;
    bool reconnect; /* a reload changed the server connection */
    bool fatal;     /* the secret was rejected */
    struct adc_workers *workers;
    struct adc_sync *sync; /* the sync in flight or finished, NULL when none */
    struct adc_live *live; /* live changes (agent-live.h), NULL when off */
};

static bool str_same(const char *a, const char *b) { return (!a && !b) || adc_streq(a, b); }

/* Whether two adc.cfg files lead to the same channel (URL, credentials, TLS, proxy). */
static bool same_connection(const struct adc_service_config *a,
                            const struct adc_service_config *b) {
    return str_same(a->server_url, b->server_url) && str_same(a->app_id, b->app_id) &&
           str_same(a->secret, b->secret) && str_same(a->ca_file, b->ca_file) &&
           str_same(a->proxy, b->proxy) && a->tls_verify == b->tls_verify;
}

static void notify_reloading(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    /* MONOTONIC_USEC lets systemd (Type=notify-reload) match this with the SIGHUP it sent. */
    sd_notifyf(0, "RELOADING=1\nSTATUS=reloading the configuration\nMONOTONIC_USEC=%llu",
               (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
}

/* SIGHUP: load adc.cfg and adc.yaml again the way the command line found them. An invalid new
 * configuration is refused and the old one stays; work in flight keeps the snapshot it has. */
static void reload(struct agent *a) {
    notify_reloading();
    log_notice("SIGHUP: reloading the configuration");
    struct adc_context fresh = {
        .cfg_path_option = a->ctx->cfg_path_option,
        .yaml_path_option = a->ctx->yaml_path_option,
    };
    int r = adc_context_load(&fresh, ADC_NEED_YAML | ADC_NEED_SERVICE);
    if (r != ADC_EXIT_OK || !fresh.yaml || !fresh.service) {
        adc_context_done(&fresh);
        log_error("the new configuration is invalid (see above); keeping the one loaded before");
        sd_notify(0, "READY=1\nSTATUS=new configuration refused; running with the previous one");
        return;
    }
    struct adc_agent_config *next =
        adc_agent_config_new(TAKE_PTR(fresh.yaml), TAKE_PTR(fresh.service), ++a->generation);
    adc_context_done(&fresh);
    if (!next) {
        log_error("cannot reload the configuration: out of memory; keeping the one loaded before");
        sd_notify(0, "READY=1");
        return;
    }
    if (!same_connection(a->cfg->service, next->service)) {
        /* The open poll still uses the old credentials; the loop reconnects after it. */
        a->reconnect = true;
        log_notice("the server connection changed; reconnecting");
    }
    adc_agent_config_unref(a->cfg);
    a->cfg = next; /* the agent's reference now; in-flight work holds its own */
    /* Live changes start again with the new configuration, from the saved position. */
    adc_live_stop(a->live);
    a->live = NULL;
    if (adc_live_start(a->cfg, &a->live) < 0)
        log_error("live changes stay off until the next reload");
    /* The password check's idle directory connections (lookups and binds) and the TLS
     * context: the next checks connect again, reading a CA file replaced on disk; checks in
     * flight close theirs when done. */
    adc_ldap_auth_pool_flush();
    log_notice("configuration reloaded");
    sd_notify(0, "READY=1\nSTATUS=configuration reloaded");
}

/* Reads pending signals; returns -ECANCELED when the agent must stop. */
static int handle_signals(struct agent *a) {
    struct signalfd_siginfo si;
    for (;;) {
        ssize_t n = read(a->sigfd, &si, sizeof(si));
        if (n != (ssize_t)sizeof(si))
            break;
        switch (si.ssi_signo) {
        case SIGHUP: reload(a); break;
        case SIGTERM:
        case SIGINT:
            if (!a->stopping) {
                log_notice("%s: stopping", si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
                sd_notify(0, "STOPPING=1\nSTATUS=stopping");
            }
            a->stopping = true;
            break;
        default: break;
        }
    }
    return a->stopping ? -ECANCELED : 0;
}

static int on_wake(void *userdata) { return handle_signals(userdata); }

/* Sleeps the backoff delay, still answering signals. */
static void backoff_sleep(struct agent *a, unsigned ms) {
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long elapsed =
            (now.tv_sec - start.tv_sec) * 1000LL + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (elapsed >= ms || a->stopping)
            return;
        struct pollfd p = {.fd = a->sigfd, .events = POLLIN};
        if (poll(&p, 1, (int)(ms - elapsed)) > 0)
            handle_signals(a);
    }
}

static int ensure_channel(struct agent *a) {
    if (a->ch && a->ch_generation == a->cfg->generation)
        return 0;
    adc_transport_free(a->ch);
    a->ch = NULL;
    int r = adc_transport_new(a->cfg->service, NULL, &a->ch, NULL);
    if (r < 0)
        return r;
    a->ch_generation = a->cfg->generation;
    adc_transport_set_wake(a->ch, a->sigfd, 1000, on_wake, a);
    return 0;
}

static void secret_rejected(struct agent *a) {
    log_error("the Secret Token was rejected (rotated or wrong); update adc.cfg ('%s') with "
              "the current secret of Application ID '%s' on %s, then restart adc",
              a->cfg->service->path ? a->cfg->service->path : "adc.cfg", a->cfg->service->app_id,
              adc_transport_url(a->ch));
    sd_notify(0, "STATUS=the Secret Token was rejected; update adc.cfg");
    a->fatal = true;
}

static void disconnect(struct agent *a) {
    if (!a->agent_id || !a->ch)
        goto out;
    /* No wake function here: the stop is already decided and this must not be cut short by a
     * second SIGTERM. */
    adc_transport_set_wake(a->ch, -1, 0, NULL, NULL);
    int r = adc_agent_api_disconnect(a->ch, a->agent_id);
    adc_transport_set_wake(a->ch, a->sigfd, 1000, on_wake, a);
    if (r == 0)
        log_info("disconnected from %s", adc_transport_url(a->ch));
    else
        log_debug("disconnect not acknowledged");
out:
    free(a->agent_id);
    a->agent_id = NULL;
    adc_live_set_agent_id(NULL);
}

/* POST /api/v1/agent/connect. Returns 0 when connected, -EAGAIN to retry later, -ECANCELED when
 * stopping, -EPERM when the secret was rejected. */
static int connect_agent(struct agent *a) {
    char host[256] = "unknown";
    gethostname(host, sizeof(host) - 1);
    _cleanup_free_ char *why = NULL;
    char *id = NULL;
    int wait = DEFAULT_POLL_WAIT;
    int r = adc_agent_api_connect(a->ch, host, &id, &wait, &why);
    if (r == -EBADMSG) {
        log_warning("%s answered the connect without a usable agent_id", adc_transport_url(a->ch));
        return -EAGAIN;
    }
    if (r == -EAGAIN) {
        log_warning("cannot connect to %s: %s", adc_transport_url(a->ch), why ? why : "error");
        sd_notifyf(0, "STATUS=cannot connect to %s: %s", adc_transport_url(a->ch),
                   why ? why : "error");
        return r;
    }
    if (r < 0)
        return r;
    a->agent_id = id;
    adc_live_set_agent_id(id);
    a->poll_wait = wait;
    log_notice("connected to %s as Application ID '%s' (agent %s)", adc_transport_url(a->ch),
               a->cfg->service->app_id, a->agent_id);
    /* READY=1 after the first connect: before it the service does nothing useful. Later
     * reconnects only update the status line. */
    sd_notifyf(0, "%sSTATUS=connected to %s", a->ready_sent ? "" : "READY=1\n",
               adc_transport_url(a->ch));
    a->ready_sent = true;
    return 0;
}

static void refuse_command(struct agent *a, const char *id, const char *why) {
    if (adc_wire_id_valid(id))
        adc_agent_api_post_result(a->ch, id, ADC_OUTCOME_UNAVAILABLE, why);
}

static void dispatch(struct agent *a, json_t *cmd) {
    struct adc_agent_command c;
    const char *why;
    if (adc_agent_command_parse(cmd, &c, &why) < 0) {
        /* Never the password; the id only once it is known to be harmless. */
        log_warning("ignoring command %s: %s", c.id ? c.id : "(without a valid id)", why);
        /* A sync without a run has nothing to report to; others get an answer. */
        if (c.id && c.type != ADC_AGENT_CMD_SYNC)
            refuse_command(a, c.id, why);
        return;
    }
    if (c.type == ADC_AGENT_CMD_CHECK_PASSWORD) {
        int r = adc_workers_submit(a->workers, a->cfg, c.id, c.username, c.password);
        if (r == -EAGAIN)
            refuse_command(a, c.id, "the agent is overloaded");
        else if (r < 0)
            refuse_command(a, c.id, "the agent is out of memory");
        return;
    }
    /* c.type == ADC_AGENT_CMD_SYNC: the parser knows no other type. */
    const char *run_id = c.run_id;
    /* The server allows one sync at a time per configuration, so a new one means it has
     * seen the previous run's final report: that thread is only closing its connection.
     * Syncs started back to back (the benchmark does) found it there and were refused. */
    if (a->sync && !adc_sync_wait(a->sync, 5000)) {
        /* Still running after that: a server bug or a clock oddity; say so in the run
         * instead of running two at once. */
        adc_sync_report_refused(a->cfg, run_id, "this agent is already running a sync");
        return;
    }
    adc_sync_free(a->sync);
    a->sync = NULL;
    int r = adc_sync_start(a->cfg, run_id, c.dry_run, &a->sync);
    if (r < 0) {
        log_error("cannot start sync run %s: %s", run_id, strerror(-r));
        adc_sync_report_refused(a->cfg, run_id, "the agent could not start the sync");
    }
}

/* One long poll. Returns 0 to poll again at once, -EAGAIN after a failure that needs a pause,
 * -ENOENT when the server forgot this agent, -EPERM, -ECANCELED. */
static int poll_once(struct agent *a) {
    json_t *cmds = NULL;
    _cleanup_free_ char *why = NULL;
    int r = adc_agent_api_poll(a->ch, a->agent_id, a->poll_wait, &cmds, &why);
    if (r == 0) {
        size_t i;
        json_t *c;
        json_array_foreach(cmds, i, c) dispatch(a, c);
        json_decref(cmds);
        return 0;
    }
    if (r == -ENOENT)
        log_notice("%s no longer knows this agent (restarted?); connecting again",
                   adc_transport_url(a->ch));
    if (r != -EAGAIN)
        return r;
    log_warning("lost the connection to %s: %s", adc_transport_url(a->ch), why ? why : "error");
    sd_notifyf(0, "STATUS=lost the connection to %s: %s", adc_transport_url(a->ch),
               why ? why : "error");
    return r;
}

/* Commands carry passwords; the JSON parser's memory is wiped before it is reused. */
static void wiping_free(void *p) {
    if (p) {
        explicit_bzero(p, malloc_usable_size(p));
        free(p);
    }
}

static void stop_sync(struct agent *a) {
    if (!a->sync)
        return;
    if (adc_sync_running(a->sync)) {
        log_notice("waiting up to %d s for the sync in flight to stop", STOP_SYNC_GRACE_S);
        adc_sync_cancel(a->sync);
        if (!adc_sync_wait(a->sync, STOP_SYNC_GRACE_S * 1000)) {
            /* Exiting kills the thread; the run must not look like it is still going. */
            adc_sync_report_abandoned(a->sync, "adc was stopped (SIGTERM) before the sync ended");
            disconnect(a);
            _exit(ADC_EXIT_FAILURE);
        }
    }
    adc_sync_free(a->sync);
    a->sync = NULL;
}

/* Blocks the signals before any thread starts, so every thread inherits the mask and only the
 * returned signalfd sees them. Returns the descriptor, or -1 after logging why. */
static int open_signalfd(void) {
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGPIPE);
    if (pthread_sigmask(SIG_BLOCK, &mask, NULL) != 0) {
        log_error("cannot block signals");
        return -1;
    }
    sigdelset(&mask, SIGPIPE);
    int fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        log_error("cannot create a signalfd: %s", strerror(errno));
    return fd;
}

/* Connect, poll, dispatch, until stopping or the secret is rejected; failures wait a backoff.
 * Returns 0, or -ENOMEM when the HTTP client cannot be created. */
static int serve(struct agent *a) {
    struct adc_backoff bo;
    adc_backoff_init(&bo, BACKOFF_BASE_MS, BACKOFF_CAP_MS,
                     (unsigned)getpid() ^ (unsigned)time(NULL));
    while (!a->stopping) {
        if (a->reconnect) {
            disconnect(a); /* with the old client, whose credentials the server knows */
            a->reconnect = false;
        }
        if (ensure_channel(a) < 0) {
            log_error("cannot create the HTTP client");
            return -ENOMEM;
        }
        if (!a->agent_id) {
            int r = connect_agent(a);
            if (r == -EPERM) {
                secret_rejected(a);
                break;
            }
            if (r == -ECANCELED)
                break;
            if (r < 0) {
                unsigned ms = adc_backoff_next_ms(&bo);
                log_notice("retrying in %.1f s", ms / 1000.0);
                backoff_sleep(a, ms);
                continue;
            }
            adc_backoff_reset(&bo);
        }
        int r = poll_once(a);
        if (r == 0) {
            adc_backoff_reset(&bo);
            continue;
        }
        if (r == -ECANCELED)
            break;
        if (r == -EPERM) {
            secret_rejected(a);
            break;
        }
        if (r == -ENOENT) {
            free(a->agent_id);
            a->agent_id = NULL;
            adc_live_set_agent_id(NULL);
            continue; /* connect again at once */
        }
        /* A failed poll keeps the agent id: after a short outage (or a 5xx) the server still
         * knows this agent and the sync it carries; one that forgot it answers 404. */
        unsigned ms = adc_backoff_next_ms(&bo);
        log_notice("polling again in %.1f s", ms / 1000.0);
        backoff_sleep(a, ms);
    }
    return 0;
}

int adc_agent_run(struct adc_context *ctx, unsigned n_workers) {
    struct agent a = {.ctx = ctx, .sigfd = -1, .poll_wait = DEFAULT_POLL_WAIT};
    int status = ADC_EXIT_FAILURE;

    json_set_alloc_funcs(malloc, wiping_free);
    if ((a.sigfd = open_signalfd()) < 0)
        return ADC_EXIT_FAILURE;

    a.cfg = adc_agent_config_new(TAKE_PTR(ctx->yaml), TAKE_PTR(ctx->service), 0);
    if (!a.cfg) {
        log_error("out of memory");
        goto out;
    }
    int r = adc_workers_new(n_workers, &a.workers);
    if (r < 0) {
        log_error("cannot start the password-check threads: %s", strerror(-r));
        goto out;
    }

    if (adc_live_start(a.cfg, &a.live) < 0)
        log_error("live changes are off: they could not start");
    log_notice("adc %s starting: server %s, Application ID '%s'", ADC_VERSION,
               a.cfg->service->server_url, a.cfg->service->app_id);
    if (serve(&a) < 0)
        goto out;

    /* Stop: answer the checks already queued, end the sync, then say goodbye. */
    if (a.fatal)
        sd_notify(0, "STOPPING=1");
    adc_workers_free(a.workers);
    a.workers = NULL;
    adc_live_stop(a.live); /* its position is saved after every accepted change */
    a.live = NULL;
    stop_sync(&a);
    if (!a.fatal)
        disconnect(&a);
    status = a.fatal ? ADC_EXIT_CONFIG : ADC_EXIT_OK;
    if (!a.fatal)
        log_notice("stopped");
out:
    adc_live_stop(a.live);
    adc_workers_free(a.workers);
    adc_ldap_auth_pool_flush(); /* no check runs any more: close the pooled connections */
    adc_sync_free(a.sync);
    free(a.agent_id);
    adc_transport_free(a.ch);
    adc_agent_config_unref(a.cfg);
    if (a.sigfd >= 0)
        close(a.sigfd);
    return status;
}
