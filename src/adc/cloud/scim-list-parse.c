/* A SCIM ListResponse of Users (RFC 7644 section 3.4.2) straight into cloud users.
 *
 * Why not jansson: building a tree of every page and copying out of it was three quarters of
 * adc's CPU time in an unchanged re-sync of 100,000 users (docs/product.md section 8). This parser
 * reads the bytes once and copies only the strings a plan needs, into the list's blocks. It is
 * strict JSON (RFC 8259): anything else is an error with its byte offset, never a guess. */
#include "cloud/scim-list-parse.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/json-scan.h"
#include "cloud/scim-user.h"

#define MAX_DEPTH 32

/* Every scan of this file is the `s` of a parser: the member callbacks of json-scan get the
 * scanner, and reach the list of users and the scratch space for one user's strings through
 * it. A user is read whole into the scratch space, then added to the list in its compact form
 * (adc_cloud_users_add: the attributes that are only compared become digests). */
struct parser {
    struct adc_json_scan s;
    struct adc_cloud_users *out;
    struct adc_cloud_users scratch; /* only its blocks are used; cleared after each user */
};

static struct parser *parser_of(struct adc_json_scan *s) {
    return (struct parser *)((char *)s - offsetof(struct parser, s));
}

static struct adc_cloud_users *out_of(struct adc_json_scan *s) { return parser_of(s)->out; }

static struct adc_cloud_users *scratch_of(struct adc_json_scan *s) {
    return &parser_of(s)->scratch;
}

/* A string after whitespace, decoded into the list's blocks. */
static int string(struct adc_json_scan *s, char **out) {
    const char *raw;
    size_t len;
    bool escaped;
    int r = adc_json_scan_string(s, &raw, &len, &escaped);
    if (r < 0)
        return r;
    if (!escaped)
        return (*out = adc_cloud_users_strdup(scratch_of(s), raw, len)) ? 0 : -ENOMEM;
    /* Decoding never makes a string longer than its escaped form. */
    char *buf = malloc(len + 1);
    if (!buf)
        return -ENOMEM;
    size_t n = adc_json_unescape(raw, len, buf);
    *out = adc_cloud_users_strdup(scratch_of(s), buf, n);
    free(buf);
    return *out ? 0 : -ENOMEM;
}

/* A string member, or null (absent); an empty string is absent too, as in scim-user.c. */
static int opt_string(struct adc_json_scan *s, char **out) {
    if (adc_json_scan_literal(s, "null"))
        return 0;
    if (!adc_json_scan_next_is(s, '"'))
        return adc_json_scan_fail(s, "a string was expected");
    char *v = NULL;
    int r = string(s, &v);
    if (r == 0 && v && *v)
        *out = v;
    return r;
}

static int boolean(struct adc_json_scan *s, bool *out) {
    if (adc_json_scan_literal(s, "true"))
        *out = true;
    else if (adc_json_scan_literal(s, "false"))
        *out = false;
    else if (!adc_json_scan_literal(s, "null"))
        return adc_json_scan_fail(s, "true or false was expected");
    return 0;
}

struct email {
    char *value;
    bool primary;
};

static int email_member(struct adc_json_scan *s, const char *key, void *ctx) {
    struct email *e = ctx;
    if (strcmp(key, "value") == 0)
        return opt_string(s, &e->value);
    if (strcmp(key, "primary") == 0)
        return boolean(s, &e->primary);
    return adc_json_scan_skip(s);
}

/* Email values remembered per user to compare the further addresses (scim-user.c's
 * other_emails); a user with more is compared on the first ones only. */
#define EMAILS_MAX ADC_SCIM_EMAILS_MAX

struct user_ctx {
    struct adc_user *u;
    char *first_email, *primary_email;
    char *email_values[EMAILS_MAX];
    size_t n_email_values;
    bool has_id, has_name, first_seen, primary_seen;
    unsigned seen; /* members read so far (bits of USER_KEYS) */
};

/* The members of a User we read. One of them twice is refused, as the client refused
 * duplicate keys when it parsed with jansson (JSON_REJECT_DUPLICATES): with two "name"
 * objects, which one counts is a guess, and a server that sends them is broken. */
enum user_key {
    K_ID,
    K_USER_NAME,
    K_EXTERNAL_ID,
    K_DISPLAY_NAME,
    K_ACTIVE,
    K_EMAILS,
    K_NAME,
    K_PROVIDER,
    K_OTHER, /* any other member: skipped */
};
static const char *const USER_KEYS[K_OTHER] = {[K_ID] = "id",
                                               [K_USER_NAME] = "userName",
                                               [K_EXTERNAL_ID] = "externalId",
                                               [K_DISPLAY_NAME] = "displayName",
                                               [K_ACTIVE] = "active",
                                               [K_EMAILS] = "emails",
                                               [K_NAME] = "name",
                                               [K_PROVIDER] = ADC_SCIM_SCHEMA_PROVIDER};

static int email_element(struct adc_json_scan *s, size_t index, void *ctx) {
    struct user_ctx *uc = ctx;
    (void)index;
    if (!adc_json_scan_next_is(s, '{'))
        return adc_json_scan_skip(s);
    struct email e = {0};
    int r = adc_json_scan_object(s, email_member, &e);
    if (r < 0)
        return r;
    /* As scim-user.c: the first primary email object, else the first object, even when that
     * one has no value (then the user has no email). */
    if (!uc->first_seen) {
        uc->first_seen = true;
        uc->first_email = e.value;
    }
    if (e.primary && !uc->primary_seen) {
        uc->primary_seen = true;
        uc->primary_email = e.value;
    }
    if (e.value && uc->n_email_values < EMAILS_MAX)
        uc->email_values[uc->n_email_values++] = e.value;
    return 0;
}

/* The email values other than the primary one, one per line, into the scratch space (as
 * scim-user.c does from a jansson tree). */
static int join_other_emails(struct adc_json_scan *s, struct user_ctx *uc, const char *primary) {
    size_t len = 0, n = 0;
    for (size_t i = 0; i < uc->n_email_values; i++)
        if (uc->email_values[i] != primary)
            len += strlen(uc->email_values[i]) + 1;
    if (len == 0)
        return 0;
    char *buf = malloc(len);
    if (!buf)
        return -ENOMEM;
    for (size_t i = 0; i < uc->n_email_values; i++) {
        if (uc->email_values[i] == primary)
            continue;
        if (n)
            buf[n++] = '\n';
        size_t k = strlen(uc->email_values[i]);
        memcpy(buf + n, uc->email_values[i], k);
        n += k;
    }
    uc->u->other_emails = adc_cloud_users_strdup(scratch_of(s), buf, n);
    free(buf);
    return uc->u->other_emails ? 0 : -ENOMEM;
}

static int emails(struct adc_json_scan *s, struct user_ctx *uc) {
    if (adc_json_scan_literal(s, "null"))
        return 0;
    if (!adc_json_scan_eat(s, '['))
        return adc_json_scan_fail(s, "emails must be an array");
    return adc_json_scan_elements(s, email_element, uc);
}

static int name_member(struct adc_json_scan *s, const char *key, void *ctx) {
    struct adc_user *u = ctx;
    if (strcmp(key, "givenName") == 0)
        return opt_string(s, &u->given_name);
    if (strcmp(key, "familyName") == 0)
        return opt_string(s, &u->family_name);
    return adc_json_scan_skip(s);
}

static int sync_member(struct adc_json_scan *s, const char *key, void *ctx) {
    struct adc_user *u = ctx;
    if (strcmp(key, "provider") == 0)
        return opt_string(s, &u->provider);
    return adc_json_scan_skip(s);
}

static int user_member(struct adc_json_scan *s, const char *key, void *ctx) {
    struct user_ctx *uc = ctx;
    struct adc_user *u = uc->u;
    /* One pass over the names (about ten members a user, a million users a re-sync): the
     * member's index then decides, instead of a second chain of comparisons. */
    unsigned k = 0;
    while (k < K_OTHER && strcmp(key, USER_KEYS[k]) != 0)
        k++;
    if (k < K_OTHER) {
        if (uc->seen & (1u << k))
            return adc_json_scan_fail(s, "a member of a User appears twice");
        uc->seen |= 1u << k;
    }
    /* Objects only where an object is due; anything else in those places is skipped, as
     * scim-user.c ignores it. */
    bool is_object = adc_json_scan_next_is(s, '{');
    switch ((enum user_key)k) {
    case K_ID: uc->has_id = adc_json_scan_next_is(s, '"'); return opt_string(s, &u->id);
    case K_USER_NAME:
        uc->has_name = adc_json_scan_next_is(s, '"');
        return opt_string(s, &u->user_name);
    case K_EXTERNAL_ID: return opt_string(s, &u->external_id);
    case K_DISPLAY_NAME: return opt_string(s, &u->display_name);
    case K_ACTIVE: {
        bool active = true;
        int r = boolean(s, &active);
        u->active = active;
        return r;
    }
    case K_EMAILS: return emails(s, uc);
    case K_NAME:
        if (is_object)
            return adc_json_scan_object(s, name_member, u);
        break;
    case K_PROVIDER:
        if (is_object)
            return adc_json_scan_object(s, sync_member, u);
        break;
    case K_OTHER: break;
    }
    return adc_json_scan_skip(s);
}

struct list_ctx {
    long long total;
    size_t n_items;
    bool has_total, has_resources;
};

static int resource_element(struct adc_json_scan *s, size_t index, void *ctx) {
    struct list_ctx *lc = ctx;
    (void)index;
    struct adc_user u = {.active = true}; /* absent means active */
    struct user_ctx uc = {.u = &u};
    int r = adc_json_scan_object(s, user_member, &uc);
    if (r < 0)
        goto out;
    if (!uc.has_id || !uc.has_name || !u.id || !u.user_name) {
        r = adc_json_scan_fail(s, "a User without an id or a userName");
        goto out;
    }
    u.email = uc.primary_seen ? uc.primary_email : uc.first_email;
    if ((r = join_other_emails(s, &uc, u.email)) < 0)
        goto out;
    if (!adc_cloud_users_add(out_of(s), &u)) {
        r = -ENOMEM;
        goto out;
    }
    lc->n_items++;
out:
    /* u's strings are the scratch space's: nothing to free one by one. */
    adc_cloud_users_clear_strings(scratch_of(s));
    return r;
}

static int resources(struct adc_json_scan *s, struct list_ctx *lc) {
    if (!adc_json_scan_eat(s, '['))
        return adc_json_scan_fail(s, "Resources must be an array");
    return adc_json_scan_elements(s, resource_element, lc);
}

static int list_member(struct adc_json_scan *s, const char *key, void *ctx) {
    struct list_ctx *lc = ctx;
    if (strcmp(key, "totalResults") == 0) {
        lc->has_total = true;
        int r = adc_json_scan_number(s, &lc->total);
        if (r == 0 && lc->total < 0)
            return adc_json_scan_fail(s, "totalResults must be a non-negative integer");
        return r;
    }
    if (strcmp(key, "Resources") == 0) {
        if (lc->has_resources)
            return adc_json_scan_fail(s, "Resources appears twice");
        lc->has_resources = true;
        return resources(s, lc);
    }
    return adc_json_scan_skip(s);
}

int adc_scim_list_parse(const char *buf, size_t len, struct adc_cloud_users *out, size_t *total,
                        size_t *n_items, char *err, size_t err_size) {
    struct parser ps = {.out = out};
    struct list_ctx lc = {0};
    size_t n_before = out->n;
    adc_cloud_users_init(&ps.scratch);
    adc_json_scan_init(&ps.s, buf, len, MAX_DEPTH);
    int r = adc_json_scan_object(&ps.s, list_member, &lc);
    if (r == 0 && (r = adc_json_scan_end(&ps.s)) == 0 && !lc.has_total)
        r = adc_json_scan_fail(&ps.s, "no totalResults");
    adc_cloud_users_done(&ps.scratch);
    if (r < 0) {
        out->n = n_before; /* nothing of a bad page is kept */
        adc_json_scan_error(&ps.s, r, err, err_size);
        return r;
    }
    *total = (size_t)lc.total;
    *n_items = lc.n_items;
    return 0;
}

/* ---- BulkResponse (RFC 7644 section 3.7.3) --------------------------------------------- */

struct bulk_op_ctx {
    char *bulk_id, *location;
    long status;
    char *detail, *scim_type;
};

/* Strings of a Bulk answer are decoded into a scratch list whose blocks are dropped after
 * each answer: only bulkId and the error's detail are kept, never the resources. */
static int response_member(struct adc_json_scan *s, const char *key, void *ctx) {
    struct bulk_op_ctx *oc = ctx;
    if (strcmp(key, "detail") == 0)
        return opt_string(s, &oc->detail);
    if (strcmp(key, "scimType") == 0)
        return opt_string(s, &oc->scim_type);
    return adc_json_scan_skip(s);
}

static int status_member(struct adc_json_scan *s, const char *key, void *ctx) {
    struct bulk_op_ctx *oc = ctx;
    if (strcmp(key, "code") == 0) {
        long long v;
        int r = adc_json_scan_number(s, &v);
        oc->status = r == 0 && v >= 0 && v < 1000 ? (long)v : 0;
        return r;
    }
    return adc_json_scan_skip(s);
}

static int op_member(struct adc_json_scan *s, const char *key, void *ctx) {
    struct bulk_op_ctx *oc = ctx;
    if (strcmp(key, "bulkId") == 0)
        return opt_string(s, &oc->bulk_id);
    if (strcmp(key, "location") == 0)
        return opt_string(s, &oc->location);
    if (strcmp(key, "status") == 0) {
        /* "201" as RFC 7644 writes it, 201, or a draft-era {"code": 201} */
        if (adc_json_scan_next_is(s, '"')) {
            char *str = NULL;
            int r = string(s, &str);
            oc->status = str ? strtol(str, NULL, 10) : 0;
            return r;
        }
        if (adc_json_scan_next_is(s, '{'))
            return adc_json_scan_object(s, status_member, oc);
        if (s->p < s->end && (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))) {
            long long v;
            int r = adc_json_scan_number(s, &v);
            oc->status = r == 0 && v >= 0 && v < 1000 ? (long)v : 0;
            return r;
        }
        return adc_json_scan_skip(s);
    }
    if (strcmp(key, "response") == 0 && adc_json_scan_next_is(s, '{'))
        return adc_json_scan_object(s, response_member, oc);
    return adc_json_scan_skip(s);
}

struct bulk_ctx {
    adc_scim_bulk_op_fn fn;
    void *userdata;
    bool has_ops;
};

static int op_element(struct adc_json_scan *s, size_t pos, void *ctx) {
    struct bulk_ctx *bc = ctx;
    struct bulk_op_ctx oc = {0};
    int r = adc_json_scan_object(s, op_member, &oc);
    if (r == 0)
        bc->fn(bc->userdata, pos, oc.bulk_id, oc.status, oc.detail ? oc.detail : oc.scim_type,
               oc.location);
    return r;
}

static int bulk_member(struct adc_json_scan *s, const char *key, void *ctx) {
    struct bulk_ctx *bc = ctx;
    if (strcmp(key, "Operations") != 0)
        return adc_json_scan_skip(s);
    if (bc->has_ops)
        return adc_json_scan_fail(s, "Operations appears twice");
    bc->has_ops = true;
    if (!adc_json_scan_eat(s, '['))
        return adc_json_scan_fail(s, "Operations must be an array");
    return adc_json_scan_elements(s, op_element, bc);
}

int adc_scim_bulk_parse(const char *buf, size_t len, adc_scim_bulk_op_fn fn, void *userdata,
                        char *err, size_t err_size) {
    struct parser ps = {.out = NULL}; /* strings go to ps.scratch, no users are read */
    struct bulk_ctx bc = {.fn = fn, .userdata = userdata};
    adc_cloud_users_init(&ps.scratch);
    adc_json_scan_init(&ps.s, buf, len, MAX_DEPTH);
    int r = adc_json_scan_object(&ps.s, bulk_member, &bc);
    if (r == 0 && (r = adc_json_scan_end(&ps.s)) == 0 && !bc.has_ops)
        r = adc_json_scan_fail(&ps.s, "no Operations");
    if (r < 0)
        adc_json_scan_error(&ps.s, r, err, err_size);
    adc_cloud_users_done(&ps.scratch);
    return r;
}
