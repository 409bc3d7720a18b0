/* adc users [--json]: the users as read and mapped from the directory, no cloud contact.
 * Output is written only after the enumeration completed: a failure prints nothing on stdout
 * (rule 5: never a partial list). JSON is streamed one user at a time, so 100,000 users do not
 * need a second copy of themselves as a JSON tree. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/exit-codes.h"
#include "directory/ldap-source.h"
#include "common/log.h"
#include "common/macros.h"
#include "directory/user-map.h"

static void usage(FILE *f) {
    fputs("Usage: adc users [--json]\n"
          "List the users as read and mapped from the directory (no cloud contact).\n"
          "  --json   one JSON document: {\"id_attribute\", \"id_attributes\", \"users\": [...],\n"
          "           \"skipped\": [...]}; each user says its \"idAttribute\"\n",
          f);
}

/* JSON is written by hand: one jansson object per user cost a third of the run time for
 * 100,000 users, and the shape is fixed. Strings are UTF-8 (the mapping checked the values;
 * a DN that is not UTF-8 gets U+FFFD for its stray bytes, so the document stays valid).
 * The _unlocked stdio calls: one command, one thread writing. */
static void put_string(FILE *out, const char *s) {
    if (!s) {
        fputs_unlocked("null", out);
        return;
    }
    bool utf8 = adc_utf8_valid(s, strlen(s));
    putc_unlocked('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        switch (c) {
        case '"': fputs_unlocked("\\\"", out); break;
        case '\\': fputs_unlocked("\\\\", out); break;
        case '\n': fputs_unlocked("\\n", out); break;
        case '\r': fputs_unlocked("\\r", out); break;
        case '\t': fputs_unlocked("\\t", out); break;
        default:
            if (c < 0x20 || c == 0x7f)
                fprintf(out, "\\u%04x", c);
            else if (c >= 0x80 && !utf8)
                fputs_unlocked("\\ufffd", out);
            else
                putc_unlocked(c, out);
        }
    }
    putc_unlocked('"', out);
}

static void put_field(FILE *out, const char *name, const char *value, bool last) {
    putc_unlocked('"', out);
    fputs_unlocked(name, out);
    fputs_unlocked("\":", out);
    put_string(out, value);
    if (!last)
        putc_unlocked(',', out);
}

/* The identity attribute shared by every user, or NULL when the users differ (a 389-ds where
 * older entries lack entryUUID, docs/adc.yaml.5). */
static const char *common_id_attribute(const struct adc_read_result *res) {
    return res->n_id_attributes > 1 ? NULL : res->id_attribute;
}

/* "emails": every address, the primary one first (null when the user has none). */
static void put_emails(FILE *out, const struct adc_user *u) {
    fputs_unlocked("\"emails\":", out);
    if (!u->email) {
        fputs_unlocked("null,", out);
        return;
    }
    putc_unlocked('[', out);
    put_string(out, u->email);
    for (const char *p = u->other_emails; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        char *one = strndup(p, n);
        putc_unlocked(',', out);
        put_string(out, one ? one : "");
        free(one);
        p = nl ? nl + 1 : p + n;
    }
    fputs_unlocked("],", out);
}

static int print_json(FILE *out, const struct adc_read_result *res) {
    fputs_unlocked("{\"id_attribute\":", out);
    put_string(out, common_id_attribute(res));
    fputs_unlocked(",\"id_attributes\":{", out);
    for (size_t i = 0; i < res->n_id_attributes; i++) {
        put_string(out, res->id_attributes[i].name);
        fprintf(out, ":%zu%s", res->id_attributes[i].users,
                i + 1 < res->n_id_attributes ? "," : "");
    }
    fputs_unlocked("},\"users\":[", out);
    for (size_t i = 0; i < res->users.n; i++) {
        struct adc_user view, *u = &view;
        char ext_buf[ADC_DIR_UUID_TEXT];
        adc_dir_user_view(&res->users.items[i], &view, ext_buf);
        putc_unlocked('{', out);
        put_field(out, "userName", u->user_name, false);
        put_field(out, "externalId", u->external_id, false);
        put_field(out, "idAttribute", u->id_attribute, false);
        put_field(out, "displayName", u->display_name, false);
        put_field(out, "givenName", u->given_name, false);
        put_field(out, "familyName", u->family_name, false);
        put_field(out, "email", u->email, false);
        put_emails(out, u);
        fputs_unlocked(u->active ? "\"active\":true," : "\"active\":false,", out);
        put_field(out, "dn", u->dn, true);
        fputs_unlocked(i + 1 < res->users.n ? "}," : "}", out);
    }
    fputs_unlocked("],\"skipped\":[", out);
    for (size_t i = 0; i < res->n_skipped; i++) {
        const struct adc_skipped_entry *sk = &res->skipped[i];
        putc_unlocked('{', out);
        put_field(out, "dn", sk->dn, false);
        put_field(out, "userName", sk->user_name, false);
        put_field(out, "reason", sk->reason, true);
        fputs_unlocked(i + 1 < res->n_skipped ? "}," : "}", out);
    }
    fputs_unlocked("]}\n", out);
    return 0;
}

/* East Asian wide characters take two terminal columns (the main ranges of Unicode's
 * East_Asian_Width W/F; no locale needed). */
static bool wide(uint32_t cp) {
    return (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf && cp != 0x303f) ||
           (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
           (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
           (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1f64f) ||
           (cp >= 0x20000 && cp <= 0x3fffd);
}

/* Display width in terminal columns of a UTF-8 string. */
static size_t width(const char *str) {
    const unsigned char *s = (const unsigned char *)str;
    size_t w = 0;
    while (s && *s) {
        uint32_t cp = *s;
        size_t len = cp < 0x80 ? 1 : cp < 0xe0 ? 2 : cp < 0xf0 ? 3 : 4;
        if (len > 1) {
            cp &= 0x3f >> (len - 1);
            for (size_t k = 1; k < len && s[k]; k++)
                cp = (cp << 6) | (s[k] & 0x3f);
        }
        w += wide(cp) ? 2 : 1;
        for (size_t k = 0; k < len && *s; k++)
            s++;
    }
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

/* User i's cells of the table; ext_buf holds its externalId's text. */
static void row_of(const struct adc_read_result *res, size_t i, char ext_buf[ADC_DIR_UUID_TEXT],
                   const char *v[COLS]) {
    struct adc_user u;
    adc_dir_user_view(&res->users.items[i], &u, ext_buf);
    const char *row[COLS] = {u.user_name, u.external_id, u.active ? "yes" : "no", u.display_name,
                             u.email};
    memcpy(v, row, sizeof(row));
}

static void print_table(FILE *out, const struct adc_read_result *res) {
    static const char *const head[COLS] = {"userName", "externalId", "active", "displayName",
                                           "email"};
    size_t w[COLS];
    for (size_t c = 0; c < COLS; c++)
        w[c] = width(head[c]);
    char ext_buf[ADC_DIR_UUID_TEXT];
    const char *v[COLS];
    for (size_t i = 0; i < res->users.n; i++) {
        row_of(res, i, ext_buf, v);
        for (size_t c = 0; c < COLS; c++) {
            size_t n = width(v[c] ? v[c] : "-");
            if (n > w[c] && n <= COL_MAX)
                w[c] = n;
        }
    }
    for (size_t c = 0; c < COLS; c++)
        cell(out, head[c], w[c], c + 1 == COLS);
    for (size_t i = 0; i < res->users.n; i++) {
        row_of(res, i, ext_buf, v);
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

    /* A directory that drops the connection must end in an error message, not in death by
     * SIGPIPE when libldap writes to the dead socket (a closed stdout then gives EPIPE). */
    signal(SIGPIPE, SIG_IGN);

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
    adc_read_result_warn_mixed_ids(&res);
    log_info("%zu entries read: %zu users, %zu skipped (identity: %s)", res.n_entries, res.users.n,
             res.n_skipped, common_id_attribute(&res) ? common_id_attribute(&res) : "mixed");
    adc_read_result_done(&res);
    if (r < 0) {
        log_error("cannot write the list: %s", strerror(-r));
        return ADC_EXIT_FAILURE;
    }
    return ADC_EXIT_OK;
}
