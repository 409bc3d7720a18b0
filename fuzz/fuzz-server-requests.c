/* Requests from the network to adc-server, through the real HTTP layer: the first byte picks
 * an endpoint (SCIM Users create/replace/PATCH/search, Bulk, the agent channel's connect,
 * result and disconnect, run records, login, sync configurations) and the rest is its body;
 * one value of the first byte sends the rest as a whole raw HTTP request (request line and
 * headers included). The server runs in this process (one instance, a temporary SQLite file,
 * port 0 on 127.0.0.1), so a crash, a leak or a sanitizer report in any request thread stops
 * the fuzzer. Whatever the bytes: an HTTP answer comes, and it is never a 500. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <jansson.h>

#include "http/auth.h"
#include "api/channel.h"
#include "http/http.h"
#include "common/log.h"
#include "server.h"
#include "store/store-configs.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ADMIN_TOKEN "fuzz-admin-token-0123456789abcdef"

static struct adc_server srv;
static struct MHD_Daemon *daemon_;
static unsigned port;
static char db_path[] = "/tmp/adc-fuzz-server-XXXXXX";
static char sync_auth[256]; /* "Bearer <secret>" of the sync configuration */
static char user_id[64] = "none";

static void cleanup(void) {
    if (daemon_)
        adc_http_stop(daemon_);
    adc_channel_stop(&srv);
    adc_channel_free(&srv);
    adc_auth_free(srv.auth);
    adc_store_free(srv.store);
    char p[sizeof(db_path) + 8];
    unlink(db_path);
    snprintf(p, sizeof(p), "%s-wal", db_path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", db_path);
    unlink(p);
}

/* One request on a fresh connection; returns the HTTP status (0: no answer) and, when body_out
 * is given, the answer's body (malloc'ed). */
static unsigned request(const char *raw, size_t raw_len, bool half_close, char **body_out) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        abort();
    struct timeval tv = {.tv_sec = 20};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        abort();
    for (size_t off = 0; off < raw_len;) {
        ssize_t n = send(fd, raw + off, raw_len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break; /* the server may answer (413, 400) and close before reading everything */
        off += (size_t)n;
    }
    /* A raw request may never end by itself: say that nothing more comes. Not for complete
     * requests: libmicrohttpd may take the half-close for a client that has gone and drop
     * the answer (no bug: real clients wait for the answer before closing). */
    if (half_close)
        shutdown(fd, SHUT_WR);
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap + 1);
    for (ssize_t n; (n = recv(fd, buf + len, cap - len, 0)) > 0;) {
        len += (size_t)n;
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
    }
    buf[len] = '\0';
    close(fd);
    unsigned status = 0;
    if (len > 12 && !strncmp(buf, "HTTP/1.", 7))
        status = (unsigned)atoi(buf + 9);
    if (body_out) {
        char *b = strstr(buf, "\r\n\r\n");
        *body_out = strdup(b ? b + 4 : "");
    }
    free(buf);
    return status;
}

static unsigned call(const char *method, const char *path, const char *auth, const char *body,
                     size_t body_len, char **body_out) {
    char *raw = NULL;
    size_t raw_len = 0;
    FILE *f = open_memstream(&raw, &raw_len);
    fprintf(f,
            "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            "Content-Type: application/scim+json\r\nContent-Length: %zu\r\n",
            method, path, body_len);
    if (auth)
        fprintf(f, "Authorization: %s\r\n", auth);
    fputs("\r\n", f);
    fwrite(body, 1, body_len, f);
    fclose(f);
    unsigned st = request(raw, raw_len, false, body_out);
    free(raw);
    return st;
}

static void setup(void) {
    adc_log_set_level(getenv("FUZZ_SERVER_LOG") ? ADC_LOG_DEBUG : ADC_LOG_ERROR);
    int fd = mkstemp(db_path);
    if (fd < 0)
        abort();
    close(fd);
    unlink(db_path);
    srv.login_timeout = 1; /* a sign-in waits this long for an agent that never answers */
    if (adc_store_open(db_path, true, &srv.store) < 0 || adc_auth_new(&srv.auth) < 0 ||
        adc_channel_start(&srv) < 0)
        abort();
    char hash[ADC_TOKEN_HASH_SIZE], now[24];
    adc_auth_hash(ADMIN_TOKEN, hash);
    adc_store_now(now);
    struct adc_db *db = adc_store_acquire(srv.store);
    if (!db || adc_db_begin(db, true) < 0 || adc_store_token_insert(db, "fuzz", hash, now) < 0 ||
        adc_db_commit(db) < 0)
        abort();
    adc_store_release(db);
    struct adc_http_options opts = {.listen = "127.0.0.1:0"};
    if (adc_http_start(&srv, &opts, &daemon_) < 0)
        abort();
    port = adc_http_port(daemon_);
    atexit(cleanup);

    /* A sync configuration, and one user of it that PATCH and PUT find. */
    char *out = NULL;
    const char *cfg = "{\"name\":\"fuzz\"}";
    if (call("POST", "/api/v1/sync-configs", "Bearer " ADMIN_TOKEN, cfg, strlen(cfg), &out) !=
        201)
        abort();
    json_t *j = json_loads(out, 0, NULL);
    free(out);
    snprintf(sync_auth, sizeof(sync_auth), "Bearer %s",
             json_string_value(json_object_get(j, "secret")));
    json_decref(j);
    const char *user = "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
                       "\"userName\":\"ann\",\"externalId\":\"e-ann\",\"active\":true}";
    if (call("POST", "/scim/v2/Users", sync_auth, user, strlen(user), &out) != 201)
        abort();
    j = json_loads(out, 0, NULL);
    free(out);
    snprintf(user_id, sizeof(user_id), "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
}

enum who { ADMIN, SYNC, NOBODY };
static const struct {
    const char *method, *path;
    enum who who;
} endpoints[] = {
    {"POST", "/scim/v2/Bulk", SYNC},
    {"POST", "/scim/v2/Bulk", ADMIN},
    {"POST", "/scim/v2/Users", SYNC},
    {"PUT", "/scim/v2/Users/%s", SYNC},
    {"PATCH", "/scim/v2/Users/%s", SYNC},
    {"PATCH", "/scim/v2/Users/%s", ADMIN},
    {"POST", "/scim/v2/Users/.search", SYNC},
    {"POST", "/api/v1/agent/connect", SYNC},
    {"POST", "/api/v1/agent/commands/%s/result", SYNC},
    {"POST", "/api/v1/agent/disconnect", SYNC},
    {"POST", "/api/v1/agent/runs", SYNC},
    {"PUT", "/api/v1/agent/runs/%s", SYNC},
    {"POST", "/api/v1/login", NOBODY},
    {"POST", "/api/v1/sync-configs", ADMIN},
    {"PATCH", "/api/v1/sync-configs/%s", ADMIN},
};
#define N_ENDPOINTS (sizeof(endpoints) / sizeof(endpoints[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, setup);
    if (size < 1)
        return 0;
    unsigned status;
    unsigned pick = data[0] % (N_ENDPOINTS + 1);
    if (pick == N_ENDPOINTS) {
        /* The whole rest is the request: request line, headers and all. */
        status = request((const char *)data + 1, size - 1, true, NULL);
        /* A request the server could not even read may get no answer; a 500 never. */
        if (status == 500)
            __builtin_trap();
        return 0;
    }
    char path[128];
    snprintf(path, sizeof(path), endpoints[pick].path, user_id);
    const char *auth = endpoints[pick].who == ADMIN  ? "Bearer " ADMIN_TOKEN
                       : endpoints[pick].who == SYNC ? sync_auth
                                                     : NULL;
    status = call(endpoints[pick].method, path, auth, (const char *)data + 1, size - 1, NULL);
    /* A complete, well-formed request always gets an answer, and bad input is the client's
     * fault (4xx); 503 is a sign-in without an agent. */
    if (status < 200 || (status >= 500 && status != 503)) {
        fprintf(stderr, "%s %s: HTTP %u\n", endpoints[pick].method, path, status);
        __builtin_trap();
    }
    return 0;
}
