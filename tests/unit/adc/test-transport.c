/* The transport's policy as pure functions: which attempts are repeated and after how long,
 * Retry-After, which proxy a request goes through, the no_proxy rules, URL escaping. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cloud/transport.h"

static void backoff_is_capped_and_honours_retry_after(void **state) {
    (void)state;
    assert_int_equal(adc_transport_backoff_ms(1, -1, 500, 8000, 60), 500);
    assert_int_equal(adc_transport_backoff_ms(2, -1, 500, 8000, 60), 1000);
    assert_int_equal(adc_transport_backoff_ms(4, -1, 500, 8000, 60), 4000);
    assert_int_equal(adc_transport_backoff_ms(30, -1, 500, 8000, 60), 8000);
    assert_int_equal(adc_transport_backoff_ms(1, 3, 500, 8000, 60), 3000);
    assert_int_equal(adc_transport_backoff_ms(1, 3600, 500, 8000, 60), 60000);
    assert_int_equal(adc_transport_backoff_ms(1, 0, 500, 8000, 60), 0);
    /* The agent's final run report: 1, 2, 4, 8, 8 s. */
    assert_int_equal(adc_transport_backoff_ms(5, -1, 1000, 8000, 60), 8000);
}

static void which_attempts_are_repeated(void **state) {
    (void)state;
    assert_true(adc_transport_should_retry(0, 429));
    assert_true(adc_transport_should_retry(0, 500));
    assert_true(adc_transport_should_retry(0, 502));
    assert_true(adc_transport_should_retry(0, 503));
    assert_true(adc_transport_should_retry(0, 504));
    assert_false(adc_transport_should_retry(0, 200));
    assert_false(adc_transport_should_retry(0, 409));
    assert_false(adc_transport_should_retry(0, 401));
    assert_false(adc_transport_should_retry(0, 501));
    /* No answer: repeated unless repeating cannot help or was not wanted. */
    assert_true(adc_transport_should_retry(-ECONNREFUSED, 0));
    assert_true(adc_transport_should_retry(-ETIMEDOUT, 0));
    assert_true(adc_transport_should_retry(-EIO, 0));
    assert_false(adc_transport_should_retry(-EPROTO, 0)); /* TLS: the certificate stays bad */
    assert_false(adc_transport_should_retry(-EFBIG, 0));
    assert_false(adc_transport_should_retry(-ENOMEM, 0));
    assert_false(adc_transport_should_retry(-ECANCELED, 0));
}

static void retry_after_takes_delay_seconds_only(void **state) {
    (void)state;
    static const struct {
        const char *v;
        long want;
    } cases[] = {
        {" 3\r\n", 3},
        {"0", 0},
        {"\t120 \r\n", 120},
        {"", -1},
        {"-1", -1},
        {"3x", -1},
        {"Wed, 21 Oct 2015 07:28:00 GMT\r\n", -1},
        {"99999999999999999999999", -1},
        {"  ", -1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(adc_transport_retry_after_parse(cases[i].v, strlen(cases[i].v)),
                         cases[i].want);
}

/* A fake environment for adc_transport_proxy_choose. */
static const char *const *fake_env;
static char *env_lookup(const char *name) {
    for (const char *const *e = fake_env; e && *e; e += 2)
        if (strcmp(e[0], name) == 0)
            return (char *)e[1];
    return NULL;
}

static void proxy_from_configuration_then_environment(void **state) {
    (void)state;
    const char *env[] = {"https_proxy", "http://secure:3128", "http_proxy", "http://plain:3128",
                         NULL};
    fake_env = env;
    /* adc.cfg's proxy wins, whatever the environment says. */
    assert_string_equal(
        adc_transport_proxy_choose("https://cloud.example.com", "http://cfg:8080", env_lookup),
        "http://cfg:8080");
    /* The environment by scheme. */
    assert_string_equal(adc_transport_proxy_choose("https://cloud.example.com", NULL, env_lookup),
                        "http://secure:3128");
    assert_string_equal(adc_transport_proxy_choose("http://127.0.0.1:8080", "", env_lookup),
                        "http://plain:3128");

    /* Upper case for https and all_proxy; never HTTP_PROXY (httpoxy). */
    const char *upper[] = {"HTTPS_PROXY", "http://upper:1", "HTTP_PROXY", "http://evil:1", NULL};
    fake_env = upper;
    assert_string_equal(adc_transport_proxy_choose("https://a.example", NULL, env_lookup),
                        "http://upper:1");
    assert_null(adc_transport_proxy_choose("http://a.example", NULL, env_lookup));
    const char *all[] = {"ALL_PROXY", "socks5h://all:1080", NULL};
    fake_env = all;
    assert_string_equal(adc_transport_proxy_choose("http://a.example", NULL, env_lookup),
                        "socks5h://all:1080");

    /* no_proxy exempts the server, but not a proxy adc.cfg names. */
    const char *np[] = {"https_proxy", "http://secure:3128", "no_proxy", "localhost, .example.com",
                        NULL};
    fake_env = np;
    assert_null(adc_transport_proxy_choose("https://cloud.example.com:8443/x", NULL, env_lookup));
    assert_null(adc_transport_proxy_choose("https://user@EXAMPLE.com", NULL, env_lookup));
    assert_string_equal(adc_transport_proxy_choose("https://example.org", NULL, env_lookup),
                        "http://secure:3128");
    assert_string_equal(
        adc_transport_proxy_choose("https://cloud.example.com", "http://cfg:1", env_lookup),
        "http://cfg:1");
    fake_env = NULL;
    assert_null(adc_transport_proxy_choose("https://cloud.example.com", NULL, env_lookup));
}

static void no_proxy_matches_hosts_and_domains(void **state) {
    (void)state;
    assert_true(adc_transport_no_proxy_match("a.example.com", "example.com"));
    assert_true(adc_transport_no_proxy_match("example.com", ".example.com"));
    assert_true(adc_transport_no_proxy_match("anything", "*"));
    assert_true(adc_transport_no_proxy_match("127.0.0.1", "localhost,127.0.0.1"));
    assert_true(adc_transport_no_proxy_match("::1", "::1"));
    assert_true(adc_transport_no_proxy_match("Cloud.Example.COM", "example.com"));
    assert_false(adc_transport_no_proxy_match("badexample.com", "example.com"));
    assert_false(adc_transport_no_proxy_match("example.com", "a.example.com"));
    assert_false(adc_transport_no_proxy_match("127.0.0.10", "127.0.0.1"));
    assert_false(adc_transport_no_proxy_match("example.com", ""));
    assert_false(adc_transport_no_proxy_match("example.com", NULL));
    assert_false(adc_transport_no_proxy_match("example.com", " , ,"));
}

static void ipv6_literal_host(void **state) {
    (void)state;
    const char *np[] = {"http_proxy", "http://p:1", "no_proxy", "::1", NULL};
    fake_env = np;
    assert_null(adc_transport_proxy_choose("http://[::1]:8080/", NULL, env_lookup));
    assert_string_equal(adc_transport_proxy_choose("http://[::2]:8080/", NULL, env_lookup),
                        "http://p:1");
    fake_env = NULL;
}

static void escape_keeps_unreserved_only(void **state) {
    (void)state;
    char *e = adc_transport_escape("externalId eq \"a/b\"&x=é~._-");
    assert_string_equal(e, "externalId%20eq%20%22a%2Fb%22%26x%3D%C3%A9~._-");
    free(e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(backoff_is_capped_and_honours_retry_after),
        cmocka_unit_test(which_attempts_are_repeated),
        cmocka_unit_test(retry_after_takes_delay_seconds_only),
        cmocka_unit_test(proxy_from_configuration_then_environment),
        cmocka_unit_test(no_proxy_matches_hosts_and_domains),
        cmocka_unit_test(ipv6_literal_host),
        cmocka_unit_test(escape_keeps_unreserved_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
