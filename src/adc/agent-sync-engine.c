/* Placeholder until the sync engine lands on main: the run is reported failed, saying why. */
#include "agent-sync-engine.h"

#include <errno.h>

int adc_sync_engine_run(const struct adc_sync_engine_params *p, json_t **stats, json_t **errors) {
    (void)p;
    *stats = NULL;
    *errors = json_pack("[s]", "the sync engine is not part of this build yet");
    return -ENOSYS;
}
