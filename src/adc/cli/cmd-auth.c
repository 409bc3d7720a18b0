/* adc auth USERNAME: the password check of docs/product.md section 5, as `adc run` answers it, with the
 * password read from the first line of stdin (never from the command line, where every user of
 * the machine can read it). Exit 0 accepted, 1 denied or directory unavailable; one word on
 * stdout, the reason on stderr. The password is never printed and is wiped after use. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/exit-codes.h"
#include "directory/ldap-auth.h"
#include "common/log.h"
#include "common/macros.h"

/* Longer than any password a person types; a longer line is refused, not truncated. */
#define PASSWORD_MAX 1024

static void usage(FILE *f) {
    fputs("Usage: adc auth USERNAME < password\n"
          "Check a password (the first line of stdin) against the directory, as `adc run`\n"
          "would. Exit 0 when accepted, 1 when denied or the directory cannot be asked.\n",
          f);
}

/* Reads the first line of stdin into buf; 0, or -1 when it is too long or unreadable. Reads
 * the file descriptor byte by byte rather than through stdio, so that no buffer we do not wipe
 * keeps a copy of the password (and nothing after the first line is consumed). On a terminal
 * it asks, without echo. */
static int read_password(char *buf, size_t size) {
    struct termios old, quiet;
    bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    size_t n = 0;
    int r = 0;

    if (tty) {
        fputs("Password: ", stderr);
        fflush(stderr);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        (void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    for (;;) {
        char c;
        ssize_t k = read(STDIN_FILENO, &c, 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            r = -1;
            break;
        }
        if (k == 0 || c == '\n')
            break;
        if (n + 1 >= size) {
            r = -1; /* too long: refused, not truncated */
            break;
        }
        buf[n++] = c;
    }
    if (tty) {
        (void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    return r;
}

int adc_cmd_auth(struct adc_context *ctx, int argc, char **argv) {
    static const struct option options[] = {
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    char password[PASSWORD_MAX + 2];
    char *reason = NULL;
    int r;

    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "h", options, NULL)) != -1;) {
        switch (c) {
        case 'h': usage(stdout); return ADC_EXIT_OK;
        default: usage(stderr); return ADC_EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        fputs(argc - optind == 0 ? "adc auth: USERNAME is missing\n"
                                 : "adc auth: exactly one USERNAME is expected\n",
              stderr);
        usage(stderr);
        return ADC_EXIT_USAGE;
    }
    const char *user_name = argv[optind];

    /* A directory that drops the connection must end in an error message, not in death by
     * SIGPIPE when libldap writes to the dead socket (a closed stdout then gives EPIPE). */
    signal(SIGPIPE, SIG_IGN);

    r = adc_context_load(ctx, ADC_NEED_YAML);
    if (r != ADC_EXIT_OK)
        return r;

    if (read_password(password, sizeof(password)) < 0) {
        explicit_bzero(password, sizeof(password));
        log_error("cannot read the password from stdin (at most %d bytes on the first line)",
                  PASSWORD_MAX);
        puts("denied");
        return ADC_EXIT_FAILURE;
    }
    enum adc_auth_outcome o =
        adc_ldap_check_password(&ctx->yaml->ldap, user_name, password, &reason);
    explicit_bzero(password, sizeof(password));
    adc_ldap_auth_pool_flush();

    switch (o) {
    case ADC_AUTH_ACCEPTED:
        log_info("accepted: %s", reason);
        puts("accepted");
        r = ADC_EXIT_OK;
        break;
    case ADC_AUTH_DENIED:
        log_error("denied: %s", reason);
        puts("denied");
        r = ADC_EXIT_FAILURE;
        break;
    case ADC_AUTH_UNAVAILABLE:
    default:
        log_error("cannot check the password, the directory is unavailable: %s", reason);
        puts("unavailable");
        r = ADC_EXIT_FAILURE;
        break;
    }
    free(reason);
    return r;
}
