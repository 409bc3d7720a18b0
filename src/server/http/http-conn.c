#include "http/http-internal.h"

#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"

unsigned adc_http_per_address_limit = ADC_HTTP_DEFAULT_PER_ADDRESS;

/* ---- connections: deadlines and per-address counts ----
 * Every connection is tracked from accept to close (MHD_OPTION_NOTIFY_CONNECTION). The timer
 * thread cuts one whose request headers did not arrive within ADC_HTTP_HEADER_DEADLINE by
 * shutting its socket down (MHD then closes it on its own thread; MHD notifies "closed" before it
 * closes the descriptor, and that notification takes track_lock, so the descriptor is never
 * another connection's). */
struct track {
    struct track *prev, *next;
    int fd;
    unsigned char addr[16];
    bool counted; /* in the per-address table */
    bool busy;    /* a request's headers arrived; until its answer is sent */
    bool cut;
    double since; /* when the wait for headers began */
};

#define ADDR_BUCKETS 4096

struct addr_count {
    struct addr_count *next;
    unsigned char addr[16];
    unsigned n;
};

static pthread_mutex_t track_lock = PTHREAD_MUTEX_INITIALIZER;
static struct track *tracks;
static struct addr_count *addr_table[ADDR_BUCKETS];

static size_t addr_hash(const unsigned char a[16]) {
    size_t h = 1469598103934665603ull;
    for (int i = 0; i < 16; i++)
        h = (h ^ a[i]) * 1099511628211ull;
    return h % ADDR_BUCKETS;
}

/* Under track_lock. */
static struct addr_count **addr_slot(const unsigned char a[16]) {
    struct addr_count **p = &addr_table[addr_hash(a)];
    while (*p && memcmp((*p)->addr, a, 16) != 0)
        p = &(*p)->next;
    return p;
}

/* Refuses a connection beyond the per-address limit before MHD sets it up. A trusted proxy
 * carries many clients, so it is not limited (the proxy limits them). */
enum MHD_Result adc_http_accept_policy(void *cls, const struct sockaddr *addr, socklen_t len) {
    (void)cls;
    (void)len;
    unsigned char a[16];
    if (addr->sa_family == AF_INET) {
        memset(a, 0, 10);
        a[10] = a[11] = 0xff;
        memcpy(a + 12, &((const struct sockaddr_in *)addr)->sin_addr, 4);
    } else if (addr->sa_family == AF_INET6) {
        memcpy(a, &((const struct sockaddr_in6 *)addr)->sin6_addr, 16);
    } else {
        return MHD_YES;
    }
    if (adc_http_is_trusted(a))
        return MHD_YES;
    pthread_mutex_lock(&track_lock);
    struct addr_count *c = *addr_slot(a);
    bool ok = !c || c->n < adc_http_per_address_limit;
    pthread_mutex_unlock(&track_lock);
    if (!ok) {
        char text[INET6_ADDRSTRLEN];
        adc_http_format_addr(a, text, sizeof(text));
        log_debug("refused a connection from %s: %u connections from it already", text,
                  adc_http_per_address_limit);
    }
    return ok ? MHD_YES : MHD_NO;
}

void adc_http_notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                                enum MHD_ConnectionNotificationCode code) {
    (void)cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        struct track *t = calloc(1, sizeof(*t));
        if (!t)
            return;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        t->fd = ci ? ci->connect_fd : -1;
        t->since = mono_now();
        pthread_mutex_lock(&track_lock);
        if (adc_http_peer_addr(conn, t->addr) && !adc_http_is_trusted(t->addr)) {
            struct addr_count **slot = addr_slot(t->addr);
            if (!*slot && (*slot = calloc(1, sizeof(**slot))))
                memcpy((*slot)->addr, t->addr, 16);
            if (*slot) {
                (*slot)->n++;
                t->counted = true;
            }
        }
        t->next = tracks;
        if (tracks)
            tracks->prev = t;
        tracks = t;
        pthread_mutex_unlock(&track_lock);
        *socket_context = t;
        return;
    }
    struct track *t = *socket_context;
    if (!t)
        return;
    pthread_mutex_lock(&track_lock);
    if (t->prev)
        t->prev->next = t->next;
    else
        tracks = t->next;
    if (t->next)
        t->next->prev = t->prev;
    if (t->counted) {
        struct addr_count **slot = addr_slot(t->addr);
        if (*slot && --(*slot)->n == 0) {
            struct addr_count *dead = *slot;
            *slot = dead->next;
            free(dead);
        }
    }
    pthread_mutex_unlock(&track_lock);
    *socket_context = NULL;
    free(t);
}

void adc_http_track_busy(struct track *t, bool busy) {
    if (!t)
        return;
    pthread_mutex_lock(&track_lock);
    t->busy = busy;
    t->since = mono_now();
    pthread_mutex_unlock(&track_lock);
}

/* Shuts down connections past their header deadline. */
/* Shuts down connections past their header deadline, and connections between requests whose
 * client closed its side: no request can complete on them (libmicrohttpd's epoll loop does not
 * always notice a hang-up that comes before a request line it can parse, and would keep such a
 * connection until the deadline). The connections between requests are few (agents' polls and
 * requests in progress are busy), so one poll() over them costs little. */
void adc_http_cut_slow_headers(double now) {
    struct pollfd fds[256];
    struct track *which[256];
    size_t n = 0;
    pthread_mutex_lock(&track_lock);
    for (struct track *t = tracks; t; t = t->next) {
        if (t->busy || t->cut || t->fd < 0)
            continue;
        if (now - t->since > ADC_HTTP_HEADER_DEADLINE) {
            shutdown(t->fd, SHUT_RDWR);
            t->cut = true;
        } else if (n < ADC_ARRAY_SIZE(fds)) {
            fds[n] = (struct pollfd){.fd = t->fd, .events = POLLRDHUP};
            which[n++] = t;
        }
    }
    if (n > 0 && poll(fds, n, 0) > 0)
        for (size_t i = 0; i < n; i++)
            if (fds[i].revents & (POLLRDHUP | POLLHUP | POLLERR)) {
                shutdown(which[i]->fd, SHUT_RDWR);
                which[i]->cut = true;
            }
    pthread_mutex_unlock(&track_lock);
}
