/* What every search of the directory by the service account shares (the users' enumeration in
 * ldap-source.c, the groups' in group-read.c, the probes): the time limit and scope from the
 * configuration, the bound connection with its deadline, and paging (RFC 2696). */
#pragma once

#include <ldap.h>

#include "config/config.h"

/* backend.ldap.timeout in seconds (30 when not set). */
int adc_ldap_timeout(const struct adc_ldap_config *cfg);
/* The LDAP_SCOPE_* of a configured scope. */
int adc_ldap_scope(enum adc_ldap_scope s);
/* Opens and binds the service account's connection for one read: the bind within
 * backend.ldap.timeout, the whole within that plus backend.ldap.network_timeout (10 s when not
 * set), which *deadline (when not NULL) receives. Returns 0 and the handle, or a negative errno
 * with the message in *err (adc_ldap_conn_open_service's). */
int adc_ldap_open_reader(const struct adc_ldap_config *cfg, LDAP **ret, double *deadline,
                         char **err);
/* The end of a read: closes ld (may be NULL) and, when r < 0, hands *msg to *err (the fallback's
 * copy when there is none: out of memory); frees *msg otherwise. Returns r. */
int adc_ldap_read_end(LDAP *ld, int r, char **msg, char **err, const char *fallback);
/* The paged-results control for one page of cfg->page_size entries (cookie: the server's from
 * the page before, or empty for the first), not critical, so that a server without paging
 * answers with everything at once; *ctrl is NULL when cfg->page_size is 0. Returns libldap's
 * code (free *ctrl with ldap_control_free). */
int adc_ldap_page_control(LDAP *ld, const struct adc_ldap_config *cfg, const struct berval *cookie,
                          LDAPControl **ctrl);
/* Reads a paged search page after page: page(ctx, n, cookie, next) sends page n (from 1) with
 * the cookie (empty on the first) and stores the server's cookie for the next one in *next
 * (left empty when done). Stops at the first negative return, which it returns; 0 after the last
 * page. The cookies are freed here. */
int adc_ldap_read_pages(int (*page)(void *ctx, unsigned n, struct berval *cookie,
                                    struct berval *next),
                        void *ctx);
