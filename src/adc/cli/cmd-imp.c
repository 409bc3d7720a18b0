/* `adc imp [--dry-run] [--json]`: one synchronization, shown to a person or as JSON
 * (docs/product.md section 3). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/exit-codes.h"
#include "sync/imp.h"
#include "common/log.h"

struct progress {
    bool tty;
    bool shown;
    struct timespec last;
};

static const char *phase_text(enum adc_imp_phase ph) {
    switch (ph) {
    case ADC_IMP_READ: return "reading the directory and the cloud users";
    case ADC_IMP_PLAN: return "planning";
    case ADC_IMP_APPLY: return "writing to the cloud";
    }
    return "";
}

/* A status line on stderr, rewritten in place, at most 5 times a second. Only on a terminal:
 * logs and pipes get no carriage returns. */
static bool on_progress(void *ud, enum adc_imp_phase ph, size_t done, size_t total) {
    struct progress *p = ud;
    if (!p->tty)
        return true;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long ms = (now.tv_sec - p->last.tv_sec) * 1000 + (now.tv_nsec - p->last.tv_nsec) / 1000000;
    if (p->shown && ms < 200 && done != total)
        return true;
    p->last = now;
    p->shown = true;
    if (total)
        fprintf(stderr, "\r\033[K%s: %zu/%zu", phase_text(ph), done, total);
    else
        fprintf(stderr, "\r\033[K%s...", phase_text(ph));
    fflush(stderr);
    return true;
}

static void progress_clear(struct progress *p) {
    if (p->tty && p->shown)
        fputs("\r\033[K", stderr);
}

static void print_settings(const struct adc_imp_result *r) {
    printf("Settings:\n");
    for (int i = 0; i < ADC_SETTING_COUNT; i++)
        printf("  %-28s %-5s  (%s)\n", adc_setting_name(i), r->settings.value[i] ? "true" : "false",
               adc_setting_source_name(r->settings.source[i]));
    printf("  %-28s %ld%s\n", "max-delete", r->max_delete.value, r->max_delete.percent ? "%" : "");
}

static void print_plan(const struct adc_imp_result *r) {
    char why[512];
    if (r->plan.n_changes == 0) {
        printf("Plan: nothing to change\n");
        return;
    }
    printf("Plan%s:\n", r->dry_run ? " (dry run: nothing is changed)" : "");
    for (size_t i = 0; i < r->plan.n_changes; i++) {
        const struct adc_plan_change *c = &r->plan.changes[i];
        const char *name = c->user_name ? c->user_name : c->dn ? c->dn : "(no name)";
        const char *e = r->apply.errors ? r->apply.errors[i] : NULL;
        adc_plan_change_describe(c, why, sizeof(why));
        if (e)
            printf("  %-8s %-32s FAILED: %s%s%s\n", adc_plan_op_name(c->op), name, e,
                   *why ? "; " : "", why);
        else if (r->apply.existed && r->apply.existed[i]) /* sync/apply.h */
            printf("  %-8s %-32s it was in the cloud already as this configuration's user\n",
                   adc_plan_op_name(ADC_PLAN_UPDATE), name);
        else
            printf("  %-8s %-32s %s\n", adc_plan_op_name(c->op), name, why);
    }
}

static void print_summary(const struct adc_imp_result *r) {
    const struct adc_plan_stats *s = &r->stats;
    printf("%s: created %zu, updated %zu, deleted %zu, disabled %zu, enabled %zu, unchanged %zu, "
           "skipped %zu, failed %zu\n",
           r->dry_run ? "Summary (dry run, would be)" : "Summary", s->created, s->updated,
           s->deleted, s->disabled, s->enabled, s->unchanged, s->skipped, s->failed);
    char *groups = adc_imp_groups_summary(r);
    if (groups)
        printf("%s\n", groups);
    free(groups);
}

static void usage(FILE *f) {
    fputs("Usage: adc imp [--dry-run] [--json]\n"
          "  --dry-run  compute and show the plan; change nothing in the cloud\n"
          "  --json     print one JSON document instead of text\n",
          f);
}

int adc_cmd_imp(struct adc_context *ctx, int argc, char **argv) {
    static const struct option options[] = {
        {"dry-run", no_argument, NULL, 'n'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    bool dry_run = false, json = false;
    optind = 0; /* glibc: start over on the command's own argv */
    for (int c; (c = getopt_long(argc, argv, "+h", options, NULL)) != -1;) {
        switch (c) {
        case 'n': dry_run = true; break;
        case 'j': json = true; break;
        case 'h': usage(stdout); return ADC_EXIT_OK;
        default: usage(stderr); return ADC_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "adc imp: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return ADC_EXIT_USAGE;
    }
    int r = adc_context_load(ctx, ADC_NEED_YAML | ADC_NEED_SERVICE);
    if (r != ADC_EXIT_OK)
        return r;

    struct progress prog = {.tty = isatty(STDERR_FILENO) && adc_log_get_level() >= ADC_LOG_NOTICE};
    struct adc_imp_options opt = {
        .dry_run = dry_run,
        .record_run = true,
        .progress = on_progress,
        .userdata = &prog,
    };
    struct adc_imp_result res;
    adc_imp_run(ctx->yaml, ctx->service, &opt, &res);
    progress_clear(&prog);

    bool quiet = adc_log_get_level() < ADC_LOG_NOTICE;
    if (json && res.have_settings) {
        if (adc_imp_write_json(stdout, &res) < 0) {
            log_error("cannot write the JSON document (out of memory, or stdout closed)");
            res.status = ADC_EXIT_FAILURE;
        }
    } else if (!json) {
        if (res.have_settings && !quiet)
            print_settings(&res);
        if (res.have_plan) {
            if (!quiet)
                print_plan(&res);
            print_summary(&res);
        }
    }
    fflush(stdout);
    if (res.error)
        log_error("%s", res.error);
    else if (res.status == ADC_EXIT_PARTIAL)
        log_error("%zu users could not be written; the others were", res.stats.failed);
    r = res.status;
    adc_imp_result_done(&res);
    return r;
}
