/* Reconnect delays of `adc run`: capped exponential backoff with jitter
 * (docs/agent-protocol.md: 1 s doubling up to 60 s, +-25 %), so that many agents losing the
 * same server do not come back in lockstep. */
#pragma once

struct adc_backoff {
    unsigned base_ms;
    unsigned cap_ms;
    unsigned attempt;
    unsigned seed;
};

void adc_backoff_init(struct adc_backoff *b, unsigned base_ms, unsigned cap_ms, unsigned seed);
/* The delay before the next attempt; each call doubles the next one up to the cap. */
unsigned adc_backoff_next_ms(struct adc_backoff *b);
/* After a success: the next failure waits base_ms again. */
void adc_backoff_reset(struct adc_backoff *b);
