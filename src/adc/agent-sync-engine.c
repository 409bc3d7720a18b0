/* The agent's sync command runs the engine of `adc imp` (imp.c): same settings, same plan,
 * same guard. The run record is the agent's (the server created it for the command), so the
 * engine makes none of its own. */
#include "agent-sync-engine.h"

#include <errno.h>

#include "exit-codes.h"
#include "imp.h"

struct adapter {
    const struct adc_sync_engine_params *p;
    const struct adc_imp_result *res;
};

static bool on_progress(void *ud, enum adc_imp_phase phase, size_t done, size_t total) {
    struct adapter *a = ud;
    (void)done, (void)total;
    if (!a->p->progress)
        return true;
    /* Counts are known once the plan is: the planned ones until the writes report. */
    struct adc_plan_stats none = {0};
    json_t *stats = adc_imp_stats_json(phase == ADC_IMP_READ ? &none : &a->res->plan.stats);
    bool go_on = a->p->progress(a->p->userdata, stats);
    json_decref(stats);
    return go_on;
}

int adc_sync_engine_run(const struct adc_sync_engine_params *p, json_t **stats, json_t **errors) {
    struct adc_imp_result res;
    struct adapter a = {.p = p, .res = &res};
    struct adc_imp_options opt = {
        .dry_run = p->dry_run,
        .record_run = false,
        .progress = on_progress,
        .userdata = &a,
    };
    adc_imp_run(p->yaml, p->service, &opt, &res);
    *stats = adc_imp_stats_json(&res.stats);
    *errors = adc_imp_errors_json(&res, 100);
    /* Some users failing is a finished run with errors, as for `adc imp` (exit 5). */
    int r = res.status == ADC_EXIT_OK || res.status == ADC_EXIT_PARTIAL ? 0
            : res.status == ADC_EXIT_GUARD                              ? -ECANCELED
                                                                        : -EIO;
    adc_imp_result_done(&res);
    return r;
}
