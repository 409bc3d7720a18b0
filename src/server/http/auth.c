#include "http/auth.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/secret.h"
#include "server.h"
#include "http/sessions.h"
#include "store/store-configs.h"

/* Failed attempts per client address. A small table is enough: it only needs to slow down a
 * guesser, not to remember everyone; the oldest entry is reused. */
#define THROTTLE_SLOTS 256
#define THROTTLE_BASE_MS 200
#define THROTTLE_MAX_MS 3000
#define THROTTLE_FORGET_S 60

struct throttle_slot {
    char client[64];
    unsigned failures;
    time_t last;
};

struct adc_auth {
    pthread_mutex_t lock;
    struct throttle_slot slots[THROTTLE_SLOTS];
};

int adc_auth_new(struct adc_auth **out) {
    struct adc_auth *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    pthread_mutex_init(&a->lock, NULL);
    *out = a;
    return 0;
}

void adc_auth_free(struct adc_auth *a) {
    if (!a)
        return;
    pthread_mutex_destroy(&a->lock);
    free(a);
}

char *adc_auth_token_new(const char *prefix) {
    unsigned char raw[32];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return NULL;
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t plen = strlen(prefix);
    char *t = malloc(plen + 44);
    if (!t)
        return NULL;
    memcpy(t, prefix, plen);
    /* base64url without padding: 32 bytes -> 43 characters. */
    size_t o = plen;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < sizeof(raw); i++) {
        acc = (acc << 8) | raw[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            t[o++] = alphabet[(acc >> bits) & 63];
        }
    }
    if (bits > 0)
        t[o++] = alphabet[(acc << (6 - bits)) & 63];
    t[o] = '\0';
    explicit_bzero(raw, sizeof(raw));
    return t;
}

/* 16 random bytes. Ids are not secrets, but must not collide: from OpenSSL, fetched 4 KiB at
 * a time per thread, since one RAND_bytes call per id was 7% of a Bulk import. */
static void random16(unsigned char r[static 16]) {
    static __thread unsigned char pool[4096];
    static __thread size_t used = sizeof(pool);
    if (used + 16 > sizeof(pool)) {
        if (RAND_bytes(pool, sizeof(pool)) != 1)
            abort(); /* no randomness: ids would collide; nothing sensible to do */
        used = 0;
    }
    memcpy(r, pool + used, 16);
    used += 16;
}

/* Hex digits by hand, dashes at 8-4-4-4-12: one snprintf of 16 bytes cost about 2.6% of
 * adc-server's CPU in a first import, where every create takes an id (docs/BENCHMARKS.md). */
static void format_uuid(const unsigned char r[static 16], char buf[static 37]) {
    static const char digits[] = "0123456789abcdef";
    char *o = buf;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = digits[r[i] >> 4];
        *o++ = digits[r[i] & 15];
    }
    *o = '\0';
}

void adc_auth_uuid(char buf[static 37]) {
    unsigned char r[16];
    random16(r);
    r[6] = (r[6] & 0x0f) | 0x40; /* RFC 4122 version 4 */
    r[8] = (r[8] & 0x3f) | 0x80;
    format_uuid(r, buf);
}

void adc_auth_uuid7(char buf[static 37]) {
    unsigned char r[16];
    random16(r);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    for (int i = 0; i < 6; i++)
        r[i] = (unsigned char)(ms >> (40 - 8 * i));
    r[6] = (r[6] & 0x0f) | 0x70; /* version 7 */
    r[8] = (r[8] & 0x3f) | 0x80; /* variant */
    format_uuid(r, buf);
}

void adc_auth_hash(const char *token, char out[static ADC_TOKEN_HASH_SIZE]) {
    unsigned char md[32];
    unsigned int len = 0;
    EVP_Digest(token, strlen(token), md, &len, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static struct throttle_slot *slot_for(struct adc_auth *a, const char *client, time_t now) {
    struct throttle_slot *oldest = &a->slots[0];
    for (size_t i = 0; i < THROTTLE_SLOTS; i++) {
        struct throttle_slot *s = &a->slots[i];
        if (strcmp(s->client, client) == 0)
            return s;
        if (s->last < oldest->last)
            oldest = s;
    }
    (void)now;
    snprintf(oldest->client, sizeof(oldest->client), "%s", client);
    oldest->failures = 0;
    return oldest;
}

/* Returns how long the failed request's answer waits, in ms. */
static unsigned throttle_failure(struct adc_auth *a, const char *client) {
    time_t now = time(NULL);
    pthread_mutex_lock(&a->lock);
    struct throttle_slot *s = slot_for(a, client, now);
    if (now - s->last > THROTTLE_FORGET_S)
        s->failures = 0;
    s->failures++;
    s->last = now;
    unsigned n = s->failures;
    pthread_mutex_unlock(&a->lock);
    unsigned ms = THROTTLE_BASE_MS;
    for (unsigned i = 1; i < n && ms < THROTTLE_MAX_MS; i++)
        ms *= 2;
    if (ms > THROTTLE_MAX_MS)
        ms = THROTTLE_MAX_MS;
    return ms;
}

static void throttle_success(struct adc_auth *a, const char *client) {
    pthread_mutex_lock(&a->lock);
    for (size_t i = 0; i < THROTTLE_SLOTS; i++)
        if (a->slots[i].failures && strcmp(a->slots[i].client, client) == 0)
            a->slots[i].failures = 0;
    pthread_mutex_unlock(&a->lock);
}

static void load_settings(struct adc_principal *p, const char *settings_json) {
    for (int i = 0; i < ADC_SETTING_COUNT; i++)
        p->settings[i] = ADC_UNSET;
    json_t *j = json_loads(settings_json, 0, NULL);
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v) {
        int s = adc_setting_from_name(key);
        if (s >= 0 && json_is_boolean(v))
            p->settings[s] = json_is_true(v) ? ADC_TRUE : ADC_FALSE;
    }
    json_decref(j);
}

static void principal_sync(struct adc_principal *p, const struct adc_store_config *c) {
    p->kind = ADC_PRINCIPAL_SYNC;
    snprintf(p->name, sizeof(p->name), "%s", c->name);
    snprintf(p->app_id, sizeof(p->app_id), "%s", c->app_id);
    snprintf(p->actor, sizeof(p->actor), "sync:%s", c->app_id);
    load_settings(p, c->settings);
}

/* Decodes standard base64 into buf (NUL-terminated); -1 when malformed. */
static int base64_decode(const char *in, char *buf, size_t size) {
    size_t len = strlen(in);
    if (len == 0 || len % 4 != 0 || len / 4 * 3 + 1 > size)
        return -1;
    int n = EVP_DecodeBlock((unsigned char *)buf, (const unsigned char *)in, (int)len);
    if (n < 0)
        return -1;
    if (in[len - 1] == '=')
        n--;
    if (in[len - 2] == '=')
        n--;
    buf[n] = '\0';
    if (strlen(buf) != (size_t)n) /* an embedded NUL is not a credential */
        return -1;
    return n;
}

/* Returns 0 when token is a valid admin token (principal filled), -ENOENT when not, <0 on
 * errors. */
static int try_admin(struct adc_db *db, const char *token, struct adc_principal *p) {
    char hash[ADC_TOKEN_HASH_SIZE], stored[65], name[128];
    adc_auth_hash(token, hash);
    int r = adc_store_token_find(db, hash, name, sizeof(name), stored);
    if (r < 0)
        return r;
    /* The index lookup found a row with this hash; the comparison in constant time is the
     * check that counts. */
    if (!adc_secret_equal(hash, stored))
        return -ENOENT;
    p->kind = ADC_PRINCIPAL_ADMIN;
    snprintf(p->name, sizeof(p->name), "%s", name);
    snprintf(p->actor, sizeof(p->actor), "admin:%s", name);
    return 0;
}

static int try_sync_bearer(struct adc_db *db, const char *secret, struct adc_principal *p) {
    char hash[ADC_TOKEN_HASH_SIZE];
    adc_auth_hash(secret, hash);
    struct adc_store_config c;
    int r = adc_store_config_get_by_secret_hash(db, hash, &c);
    if (r < 0)
        return r;
    principal_sync(p, &c);
    adc_store_config_done(&c);
    return 0;
}

static int try_sync_basic(struct adc_db *db, const char *app_id, const char *secret,
                          struct adc_principal *p) {
    char hash[ADC_TOKEN_HASH_SIZE], stored[65];
    adc_auth_hash(secret, hash);
    struct adc_store_config c;
    int r = adc_store_config_get(db, app_id, &c, stored);
    if (r < 0)
        return r;
    if (!adc_secret_equal(hash, stored)) {
        adc_store_config_done(&c);
        return -ENOENT;
    }
    principal_sync(p, &c);
    adc_store_config_done(&c);
    return 0;
}

unsigned adc_auth_check(struct adc_http_request *req, const char *authorization,
                        enum adc_auth_kind need, char *why, size_t why_size, unsigned *delay_ms) {
    struct adc_principal *p = &req->principal;
    *delay_ms = 0;
    memset(p, 0, sizeof(*p));
    if ((!authorization || !*authorization) && need != ADC_AUTH_SYNC) {
        /* The web console: a session cookie (and its CSRF token) stands for an admin token. */
        int s = adc_session_authenticate(req, why, why_size);
        if (s != -ENOENT)
            return (unsigned)s;
    }
    if (!authorization || !*authorization) {
        snprintf(why, why_size, "%s",
                 need == ADC_AUTH_ADMIN
                     ? "authentication required: Authorization: Bearer <admin token>"
                 : need == ADC_AUTH_SYNC
                     ? "authentication required: HTTP Basic app_id:secret"
                     : "authentication required: HTTP Basic app_id:secret or Bearer token");
        return 401;
    }
    struct adc_db *db = adc_store_acquire(req->server->store);
    if (!db) {
        snprintf(why, why_size, "database unavailable");
        return 503;
    }
    int r = -ENOENT;
    char decoded[1024];
    if (strncasecmp(authorization, "Bearer ", 7) == 0) {
        const char *token = authorization + 7;
        while (*token == ' ')
            token++;
        if (strncmp(token, ADC_TOKEN_PREFIX_SYNC, strlen(ADC_TOKEN_PREFIX_SYNC)) == 0)
            r = try_sync_bearer(db, token, p);
        else
            r = try_admin(db, token, p);
    } else if (strncasecmp(authorization, "Basic ", 6) == 0 &&
               base64_decode(authorization + 6, decoded, sizeof(decoded)) > 0) {
        char *colon = strchr(decoded, ':');
        if (colon) {
            *colon = '\0';
            r = try_sync_basic(db, decoded, colon + 1, p);
        }
    }
    explicit_bzero(decoded, sizeof(decoded));
    adc_store_release(db);
    if (r == -ENOENT) {
        *delay_ms = throttle_failure(req->server->auth, req->client);
        snprintf(why, why_size, "invalid credentials");
        return 401;
    }
    if (r < 0) {
        snprintf(why, why_size, "database error while checking credentials");
        return 503;
    }
    throttle_success(req->server->auth, req->client);
    if (need == ADC_AUTH_ADMIN && p->kind != ADC_PRINCIPAL_ADMIN) {
        snprintf(why, why_size, "only System Administrators may do this (admin token needed)");
        return 403;
    }
    if (need == ADC_AUTH_SYNC && p->kind != ADC_PRINCIPAL_SYNC) {
        snprintf(why, why_size, "this endpoint is for sync configurations (app_id:secret)");
        return 403;
    }
    return 0;
}
