/* The connection pools of the password check (ldap-auth-pool.c); internal to src/adc/directory.
 * A connection is used by one thread at a time: taken out, used, given back (or closed). */
#pragma once

#include <ldap.h>

#include "config/config.h"

struct adc_auth_pool;
/* Bound as bind_dn, for the lookups; and the one only ever used for users' binds. */
extern struct adc_auth_pool adc_auth_service_pool, adc_auth_bind_pool;
#define ADC_AUTH_SERVICE_POOL (&adc_auth_service_pool)
#define ADC_AUTH_BIND_POOL (&adc_auth_bind_pool)

/* An idle connection made with cfg's settings (the pool is emptied first when they changed), or
 * NULL when there is none: the caller opens one. *gen: the pool's generation, for _give. */
LDAP *adc_auth_pool_take(struct adc_auth_pool *p, const struct adc_ldap_config *cfg, unsigned *gen);
/* Gives ld back (closed instead when the pool was emptied since gen, or is full). */
void adc_auth_pool_give(struct adc_auth_pool *p, LDAP *ld, unsigned gen);
/* Closes the idle connections (after one of them was found broken: the others are likely too). */
void adc_auth_pool_drop_idle(struct adc_auth_pool *p);
