/* `adc-server --db FILE admin create|password|delete|list`: the web console's administrator
 * accounts from the command line (api/admin-accounts.h does the work). */
#include "cli/admin.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "api/admin-accounts.h"
#include "common/log.h"
#include "common/macros.h"
#include "common/secret.h"
#include "http/password.h"
#include "store/store-admins.h"
#include "store/store.h"

/* Reads a password: from a terminal without echo and twice, else one line of stdin (so a
 * script can pipe it; never an argument, which other users see in ps). Returns a string to
 * free with adc_secret_free(), or NULL with the reason printed. */
static char *read_password(const char *name) {
    char buf[ADC_PASSWORD_MAX + 3], again[ADC_PASSWORD_MAX + 3];
    bool tty = isatty(STDIN_FILENO);
    struct termios old, quiet;
    char *result = NULL;
    if (tty) {
        if (tcgetattr(STDIN_FILENO, &old) < 0) {
            log_error("cannot read the terminal settings: %s", strerror(errno));
            return NULL;
        }
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        fprintf(stderr, "Password for '%s': ", name);
    }
    bool ok = fgets(buf, sizeof(buf), stdin) != NULL;
    if (tty && ok) {
        fprintf(stderr, "\nRepeat the password: ");
        ok = fgets(again, sizeof(again), stdin) != NULL;
    }
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    if (!ok) {
        log_error("no password on standard input; pipe it in or type it at the prompt");
        goto out;
    }
    size_t n = strcspn(buf, "\r\n");
    if (buf[n] == '\0' && n > ADC_PASSWORD_MAX) {
        log_error("the password is longer than %d characters", ADC_PASSWORD_MAX);
        goto out;
    }
    buf[n] = '\0';
    if (tty) {
        again[strcspn(again, "\r\n")] = '\0';
        if (!adc_secret_equal(buf, again)) {
            log_error("the two passwords differ; nothing changed");
            goto out;
        }
    }
    if (n < ADC_PASSWORD_MIN) {
        log_error("the password must have at least %d characters", ADC_PASSWORD_MIN);
        goto out;
    }
    result = strdup(buf);
    if (!result)
        log_error("out of memory");
out:
    explicit_bzero(buf, sizeof(buf));
    explicit_bzero(again, sizeof(again));
    return result;
}

static int print_account(const struct adc_store_admin *a, void *ctx) {
    (void)ctx;
    printf("%-32s %-22s %s\n", a->name, a->created, a->last_sign_in[0] ? a->last_sign_in : "never");
    return 0;
}

static int cmd_list(struct adc_store *s) {
    struct adc_db *db = adc_store_acquire(s);
    if (!db)
        return 1;
    printf("%-32s %-22s %s\n", "NAME", "CREATED", "LAST SIGN-IN");
    int r = adc_store_admin_list(db, print_account, NULL);
    adc_store_release(db);
    if (r < 0) {
        log_error("cannot list the administrator accounts: %s", strerror(-r));
        return 1;
    }
    return 0;
}

static void admin_usage(FILE *f) {
    fprintf(f,
            "Usage: adc-server --db FILE admin create NAME     (password on stdin)\n"
            "       adc-server --db FILE admin password NAME   (new password on stdin)\n"
            "       adc-server --db FILE admin delete NAME\n"
            "       adc-server --db FILE admin list\n"
            "NAME: 1-%d characters of letters, digits and . _ @ -; the password: at least %d "
            "characters.\n",
            ADC_ADMIN_NAME_MAX, ADC_PASSWORD_MIN);
}

int adc_admin_command(const char *db_path, int argc, char **argv) {
    if (argc < 1 || (strcmp(argv[0], "list") == 0 ? argc != 1 : argc != 2)) {
        admin_usage(stderr);
        return 2;
    }
    const char *verb = argv[0], *name = argc > 1 ? argv[1] : NULL;
    if (!adc_streq(verb, "create") && !adc_streq(verb, "password") && !adc_streq(verb, "delete") &&
        !adc_streq(verb, "list")) {
        log_error("unknown admin command '%s'", verb);
        admin_usage(stderr);
        return 2;
    }
    if (name && !adc_admin_name_valid(name)) {
        log_error("invalid account name '%s': use 1-%d characters of letters, digits and . _ @ -",
                  name, ADC_ADMIN_NAME_MAX);
        return 2;
    }
    if (!db_path) {
        log_error("missing --db FILE");
        return 2;
    }
    struct adc_store *s = NULL;
    if (adc_store_open(db_path, false, &s) < 0)
        return 1; /* the store said why */
    int status = 1, r;
    char *pw = NULL;
    if (adc_streq(verb, "list")) {
        status = cmd_list(s);
        goto out;
    }
    if (adc_streq(verb, "delete")) {
        r = adc_admin_account_delete(s, name, "cli");
        if (r == -ENOENT)
            log_error("no administrator account '%s'", name);
        else if (r < 0)
            log_error("cannot delete the administrator account '%s': %s", name, strerror(-r));
        else {
            printf("deleted administrator account '%s' and its sessions\n", name);
            status = 0;
        }
        goto out;
    }
    pw = read_password(name);
    if (!pw)
        goto out;
    if (adc_streq(verb, "create")) {
        r = adc_admin_account_create(s, name, pw, "cli");
        if (r == -EEXIST)
            log_error("an administrator account '%s' exists already; change its password with "
                      "'admin password %s'",
                      name, name);
        else if (r < 0)
            log_error("cannot create the administrator account '%s': %s", name, strerror(-r));
        else {
            printf("created administrator account '%s'; sign in at /console/\n", name);
            status = 0;
        }
    } else {
        r = adc_admin_account_set_password(s, name, pw, "cli");
        if (r == -ENOENT)
            log_error("no administrator account '%s'", name);
        else if (r < 0)
            log_error("cannot change the password of '%s': %s", name, strerror(-r));
        else {
            printf("changed the password of '%s'; its sessions were ended\n", name);
            status = 0;
        }
    }
out:
    adc_secret_free(pw);
    adc_store_free(s);
    return status;
}
