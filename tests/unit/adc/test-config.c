/* adc.yaml and adc.cfg loaders, their helpers and the adc.cfg lookup. Broken-config fixtures
 * with their exact messages are checked end to end by tests/integration/test_config.py; here
 * the values that come out of good files, and the corners of the parsers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config-diag.h"
#include "config/config-util.h"
#include "config/config.h"

static char tmpdir[256];

static const char *data_dir(void) {
    const char *d = getenv("ADC_TEST_DATA");
    return d ? d : "tests/data";
}

static char *data_path(const char *rel) {
    char *p = NULL;
    assert_true(asprintf(&p, "%s/%s", data_dir(), rel) > 0);
    return p;
}

static char *tmp_file(const char *name, const char *content, mode_t mode) {
    char *p = NULL;
    assert_true(asprintf(&p, "%s/%s", tmpdir, name) > 0);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
    chmod(p, mode);
    return p;
}

/* Copies a fixture into the temporary directory, private, so no warning depends on the mode
 * the checkout gave it. */
static char *copy_to_tmp(const char *rel, const char *name) {
    char *src = data_path(rel);
    FILE *f = fopen(src, "r");
    assert_non_null(f);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    free(src);
    return tmp_file(name, buf, 0600);
}

/* Loads adc.yaml from a file; returns the diagnostics printed, and the result in *r.
 * noinline: inlined, gcc 12 -O3 mistakes the open_memstream buffer for the local `out` itself
 * and reports a dangling pointer in assert_diag (-Wdangling-pointer false positive). */
__attribute__((noinline)) static char *load_yaml_path(const char *path, struct adc_yaml_config **c,
                                                      int *r) {
    char *out = NULL;
    size_t len = 0;
    FILE *diag = open_memstream(&out, &len);
    *c = NULL;
    *r = adc_yaml_config_load(path, diag, c);
    fclose(diag);
    return out;
}

/* The same from text, written to t.yaml in the temporary directory. */
static char *load_yaml_text(const char *text, struct adc_yaml_config **c, int *r) {
    char *path = tmp_file("t.yaml", text, 0600);
    char *out = load_yaml_path(path, c, r);
    free(path);
    return out;
}

__attribute__((noinline)) static char *load_cfg_text(const char *text,
                                                     struct adc_service_config **c, int *r) {
    char *path = tmp_file("t.cfg", text, 0600);
    char *out = NULL;
    size_t len = 0;
    FILE *diag = open_memstream(&out, &len);
    *c = NULL;
    *r = adc_service_config_load(path, diag, c);
    fclose(diag);
    free(path);
    return out;
}

/* The diagnostics with the temporary directory removed, for exact comparison. */
static void assert_diag(char *got, const char *want) {
    char *p;
    size_t n = strlen(tmpdir);
    while ((p = strstr(got, tmpdir)))
        memmove(p, p + n + 1, strlen(p + n + 1) + 1);
    assert_string_equal(got, want);
    free(got);
}

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/adc-test-config-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void documented_example(void **state) {
    (void)state;
    char *path = data_path("../../dist/adc.yaml");
    struct adc_yaml_config *c;
    int r;
    /* dist/adc.yaml holds bind_password inline; its checkout mode decides a warning only. */
    char *out = load_yaml_path(path, &c, &r);
    assert_int_equal(r, 0);
    assert_null(strstr(out, "error"));
    free(out);

    assert_int_equal(c->settings[ADC_SETTING_DRY_RUN], ADC_TRUE);
    assert_int_equal(c->settings[ADC_SETTING_NO_UPDATE], ADC_FALSE);
    assert_int_equal(c->settings[ADC_SETTING_NO_CREATE], ADC_FALSE);
    assert_int_equal(c->settings[ADC_SETTING_NO_DELETE], ADC_FALSE);
    assert_int_equal(c->settings[ADC_SETTING_DELETE_DISABLES], ADC_TRUE);
    assert_int_equal(c->settings[ADC_SETTING_NO_UPDATE_PROVIDER_MISMATCH], ADC_TRUE);
    assert_int_equal(c->settings[ADC_SETTING_CREATE_AS_DISABLED], ADC_FALSE);
    const struct adc_ldap_config *l = &c->ldap;
    assert_string_equal(l->addr, "ldap://your-ldap-server.local");
    assert_string_equal(l->bind_dn, "cn=readonly,dc=lg,dc=local");
    assert_string_equal(l->bind_password, "readonly");
    assert_null(l->bind_password_file);
    assert_string_equal(l->base_dn, "dc=lg,dc=local");
    assert_int_equal(l->scope, ADC_SCOPE_SUB);
    assert_int_equal(l->page_size, 20);
    assert_string_equal(l->filter, "(objectClass=inetOrgPerson)");
    assert_string_equal(l->username_attribute, "mail");
    assert_string_equal(l->username_filter_template, "(&(objectClass=inetOrgPerson)(mail=%s))");
    assert_int_equal(l->auth_timeout, 5);
    assert_string_equal(c->path, path);
    adc_yaml_config_free(c);
    free(path);
}

static void defaults(void **state) {
    (void)state;
    struct adc_yaml_config *c;
    int r;
    char *out = load_yaml_text("backend:\n"
                               "  ldap:\n"
                               "    addr: ldap://127.0.0.1\n"
                               "    base_dn: dc=example,dc=com\n"
                               "    authentication:\n"
                               "      username_attribute: uid\n"
                               "      username_filter_template: (uid=%s)\n",
                               &c, &r);
    assert_int_equal(r, 0);
    assert_diag(out, "");
    for (int i = 0; i < ADC_SETTING_COUNT; i++)
        assert_int_equal(c->settings[i], ADC_UNSET);
    assert_int_equal(c->max_delete.value, 500);
    assert_false(c->max_delete.percent);
    const struct adc_ldap_config *l = &c->ldap;
    assert_null(l->bind_dn);
    assert_null(l->bind_password);
    assert_int_equal(l->scope, ADC_SCOPE_SUB);
    assert_false(l->starttls);
    assert_null(l->ca_file);
    assert_true(l->tls_verify);
    assert_int_equal(l->network_timeout, 10);
    assert_int_equal(l->timeout, 30);
    assert_false(l->follow_referrals);
    assert_int_equal(l->page_size, 500);
    assert_string_equal(l->filter, "(objectClass=inetOrgPerson)");
    assert_null(l->id_attribute);
    assert_string_equal(l->display_name_attribute, "displayName");
    assert_string_equal(l->given_name_attribute, "givenName");
    assert_string_equal(l->family_name_attribute, "sn");
    assert_string_equal(l->email_attribute, "mail");
    assert_int_equal(l->auth_timeout, 5);
    assert_null(l->groups_filter); /* no group sync unless backend.ldap.groups is there */
    assert_false(l->groups_flatten);
    adc_yaml_config_free(c);
}

static void every_key(void **state) {
    (void)state;
    char *path = copy_to_tmp("config/good/full.yaml", "full.yaml");
    char *pw = copy_to_tmp("config/good/bind.pw", "bind.pw");
    char *ca = copy_to_tmp("config/good/ca.pem", "ca.pem");
    struct adc_yaml_config *c;
    int r;
    char *out = load_yaml_path(path, &c, &r);
    assert_int_equal(r, 0);
    assert_string_equal(out, "");
    free(out);

    assert_int_equal(c->settings[ADC_SETTING_DRY_RUN], ADC_FALSE);
    assert_int_equal(c->settings[ADC_SETTING_NO_UPDATE], ADC_TRUE);
    assert_int_equal(c->settings[ADC_SETTING_NO_CREATE], ADC_FALSE);
    assert_int_equal(c->settings[ADC_SETTING_NO_DELETE], ADC_TRUE);
    assert_int_equal(c->settings[ADC_SETTING_CREATE_AS_DISABLED], ADC_TRUE);
    assert_int_equal(c->max_delete.value, 10);
    assert_true(c->max_delete.percent);
    const struct adc_ldap_config *l = &c->ldap;
    assert_string_equal(l->addr, "ldap://dc1.example.com:389 ldap://dc2.example.com");
    assert_string_equal(l->bind_dn, "CN=Sync Reader,OU=Service Accounts,DC=example,DC=com");
    /* the first line of the file, '#' and blanks included */
    assert_string_equal(l->bind_password, "S3cret pass#word");
    /* resolved relative to adc.yaml */
    assert_string_equal(l->bind_password_file, pw);
    assert_string_equal(l->ca_file, ca);
    free(ca);
    assert_int_equal(l->scope, ADC_SCOPE_ONE);
    assert_true(l->starttls);
    assert_true(l->tls_verify);
    assert_int_equal(l->network_timeout, 7);
    assert_int_equal(l->timeout, 60);
    assert_false(l->follow_referrals);
    assert_int_equal(l->page_size, 1000);
    assert_string_equal(l->filter, "(&(objectCategory=person)(objectClass=user)"
                                   "(!(userAccountControl:1.2.840.113556.1.4.803:=2)))");
    assert_string_equal(l->id_attribute, "objectGUID");
    assert_string_equal(l->display_name_attribute, "cn");
    assert_string_equal(l->given_name_attribute, "givenName");
    assert_string_equal(l->family_name_attribute, "sn");
    assert_string_equal(l->email_attribute, "userPrincipalName");
    assert_string_equal(l->username_attribute, "sAMAccountName");
    assert_string_equal(l->username_filter_template,
                        "(&(objectCategory=person)(sAMAccountName=%s))");
    assert_int_equal(l->auth_timeout, 3);
    assert_string_equal(l->groups_filter, "(|(objectClass=group)(objectClass=groupOfNames))");
    assert_string_equal(l->groups_name_attribute, "sAMAccountName");
    assert_true(l->groups_flatten);
    adc_yaml_config_free(c);
    free(path);
    free(pw);
}

static const char valid_ldap[] = "    addr: ldap://127.0.0.1\n"
                                 "    base_dn: dc=example,dc=com\n"
                                 "    authentication:\n"
                                 "      username_attribute: uid\n"
                                 "      username_filter_template: (uid=%s)\n";

static void all_errors_reported_in_order(void **state) {
    (void)state;
    struct adc_yaml_config *c;
    int r;
    char *out = load_yaml_text("settings:\n"
                               "  no-delete: sometimes\n"
                               "  dry-run: true\n"
                               "  dry-run: false\n"
                               "backend:\n"
                               "  ldap:\n"
                               "    scope: all\n"
                               "    address: ldap://x\n"
                               "    sync:\n"
                               "      filter: \"(cn=\\x41(b)\"\n",
                               &c, &r);
    assert_int_equal(r, -EINVAL);
    assert_null(c);
    assert_diag(
        out, "t.yaml:2:14: error: 'no-delete' must be true or false (or yes/no), not 'sometimes'\n"
             "t.yaml:4:3: error: duplicate key 'dry-run' (first on line 3)\n"
             "t.yaml:6:3: error: missing required key 'backend.ldap.addr'\n"
             "t.yaml:6:3: error: missing required key 'backend.ldap.base_dn'\n"
             "t.yaml:6:3: error: missing required key "
             "'backend.ldap.authentication.username_attribute'\n"
             "t.yaml:6:3: error: missing required key "
             "'backend.ldap.authentication.username_filter_template'\n"
             "t.yaml:7:12: error: scope must be base, one or sub, not 'all'\n"
             "t.yaml:8:5: error: unknown key 'address' in 'backend.ldap'; did you mean 'addr'? "
             "(allowed: addr, bind_dn, bind_password, bind_password_file, base_dn, scope, "
             "starttls, ca_file, tls_verify, network_timeout, timeout, follow_referrals, sync, "
             "authentication, groups)\n"
             /* value "(cn=A(b)": the '(' is byte 5 of the value, column 24 of the line
              * because of the quote and the 4-character escape \x41 */
             "t.yaml:10:24: error: invalid LDAP filter: unescaped '(' in value; write \\28\n");
}

static void crlf_and_utf8_positions(void **state) {
    (void)state;
    struct adc_yaml_config *c;
    int r;
    char *out = load_yaml_text("backend:\r\n"
                               "  ldap:\r\n"
                               "    addr: ldap://127.0.0.1\r\n"
                               "    base_dn: ou=Zürich,dc=example,dc=com\r\n"
                               "    sync:\r\n"
                               "      filter: (l=Zürich)(x=y)\r\n"
                               "    authentication:\r\n"
                               "      username_attribute: uid\r\n"
                               "      username_filter_template: (uid=%s)\r\n",
                               &c, &r);
    assert_int_equal(r, -EINVAL);
    /* columns count characters: ü is one */
    assert_diag(out, "t.yaml:6:25: error: invalid LDAP filter: text after the end of the filter; "
                     "combine filters with (&...) or (|...)\n");
}

static void anchors_and_flow_style(void **state) {
    (void)state;
    struct adc_yaml_config *c;
    int r;
    char *out = load_yaml_text("x-defaults: &d {page_size: 50}\n"
                               "backend: {ldap: {addr: 'ldap://h', base_dn: 'dc=x',\n"
                               "  sync: *d, authentication: {username_attribute: uid,\n"
                               "  username_filter_template: '(uid=%s)', timeout: 9}}}\n",
                               &c, &r);
    /* anchors work, but x-defaults is not a key of adc.yaml */
    assert_int_equal(r, -EINVAL);
    assert_diag(out, "t.yaml:1:1: error: unknown key 'x-defaults' at the top level "
                     "(allowed: settings, backend)\n");

    out = load_yaml_text("backend: {ldap: {addr: 'ldap://h', base_dn: 'dc=x',\n"
                         "  sync: {page_size: 50}, authentication: {username_attribute: uid,\n"
                         "  username_filter_template: '(uid=%s)', timeout: 9}}}\n",
                         &c, &r);
    assert_int_equal(r, 0);
    assert_diag(out, "");
    assert_int_equal(c->ldap.page_size, 50);
    assert_int_equal(c->ldap.auth_timeout, 9);
    adc_yaml_config_free(c);
}

static void password_file(void **state) {
    (void)state;
    char *pw = tmp_file("pw", "line one\r\nline two\n", 0600);
    char *yaml = NULL;
    assert_true(asprintf(&yaml,
                         "backend:\n  ldap:\n    bind_dn: cn=r\n"
                         "    bind_password_file: pw\n%s",
                         valid_ldap) > 0);
    struct adc_yaml_config *c;
    int r;
    char *out = load_yaml_text(yaml, &c, &r);
    assert_int_equal(r, 0);
    assert_diag(out, "");
    assert_string_equal(c->ldap.bind_password, "line one");
    assert_string_equal(c->ldap.bind_password_file, pw);
    adc_yaml_config_free(c);

    free(tmp_file("pw", "\n", 0600));
    out = load_yaml_text(yaml, &c, &r);
    assert_int_equal(r, -EINVAL);
    assert_diag(out, "t.yaml:4:25: error: bind_password_file 'pw' is empty "
                     "(the password is its first line)\n");
    free(yaml);
    free(pw);
}

static void secret_readable_by_others_warns(void **state) {
    (void)state;
    char *yaml = NULL;
    assert_true(asprintf(&yaml,
                         "backend:\n  ldap:\n    bind_dn: cn=r\n"
                         "    bind_password: hunter2\n%s",
                         valid_ldap) > 0);
    char *path = tmp_file("w.yaml", yaml, 0644);
    struct adc_yaml_config *c;
    int r;
    char *out = load_yaml_path(path, &c, &r);
    assert_int_equal(r, 0);
    assert_diag(out, "w.yaml: warning: contains bind_password and is readable by others; "
                     "chmod 600 w.yaml\n");
    adc_yaml_config_free(c);
    free(path);
    free(yaml);
}

static void ca_file_without_tls_warns(void **state) {
    (void)state;
    free(tmp_file("ca.pem", "x\n", 0600));
    struct adc_yaml_config *c;
    int r;
    char *out = load_yaml_text("backend:\n"
                               "  ldap:\n"
                               "    ca_file: ca.pem\n"
                               "    addr: ldap://127.0.0.1\n"
                               "    base_dn: dc=example,dc=com\n"
                               "    authentication:\n"
                               "      username_attribute: uid\n"
                               "      username_filter_template: (uid=%s)\n",
                               &c, &r);
    assert_int_equal(r, 0);
    assert_diag(out, "t.yaml:3:5: warning: ca_file is set but the connection is not TLS (ldap:// "
                     "without starttls); use ldaps:// or starttls: true\n");
    adc_yaml_config_free(c);
}

static void missing_file(void **state) {
    (void)state;
    char *out = NULL;
    size_t len = 0;
    FILE *diag = open_memstream(&out, &len);
    struct adc_yaml_config *c = NULL;
    assert_int_equal(adc_yaml_config_load("/nonexistent/adc.yaml", diag, &c), -ENOENT);
    struct adc_service_config *s = NULL;
    assert_int_equal(adc_service_config_load("/nonexistent/adc.cfg", diag, &s), -ENOENT);
    fclose(diag);
    assert_null(c);
    assert_null(s);
    assert_string_equal(out,
                        "/nonexistent/adc.yaml: error: cannot open: No such file or directory\n"
                        "/nonexistent/adc.cfg: error: cannot open: No such file or directory\n");
    free(out);
}

static void service_config_values(void **state) {
    (void)state;
    free(tmp_file("token", "tok\n", 0600));
    struct adc_service_config *c;
    int r;
    char *out = load_cfg_text("# comment\n"
                              "   # indented comment\n"
                              "\n"
                              "server=https://cloud.example.com:8443/base\r\n"
                              "  app_id   =   abc-123  \n"
                              "secret_file = token\n"
                              "yaml = conf/adc.yaml\n"
                              "tls_verify = No\n"
                              "proxy = socks5h://127.0.0.1:1080\n",
                              &c, &r);
    assert_int_equal(r, 0);
    assert_diag(out, "");
    assert_string_equal(c->server_url, "https://cloud.example.com:8443/base");
    assert_string_equal(c->app_id, "abc-123");
    assert_string_equal(c->secret, "tok");
    char *p = NULL;
    assert_true(asprintf(&p, "%s/token", tmpdir) > 0);
    assert_string_equal(c->secret_file, p);
    free(p);
    assert_true(asprintf(&p, "%s/conf/adc.yaml", tmpdir) > 0);
    assert_string_equal(c->yaml_path, p);
    free(p);
    assert_false(c->tls_verify);
    assert_null(c->ca_file);
    assert_string_equal(c->proxy, "socks5h://127.0.0.1:1080");
    adc_service_config_free(c);

    /* '#' inside a value is kept; quotes keep blanks */
    out = load_cfg_text("server = http://127.0.0.1:8080\n"
                        "app_id = x\n"
                        "secret = \" a#b \"\n",
                        &c, &r);
    assert_int_equal(r, 0);
    assert_diag(out, "");
    assert_string_equal(c->secret, " a#b ");
    assert_true(c->tls_verify);
    assert_null(c->yaml_path);
    adc_service_config_free(c);
}

static void service_config_errors(void **state) {
    (void)state;
    struct adc_service_config *c;
    int r;
    char *out = load_cfg_text("server = https://\n"
                              "app_id = x\n"
                              "secret = s\n"
                              "sever = https://x\n"
                              "proxy = ftp://p\n"
                              "[section]\n",
                              &c, &r);
    assert_int_equal(r, -EINVAL);
    assert_null(c);
    assert_diag(
        out, "t.cfg:1:10: error: server must be an http:// or https:// URL, not 'https://'\n"
             "t.cfg:4:1: error: unknown key 'sever'; did you mean 'server'? (allowed: "
             "server, app_id, secret, secret_file, yaml, ca_file, tls_verify, proxy, state_dir)\n"
             "t.cfg:5:9: error: proxy must be a URL like http://proxy:3128 (or https://, "
             "socks5://, socks5h://), not 'ftp://p'\n"
             "t.cfg:6:1: error: expected 'key = value', got '[section]'\n");
}

static void find_lookup_order(void **state) {
    (void)state;
    char *tried = NULL;
    unsetenv("ADC_CFG");
    char *p = adc_service_config_find("/x/explicit.cfg", &tried);
    assert_string_equal(p, "/x/explicit.cfg"); /* returned even when missing: loading says so */
    free(p);
    setenv("ADC_CFG", "/x/env.cfg", 1);
    p = adc_service_config_find("/x/explicit.cfg", &tried);
    assert_string_equal(p, "/x/explicit.cfg");
    free(p);
    p = adc_service_config_find(NULL, &tried);
    assert_string_equal(p, "/x/env.cfg");
    free(p);
    setenv("ADC_CFG", "", 1); /* empty counts as unset */
    p = adc_service_config_find(NULL, &tried);
    unsetenv("ADC_CFG");
    if (access("/etc/adc/adc.cfg", F_OK) != 0) {
        /* the test binary's ../adc.cfg (build/tests/adc.cfg) does not exist either */
        assert_null(p);
        assert_non_null(tried);
        assert_non_null(strstr(tried, "/etc/adc/adc.cfg"));
        assert_non_null(strstr(tried, "/adc.cfg, "));
    }
    free(p);
    free(tried);
}

static void suggestions(void **state) {
    (void)state;
    static const char *const keys[] = {
        "addr",    "bind_dn", "bind_password",           "bind_password_file",
        "base_dn", "dry-run", "username_filter_template"};
    size_t n = sizeof keys / sizeof *keys;
    assert_string_equal(adc_diag_suggest("adr", keys, n), "addr");
    assert_string_equal(adc_diag_suggest("Addr", keys, n), "addr");
    assert_string_equal(adc_diag_suggest("dry_run", keys, n), "dry-run");
    assert_string_equal(adc_diag_suggest("bind-dn", keys, n), "bind_dn");
    assert_string_equal(adc_diag_suggest("basedn", keys, n), "base_dn");
    assert_string_equal(adc_diag_suggest("bind_pasword", keys, n), "bind_password");
    assert_string_equal(adc_diag_suggest("username_filter", keys, n), "username_filter_template");
    assert_string_equal(adc_diag_suggest("address", keys, n), "addr");
    assert_string_equal(adc_diag_suggest("bind", keys, n), "bind_dn");
    assert_null(adc_diag_suggest("groups", keys, n));
    assert_null(adc_diag_suggest("x", keys, n));
    assert_null(adc_diag_suggest(NULL, keys, n));
}

static void value_helpers(void **state) {
    (void)state;
    bool b = false;
    assert_int_equal(adc_config_parse_bool("YES", &b), 0);
    assert_true(b);
    assert_int_equal(adc_config_parse_bool("False", &b), 0);
    assert_false(b);
    assert_int_equal(adc_config_parse_bool("1", &b), -EINVAL);
    assert_int_equal(adc_config_parse_bool("on", &b), -EINVAL);
    assert_int_equal(adc_config_parse_bool("", &b), -EINVAL);

    long v = 0;
    assert_int_equal(adc_config_parse_long("42", 1, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(adc_config_parse_long("-1", 0, 100, &v), -ERANGE);
    assert_int_equal(adc_config_parse_long("101", 0, 100, &v), -ERANGE);
    assert_int_equal(adc_config_parse_long("99999999999999999999", 0, 100, &v), -ERANGE);
    assert_int_equal(adc_config_parse_long("1.5", 0, 100, &v), -EINVAL);
    assert_int_equal(adc_config_parse_long("0x10", 0, 100, &v), -EINVAL);
    assert_int_equal(adc_config_parse_long(" 5", 0, 100, &v), -EINVAL);
    assert_int_equal(adc_config_parse_long("", 0, 100, &v), -EINVAL);
    assert_int_equal(adc_config_parse_long("-", 0, 100, &v), -EINVAL);
    assert_int_equal(v, 42); /* untouched on failure */

    char *p = adc_config_path_resolve("/etc/adc/adc.cfg", "adc.yaml");
    assert_string_equal(p, "/etc/adc/adc.yaml");
    free(p);
    p = adc_config_path_resolve("/etc/adc/adc.cfg", "/srv/x.yaml");
    assert_string_equal(p, "/srv/x.yaml");
    free(p);
    p = adc_config_path_resolve("adc.cfg", "adc.yaml");
    assert_string_equal(p, "adc.yaml");
    free(p);
    p = adc_config_path_resolve("conf/adc.cfg", "../x.yaml");
    assert_string_equal(p, "conf/../x.yaml");
    free(p);

    char *s = NULL;
    char *f = tmp_file("big", "", 0600);
    FILE *fp = fopen(f, "w");
    for (int i = 0; i < 5000; i++)
        fputc('x', fp);
    fclose(fp);
    assert_int_equal(adc_config_read_secret_file(f, &s), -EFBIG);
    free(f);
    f = tmp_file("nonl", "no-newline", 0600);
    assert_int_equal(adc_config_read_secret_file(f, &s), 0);
    assert_string_equal(s, "no-newline");
    free(s);
    free(f);
    assert_int_equal(adc_config_read_secret_file("/nonexistent", &s), -ENOENT);
    assert_int_equal(adc_config_read_secret_file(tmpdir, &s), -EISDIR);
    /* a FIFO would block a read forever: refused at once */
    char *fifo = NULL;
    assert_true(asprintf(&fifo, "%s/fifo", tmpdir) > 0);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(adc_config_read_secret_file(fifo, &s), -EINVAL);
    assert_int_equal(adc_config_check_readable(fifo), -EINVAL);
    assert_string_equal(adc_config_file_error(-EINVAL), "not a regular file");
    assert_int_equal(adc_config_check_readable(tmpdir), -EISDIR);
    free(fifo);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(documented_example),
        cmocka_unit_test(defaults),
        cmocka_unit_test(every_key),
        cmocka_unit_test(all_errors_reported_in_order),
        cmocka_unit_test(crlf_and_utf8_positions),
        cmocka_unit_test(anchors_and_flow_style),
        cmocka_unit_test(password_file),
        cmocka_unit_test(secret_readable_by_others_warns),
        cmocka_unit_test(ca_file_without_tls_warns),
        cmocka_unit_test(missing_file),
        cmocka_unit_test(service_config_values),
        cmocka_unit_test(service_config_errors),
        cmocka_unit_test(find_lookup_order),
        cmocka_unit_test(suggestions),
        cmocka_unit_test(value_helpers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
