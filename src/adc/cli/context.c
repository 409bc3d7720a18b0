/* Finding and loading the configuration a command needs (docs/product.md section 2): adc.cfg by
 * -C, $ADC_CFG, ../adc.cfg beside the binary, /etc/adc/adc.cfg; adc.yaml by -c, the `yaml` key
 * of adc.cfg, or adc.yaml beside adc.cfg. Commands without cloud contact (check, users, auth)
 * run on adc.yaml alone when -c names it and no adc.cfg exists. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "config/config-util.h"
#include "cli/exit-codes.h"
#include "common/log.h"
#include "common/macros.h"

int adc_context_load(struct adc_context *ctx, unsigned need) {
    _cleanup_free_ char *tried = NULL;
    _cleanup_free_ char *cfg_path = adc_service_config_find(ctx->cfg_path_option, &tried);
    _cleanup_free_ char *yaml_path = NULL;
    bool cfg_failed = false;
    int ret = ADC_EXIT_OK;

    if (cfg_path) {
        if (adc_service_config_load(cfg_path, stderr, &ctx->service) < 0) {
            if (!ctx->cfg_path_option && adc_config_check_readable(cfg_path) < 0 &&
                getenv("ADC_CFG"))
                log_notice("adc.cfg '%s' is named by $ADC_CFG", cfg_path);
            cfg_failed = true;
            ret = ADC_EXIT_CONFIG;
        }
    } else if (need & ADC_NEED_SERVICE) {
        log_error("no adc.cfg found (tried %s); name it with -C FILE or $ADC_CFG",
                  tried ? tried : "the default places");
        ret = ADC_EXIT_CONFIG;
    }

    if (!(need & ADC_NEED_YAML))
        return ret;

    if (ctx->yaml_path_option)
        yaml_path = strdup(ctx->yaml_path_option);
    else if (ctx->service && ctx->service->yaml_path)
        yaml_path = strdup(ctx->service->yaml_path); /* already relative to adc.cfg's directory */
    else if (cfg_failed)
        /* adc.cfg may name another adc.yaml with a key it failed to parse; guessing would add
         * a misleading error. */
        return ret;
    else if (cfg_path)
        yaml_path = adc_config_path_resolve(cfg_path, "adc.yaml");
    else {
        log_error("no adc.yaml: name it with -c FILE, or put adc.cfg in one of %s",
                  tried ? tried : "the default places");
        return ADC_EXIT_CONFIG;
    }
    if (!yaml_path) {
        log_error("out of memory");
        return ADC_EXIT_FAILURE;
    }
    if (adc_yaml_config_load(yaml_path, stderr, &ctx->yaml) < 0) {
        if (!ctx->yaml_path_option && adc_config_check_readable(yaml_path) < 0)
            log_notice("adc.yaml is looked for %s %s; name another with -c FILE",
                       ctx->service && ctx->service->yaml_path ? "where the yaml key of" : "beside",
                       cfg_path);
        ret = ADC_EXIT_CONFIG;
    }
    return ret;
}

void adc_context_done(struct adc_context *ctx) {
    adc_service_config_free(ctx->service);
    ctx->service = NULL;
    adc_yaml_config_free(ctx->yaml);
    ctx->yaml = NULL;
}
