/* See tls-diag.h. The chain is verified against backend.ldap.ca_file (or the system's CA
 * store when none is set) without looking at names, then the names are compared as RFC 6125
 * says (subjectAltName DNS/IP entries; the CN only without any) - the two questions libldap
 * answers together. Cost: one parse of the CA file, only when a connection already failed. */
#include "directory/tls-diag.h"

#include <arpa/inet.h>
#include <ldap.h>
#include <netdb.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/buf.h"
#include "directory/ldap-conn.h"

char *adc_tls_checked_host(const char *host) {
    if (!host || strcasecmp(host, "localhost") != 0)
        return host ? strdup(host) : NULL;
    char name[256];
    if (gethostname(name, sizeof(name)) != 0)
        return strdup(host);
    name[sizeof(name) - 1] = '\0';
    struct addrinfo hints = {.ai_flags = AI_CANONNAME, .ai_family = AF_UNSPEC};
    struct addrinfo *ai = NULL;
    char *out = NULL;
    if (getaddrinfo(name, NULL, &hints, &ai) == 0 && ai && ai->ai_canonname)
        out = strdup(ai->ai_canonname);
    else
        out = strdup(name);
    if (ai)
        freeaddrinfo(ai);
    return out;
}

/* Whether the chain of `cert` verifies against the configured CAs (names not checked). */
static bool chain_ok(const struct adc_ldap_config *cfg, X509 *cert) {
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    bool ok = false;
    if (!store || !ctx)
        goto out;
    if (cfg->ca_file ? X509_STORE_load_locations(store, cfg->ca_file, NULL) != 1
                     : X509_STORE_set_default_paths(store) != 1)
        goto out;
    if (X509_STORE_CTX_init(ctx, store, cert, NULL) != 1)
        goto out;
    ok = X509_verify_cert(ctx) == 1;
out:
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return ok;
}

/* The names the certificate is valid for, "'a', 'b'" (at most a few), into *b. */
static void names_of(X509 *cert, struct adc_buf *b) {
    GENERAL_NAMES *sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    int n = sans ? sk_GENERAL_NAME_num(sans) : 0, shown = 0;
    for (int i = 0; i < n && shown < 8; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
        char ip[INET6_ADDRSTRLEN] = "";
        const char *s = NULL;
        int len = 0;
        if (g->type == GEN_DNS) {
            s = (const char *)ASN1_STRING_get0_data(g->d.dNSName);
            len = ASN1_STRING_length(g->d.dNSName);
        } else if (g->type == GEN_IPADD) {
            int alen = ASN1_STRING_length(g->d.iPAddress);
            const unsigned char *a = ASN1_STRING_get0_data(g->d.iPAddress);
            if (inet_ntop(alen == 4 ? AF_INET : AF_INET6, a, ip, sizeof(ip)) &&
                (alen == 4 || alen == 16)) {
                s = ip;
                len = (int)strlen(ip);
            }
        }
        if (!s || len <= 0 || len > 255)
            continue;
        adc_buf_printf(b, "%s'%.*s'", shown ? ", " : "", len, s);
        shown++;
    }
    GENERAL_NAMES_free(sans);
    if (shown == 0) {
        char cn[256];
        if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn)) >
            0)
            adc_buf_printf(b, "'%s' (its subject CN; it has no subjectAltName)", cn);
        else
            adc_buf_printf(b, "no host name at all");
    }
}

char *adc_tls_diagnose(const struct adc_ldap_config *cfg, const unsigned char *der, size_t len) {
    const unsigned char *p = der;
    X509 *cert = len > 0 && len < 1024 * 1024 ? d2i_X509(NULL, &p, (long)len) : NULL;
    LDAPURLDesc *url = NULL;
    char *host = NULL, *out = NULL;
    struct adc_buf b;

    adc_buf_init(&b, 4096);
    if (!cert)
        goto out;
    if (!chain_ok(cfg, cert)) {
        if (cfg->ca_file)
            out = adc_strdup_printf("the server's certificate is not signed by the CA in '%s' "
                                    "(backend.ldap.ca_file): point ca_file at the CA that issued "
                                    "it",
                                    cfg->ca_file);
        else
            out = strdup("the server's certificate is not signed by a CA this system trusts: "
                         "set backend.ldap.ca_file to the CA that issued it");
        goto out;
    }
    if (ldap_url_parse(cfg->addr, &url) != LDAP_URL_SUCCESS || !url->lud_host || !*url->lud_host)
        goto out;
    host = adc_tls_checked_host(url->lud_host);
    if (!host)
        goto out;
    unsigned char addr[16];
    bool is_ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
    int match = is_ip ? X509_check_ip_asc(cert, host, 0) : X509_check_host(cert, host, 0, 0, NULL);
    if (match == 1)
        goto out;
    names_of(cert, &b);
    bool local = strcasecmp(url->lud_host, "localhost") == 0;
    out = adc_strdup_printf(
        "the server's certificate is signed by a trusted CA but is valid for %s, not for the "
        "host name '%s'%s%s%s: use a name of the certificate in backend.ldap.addr",
        b.len && !b.failed ? b.data : "(unknown)", host,
        local ? " (libldap checks ldaps://localhost against this machine's host name '" : "",
        local ? host : "", local ? "')" : "");
out:
    adc_buf_done(&b);
    free(host);
    if (url)
        ldap_free_urldesc(url);
    X509_free(cert);
    return out;
}
