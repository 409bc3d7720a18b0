/* The password-check pool of `adc run`: a few threads, each with its own warm connection to the
 * server for the answers, so checks run concurrently with each other and with a sync. */
#pragma once

#include "agent/agent.h"

struct adc_workers;

/* Starts n threads (1..64). Returns 0 or a negative errno. */
int adc_workers_new(unsigned n, struct adc_workers **ret);
/* Queues one check_password command; copies every string (the password into memory that is
 * wiped after use). The check runs with `cfg`'s adc.yaml and the answer goes to `cfg`'s server.
 * Returns 0, or -EAGAIN when the queue is full (the caller answers "unavailable"). */
int adc_workers_submit(struct adc_workers *w, struct adc_agent_config *cfg, const char *command_id,
                       const char *user_name, const char *password);
/* Answers every queued check, then stops the threads and frees the pool. Accepts NULL. */
void adc_workers_free(struct adc_workers *w);
