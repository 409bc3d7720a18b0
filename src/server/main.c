/* adc-server: the cloud side. main() only parses the command line and dispatches. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

static void usage(FILE *f) {
    fputs("Usage: adc-server --db FILE COMMAND [ARGS]\n"
          "\n"
          "Commands:\n"
          "  init                          create the database; print a System Administrator\n"
          "                                token (shown once)\n"
          "  serve [--listen ADDR:PORT] [--tls-cert FILE --tls-key FILE]\n"
          "                                serve the HTTP API, SCIM 2.0 and the agent channel\n"
          "  token create --name NAME      another System Administrator token (shown once)\n"
          "  version                       print the version\n"
          "\n"
          "Options:\n"
          "  --db FILE   the SQLite database\n"
          "  -v          more output (twice for debug)\n"
          "  -q          errors only\n"
          "  -h, --help  this text\n",
          f);
}

int main(int argc, char **argv) {
    static const struct option options[] = {
        {"db", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    adc_log_set_program("adc-server");
    for (int c; (c = getopt_long(argc, argv, "+d:vqh", options, NULL)) != -1;) {
        switch (c) {
        case 'd': break;
        case 'v': adc_log_set_level(ADC_LOG_DEBUG); break;
        case 'q': adc_log_set_level(ADC_LOG_ERROR); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc && strcmp(argv[optind], "version") == 0) {
        printf("adc-server %s\n", ADC_VERSION);
        return 0;
    }
    usage(stderr);
    return 2;
}
