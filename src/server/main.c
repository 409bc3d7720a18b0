/* adc-server: the cloud side. main() only parses the command line and dispatches. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "api/admin-accounts.h"
#include "http/auth.h"
#include "api/channel.h"
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
          "        [--trusted-proxy ADDR]  a reverse proxy (address or network, repeatable):\n"
          "                                the client address comes from its X-Forwarded-For\n"
          "        [--public-url URL]      the address users reach; https:// makes the console's\n"
          "                                cookies Secure and __Host- (TLS ends at a proxy)\n"
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

/* Creates an admin token, stores its hash and prints it on stdout (alone, so that scripts can
 * capture it: TOKEN=$(adc-server --db F init)). */
static int new_admin_token(struct adc_store *store, const char *name) {
    char *token = adc_auth_token_new(ADC_TOKEN_PREFIX_ADMIN);
    if (!token) {
        log_error("cannot generate a token: no randomness");
        return 1;
    }
    char hash[ADC_TOKEN_HASH_SIZE], now[24];
    adc_auth_hash(token, hash);
    adc_store_now(now);
    struct adc_db *db = adc_store_acquire(store);
    int r = db ? adc_db_begin(db, true) : -EIO;
    if (r == 0)
        r = adc_store_token_insert(db, name, hash, now);
    if (r == 0)
        r = adc_store_audit(db, "cli", "token.create", name, NULL);
    if (r == 0)
        r = adc_db_commit(db);
    else if (db)
        adc_db_rollback(db);
    adc_store_release(db);
    if (r < 0) {
        log_error("cannot store the token: database error");
        adc_secret_free(token);
        return 1;
    }
    fprintf(stderr, "System Administrator token '%s' (shown only now; keep it safe):\n", name);
    printf("%s\n", token);
    fflush(stdout);
    adc_secret_free(token);
    return 0;
}

static int cmd_init(const char *db_path, int argc, char **argv) {
    if (argc > 1) {
        log_error("init takes no arguments");
        return 2;
    }
    (void)argv;
    struct adc_store *store;
    if (adc_store_open(db_path, true, &store) < 0)
        return 1;
    log_notice("created database '%s' (schema version %d)", db_path, adc_store_schema_version());
    int r = new_admin_token(store, "admin");
    adc_store_free(store);
    return r;
}

static int print_token(const char *name, const char *created, void *ctx) {
    (void)ctx;
    printf("%s\t%s\n", name, created);
    return 0;
}

static int token_exists(const char *name, const char *created, void *ctx) {
    (void)created;
    struct {
        const char *name;
        bool found;
    } *want = ctx;
    if (strcmp(name, want->name) == 0)
        want->found = true;
    return 0;
}

/* token create --name NAME | token list | token revoke --name NAME */
static int cmd_token(const char *db_path, int argc, char **argv) {
    static const struct option options[] = {
        {"name", required_argument, NULL, 'n'},
        {0},
    };
    const char *sub = argc >= 2 ? argv[1] : "";
    bool create = !strcmp(sub, "create"), list = !strcmp(sub, "list"),
         revoke = !strcmp(sub, "revoke");
    if (!create && !list && !revoke) {
        log_error("usage: adc-server --db FILE token create|revoke --name NAME | token list");
        return 2;
    }
    const char *name = NULL;
    optind = 1;
    for (int c; (c = getopt_long(argc - 1, argv + 1, "n:", options, NULL)) != -1;) {
        if (c == 'n')
            name = optarg;
        else
            return 2;
    }
    if (optind < argc - 1) {
        log_error("token %s: unexpected argument '%s'", sub, argv[optind + 1]);
        return 2;
    }
    if (!list && (!name || !*name || strlen(name) > 100)) {
        log_error("token %s needs --name NAME (1 to 100 characters)", sub);
        return 2;
    }
    struct adc_store *store;
    if (adc_store_open(db_path, false, &store) < 0)
        return 1;
    int ret = 1;
    struct adc_db *db = adc_store_acquire(store);
    if (!db) {
        log_error("database '%s' unavailable", db_path);
        goto out;
    }
    if (list) {
        ret = adc_store_token_list(db, print_token, NULL) < 0 ? 1 : 0;
    } else if (create) {
        struct {
            const char *name;
            bool found;
        } want = {name, false};
        if (adc_store_token_list(db, token_exists, &want) < 0)
            goto out;
        if (want.found) {
            log_error("a token named '%s' exists already; revoke it first or choose another name",
                      name);
            goto out;
        }
        adc_store_release(db);
        db = NULL;
        ret = new_admin_token(store, name);
    } else {
        int n = -1;
        if (adc_db_begin(db, true) == 0 && (n = adc_store_token_delete(db, name)) >= 0 &&
            (n == 0 || adc_store_audit(db, "cli", "token.revoke", name, NULL) == 0) &&
            adc_db_commit(db) == 0) {
            if (n == 0) {
                log_error("no token named '%s' (see: token list)", name);
            } else {
                log_notice("token '%s' revoked; requests with it are refused from now on", name);
                ret = 0;
            }
        } else {
            adc_db_rollback(db);
            log_error("cannot revoke token '%s': database error", name);
        }
    }
out:
    adc_store_release(db);
    adc_store_free(store);
    return ret;
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
        {0},
    };
    struct adc_http_options opts = {.listen = "127.0.0.1:8080"};
    int login_timeout = 10;
    const char *public_url = NULL;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "l:", options, NULL)) != -1;) {
        switch (c) {
        case 'l': opts.listen = optarg; break;
        case 'c': opts.tls_cert_file = optarg; break;
        case 'k': opts.tls_key_file = optarg; break;
        case 'm': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end || n < 1 || n > 1000000) {
                log_error("serve: --max-connections must be 1 to 1000000, not '%s'", optarg);
                return 2;
            }
            opts.max_connections = (unsigned)n;
            break;
        }
        case 'A': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end || n < 1 || n > 1000000) {
                log_error("serve: --per-address-limit must be 1 to 1000000, not '%s'", optarg);
                return 2;
            }
            opts.per_address_limit = (unsigned)n;
            break;
        }
        case 't': {
            char *end;
            long t = strtol(optarg, &end, 10);
            if (*end || t < 1 || t > 300) {
                log_error("serve: --login-timeout must be 1 to 300 seconds, not '%s'", optarg);
                return 2;
            }
            login_timeout = (int)t;
            break;
        }
        case 'I':
        case 'M': {
            char *end;
            long t = strtol(optarg, &end, 10);
            if (*end || t < 1 || t > 30L * 86400) {
                log_error("serve: --session-%s must be 1 to 2592000 seconds, not '%s'",
                          c == 'I' ? "idle" : "max", optarg);
                return 2;
            }
            adc_session_set_limits(c == 'I' ? t : 0, c == 'M' ? t : 0);
            break;
        }
        case 'P':
            if (opts.n_trusted_proxies == ADC_HTTP_MAX_TRUSTED_PROXIES) {
                log_error("serve: at most %d --trusted-proxy (give networks: 10.0.0.0/8)",
                          ADC_HTTP_MAX_TRUSTED_PROXIES);
                return 2;
            }
            if (adc_http_trusted_proxy_valid(optarg) < 0)
                return 2;
            opts.trusted_proxies[opts.n_trusted_proxies++] = optarg;
            break;
        case 'U':
            if (strncmp(optarg, "https://", 8) != 0 && strncmp(optarg, "http://", 7) != 0) {
                log_error("serve: --public-url must start with https:// or http://, not '%s'",
                          optarg);
                return 2;
            }
            public_url = optarg;
            break;
        default: return 2;
        }
    }
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

    struct adc_server srv = {.login_timeout = login_timeout};
    int ret = 1;
    struct MHD_Daemon *d = NULL;
    if (adc_store_open(db_path, false, &srv.store) < 0)
        goto out;
    if (adc_auth_new(&srv.auth) < 0)
        goto out;
    if (adc_channel_start(&srv) < 0)
        goto out;
    if (adc_http_start(&srv, &opts, &d) < 0)
        goto out;
    srv.secure_cookies = srv.tls || (public_url && strncmp(public_url, "https://", 8) == 0);
    /* The address as given (without its port), and the port actually bound (port 0). */
    const char *colon = strrchr(opts.listen, ':');
    int host_len = colon ? (int)(colon - opts.listen) : 0;
    log_notice("listening on %s://%.*s:%u", srv.tls ? "https" : "http", colon ? host_len : 9,
               colon ? opts.listen : "127.0.0.1", adc_http_port(d));
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

int main(int argc, char **argv) {
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
        return cmd_init(db_path, sub_argc, sub_argv);
    if (!strcmp(cmd, "token"))
        return cmd_token(db_path, sub_argc, sub_argv);
    if (!strcmp(cmd, "admin"))
        return adc_admin_command(db_path, sub_argc - 1, sub_argv + 1);
    return cmd_serve(db_path, sub_argc, sub_argv);
}
