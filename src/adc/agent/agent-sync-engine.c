/* The agent's sync command runs the engine of `adc imp` (imp.c): same settings, same plan,
 * same guard. The run record is the agent's (the server created it for the command, and
 * agent-sync.c reports to it), so the engine makes none of its own. */
#include "agent/agent-sync-engine.h"

#include <errno.h>

#include "agent/agent-live.h"
#include "cli/exit-codes.h"
#include "sync/imp.h"

/* Errors carried into the run record; the server keeps at most 100 anyway. */
#define MAX_RUN_ERRORS 100

static const char *phase_name(enum adc_imp_phase p) {
    switch (p) {
    case ADC_IMP_READ: return "read";
    case ADC_IMP_PLAN: return "plan";
    case ADC_IMP_APPLY: return "apply";
    }
    return "run";
}

static bool on_imp_progress(void *userdata, enum adc_imp_phase phase, size_t done, size_t total) {
    const struct adc_sync_engine_params *p = userdata;
    if (!p->progress)
        return true;
    json_t *progress = json_pack("{s:s, s:I, s:I}", "phase", phase_name(phase), "done",
                                 (json_int_t)done, "total", (json_int_t)total);
    bool go = p->progress(p->userdata, progress);
    json_decref(progress);
    return go;
}

int adc_sync_engine_run(const struct adc_sync_engine_params *p, json_t **stats, json_t **errors) {
    struct adc_imp_options opt = {
        .dry_run = p->dry_run,
        .record_run = false,
        .progress = on_imp_progress,
        .userdata = (void *)p,
    };
    struct adc_imp_result res;
    adc_imp_run(p->yaml, p->service, &opt, &res);
    /* Live deletes held back by the burst guard wait for this (docs/product.md section 9). */
    adc_live_full_sync_done((res.status == ADC_EXIT_OK || res.status == ADC_EXIT_PARTIAL) &&
                                !res.dry_run,
                            adc_imp_owned_after(&res));
    *stats = adc_imp_stats_json(&res.stats);
    *errors = adc_imp_errors_json(&res, MAX_RUN_ERRORS);
    /* As `adc imp` records its own runs: some users failing (exit 5) still completes the run;
     * the failed count and the errors say which. */
    int r = res.status == ADC_EXIT_OK || res.status == ADC_EXIT_PARTIAL ? 0
            : res.status == ADC_EXIT_GUARD                              ? -ECANCELED
                                                                        : -EIO;
    adc_imp_result_done(&res);
    return r;
}
