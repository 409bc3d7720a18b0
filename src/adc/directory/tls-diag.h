/* Why a directory's TLS certificate was refused: the CA, or the host name. libldap (GnuTLS)
 * reports both as the same bare connect error; adc_ldap_conn_open connects once more without
 * verification and hands the certificate the server sent to this module, which checks the two
 * conditions apart with OpenSSL. */
#pragma once

#include <stddef.h>

#include "config/config.h"

/* The host name libldap checks a certificate against for `host`: "localhost" is replaced by the
 * machine's canonical host name (libldap's ldap_pvt_get_fqdn), anything else is itself. A new
 * string, or NULL when out of memory. */
char *adc_tls_checked_host(const char *host);

/* Explains why the certificate `der` (DER, len bytes) presented by cfg->addr was refused:
 * "not signed by the CA in '...'", or "valid for 'a', 'b', not for the host name 'x'" (saying
 * that ldaps://localhost is checked against the machine's name), or NULL when neither check
 * fails here (then the caller keeps its general message). A new string. */
char *adc_tls_diagnose(const struct adc_ldap_config *cfg, const unsigned char *der, size_t len);
