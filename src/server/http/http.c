#include "http/http.h"
#include "http/http-internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/macros.h"
#include "common/secret.h"
#include "http/downloads.h"
#include "server.h"

/* The HTTP daemon: listening, TLS, the connection limits, and starting and stopping the parts
 * (the access handler in http-access.c, the workers in http-run.c, the timer in http-timer.c). */

/* Each connection's buffer for request headers and body pieces (MHD's default is 32 KiB, and
 * MHD clears it between requests, so it is resident): 16 KiB holds any header set a client of
 * this API sends (a SCIM filter is at most ADC_SCIM_MAX_FILTER_LEN) and halves the memory of
 * 10,000 idle agents. */
#define CONNECTION_MEMORY (16u * 1024)
/* The event loop's listen backlog: 10,000 agents reconnecting after a restart arrive at once. */
#define LISTEN_BACKLOG 4096
/* No certificate or key is this large. */
#define PEM_MAX (1024u * 1024)

static void mhd_logger(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    log_debug("microhttpd: %s", line);
}

/* Parses "ADDR:PORT", "[V6]:PORT" or "PORT" (address 127.0.0.1). */
static int parse_listen(const char *listen, struct sockaddr_storage *ss, bool *v6) {
    char host[128] = "127.0.0.1";
    const char *port = listen;
    if (listen[0] == '[') {
        const char *end = strchr(listen, ']');
        if (!end || end[1] != ':' || (size_t)(end - listen - 1) >= sizeof(host))
            return -EINVAL;
        memcpy(host, listen + 1, end - listen - 1);
        host[end - listen - 1] = '\0';
        port = end + 2;
    } else if (strchr(listen, ':')) {
        const char *colon = strrchr(listen, ':');
        if ((size_t)(colon - listen) >= sizeof(host))
            return -EINVAL;
        memcpy(host, listen, colon - listen);
        host[colon - listen] = '\0';
        port = colon + 1;
    }
    char *end;
    errno = 0;
    unsigned long p = strtoul(port, &end, 10);
    if (errno || *port == '\0' || *end || p > 65535)
        return -EINVAL;
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons(p);
        *v6 = false;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(p);
        *v6 = true;
        return 0;
    }
    return -EINVAL;
}

/* 10,000 agents need 10,000 descriptors: raise the soft limit to the hard one, and keep the
 * connection limit below what the process may open (SQLite and the listen socket need some). */
static unsigned fit_descriptors(unsigned want) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return want;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)want + 64) {
        unsigned fit = rl.rlim_cur > 128 ? (unsigned)rl.rlim_cur - 64 : 64;
        log_warning("open files limited to %llu: serving at most %u connections instead of %u "
                    "(raise LimitNOFILE)",
                    (unsigned long long)rl.rlim_cur, fit, want);
        return fit;
    }
    return want;
}

/* --tls-cert and --tls-key, both or neither: the PEM texts in *cert and *key (NULL without TLS).
 * 0, or -EINVAL (logged) with nothing to free. */
static int read_tls(const struct adc_http_options *opts, char **cert, char **key) {
    *cert = *key = NULL;
    if ((opts->tls_cert_file != NULL) != (opts->tls_key_file != NULL)) {
        log_error("--tls-cert and --tls-key go together");
        return -EINVAL;
    }
    if (!opts->tls_cert_file)
        return 0;
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        log_error("this libmicrohttpd was built without TLS support");
        return -EINVAL;
    }
    int e = adc_read_file(opts->tls_cert_file, PEM_MAX, cert, NULL);
    if (e < 0) {
        log_error("cannot read TLS certificate '%s': %s", opts->tls_cert_file, strerror(-e));
        return -EINVAL;
    }
    e = adc_read_file(opts->tls_key_file, PEM_MAX, key, NULL);
    if (e < 0) {
        log_error("cannot read TLS key '%s': %s", opts->tls_key_file, strerror(-e));
        free(*cert);
        *cert = NULL;
        return -EINVAL;
    }
    return 0;
}

/* --trusted-proxy into the table http-client-addr.c reads; false (logged) on a bad one. */
static bool set_trusted_proxies(const struct adc_http_options *opts) {
    adc_http_n_trusted = 0;
    for (size_t i = 0; i < opts->n_trusted_proxies && i < ADC_HTTP_MAX_TRUSTED_PROXIES; i++) {
        if (!adc_http_parse_net(opts->trusted_proxies[i], &adc_http_trusted[adc_http_n_trusted])) {
            adc_http_trusted_proxy_valid(opts->trusted_proxies[i]);
            return false;
        }
        adc_http_n_trusted++;
    }
    return true;
}

int adc_http_start(struct adc_server *srv, const struct adc_http_options *opts,
                   struct MHD_Daemon **out) {
    struct sockaddr_storage ss;
    bool v6 = false;
    const char *listen = opts->listen ? opts->listen : "127.0.0.1:8080";
    if (parse_listen(listen, &ss, &v6) < 0) {
        log_error("invalid --listen '%s'; use ADDR:PORT, [IPV6]:PORT or PORT", listen);
        return -EINVAL;
    }
    /* One epoll thread for every connection; suspended connections (credentials being checked,
     * handlers running, long polls waiting) are out of its set until resumed. */
    unsigned flags = MHD_USE_EPOLL | MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    if (v6)
        flags |= MHD_USE_IPv6;
    char *cert = NULL, *key = NULL;
    int r = -EINVAL;
    if (read_tls(opts, &cert, &key) < 0)
        goto out;
    if (cert) {
        flags |= MHD_USE_TLS;
        srv->tls = true;
    }
    if (!set_trusted_proxies(opts))
        goto out;
    adc_http_per_address_limit =
        opts->per_address_limit ? opts->per_address_limit : ADC_HTTP_DEFAULT_PER_ADDRESS;
    unsigned max_conn = fit_descriptors(opts->max_connections ? opts->max_connections
                                                              : ADC_HTTP_DEFAULT_MAX_CONNECTIONS);
    unsigned n_workers = opts->workers ? opts->workers : ADC_HTTP_DEFAULT_WORKERS;
    r = adc_http_workers_start(n_workers);
    if (r < 0) {
        log_error("cannot start the worker threads: %s", strerror(-r));
        goto out;
    }
    r = adc_http_timer_start();
    if (r < 0) {
        log_error("cannot start the timer thread");
        goto out;
    }
    struct MHD_OptionItem tls_opts[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, key},
        {MHD_OPTION_END, 0, NULL},
    };
    if (!cert)
        tls_opts[0].option = MHD_OPTION_END;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, adc_http_accept_policy, NULL, adc_http_access_handler, srv, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED, adc_http_request_completed, NULL,
        MHD_OPTION_NOTIFY_CONNECTION, adc_http_notify_connection, NULL, MHD_OPTION_CONNECTION_LIMIT,
        max_conn, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)LISTEN_BACKLOG,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
        /* Idle connections (no bytes either way) are closed; suspended ones (long polls) are not
         * idle in MHD's sense. */
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)ADC_HTTP_IDLE_TIMEOUT, MHD_OPTION_EXTERNAL_LOGGER,
        mhd_logger, NULL, MHD_OPTION_UNESCAPE_CALLBACK, adc_http_unescape_keep_nul, NULL,
        MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
    if (!d) {
        log_error("cannot listen on %s (address in use, or TLS certificate and key not valid)",
                  listen);
        r = -EADDRINUSE;
        goto out;
    }
    *out = d;
    /* MHD keeps pointers to the PEM data; they live as long as the server. */
    srv->tls_cert_pem = TAKE_PTR(cert);
    srv->tls_key_pem = TAKE_PTR(key);
    r = 0;
out:
    if (r < 0)
        adc_http_stop(NULL);
    adc_secret_free(key);
    free(cert);
    return r;
}

void adc_http_stop(struct MHD_Daemon *d) {
    /* Requests in the workers' hands finish first (the hub was shut down before: long polls
     * and sign-ins waiting for an agent end at once); delayed answers leave now. */
    adc_http_timer_stop();
    adc_http_wait_in_flight();
    if (d)
        MHD_stop_daemon(d);
    adc_http_workers_stop();
}

unsigned adc_http_port(struct MHD_Daemon *d) {
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    return di ? di->port : 0;
}
