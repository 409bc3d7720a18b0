#include "http/http-internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"

/* ---- client addresses and trusted proxies ----
 * Addresses are compared as 16 bytes, IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d), so that a
 * proxy given as "10.0.0.5" matches a peer seen on an IPv6 socket as ::ffff:10.0.0.5. */
struct adc_http_net adc_http_trusted[ADC_HTTP_MAX_TRUSTED_PROXIES];
size_t adc_http_n_trusted;

/* Parses a numeric address (no port, no brackets) of len bytes. */
static bool parse_addr(const char *s, size_t len, unsigned char out[16]) {
    char tmp[INET6_ADDRSTRLEN + 1];
    if (len == 0 || len >= sizeof(tmp))
        return false;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    struct in_addr v4;
    if (inet_pton(AF_INET, tmp, &v4) == 1) {
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &v4, 4);
        return true;
    }
    return inet_pton(AF_INET6, tmp, out) == 1;
}

static bool is_v4_mapped(const unsigned char a[16]) {
    static const unsigned char prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(a, prefix, 12) == 0;
}

void adc_http_format_addr(const unsigned char a[16], char *buf, size_t size) {
    if (!inet_ntop(is_v4_mapped(a) ? AF_INET : AF_INET6, is_v4_mapped(a) ? a + 12 : a, buf,
                   (socklen_t)size))
        snprintf(buf, size, "?");
}

bool adc_http_parse_net(const char *spec, struct adc_http_net *n) {
    const char *slash = strchr(spec, '/');
    size_t len = slash ? (size_t)(slash - spec) : strlen(spec);
    if (!parse_addr(spec, len, n->addr))
        return false;
    unsigned max = is_v4_mapped(n->addr) ? 32 : 128;
    n->prefix = 128;
    if (slash) {
        char *end;
        errno = 0;
        unsigned long p = strtoul(slash + 1, &end, 10);
        if (errno || slash[1] == '\0' || *end || p > max)
            return false;
        n->prefix = (unsigned)p + (128 - max);
    }
    return true;
}

int adc_http_trusted_proxy_valid(const char *spec) {
    struct adc_http_net n;
    if (!spec || !adc_http_parse_net(spec, &n)) {
        log_error("--trusted-proxy %s: give a numeric address (192.0.2.1, 2001:db8::1) or a "
                  "network (10.0.0.0/8)",
                  ADC_LOG_Q(spec));
        return -EINVAL;
    }
    return 0;
}

bool adc_http_is_trusted(const unsigned char a[16]) {
    for (size_t i = 0; i < adc_http_n_trusted; i++) {
        unsigned bits = adc_http_trusted[i].prefix, full = bits / 8, rest = bits % 8;
        if (memcmp(a, adc_http_trusted[i].addr, full) != 0)
            continue;
        if (rest && ((a[full] ^ adc_http_trusted[i].addr[full]) & (0xff << (8 - rest)) & 0xff))
            continue;
        return true;
    }
    return false;
}

bool adc_http_peer_addr(struct MHD_Connection *conn, unsigned char out[16]) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return false;
    if (ci->client_addr->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ci->client_addr;
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &in->sin_addr, 4);
        return true;
    }
    if (ci->client_addr->sa_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr, 16);
        return true;
    }
    return false;
}

/* The X-Forwarded-For headers of a request, in order (a proxy may add a header of its own
 * instead of extending the one it received). */
struct xff {
    const char *values[8];
    size_t n;
    bool overflow;
};

static enum MHD_Result collect_xff(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value) {
    (void)kind;
    struct xff *x = cls;
    if (strcasecmp(key, "X-Forwarded-For") != 0 || !value)
        return MHD_YES;
    if (x->n == ADC_ARRAY_SIZE(x->values)) {
        /* Only the rightmost entries count: keep the last headers. */
        memmove(x->values, x->values + 1, sizeof(x->values) - sizeof(x->values[0]));
        x->n--;
        x->overflow = true;
    }
    x->values[x->n++] = value;
    return MHD_YES;
}

/* Walks the X-Forwarded-For entries from the right: each trusted proxy vouches for the entry to
 * its left. The first entry that is not a trusted proxy is the client; an entry that is not an
 * address (a client can write anything left of what the proxies added) ends the walk at the
 * last address vouched for. */
void adc_http_client_address(struct MHD_Connection *conn, char *buf, size_t size) {
    unsigned char peer[16];
    if (!adc_http_peer_addr(conn, peer)) {
        snprintf(buf, size, "?");
        return;
    }
    unsigned char client[16];
    memcpy(client, peer, 16);
    if (adc_http_n_trusted > 0 && adc_http_is_trusted(peer)) {
        struct xff x = {0};
        MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_xff, &x);
        bool done = false;
        for (size_t h = x.n; h-- > 0 && !done;) {
            const char *v = x.values[h];
            size_t end = strlen(v);
            while (!done) {
                size_t start = end;
                while (start > 0 && v[start - 1] != ',')
                    start--;
                size_t a = start, b = end;
                while (a < b && (v[a] == ' ' || v[a] == '\t'))
                    a++;
                while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
                    b--;
                unsigned char e[16];
                if (!parse_addr(v + a, b - a, e)) {
                    done = true;
                    break;
                }
                memcpy(client, e, 16);
                if (!adc_http_is_trusted(e)) {
                    done = true;
                    break;
                }
                if (start == 0)
                    break;
                end = start - 1;
            }
        }
    }
    adc_http_format_addr(client, buf, size);
}

const char *adc_http_client_addr(const struct adc_http_request *req) { return req->client; }
