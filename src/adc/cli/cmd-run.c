/* adc run: the agent (docs/product.md section 3 and 7). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent/agent.h"
#include "cli/commands.h"
#include "cli/exit-codes.h"
#include "common/log.h"

/* Password checks are mostly waiting on the directory, so a few threads per core keep up with
 * 1000 checks/s on a small machine without crowding out a sync. */
#define DEFAULT_WORKERS 8

static void usage(FILE *f) {
    fputs("Usage: adc [-C adc.cfg] [-c adc.yaml] run [--workers N]\n"
          "Stay connected to adc-server and do what it asks (sync, password checks).\n"
          "SIGHUP reloads adc.cfg and adc.yaml, SIGTERM stops.\n"
          "  --workers N   threads answering password checks (1-64, default 8)\n",
          f);
}

int adc_cmd_run(struct adc_context *ctx, int argc, char **argv) {
    static const struct option options[] = {
        {"workers", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    unsigned workers = DEFAULT_WORKERS;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "h", options, NULL)) != -1;) {
        switch (c) {
        case 'w': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end || n < 1 || n > 64) {
                fprintf(stderr, "adc run: --workers must be a number from 1 to 64, not '%s'\n",
                        optarg);
                return ADC_EXIT_USAGE;
            }
            workers = (unsigned)n;
            break;
        }
        case 'h': usage(stdout); return ADC_EXIT_OK;
        default: usage(stderr); return ADC_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "adc run: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return ADC_EXIT_USAGE;
    }
    int r = adc_context_load(ctx, ADC_NEED_YAML | ADC_NEED_SERVICE);
    if (r != ADC_EXIT_OK)
        return r;
    return adc_agent_run(ctx, workers);
}
