/* A SCIM ListResponse of Users (RFC 7644 section 3.4.2) straight into cloud users.
 *
 * Why not jansson: building a tree of every page and copying out of it was three quarters of
 * adc's CPU time in an unchanged re-sync of 100,000 users (SPEC.md section 8). This parser
 * reads the bytes once and copies only the strings a plan needs, into the list's blocks. It is
 * strict JSON (RFC 8259): anything else is an error with its byte offset, never a guess. */
#include "scim-list-parse.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include "scim-user.h"

#define MAX_DEPTH 32

struct parser {
    const char *s, *p, *end;
    int depth;
    struct adc_cloud_users *out;
    const char *why;
};

static int fail(struct parser *ps, const char *why) {
    if (!ps->why)
        ps->why = why;
    return -EBADMSG;
}

static void ws(struct parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t'))
        ps->p++;
}

static bool eat(struct parser *ps, char c) {
    ws(ps);
    if (ps->p < ps->end && *ps->p == c) {
        ps->p++;
        return true;
    }
    return false;
}

static int hex4(const char *p, unsigned *v) {
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        *v <<= 4;
        if (c >= '0' && c <= '9')
            *v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            *v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            *v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    return 0;
}

static size_t put_utf8(char *o, unsigned cp) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF), or 0. jansson refuses the same; a user name from the server must be
 * text we can print and send back. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end) {
    unsigned c = p[0], n, cp;
    if (c < 0xC2 || c > 0xF4)
        return 0;
    n = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if ((size_t)(end - p) < n)
        return 0;
    cp = c & (0x3F >> (n - 1));
    for (unsigned i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return n;
}

/* A string at ps->p (after whitespace). With `out`, its decoded value is copied into the list's
 * blocks (or, with `tmp`, into tmp[0..tmp_size) for keys; a longer key decodes as ""). */
static int string(struct parser *ps, char **out, char *tmp, size_t tmp_size) {
    if (!eat(ps, '"'))
        return fail(ps, "a string was expected");
    const char *start = ps->p;
    bool escaped = false;
    while (ps->p < ps->end && *ps->p != '"') {
        unsigned char c = (unsigned char)*ps->p;
        if (c < 0x20)
            return fail(ps, "control character in a string");
        if (c >= 0x80) {
            size_t n = utf8_len((const unsigned char *)ps->p, (const unsigned char *)ps->end);
            if (!n)
                return fail(ps, "invalid UTF-8 in a string");
            ps->p += n;
            continue;
        }
        if (c == '\\') {
            escaped = true;
            if (ps->p + 1 >= ps->end)
                return fail(ps, "unterminated string");
            ps->p++;
            /* Checked here too, so that strings that are skipped (not decoded) are JSON. */
            unsigned cp;
            if (!strchr("\"\\/bfnrtu", *ps->p) || !*ps->p ||
                (*ps->p == 'u' && (ps->end - ps->p < 5 || hex4(ps->p + 1, &cp) < 0)))
                return fail(ps, "invalid escape in a string");
            if (*ps->p == 'u' && cp >= 0xD800 && cp <= 0xDFFF) {
                /* a surrogate only as the first half of a pair (RFC 8259 section 7) */
                unsigned lo;
                if (cp > 0xDBFF || ps->end - ps->p < 11 || ps->p[5] != '\\' ||
                    ps->p[6] != 'u' || hex4(ps->p + 7, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
                    return fail(ps, "invalid escape in a string");
                ps->p += 6; /* the second half is checked */
            }
        }
        ps->p++;
    }
    if (ps->p >= ps->end)
        return fail(ps, "unterminated string");
    const char *stop = ps->p++;
    size_t raw = (size_t)(stop - start);
    if (!out && !tmp)
        return 0;
    if (!escaped) {
        if (tmp) {
            if (raw >= tmp_size)
                raw = 0;
            memcpy(tmp, start, raw);
            tmp[raw] = '\0';
            return 0;
        }
        return (*out = adc_cloud_users_strdup(ps->out, start, raw)) ? 0 : -ENOMEM;
    }
    /* Decoding never makes a string longer than its escaped form. */
    char *buf = malloc(raw + 1), *o = buf;
    if (!buf)
        return -ENOMEM;
    for (const char *q = start; q < stop; q++) {
        if (*q != '\\') {
            *o++ = *q;
            continue;
        }
        q++;
        switch (*q) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (stop - q < 5 || hex4(q + 1, &cp) < 0)
                goto bad;
            q += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                /* A surrogate pair (RFC 8259 section 7) */
                if (stop - q < 7 || q[1] != '\\' || q[2] != 'u' || hex4(q + 3, &lo) < 0 ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    goto bad;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                q += 6;
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                goto bad;
            }
            if (cp == 0)
                goto bad; /* an embedded NUL would cut the value short */
            o += put_utf8(o, cp);
            break;
        }
        default: goto bad;
        }
    }
    *o = '\0';
    int r = 0;
    if (tmp) {
        size_t n = (size_t)(o - buf);
        if (n >= tmp_size)
            n = 0;
        memcpy(tmp, buf, n);
        tmp[n] = '\0';
    } else if (!(*out = adc_cloud_users_strdup(ps->out, buf, (size_t)(o - buf)))) {
        r = -ENOMEM;
    }
    free(buf);
    return r;
bad:
    free(buf);
    return fail(ps, "invalid escape in a string");
}

static bool literal(struct parser *ps, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) >= n && memcmp(ps->p, word, n) == 0) {
        ps->p += n;
        return true;
    }
    return false;
}

/* A number; *value gets it when it is a non-negative integer that fits, else -1. */
static int number(struct parser *ps, long long *value) {
    const char *start = ps->p;
    if (ps->p < ps->end && *ps->p == '-')
        ps->p++;
    const char *digits = ps->p;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
        ps->p++;
    if (ps->p == digits || (*digits == '0' && ps->p - digits > 1))
        return fail(ps, "invalid number");
    bool integer = true;
    if (ps->p < ps->end && *ps->p == '.') {
        integer = false;
        const char *f = ++ps->p;
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
            ps->p++;
        if (ps->p == f)
            return fail(ps, "invalid number");
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        integer = false;
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
            ps->p++;
        const char *e = ps->p;
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
            ps->p++;
        if (ps->p == e)
            return fail(ps, "invalid number");
    }
    /* What jansson refuses we refuse, skipped or not: an integer beyond 64 bits, a real
     * beyond a double. */
    char *text = strndup(start, (size_t)(ps->p - start));
    if (!text)
        return -ENOMEM;
    errno = 0;
    bool overflow;
    if (integer) {
        (void)strtoll(text, NULL, 10);
        overflow = errno == ERANGE;
    } else {
        double d = strtod(text, NULL);
        overflow = errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL);
    }
    free(text);
    if (overflow)
        return fail(ps, "number out of range");
    if (value) {
        *value = -1;
        if (integer && *start != '-' && ps->p - start <= 18) {
            long long v = 0;
            for (const char *q = start; q < ps->p; q++)
                v = v * 10 + (*q - '0');
            *value = v;
        }
    }
    return 0;
}

static int skip_value(struct parser *ps);

static int skip_container(struct parser *ps, char close, bool object) {
    if (++ps->depth > MAX_DEPTH)
        return fail(ps, "nested too deeply");
    if (eat(ps, close)) {
        ps->depth--;
        return 0;
    }
    for (;;) {
        int r;
        if (object) {
            ws(ps);
            if ((r = string(ps, NULL, NULL, 0)) < 0)
                return r;
            if (!eat(ps, ':'))
                return fail(ps, "':' was expected");
        }
        if ((r = skip_value(ps)) < 0)
            return r;
        if (eat(ps, ','))
            continue;
        if (eat(ps, close)) {
            ps->depth--;
            return 0;
        }
        return fail(ps, object ? "',' or '}' was expected" : "',' or ']' was expected");
    }
}

static int skip_value(struct parser *ps) {
    ws(ps);
    if (ps->p >= ps->end)
        return fail(ps, "a value was expected");
    switch (*ps->p) {
    case '"': return string(ps, NULL, NULL, 0);
    case '{': ps->p++; return skip_container(ps, '}', true);
    case '[': ps->p++; return skip_container(ps, ']', false);
    case 't': return literal(ps, "true") ? 0 : fail(ps, "invalid literal");
    case 'f': return literal(ps, "false") ? 0 : fail(ps, "invalid literal");
    case 'n': return literal(ps, "null") ? 0 : fail(ps, "invalid literal");
    default: return number(ps, NULL);
    }
}

/* Iterates the members of an object: calls member(ps, key, ctx) positioned at each value,
 * which must consume it. */
typedef int (*member_fn)(struct parser *ps, const char *key, void *ctx);

static int object(struct parser *ps, member_fn member, void *ctx) {
    if (!eat(ps, '{'))
        return fail(ps, "an object was expected");
    if (++ps->depth > MAX_DEPTH)
        return fail(ps, "nested too deeply");
    if (eat(ps, '}')) {
        ps->depth--;
        return 0;
    }
    for (;;) {
        char key[96];
        int r;
        ws(ps);
        if ((r = string(ps, NULL, key, sizeof(key))) < 0)
            return r;
        if (!eat(ps, ':'))
            return fail(ps, "':' was expected");
        ws(ps);
        if ((r = member(ps, key, ctx)) < 0)
            return r;
        if (eat(ps, ','))
            continue;
        if (eat(ps, '}')) {
            ps->depth--;
            return 0;
        }
        return fail(ps, "',' or '}' was expected");
    }
}

/* A string member, or null (absent); an empty string is absent too, as in scim-user.c. */
static int opt_string(struct parser *ps, char **out) {
    if (literal(ps, "null"))
        return 0;
    if (ps->p >= ps->end || *ps->p != '"')
        return fail(ps, "a string was expected");
    char *v = NULL;
    int r = string(ps, &v, NULL, 0);
    if (r == 0 && v && *v)
        *out = v;
    return r;
}

static int boolean(struct parser *ps, bool *out) {
    if (literal(ps, "true"))
        *out = true;
    else if (literal(ps, "false"))
        *out = false;
    else if (!literal(ps, "null"))
        return fail(ps, "true or false was expected");
    return 0;
}

struct email {
    char *value;
    bool primary;
};

static int email_member(struct parser *ps, const char *key, void *ctx) {
    struct email *e = ctx;
    if (strcmp(key, "value") == 0)
        return opt_string(ps, &e->value);
    if (strcmp(key, "primary") == 0)
        return boolean(ps, &e->primary);
    return skip_value(ps);
}

struct user_ctx {
    struct adc_user *u;
    char *first_email, *primary_email;
    bool has_id, has_name, first_seen, primary_seen;
    unsigned seen; /* members read so far (bits of USER_KEYS) */
};

/* The members of a User we read. One of them twice is refused, as the client refused
 * duplicate keys when it parsed with jansson (JSON_REJECT_DUPLICATES): with two "name"
 * objects, which one counts is a guess, and a server that sends them is broken. */
static const char *const USER_KEYS[] = {"id",     "userName", "externalId", "displayName",
                                        "active", "emails",   "name",       ADC_SCIM_SCHEMA_SYNC};

static int emails(struct parser *ps, struct user_ctx *uc) {
    if (literal(ps, "null"))
        return 0;
    if (!eat(ps, '['))
        return fail(ps, "emails must be an array");
    if (eat(ps, ']'))
        return 0;
    for (;;) {
        ws(ps);
        struct email e = {0};
        int r;
        if (ps->p < ps->end && *ps->p == '{') {
            if ((r = object(ps, email_member, &e)) < 0)
                return r;
            /* As scim-user.c: the first primary email object, else the first object, even
             * when that one has no value (then the user has no email). */
            if (!uc->first_seen) {
                uc->first_seen = true;
                uc->first_email = e.value;
            }
            if (e.primary && !uc->primary_seen) {
                uc->primary_seen = true;
                uc->primary_email = e.value;
            }
        } else if ((r = skip_value(ps)) < 0) {
            return r;
        }
        if (eat(ps, ','))
            continue;
        if (eat(ps, ']'))
            return 0;
        return fail(ps, "',' or ']' was expected");
    }
}

static int name_member(struct parser *ps, const char *key, void *ctx) {
    struct adc_user *u = ctx;
    if (strcmp(key, "givenName") == 0)
        return opt_string(ps, &u->given_name);
    if (strcmp(key, "familyName") == 0)
        return opt_string(ps, &u->family_name);
    return skip_value(ps);
}

static int sync_member(struct parser *ps, const char *key, void *ctx) {
    struct adc_user *u = ctx;
    if (strcmp(key, "provider") == 0)
        return opt_string(ps, &u->provider);
    return skip_value(ps);
}

static int user_member(struct parser *ps, const char *key, void *ctx) {
    struct user_ctx *uc = ctx;
    struct adc_user *u = uc->u;
    for (unsigned i = 0; i < sizeof(USER_KEYS) / sizeof(USER_KEYS[0]); i++)
        if (strcmp(key, USER_KEYS[i]) == 0) {
            if (uc->seen & (1u << i))
                return fail(ps, "a member of a User appears twice");
            uc->seen |= 1u << i;
            break;
        }
    /* Objects only where an object is due; anything else in those places is skipped, as
     * scim-user.c ignores it. */
    bool is_object = ps->p < ps->end && *ps->p == '{';
    if (strcmp(key, "id") == 0) {
        uc->has_id = ps->p < ps->end && *ps->p == '"';
        return opt_string(ps, &u->id);
    }
    if (strcmp(key, "userName") == 0) {
        uc->has_name = ps->p < ps->end && *ps->p == '"';
        return opt_string(ps, &u->user_name);
    }
    if (strcmp(key, "externalId") == 0)
        return opt_string(ps, &u->external_id);
    if (strcmp(key, "displayName") == 0)
        return opt_string(ps, &u->display_name);
    if (strcmp(key, "active") == 0) {
        bool active = true;
        int r = boolean(ps, &active);
        u->active = active;
        return r;
    }
    if (strcmp(key, "emails") == 0)
        return emails(ps, uc);
    if (strcmp(key, "name") == 0 && is_object)
        return object(ps, name_member, u);
    if (strcmp(key, ADC_SCIM_SCHEMA_SYNC) == 0 && is_object)
        return object(ps, sync_member, u);
    return skip_value(ps);
}

struct list_ctx {
    long long total;
    size_t n_items;
    bool has_total, has_resources;
};

static int resources(struct parser *ps, struct list_ctx *lc) {
    if (!eat(ps, '['))
        return fail(ps, "Resources must be an array");
    if (eat(ps, ']'))
        return 0;
    for (;;) {
        struct adc_user *u = adc_cloud_users_append(ps->out);
        if (!u)
            return -ENOMEM;
        u->active = true; /* absent means active */
        struct user_ctx uc = {.u = u};
        ws(ps);
        int r = object(ps, user_member, &uc);
        if (r < 0) {
            ps->out->n--;
            return r;
        }
        if (!uc.has_id || !uc.has_name || !u->id || !u->user_name) {
            ps->out->n--;
            return fail(ps, "a User without an id or a userName");
        }
        u->email = uc.primary_seen ? uc.primary_email : uc.first_email;
        adc_cloud_users_intern_provider(ps->out, u);
        lc->n_items++;
        if (eat(ps, ','))
            continue;
        if (eat(ps, ']'))
            return 0;
        return fail(ps, "',' or ']' was expected");
    }
}

static int list_member(struct parser *ps, const char *key, void *ctx) {
    struct list_ctx *lc = ctx;
    if (strcmp(key, "totalResults") == 0) {
        lc->has_total = true;
        int r = number(ps, &lc->total);
        if (r == 0 && lc->total < 0)
            return fail(ps, "totalResults must be a non-negative integer");
        return r;
    }
    if (strcmp(key, "Resources") == 0) {
        if (lc->has_resources)
            return fail(ps, "Resources appears twice");
        lc->has_resources = true;
        return resources(ps, lc);
    }
    return skip_value(ps);
}

int adc_scim_list_parse(const char *buf, size_t len, struct adc_cloud_users *out, size_t *total,
                        size_t *n_items, char *err, size_t err_size) {
    struct parser ps = {.s = buf, .p = buf, .end = buf + len, .out = out};
    struct list_ctx lc = {0};
    size_t n_before = out->n;
    int r = object(&ps, list_member, &lc);
    if (r == 0) {
        ws(&ps);
        if (ps.p != ps.end)
            r = fail(&ps, "text after the document");
        else if (!lc.has_total)
            r = fail(&ps, "no totalResults");
    }
    if (r < 0) {
        out->n = n_before; /* nothing of a bad page is kept */
        if (err && err_size)
            snprintf(err, err_size, "%s at byte %zu",
                     r == -ENOMEM ? "out of memory"
                     : ps.why     ? ps.why
                                  : "invalid JSON",
                     (size_t)(ps.p - ps.s));
        return r;
    }
    *total = (size_t)lc.total;
    *n_items = lc.n_items;
    return 0;
}

/* ---- BulkResponse (RFC 7644 section 3.7.3) --------------------------------------------- */

struct bulk_op_ctx {
    char *bulk_id;
    long status;
    char *detail, *scim_type;
};

/* Strings of a Bulk answer are decoded into a scratch list whose blocks are dropped after
 * each answer: only bulkId and the error's detail are kept, never the resources. */
static int response_member(struct parser *ps, const char *key, void *ctx) {
    struct bulk_op_ctx *oc = ctx;
    if (strcmp(key, "detail") == 0)
        return opt_string(ps, &oc->detail);
    if (strcmp(key, "scimType") == 0)
        return opt_string(ps, &oc->scim_type);
    return skip_value(ps);
}

static int status_member(struct parser *ps, const char *key, void *ctx) {
    struct bulk_op_ctx *oc = ctx;
    if (strcmp(key, "code") == 0) {
        long long v;
        int r = number(ps, &v);
        oc->status = r == 0 && v >= 0 && v < 1000 ? (long)v : 0;
        return r;
    }
    return skip_value(ps);
}

static int op_member(struct parser *ps, const char *key, void *ctx) {
    struct bulk_op_ctx *oc = ctx;
    if (strcmp(key, "bulkId") == 0)
        return opt_string(ps, &oc->bulk_id);
    if (strcmp(key, "status") == 0) {
        /* "201" as RFC 7644 writes it, 201, or a draft-era {"code": 201} */
        if (ps->p < ps->end && *ps->p == '"') {
            char *s = NULL;
            int r = string(ps, &s, NULL, 0);
            oc->status = s ? strtol(s, NULL, 10) : 0;
            return r;
        }
        if (ps->p < ps->end && *ps->p == '{')
            return object(ps, status_member, oc);
        if (ps->p < ps->end && (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))) {
            long long v;
            int r = number(ps, &v);
            oc->status = r == 0 && v >= 0 && v < 1000 ? (long)v : 0;
            return r;
        }
        return skip_value(ps);
    }
    if (strcmp(key, "response") == 0 && ps->p < ps->end && *ps->p == '{')
        return object(ps, response_member, oc);
    return skip_value(ps);
}

struct bulk_ctx {
    adc_scim_bulk_op_fn fn;
    void *userdata;
    bool has_ops;
};

static int bulk_member(struct parser *ps, const char *key, void *ctx) {
    struct bulk_ctx *bc = ctx;
    if (strcmp(key, "Operations") != 0)
        return skip_value(ps);
    if (bc->has_ops)
        return fail(ps, "Operations appears twice");
    bc->has_ops = true;
    if (!eat(ps, '['))
        return fail(ps, "Operations must be an array");
    if (eat(ps, ']'))
        return 0;
    for (size_t pos = 0;; pos++) {
        struct bulk_op_ctx oc = {0};
        ws(ps);
        int r = object(ps, op_member, &oc);
        if (r < 0)
            return r;
        bc->fn(bc->userdata, pos, oc.bulk_id, oc.status, oc.detail ? oc.detail : oc.scim_type);
        if (eat(ps, ','))
            continue;
        if (eat(ps, ']'))
            return 0;
        return fail(ps, "',' or ']' was expected");
    }
}

int adc_scim_bulk_parse(const char *buf, size_t len, adc_scim_bulk_op_fn fn, void *userdata,
                        char *err, size_t err_size) {
    struct adc_cloud_users scratch;
    adc_cloud_users_init(&scratch);
    struct parser ps = {.s = buf, .p = buf, .end = buf + len, .out = &scratch};
    struct bulk_ctx bc = {.fn = fn, .userdata = userdata};
    int r = object(&ps, bulk_member, &bc);
    if (r == 0) {
        ws(&ps);
        if (ps.p != ps.end)
            r = fail(&ps, "text after the document");
        else if (!bc.has_ops)
            r = fail(&ps, "no Operations");
    }
    if (r < 0 && err && err_size)
        snprintf(err, err_size, "%s at byte %zu",
                 r == -ENOMEM ? "out of memory"
                 : ps.why     ? ps.why
                              : "invalid JSON",
                 (size_t)(ps.p - ps.s));
    adc_cloud_users_done(&scratch);
    return r;
}
