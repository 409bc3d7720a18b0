#include "agent/agent-backoff.h"

#include <stdlib.h>

void adc_backoff_init(struct adc_backoff *b, unsigned base_ms, unsigned cap_ms, unsigned seed) {
    *b = (struct adc_backoff){.base_ms = base_ms ? base_ms : 1, .cap_ms = cap_ms, .seed = seed};
    if (b->cap_ms < b->base_ms)
        b->cap_ms = b->base_ms;
}

unsigned adc_backoff_next_ms(struct adc_backoff *b) {
    unsigned long long d = b->base_ms;
    /* Shift at most 31 times: the cap is reached long before and overflow is impossible. */
    for (unsigned i = 0; i < b->attempt && d < b->cap_ms; i++)
        d *= 2;
    if (d > b->cap_ms)
        d = b->cap_ms;
    if (b->attempt < 64)
        b->attempt++;
    /* Jitter in [-25 %, +25 %]: rand_r is enough, this only spreads reconnects. */
    long long span = (long long)d / 2;
    long long j = span > 0 ? (long long)(rand_r(&b->seed) % (span + 1)) - span / 2 : 0;
    long long out = (long long)d + j;
    return out < 1 ? 1 : (unsigned)out;
}

void adc_backoff_reset(struct adc_backoff *b) { b->attempt = 0; }
