/* The TLS handshake watchdog. libldap does the handshake (ldaps:// inside ldap_connect,
 * StartTLS inside ldap_install_tls) in a loop that ignores the network timeout: against a
 * server that accepted the TCP connection and then hangs, it spins on EAGAIN forever. Our
 * deadlines must hold there too, so while a connection is being set up it is registered here,
 * and one background thread shuts the socket down when its deadline passes; libldap then sees
 * the connection closed and returns an error, which open_handle (ldap-conn.c) reports as a
 * timeout. */
#include "directory/ldap-watchdog.h"

#include <pthread.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <time.h>

#include "directory/ldap-conn.h"

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct adc_ldap_watch *head;
    double wakeup; /* when the thread wakes next (0 = waiting for work) */
    bool started;
} wd = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void fire_locked(struct adc_ldap_watch *w) {
    if (w->fd >= 0)
        (void)shutdown(w->fd, SHUT_RDWR);
    w->fired = true;
}

static void *watchdog_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&wd.lock);
    for (;;) {
        double now = adc_ldap_now(), next = 0;
        for (struct adc_ldap_watch *w = wd.head; w; w = w->next) {
            if (w->fired)
                continue;
            if (w->deadline <= now && w->fd >= 0)
                fire_locked(w);
            else if (w->deadline > now && (next == 0 || w->deadline < next))
                next = w->deadline;
        }
        wd.wakeup = next;
        if (next == 0) {
            pthread_cond_wait(&wd.cond, &wd.lock);
        } else {
            struct timespec ts;
            ts.tv_sec = (time_t)next;
            ts.tv_nsec = (long)((next - (double)ts.tv_sec) * 1e9);
            pthread_cond_timedwait(&wd.cond, &wd.lock, &ts);
        }
    }
    return NULL;
}

static void watchdog_start(void) {
    pthread_condattr_t attr;
    pthread_t t;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* adc_ldap_now()'s clock */
    pthread_cond_init(&wd.cond, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&t, NULL, watchdog_main, NULL) == 0) {
        pthread_detach(t);
        wd.started = true;
    }
}

static pthread_once_t watchdog_once = PTHREAD_ONCE_INIT;

void adc_ldap_watch_arm(struct adc_ldap_watch *w, LDAP *ld, double deadline) {
    pthread_once(&watchdog_once, watchdog_start);
    *w = (struct adc_ldap_watch){.ld = ld, .fd = -1, .deadline = deadline};
    pthread_mutex_lock(&wd.lock);
    w->next = wd.head;
    wd.head = w;
    /* Wake the thread only when it would sleep past this deadline. */
    if (wd.started && (wd.wakeup == 0 || deadline < wd.wakeup))
        pthread_cond_signal(&wd.cond);
    pthread_mutex_unlock(&wd.lock);
}

bool adc_ldap_watch_disarm(struct adc_ldap_watch *w) {
    pthread_mutex_lock(&wd.lock);
    for (struct adc_ldap_watch **p = &wd.head; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            break;
        }
    }
    bool fired = w->fired;
    pthread_mutex_unlock(&wd.lock);
    return fired;
}

/* Called by libldap once the TCP connection is up, before any TLS: tells the watchdog which
 * socket belongs to the handle being set up. */
static int on_connect(LDAP *ld, Sockbuf *sb, LDAPURLDesc *srv, struct sockaddr *addr,
                      struct ldap_conncb *ctx) {
    (void)srv, (void)addr, (void)ctx;
    ber_socket_t fd = -1;
    if (ber_sockbuf_ctrl(sb, LBER_SB_OPT_GET_FD, &fd) != 1 || fd < 0)
        return 0;
    /* Once connected, libldap polls (with our timeouts) before it reads, but over TLS it then
     * reads a whole record: a server that stops in the middle of one would block that read
     * forever on a blocking socket. A receive timeout turns it into EAGAIN, which libldap
     * handles as "not yet" and returns to the poll that honours the deadline. */
    struct timeval tv = {1, 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    /* One message from the server is one entry with the few attributes we ask for, or a
     * result: far below this. A larger one is refused instead of being buffered whole. */
    ber_len_t max_incoming = ADC_LDAP_MESSAGE_MAX;
    (void)ber_sockbuf_ctrl(sb, LBER_SB_OPT_SET_MAX_INCOMING, &max_incoming);
    pthread_mutex_lock(&wd.lock);
    for (struct adc_ldap_watch *w = wd.head; w; w = w->next) {
        if (w->ld == ld && !w->fired) {
            w->fd = fd;
            if (adc_ldap_now() >= w->deadline)
                fire_locked(w);
            break;
        }
    }
    pthread_mutex_unlock(&wd.lock);
    return 0;
}

static void on_close(LDAP *ld, Sockbuf *sb, struct ldap_conncb *ctx) {
    (void)ld, (void)sb, (void)ctx;
}

const struct ldap_conncb adc_ldap_watch_callbacks = {on_connect, on_close, NULL};
