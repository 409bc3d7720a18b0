/* The cloud step of `adc check`: adc.cfg's Application ID and Secret Token against the server,
 * with the same request `adc imp` starts with. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/check-steps.h"
#include "cli/exit-codes.h"
#include "common/log.h"
#include "common/macros.h"
#include "cloud/agent-api.h"

int adc_check_step_cloud(struct adc_context *ctx) {
    if (!ctx->service)
        return ADC_EXIT_OK; /* no adc.cfg: the configuration step said so */
    struct adc_transport *t = NULL;
    struct adc_server_settings st = {0};
    _cleanup_free_ char *err = NULL;
    int r = adc_transport_new(ctx->service, NULL, &t, &err);
    if (r < 0) {
        log_error("cloud: %s", err ? err : "cannot create the client");
        return r == -EINVAL ? ADC_EXIT_CONFIG : ADC_EXIT_FAILURE;
    }
    adc_transport_set_attempts(t, 1); /* report at once; imp is the one that waits */
    r = adc_agent_api_get_settings(t, &st, &err);
    adc_transport_free(t);
    if (r < 0) {
        log_error("cloud: %s", err ? err : "no answer");
        return ADC_EXIT_FAILURE;
    }
    printf("cloud: %s accepts application '%s'%s%s%s\n", ctx->service->server_url,
           ctx->service->app_id, st.name ? " (sync configuration '" : "", st.name ? st.name : "",
           st.name ? "')" : "");
    for (int i = 0; i < ADC_SETTING_COUNT; i++)
        if (st.settings[i] != ADC_UNSET)
            printf("cloud: the server sets %s: %s\n", adc_setting_name(i),
                   st.settings[i] == ADC_TRUE ? "true" : "false");
    fflush(stdout);
    adc_server_settings_done(&st);
    return ADC_EXIT_OK;
}
