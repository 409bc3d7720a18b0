/* Commands whose issue is still open. Each moves to its own file when built; this file goes
 * away when the last one has. */
#include "commands.h"
#include "exit-codes.h"
#include "log.h"

static int pending(const char *what) {
    log_error("'%s' is not available in this build yet", what);
    return ADC_EXIT_FAILURE;
}

int adc_cmd_imp(struct adc_context *ctx, int argc, char **argv) {
    (void)ctx, (void)argc, (void)argv;
    return pending("imp");
}
