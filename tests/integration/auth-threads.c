/* Drives adc_ldap_check_password from many threads at once, as `adc run` does, against the
 * slapd of test_ldap_auth.py (users from harness/ldif.py: userNNNNNN@example.org, password
 * "pw-userNNNNNN"). Every fourth check uses a wrong password. Prints one line of JSON:
 *   {"checks":n,"wrong_answers":n,"unavailable":n,"per_second":x,"p50_ms":x,"p99_ms":x}
 * A wrong answer is an accepted wrong password or a denied right one.
 *
 * usage: auth-threads URL BIND_DN BIND_PASSWORD BASE_DN N_USERS THREADS CHECKS_PER_THREAD [ROUNDS]
 * ($ADC_TEST_CA_FILE: the CA for an ldaps:// URL). With ROUNDS > 1 the whole run is repeated,
 * and between rounds the program prints its line and waits for a line on stdin: the test
 * restarts slapd meanwhile, so the next round finds the pooled connections broken. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "directory/ldap-auth.h"

static struct adc_ldap_config cfg;
static int n_users, per_thread;

struct worker {
    pthread_t t;
    int id;
    int wrong, unavailable;
    double *latencies;
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *run(void *arg) {
    struct worker *w = arg;
    for (int i = 0; i < per_thread; i++) {
        int k = (w->id * 7919 + i * 31) % n_users;
        char name[64], password[64];
        bool right = (i % 4) != 0;
        snprintf(name, sizeof(name), "user%06d@example.org", k);
        snprintf(password, sizeof(password), right ? "pw-user%06d" : "pw-wrong%06d", k);
        char *reason = NULL;
        double t = now();
        enum adc_auth_outcome o = adc_ldap_check_password(&cfg, name, password, &reason);
        w->latencies[i] = now() - t;
        if (o == ADC_AUTH_UNAVAILABLE) {
            w->unavailable++;
            fprintf(stderr, "unavailable: %s\n", reason);
        } else if ((o == ADC_AUTH_ACCEPTED) != right) {
            w->wrong++;
            fprintf(stderr, "wrong answer for %s: %s\n", name, reason);
        }
        free(reason);
    }
    return NULL;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc != 8 && argc != 9) {
        fprintf(stderr, "usage: %s URL BIND_DN BIND_PASSWORD BASE_DN N_USERS THREADS CHECKS\n",
                argv[0]);
        return 2;
    }
    cfg = (struct adc_ldap_config){
        .addr = argv[1],
        .bind_dn = argv[2],
        .bind_password = argv[3],
        .base_dn = argv[4],
        .scope = ADC_SCOPE_SUB,
        .tls_verify = true,
        .network_timeout = 5,
        .timeout = 10,
        .username_attribute = "mail",
        .username_filter_template = "(&(objectClass=inetOrgPerson)(mail=%s))",
        .auth_timeout = 5,
    };
    cfg.ca_file = getenv("ADC_TEST_CA_FILE"); /* for ldaps:// URLs */
    /* As adc does: a write to a connection the restarted server closed must be an error the
     * check handles, not a signal that ends the program. */
    signal(SIGPIPE, SIG_IGN);
    n_users = atoi(argv[5]);
    int threads = atoi(argv[6]);
    per_thread = atoi(argv[7]);
    int rounds = argc == 9 ? atoi(argv[8]) : 1;
    if (n_users <= 0 || threads <= 0 || per_thread <= 0 || rounds <= 0)
        return 2;

    struct worker *w = calloc((size_t)threads, sizeof(*w));
    double *lat = calloc((size_t)threads * (size_t)per_thread, sizeof(double));
    if (!w || !lat)
        return 1;
    for (int round = 0; round < rounds; round++) {
        if (round > 0) {
            char line[16];
            if (!fgets(line, sizeof(line), stdin))
                break;
        }
        memset(w, 0, (size_t)threads * sizeof(*w));
        double t0 = now();
        for (int i = 0; i < threads; i++) {
            w[i].id = i;
            w[i].latencies = lat + (size_t)i * (size_t)per_thread;
            if (pthread_create(&w[i].t, NULL, run, &w[i]) != 0)
                return 1;
        }
        int wrong = 0, unavailable = 0;
        for (int i = 0; i < threads; i++) {
            pthread_join(w[i].t, NULL);
            wrong += w[i].wrong;
            unavailable += w[i].unavailable;
        }
        double elapsed = now() - t0;
        size_t n = (size_t)threads * (size_t)per_thread;
        qsort(lat, n, sizeof(double), cmp);
        printf("{\"checks\":%zu,\"wrong_answers\":%d,\"unavailable\":%d,\"per_second\":%.0f,"
               "\"p50_ms\":%.2f,\"p99_ms\":%.2f}\n",
               n, wrong, unavailable, (double)n / elapsed, lat[n / 2] * 1e3,
               lat[n * 99 / 100] * 1e3);
        fflush(stdout);
    }
    adc_ldap_auth_pool_flush();
    free(lat);
    free(w);
    return 0;
}
