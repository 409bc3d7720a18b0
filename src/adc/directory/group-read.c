#include "directory/group-read.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/macros.h"
#include "directory/ldap-conn.h"
#include "directory/ldap-search.h"
#include "directory/user-map.h"

/* All member values of one read, bounded as the users' entries are. */
#define MAX_VALUES 10000000u

struct greader {
    const struct adc_ldap_config *cfg;
    adc_member_resolve_fn resolve; /* may be NULL */
    void *resolve_ctx;
    adc_member_digest_fn digest; /* may be NULL; once text_left is spent */
    void *digest_ctx;
    size_t text_left;
    LDAP *ld;
    struct adc_group_read res;
    size_t n_values;
    unsigned page;
    char *err;
};

static int failf(struct greader *g, int r, const char *what, int rc) {
    char *why = rc ? adc_ldap_conn_strerror(g->ld, rc) : NULL;
    free(g->err);
    g->err =
        adc_strdup_printf("reading the groups (filter '%s') failed on page %u: %s%s%s",
                          g->cfg->groups_filter, g->page, what, why ? ": " : "", why ? why : "");
    free(why);
    return r;
}

/* Group entries may exceed the message bound of other reads (ldap-conn.h): raised on this
 * connection. */
static void allow_group_entries(LDAP *ld) {
    Sockbuf *sb = NULL;
    if (ldap_get_option(ld, LDAP_OPT_SOCKBUF, &sb) != LDAP_OPT_SUCCESS || !sb)
        return;
    ber_len_t max = ADC_LDAP_GROUP_MESSAGE_MAX;
    (void)ber_sockbuf_ctrl(sb, LBER_SB_OPT_SET_MAX_INCOMING, &max);
}

int adc_ldap_range_parse(const char *desc, const char *attr, long *low, long *high) {
    size_t n = strlen(attr);
    if (strncasecmp(desc, attr, n) != 0 || strncasecmp(desc + n, ";range=", 7) != 0)
        return -1;
    const char *p = desc + n + 7;
    char *end;
    long lo = strtol(p, &end, 10);
    if (end == p || *end != '-' || lo < 0)
        return -1;
    p = end + 1;
    if (strcmp(p, "*") == 0) {
        *low = lo;
        *high = -1;
        return 0;
    }
    long hi = strtol(p, &end, 10);
    if (end == p || *end || hi < lo)
        return -1;
    *low = lo;
    *high = hi;
    return 0;
}

/* Appends a copy of [p, p+n) to one of the group's member arrays. */
static int push(struct greader *g, struct adc_dir_group *grp, char ***arr, size_t *n, const char *p,
                size_t len) {
    if (++g->n_values > MAX_VALUES)
        return -E2BIG;
    if (adc_grow_array_n(*arr, *n, 4) < 0)
        return -ENOMEM;
    /* The first block small (a group of 100 members takes 4 KiB, not a large block), each next
     * one twice the last. */
    if (!grp->strings.blocks && !grp->strings.next)
        adc_arena_init_growing(&grp->strings, 1024);
    char *s = adc_arena_strndup(&grp->strings, p, len);
    if (!s)
        return -ENOMEM;
    (*arr)[(*n)++] = s;
    return 0;
}

/* The values of one attribute description into the group; member/uniqueMember/memberUid with or
 * without a range option. *range_next gets where the next range of member starts (-1: none).
 * vals: as ldap_get_attribute_ber gives them, pointing into the message (no copy of a group's
 * 1,000,000 values before ours), ending with a NULL bv_val. */
static int take_values(struct greader *g, struct adc_dir_group *grp, const char *desc,
                       const struct berval *vals, long *range_next) {
    long lo, hi;
    bool ranged = adc_ldap_range_parse(desc, "member", &lo, &hi) == 0;
    bool unique = strcasecmp(desc, "uniqueMember") == 0;
    bool uid = strcasecmp(desc, "memberUid") == 0;
    if (!ranged && !unique && !uid && strcasecmp(desc, "member") != 0)
        return 0;
    if (ranged)
        *range_next = hi < 0 ? -1 : hi + 1;
    for (size_t i = 0; vals && vals[i].bv_val; i++) {
        size_t len = vals[i].bv_len;
        if (unique) {
            /* RFC 4519 nameAndOptionalUID: "dn#'0101'B"; the DN part names the member. */
            const char *hash = memchr(vals[i].bv_val, '#', len);
            if (hash)
                len = (size_t)(hash - vals[i].bv_val);
        }
        uint32_t pos =
            !uid && g->resolve ? g->resolve(g->resolve_ctx, vals[i].bv_val, len) : UINT32_MAX;
        uint64_t h;
        int r;
        if (!uid && g->digest && g->text_left < len + 1 &&
            g->digest(g->digest_ctx, vals[i].bv_val, len, &h)) {
            r = ++g->n_values > MAX_VALUES                                           ? -E2BIG
                : adc_grow_array_n(grp->member_digest, grp->n_member_digest, 16) < 0 ? -ENOMEM
                                                                                     : 0;
            if (r == 0)
                grp->member_digest[grp->n_member_digest++] = h;
        } else if (pos != UINT32_MAX) {
            r = ++g->n_values > MAX_VALUES                                     ? -E2BIG
                : adc_grow_array_n(grp->member_pos, grp->n_member_pos, 16) < 0 ? -ENOMEM
                                                                               : 0;
            if (r == 0)
                grp->member_pos[grp->n_member_pos++] = pos;
        } else {
            r = uid ? push(g, grp, &grp->member_uids, &grp->n_member_uids, vals[i].bv_val, len)
                    : push(g, grp, &grp->member_dns, &grp->n_member_dns, vals[i].bv_val, len);
            g->text_left -= g->text_left < len + 1 ? g->text_left : len + 1;
        }
        if (r < 0)
            return r;
    }
    return 0;
}

/* Every attribute of entry e through take_values. Returns 0, a negative errno from it, or
 * -EBADMSG when the entry cannot be decoded. */
static int each_attribute(struct greader *g, LDAPMessage *e, struct adc_dir_group *grp,
                          long *next) {
    BerElement *ber = NULL;
    struct berval bv, *vals = NULL;
    int rc = ldap_get_dn_ber(g->ld, e, &ber, &bv);
    int r = 0;
    while (rc == LDAP_SUCCESS && r == 0) {
        rc = ldap_get_attribute_ber(g->ld, e, ber, &bv, &vals);
        if (rc != LDAP_SUCCESS || !bv.bv_val)
            break;
        char desc[128];
        if (bv.bv_len < sizeof(desc)) { /* longer: no attribute of ours */
            memcpy(desc, bv.bv_val, bv.bv_len);
            desc[bv.bv_len] = '\0';
            r = take_values(g, grp, desc, vals, next);
        }
        ber_memfree(vals);
        vals = NULL;
    }
    ber_free(ber, 0);
    if (r == 0 && rc != LDAP_SUCCESS)
        r = -EBADMSG;
    return r;
}

/* Active Directory sent the first range of member: asks for the rest, range after range, with
 * base searches on the group (each answer names the range it holds; "*" ends it). */
static int read_ranges(struct greader *g, struct adc_dir_group *grp, long next) {
    while (next >= 0) {
        char want[64];
        snprintf(want, sizeof(want), "member;range=%ld-*", next);
        char *attrs[] = {want, NULL};
        struct timeval limit = {adc_ldap_timeout(g->cfg), 0};
        LDAPMessage *res = NULL;
        int rc = ldap_search_ext_s(g->ld, grp->dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0,
                                   NULL, NULL, &limit, LDAP_NO_LIMIT, &res);
        LDAPMessage *e = rc == LDAP_SUCCESS ? ldap_first_entry(g->ld, res) : NULL;
        if (!e) {
            ldap_msgfree(res);
            return failf(g, -EIO, "cannot read the next range of the members of a group",
                         rc ? rc : LDAP_NO_SUCH_OBJECT);
        }
        long before = next;
        next = -1;
        int r = each_attribute(g, e, grp, &next);
        ldap_msgfree(res);
        if (r < 0)
            return failf(g, r,
                         r == -E2BIG    ? "more than 10,000,000 members"
                         : r == -ENOMEM ? "out of memory"
                                        : "cannot decode an entry",
                         r == -EBADMSG ? LDAP_DECODING_ERROR : 0);
        if (next >= 0 && next <= before)
            return failf(g, -EBADMSG, "the server answered a range out of order", 0);
    }
    return 0;
}

unsigned adc_sid_rid(const unsigned char *sid, size_t len) {
    if (len < 8 || sid[0] != 1 || sid[1] == 0 || sid[1] > 15 || len != 8 + 4 * (size_t)sid[1])
        return 0;
    const unsigned char *p = sid + len - 4;
    return (unsigned)p[0] | (unsigned)p[1] << 8 | (unsigned)p[2] << 16 | (unsigned)p[3] << 24;
}

/* The identity of a group entry as for users: the configured id_attribute, else entryUUID,
 * objectGUID (its canonical string form) or nsUniqueId. */
static char *identity_of(struct greader *g, LDAPMessage *e) {
    static const char *const detected[] = {"entryUUID", "objectGUID", "nsUniqueId"};
    const char *configured = g->cfg->id_attribute;
    for (size_t i = 0; i < (configured ? 1 : ADC_ARRAY_SIZE(detected)); i++) {
        const char *attr = configured ? configured : detected[i];
        struct berval **v = ldap_get_values_len(g->ld, e, attr);
        char *id = NULL;
        if (v && v[0] && v[0]->bv_len > 0 && !v[1]) {
            if (strcasecmp(attr, "objectGUID") == 0 && v[0]->bv_len == 16) {
                char s[37];
                adc_guid_format((const unsigned char *)v[0]->bv_val, s);
                id = strdup(s);
            } else if (strcasecmp(attr, "objectGUID") != 0) {
                id = strndup(v[0]->bv_val, v[0]->bv_len);
            }
        }
        ldap_value_free_len(v);
        if (id)
            return id;
    }
    return NULL;
}

static int skip(struct greader *g, const char *dn, const char *why) {
    return adc_skipped_append(&g->res.skipped, &g->res.n_skipped, &g->res.cap_skipped, strdup(dn),
                              NULL, strdup(why));
}

static int handle_entry(struct greader *g, LDAPMessage *e) {
    char *dn = ldap_get_dn(g->ld, e);
    if (!dn)
        return failf(g, -EBADMSG, "cannot decode an entry", LDAP_DECODING_ERROR);
    int r = -ENOMEM;
    struct adc_dir_group grp = {0};
    struct berval **names = ldap_get_values_len(
        g->ld, e, g->cfg->groups_name_attribute ? g->cfg->groups_name_attribute : "cn");
    if (!names || !names[0] || names[1] || names[0]->bv_len == 0 ||
        !adc_utf8_valid(names[0]->bv_val, names[0]->bv_len)) {
        r = skip(g, dn, names && names[0] && names[1] ? "several names" : "no usable name");
        goto out;
    }
    grp.external_id = identity_of(g, e);
    if (!grp.external_id) {
        r = skip(g, dn, "no identifier (entryUUID, objectGUID or nsUniqueId)");
        goto out;
    }
    grp.dn = strdup(dn);
    grp.name = strndup(names[0]->bv_val, names[0]->bv_len);
    if (!grp.dn || !grp.name)
        goto out;
    long next = -1;
    r = each_attribute(g, e, &grp, &next);
    if (r < 0) {
        failf(g, r,
              r == -E2BIG    ? "more than 10,000,000 members"
              : r == -ENOMEM ? "out of memory"
                             : "cannot decode an entry",
              r == -EBADMSG ? LDAP_DECODING_ERROR : 0);
        goto out;
    }
    if ((r = read_ranges(g, &grp, next)) < 0)
        goto out;
    struct berval **sid = ldap_get_values_len(g->ld, e, "objectSid");
    if (sid && sid[0])
        grp.rid = adc_sid_rid((const unsigned char *)sid[0]->bv_val, sid[0]->bv_len);
    ldap_value_free_len(sid);
    r = -ENOMEM;
    if (adc_grow_array(g->res.groups, g->res.cap, g->res.n, 64) < 0)
        goto out;
    g->res.groups[g->res.n++] = grp;
    memset(&grp, 0, sizeof(grp)); /* owned by the result now */
    r = 0;
out:
    if (r == -ENOMEM && !g->err)
        failf(g, r, "out of memory", 0);
    struct adc_group_read one = {.groups = &grp, .n = 1};
    if (grp.dn || grp.external_id || grp.name || grp.strings.blocks || grp.member_pos)
        adc_group_read_done(&one);
    ldap_value_free_len(names);
    ldap_memfree(dn);
    return r;
}

/* The attributes a group is read with (attrs: 9 slots). */
static void group_attrs(const struct adc_ldap_config *cfg, char *attrs[9]) {
    char *a[9] = {cfg->groups_name_attribute ? cfg->groups_name_attribute : "cn",
                  "member",
                  "uniqueMember",
                  "memberUid",
                  cfg->id_attribute ? cfg->id_attribute : "entryUUID",
                  "objectGUID",
                  "nsUniqueId",
                  "objectSid",
                  NULL};
    memcpy(attrs, a, sizeof(a));
}

/* Page n of the paged search (RFC 2696) with `cookie`; *next gets the next page's cookie
 * (empty: done). */
static int read_page(void *ctx, unsigned n, struct berval *cookie, struct berval *next) {
    struct greader *g = ctx;
    const struct adc_ldap_config *cfg = g->cfg;
    char *attrs[9];
    group_attrs(cfg, attrs);
    g->page = n;
    LDAPControl *page = NULL, *ctrls[2] = {NULL, NULL};
    int rc = adc_ldap_page_control(g->ld, cfg, cookie, &page);
    if (rc != LDAP_SUCCESS)
        return failf(g, -ENOMEM, "cannot create the paged-results control", rc);
    ctrls[0] = page;
    struct timeval limit = {adc_ldap_timeout(cfg), 0};
    LDAPMessage *res = NULL;
    rc = ldap_search_ext_s(g->ld, cfg->base_dn ? cfg->base_dn : "", adc_ldap_scope(cfg->scope),
                           cfg->groups_filter, attrs, 0, ctrls, NULL, &limit, LDAP_NO_LIMIT, &res);
    ldap_control_free(page);
    int r = 0;
    if (rc != LDAP_SUCCESS) {
        /* Size, time and administrative limits, a lost connection: the list would be
         * incomplete. */
        r = failf(g, rc == LDAP_SIZELIMIT_EXCEEDED ? -E2BIG : -EIO, "the search failed", rc);
        goto out;
    }
    for (LDAPMessage *e = ldap_first_entry(g->ld, res); e && r == 0; e = ldap_next_entry(g->ld, e))
        r = handle_entry(g, e);
    if (r < 0)
        goto out;
    LDAPControl **back = NULL;
    int code = LDAP_OTHER;
    LDAPMessage *done = ldap_first_message(g->ld, res);
    while (done && ldap_msgtype(done) != LDAP_RES_SEARCH_RESULT)
        done = ldap_next_message(g->ld, done);
    rc = done ? ldap_parse_result(g->ld, done, &code, NULL, NULL, NULL, &back, 0) : LDAP_OTHER;
    if (rc != LDAP_SUCCESS || code != LDAP_SUCCESS) {
        ldap_controls_free(back);
        r = failf(g, -EIO, "the search failed", rc != LDAP_SUCCESS ? rc : code);
        goto out;
    }
    LDAPControl *pc = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, back, NULL);
    ber_int_t estimate;
    if (pc && ldap_parse_pageresponse_control(g->ld, pc, &estimate, next) != LDAP_SUCCESS)
        r = failf(g, -EBADMSG, "cannot decode the paged-results control", 0);
    ldap_controls_free(back);
out:
    ldap_msgfree(res);
    return r;
}

static int read_groups(struct greader *gp, struct adc_group_read *out, char **err);

int adc_ldap_read_groups(const struct adc_ldap_config *cfg, struct adc_group_read *out,
                         char **err) {
    return adc_ldap_read_groups_resolved(cfg, NULL, NULL, out, err);
}

int adc_ldap_read_groups_resolved(const struct adc_ldap_config *cfg, adc_member_resolve_fn resolve,
                                  void *ctx, struct adc_group_read *out, char **err) {
    struct greader g = {.cfg = cfg, .resolve = resolve, .resolve_ctx = ctx};
    return read_groups(&g, out, err);
}

int adc_ldap_read_groups_digested(const struct adc_ldap_config *cfg, adc_member_digest_fn digest,
                                  void *ctx, size_t text_budget, struct adc_group_read *out,
                                  char **err) {
    struct greader g = {.cfg = cfg, .digest = digest, .digest_ctx = ctx, .text_left = text_budget};
    return read_groups(&g, out, err);
}

static int read_groups(struct greader *gp, struct adc_group_read *out, char **err) {
    struct greader g = *gp;
    int r = -EINVAL;
    if (!g.cfg->groups_filter) {
        g.err = strdup("backend.ldap.groups.filter is not set");
        goto out;
    }
    r = adc_ldap_open_reader(g.cfg, &g.ld, NULL, &g.err);
    if (r < 0)
        goto out;
    allow_group_entries(g.ld);
    if ((r = adc_ldap_read_pages(read_page, &g)) < 0)
        goto out;
    *out = g.res;
    memset(&g.res, 0, sizeof(g.res)); /* owned by the caller now */
    r = 0;
out:
    adc_group_read_done(&g.res);
    return adc_ldap_read_end(g.ld, r, &g.err, err, "cannot read the groups: out of memory");
}

int adc_ldap_read_group(const struct adc_ldap_config *cfg, LDAP *ld, const char *dn, bool in_scope,
                        struct adc_dir_group *out, bool *found, char **err) {
    struct greader g = {.cfg = cfg, .ld = ld};
    char *attrs[9];
    group_attrs(cfg, attrs);
    memset(out, 0, sizeof(*out));
    *found = false;
    if (!cfg->groups_filter) {
        *err = strdup("backend.ldap.groups.filter is not set");
        return -EINVAL;
    }
    struct timeval limit = {adc_ldap_timeout(cfg), 0};
    LDAPMessage *res = NULL;
    allow_group_entries(ld);
    int rc = ldap_search_ext_s(ld, dn, LDAP_SCOPE_BASE,
                               in_scope ? cfg->groups_filter : "(objectClass=*)", attrs, 0, NULL,
                               NULL, &limit, LDAP_NO_LIMIT, &res);
    int r = 0;
    if (rc == LDAP_NO_SUCH_OBJECT)
        goto out;
    if (rc != LDAP_SUCCESS) {
        char *why = adc_ldap_conn_strerror(ld, rc);
        *err = adc_strdup_printf("reading the group %s failed: %s", dn, why ? why : "error");
        free(why);
        r = rc == LDAP_TIMEOUT                                   ? -ETIMEDOUT
            : rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR ? -EIO
                                                                 : -EPROTO;
        goto out;
    }
    LDAPMessage *e = ldap_first_entry(ld, res);
    if (!e)
        goto out;
    if ((r = handle_entry(&g, e)) < 0) {
        *err = g.err ? g.err : strdup("out of memory");
        g.err = NULL;
        goto out;
    }
    if (g.res.n == 1) { /* else skipped: no usable name or identifier, not a group */
        *out = g.res.groups[0];
        memset(&g.res.groups[0], 0, sizeof(g.res.groups[0]));
        *found = true;
    }
out:
    free(g.err);
    adc_group_read_done(&g.res);
    ldap_msgfree(res);
    return r;
}

void adc_dir_group_done(struct adc_dir_group *grp) {
    struct adc_group_read one = {.groups = grp, .n = 1};
    adc_group_read_done(&one);
}

void adc_dir_group_members_free(struct adc_dir_group *g) {
    free(g->member_dns);
    free(g->member_uids);
    free(g->member_pos);
    g->member_pos = NULL;
    g->n_member_pos = 0;
    free(g->member_digest);
    g->member_digest = NULL;
    g->n_member_digest = 0;
    adc_arena_done(&g->strings);
    g->member_dns = g->member_uids = NULL;
    g->n_member_dns = g->n_member_uids = 0;
}

void adc_group_read_done(struct adc_group_read *r) {
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        struct adc_dir_group *g = &r->groups[i];
        free(g->dn);
        free(g->external_id);
        free(g->name);
        adc_dir_group_members_free(g);
    }
    if (r->groups && r->cap) /* a one-group view (handle_entry) owns no array */
        free(r->groups);
    adc_skipped_free(r->skipped, r->n_skipped);
    memset(r, 0, sizeof(*r));
}
