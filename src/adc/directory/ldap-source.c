/* The complete enumeration of the directory's users (docs/product.md section 4, rule 5: deletes
 * happen only after a complete, successful enumeration). Paged results (RFC 2696) with
 * sync.page_size; every entry is mapped as it arrives (ldap_result with LDAP_MSG_ONE) and its
 * message freed at once, so memory holds the users, not the search results. Only the attributes
 * the mapping needs are requested. Any failure - a page that fails, a size or time limit, a
 * dropped connection, a server that stops answering - fails the whole read: a short list is
 * never returned. */
#include "directory/ldap-source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "directory/ldap-conn.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/macros.h"
#include "directory/ldap-search.h"
#include "directory/user-map.h"

/* A hard bound on what one read may hold: ten million entries is far beyond any directory
 * ad-connect serves, and stops a runaway server from exhausting memory. */
#define MAX_ENTRIES 10000000u

struct reader {
    const struct adc_ldap_config *cfg;
    struct adc_user_map map;
    LDAP *ld;
    struct adc_read_result res;
    unsigned page;
    size_t n_references;
    char *err;
    struct adc_buf scratch; /* one entry's strings before they go to the list's arena */
};

/* "search of 'dc=x' failed on page 3 after 1000 entries: ..." */
static void fail(struct reader *rd, const char *fmt, const char *detail) {
    char *what = adc_strdup_printf(fmt, detail ? detail : "out of memory");
    free(rd->err);
    rd->err = adc_strdup_printf("search of '%s' with filter '%s' failed on page %u after %zu "
                                "entries: %s",
                                rd->cfg->base_dn ? rd->cfg->base_dn : "",
                                rd->cfg->filter ? rd->cfg->filter : "", rd->page, rd->res.n_entries,
                                what ? what : "out of memory");
    free(what);
}

/* fail() with the LDAP library's words for rc. */
static void fail_rc(struct reader *rd, const char *fmt, int rc) {
    char *why = adc_ldap_conn_strerror(rd->ld, rc);
    fail(rd, fmt, why);
    free(why);
}

/* How many users took their identity from which attribute: at most a few distinct names (the
 * configured one, or the three detected ones), compared by pointer first. */
static void count_id_attribute(struct adc_read_result *res, const char *attr) {
    size_t i = 0;
    for (; i < res->n_id_attributes; i++)
        if (res->id_attributes[i].name == attr || strcasecmp(res->id_attributes[i].name, attr) == 0)
            break;
    if (i == res->n_id_attributes) {
        if (i == ADC_ARRAY_SIZE(res->id_attributes))
            return;
        res->id_attributes[i].name = attr;
        res->n_id_attributes++;
    }
    res->id_attributes[i].users++;
    if (!res->id_attribute)
        res->id_attribute = attr;
}

/* The values of one attribute (a SET OF octet strings, RFC 4511 section 4.1.7) into *v when
 * mask names fields of the mapping, lent from the message as they stand (LBER_BV_NOTERM: no
 * copy, no terminator written). libldap's ldap_get_attribute_ber would allocate an array for
 * each attribute's values: eight allocations and frees an entry, 8,000,000 at 1,000,000 users
 * (docs/BENCHMARKS.md, issue 21). Returns LDAP_SUCCESS or LDAP_DECODING_ERROR. */
static int decode_values(BerElement *ber, unsigned mask, struct adc_entry_values *v) {
    ber_len_t set_len;
    if (ber_skip_tag(ber, &set_len) == LBER_DEFAULT)
        return LDAP_DECODING_ERROR;
    /* ber_skip_tag checked that the set fits in what is left */
    ber_len_t after = (ber_len_t)ber_remaining(ber) - set_len;
    unsigned count = 0;
    struct adc_bytes first = {NULL, 0};
    while ((ber_len_t)ber_remaining(ber) > after) {
        struct berval val;
        if (ber_get_stringbv(ber, &val, LBER_BV_NOTERM) == LBER_DEFAULT)
            return LDAP_DECODING_ERROR;
        struct adc_bytes b = {val.bv_val, val.bv_len};
        if (count++ == 0)
            first = b;
        else if (mask)
            adc_entry_values_add_more(v, mask, &b);
    }
    /* a value that ran past the set's end */
    if ((ber_len_t)ber_remaining(ber) != after)
        return LDAP_DECODING_ERROR;
    if (mask && count > 0)
        adc_entry_values_add(v, mask, &first, count);
    return LDAP_SUCCESS;
}

/* Decodes entry e into *v (the values lend bytes of the message: it must outlive *v) and lends
 * its DN (*dn, NUL-terminated in the message). Returns 0, or -EBADMSG with the libldap code in
 * *ldap_rc. */
static int decode_entry(LDAP *ld, const struct adc_user_map *map, LDAPMessage *e,
                        struct adc_entry_values *v, const char **dn, int *ldap_rc) {
    BerElement *ber = NULL;
    struct berval dnv = {0, NULL};
    int r = -EBADMSG, rc;

    memset(v, 0, sizeof(*v));
    /* ldap_get_dn_ber lends the bytes of the message itself, the DN terminated in place (the
     * byte it overwrites is kept by liblber): no copies while the entry is decoded. */
    rc = ldap_get_dn_ber(ld, e, &ber, &dnv);
    if (rc != LDAP_SUCCESS)
        goto out;
    /* The attributes, as ldap_get_attribute_ber reads them: while bytes are left, a SEQUENCE
     * of the type (terminated in place) and the SET of values. */
    while (rc == LDAP_SUCCESS && ber_remaining(ber) > 0) {
        struct berval attr = {0, NULL};
        if (ber_scanf(ber, "{m", &attr) == LBER_ERROR) {
            rc = LDAP_DECODING_ERROR;
            break;
        }
        unsigned mask = attr.bv_len < 128 ? adc_user_map_fields(map, attr.bv_val) : 0;
        rc = decode_values(ber, mask, v);
    }
    if (rc != LDAP_SUCCESS)
        goto out;
    *dn = dnv.bv_val ? dnv.bv_val : "";
    r = 0;
out:
    *ldap_rc = rc;
    if (ber)
        ber_free(ber, 0);
    return r;
}

static int handle_entry(struct reader *rd, LDAPMessage *e) {
    struct adc_entry_values v;
    const char *dn = NULL;
    char *name = NULL, *reason = NULL;
    const char *id_attr = NULL;
    int r, rc;

    if (++rd->res.n_entries > MAX_ENTRIES) {
        fail(rd, "%s", "more entries than ad-connect reads at once (10,000,000)");
        return -E2BIG;
    }
    r = decode_entry(rd->ld, &rd->map, e, &v, &dn, &rc);
    if (r == -EBADMSG)
        fail_rc(rd, "cannot decode an entry: %s", rc);
    if (r < 0)
        goto out;

    struct adc_user u; /* its strings lent by rd->scratch */
    r = adc_user_map_entry_view(&rd->map, dn, &v, &rd->scratch, &u, &name, &reason, &id_attr);
    if (r < 0) {
        fail(rd, "%s", "out of memory");
        goto out;
    }
    if (r == 1) {
        char *dn_copy = strdup(dn); /* the message's, freed after this entry */
        r = dn_copy ? adc_skipped_append(&rd->res.skipped, &rd->res.n_skipped, &rd->res.cap_skipped,
                                         dn_copy, TAKE_PTR(name), TAKE_PTR(reason))
                    : -ENOMEM;
        if (r < 0)
            fail(rd, "%s", "out of memory");
        goto out;
    }
    /* Compact, its strings in the list's arena: 24 bytes and no allocation of its own per
     * user (docs/BENCHMARKS.md, issue 21's memory). */
    struct adc_dir_user *slot = adc_dir_users_add(&rd->res.users, &u);
    if (!slot) {
        fail(rd, "%s", "out of memory");
        r = -ENOMEM;
        goto out;
    }
    r = 0;
out:
    free(name);
    free(reason);
    return r;
}

/* The final result of one page: 0 with the next cookie (empty when done), or an error. */
static int handle_done(struct reader *rd, LDAPMessage *msg, struct berval *cookie) {
    LDAPControl **ctrls = NULL;
    char *diag = NULL;
    int code = LDAP_OTHER, r = -EIO, rc;

    rc = ldap_parse_result(rd->ld, msg, &code, NULL, &diag, NULL, &ctrls, 0);
    if (rc != LDAP_SUCCESS) {
        fail_rc(rd, "cannot decode the result: %s", rc);
        goto out;
    }
    if (code != LDAP_SUCCESS) {
        char *why = diag && *diag
                        ? adc_strdup_printf("%s (%d): %s", ldap_err2string(code), code, diag)
                        : adc_strdup_printf("%s (%d)", ldap_err2string(code), code);
        switch (code) {
        case LDAP_SIZELIMIT_EXCEEDED:
            fail(rd,
                 "the server's size limit was exceeded, %s; the list would be incomplete: raise "
                 "the limit for backend.ldap.bind_dn on the server, or use a page size below it",
                 why);
            r = -E2BIG;
            break;
        case LDAP_TIMELIMIT_EXCEEDED:
        case LDAP_ADMINLIMIT_EXCEEDED:
            fail(rd,
                 "the server's time or administrative limit was exceeded, %s; the list would "
                 "be incomplete",
                 why);
            r = -ETIMEDOUT;
            break;
        case LDAP_REFERRAL:
            fail(rd,
                 "the server refers elsewhere, %s; referrals are not followed: point "
                 "backend.ldap.addr and base_dn at the server that holds the users",
                 why);
            break;
        case LDAP_NO_SUCH_OBJECT:
            fail(rd, "the base DN does not exist, %s; check backend.ldap.base_dn", why);
            r = -ENOENT;
            break;
        default: fail(rd, "%s", why); break;
        }
        free(why);
        goto out;
    }
    cookie->bv_val = NULL;
    cookie->bv_len = 0;
    LDAPControl *page = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, ctrls, NULL);
    if (page) {
        ber_int_t estimate = 0;
        rc = ldap_parse_pageresponse_control(rd->ld, page, &estimate, cookie);
        if (rc != LDAP_SUCCESS) {
            fail_rc(rd, "cannot decode the paged-results control: %s", rc);
            goto out;
        }
    }
    /* No control in the answer: the server did not page (it ignored the non-critical control)
     * and sent everything at once. */
    r = 0;
out:
    ldap_memfree(diag);
    ldap_controls_free(ctrls);
    return r;
}

/* One page: sends the search with `cookie` (none on the first page) and consumes its messages
 * as they arrive; *next gets the server's cookie for the next page (empty when done). */
static int read_page(void *ctx, unsigned n, struct berval *cookie, struct berval *next) {
    struct reader *rd = ctx;
    const struct adc_ldap_config *cfg = rd->cfg;
    LDAPControl *page_ctrl = NULL;
    LDAPControl *ctrls[2] = {NULL, NULL};
    int msgid, rc, r = -EIO;
    int timeout = adc_ldap_timeout(cfg);

    rd->page = n;
    /* Not critical: a server without paging answers with everything at once (and its own size
     * limit, which is then reported as such), rather than refusing to search. */
    rc = adc_ldap_page_control(rd->ld, cfg, cookie, &page_ctrl);
    if (rc != LDAP_SUCCESS) {
        fail(rd, "cannot create the paged-results control: %s", ldap_err2string(rc));
        return -ENOMEM;
    }
    ctrls[0] = page_ctrl;
    /* The time limit also goes to the server, which then stops with timeLimitExceeded. */
    struct timeval limit = {timeout, 0};
    rc = ldap_search_ext(rd->ld, cfg->base_dn ? cfg->base_dn : "", adc_ldap_scope(cfg->scope),
                         cfg->filter ? cfg->filter : "(objectClass=inetOrgPerson)", rd->map.request,
                         0, ctrls, NULL, &limit, LDAP_NO_LIMIT, &msgid);
    ldap_control_free(page_ctrl);
    if (rc != LDAP_SUCCESS) {
        fail_rc(rd, rc == LDAP_SERVER_DOWN ? "the connection was lost: %s" : "%s", rc);
        return -EIO;
    }

    double deadline = adc_ldap_now() + timeout;
    for (;;) {
        LDAPMessage *msg = NULL;
        struct timeval tv = adc_ldap_remaining(deadline);
        rc = ldap_result(rd->ld, msgid, LDAP_MSG_ONE, &tv, &msg);
        if (rc == 0) {
            (void)ldap_abandon_ext(rd->ld, msgid, NULL, NULL);
            char *why = adc_strdup_printf("%d s (backend.ldap.timeout)", timeout);
            fail(rd, "timed out: the server did not answer within %s", why);
            free(why);
            return -ETIMEDOUT;
        }
        if (rc < 0) {
            fail_rc(rd, "the connection was lost: %s", adc_ldap_conn_last_error(rd->ld));
            return -EIO;
        }
        switch (rc) {
        case LDAP_RES_SEARCH_ENTRY:
            r = handle_entry(rd, msg);
            ldap_msgfree(msg);
            if (r < 0)
                return r;
            break;
        case LDAP_RES_SEARCH_REFERENCE:
            /* Active Directory returns continuation references to other naming contexts
             * (DomainDnsZones, ...): not followed, not users. */
            rd->n_references++;
            ldap_msgfree(msg);
            break;
        case LDAP_RES_SEARCH_RESULT:
            r = handle_done(rd, msg, next);
            ldap_msgfree(msg);
            return r;
        default:
            ldap_msgfree(msg); /* intermediate responses: nothing for us */
            break;
        }
    }
}

int adc_ldap_read_users(const struct adc_ldap_config *cfg, struct adc_read_result *out,
                        char **err) {
    struct reader rd = {.cfg = cfg};
    int r;

    adc_dir_users_init(&rd.res.users);
    if (!cfg->username_attribute) {
        rd.err = strdup("backend.ldap.authentication.username_attribute is not set");
        r = -EINVAL;
        goto out;
    }
    adc_user_map_init(&rd.map, cfg);
    r = adc_ldap_open_reader(cfg, &rd.ld, NULL, &rd.err);
    if (r < 0)
        goto out;
    if ((r = adc_ldap_read_pages(read_page, &rd)) < 0)
        goto out;

    r = adc_user_map_drop_duplicates(&rd.res.users, &rd.res.skipped, &rd.res.n_skipped,
                                     &rd.res.cap_skipped);
    if (r < 0) {
        free(rd.err);
        rd.err = strdup("out of memory");
        goto out;
    }
    /* Counted on the users that remain (duplicates were just dropped). */
    for (size_t i = 0; i < rd.res.users.n; i++)
        count_id_attribute(&rd.res, adc_dir_user_id_attribute(&rd.res.users.items[i]));
    if (rd.n_references > 0)
        log_debug("ignored %zu search references (referrals are not followed)", rd.n_references);
    if (!rd.res.id_attribute)
        rd.res.id_attribute =
            cfg->id_attribute && *cfg->id_attribute ? cfg->id_attribute : "entryUUID";
    *out = rd.res;
    memset(&rd.res, 0, sizeof(rd.res)); /* owned by the caller now */
    r = 0;
out:
    adc_read_result_done(&rd.res);
    adc_buf_done(&rd.scratch);
    return adc_ldap_read_end(rd.ld, r, &rd.err, err, "cannot read the directory: out of memory");
}

void adc_read_result_warn_mixed_ids(const struct adc_read_result *r) {
    if (r->n_id_attributes < 2)
        return;
    char mix[256];
    size_t len = 0;
    for (size_t i = 0; i < r->n_id_attributes && len < sizeof(mix); i++) {
        int n = snprintf(mix + len, sizeof(mix) - len, "%s%zu by %s", i ? ", " : "",
                         r->id_attributes[i].users, r->id_attributes[i].name);
        if (n > 0)
            len += (size_t)n;
    }
    /* An identity that changes attribute later (389's entryUUID fixup task giving the older
     * entries an entryUUID) looks like a new person to the sync. */
    log_warning("the users take their identity from different attributes (%s): set "
                "backend.ldap.sync.id_attribute to one every entry has (on 389-ds: nsUniqueId), "
                "see adc.yaml(5)",
                mix);
}

void adc_read_result_done(struct adc_read_result *r) {
    if (!r)
        return;
    adc_dir_users_done(&r->users);
    adc_skipped_free(r->skipped, r->n_skipped);
    memset(r, 0, sizeof(*r));
}

void adc_entry_read_done(struct adc_entry_read *r) {
    if (!r)
        return;
    adc_user_done(&r->user);
    free(r->name);
    free(r->reason);
    memset(r, 0, sizeof(*r));
}

int adc_ldap_read_entry(const struct adc_ldap_config *cfg, LDAP *ld, const char *dn, bool in_scope,
                        struct adc_entry_read *out, char **err) {
    struct adc_user_map m; /* a few pointers into cfg: cheaper than a request */
    const struct adc_user_map *map = &m;
    adc_user_map_init(&m, cfg);
    LDAPMessage *res = NULL;
    const char *entry_dn = NULL; /* lent by res */
    int timeout = adc_ldap_timeout(cfg), msgid, r, code = LDAP_OTHER;
    struct timeval limit = {timeout, 0};
    const char *filter =
        in_scope ? (cfg->filter ? cfg->filter : "(objectClass=inetOrgPerson)") : "(objectClass=*)";

    memset(out, 0, sizeof(*out));
    int rc = ldap_search_ext(ld, dn, LDAP_SCOPE_BASE, filter, (char **)map->request, 0, NULL, NULL,
                             &limit, 1, &msgid);
    if (rc == LDAP_SUCCESS) {
        struct timeval tv = adc_ldap_remaining(adc_ldap_now() + timeout);
        rc = ldap_result(ld, msgid, LDAP_MSG_ALL, &tv, &res);
        if (rc == 0) {
            *err = adc_strdup_printf("reading '%s': no answer within %d s (backend.ldap.timeout)",
                                     dn, timeout);
            r = -ETIMEDOUT;
            goto out;
        }
        rc = rc < 0 ? adc_ldap_conn_last_error(ld) : LDAP_SUCCESS;
    }
    LDAPMessage *done = NULL;
    if (rc == LDAP_SUCCESS) {
        done = ldap_first_message(ld, res);
        while (done && ldap_msgtype(done) != LDAP_RES_SEARCH_RESULT)
            done = ldap_next_message(ld, done);
        rc = done ? ldap_parse_result(ld, done, &code, NULL, NULL, NULL, NULL, 0) : LDAP_OTHER;
    }
    if (rc != LDAP_SUCCESS || (code != LDAP_SUCCESS && code != LDAP_NO_SUCH_OBJECT)) {
        char *why = adc_ldap_conn_strerror(ld, rc != LDAP_SUCCESS ? rc : code);
        *err = adc_strdup_printf("reading '%s' failed: %s", dn, why ? why : "out of memory");
        free(why);
        r = rc != LDAP_SUCCESS ? -EIO : -EPROTO;
        goto out;
    }
    LDAPMessage *e = ldap_first_entry(ld, res);
    if (!e) {
        r = 0; /* gone, or outside the sync filter */
        goto out;
    }
    struct adc_entry_values v;
    r = decode_entry(ld, map, e, &v, &entry_dn, &rc);
    if (r < 0) {
        *err = r == -EBADMSG ? adc_strdup_printf("cannot decode '%s': %s", dn, ldap_err2string(rc))
                             : NULL;
        goto out;
    }
    const char *id_attr = NULL;
    r = adc_user_map_entry(map, entry_dn, &v, &out->user, &out->name, &out->reason, &id_attr);
    if (r < 0)
        goto out;
    out->found = true;
    out->skipped = r == 1;
    r = 0;
out:
    ldap_msgfree(res);
    return r;
}
