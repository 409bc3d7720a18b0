/* Sign-in throttling of POST /api/v1/login (docs/product.md section 11): the rules, without I/O,
 * so that they are unit-tested; login-admit.c reads and writes the rows through
 * store-login-throttle.h.
 *
 * Four keys per attempt, each a row in the store:
 *   - the account and the client address together (PAIR): ADC_THROTTLE_PAIR_BUDGET failures
 *     in ADC_THROTTLE_WINDOW lock that pair for a minute, doubling with each lockout up to an
 *     hour. The attacker's address is stopped; the same account from elsewhere is not;
 *   - the client address alone (CLIENT): ADC_THROTTLE_CLIENT_BUDGET failures in the window
 *     lock the address for every account (password spraying), growing the same way;
 *   - the account alone (ACCOUNT), counting failures from addresses that are not familiar: a
 *     leaky bucket of ADC_THROTTLE_ACCOUNT_BUDGET that drains one failure every
 *     ADC_THROTTLE_ACCOUNT_LEAK seconds. This is what protects the directory: in any 30 minutes
 *     at most 6 + 2 = 8 wrong passwords of one account reach it from unfamiliar addresses, below
 *     the usual Active Directory lockout thresholds (10 in Microsoft's baseline) within their
 *     observation window;
 *   - FAMILIAR: the account signed in successfully from this address within
 *     ADC_THROTTLE_FAMILIAR_DAYS. A familiar address is not held back by the account's bucket
 *     (only by its own pair budget): when attackers elsewhere exhaust the bucket, the real user
 *     still signs in from where they usually do (smart lockout).
 * A success clears the pair and the account (the directory resets its own count on a good bind
 * too). Keys are the same for names that exist and names that do not, so 429s say nothing about
 * which accounts exist. Attempts still waiting for the directory count as failures in the
 * decision (a parallel burst cannot pass the check all at once). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store-login-throttle.h"

#define ADC_THROTTLE_WINDOW 900    /* seconds: PAIR and CLIENT windows */
#define ADC_THROTTLE_PAIR_BUDGET 5 /* failures of one account from one address */
/* Failures from one address, all accounts: high enough for an office behind one NAT address
 * full of people mistyping, low enough that spraying one password over many accounts from one
 * address goes at 300 guesses per 15 minutes instead of hundreds per second. */
#define ADC_THROTTLE_CLIENT_BUDGET 300
#define ADC_THROTTLE_ACCOUNT_BUDGET 6 /* failures of one account, unfamiliar addresses */
#define ADC_THROTTLE_ACCOUNT_LEAK 900 /* seconds for the account's bucket to drop one */
#define ADC_THROTTLE_LOCK_BASE 60     /* first lockout of a pair or address, seconds */
#define ADC_THROTTLE_LOCK_MAX 3600    /* longest lockout */
#define ADC_THROTTLE_FAMILIAR_DAYS 90

enum adc_throttle_key {
    ADC_THROTTLE_ACCOUNT,
    ADC_THROTTLE_PAIR,
    ADC_THROTTLE_CLIENT,
    ADC_THROTTLE_FAMILIAR,
    ADC_THROTTLE_KEYS,
};

struct adc_throttle {
    char keys[ADC_THROTTLE_KEYS][ADC_STORE_LOGIN_THROTTLE_KEY_MAX];
    struct adc_store_login_throttle rows[ADC_THROTTLE_KEYS];
    unsigned inflight_slot[2]; /* in-memory slots of ACCOUNT and PAIR (throttle.c) */
    bool entered;
};

/* Fills the keys of an attempt: user_name as typed (compared case-insensitively), client the
 * client's address. The rows start empty. -EINVAL when the name does not fit a key. */
int adc_throttle_init(struct adc_throttle *t, const char *user_name, const char *client);

/* 0 when the attempt may ask the directory, else the seconds to put into Retry-After. Reads
 * t->rows (as loaded from the store). now: Unix seconds. */
int64_t adc_throttle_check(const struct adc_throttle *t, int64_t now);

/* Counts the attempt as in flight, if every attempt in flight could still fail within the
 * budgets: true, and call adc_throttle_leave when it is answered; false when there is no room
 * now (the caller waits for attempts in flight to end and checks again: legitimate parallel
 * sign-ins of one account pass one after the other, a parallel burst of guesses meets the
 * failures of its first ones). */
bool adc_throttle_enter(struct adc_throttle *t, int64_t now);
void adc_throttle_leave(struct adc_throttle *t);

/* A lock per account (striped): hold it from reading the rows to adc_throttle_enter, and from
 * storing a failure to adc_throttle_leave, so that no attempt enters on rows read before a
 * failure was stored but after its attempt stopped counting in flight. */
void adc_throttle_lock(const struct adc_throttle *t);
void adc_throttle_unlock(const struct adc_throttle *t);

/* After a denied attempt: updates the rows of ACCOUNT (unless familiar), PAIR and CLIENT in t;
 * *write gets which of them to store (a bit per enum adc_throttle_key). */
void adc_throttle_failed(struct adc_throttle *t, int64_t now, unsigned *write);

/* Whether the FAMILIAR row makes this address familiar at now. */
bool adc_throttle_familiar(const struct adc_throttle *t, int64_t now);
