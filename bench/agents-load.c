/* adc-bench-agents: many simulated agents on the agent channel (docs/agent-protocol.md), for the
 * 10,000-agent figures of docs/BENCHMARKS.md and tests/integration/test_server_connections.py.
 *
 *   adc-bench-agents --port PORT --configs FILE [--agents 10000] [--per-address 100]
 *                    [--duration 60]
 *
 * FILE has one sync configuration per line: "app_id secret". Agent i belongs to configuration
 * i % (number of lines). Each agent holds one keep-alive connection, connects
 * (POST /api/v1/agent/connect), then long-polls (GET /api/v1/agent/commands?wait=15) without
 * end; it answers every check_password "accepted" unless the password is "wrong" ("denied"),
 * and reports each sync command it receives. Agents connect from 127.1.X.Y, --per-address
 * agents per source address, as agents of many organisations would (and below the server's
 * per-address limit).
 *
 * Why C and one thread with epoll: 10,000 sockets in Python would cost the client more than the
 * server; the figures must be the server's.
 *
 * Output, one JSON object per line on stdout (times are CLOCK_MONOTONIC seconds, the clock of
 * Python's time.monotonic()):
 *   {"event": "ready", "agents": N, "t": T}        every agent connected and polling
 *   {"event": "sync", "run_id": "...", "t": T}     a sync command reached an agent
 *   {"event": "check", "username": "...", "t": T}  a password check reached an agent
 *   {"event": "stats", "polls": N, "errors": N, "reconnects": N, "t": T}  every 5 s and at the end
 * It stops after --duration seconds, on SIGTERM/SIGINT, or when stdin closes. Exit status 0, 2 on
 * usage errors. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_RESPONSE (1024 * 1024)
#define MAX_PENDING 64 /* answers to checks waiting to be sent */

enum step { STEP_CONNECT, STEP_POLL, STEP_RESULT };

struct config {
    char app_id[64];
    char auth[320]; /* "Basic ..." */
};

struct agent {
    int fd;
    bool tcp_up; /* the TCP connect finished */
    bool busy;   /* a request is out */
    enum step step;
    struct config *cfg;
    struct in_addr src;
    char agent_id[40];
    char *out; /* request being sent */
    size_t out_len, out_sent;
    char *in; /* response being read */
    size_t in_len, in_cap;
    char pending[MAX_PENDING][40]; /* check ids to answer */
    bool pending_ok[MAX_PENDING];
    size_t n_pending;
    double retry_at; /* reconnect not before (0: now) */
};

static int port;
static struct config *configs;
static size_t n_configs;
static struct agent *agents;
static size_t n_agents = 10000, per_address = 100;
static double duration = 60;
static int ep;
static volatile sig_atomic_t stop;
static unsigned long polls, errors, reconnects;
static size_t n_ready;
static bool ready_said;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

static int load_configs(const char *path) {
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        char app[64], secret[128];
        if (sscanf(line, "%63s %127s", app, secret) != 2)
            continue;
        void *p = realloc(configs, (n_configs + 1) * sizeof(*configs));
        if (!p) {
            fclose(f);
            return -ENOMEM;
        }
        configs = p;
        struct config *c = &configs[n_configs++];
        snprintf(c->app_id, sizeof(c->app_id), "%s", app);
        char plain[200];
        int n = snprintf(plain, sizeof(plain), "%s:%s", app, secret);
        unsigned char b64[300];
        EVP_EncodeBlock(b64, (const unsigned char *)plain, n);
        snprintf(c->auth, sizeof(c->auth), "Basic %s", b64);
    }
    fclose(f);
    return n_configs ? 0 : -EINVAL;
}

static void close_agent(struct agent *a, bool error) {
    if (a->fd >= 0) {
        epoll_ctl(ep, EPOLL_CTL_DEL, a->fd, NULL);
        close(a->fd);
    }
    a->fd = -1;
    a->tcp_up = a->busy = false;
    free(a->out);
    a->out = NULL;
    a->in_len = 0;
    if (error) {
        errors++;
        a->retry_at = now() + 1.0;
    }
}

static int open_socket(struct agent *a) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr = a->src};
    if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        return -e;
    }
    a->fd = fd;
    a->tcp_up = false;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.ptr = a};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    return 0;
}

static void want_write(struct agent *a, bool on) {
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (on ? EPOLLOUT : 0), .data.ptr = a};
    epoll_ctl(ep, EPOLL_CTL_MOD, a->fd, &ev);
}

static void send_request(struct agent *a, const char *method, const char *path, const char *body) {
    free(a->out);
    a->out = NULL;
    int n =
        body ? asprintf(&a->out,
                        "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: %s\r\n"
                        "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                        method, path, a->cfg->auth, strlen(body), body)
             : asprintf(&a->out, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: %s\r\n\r\n",
                        method, path, a->cfg->auth);
    if (n < 0) {
        a->out = NULL;
        close_agent(a, true);
        return;
    }
    a->out_len = (size_t)n;
    a->out_sent = 0;
    a->busy = true;
    a->in_len = 0;
    want_write(a, true);
}

/* The next request of an agent that is idle. */
static void next_request(struct agent *a) {
    char path[256];
    if (!a->agent_id[0]) {
        a->step = STEP_CONNECT;
        send_request(a, "POST", "/api/v1/agent/connect",
                     "{\"host\":\"bench-agent\",\"version\":\"0.1.0\"}");
    } else if (a->n_pending > 0) {
        a->step = STEP_RESULT;
        size_t i = --a->n_pending;
        snprintf(path, sizeof(path), "/api/v1/agent/commands/%s/result", a->pending[i]);
        send_request(a, "POST", path,
                     a->pending_ok[i] ? "{\"outcome\":\"accepted\",\"reason\":\"bench\"}"
                                      : "{\"outcome\":\"denied\",\"reason\":\"bench\"}");
    } else {
        a->step = STEP_POLL;
        snprintf(path, sizeof(path), "/api/v1/agent/commands?agent_id=%s&wait=15", a->agent_id);
        send_request(a, "GET", path, NULL);
    }
}

static void handle_commands(struct agent *a, json_t *body) {
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(body, "commands"), i, c) {
        const char *type = json_string_value(json_object_get(c, "type"));
        const char *id = json_string_value(json_object_get(c, "id"));
        if (type && strcmp(type, "sync") == 0) {
            printf("{\"event\":\"sync\",\"run_id\":\"%s\",\"t\":%.6f}\n",
                   json_string_value(json_object_get(c, "run_id")), now());
            fflush(stdout);
        } else if (type && id && strcmp(type, "check_password") == 0 &&
                   a->n_pending < MAX_PENDING) {
            const char *pw = json_string_value(json_object_get(c, "password"));
            const char *user = json_string_value(json_object_get(c, "username"));
            json_t *u = json_string(user ? user : "");
            char *uq = json_dumps(u, JSON_ENCODE_ANY);
            printf("{\"event\":\"check\",\"username\":%s,\"t\":%.6f}\n", uq ? uq : "\"\"", now());
            fflush(stdout);
            free(uq);
            json_decref(u);
            snprintf(a->pending[a->n_pending], sizeof(a->pending[0]), "%s", id);
            a->pending_ok[a->n_pending++] = !(pw && strcmp(pw, "wrong") == 0);
        }
    }
}

/* A whole response is in a->in: act on it. */
static void handle_response(struct agent *a, int status, const char *body, size_t len) {
    a->busy = false;
    json_t *j = len ? json_loadb(body, len, 0, NULL) : NULL;
    if (a->step == STEP_CONNECT) {
        const char *id = json_string_value(json_object_get(j, "agent_id"));
        if (status == 201 && id) {
            snprintf(a->agent_id, sizeof(a->agent_id), "%s", id);
            n_ready++;
        } else {
            errors++;
            a->retry_at = now() + 1.0;
        }
    } else if (a->step == STEP_POLL) {
        if (status == 200) {
            polls++;
            handle_commands(a, j);
        } else if (status == 404) { /* the server forgot us: connect again */
            a->agent_id[0] = '\0';
            n_ready--;
            reconnects++;
        } else {
            errors++;
            a->retry_at = now() + 1.0;
        }
    } else if (status != 204 && status != 404) {
        errors++;
    }
    json_decref(j);
}

/* Parses what arrived; returns 1 when a whole response was handled, 0 when more is needed, -1
 * on garbage. */
static int parse(struct agent *a) {
    a->in[a->in_len] = '\0';
    char *end = strstr(a->in, "\r\n\r\n");
    if (!end)
        return 0;
    int status = 0;
    if (sscanf(a->in, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    size_t clen = 0;
    bool close_after = false;
    for (char *l = strstr(a->in, "\r\n"); l && l < end; l = strstr(l + 2, "\r\n")) {
        if (strncasecmp(l + 2, "Content-Length:", 15) == 0)
            clen = strtoul(l + 17, NULL, 10);
        else if (strncasecmp(l + 2, "Connection: close", 17) == 0)
            close_after = true;
    }
    size_t head = (size_t)(end + 4 - a->in);
    if (a->in_len < head + clen)
        return 0;
    handle_response(a, status, a->in + head, clen);
    a->in_len = 0;
    if (close_after)
        close_agent(a, false);
    return 1;
}

static void on_event(struct agent *a, unsigned events) {
    if (a->fd < 0)
        return;
    if (!a->tcp_up && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int err = 0;
        socklen_t l = sizeof(err);
        getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err) {
            close_agent(a, true);
            return;
        }
        a->tcp_up = true;
        next_request(a);
    }
    if ((events & EPOLLOUT) && a->out && a->out_sent < a->out_len) {
        ssize_t n = send(a->fd, a->out + a->out_sent, a->out_len - a->out_sent, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN) {
            close_agent(a, true);
            return;
        }
        if (n > 0)
            a->out_sent += (size_t)n;
        if (a->out_sent == a->out_len)
            want_write(a, false);
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        for (;;) {
            if (a->in_len + 4096 + 1 > a->in_cap) {
                size_t cap = a->in_cap ? a->in_cap * 2 : 8192;
                char *p = cap <= MAX_RESPONSE ? realloc(a->in, cap) : NULL;
                if (!p) {
                    close_agent(a, true);
                    return;
                }
                a->in = p;
                a->in_cap = cap;
            }
            ssize_t n = recv(a->fd, a->in + a->in_len, a->in_cap - a->in_len - 1, 0);
            if (n < 0 && errno == EAGAIN)
                break;
            if (n <= 0) { /* closed by the server (idle timeout, restart) or an error */
                close_agent(a, a->busy);
                return;
            }
            a->in_len += (size_t)n;
            int r;
            while (a->fd >= 0 && a->in_len > 0 && (r = parse(a)) != 0) {
                if (r < 0) {
                    close_agent(a, true);
                    return;
                }
                if (a->fd >= 0 && !a->busy)
                    next_request(a);
            }
            if (a->fd < 0)
                return;
        }
    }
}

static void stats(void) {
    printf("{\"event\":\"stats\",\"agents\":%zu,\"ready\":%zu,\"polls\":%lu,\"errors\":%lu,"
           "\"reconnects\":%lu,\"t\":%.6f}\n",
           n_agents, n_ready, polls, errors, reconnects, now());
    fflush(stdout);
}

int main(int argc, char **argv) {
    static const struct option options[] = {
        {"port", required_argument, NULL, 'p'},     {"configs", required_argument, NULL, 'c'},
        {"agents", required_argument, NULL, 'n'},   {"per-address", required_argument, NULL, 'a'},
        {"duration", required_argument, NULL, 'd'}, {0},
    };
    const char *configs_path = NULL;
    for (int c; (c = getopt_long(argc, argv, "", options, NULL)) != -1;) {
        switch (c) {
        case 'p': port = atoi(optarg); break;
        case 'c': configs_path = optarg; break;
        case 'n': n_agents = strtoul(optarg, NULL, 10); break;
        case 'a': per_address = strtoul(optarg, NULL, 10); break;
        case 'd': duration = atof(optarg); break;
        default: return 2;
        }
    }
    if (!port || !configs_path || n_agents == 0 || per_address == 0) {
        fprintf(stderr, "usage: adc-bench-agents --port PORT --configs FILE [--agents N] "
                        "[--per-address N] [--duration S]\n");
        return 2;
    }
    if (load_configs(configs_path) < 0) {
        fprintf(stderr, "adc-bench-agents: cannot read %s (lines: app_id secret)\n", configs_path);
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    ep = epoll_create1(EPOLL_CLOEXEC);
    agents = calloc(n_agents, sizeof(*agents));
    if (ep < 0 || !agents)
        return 1;
    /* stdin closing (the driver went away) stops us too. */
    fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
    struct epoll_event sev = {.events = EPOLLIN | EPOLLHUP, .data.ptr = NULL};
    bool watch_stdin = epoll_ctl(ep, EPOLL_CTL_ADD, 0, &sev) == 0;
    (void)watch_stdin;
    for (size_t i = 0; i < n_agents; i++) {
        struct agent *a = &agents[i];
        a->fd = -1;
        a->cfg = &configs[i % n_configs];
        size_t addr = i / per_address;
        a->src.s_addr = htonl((127u << 24) | (1u << 16) | (unsigned)((addr / 250) << 8) |
                              (unsigned)(addr % 250 + 1));
    }
    double start = now(), next_stats = start + 5, next_retry = start + 0.1;
    size_t next_open = 0;
    struct epoll_event evs[512];
    while (!stop && now() - start < duration) {
        double t = now();
        /* Open connections gradually (500 per round) so the listen backlog is not flooded. */
        for (size_t k = 0; k < 500 && next_open < n_agents; k++, next_open++)
            if (open_socket(&agents[next_open]) < 0)
                agents[next_open].retry_at = t + 1.0;
        for (size_t i = 0; t >= next_retry && i < next_open; i++) {
            struct agent *a = &agents[i];
            if (a->fd < 0 && a->retry_at <= t) {
                a->retry_at = t + 1.0;
                if (open_socket(a) == 0)
                    a->retry_at = 0;
            }
        }
        if (t >= next_retry)
            next_retry = t + 0.1;
        if (!ready_said && n_ready == n_agents) {
            ready_said = true;
            printf("{\"event\":\"ready\",\"agents\":%zu,\"t\":%.6f}\n", n_agents, now());
            fflush(stdout);
        }
        if (t >= next_stats) {
            stats();
            next_stats = t + 5;
        }
        int n = epoll_wait(ep, evs, 512, next_open < n_agents ? 1 : 100);
        for (int i = 0; i < n; i++) {
            if (!evs[i].data.ptr) {
                char buf[256];
                ssize_t r = read(0, buf, sizeof(buf));
                if (r == 0 || (r < 0 && errno != EAGAIN)) {
                    epoll_ctl(ep, EPOLL_CTL_DEL, 0, NULL);
                    stop = 1;
                }
                continue;
            }
            on_event(evs[i].data.ptr, evs[i].events);
        }
    }
    stats();
    for (size_t i = 0; i < n_agents; i++) {
        close_agent(&agents[i], false);
        free(agents[i].in);
    }
    free(agents);
    free(configs);
    return 0;
}
