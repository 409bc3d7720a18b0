/* For a directory without a change stream: every poll_interval seconds one search for the
 * entries whose modifyTimestamp is at or after the position (RFC 4512 operational attribute;
 * OpenLDAP, 389-ds and Active Directory all keep it), asking for that attribute only. An index
 * on modifyTimestamp makes it cheap; without one it is one scan per interval.
 *
 * What a poll cannot see: deletes (the entry is gone) - the next full sync finds them. An entry
 * that left the sync filter still has a new modifyTimestamp, so the search does not use the
 * filter: the sink reads the entry and treats "exists but no longer matches" as a delete.
 *
 * Position: the newest modifyTimestamp handled (GeneralizedTime, whole seconds). The next poll
 * asks for ">=" that second, so an entry changed later in the same second is not missed; the
 * entries already handled at exactly that second are remembered with a digest of what the poll
 * read of them (every user attribute, plus entryCSN where the directory has it), so that an entry
 * changed again within that same second (same modifyTimestamp) is still reported. The cost: the
 * poll reads whole entries, only those changed since the position. */
#include <errno.h>
#include <ldap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/macros.h"
#include "directory/ldap-conn.h"
#include "watch/watch.h"

/* A burst larger than this between two polls is left to a full sync: a plain search of more
 * would run into size limits (Active Directory's MaxPageSize is 1000). */
#define POLL_MAX 1000
/* Clocks differ: a first position is taken this far back from the local time. */
#define CLOCK_MARGIN_S 60

struct change {
    char *dn;
    char *key; /* digest and DN: what `seen` remembers */
    char ts[32];
};

/* FNV-1a over every attribute name and value of the entry as the search returned it. */
static unsigned long long entry_digest(LDAP *ld, LDAPMessage *e) {
    unsigned long long h = 14695981039346656037ULL;
    BerElement *ber = NULL;
    for (char *a = ldap_first_attribute(ld, e, &ber); a; a = ldap_next_attribute(ld, e, ber)) {
        for (const char *c = a; *c; c++)
            h = (h ^ (unsigned char)*c) * 1099511628211ULL;
        struct berval **vals = ldap_get_values_len(ld, e, a);
        for (size_t i = 0; vals && vals[i]; i++) {
            h = (h ^ 0xff) * 1099511628211ULL; /* value separator */
            for (ber_len_t j = 0; j < vals[i]->bv_len; j++)
                h = (h ^ (unsigned char)vals[i]->bv_val[j]) * 1099511628211ULL;
        }
        ldap_value_free_len(vals);
        ldap_memfree(a);
    }
    ber_free(ber, 0);
    return h;
}

static int by_time(const void *a, const void *b) {
    return strcmp(((const struct change *)a)->ts, ((const struct change *)b)->ts);
}

static bool valid_time(const char *s) {
    size_t n = strlen(s);
    if (n < 15 || n > 31 || s[n - 1] != 'Z')
        return false;
    for (size_t i = 0; i < 14; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* The entries changed since `since`: 0 with *out (sorted by time), -E2BIG (too many: full sync),
 * or ADC_WATCH_RETRY with *err. */
static int changed_since(const struct adc_ldap_config *cfg, LDAP *ld, const char *since,
                         struct change **out, size_t *n_out, char **err) {
    static char *attrs[] = {"*", "modifyTimestamp", "entryCSN", NULL};
    char filter[80];
    snprintf(filter, sizeof(filter), "(modifyTimestamp>=%.14sZ)", since);
    int timeout = cfg->timeout > 0 ? cfg->timeout : 30;
    struct timeval limit = {timeout, 0};
    int scope = cfg->scope == ADC_SCOPE_BASE  ? LDAP_SCOPE_BASE
                : cfg->scope == ADC_SCOPE_ONE ? LDAP_SCOPE_ONELEVEL
                                              : LDAP_SCOPE_SUBTREE;
    LDAPMessage *res = NULL;
    int rc = ldap_search_ext_s(ld, cfg->base_dn ? cfg->base_dn : "", scope, filter, attrs, 0, NULL,
                               NULL, &limit, POLL_MAX + 1, &res);
    if (rc == LDAP_SIZELIMIT_EXCEEDED || ldap_count_entries(ld, res) > POLL_MAX) {
        ldap_msgfree(res);
        return -E2BIG;
    }
    if (rc != LDAP_SUCCESS) {
        char *why = adc_ldap_conn_strerror(ld, rc);
        *err = adc_strdup_printf("the modifyTimestamp poll failed: %s", why ? why : "error");
        free(why);
        ldap_msgfree(res);
        return ADC_WATCH_RETRY;
    }
    size_t n = 0, cap = (size_t)ldap_count_entries(ld, res);
    struct change *v = calloc(cap ? cap : 1, sizeof(*v));
    if (!v) {
        ldap_msgfree(res);
        return -ENOMEM;
    }
    for (LDAPMessage *e = ldap_first_entry(ld, res); e && n < cap; e = ldap_next_entry(ld, e)) {
        struct berval **vals = ldap_get_values_len(ld, e, "modifyTimestamp");
        char *dn = ldap_get_dn(ld, e);
        if (vals && vals[0] && vals[0]->bv_len < sizeof(v[n].ts) && dn) {
            memcpy(v[n].ts, vals[0]->bv_val, vals[0]->bv_len);
            v[n].ts[vals[0]->bv_len] = '\0';
            if (valid_time(v[n].ts) && (v[n].dn = strdup(dn))) {
                v[n].key = adc_strdup_printf("%016llx %s", entry_digest(ld, e), dn);
                if (v[n].key)
                    n++;
                else
                    free(v[n].dn);
            }
        }
        ldap_value_free_len(vals);
        ldap_memfree(dn);
    }
    ldap_msgfree(res);
    qsort(v, n, sizeof(*v), by_time);
    *out = v;
    *n_out = n;
    return 0;
}

static void changes_free(struct change *v, size_t n) {
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].dn);
        free(v[i].key);
    }
    free(v);
}

static void local_position(char out[32]) {
    time_t t = time(NULL) - CLOCK_MARGIN_S;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y%m%d%H%M%SZ", &tm);
}

int adc_watch_poll_run(const struct adc_ldap_config *cfg, const char *position,
                       const struct adc_watch_sink *sink, char **err) {
    LDAP *ld = NULL;
    char pos[32];
    /* The entries handled at exactly `pos` (the second the last poll ended on), as keys. */
    char **seen = NULL;
    size_t n_seen = 0;
    int r;

    if (position && !valid_time(position)) {
        *err = strdup("the saved position is not a modifyTimestamp");
        return ADC_WATCH_REFUSED;
    }
    int timeout = cfg->timeout > 0 ? cfg->timeout : 30;
    char desc[64];
    snprintf(desc, sizeof(desc), "%d s (backend.ldap.timeout)", timeout);
    double deadline =
        adc_ldap_now() + timeout + (cfg->network_timeout > 0 ? cfg->network_timeout : 10);
    if (adc_ldap_conn_open_service(cfg, deadline, timeout, desc, &ld, err) < 0)
        return ADC_WATCH_RETRY;
    if (position) {
        snprintf(pos, sizeof(pos), "%s", position);
    } else {
        local_position(pos);
        if ((r = sink->baseline(sink->userdata, pos)) < 0)
            goto out;
    }
    int interval = cfg->poll_interval > 0 ? cfg->poll_interval : 30;
    log_info("live changes: polling modifyTimestamp every %d s", interval);
    for (;;) {
        struct change *v = NULL;
        size_t n = 0;
        r = changed_since(cfg, ld, pos, &v, &n, err);
        if (r == -E2BIG) {
            log_notice("live changes: more than %d entries changed since %s; a full sync handles "
                       "them",
                       POLL_MAX, pos);
            local_position(pos);
            r = sink->baseline(sink->userdata, pos);
        }
        if (r < 0) {
            changes_free(v, n);
            goto out;
        }
        char newest[32];
        snprintf(newest, sizeof(newest), "%s", pos);
        for (size_t i = 0; i < n && r == 0; i++) {
            bool again = false;
            for (size_t k = 0; k < n_seen && !again; k++)
                again = strcmp(pos, v[i].ts) == 0 && strcmp(seen[k], v[i].key) == 0;
            if (again)
                continue;
            r = sink->entry(sink->userdata, v[i].dn, false);
            if (r == 0 && strcmp(v[i].ts, newest) > 0)
                snprintf(newest, sizeof(newest), "%s", v[i].ts);
        }
        if (r == 0 && n > 0) {
            /* Remember what was handled at the newest second (with what was remembered before
             * when that second did not move), then move the position there. */
            bool same = strcmp(newest, pos) == 0;
            char **next = calloc(n + (same ? n_seen : 0), sizeof(*next));
            size_t n_next = 0;
            if (next) {
                for (size_t k = 0; same && k < n_seen; k++)
                    next[n_next++] = TAKE_PTR(seen[k]);
                for (size_t i = 0; i < n; i++)
                    if (strcmp(v[i].ts, newest) == 0 && (next[n_next] = strdup(v[i].key)))
                        n_next++;
            }
            for (size_t k = 0; k < n_seen; k++)
                free(seen[k]);
            free(seen);
            seen = next;
            n_seen = n_next;
            if (!same) {
                snprintf(pos, sizeof(pos), "%s", newest);
                r = sink->position(sink->userdata, pos);
            }
        }
        changes_free(v, n);
        if (r < 0)
            goto out;
        for (int waited = 0; waited < interval * 2; waited++) {
            if (!sink->keep_going(sink->userdata)) {
                r = 0;
                goto out;
            }
            struct timespec ts = {0, 500 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
out:
    for (size_t k = 0; k < n_seen; k++)
        free(seen[k]);
    free(seen);
    adc_ldap_conn_close(ld);
    return r;
}
