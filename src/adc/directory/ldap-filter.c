/* RFC 4515 string filters. The validator is a recursive-descent parser of the ABNF in RFC 4515
 * section 3 (attribute descriptions per RFC 4512 section 2.5); it only says whether the filter
 * is well formed and where it is not, so that adc.yaml diagnostics can point inside the string
 * before the first LDAP request is ever sent. */
#include "directory/ldap-filter.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A filter nested deeper than this is not a directory query anyone writes by hand; the limit
 * keeps the recursion (one frame per level) away from the stack's end on hostile input. */
#define MAX_DEPTH 64

struct parser {
    const char *s;
    size_t pos;
    size_t err_pos;
    const char *err_msg;
};

static int fail(struct parser *p, size_t at, const char *msg) {
    p->err_pos = at;
    p->err_msg = msg;
    return -EINVAL;
}

static bool is_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static bool is_keychar(unsigned char c) { return is_alpha(c) || is_digit(c) || c == '-'; }
static bool is_hex(unsigned char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Length of the well-formed UTF-8 sequence (RFC 3629: no overlongs, no surrogates, at most
 * U+10FFFF) starting at s, or 0 when the bytes there are not one. s[0] >= 0x80. */
static size_t utf8_len(const unsigned char *s, size_t avail) {
    unsigned char c = s[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c == 0xE0)
        n = 3, lo = 0xA0;
    else if (c >= 0xE1 && c <= 0xEC)
        n = 3;
    else if (c == 0xED)
        n = 3, hi = 0x9F;
    else if (c >= 0xEE && c <= 0xEF)
        n = 3;
    else if (c == 0xF0)
        n = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3)
        n = 4;
    else if (c == 0xF4)
        n = 4, hi = 0x8F;
    else
        return 0;
    if (avail < n)
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return n;
}

/* oid = descr / numericoid (RFC 4512 section 1.4). */
static int parse_oid(struct parser *p, const char *what_missing) {
    const unsigned char *s = (const unsigned char *)p->s;
    size_t start = p->pos;
    if (is_alpha(s[p->pos])) {
        while (is_keychar(s[p->pos]))
            p->pos++;
        return 0;
    }
    if (is_digit(s[p->pos])) {
        for (;;) {
            /* number = DIGIT / ( LDIGIT 1*DIGIT ): no leading zeros */
            size_t nstart = p->pos;
            while (is_digit(s[p->pos]))
                p->pos++;
            if (p->pos == nstart)
                return fail(p, p->pos, "numeric OID has an empty component");
            if (s[nstart] == '0' && p->pos - nstart > 1)
                return fail(p, nstart, "numeric OID component has a leading zero");
            if (s[p->pos] != '.')
                break;
            p->pos++;
        }
        if (is_alpha(s[p->pos]) || s[p->pos] == '-')
            return fail(p, start, "name mixes digits and letters; names start with a letter");
        if (!memchr(p->s + start, '.', p->pos - start))
            return fail(p, start, "numeric OID needs at least two components (like 2.5.4.3)");
        return 0;
    }
    return fail(p, start, what_missing);
}

/* attributedescription = attributetype options; options = *( SEMI option ) */
static int parse_attr(struct parser *p) {
    int r = parse_oid(p, "missing attribute description");
    if (r < 0)
        return r;
    while (p->s[p->pos] == ';') {
        size_t start = ++p->pos;
        while (is_keychar((unsigned char)p->s[p->pos]))
            p->pos++;
        if (p->pos == start)
            return fail(p, start, "empty attribute option after ';'");
    }
    return 0;
}

/* assertionvalue = valueencoding = 0*(normal / escaped). Stops at '*', ')' or the end;
 * `star_ok` tells whether the caller accepts '*' there (substring filters). */
static int parse_value(struct parser *p, bool star_ok) {
    const unsigned char *s = (const unsigned char *)p->s;
    size_t len = strlen(p->s);
    for (;;) {
        unsigned char c = s[p->pos];
        if (c == '\0' || c == ')')
            return 0;
        if (c == '*') {
            if (star_ok)
                return 0;
            return fail(p, p->pos,
                        "'*' is only allowed after '=' (substring or presence); "
                        "write \\2a for a literal asterisk");
        }
        if (c == '(')
            return fail(p, p->pos, "unescaped '(' in value; write \\28");
        if (c == '\\') {
            if (!is_hex(s[p->pos + 1]) || !is_hex(s[p->pos + 2]))
                return fail(
                    p, p->pos,
                    "'\\' must be followed by two hex digits (\\2a, \\28, \\29, \\5c, \\00)");
            p->pos += 3;
            continue;
        }
        if (c >= 0x80) {
            size_t n = utf8_len(s + p->pos, len - p->pos);
            if (n == 0)
                return fail(p, p->pos, "value is not valid UTF-8; write such bytes as \\XX");
            p->pos += n;
            continue;
        }
        p->pos++;
    }
}

static int parse_filter(struct parser *p, unsigned depth);

/* item = simple / present / substring / extensible, after the opening parenthesis. */
static int parse_item(struct parser *p) {
    const char *s = p->s;
    int r;
    bool have_attr = false;

    if (s[p->pos] != ':') {
        r = parse_attr(p);
        if (r < 0)
            return r;
        have_attr = true;
    }

    if (s[p->pos] == ':') {
        /* extensible = ( attr [dnattrs] [matchingrule] COLON EQUALS assertionvalue )
         *            / ( [dnattrs] matchingrule COLON EQUALS assertionvalue ) */
        size_t ext_start = p->pos;
        bool have_rule = false;
        p->pos++;
        if (strncasecmp(s + p->pos, "dn", 2) == 0 && (s[p->pos + 2] == ':')) {
            p->pos += 3;
        }
        if (s[p->pos] != '=') {
            r = parse_oid(p, "missing matching rule after ':'");
            if (r < 0)
                return r;
            have_rule = true;
            if (s[p->pos] != ':')
                return fail(p, p->pos, "expected ':=' after the matching rule");
            p->pos++;
        }
        if (s[p->pos] != '=')
            return fail(p, p->pos, "expected ':=' in extensible match");
        if (!have_attr && !have_rule)
            return fail(p, ext_start, "extensible match without attribute needs a matching rule");
        p->pos++;
        return parse_value(p, false);
    }

    size_t op = p->pos;
    if (s[op] == '~' || s[op] == '>' || s[op] == '<') {
        if (s[op + 1] != '=')
            return fail(p, op, "expected '=' after the comparison operator ('~=', '>=', '<=')");
        p->pos += 2;
        return parse_value(p, false);
    }
    if (s[op] != '=') {
        if (s[op] == '\0')
            return fail(p, op, "unexpected end of filter; expected '=', '~=', '>=', '<=' or ':='");
        return fail(p, op, "expected '=', '~=', '>=', '<=' or ':=' after the attribute");
    }
    p->pos++;

    /* equal, present or substring: initial *( '*' any ) with values between the stars. */
    bool prev_star = false;
    for (;;) {
        size_t vstart = p->pos;
        r = parse_value(p, true);
        if (r < 0)
            return r;
        if (s[p->pos] != '*')
            return 0;
        if (prev_star && p->pos == vstart)
            return fail(p, p->pos, "empty substring between two '*'");
        prev_star = true;
        p->pos++;
    }
}

/* filter = LPAREN filtercomp RPAREN */
static int parse_filter(struct parser *p, unsigned depth) {
    const char *s = p->s;
    int r;

    if (depth > MAX_DEPTH)
        return fail(p, p->pos, "filter is nested too deeply");
    if (s[p->pos] != '(') {
        if (s[p->pos] == '\0')
            return fail(p, p->pos, "unexpected end of filter; expected '('");
        return fail(p, p->pos, "expected '('");
    }
    size_t open = p->pos++;

    switch (s[p->pos]) {
    case '&':
    case '|': {
        size_t op = p->pos++;
        if (s[p->pos] != '(')
            return fail(p, s[p->pos] == ')' ? op : p->pos,
                        s[p->pos] == ')' ? "'&' and '|' need at least one filter"
                                         : "expected '(' of a filter after '&' or '|'");
        while (s[p->pos] == '(') {
            r = parse_filter(p, depth + 1);
            if (r < 0)
                return r;
        }
        break;
    }
    case '!':
        p->pos++;
        r = parse_filter(p, depth + 1);
        if (r < 0)
            return r;
        break;
    case ')': return fail(p, p->pos, "empty filter '()'");
    case '\0': return fail(p, p->pos, "unexpected end of filter after '('");
    default:
        r = parse_item(p);
        if (r < 0)
            return r;
    }

    if (s[p->pos] == ')') {
        p->pos++;
        return 0;
    }
    if (s[p->pos] == '\0')
        return fail(p, open, "unbalanced parentheses: '(' is never closed");
    return fail(p, p->pos, "expected ')'");
}

int adc_ldap_filter_attr_validate(const char *attr, size_t *err_offset, const char **err_msg) {
    struct parser p = {.s = attr ? attr : ""};
    int r = parse_attr(&p);
    if (r == 0 && attr[p.pos] != '\0')
        r = fail(&p, p.pos,
                 "attribute names contain only letters, digits and '-' "
                 "(options after ';')");
    if (r < 0) {
        if (err_offset)
            *err_offset = p.err_pos;
        if (err_msg)
            *err_msg = p.err_msg;
    }
    return r;
}

int adc_ldap_filter_validate(const char *filter, size_t *err_offset, const char **err_msg) {
    struct parser p = {.s = filter};
    int r;

    if (!filter) {
        r = fail(&p, 0, "no filter");
        goto out;
    }
    if (filter[0] == '\0') {
        r = fail(&p, 0, "empty filter");
        goto out;
    }
    if (filter[0] != '(') {
        r = fail(&p, 0,
                 "a filter starts with '(' (write (objectClass=person), not objectClass=person)");
        goto out;
    }
    r = parse_filter(&p, 0);
    if (r == 0 && filter[p.pos] != '\0')
        r = fail(&p, p.pos,
                 filter[p.pos] == ')' ? "unbalanced parentheses: extra ')'"
                                      : "text after the end of the filter; "
                                        "combine filters with (&...) or (|...)");
out:
    if (r < 0) {
        if (err_offset)
            *err_offset = p.err_pos;
        if (err_msg)
            *err_msg = p.err_msg;
    }
    return r;
}

char *adc_ldap_filter_escape_len(const char *value, size_t len) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *v = (const unsigned char *)value;
    if (!value)
        return NULL;
    /* Worst case every byte becomes \XX. */
    if (len > (SIZE_MAX - 1) / 3)
        return NULL;
    char *out = malloc(len * 3 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = v[i];
        if (c >= 0x80) {
            size_t n = utf8_len(v + i, len - i);
            if (n > 0) {
                memcpy(out + o, v + i, n);
                o += n;
                i += n;
                continue;
            }
        }
        if (c == '*' || c == '(' || c == ')' || c == '\\' || c == '\0' || c >= 0x80) {
            out[o++] = '\\';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 0xF];
        } else {
            out[o++] = (char)c;
        }
        i++;
    }
    out[o] = '\0';
    return out;
}

char *adc_ldap_filter_escape(const char *value) {
    if (!value)
        return NULL;
    return adc_ldap_filter_escape_len(value, strlen(value));
}

int adc_ldap_filter_template_check(const char *tmpl, size_t *err_offset) {
    const char *first = tmpl ? strstr(tmpl, "%s") : NULL;
    if (!first) {
        if (err_offset)
            *err_offset = 0;
        return -EINVAL;
    }
    const char *second = strstr(first + 2, "%s");
    if (second) {
        if (err_offset)
            *err_offset = (size_t)(second - tmpl);
        return -EINVAL;
    }
    return 0;
}

char *adc_ldap_filter_from_template(const char *tmpl, const char *name) {
    if (!tmpl || !name || adc_ldap_filter_template_check(tmpl, NULL) < 0)
        return NULL;
    char *esc = adc_ldap_filter_escape(name);
    if (!esc)
        return NULL;
    const char *at = strstr(tmpl, "%s");
    size_t pre = (size_t)(at - tmpl), elen = strlen(esc), post = strlen(at + 2);
    char *out = malloc(pre + elen + post + 1);
    if (out) {
        memcpy(out, tmpl, pre);
        memcpy(out + pre, esc, elen);
        memcpy(out + pre + elen, at + 2, post + 1);
    }
    /* The escaped name may be a person's sign-in name; not a secret, but no reason to keep it. */
    free(esc);
    return out;
}
