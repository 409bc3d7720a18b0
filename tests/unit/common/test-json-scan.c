/* The strict tree-less JSON reader of src/common/json-scan.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/json-scan.h"

/* r must be -EBADMSG and the scanner's message exactly want ("<why> at byte N"). */
static void assert_error(const struct adc_json_scan *s, int r, const char *want) {
    char err[160];
    assert_int_equal(r, -EBADMSG);
    adc_json_scan_error(s, r, err, sizeof(err));
    assert_string_equal(err, want);
}

/* json (a string value) is accepted, read or skipped, and decodes to want[0..want_len). */
static void string_ok(const char *json, const char *want, size_t want_len, bool want_escaped) {
    struct adc_json_scan s;
    const char *raw = NULL;
    size_t raw_len = 0;
    bool escaped = !want_escaped;
    adc_json_scan_init(&s, json, strlen(json), 8);
    assert_int_equal(adc_json_scan_string(&s, &raw, &raw_len, &escaped), 0);
    assert_ptr_equal(s.p, json + strlen(json));
    assert_ptr_equal(raw, strchr(json, '"') + 1);
    assert_int_equal(raw_len, (size_t)(s.p - 1 - raw));
    assert_int_equal(escaped, want_escaped);
    char out[256];
    assert_true(raw_len < sizeof(out));
    memset(out, 'X', sizeof(out));
    assert_int_equal(adc_json_unescape(raw, raw_len, out), want_len);
    assert_memory_equal(out, want, want_len);
    assert_int_equal(out[want_len], '\0');

    adc_json_scan_init(&s, json, strlen(json), 8);
    assert_int_equal(adc_json_scan_skip(&s), 0);
    assert_ptr_equal(s.p, json + strlen(json));

    char *dup = NULL;
    adc_json_scan_init(&s, json, strlen(json), 8);
    assert_int_equal(adc_json_scan_string_dup(&s, &dup), 0);
    assert_memory_equal(dup, want, want_len);
    assert_int_equal(dup[want_len], '\0');
    free(dup);
}

/* json (len bytes) is refused with want, whether it is read as a string or skipped. */
static void string_fails_n(const char *json, size_t len, const char *want) {
    struct adc_json_scan s;
    const char *raw = NULL;
    adc_json_scan_init(&s, json, len, 8);
    assert_error(&s, adc_json_scan_string(&s, &raw, NULL, NULL), want);
    assert_null(raw); /* outputs written only on success */
    adc_json_scan_init(&s, json, len, 8);
    assert_error(&s, adc_json_scan_skip(&s), want);
}

static void string_fails(const char *json, const char *want) {
    string_fails_n(json, strlen(json), want);
}

static void strings(void **state) {
    (void)state;
    string_ok("\"\"", "", 0, false);
    string_ok("  \"plain text\"", "plain text", 10, false);
    string_ok("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t", 8, true);
    /* \u escapes to UTF-8 of 1, 2, 3 and 4 bytes, hex digits in either case */
    string_ok("\"\\u0041\"", "A", 1, true);
    string_ok("\"\\u007f\"", "\x7f", 1, true);
    string_ok("\"\\u0080\"", "\xc2\x80", 2, true);
    string_ok("\"\\u00E9\\u00e9\"", "\xc3\xa9\xc3\xa9", 4, true);
    string_ok("\"\\u07FF\"", "\xdf\xbf", 2, true);
    string_ok("\"\\u0800\"", "\xe0\xa0\x80", 3, true);
    string_ok("\"\\u20aC\"", "\xe2\x82\xac", 3, true);
    string_ok("\"\\uFFFF\"", "\xef\xbf\xbf", 3, true);
    /* surrogate pairs: the first and last code points above the BMP, and an emoji */
    string_ok("\"\\uD800\\uDC00\"", "\xf0\x90\x80\x80", 4, true);
    string_ok("\"\\ud83d\\ude00!\"", "\xf0\x9f\x98\x80!", 5, true);
    string_ok("\"\\uDBFF\\uDFFF\"", "\xf4\x8f\xbf\xbf", 4, true);
    /* raw UTF-8 is kept as it is */
    string_ok("\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"",
              "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf", 13, false);

    /* lone surrogates; the error is at the character after the backslash */
    string_fails("\"\\uD800\"", "invalid escape in a string at byte 2");
    string_fails("\"ab\\uDBFF\\u0041\"", "invalid escape in a string at byte 4");
    string_fails("\"\\uD800\\uD800\"", "invalid escape in a string at byte 2");
    string_fails("\"\\uD800\\n\"", "invalid escape in a string at byte 2");
    string_fails("\"\\uD800\\uDC0\"", "invalid escape in a string at byte 2");
    string_fails("\"\\uDC00\"", "invalid escape in a string at byte 2");
    string_fails("\"x\\uDFFF\\uDC00\"", "invalid escape in a string at byte 3");
    /* \u0000 would cut a C string short: refused, read or skipped */
    string_fails("\"a\\u0000b\"", "invalid escape in a string at byte 3");
    /* other bad escapes */
    string_fails("\"\\x\"", "invalid escape in a string at byte 2");
    string_fails("\"\\U0041\"", "invalid escape in a string at byte 2");
    string_fails("\"\\u12G4\"", "invalid escape in a string at byte 2");
    string_fails("\"\\u12\"", "invalid escape in a string at byte 2");
    string_fails_n("\"\\\0\"", 4, "invalid escape in a string at byte 2");
    /* raw control characters, a raw NUL among them */
    string_fails("\"a\x01z\"", "control character in a string at byte 2");
    string_fails("\"tab\there\"", "control character in a string at byte 4");
    string_fails("\"a\nb\"", "control character in a string at byte 2");
    string_fails_n("\"a\0b\"", 5, "control character in a string at byte 2");
    /* invalid UTF-8: stray continuation, overlong forms, encoded surrogates, beyond U+10FFFF,
     * bytes that never start a sequence, sequences cut short */
    string_fails("\"\x80\"", "invalid UTF-8 in a string at byte 1");
    string_fails("\"ok\xc0\xaf\"", "invalid UTF-8 in a string at byte 3");
    string_fails("\"\xc1\xbf\"", "invalid UTF-8 in a string at byte 1");
    string_fails("\"\xe0\x80\xaf\"", "invalid UTF-8 in a string at byte 1");
    string_fails("\"\xe0\x9f\xbf\"", "invalid UTF-8 in a string at byte 1");
    string_fails("\"\xf0\x80\x80\xaf\"", "invalid UTF-8 in a string at byte 1");
    string_fails("\"\xf0\x8f\xbf\xbf\"", "invalid UTF-8 in a string at byte 1");
    string_fails("\"\xed\xa0\x80\"", "invalid UTF-8 in a string at byte 1");
    string_fails("\"\xf4\x90\x80\x80\"", "invalid UTF-8 in a string at byte 1");
    string_fails("\"\xf5\x80\x80\x80\"", "invalid UTF-8 in a string at byte 1");
    string_fails("\"\xff\"", "invalid UTF-8 in a string at byte 1");
    string_fails("\"\xc3\"", "invalid UTF-8 in a string at byte 1");
    string_fails("\"\xe2\x82\"", "invalid UTF-8 in a string at byte 1");
    string_fails_n("\"\xe2\x82", 3, "invalid UTF-8 in a string at byte 1");
    /* unterminated */
    string_fails("\"abc", "unterminated string at byte 4");
    string_fails("\"", "unterminated string at byte 1");
    string_fails("\"abc\\", "unterminated string at byte 4");
    string_fails("\"abc\\\"", "unterminated string at byte 6");
    string_fails("\"\\uD83D\\uDE00", "unterminated string at byte 13");
    /* not a string */
    struct adc_json_scan s;
    adc_json_scan_init(&s, " 12", 3, 8);
    assert_error(&s, adc_json_scan_string(&s, NULL, NULL, NULL), "a string was expected at byte 1");
    adc_json_scan_init(&s, "", 0, 8);
    assert_error(&s, adc_json_scan_string(&s, NULL, NULL, NULL), "a string was expected at byte 0");
}

static void unescape(void **state) {
    (void)state;
    char out[64];
    memset(out, 'X', sizeof(out));
    assert_int_equal(adc_json_unescape("", 0, out), 0);
    assert_string_equal(out, "");
    /* only raw_len bytes are read */
    assert_int_equal(adc_json_unescape("abcdef", 3, out), 3);
    assert_string_equal(out, "abc");
    const char *raw = "a\\u00e9\\\\b\\/\\\"c\\ud83d\\ude00\\t";
    assert_int_equal(adc_json_unescape(raw, strlen(raw), out), 13);
    assert_string_equal(out, "a\xc3\xa9\\b/\"c\xf0\x9f\x98\x80\t");
    /* "userName" written entirely as \u00XX escapes */
    raw = "\\u0075\\u0073\\u0065\\u0072\\u004e\\u0061\\u006d\\u0065";
    assert_int_equal(adc_json_unescape(raw, strlen(raw), out), 8);
    assert_string_equal(out, "userName");
}

static void number_ok(const char *json, long long want) {
    struct adc_json_scan s;
    long long v = 12345;
    adc_json_scan_init(&s, json, strlen(json), 8);
    assert_int_equal(adc_json_scan_number(&s, &v), 0);
    assert_int_equal(v, want);
    assert_ptr_equal(s.p, json + strlen(json));
    adc_json_scan_init(&s, json, strlen(json), 8);
    assert_int_equal(adc_json_scan_skip(&s), 0);
    assert_ptr_equal(s.p, json + strlen(json));
}

static void number_fails(const char *json, const char *want) {
    struct adc_json_scan s;
    long long v = 12345;
    adc_json_scan_init(&s, json, strlen(json), 8);
    assert_error(&s, adc_json_scan_number(&s, &v), want);
    assert_int_equal(v, 12345);
    adc_json_scan_init(&s, json, strlen(json), 8);
    assert_error(&s, adc_json_scan_skip(&s), want);
}

static void numbers(void **state) {
    (void)state;
    number_ok("0", 0);
    number_ok(" 7", 7);
    number_ok("42", 42);
    number_ok("999999999999999999", 999999999999999999LL); /* 18 digits */
    /* accepted, but not a non-negative integer of at most 18 digits: -1 */
    number_ok("1000000000000000000", -1);
    number_ok("9223372036854775807", -1);
    number_ok("-9223372036854775808", -1);
    number_ok("-0", -1);
    number_ok("-5", -1);
    number_ok("1.5", -1);
    number_ok("0.0", -1);
    number_ok("1e3", -1);
    number_ok("1E+3", -1);
    number_ok("2e-3", -1);
    number_ok("-0.5e-2", -1);
    number_ok("1e308", -1);
    number_ok("1e-999", -1); /* underflow is not out of range: jansson reads 0 */
    /* longer than the scanner's stack buffer */
    number_ok("0.1234567890123456789012345678901234567890123456789012345678901234567890", -1);

    /* the number ends where its grammar ends: what follows is the caller's */
    struct adc_json_scan s;
    long long v = 0;
    adc_json_scan_init(&s, "12,", 3, 8);
    assert_int_equal(adc_json_scan_number(&s, &v), 0);
    assert_int_equal(v, 12);
    assert_int_equal(s.p - s.start, 2);
    adc_json_scan_init(&s, "12x", 3, 8);
    assert_int_equal(adc_json_scan_number(&s, NULL), 0);
    assert_error(&s, adc_json_scan_end(&s), "text after the document at byte 2");

    number_fails("01", "invalid number at byte 2");
    number_fails("-01", "invalid number at byte 3");
    number_fails("00", "invalid number at byte 2");
    number_fails("-", "invalid number at byte 1");
    number_fails("-a", "invalid number at byte 1");
    number_fails("+1", "invalid number at byte 0");
    number_fails(".5", "invalid number at byte 0");
    number_fails("1.", "invalid number at byte 2");
    number_fails("1.e3", "invalid number at byte 2");
    number_fails("1e", "invalid number at byte 2");
    number_fails("1e+", "invalid number at byte 3");
    adc_json_scan_init(&s, "", 0, 8);
    assert_error(&s, adc_json_scan_number(&s, NULL), "invalid number at byte 0");
    /* beyond 64 bits: 19 digits that overflow, 20 digits, below INT64_MIN */
    number_fails("9223372036854775808", "number out of range at byte 19");
    number_fails("9999999999999999999", "number out of range at byte 19");
    number_fails("99999999999999999999", "number out of range at byte 20");
    number_fails("-9223372036854775809", "number out of range at byte 20");
    number_fails("1234567890123456789012345678901234567890123456789012345678901234567890",
                 "number out of range at byte 70");
    /* beyond a double */
    number_fails("1e999", "number out of range at byte 5");
    number_fails("-1.5e400", "number out of range at byte 8");
}

/* [[...]] nested n deep, or {"a":{"a":...}} */
static void nest(char *out, int n, bool object) {
    out[0] = '\0';
    for (int i = 0; i < n; i++)
        strcat(out, object ? "{\"a\":" : "[");
    strcat(out, "1");
    for (int i = 0; i < n; i++)
        strcat(out, object ? "}" : "]");
}

static void skipping(void **state) {
    (void)state;
    struct adc_json_scan s;
    const char *v = " {\"a\" : [1, -2.5e3, true, false, null, \"x\\\"]}\", {}, []],\n"
                    "  \"b\":{\"c\":{\"d\":[{}]}}, \"\":\"\"}  , 7";
    adc_json_scan_init(&s, v, strlen(v), 8);
    assert_int_equal(adc_json_scan_skip(&s), 0);
    assert_int_equal(s.depth, 0);
    assert_ptr_equal(s.p, strstr(v, "  , 7"));
    assert_true(adc_json_scan_eat(&s, ','));
    assert_int_equal(adc_json_scan_skip(&s), 0);
    assert_int_equal(adc_json_scan_end(&s), 0);

    /* the depth limit: exactly at the limit is accepted, one more is refused */
    char doc[512];
    for (int object = 0; object < 2; object++) {
        nest(doc, 32, object);
        adc_json_scan_init(&s, doc, strlen(doc), 32);
        assert_int_equal(adc_json_scan_skip(&s), 0);
        assert_int_equal(s.depth, 0);
        assert_ptr_equal(s.p, doc + strlen(doc));
        nest(doc, 33, object);
        adc_json_scan_init(&s, doc, strlen(doc), 32);
        assert_error(&s, adc_json_scan_skip(&s),
                     object ? "nested too deeply at byte 161" : "nested too deeply at byte 33");
    }
    adc_json_scan_init(&s, "[{\"a\":[]}]", 10, 3);
    assert_int_equal(adc_json_scan_skip(&s), 0);
    adc_json_scan_init(&s, "[{\"a\":[[]]}]", 12, 3);
    assert_error(&s, adc_json_scan_skip(&s), "nested too deeply at byte 8");

    const struct {
        const char *json, *err;
    } bad[] = {
        {"", "a value was expected at byte 0"},
        {"  ", "a value was expected at byte 2"},
        {"[1,", "a value was expected at byte 3"},
        {"tru", "invalid literal at byte 0"},
        {"nul", "invalid literal at byte 0"},
        {"fals", "invalid literal at byte 0"},
        {"True", "invalid number at byte 0"},
        {"[1 2]", "',' or ']' was expected at byte 3"},
        {"[1,]", "invalid number at byte 3"},
        {"[", "a value was expected at byte 1"},
        {"{\"a\" 1}", "':' was expected at byte 5"},
        {"{\"a\":1 \"b\":2}", "',' or '}' was expected at byte 7"},
        {"{\"a\":1,}", "a string was expected at byte 7"},
        {"{1:2}", "a string was expected at byte 1"},
        {"{\"a\":}", "invalid number at byte 5"},
        {"[\"\\u0000\"]", "invalid escape in a string at byte 3"},
        {"{\"k\\u0000\":1}", "invalid escape in a string at byte 4"},
        {"[1e999]", "number out of range at byte 6"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        adc_json_scan_init(&s, bad[i].json, strlen(bad[i].json), 8);
        assert_error(&s, adc_json_scan_skip(&s), bad[i].err);
    }
}

struct walk {
    char keys[2048]; /* each key and "|" */
    int calls;
    bool nest;      /* read each value as an object of its own */
    const char *at; /* where the first value started */
};

static int walk_member(struct adc_json_scan *s, const char *key, void *ctx) {
    struct walk *w = ctx;
    if (!w->at)
        w->at = s->p;
    w->calls++;
    strcat(w->keys, key);
    strcat(w->keys, "|");
    if (strcmp(key, "stop") == 0)
        return adc_json_scan_fail(s, "stopped");
    if (w->nest && adc_json_scan_next_is(s, '{'))
        return adc_json_scan_object(s, walk_member, w);
    return adc_json_scan_skip(s);
}

static int walk(const char *json, size_t len, int max_depth, struct walk *w,
                struct adc_json_scan *s) {
    adc_json_scan_init(s, json, len, max_depth);
    return adc_json_scan_object(s, walk_member, w);
}

/* n times the string unit */
static void repeat(char *out, const char *unit, int n) {
    out[0] = '\0';
    for (int i = 0; i < n; i++)
        strcat(out, unit);
}

/* The key that {"<unit n times>":1} passes to its member. */
static const char *key_read(const char *unit, int n) {
    static struct walk w;
    char key[1024], json[1100];
    struct adc_json_scan s;
    repeat(key, unit, n);
    int len = snprintf(json, sizeof(json), "{\"%s\":1}", key);
    assert_true(len > 0 && (size_t)len < sizeof(json));
    memset(&w, 0, sizeof(w));
    assert_int_equal(walk(json, (size_t)len, 8, &w, &s), 0);
    assert_int_equal(w.calls, 1);
    assert_ptr_equal(s.p, json + len);
    w.keys[strlen(w.keys) - 1] = '\0'; /* the "|" */
    return w.keys;
}

static void object(void **state) {
    (void)state;
    struct adc_json_scan s;
    struct walk w = {0};

    const char *doc = " { \"a\" :   7 , \"b\\n\\u00e9\":[1,{}],\"\":null,\"a\":\"again\" } ";
    assert_int_equal(walk(doc, strlen(doc), 8, &w, &s), 0);
    assert_int_equal(w.calls, 4);
    assert_string_equal(w.keys, "a|b\n\xc3\xa9||a|"); /* duplicates are the caller's call */
    assert_ptr_equal(w.at, strchr(doc, '7'));         /* after the whitespace */
    assert_int_equal(s.depth, 0);
    assert_int_equal(adc_json_scan_end(&s), 0);

    memset(&w, 0, sizeof(w));
    assert_int_equal(walk("{}", 2, 8, &w, &s), 0);
    assert_int_equal(w.calls, 0);
    assert_int_equal(s.p - s.start, 2);

    /* a key of 95 bytes is passed, one of 96 or more as "" */
    char want[128];
    repeat(want, "k", 95);
    assert_string_equal(key_read("k", 95), want);
    assert_string_equal(key_read("k", 96), "");
    assert_string_equal(key_read("k", 500), "");

    /* escaped keys are decoded, whatever the length of their raw form */
    assert_string_equal(key_read("\\u0075\\u0073\\u0065\\u0072\\u004e\\u0061\\u006d\\u0065", 1),
                        "userName");
    assert_string_equal(key_read("\\u0078", 20), "xxxxxxxxxxxxxxxxxxxx"); /* 120 raw bytes */
    repeat(want, "\xf0\x9f\x98\x80", 23);
    assert_string_equal(key_read("\\ud83d\\ude00", 23), want); /* 276 raw bytes, 92 decoded */
    repeat(want, "y", 95);
    assert_string_equal(key_read("\\u0079", 95), want); /* 570 raw bytes: the longest passed */
    assert_string_equal(key_read("\\u0079", 96), "");
    assert_string_equal(key_read("\\u00e9", 100), ""); /* 600 raw bytes, 200 decoded */
    repeat(want, "\n", 95);
    assert_string_equal(key_read("\\n", 95), want); /* 190 raw bytes */
    assert_string_equal(key_read("a\\\"b\\\\", 1), "a\"b\\");

    /* nested objects count towards the depth: at the limit, then one more */
    doc = "{\"a\":{\"b\":{\"c\":1}},\"d\":2}";
    memset(&w, 0, sizeof(w));
    w.nest = true;
    assert_int_equal(walk(doc, strlen(doc), 3, &w, &s), 0);
    assert_string_equal(w.keys, "a|b|c|d|");
    assert_int_equal(s.depth, 0);
    memset(&w, 0, sizeof(w));
    w.nest = true;
    assert_error(&s, walk(doc, strlen(doc), 2, &w, &s), "nested too deeply at byte 11");

    /* the member's error goes back as it is */
    doc = "{\"a\":1, \"stop\": 2}";
    memset(&w, 0, sizeof(w));
    assert_error(&s, walk(doc, strlen(doc), 8, &w, &s), "stopped at byte 16");
    assert_int_equal(w.calls, 2);

    const struct {
        const char *json, *err;
    } bad[] = {
        {"[1]", "an object was expected at byte 0"},
        {"", "an object was expected at byte 0"},
        {"{", "a string was expected at byte 1"},
        {"{\"a\":1", "',' or '}' was expected at byte 6"},
        {"{\"a\":1,}", "a string was expected at byte 7"},
        {"{\"a\" 1}", "':' was expected at byte 5"},
        {"{a:1}", "a string was expected at byte 1"},
        {"{\"\\x\":1}", "invalid escape in a string at byte 3"},
        {"{\"a\":1]", "',' or '}' was expected at byte 6"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&w, 0, sizeof(w));
        assert_error(&s, walk(bad[i].json, strlen(bad[i].json), 8, &w, &s), bad[i].err);
    }
}

static void end_and_error(void **state) {
    (void)state;
    struct adc_json_scan s;
    adc_json_scan_init(&s, "{} \n\t\r", 6, 8);
    assert_int_equal(adc_json_scan_skip(&s), 0);
    assert_int_equal(adc_json_scan_end(&s), 0);
    assert_int_equal(s.p - s.start, 6);
    adc_json_scan_init(&s, "{}  x", 5, 8);
    assert_int_equal(adc_json_scan_skip(&s), 0);
    assert_error(&s, adc_json_scan_end(&s), "text after the document at byte 4");
    adc_json_scan_init(&s, "1 2", 3, 8);
    assert_int_equal(adc_json_scan_skip(&s), 0);
    assert_error(&s, adc_json_scan_end(&s), "text after the document at byte 2");

    /* the first reason is kept; the place is where the scanner stopped */
    char err[64];
    adc_json_scan_init(&s, "abc", 3, 8);
    assert_int_equal(adc_json_scan_fail(&s, "first"), -EBADMSG);
    s.p++;
    assert_int_equal(adc_json_scan_fail(&s, "second"), -EBADMSG);
    assert_string_equal(s.why, "first");
    adc_json_scan_error(&s, -EBADMSG, err, sizeof(err));
    assert_string_equal(err, "first at byte 1");
    adc_json_scan_error(&s, -ENOMEM, err, sizeof(err));
    assert_string_equal(err, "out of memory at byte 1");
    adc_json_scan_init(&s, "abc", 3, 8);
    adc_json_scan_error(&s, -EBADMSG, err, sizeof(err));
    assert_string_equal(err, "invalid JSON at byte 0");
    /* cut to the buffer, and nothing written without one */
    adc_json_scan_error(&s, -EBADMSG, err, 8);
    assert_string_equal(err, "invalid");
    memcpy(err, "kept", 5);
    adc_json_scan_error(&s, -EBADMSG, err, 0);
    assert_string_equal(err, "kept");
    adc_json_scan_error(&s, -EBADMSG, NULL, 10);
}

static void tokens(void **state) {
    (void)state;
    struct adc_json_scan s;
    adc_json_scan_init(&s, " \t\n\r[ null, nullx", 17, 8);
    assert_false(adc_json_scan_literal(&s, "null")); /* no whitespace skipped */
    assert_true(adc_json_scan_next_is(&s, '['));
    assert_int_equal(s.p - s.start, 4);
    assert_false(adc_json_scan_eat(&s, '{'));
    assert_true(adc_json_scan_eat(&s, '['));
    assert_false(adc_json_scan_next_is(&s, ','));
    assert_true(adc_json_scan_literal(&s, "null"));
    assert_true(adc_json_scan_eat(&s, ','));
    adc_json_scan_ws(&s);
    assert_true(adc_json_scan_literal(&s, "null"));
    assert_int_equal(*s.p, 'x');
    assert_false(adc_json_scan_literal(&s, "xy")); /* beyond the end */
    assert_int_equal(s.p - s.start, 16);
}

static void compact(void **state) {
    (void)state;
    char out[128];
    const char *v = " { \"a b\" : [ 1 , \"x\\\" y ,\" ,\n\t{ } , \"\\\\\" , -2.5e3 ] } ";
    struct adc_json_scan s;
    adc_json_scan_init(&s, v, strlen(v), 8);
    adc_json_scan_ws(&s);
    const char *from = s.p;
    assert_int_equal(adc_json_scan_skip(&s), 0);
    memset(out, 'X', sizeof(out));
    size_t n = adc_json_compact(from, s.p, out);
    const char *want = "{\"a b\":[1,\"x\\\" y ,\",{},\"\\\\\",-2.5e3]}";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
    assert_int_equal(out[n], 'X'); /* no terminator, nothing beyond */

    /* whitespace inside a string (raw tab refused, so spaces) and escaped whitespace kept */
    v = "[ \"  a\\t b  \" ]";
    n = adc_json_compact(v, v + strlen(v), out);
    assert_int_equal(n, 13);
    assert_memory_equal(out, "[\"  a\\t b  \"]", 13);
    v = "  7  ";
    n = adc_json_compact(v, v + 5, out);
    assert_int_equal(n, 1);
    assert_int_equal(out[0], '7');
}

/* Strings are read a word of 8 bytes at a time where they are plain (src/common/json-scan.c,
 * plain_run): a byte that ends, escapes, breaks or starts a multi-byte sequence is found
 * wherever it sits in a word, after runs of every length, and the bytes next to the special
 * ones in value ('!' and '#' beside '"', '[' and ']' beside '\\', 0x1f and 0x20, 0x7f and 0x80)
 * are told apart. */
static void word_at_a_time(void **state) {
    (void)state;
    static const char fill[] = "ab!#[] ~\x7f"
                               "0123456789abcdefghijklmnopqrstuvwxyz";
    char json[256], want[256];
    for (size_t k = 0; k < 40; k++) {
        char run[64];
        for (size_t i = 0; i < k; i++)
            run[i] = fill[(i * 7 + k) % (sizeof(fill) - 1)];
        run[k] = '\0';

        /* the closing quote after k plain bytes, with more text after it */
        snprintf(json, sizeof(json), "\"%s\", \"more text after the string\"", run);
        struct adc_json_scan s;
        const char *raw = NULL;
        size_t raw_len = 0;
        bool escaped = true;
        adc_json_scan_init(&s, json, strlen(json), 8);
        assert_int_equal(adc_json_scan_string(&s, &raw, &raw_len, &escaped), 0);
        assert_int_equal(raw_len, k);
        assert_false(escaped);
        assert_ptr_equal(s.p, json + k + 2);

        /* an escape, a two-byte character, then as many plain bytes again */
        snprintf(json, sizeof(json), "\"%s\\n\xc3\xa9%s\"", run, run);
        memcpy(want, run, k);
        memcpy(want + k, "\n\xc3\xa9", 3);
        memcpy(want + k + 3, run, k);
        string_ok(json, want, 2 * k + 3, true);

        /* a control character, a lone continuation byte, a cut escape: refused at their byte */
        static const struct {
            const char *bad, *why;
        } refused[] = {
            {"\x1f", "control character in a string"},
            {"\x01", "control character in a string"},
            {"\x80", "invalid UTF-8 in a string"},
            {"\xc3(", "invalid UTF-8 in a string"},
        };
        for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
            snprintf(json, sizeof(json), "\"%s%s%s\"", run, refused[i].bad, run);
            snprintf(want, sizeof(want), "%s at byte %zu", refused[i].why, k + 1);
            string_fails(json, want);
        }
        /* no closing quote: the text ends inside a word or at its edge */
        snprintf(json, sizeof(json), "\"%s", run);
        snprintf(want, sizeof(want), "unterminated string at byte %zu", k + 1);
        string_fails(json, want);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(strings),  cmocka_unit_test(unescape), cmocka_unit_test(numbers),
        cmocka_unit_test(skipping), cmocka_unit_test(object),   cmocka_unit_test(end_and_error),
        cmocka_unit_test(tokens),   cmocka_unit_test(compact),  cmocka_unit_test(word_at_a_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
