/* The web console's static files: index.html at "/" and "/console/", assets under
 * "/console/". Served from the copies embedded in the binary (console-assets.h). */
#pragma once

#include <stdbool.h>

#include <microhttpd.h>

/* The Content-Security-Policy of the console: only its own origin, no inline script or style,
 * never framed (default-src does not cover frame-ancestors). */
#define ADC_CONSOLE_CSP                                                                            \
    "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

/* True when the URL belongs to the console ("/", "/console", "/console/..."). */
bool adc_console_owns(const char *url);

/* Answers a request for a console URL: 200 with the file (or 304 when If-None-Match matches
 * its ETag), 404 for an unknown file, 405 for methods other than GET and HEAD. */
enum MHD_Result adc_console_handle(struct MHD_Connection *conn, const char *method,
                                   const char *url);

/* The asset serving a URL path, or NULL. For tests. */
const struct adc_console_asset *adc_console_find(const char *url);
