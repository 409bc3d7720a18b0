/* adc: the agent next to the directory. main() only parses global options and dispatches. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/exit-codes.h"
#include "common/log.h"

static void usage(FILE *f) {
    fputs("Usage: adc [-C adc.cfg] [-c adc.yaml] [-v|-q] COMMAND [ARGS]\n"
          "\n"
          "Commands:\n"
          "  imp [--dry-run] [--json]  import once: read the directory, plan, apply\n"
          "                            (only show the plan with --dry-run)\n"
          "  run                       the agent: stay connected to adc-server and do what it\n"
          "                            asks (sync, password checks) until SIGTERM\n"
          "  check                     validate the configuration, then try the LDAP bind and\n"
          "                            the cloud credentials\n"
          "  users [--json]            list the users as read and mapped from the directory\n"
          "  auth USERNAME             check a password (read from stdin) against the directory\n"
          "  version                   print the version\n"
          "\n"
          "Options:\n"
          "  -C FILE   adc.cfg (default: $ADC_CFG, ../adc.cfg beside the binary, /etc/adc/adc.cfg)\n"
          "  -c FILE   adc.yaml (default: the `yaml` key of adc.cfg, else beside adc.cfg)\n"
          "  -v        more output (twice for debug)\n"
          "  -q        errors only\n"
          "  -h, --help  this text\n"
          "\n"
          "Exit status: 0 success, 1 runtime failure, 2 usage error, 3 invalid configuration,\n"
          "4 stopped by a safety guard (nothing changed), 5 finished but some users failed.\n",
          f);
}

struct command {
    const char *name;
    int (*run)(struct adc_context *ctx, int argc, char **argv);
};

static const struct command commands[] = {
    {"imp", adc_cmd_imp},     {"run", adc_cmd_run},   {"check", adc_cmd_check},
    {"users", adc_cmd_users}, {"auth", adc_cmd_auth},
};

int main(int argc, char **argv) {
    static const struct option options[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {0},
    };
    struct adc_context ctx = {0};
    int verbosity = 0;

    adc_log_set_program("adc");
    /* '+': stop at the command name; its own options are parsed by the command. */
    for (int c; (c = getopt_long(argc, argv, "+C:c:vqh", options, NULL)) != -1;) {
        switch (c) {
        case 'C': ctx.cfg_path_option = optarg; break;
        case 'c': ctx.yaml_path_option = optarg; break;
        case 'v': verbosity++; break;
        case 'q': verbosity = -1; break;
        case 'h': usage(stdout); return ADC_EXIT_OK;
        case 'V': printf("adc %s\n", ADC_VERSION); return ADC_EXIT_OK;
        default: usage(stderr); return ADC_EXIT_USAGE;
        }
    }
    adc_log_set_level(verbosity < 0    ? ADC_LOG_ERROR
                      : verbosity == 0 ? ADC_LOG_NOTICE
                      : verbosity == 1 ? ADC_LOG_INFO
                                       : ADC_LOG_DEBUG);

    if (optind >= argc) {
        fputs("adc: no command given\n", stderr);
        usage(stderr);
        return ADC_EXIT_USAGE;
    }
    const char *name = argv[optind];
    if (strcmp(name, "version") == 0) {
        printf("adc %s\n", ADC_VERSION);
        return ADC_EXIT_OK;
    }
    if (strcmp(name, "help") == 0) {
        usage(stdout);
        return ADC_EXIT_OK;
    }
    for (size_t i = 0; i < ADC_ARRAY_SIZE(commands); i++) {
        if (strcmp(name, commands[i].name) == 0) {
            /* The command sees argv starting at its own name, like a program of its own. */
            int r = commands[i].run(&ctx, argc - optind, argv + optind);
            adc_context_done(&ctx);
            return r;
        }
    }
    fprintf(stderr, "adc: unknown command '%s'\n", name);
    usage(stderr);
    return ADC_EXIT_USAGE;
}
