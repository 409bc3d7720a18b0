#include "api/throttle.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/utf8.h"

/* Attempts in flight, in memory: counters in slots picked by a hash of the key. Two keys that
 * share a slot only add up each other's attempts in flight (one may wait a moment for the
 * other), never each other's failures, which live in the store. Cost: an atomic
 * add per attempt, no lock. */
#define INFLIGHT_SLOTS 4096
static unsigned inflight[2][INFLIGHT_SLOTS];

#define LOCK_STRIPES 256
static pthread_mutex_t locks[LOCK_STRIPES];
static pthread_once_t locks_once = PTHREAD_ONCE_INIT;

static void locks_init(void) {
    for (size_t i = 0; i < LOCK_STRIPES; i++)
        pthread_mutex_init(&locks[i], NULL);
}

void adc_throttle_lock(const struct adc_throttle *t) {
    pthread_once(&locks_once, locks_init);
    pthread_mutex_lock(&locks[t->inflight_slot[0] % LOCK_STRIPES]);
}

void adc_throttle_unlock(const struct adc_throttle *t) {
    pthread_mutex_unlock(&locks[t->inflight_slot[0] % LOCK_STRIPES]);
}

static unsigned slot_of(const char *key) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h % INFLIGHT_SLOTS;
}

int adc_throttle_init(struct adc_throttle *t, const char *user_name, const char *client) {
    memset(t, 0, sizeof(*t));
    char folded[ADC_STORE_LOGIN_THROTTLE_KEY_MAX / 2];
    if (adc_utf8_casefold(user_name, folded, sizeof(folded)) < 0)
        return -EINVAL;
    /* '\n' cannot occur in a folded name that reached here (names with control characters
     * fold to a key of their own, still distinct) nor in an address. */
    int n[ADC_THROTTLE_KEYS] = {
        snprintf(t->keys[ADC_THROTTLE_ACCOUNT], ADC_STORE_LOGIN_THROTTLE_KEY_MAX, "a:%s", folded),
        snprintf(t->keys[ADC_THROTTLE_PAIR], ADC_STORE_LOGIN_THROTTLE_KEY_MAX, "p:%s\n%s", folded,
                 client),
        snprintf(t->keys[ADC_THROTTLE_CLIENT], ADC_STORE_LOGIN_THROTTLE_KEY_MAX, "c:%s", client),
        snprintf(t->keys[ADC_THROTTLE_FAMILIAR], ADC_STORE_LOGIN_THROTTLE_KEY_MAX, "f:%s\n%s",
                 folded, client),
    };
    for (size_t i = 0; i < ADC_THROTTLE_KEYS; i++)
        if (n[i] < 0 || n[i] >= ADC_STORE_LOGIN_THROTTLE_KEY_MAX)
            return -EINVAL;
    t->inflight_slot[0] = slot_of(t->keys[ADC_THROTTLE_ACCOUNT]);
    t->inflight_slot[1] = slot_of(t->keys[ADC_THROTTLE_PAIR]);
    return 0;
}

bool adc_throttle_familiar(const struct adc_throttle *t, int64_t now) {
    const struct adc_store_login_throttle *f = &t->rows[ADC_THROTTLE_FAMILIAR];
    return f->exists && now - f->updated < (int64_t)ADC_THROTTLE_FAMILIAR_DAYS * 86400;
}

/* The account's bucket level at now, in thousandths of a failure. */
static int64_t bucket_level(const struct adc_store_login_throttle *a, int64_t now) {
    if (!a->exists)
        return 0;
    int64_t elapsed = now > a->updated ? now - a->updated : 0;
    int64_t level = a->failures - elapsed * 1000 / ADC_THROTTLE_ACCOUNT_LEAK;
    return level > 0 ? level : 0;
}

/* Failures of a windowed key still counting at now. */
static int64_t window_failures(const struct adc_store_login_throttle *w, int64_t now) {
    if (!w->exists || now - w->window_start >= ADC_THROTTLE_WINDOW)
        return 0;
    return w->failures;
}

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

int64_t adc_throttle_check(const struct adc_throttle *t, int64_t now) {
    int64_t wait = 0;
    const struct adc_store_login_throttle *pair = &t->rows[ADC_THROTTLE_PAIR],
                                          *client = &t->rows[ADC_THROTTLE_CLIENT],
                                          *account = &t->rows[ADC_THROTTLE_ACCOUNT];
    if (pair->exists && pair->locked_until > now)
        wait = max64(wait, pair->locked_until - now);
    if (client->exists && client->locked_until > now)
        wait = max64(wait, client->locked_until - now);
    if (!adc_throttle_familiar(t, now)) {
        /* One more failure must still fit into the bucket. */
        int64_t level = bucket_level(account, now);
        int64_t room = (ADC_THROTTLE_ACCOUNT_BUDGET - 1) * 1000;
        if (level > room)
            wait = max64(wait, (level - room) * ADC_THROTTLE_ACCOUNT_LEAK / 1000 + 1);
    }
    return wait;
}

bool adc_throttle_enter(struct adc_throttle *t, int64_t now) {
    unsigned *acct = &inflight[0][t->inflight_slot[0]], *pair = &inflight[1][t->inflight_slot[1]];
    int64_t a = __atomic_add_fetch(acct, 1, __ATOMIC_RELAXED);
    int64_t p = __atomic_add_fetch(pair, 1, __ATOMIC_RELAXED);
    bool room = window_failures(&t->rows[ADC_THROTTLE_PAIR], now) + p <= ADC_THROTTLE_PAIR_BUDGET;
    if (room && !adc_throttle_familiar(t, now))
        room = bucket_level(&t->rows[ADC_THROTTLE_ACCOUNT], now) + a * 1000 <=
               ADC_THROTTLE_ACCOUNT_BUDGET * 1000;
    if (!room) {
        __atomic_sub_fetch(acct, 1, __ATOMIC_RELAXED);
        __atomic_sub_fetch(pair, 1, __ATOMIC_RELAXED);
        return false;
    }
    t->entered = true;
    return true;
}

void adc_throttle_leave(struct adc_throttle *t) {
    if (!t->entered)
        return;
    __atomic_sub_fetch(&inflight[0][t->inflight_slot[0]], 1, __ATOMIC_RELAXED);
    __atomic_sub_fetch(&inflight[1][t->inflight_slot[1]], 1, __ATOMIC_RELAXED);
    t->entered = false;
}

/* A failure of a windowed key: its budget used up locks it, a minute doubling per lockout. A
 * key quiet for a day forgets its lockouts. */
static void window_failed(struct adc_store_login_throttle *w, int64_t budget, int64_t now) {
    if (!w->exists || now - w->updated > 86400)
        w->lockouts = 0;
    if (!w->exists || now - w->window_start >= ADC_THROTTLE_WINDOW) {
        w->failures = 0;
        w->window_start = now;
    }
    w->exists = true;
    w->updated = now;
    if (++w->failures < budget)
        return;
    int64_t lock = ADC_THROTTLE_LOCK_BASE;
    for (int64_t i = 0; i < w->lockouts && lock < ADC_THROTTLE_LOCK_MAX; i++)
        lock *= 2;
    w->lockouts++;
    w->locked_until = now + (lock < ADC_THROTTLE_LOCK_MAX ? lock : ADC_THROTTLE_LOCK_MAX);
    w->failures = 0;
    w->window_start = now;
}

void adc_throttle_failed(struct adc_throttle *t, int64_t now, unsigned *write) {
    *write = 1u << ADC_THROTTLE_PAIR | 1u << ADC_THROTTLE_CLIENT;
    window_failed(&t->rows[ADC_THROTTLE_PAIR], ADC_THROTTLE_PAIR_BUDGET, now);
    window_failed(&t->rows[ADC_THROTTLE_CLIENT], ADC_THROTTLE_CLIENT_BUDGET, now);
    if (adc_throttle_familiar(t, now))
        return;
    struct adc_store_login_throttle *a = &t->rows[ADC_THROTTLE_ACCOUNT];
    a->failures = bucket_level(a, now) + 1000;
    a->exists = true;
    a->updated = now;
    a->window_start = a->window_start ? a->window_start : now;
    *write |= 1u << ADC_THROTTLE_ACCOUNT;
}
