#include "directory/ldap-search.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "directory/ldap-conn.h"

int adc_ldap_timeout(const struct adc_ldap_config *cfg) {
    return cfg->timeout > 0 ? cfg->timeout : 30;
}

int adc_ldap_scope(enum adc_ldap_scope s) {
    switch (s) {
    case ADC_SCOPE_BASE: return LDAP_SCOPE_BASE;
    case ADC_SCOPE_ONE: return LDAP_SCOPE_ONELEVEL;
    case ADC_SCOPE_SUB: break;
    }
    return LDAP_SCOPE_SUBTREE;
}

/* libldap reads a message in two read(2)s (its header, then its body) and polls the socket
 * before each one: three system calls per entry, about 3,000,000 of them for 1,000,000 users,
 * and the largest part of adc's CPU in a re-sync (docs/BENCHMARKS.md, issue 21). liblber's
 * readahead layer, put between the socket and the messages (below TLS when there is TLS), reads
 * whatever has arrived, up to READAHEAD bytes, in one read(2) and answers the next messages from
 * it; libldap does not poll while it holds a whole one (LBER_SB_OPT_DATA_READY). Without it (out
 * of memory) the read works as before, only slower. */
#define READAHEAD (64 * 1024)

static void add_readahead(LDAP *ld) {
    Sockbuf *sb = NULL;
    int size = READAHEAD;
    if (ldap_get_option(ld, LDAP_OPT_SOCKBUF, &sb) != LDAP_OPT_SUCCESS || !sb ||
        ber_sockbuf_ctrl(sb, LBER_SB_OPT_HAS_IO, &ber_sockbuf_io_readahead) == 1)
        return;
    (void)ber_sockbuf_add_io(sb, &ber_sockbuf_io_readahead, LBER_SBIOD_LEVEL_PROVIDER, &size);
}

int adc_ldap_open_reader(const struct adc_ldap_config *cfg, LDAP **ret, double *deadline,
                         char **err) {
    int timeout = adc_ldap_timeout(cfg);
    char desc[64];
    snprintf(desc, sizeof(desc), "%d s (backend.ldap.timeout)", timeout);
    double end = adc_ldap_now() + timeout + (cfg->network_timeout > 0 ? cfg->network_timeout : 10);
    int r = adc_ldap_conn_open_service(cfg, end, timeout, desc, ret, err);
    if (r == 0)
        add_readahead(*ret);
    if (r == 0 && deadline)
        *deadline = end;
    return r;
}

int adc_ldap_read_end(LDAP *ld, int r, char **msg, char **err, const char *fallback) {
    adc_ldap_conn_close(ld);
    if (r < 0) {
        *err = *msg ? *msg : strdup(fallback);
        *msg = NULL; /* the caller's now */
    }
    free(*msg);
    *msg = NULL;
    return r;
}

int adc_ldap_page_control(LDAP *ld, const struct adc_ldap_config *cfg, const struct berval *cookie,
                          LDAPControl **ctrl) {
    *ctrl = NULL;
    if (cfg->page_size <= 0)
        return LDAP_SUCCESS;
    return ldap_create_page_control(ld, (ber_int_t)cfg->page_size,
                                    cookie->bv_val ? (struct berval *)cookie : NULL, 0, ctrl);
}

int adc_ldap_read_pages(int (*page)(void *ctx, unsigned n, struct berval *cookie,
                                    struct berval *next),
                        void *ctx) {
    struct berval cookie = {0, NULL};
    int r;
    for (unsigned n = 1;; n++) {
        struct berval next = {0, NULL};
        r = page(ctx, n, &cookie, &next);
        ber_memfree(cookie.bv_val);
        cookie = next;
        if (r < 0 || !cookie.bv_val || cookie.bv_len == 0)
            break;
    }
    ber_memfree(cookie.bv_val);
    return r < 0 ? r : 0;
}
