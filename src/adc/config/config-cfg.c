/* adc.cfg: the service configuration (the cloud connection), one `key = value` per line.
 * A line whose first non-blank character is '#' is a comment; '#' elsewhere is part of the
 * value, because secrets and URLs may contain it. A value may be wrapped in "..." or '...'
 * to keep leading or trailing blanks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config/config-diag.h"
#include "config/config-util.h"
#include "config/config.h"
#include "common/macros.h"
#include "common/secret.h"

#define CFG_FILE_MAX (64 * 1024)

enum cfg_key {
    K_SERVER,
    K_APP_ID,
    K_SECRET,
    K_SECRET_FILE,
    K_YAML,
    K_CA_FILE,
    K_TLS_VERIFY,
    K_PROXY,
    K_STATE_DIR,
    K_COUNT,
};

static const char *const key_names[K_COUNT] = {
    [K_SERVER] = "server",           [K_APP_ID] = "app_id", [K_SECRET] = "secret",
    [K_SECRET_FILE] = "secret_file", [K_YAML] = "yaml",     [K_CA_FILE] = "ca_file",
    [K_TLS_VERIFY] = "tls_verify",   [K_PROXY] = "proxy",   [K_STATE_DIR] = "state_dir",
};

struct cfg_seen {
    unsigned line, key_col, value_col;
};

void adc_service_config_free(struct adc_service_config *c) {
    if (!c)
        return;
    free(c->path);
    free(c->server_url);
    free(c->app_id);
    adc_secret_free(c->secret);
    free(c->secret_file);
    free(c->yaml_path);
    free(c->ca_file);
    free(c->proxy);
    free(c->state_dir);
    free(c);
}

/* scheme://host..., with the scheme one of `schemes`. */
static bool url_ok(const char *v, const char *const *schemes) {
    for (; *schemes; schemes++) {
        size_t n = strlen(*schemes);
        if (strncasecmp(v, *schemes, n) == 0 && v[n] && v[n] != '/' && v[n] != ':' &&
            !strpbrk(v, " \t"))
            return true;
    }
    return false;
}

static void set(char **f, const char *v, struct adc_diag *d) {
    char *copy = strdup(v);
    if (!copy) {
        adc_diag_error(d, 0, 0, "out of memory");
        return;
    }
    free(*f);
    *f = copy;
}

static void take_value(struct adc_service_config *c, struct adc_diag *d, enum cfg_key k,
                       const char *v, unsigned line, unsigned col) {
    static const char *const http[] = {"http://", "https://", NULL};
    static const char *const proxies[] = {"http://",   "https://",   "socks4://", "socks4a://",
                                          "socks5://", "socks5h://", NULL};
    switch (k) {
    case K_SERVER:
        if (!url_ok(v, http))
            adc_diag_error(d, line, col, "server must be an http:// or https:// URL, not '%s'", v);
        set(&c->server_url, v, d);
        break;
    case K_APP_ID:
        if (strpbrk(v, " \t"))
            adc_diag_error(d, line, col,
                           "app_id '%s' contains blanks; copy the Application ID "
                           "exactly as adc-server showed it",
                           v);
        set(&c->app_id, v, d);
        break;
    case K_SECRET: {
        char *copy = strdup(v);
        if (!copy) {
            adc_diag_error(d, 0, 0, "out of memory");
            break;
        }
        adc_secret_free(c->secret);
        c->secret = copy;
        break;
    }
    case K_SECRET_FILE: set(&c->secret_file, v, d); break;
    case K_YAML: set(&c->yaml_path, v, d); break;
    case K_CA_FILE: set(&c->ca_file, v, d); break;
    case K_TLS_VERIFY:
        if (adc_config_parse_bool(v, &c->tls_verify) < 0)
            adc_diag_error(d, line, col, "tls_verify must be true or false (or yes/no), not '%s'",
                           v);
        break;
    case K_PROXY:
        if (!url_ok(v, proxies))
            adc_diag_error(d, line, col,
                           "proxy must be a URL like http://proxy:3128 (or https://, "
                           "socks5://, socks5h://), not '%s'",
                           v);
        set(&c->proxy, v, d);
        break;
    case K_STATE_DIR: set(&c->state_dir, v, d); break;
    case K_COUNT: break;
    }
}

/* Resolves a path key relative to adc.cfg's directory and checks it can be read. */
static void resolve_path(struct adc_diag *d, const char *cfg_path, char **f, const char *key,
                         const struct cfg_seen *at, bool must_read) {
    if (!*f)
        return;
    char *p = adc_config_path_resolve(cfg_path, *f);
    if (!p) {
        adc_diag_error(d, 0, 0, "out of memory");
        return;
    }
    free(*f);
    *f = p;
    if (must_read) {
        int r = adc_config_check_readable(p);
        if (r < 0)
            adc_diag_error(d, at->line, at->value_col, "cannot read %s '%s': %s", key, p,
                           adc_config_file_error(r));
    }
}

static void check_whole(struct adc_service_config *c, struct adc_diag *d, const char *path,
                        const struct cfg_seen *seen) {
    if (!seen[K_SERVER].line)
        adc_diag_error(d, 1, 1,
                       "missing required key 'server' (the URL of adc-server, like "
                       "https://cloud.example.com)");
    if (!seen[K_APP_ID].line)
        adc_diag_error(d, 1, 1,
                       "missing required key 'app_id' (the Application ID of the sync "
                       "configuration)");
    if (!seen[K_SECRET].line && !seen[K_SECRET_FILE].line)
        adc_diag_error(d, 1, 1,
                       "missing required key 'secret_file' (or 'secret'): the Secret "
                       "Token of the sync configuration");
    if (seen[K_SECRET].line && seen[K_SECRET_FILE].line)
        adc_diag_error(d, seen[K_SECRET_FILE].line, seen[K_SECRET_FILE].key_col,
                       "both secret and secret_file are set; keep one");

    resolve_path(d, path, &c->yaml_path, "yaml", &seen[K_YAML], false);
    resolve_path(d, path, &c->ca_file, "ca_file", &seen[K_CA_FILE], true);
    resolve_path(d, path, &c->secret_file, "secret_file", &seen[K_SECRET_FILE], false);
    resolve_path(d, path, &c->state_dir, "state_dir", &seen[K_STATE_DIR], false);
    /* Where `adc run` keeps its live-change position (docs/product.md section 9). */
    if (!c->state_dir && !(c->state_dir = strdup("/var/lib/adc")))
        adc_diag_error(d, 0, 0, "out of memory");

    if (c->secret_file && !c->secret) {
        char *s = NULL;
        int r = adc_config_read_secret_file(c->secret_file, &s);
        const struct cfg_seen *at = &seen[K_SECRET_FILE];
        if (r == -ENODATA)
            adc_diag_error(d, at->line, at->value_col,
                           "secret_file '%s' is empty (the secret is its first line)",
                           c->secret_file);
        else if (r == -EFBIG)
            adc_diag_error(d, at->line, at->value_col,
                           "secret_file '%s' is too large for a secret file", c->secret_file);
        else if (r < 0)
            adc_diag_error(d, at->line, at->value_col, "cannot read secret_file '%s': %s",
                           c->secret_file, adc_config_file_error(r));
        else {
            c->secret = s; /* owned by the config now */
            if (adc_config_readable_by_others(c->secret_file))
                adc_diag_warning(d, 0, 0, "secret_file '%s' is readable by others; chmod 600 %s",
                                 c->secret_file, c->secret_file);
        }
    } else if (c->secret && seen[K_SECRET].line && adc_config_readable_by_others(path)) {
        adc_diag_warning(d, 0, 0, "contains the secret and is readable by others; chmod 600 %s",
                         path);
    }
}

static char *trim(char *s, char **end) {
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        e--;
    *e = '\0';
    if (end)
        *end = e;
    return s;
}

static void parse_line(struct adc_service_config *c, struct adc_diag *d, char *line,
                       unsigned lineno, struct cfg_seen *seen) {
    char *end;
    char *s = trim(line, &end);
    if (!*s || *s == '#')
        return;
    unsigned key_col = (unsigned)(s - line) + 1;
    char *eq = strchr(s, '=');
    if (!eq) {
        adc_diag_error(d, lineno, key_col, "expected 'key = value', got '%s'", s);
        return;
    }
    *eq = '\0';
    char *key = trim(s, NULL);
    char *v = eq + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    unsigned value_col = (unsigned)(v - line) + 1;
    size_t vlen = strlen(v);
    if (vlen >= 2 && (v[0] == '"' || v[0] == '\'') && v[vlen - 1] == v[0]) {
        v[vlen - 1] = '\0';
        v++;
        value_col++;
    }
    if (!*key) {
        adc_diag_error(d, lineno, key_col, "missing key before '='");
        return;
    }
    int k;
    for (k = 0; k < K_COUNT; k++)
        if (strcmp(key, key_names[k]) == 0)
            break;
    if (k == K_COUNT) {
        const char *hint = adc_diag_suggest(key, key_names, K_COUNT);
        if (hint)
            adc_diag_error(d, lineno, key_col,
                           "unknown key '%s'; did you mean '%s'? (allowed: "
                           "server, app_id, secret, secret_file, yaml, ca_file, "
                           "tls_verify, proxy, state_dir)",
                           key, hint);
        else
            adc_diag_error(d, lineno, key_col,
                           "unknown key '%s' (allowed: server, app_id, "
                           "secret, secret_file, yaml, ca_file, tls_verify, "
                           "proxy, state_dir)",
                           key);
        return;
    }
    if (seen[k].line) {
        adc_diag_error(d, lineno, key_col, "duplicate key '%s' (first on line %u)", key,
                       seen[k].line);
        return;
    }
    seen[k] = (struct cfg_seen){lineno, key_col, value_col};
    if (!*v) {
        adc_diag_error(d, lineno, key_col, "'%s' has no value", key);
        return;
    }
    take_value(c, d, k, v, lineno, value_col);
}

int adc_service_config_load(const char *path, FILE *diag, struct adc_service_config **ret) {
    struct adc_diag d;
    struct cfg_seen seen[K_COUNT] = {{0}};
    struct adc_service_config *c = NULL;
    char *buf = NULL;
    FILE *f = NULL;
    int r;

    adc_diag_init(&d, path, diag);
    f = fopen(path, "re");
    if (!f) {
        r = -errno;
        adc_diag_error(&d, 0, 0, "cannot open: %s", strerror(-r));
        goto out;
    }
    buf = malloc(CFG_FILE_MAX + 1);
    c = calloc(1, sizeof *c);
    if (!buf || !c || !(c->path = strdup(path))) {
        r = -ENOMEM;
        adc_diag_error(&d, 0, 0, "out of memory");
        goto out;
    }
    c->tls_verify = true;
    size_t n = fread(buf, 1, CFG_FILE_MAX + 1, f);
    if (ferror(f)) {
        r = errno ? -errno : -EIO;
        adc_diag_error(&d, 0, 0, "cannot read: %s", strerror(-r));
        goto out;
    }
    if (n > CFG_FILE_MAX) {
        r = -EFBIG;
        adc_diag_error(&d, 0, 0, "larger than %d bytes; is this the right file?", CFG_FILE_MAX);
        goto out;
    }
    buf[n] = '\0';
    if (memchr(buf, '\0', n)) {
        r = -EINVAL;
        adc_diag_error(&d, 0, 0, "contains NUL bytes; adc.cfg is a text file");
        goto out;
    }

    unsigned lineno = 1;
    for (char *line = buf, *next; line && *line; line = next, lineno++) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        parse_line(c, &d, line, lineno, seen);
    }
    check_whole(c, &d, path, seen);
    r = d.errors ? -EINVAL : 0;
out:
    if (f)
        fclose(f);
    if (buf) {
        explicit_bzero(buf, CFG_FILE_MAX + 1); /* it held the secret */
        free(buf);
    }
    adc_diag_flush(&d);
    if (r == 0)
        *ret = TAKE_PTR(c);
    adc_service_config_free(c);
    return r;
}

/* ../adc.cfg beside the running binary: /opt/x/ad-connect/bin/adc -> /opt/x/ad-connect/adc.cfg */
static char *beside_binary(void) {
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return NULL;
    *slash = '\0';
    slash = strrchr(exe, '/');
    if (!slash)
        return NULL;
    slash[1] = '\0';
    char *out = NULL;
    if (asprintf(&out, "%sadc.cfg", exe) < 0)
        return NULL;
    return out;
}

char *adc_service_config_find(const char *explicit_path, char **tried) {
    /* An explicit choice (-C or $ADC_CFG) is returned as is: if it does not exist, loading
     * it says so, instead of silently falling back to another file. */
    if (explicit_path)
        return strdup(explicit_path);
    const char *env = getenv("ADC_CFG");
    if (env && *env)
        return strdup(env);

    char *candidates[2] = {beside_binary(), strdup("/etc/adc/adc.cfg")};
    char *found = NULL;
    for (size_t i = 0; i < 2 && !found; i++)
        if (candidates[i] && access(candidates[i], F_OK) == 0)
            found = TAKE_PTR(candidates[i]);
    if (!found && tried) {
        if (asprintf(tried, "%s, %s", candidates[0] ? candidates[0] : "../adc.cfg beside adc",
                     candidates[1] ? candidates[1] : "/etc/adc/adc.cfg") < 0)
            *tried = NULL;
    }
    free(candidates[0]);
    free(candidates[1]);
    return found;
}
