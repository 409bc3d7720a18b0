/* adc users [--json]: the users as read and mapped from the directory, no cloud contact.
 * Output is written only after the enumeration completed: a failure prints nothing on stdout
 * (rule 5: never a partial list). JSON is streamed one user at a time, so 100,000 users do not
 * need a second copy of themselves as a JSON tree. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "exit-codes.h"
#include "ldap-source.h"
#include "log.h"
#include "macros.h"

static void usage(FILE *f) {
    fputs("Usage: adc users [--json]\n"
          "List the users as read and mapped from the directory (no cloud contact).\n"
          "  --json   one JSON document: {\"id_attribute\", \"users\": [...], \"skipped\": [...]}\n",
          f);
}

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

/* Writes one JSON value followed by `sep`; 0 or -ENOMEM. */
static int dump(FILE *out, json_t *v, const char *sep) {
    if (!v)
        return -ENOMEM;
    int r = json_dumpf(v, out, JSON_COMPACT | JSON_ENCODE_ANY) < 0 ? -EIO : 0;
    json_decref(v);
    fputs(sep, out);
    return r;
}

static int print_json(FILE *out, const struct adc_read_result *res) {
    int r;
    json_t *id = json_string(res->id_attribute);
    fputs("{\"id_attribute\":", out);
    if ((r = dump(out, id, ",\"users\":[")) < 0)
        return r;
    for (size_t i = 0; i < res->users.n; i++) {
        const struct adc_user *u = &res->users.items[i];
        json_t *o = json_object();
        if (!o)
            return -ENOMEM;
        /* json_object_set_new keeps insertion order (jansson >= 2.8): the documented order. */
        json_object_set_new(o, "userName", str_or_null(u->user_name));
        json_object_set_new(o, "externalId", str_or_null(u->external_id));
        json_object_set_new(o, "displayName", str_or_null(u->display_name));
        json_object_set_new(o, "givenName", str_or_null(u->given_name));
        json_object_set_new(o, "familyName", str_or_null(u->family_name));
        json_object_set_new(o, "email", str_or_null(u->email));
        json_object_set_new(o, "active", json_boolean(u->active));
        json_object_set_new(o, "dn", str_or_null(u->dn));
        if ((r = dump(out, o, i + 1 < res->users.n ? "," : "")) < 0)
            return r;
    }
    fputs("],\"skipped\":[", out);
    for (size_t i = 0; i < res->n_skipped; i++) {
        const struct adc_skipped_entry *s = &res->skipped[i];
        json_t *o = json_object();
        if (!o)
            return -ENOMEM;
        json_object_set_new(o, "dn", str_or_null(s->dn));
        json_object_set_new(o, "userName", str_or_null(s->user_name));
        json_object_set_new(o, "reason", str_or_null(s->reason));
        if ((r = dump(out, o, i + 1 < res->n_skipped ? "," : "")) < 0)
            return r;
    }
    fputs("]}\n", out);
    return 0;
}

/* Display width in characters (UTF-8 code points; wide CJK glyphs count as one). */
static size_t width(const char *s) {
    size_t w = 0;
    for (; s && *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            w++;
    return w;
}

static void cell(FILE *out, const char *s, size_t w, bool last) {
    if (!s || !*s)
        s = "-";
    fputs(s, out);
    if (last) {
        fputc('\n', out);
        return;
    }
    for (size_t n = width(s); n < w + 2; n++)
        fputc(' ', out);
}

#define COLS 5
#define COL_MAX 40 /* a longer value is printed whole but does not widen its column */

static void print_table(FILE *out, const struct adc_read_result *res) {
    static const char *const head[COLS] = {"userName", "externalId", "active", "displayName",
                                           "email"};
    size_t w[COLS];
    for (size_t c = 0; c < COLS; c++)
        w[c] = width(head[c]);
    for (size_t i = 0; i < res->users.n; i++) {
        const struct adc_user *u = &res->users.items[i];
        const char *v[COLS] = {u->user_name, u->external_id, u->active ? "yes" : "no",
                               u->display_name, u->email};
        for (size_t c = 0; c < COLS; c++) {
            size_t n = width(v[c] ? v[c] : "-");
            if (n > w[c] && n <= COL_MAX)
                w[c] = n;
        }
    }
    for (size_t c = 0; c < COLS; c++)
        cell(out, head[c], w[c], c + 1 == COLS);
    for (size_t i = 0; i < res->users.n; i++) {
        const struct adc_user *u = &res->users.items[i];
        const char *v[COLS] = {u->user_name, u->external_id, u->active ? "yes" : "no",
                               u->display_name, u->email};
        for (size_t c = 0; c < COLS; c++)
            cell(out, v[c], w[c], c + 1 == COLS);
    }
}

int adc_cmd_users(struct adc_context *ctx, int argc, char **argv) {
    static const struct option options[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct adc_read_result res = {0};
    bool json = false;
    char *err = NULL;
    int r;

    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "h", options, NULL)) != -1;) {
        switch (c) {
        case 'j': json = true; break;
        case 'h': usage(stdout); return ADC_EXIT_OK;
        default: usage(stderr); return ADC_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "adc users: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return ADC_EXIT_USAGE;
    }

    r = adc_context_load(ctx, ADC_NEED_YAML);
    if (r != ADC_EXIT_OK)
        return r;

    r = adc_ldap_read_users(&ctx->yaml->ldap, &res, &err);
    if (r < 0) {
        log_error("%s", err ? err : "cannot read the directory");
        free(err);
        return ADC_EXIT_FAILURE;
    }

    if (json) {
        r = print_json(stdout, &res);
    } else {
        for (size_t i = 0; i < res.n_skipped; i++)
            log_warning("skipped '%s': %s", res.skipped[i].dn, res.skipped[i].reason);
        print_table(stdout, &res);
        r = 0;
    }
    if (fflush(stdout) != 0 || ferror(stdout))
        r = -EIO;
    log_info("%zu entries read: %zu users, %zu skipped (identity: %s)", res.n_entries, res.users.n,
             res.n_skipped, res.id_attribute);
    adc_read_result_done(&res);
    if (r < 0) {
        log_error("cannot write the list: %s", strerror(-r));
        return ADC_EXIT_FAILURE;
    }
    return ADC_EXIT_OK;
}
