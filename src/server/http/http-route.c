#include "http/http-internal.h"

#include <string.h>

#include "http/auth.h"
#include "http/sessions.h"
#include "server.h"

static const struct adc_route *const route_tables[] = {
    adc_api_admin_routes, adc_api_runs_routes, adc_api_agent_routes, adc_channel_routes,
    adc_scim_routes,      adc_session_routes,  adc_downloads_routes, adc_api_groups_routes,
};

/* Matches path against pattern; fills params. Both start with '/'. */
static bool match(const char *pattern, const char *path, const char **params, char *scratch,
                  size_t scratch_size) {
    size_t n = 0, used = 0;
    const char *p = pattern, *u = path;
    while (*p && *u) {
        if (p[0] == '{' && p[1] == '}') {
            size_t seg = strcspn(u, "/");
            if (seg == 0 || n >= ADC_HTTP_MAX_PARAMS || used + seg + 1 > scratch_size)
                return false;
            memcpy(scratch + used, u, seg);
            scratch[used + seg] = '\0';
            params[n++] = scratch + used;
            used += seg + 1;
            p += 2;
            u += seg;
            continue;
        }
        if (*p != *u)
            return false;
        p++;
        u++;
    }
    /* A trailing slash on the request is tolerated ("/scim/v2/Users/"). */
    if (*u == '/' && u[1] == '\0')
        u++;
    return *p == '\0' && *u == '\0';
}

/* Checks the request's credentials for its route; false with the answer (401/403/503, and the
 * delay that slows a guesser down) in st->res. */
bool adc_http_credentials_ok(struct conn_state *st) {
    char why[200];
    unsigned delay_ms = 0;
    unsigned status = adc_auth_check(&st->req, adc_http_header(&st->req, "Authorization"),
                                     st->route->auth, why, sizeof(why), &delay_ms);
    if (status == 0)
        return true;
    st->res.no_challenge = adc_session_cookie_present(&st->req);
    adc_http_error(&st->res, status, NULL, "%s", why);
    st->res.delay_ms = delay_ms;
    return false;
}

const struct adc_route *adc_http_find_route(struct conn_state *st, bool *path_known) {
    *path_known = false;
    for (size_t t = 0; t < ADC_ARRAY_SIZE(route_tables); t++)
        for (const struct adc_route *r = route_tables[t]; r->method; r++) {
            if (!match(r->pattern, st->url, st->req.params, st->scratch, sizeof(st->scratch)))
                continue;
            *path_known = true;
            if (strcmp(r->method, st->method) == 0)
                return r;
        }
    return NULL;
}
