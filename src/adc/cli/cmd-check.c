/* adc check: validate the configuration, then try what a run would need. The steps run in
 * order; each prints one line per thing it checked and returns an exit status. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/check-steps.h"
#include "cli/commands.h"
#include "cli/exit-codes.h"
#include "directory/ldap-source.h"
#include "common/log.h"
#include "common/macros.h"
#include "watch/watch.h"

struct check_step {
    const char *name;
    int (*run)(struct adc_context *ctx);
    /* Later steps need what this one checked (the configuration): stop when it fails. */
    bool fatal;
    /* Talks to the directory or the cloud: skipped by --offline. */
    bool network;
};

/* Step 1: adc.cfg (when one is found) and adc.yaml load and validate. All problems are
 * printed by the loaders as file:line:col; exit 3. */
static int check_configuration(struct adc_context *ctx) {
    int r = adc_context_load(ctx, ADC_NEED_YAML);
    if (r != ADC_EXIT_OK)
        return r;
    if (ctx->service)
        printf("adc.cfg: %s\n", ctx->service->path);
    else
        printf("adc.cfg: none found; the cloud connection is not checked\n");
    printf("adc.yaml: %s\n", ctx->yaml->path);
    printf("configuration OK\n");
    fflush(stdout);
    return ADC_EXIT_OK;
}

static int check_live(struct adc_context *ctx);

/* Part of step 2: an account the bind user may read but whose lock attribute it may not read
 * looks active and would sync as active (rule 4). A warning, not a failure: the configuration
 * works, and the server may have no such accounts. */
static void check_lock_access(const struct adc_ldap_config *l) {
    const char *unreadable[ADC_LOCK_ATTRIBUTES];
    size_t n = 0;
    char *dn = NULL, *err = NULL;
    if (adc_ldap_probe_lock_access(l, unreadable, &n, &dn, &err) < 0) {
        log_warning("directory: cannot tell whether the lock attributes are readable: %s",
                    err ? err : "out of memory");
        free(err);
        return;
    }
    for (size_t i = 0; i < n; i++)
        log_warning("directory: '%s' may not read '%s' of '%s': a disabled or locked account "
                    "would sync as active; grant the bind account read access to %s",
                    l->bind_dn ? l->bind_dn : "(anonymous)", unreadable[i], dn, unreadable[i]);
    if (dn && n == 0)
        printf("directory: the lock attributes are readable (checked on '%s')\n", dn);
    free(dn);
}

/* Step 2: the directory. Binds as a sync would and asks whether sync.filter finds anyone: a
 * filter that finds nobody would make a sync plan to remove every user (the mass-delete guard
 * would stop it, but the configuration is wrong), so that fails the check too. */
static int check_directory(struct adc_context *ctx) {
    const struct adc_ldap_config *l = &ctx->yaml->ldap;
    char *err = NULL;
    bool found = false;
    if (adc_ldap_probe(l, &found, &err) < 0) {
        log_error("directory: %s", err ? err : "cannot reach the directory");
        free(err);
        return ADC_EXIT_FAILURE;
    }
    printf("directory: bound to %s as '%s'\n", l->addr, l->bind_dn ? l->bind_dn : "(anonymous)");
    if (!found) {
        log_error("directory: the filter '%s' finds no entry under '%s' (scope %s); check "
                  "backend.ldap.sync.filter, base_dn and scope",
                  l->filter, l->base_dn,
                  l->scope == ADC_SCOPE_BASE  ? "base"
                  : l->scope == ADC_SCOPE_ONE ? "one"
                                              : "sub");
        return ADC_EXIT_FAILURE;
    }
    printf("directory: the filter '%s' finds users under '%s'\n", l->filter, l->base_dn);
    check_lock_access(l);
    fflush(stdout);
    return check_live(ctx);
}

/* Part of step 2: how `adc run` will learn of changes (docs/product.md section 9). Not a failure
 * when the directory offers no change stream: the poll works everywhere. */
static int check_live(struct adc_context *ctx) {
    const struct adc_ldap_config *l = &ctx->yaml->ldap;
    if (l->watch != ADC_WATCH_AUTO) {
        printf("live changes: %s (backend.ldap.sync.watch)\n", adc_watch_name(l->watch));
        return ADC_EXIT_OK;
    }
    enum adc_watch w;
    char *why = NULL, *err = NULL;
    if (adc_watch_detect(l, &w, &why, &err) < 0) {
        log_error("live changes: %s", err ? err : "cannot read the root DSE");
        free(err);
        return ADC_EXIT_FAILURE;
    }
    printf("live changes: %s (%s)\n", adc_watch_name(w), why ? why : "detected");
    free(why);
    fflush(stdout);
    return ADC_EXIT_OK;
}

/* The steps of `adc check`, in order. Add a step by adding its function here:
 *  - directory: bind to backend.ldap and say whether the sync filter finds anyone
 *    (LDAP reading, ldap-*.c);
 *    and which watcher `adc run` uses for live changes (backend.ldap.sync.watch, or the root
 *    DSE: watch/watch.h);
 *  - cloud: try adc.cfg's app_id/secret against the server (sync engine); skip when
 *    ctx->service is NULL (no adc.cfg). */
static const struct check_step check_steps[] = {
    {"configuration", check_configuration, true, false},
    {"directory", check_directory, false, true},
    {"cloud", adc_check_step_cloud, false, true},
};

int adc_cmd_check(struct adc_context *ctx, int argc, char **argv) {
    static const struct option options[] = {
        {"help", no_argument, NULL, 'h'},
        {"offline", no_argument, NULL, 'o'},
        {0},
    };
    bool offline = false;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "h", options, NULL)) != -1;) {
        switch (c) {
        case 'h':
            printf("Usage: adc [-C adc.cfg] [-c adc.yaml] check [--offline]\n"
                   "Validates adc.cfg and adc.yaml (every problem as file:line:col), then tries "
                   "the LDAP bind and the cloud credentials.\n"
                   "  --offline  only validate the files; contact neither the directory nor "
                   "the cloud\n");
            return ADC_EXIT_OK;
        case 'o': offline = true; break;
        default: return ADC_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "adc check: unexpected argument '%s'\n", argv[optind]);
        return ADC_EXIT_USAGE;
    }

    int result = ADC_EXIT_OK;
    for (size_t i = 0; i < ADC_ARRAY_SIZE(check_steps); i++) {
        if (offline && check_steps[i].network)
            continue;
        log_debug("check: %s", check_steps[i].name);
        int r = check_steps[i].run(ctx);
        if (r == ADC_EXIT_OK)
            continue;
        /* The first failure decides the exit status (3 for configuration, 1 for the rest). */
        if (result == ADC_EXIT_OK)
            result = r;
        if (check_steps[i].fatal)
            break;
    }
    return result;
}
