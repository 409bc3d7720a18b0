/* The two pools of connections of the password check (ldap-auth.c says why two, and the invariant
 * that keeps their identities apart): idle connections made with the same settings, shared by
 * the worker threads, emptied when a configuration reload changes those settings. */
#include "directory/ldap-auth-pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "directory/ldap-auth.h"
#include "directory/ldap-conn.h"
#include "common/secret.h"

/* Idle connections kept per pool; more may be open while checks run in parallel, the extra
 * ones are closed when returned. */
#define POOL_IDLE_MAX 16

/* The settings a pooled connection was made with; a configuration reload that changes any of
 * them empties the pool. bind_dn and bind_password only for a pool of service connections. */
struct pool_key {
    char *addr, *bind_dn, *bind_password, *ca_file;
    bool starttls, tls_verify, follow_referrals;
};

/* Idle connections made with the same settings, shared by the worker threads; a connection is
 * used by one thread at a time: taken out, used, given back (or closed). */
struct adc_auth_pool {
    pthread_mutex_t lock;
    bool service; /* bound as bind_dn: the credentials are part of the key */
    struct pool_key key;
    bool keyed;
    unsigned generation;
    LDAP *idle[POOL_IDLE_MAX];
    size_t n_idle;
};

/* Bound as bind_dn, for the lookups. */
struct adc_auth_pool adc_auth_service_pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .service = true};
/* Only ever used for users' binds (see ldap-auth.c). */
struct adc_auth_pool adc_auth_bind_pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .service = false};

static bool str_same(const char *a, const char *b) {
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool key_matches(const struct adc_auth_pool *p, const struct adc_ldap_config *cfg) {
    const struct pool_key *k = &p->key;
    if (p->service &&
        !(str_same(k->bind_dn, cfg->bind_dn) && str_same(k->bind_password, cfg->bind_password)))
        return false;
    return str_same(k->addr, cfg->addr) && str_same(k->ca_file, cfg->ca_file) &&
           k->starttls == cfg->starttls && k->tls_verify == cfg->tls_verify &&
           k->follow_referrals == cfg->follow_referrals;
}

static void key_done(struct pool_key *k) {
    free(k->addr);
    free(k->bind_dn);
    if (k->bind_password) {
        explicit_bzero(k->bind_password, strlen(k->bind_password));
        free(k->bind_password);
    }
    free(k->ca_file);
    memset(k, 0, sizeof(*k));
}

static char *dup_or_null(const char *s, bool *failed) {
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *failed = true;
    return d;
}

/* Under p->lock: moves the idle connections to `out` (closed by the caller, outside the lock:
 * unbind writes to the socket). */
static size_t drain_locked(struct adc_auth_pool *p, LDAP **out) {
    size_t n = p->n_idle;
    memcpy(out, p->idle, n * sizeof(*out));
    p->n_idle = 0;
    return n;
}

static void close_all(LDAP **lds, size_t n) {
    for (size_t i = 0; i < n; i++)
        adc_ldap_conn_close(lds[i]);
}

/* An idle connection of p made for cfg, or NULL when none is (then open one). *gen gets the
 * pool generation to hand back with it. */
LDAP *adc_auth_pool_take(struct adc_auth_pool *p, const struct adc_ldap_config *cfg,
                         unsigned *gen) {
    LDAP *stale[POOL_IDLE_MAX];
    size_t n_stale = 0;
    LDAP *ld = NULL;

    pthread_mutex_lock(&p->lock);
    if (!p->keyed || !key_matches(p, cfg)) {
        n_stale = drain_locked(p, stale);
        key_done(&p->key);
        bool failed = false;
        p->key = (struct pool_key){
            .addr = dup_or_null(cfg->addr, &failed),
            .bind_dn = p->service ? dup_or_null(cfg->bind_dn, &failed) : NULL,
            .bind_password = p->service ? dup_or_null(cfg->bind_password, &failed) : NULL,
            .ca_file = dup_or_null(cfg->ca_file, &failed),
            .starttls = cfg->starttls,
            .tls_verify = cfg->tls_verify,
            .follow_referrals = cfg->follow_referrals,
        };
        /* Out of memory: an unkeyed pool keeps nothing, every check opens its own. */
        p->keyed = !failed;
        p->generation++;
    }
    if (p->n_idle > 0)
        ld = p->idle[--p->n_idle];
    *gen = p->generation;
    pthread_mutex_unlock(&p->lock);

    close_all(stale, n_stale);
    return ld;
}

/* Gives a healthy connection back to p; closes it when the pool was flushed or re-keyed since
 * it was taken (gen), or when POOL_IDLE_MAX are idle already. */
void adc_auth_pool_give(struct adc_auth_pool *p, LDAP *ld, unsigned gen) {
    pthread_mutex_lock(&p->lock);
    if (p->keyed && gen == p->generation && p->n_idle < POOL_IDLE_MAX) {
        p->idle[p->n_idle++] = ld;
        ld = NULL; /* owned by the pool now */
    }
    pthread_mutex_unlock(&p->lock);
    adc_ldap_conn_close(ld);
}

/* Closes the idle connections, keeping the pool's settings. */
void adc_auth_pool_drop_idle(struct adc_auth_pool *p) {
    LDAP *stale[POOL_IDLE_MAX];
    pthread_mutex_lock(&p->lock);
    size_t n = drain_locked(p, stale);
    pthread_mutex_unlock(&p->lock);
    close_all(stale, n);
}

/* Closes the idle connections and forgets the settings; connections in use are closed when
 * they come back (the generation changed). */
static void pool_flush(struct adc_auth_pool *p) {
    LDAP *stale[POOL_IDLE_MAX];
    pthread_mutex_lock(&p->lock);
    size_t n = drain_locked(p, stale);
    key_done(&p->key);
    p->keyed = false;
    p->generation++;
    pthread_mutex_unlock(&p->lock);
    close_all(stale, n);
}

void adc_ldap_auth_pool_flush(void) {
    pool_flush(&adc_auth_service_pool);
    pool_flush(&adc_auth_bind_pool);
    adc_ldap_conn_tls_flush();
}
