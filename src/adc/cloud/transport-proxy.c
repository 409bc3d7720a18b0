/* Which proxy the transport uses (adc.cfg's `proxy`, else https_proxy / HTTPS_PROXY unless
 * no_proxy names the server's host), chosen once for every request of the transport. */
#include "cloud/transport.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/macros.h"

/* The host of an absolute URL ("scheme://[user@]host[:port]/..."), lower case, brackets of an
 * IPv6 literal removed, into buf. Returns false when there is none. */
static bool url_host(const char *url, char *buf, size_t size) {
    const char *p = strstr(url, "://");
    if (!p)
        return false;
    p += 3;
    size_t end = strcspn(p, "/?#");
    const char *at = memchr(p, '@', end);
    if (at) {
        end -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    size_t n;
    if (*p == '[') {
        const char *close = memchr(p, ']', end);
        if (!close)
            return false;
        p++;
        n = (size_t)(close - p);
    } else {
        const char *colon = memchr(p, ':', end);
        n = colon ? (size_t)(colon - p) : end;
    }
    if (n == 0 || n >= size)
        return false;
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] - 'A' + 'a' : p[i]);
    buf[n] = '\0';
    return true;
}

bool adc_transport_no_proxy_match(const char *host, const char *no_proxy) {
    if (!host || !no_proxy)
        return false;
    size_t hl = strlen(host);
    for (const char *p = no_proxy; *p;) {
        p += strspn(p, ", \t");
        size_t n = strcspn(p, ", \t");
        const char *e = p;
        p += n;
        if (n == 1 && *e == '*')
            return true;
        if (n > 0 && *e == '.') {
            e++;
            n--;
        }
        if (n == 0 || n > hl)
            continue;
        /* The host itself, or a subdomain: "example.com" covers "a.example.com", not
         * "badexample.com". */
        if (strncasecmp(host + hl - n, e, n) == 0 && (n == hl || host[hl - n - 1] == '.'))
            return true;
    }
    return false;
}

const char *adc_transport_proxy_choose(const char *url, const char *configured,
                                       char *(*env)(const char *name)) {
    if (configured && *configured)
        return configured;
    char host[256];
    if (!url || !url_host(url, host, sizeof(host)))
        return NULL;
    const char *no_proxy = env("no_proxy");
    if (!no_proxy || !*no_proxy)
        no_proxy = env("NO_PROXY");
    if (adc_transport_no_proxy_match(host, no_proxy))
        return NULL;
    const char *names_https[] = {"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};
    const char *names_http[] = {"http_proxy", "all_proxy", "ALL_PROXY"};
    bool https = strncasecmp(url, "https://", 8) == 0;
    const char **names = https ? names_https : names_http;
    size_t count = https ? ADC_ARRAY_SIZE(names_https) : ADC_ARRAY_SIZE(names_http);
    for (size_t i = 0; i < count; i++) {
        const char *v = env(names[i]);
        if (v && *v)
            return v;
    }
    return NULL;
}
