/* Browser sessions of the web console: sign-in with an administrator account's name and
 * password, an HttpOnly SameSite=Strict cookie holding a random token (only its SHA-256 is
 * stored), idle and absolute expiry, and a CSRF token required on every state-changing request
 * made with the cookie. Bearer tokens are untouched: a request with an Authorization header
 * never looks at cookies. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "http/http.h"

/* Cookie names. With TLS the "__Host-" prefix makes the browser refuse the cookie unless it is
 * Secure, host-only and Path=/, so a sibling subdomain cannot plant or shadow it. */
#define ADC_SESSION_COOKIE "adc_session"
#define ADC_SESSION_COOKIE_TLS "__Host-adc_session"
#define ADC_SESSION_CSRF_HEADER "X-CSRF-Token"

#define ADC_SESSION_IDLE_DEFAULT 1800       /* 30 minutes without a request */
#define ADC_SESSION_MAX_DEFAULT (12 * 3600) /* a working day, however active */

/* Sets the limits in seconds (serve --session-idle / --session-max). */
void adc_session_set_limits(long idle_seconds, long max_seconds);

/* Authenticates a request by its session cookie for adc_auth_check(). Returns -ENOENT when the
 * request carries no session cookie (the caller goes on with its own rules); 0 with
 * req->principal filled as the administrator; or an HTTP status with the reason in why: 401 for
 * an unknown or expired session, 403 for a state-changing request without the right CSRF
 * token. */
int adc_session_authenticate(struct adc_http_request *req, char *why, size_t why_size);

/* True when the request carries a console session cookie, valid or not. Its 401 answers then
 * go without a Basic challenge (WWW-Authenticate), which would make the browser pop up its own
 * password dialog over the console's sign-in page. */
bool adc_session_cookie_present(const struct adc_http_request *req);

/* The routes POST/GET/DELETE /api/v1/session are adc_session_routes (http.h). */
