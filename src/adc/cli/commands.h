/* The commands of adc (docs/product.md section 3). Each returns an exit status (exit-codes.h). */
#pragma once

#include "config/config.h"

/* Global options and the configuration they lead to. */
struct adc_context {
    const char *cfg_path_option;  /* -C */
    const char *yaml_path_option; /* -c */
    struct adc_service_config *service; /* adc.cfg, NULL when none was needed or found */
    struct adc_yaml_config *yaml;       /* adc.yaml */
};

enum adc_context_need {
    ADC_NEED_YAML = 1 << 0,    /* adc.yaml must load */
    ADC_NEED_SERVICE = 1 << 1, /* adc.cfg must load (cloud contact) */
};

/* Finds and loads what the command needs: adc.cfg by the lookup order of docs/product.md section 2, then adc.yaml from
 * -c, else the `yaml` key of adc.cfg, else adc.yaml beside adc.cfg. Reports problems on stderr
 * and returns an exit status: ADC_EXIT_OK, or ADC_EXIT_CONFIG. */
int adc_context_load(struct adc_context *ctx, unsigned need);
void adc_context_done(struct adc_context *ctx);

int adc_cmd_check(struct adc_context *ctx, int argc, char **argv);
int adc_cmd_users(struct adc_context *ctx, int argc, char **argv);
int adc_cmd_auth(struct adc_context *ctx, int argc, char **argv);
int adc_cmd_imp(struct adc_context *ctx, int argc, char **argv);
int adc_cmd_run(struct adc_context *ctx, int argc, char **argv);
