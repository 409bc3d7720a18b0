/* adc-server: the cloud side. main() only parses the command line and dispatches. */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "cli/admin.h"
#include "cli/token.h"
#include "http/auth.h"
#include "http/downloads.h"
#include "api/channel.h"
#include "api/cluster.h"
#include "http/http.h"
#include "common/log.h"
#include "common/secret.h"
#include "server.h"
#include "http/sessions.h"
#include "store/store-configs.h"
#include "store/store-runs.h"
#include "store/store.h"

static void usage(FILE *f) {
    fputs("Usage: adc-server --db FILE COMMAND [ARGS]\n"
          "\n"
          "Commands:\n"
          "  init                          create the database; print a System Administrator\n"
          "                                token (shown once)\n"
          "  serve [--listen ADDR:PORT] [--tls-cert FILE --tls-key FILE]\n"
          "                                serve the HTTP API, SCIM 2.0 and the agent channel\n"
          "                                (default 127.0.0.1:8080; port 0 picks a free port)\n"
          "        [--login-timeout S]     seconds a sign-in waits for the agent (default 10)\n"
          "        [--session-idle S] [--session-max S]\n"
          "                                web console sessions end after S seconds without a\n"
          "                                request (default 1800) or S after sign-in (43200)\n"
          "        [--max-connections N]   simultaneous connections (default 20000)\n"
          "        [--per-address-limit N] simultaneous connections from one client address\n"
          "                                (default 128; trusted proxies are not limited)\n"
          "        [--schedule-minute S]   for tests: a minute of sync_interval_minutes lasts S\n"
          "                                seconds (default 60)\n"
          "        [--run-timeout S]       a sync run without a heartbeat for S seconds is\n"
          "                                recorded failed (default 120)\n"
          "        [--trusted-proxy ADDR]  a reverse proxy (address or network, repeatable):\n"
          "                                the client address comes from its X-Forwarded-For\n"
          "        [--public-url URL]      the address users reach; https:// makes the console's\n"
          "                                cookies Secure and __Host- (TLS ends at a proxy)\n"
          "        [--downloads DIR]       offer the files of DIR at /downloads/NAME (the\n"
          "                                ad-connect archive the console links to)\n"
          "  token create --name NAME      another System Administrator token (shown once)\n"
          "  token list                    the tokens' names and creation times\n"
          "  token revoke --name NAME      delete a token; it stops working at once\n"
          "  admin create|password NAME    a web console account, or its new password (read\n"
          "                                from stdin); admin delete NAME; admin list\n"
          "  version                       print the version\n"
          "\n"
          "Options:\n"
          "  --db FILE   the SQLite database (or $ADC_SERVER_DB)\n"
          "  -v          more output (twice for debug)\n"
          "  -q          errors only\n"
          "  -h, --help  this text\n",
          f);
}

/* What `serve` was told on its command line. */
struct serve_options {
    struct adc_http_options http;
    int login_timeout, schedule_minute, run_timeout;
    const char *public_url, *downloads_dir;
};

/* --name's whole number from min to max (unit: " seconds" or ""); false, logged, otherwise. */
static bool int_option(const char *name, const char *arg, long min, long max, const char *unit,
                       long *out) {
    char *end;
    long n = strtol(arg, &end, 10);
    if (*end || n < min || n > max) {
        log_error("serve: --%s must be %ld to %ld%s, not '%s'", name, min, max, unit, arg);
        return false;
    }
    *out = n;
    return true;
}

/* One option of serve (getopt's c and optarg); false when the command must exit with 2. */
static bool serve_option(int c, const char *arg, struct serve_options *o) {
    long n;
    switch (c) {
    case 'l': o->http.listen = arg; return true;
    case 'c': o->http.tls_cert_file = arg; return true;
    case 'k': o->http.tls_key_file = arg; return true;
    case 'D': o->downloads_dir = arg; return adc_downloads_check_dir(arg) >= 0;
    case 'm':
        if (!int_option("max-connections", arg, 1, 1000000, "", &n))
            return false;
        o->http.max_connections = (unsigned)n;
        return true;
    case 'A':
        if (!int_option("per-address-limit", arg, 1, 1000000, "", &n))
            return false;
        o->http.per_address_limit = (unsigned)n;
        return true;
    case 't':
        if (!int_option("login-timeout", arg, 1, 300, " seconds", &n))
            return false;
        o->login_timeout = (int)n;
        return true;
    case 'S':
        if (!int_option("schedule-minute", arg, 1, 60, " seconds", &n))
            return false;
        o->schedule_minute = (int)n;
        return true;
    case 'R':
        if (!int_option("run-timeout", arg, 2, 3600, " seconds", &n))
            return false;
        o->run_timeout = (int)n;
        return true;
    case 'I':
    case 'M':
        if (!int_option(c == 'I' ? "session-idle" : "session-max", arg, 1, 30L * 86400, " seconds",
                        &n))
            return false;
        adc_session_set_limits(c == 'I' ? n : 0, c == 'M' ? n : 0);
        return true;
    case 'P':
        if (o->http.n_trusted_proxies == ADC_HTTP_MAX_TRUSTED_PROXIES) {
            log_error("serve: at most %d --trusted-proxy (give networks: 10.0.0.0/8)",
                      ADC_HTTP_MAX_TRUSTED_PROXIES);
            return false;
        }
        if (adc_http_trusted_proxy_valid(arg) < 0)
            return false;
        o->http.trusted_proxies[o->http.n_trusted_proxies++] = arg;
        return true;
    case 'U':
        if (strncmp(arg, "https://", 8) != 0 && strncmp(arg, "http://", 7) != 0) {
            log_error("serve: --public-url must start with https:// or http://, not '%s'", arg);
            return false;
        }
        o->public_url = arg;
        return true;
    default: return false;
    }
}

static int cmd_serve(const char *db_path, int argc, char **argv) {
    static const struct option options[] = {
        {"listen", required_argument, NULL, 'l'},
        {"tls-cert", required_argument, NULL, 'c'},
        {"tls-key", required_argument, NULL, 'k'},
        {"max-connections", required_argument, NULL, 'm'},
        {"login-timeout", required_argument, NULL, 't'},
        {"session-idle", required_argument, NULL, 'I'},
        {"session-max", required_argument, NULL, 'M'},
        {"trusted-proxy", required_argument, NULL, 'P'},
        {"per-address-limit", required_argument, NULL, 'A'},
        {"public-url", required_argument, NULL, 'U'},
        {"downloads", required_argument, NULL, 'D'},
        {"schedule-minute", required_argument, NULL, 'S'},
        {"run-timeout", required_argument, NULL, 'R'},
        {0},
    };
    struct serve_options o = {
        .http = {.listen = "127.0.0.1:8080"},
        .login_timeout = 10,
        .schedule_minute = 60,
        .run_timeout = 120,
    };
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "l:", options, NULL)) != -1;)
        if (!serve_option(c, optarg, &o))
            return 2;
    if (optind < argc) {
        log_error("serve: unexpected argument '%s'", argv[optind]);
        return 2;
    }
    /* Block the stop signals in every thread; this one waits for them with sigwait. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct adc_server srv = {
        .login_timeout = o.login_timeout,
        .downloads_dir = o.downloads_dir,
        .schedule_minute = o.schedule_minute,
        .run_timeout = o.run_timeout,
    };
    int ret = 1;
    struct MHD_Daemon *d = NULL;
    if (adc_store_open(db_path, false, &srv.store) < 0)
        goto out;
    if (adc_auth_new(&srv.auth) < 0)
        goto out;
    if (adc_channel_start(&srv) < 0)
        goto out;
    if (adc_http_start(&srv, &o.http, &d) < 0)
        goto out;
    /* Several instances on PostgreSQL: known to the others by host and port from now on. */
    if (adc_cluster_start(&srv, adc_http_port(d)) < 0)
        goto out;
    srv.secure_cookies = srv.tls || (o.public_url && strncmp(o.public_url, "https://", 8) == 0);
    /* The address as given (without its port), and the port actually bound (port 0). */
    const char *colon = strrchr(o.http.listen, ':');
    int host_len = colon ? (int)(colon - o.http.listen) : 0;
    log_notice("listening on %s://%.*s:%u", srv.tls ? "https" : "http", colon ? host_len : 9,
               colon ? o.http.listen : "127.0.0.1", adc_http_port(d));
    sd_notify(0, "READY=1");
    int sig = 0;
    sigwait(&stop, &sig);
    log_notice("stopping (signal %d)", sig);
    sd_notify(0, "STOPPING=1");
    srv.stopping = true;
    adc_channel_stop(&srv); /* long polls and waiting sign-ins return, so HTTP can stop */
    ret = 0;
out:
    adc_http_stop(d);
    adc_channel_free(&srv);
    adc_auth_free(srv.auth);
    adc_store_free(srv.store);
    free(srv.tls_cert_pem);
    adc_secret_free(srv.tls_key_pem);
    return ret;
}

/* glibc's defaults give a block of 128 kB or more its own mmap and unmap it on free (the
 * threshold then rises to what was freed, up to 32 MB, but only one size at a time), and trim
 * the heap as soon as 128 kB at its top are free. A Bulk request handles a few blocks of
 * 0.1-1 MB each (its body, its operations, its answer): each came fresh from the kernel,
 * zeroed and faulted in page by page, and went back at the end, which cost 10-14% of the
 * server's CPU in a first import (docs/BENCHMARKS.md, issue 21). Kept in the heap instead:
 * blocks up to 64 MB are never mmap'd, up to 256 MB free at a heap's top is kept for the next
 * request, and the heap grows 16 MB at a time. What it costs: the process keeps about its peak
 * heap (the bulk requests in flight, a few MB each) instead of returning it when idle.
 * GLIBC_TUNABLES still wins when it sets any of these (an administrator's choice). */
static void tune_malloc(void) {
    const char *t = getenv("GLIBC_TUNABLES");
    if (t && strstr(t, "glibc.malloc."))
        return;
    mallopt(M_MMAP_THRESHOLD, 64 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
    mallopt(M_TOP_PAD, 16 * 1024 * 1024);
}

int main(int argc, char **argv) {
    tune_malloc();
    static const struct option options[] = {
        {"db", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    adc_log_set_program("adc-server");
    const char *db_path = getenv("ADC_SERVER_DB");
    int verbosity = 0;
    for (int c; (c = getopt_long(argc, argv, "+d:vqh", options, NULL)) != -1;) {
        switch (c) {
        case 'd': db_path = optarg; break;
        case 'v':
            verbosity++;
            adc_log_set_level(verbosity > 1 ? ADC_LOG_DEBUG : ADC_LOG_INFO);
            break;
        case 'q': adc_log_set_level(ADC_LOG_ERROR); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        log_error("no command given");
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[optind];
    if (strcmp(cmd, "version") == 0) {
        printf("adc-server %s\n", ADC_VERSION);
        return 0;
    }
    bool known = !strcmp(cmd, "init") || !strcmp(cmd, "serve") || !strcmp(cmd, "token") ||
                 !strcmp(cmd, "admin");
    if (!known) {
        log_error("unknown command '%s'", cmd);
        usage(stderr);
        return 2;
    }
    if (!db_path || !*db_path) {
        log_error("%s needs the database: --db FILE", cmd);
        return 2;
    }
    int sub_argc = argc - optind;
    char **sub_argv = argv + optind;
    if (!strcmp(cmd, "init"))
        return adc_cli_init(db_path, sub_argc, sub_argv);
    if (!strcmp(cmd, "token"))
        return adc_cli_token(db_path, sub_argc, sub_argv);
    if (!strcmp(cmd, "admin"))
        return adc_admin_command(db_path, sub_argc - 1, sub_argv + 1);
    return cmd_serve(db_path, sub_argc, sub_argv);
}
