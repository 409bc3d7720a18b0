/* `adc run`: the agent (docs/product.md sections 5 and 7, docs/agent-protocol.md).
 * The main thread owns the channel (connect, long poll, signals); password checks run on a
 * small thread pool (agent-workers.c); a sync runs in a thread of its own (agent-sync.c), so
 * checks are answered while it runs. */
#pragma once

#include <stdatomic.h>

#include "cli/commands.h"
#include "config/config.h"

/* One loaded configuration. SIGHUP replaces the agent's current snapshot; work in flight keeps a
 * reference to the snapshot it started with, so a reload never pulls a config from under it. */
struct adc_agent_config {
    atomic_int refs;
    unsigned generation;
    struct adc_yaml_config *yaml;
    struct adc_service_config *service;
};

/* Takes ownership of yaml and service. Returns NULL when out of memory (then frees them). */
struct adc_agent_config *adc_agent_config_new(struct adc_yaml_config *yaml,
                                              struct adc_service_config *service,
                                              unsigned generation);
struct adc_agent_config *adc_agent_config_ref(struct adc_agent_config *c);
void adc_agent_config_unref(struct adc_agent_config *c);

/* Runs the agent until SIGTERM/SIGINT or a fatal error; takes the configuration out of ctx.
 * Returns an exit status (exit-codes.h). */
int adc_agent_run(struct adc_context *ctx, unsigned n_workers);
