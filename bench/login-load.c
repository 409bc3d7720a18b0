/* adc-bench-login: a closed-loop load generator for POST /api/v1/login (docs/product.md section 8).
 *
 *   adc-bench-login --url http://127.0.0.1:PORT/api/v1/login --users FILE
 *                   [--clients 8] [--duration 10] [--out RECORDS]
 *
 * FILE has one login per line: "username<TAB>password<TAB>expected HTTP status". Each client
 * (a thread with its own keep-alive connection, as a web front end would hold) sends one request,
 * waits for the answer, and sends the next, walking the list from its own offset. It stops after
 * --duration seconds or on SIGINT/SIGTERM, whichever comes first.
 *
 * Why C and not Python: at the target rate (>= 1,000 logins/s on 2 cores shared with
 * adc-server, adc and slapd) a Python client would itself eat most of a core and its GIL would
 * add latency that is not the product's.
 *
 * Output: a JSON summary on stdout ({"requests", "unexpected", "errors", "seconds", ...}); with
 * --out, one line per request "start_seconds latency_seconds status expected" (CLOCK_MONOTONIC,
 * the clock of Python's time.monotonic(), so the driver can cut out the time a sync ran).
 * Exit status 0 when every request got its expected status, 1 otherwise, 2 on usage errors. */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct login {
    char *body;   /* {"username": ..., "password": ...} */
    long expected;
};

struct record {
    double start;   /* seconds, CLOCK_MONOTONIC */
    double latency; /* seconds */
    long status;    /* HTTP status, 0 when the request failed at the transport level */
    long expected;
};

struct client {
    pthread_t thread;
    size_t index;
    struct record *records;
    size_t n, cap;
    char error[CURL_ERROR_SIZE]; /* the first transport error, for the summary */
    size_t n_errors;
};

static const char *opt_url;
static struct login *logins;
static size_t n_logins;
static size_t n_clients = 8;
static double deadline;
static volatile sig_atomic_t stop_requested;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *userdata) {
    (void)ptr, (void)userdata;
    return size * nmemb;
}

/* Appends s to the JSON string being built in out (at most cap bytes), escaping as RFC 8259
 * requires. Returns the new length, or cap + 1 when it does not fit. */
static size_t json_append(char *out, size_t len, size_t cap, const char *s) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        size_t k;
        if (c == '"' || c == '\\') {
            esc[0] = '\\', esc[1] = (char)c, k = 2;
        } else if (c < 0x20) {
            k = (size_t)snprintf(esc, sizeof esc, "\\u%04x", c);
        } else {
            esc[0] = (char)c, k = 1;
        }
        if (len + k >= cap)
            return cap + 1;
        memcpy(out + len, esc, k);
        len += k;
    }
    out[len] = '\0';
    return len;
}

static int load_logins(const char *path) {
    FILE *f = fopen(path, "re");
    if (!f) {
        fprintf(stderr, "adc-bench-login: cannot open '%s': %s\n", path, strerror(errno));
        return -1;
    }
    char line[1024];
    size_t cap = 0, lineno = 0;
    int r = -1;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!*line)
            continue;
        char *user = line, *pw = strchr(line, '\t'), *exp = NULL;
        if (pw) {
            *pw++ = '\0';
            exp = strchr(pw, '\t');
        }
        if (!exp) {
            fprintf(stderr, "adc-bench-login: %s:%zu: expected username<TAB>password<TAB>status\n",
                    path, lineno);
            goto out;
        }
        *exp++ = '\0';
        char body[1200];
        size_t len = (size_t)snprintf(body, sizeof body, "{\"username\": \"");
        len = json_append(body, len, sizeof body - 32, user);
        if (len < sizeof body - 32)
            len += (size_t)snprintf(body + len, sizeof body - len, "\", \"password\": \"");
        if (len < sizeof body - 32)
            len = json_append(body, len, sizeof body - 32, pw);
        if (len >= sizeof body - 32) {
            fprintf(stderr, "adc-bench-login: %s:%zu: line too long\n", path, lineno);
            goto out;
        }
        strcpy(body + len, "\"}");
        if (n_logins == cap) {
            cap = cap ? cap * 2 : 1024;
            struct login *n = realloc(logins, cap * sizeof *n);
            if (!n)
                goto oom;
            logins = n;
        }
        logins[n_logins].body = strdup(body);
        if (!logins[n_logins].body)
            goto oom;
        logins[n_logins].expected = strtol(exp, NULL, 10);
        n_logins++;
    }
    if (n_logins == 0) {
        fprintf(stderr, "adc-bench-login: '%s' holds no logins\n", path);
        goto out;
    }
    r = 0;
    goto out;
oom:
    fprintf(stderr, "adc-bench-login: out of memory\n");
out:
    fclose(f);
    return r;
}

static int record_add(struct client *c, struct record rec) {
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 4096;
        struct record *n = realloc(c->records, cap * sizeof *n);
        if (!n)
            return -1;
        c->records = n;
        c->cap = cap;
    }
    c->records[c->n++] = rec;
    return 0;
}

static void *client_main(void *arg) {
    struct client *c = arg;
    CURL *h = curl_easy_init();
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (!h || !headers) {
        snprintf(c->error, sizeof c->error, "cannot create a curl handle");
        c->n_errors++;
        goto out;
    }
    char errbuf[CURL_ERROR_SIZE];
    curl_easy_setopt(h, CURLOPT_URL, opt_url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);

    for (size_t i = c->index; !stop_requested; i += n_clients) {
        const struct login *l = &logins[i % n_logins];
        double t0 = now();
        if (t0 >= deadline)
            break;
        errbuf[0] = '\0';
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, l->body);
        CURLcode rc = curl_easy_perform(h);
        double t1 = now();
        long status = 0;
        if (rc == CURLE_OK) {
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        } else {
            if (c->n_errors++ == 0)
                snprintf(c->error, sizeof c->error, "%s", *errbuf ? errbuf : curl_easy_strerror(rc));
        }
        if (record_add(c, (struct record){t0, t1 - t0, status, l->expected}) < 0) {
            snprintf(c->error, sizeof c->error, "out of memory");
            c->n_errors++;
            break;
        }
    }
out:
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    return NULL;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(const double *sorted, size_t n, double p) {
    if (n == 0)
        return 0;
    size_t k = (size_t)(p * (double)(n - 1) + 0.5);
    return sorted[k < n ? k : n - 1];
}

static void usage(FILE *f) {
    fputs("Usage: adc-bench-login --url URL --users FILE [--clients N] [--duration S] [--out FILE]\n",
          f);
}

int main(int argc, char **argv) {
    static const struct option options[] = {
        {"url", required_argument, NULL, 'u'},     {"users", required_argument, NULL, 'f'},
        {"clients", required_argument, NULL, 'c'}, {"duration", required_argument, NULL, 'd'},
        {"out", required_argument, NULL, 'o'},     {"help", no_argument, NULL, 'h'},
        {0},
    };
    const char *users_path = NULL, *out_path = NULL;
    double duration = 10;
    for (int o; (o = getopt_long(argc, argv, "h", options, NULL)) != -1;) {
        switch (o) {
        case 'u': opt_url = optarg; break;
        case 'f': users_path = optarg; break;
        case 'c': n_clients = strtoul(optarg, NULL, 10); break;
        case 'd': duration = strtod(optarg, NULL); break;
        case 'o': out_path = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!opt_url || !users_path || n_clients < 1 || n_clients > 1024 || !(duration > 0)) {
        usage(stderr);
        return 2;
    }
    if (load_logins(users_path) < 0)
        return 2;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        fprintf(stderr, "adc-bench-login: curl_global_init failed\n");
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    struct client *clients = calloc(n_clients, sizeof *clients);
    if (!clients)
        return 1;
    double t_start = now();
    deadline = t_start + duration;
    size_t started = 0;
    for (; started < n_clients; started++) {
        clients[started].index = started;
        if (pthread_create(&clients[started].thread, NULL, client_main, &clients[started]) != 0) {
            fprintf(stderr, "adc-bench-login: cannot start client %zu\n", started);
            stop_requested = 1;
            break;
        }
    }
    for (size_t i = 0; i < started; i++)
        pthread_join(clients[i].thread, NULL);
    double t_end = now();

    size_t total = 0, unexpected = 0, errors = 0, ok = 0;
    const char *first_error = NULL;
    for (size_t i = 0; i < started; i++) {
        total += clients[i].n;
        errors += clients[i].n_errors;
        if (!first_error && clients[i].n_errors)
            first_error = clients[i].error;
    }
    double *lat = malloc((total ? total : 1) * sizeof *lat);
    FILE *out = out_path ? fopen(out_path, "we") : NULL;
    if (!lat || (out_path && !out)) {
        fprintf(stderr, "adc-bench-login: cannot write results: %s\n", strerror(errno));
        return 1;
    }
    long first_unexpected[2] = {0, 0};
    size_t k = 0;
    for (size_t i = 0; i < started; i++) {
        for (size_t j = 0; j < clients[i].n; j++) {
            const struct record *r = &clients[i].records[j];
            lat[k++] = r->latency;
            if (r->status == 200)
                ok++;
            if (r->status != r->expected && unexpected++ == 0) {
                first_unexpected[0] = r->status;
                first_unexpected[1] = r->expected;
            }
            if (out)
                fprintf(out, "%.6f %.6f %ld %ld\n", r->start, r->latency, r->status, r->expected);
        }
    }
    if (out && fclose(out) != 0) {
        fprintf(stderr, "adc-bench-login: cannot write '%s': %s\n", out_path, strerror(errno));
        return 1;
    }
    qsort(lat, total, sizeof *lat, cmp_double);
    double secs = t_end - t_start;
    printf("{\"clients\": %zu, \"requests\": %zu, \"accepted\": %zu, \"unexpected\": %zu, "
           "\"errors\": %zu, \"seconds\": %.3f, \"per_second\": %.1f, \"p50_ms\": %.3f, "
           "\"p99_ms\": %.3f, \"max_ms\": %.3f",
           started, total, ok, unexpected, errors, secs, secs > 0 ? (double)total / secs : 0,
           percentile(lat, total, 0.50) * 1e3, percentile(lat, total, 0.99) * 1e3,
           total ? lat[total - 1] * 1e3 : 0);
    if (unexpected)
        printf(", \"first_unexpected\": {\"status\": %ld, \"expected\": %ld}", first_unexpected[0],
               first_unexpected[1]);
    if (first_error) {
        char esc[CURL_ERROR_SIZE * 6 + 1];
        json_append(esc, 0, sizeof esc, first_error);
        printf(", \"first_error\": \"%s\"", esc);
    }
    printf("}\n");

    for (size_t i = 0; i < started; i++)
        free(clients[i].records);
    free(clients);
    free(lat);
    for (size_t i = 0; i < n_logins; i++)
        free(logins[i].body);
    free(logins);
    curl_global_cleanup();
    return unexpected == 0 && errors == 0 && total > 0 ? 0 : 1;
}
