/* What the parts of the HTTP layer share (http.c: the daemon, its start and stop; http-access.c:
 * the access handler on the event loop; http-run.c: the workers' jobs and deferred answers;
 * http-timer.c: delayed answers and the header deadline's sweep; http-route.c: routes and
 * credentials; http-body.c: the request body; http-response.c: answers; http-client-addr.c: client
 * addresses and trusted proxies; http-conn.c: connection tracking, per-address limits, the header
 * deadline); not for use outside src/server/http/http*.c. */
#pragma once

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <time.h>

#include "common/buf.h"
#include "http/http.h"
#include "http/workers.h"

enum phase {
    PHASE_AUTH,   /* credentials being checked on a worker (connection suspended) */
    PHASE_BODY,   /* reading the body on the event loop */
    PHASE_RUN,    /* the handler runs on a worker, or its answer is deferred or delayed */
    PHASE_ANSWER, /* the answer is ready: sent at the next call of the access handler */
    PHASE_SENT,
};

struct track;

/* Per-request state kept by MHD between calls of the access handler. While the connection is
 * suspended (PHASE_AUTH, PHASE_RUN) only the worker, wake or timer that owns it touches it. */
struct conn_state {
    struct adc_server *srv;
    struct MHD_Connection *conn;
    struct track *track;
    enum phase phase;
    bool auth_resumed; /* the access handler's next call repeats the header-time call */
    bool auth_later;   /* a small body: credentials checked with the handler (one job) */
    const struct adc_route *route;
    const char *url, *method;
    char scratch[1024]; /* the route's {} segments */
    struct adc_http_request req;
    struct adc_http_response res;
    struct adc_buf body; /* a secret one: sign-in bodies hold passwords */
    size_t max_body;
    bool too_large;
    size_t drained; /* bytes of an oversized body read and dropped */
    double start;   /* monotonic seconds */
    double body_start;
    /* A job on the workers, or a wait in the timer's list. */
    struct adc_work work;
    /* Deferral (adc_http_defer / adc_http_wake), under defer_lock. */
    bool woken;   /* a wake came while the handler ran */
    bool waiting; /* deferred, handler returned: the next wake submits the resume */
    double answer_at;
    struct conn_state *timer_next;
};

static inline double mono_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- http-access.c ---- */
/* MHD's access handler and request-completed callbacks (cls is the struct adc_server). */
enum MHD_Result adc_http_access_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                        const char *method, const char *version,
                                        const char *upload_data, size_t *upload_data_size,
                                        void **con_cls);
void adc_http_request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                                enum MHD_RequestTerminationCode toe);

/* ---- http-run.c ---- */
/* Starts n worker threads (and up to ADC_HTTP_MAX_WORKERS for waits); 0 or a negative errno. */
int adc_http_workers_start(unsigned n);
/* Waits (up to 5 s) for the suspended requests to be resumed. */
void adc_http_wait_in_flight(void);
/* Stops and frees the workers; nothing when none were started. */
void adc_http_workers_stop(void);
/* Suspends st's connection and checks its credentials on a worker; the connection resumes to
 * read the body (PHASE_BODY) or with the refusal (PHASE_ANSWER). */
void adc_http_check_credentials(struct conn_state *st);
/* Suspends st's connection and runs its route's handler on a worker (PHASE_RUN). */
void adc_http_run_handler(struct conn_state *st);
/* The answer in st->res is ready: resumes the connection to send it (PHASE_ANSWER). */
void adc_http_resume_answer(struct conn_state *st);

/* ---- http-timer.c ---- */
/* Starts the timer thread; 0 or -EAGAIN. */
int adc_http_timer_start(void);
/* Sends the delayed answers at once and joins the thread; nothing when it was not started. */
void adc_http_timer_stop(void);
/* Resumes st with its answer at st->answer_at (at once when the timer is stopping). */
void adc_http_timer_add(struct conn_state *st);

/* ---- http-route.c ---- */
/* The route for st's method and URL, its {} segments in st->req.params; NULL when none, with
 * *path_known set when the path exists for another method (405 rather than 404). */
const struct adc_route *adc_http_find_route(struct conn_state *st, bool *path_known);
/* Checks the request's credentials for its route; false with the answer (401/403/503, and the
 * delay that slows a guesser down) in st->res. */
bool adc_http_credentials_ok(struct conn_state *st);

/* ---- http-body.c ---- */
/* Whether a Content-Type is application/json or application/scim+json. */
bool adc_http_json_media_type(const char *ct);
/* Whether the request announces a body (a Content-Length above 0, or Transfer-Encoding). */
bool adc_http_has_body(struct MHD_Connection *conn);
/* The size check of the headers; true when the answer (413) is in st->res. */
bool adc_http_size_check(struct conn_state *st);
/* Appends a piece of the body; false closes the connection. */
bool adc_http_body_data(struct conn_state *st, const char *data, size_t n);

/* ---- http-response.c ---- */
/* Queues res on conn; takes res->raw. */
enum MHD_Result adc_http_send_response(struct MHD_Connection *conn, struct adc_http_response *res);
/* Frees what res holds and clears it. */
void adc_http_response_done(struct adc_http_response *res);

/* ---- http-client-addr.c ---- */
/* Addresses are 16 bytes, IPv4 as IPv4-mapped IPv6. */
struct adc_http_net {
    unsigned char addr[16];
    unsigned prefix; /* bits, of the 128 */
};
/* The --trusted-proxy networks, set by adc_http_start. */
extern struct adc_http_net adc_http_trusted[ADC_HTTP_MAX_TRUSTED_PROXIES];
extern size_t adc_http_n_trusted;
bool adc_http_parse_net(const char *spec, struct adc_http_net *n);
bool adc_http_is_trusted(const unsigned char a[16]);
void adc_http_format_addr(const unsigned char a[16], char *buf, size_t size);
/* The connection's peer address; false when it has none. */
bool adc_http_peer_addr(struct MHD_Connection *conn, unsigned char out[16]);
/* The client's address as text (through trusted proxies' X-Forwarded-For). */
void adc_http_client_address(struct MHD_Connection *conn, char *buf, size_t size);

/* ---- http-conn.c ---- */
/* Connections allowed from one address (--per-address-limit), set by adc_http_start. */
extern unsigned adc_http_per_address_limit;
/* MHD's accept policy and connection notification callbacks. */
enum MHD_Result adc_http_accept_policy(void *cls, const struct sockaddr *addr, socklen_t len);
void adc_http_notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                                enum MHD_ConnectionNotificationCode code);
/* Marks a connection (t may be NULL) as serving a request, or as waiting for the next one. */
void adc_http_track_busy(struct track *t, bool busy);
/* Called by the timer thread about every 0.1 s. */
void adc_http_cut_slow_headers(double now);
