/* The password check of `adc auth` and of the agent's check_password commands
 * (docs/product.md section 5): find the user's entry as bind_dn, then bind as it, on pools of
 * warm connections (ldap-auth.c). */
#pragma once

#include "config/config.h"

enum adc_auth_outcome {
    ADC_AUTH_ACCEPTED,
    ADC_AUTH_DENIED,      /* wrong password, empty password, no or several entries, disabled */
    ADC_AUTH_UNAVAILABLE, /* the directory could not be asked: down, timeout, service bind failed */
};

/* The password check of docs/product.md section 5, bounded by authentication.timeout. *reason gets
 * a new string saying why (never containing the password). Thread-safe: each call takes connections
 * from the pools below for itself and gives them back when done. */
enum adc_auth_outcome adc_ldap_check_password(const struct adc_ldap_config *cfg,
                                              const char *user_name, const char *password,
                                              char **reason);

/* The password check keeps a few connections bound as bind_dn for its lookups, a separate
 * few for the users' binds, and all connections share a TLS context per CA file. This closes
 * the idle connections of both pools and drops the context: call it when the configuration is
 * reloaded (a changed addr or TLS setting, or for the lookups bind_dn or password, also empties
 * a pool by itself; a CA file changed on disk needs this) and before exit. */
void adc_ldap_auth_pool_flush(void);
