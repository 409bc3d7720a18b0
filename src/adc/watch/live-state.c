#include "watch/live-state.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macros.h"

/* A state file is a few hundred bytes; anything much larger is not ours. */
#define STATE_MAX (64 * 1024)
#define STATE_VERSION 1

void adc_live_state_done(struct adc_live_state *s) {
    if (!s)
        return;
    free(s->watch);
    free(s->position);
    free(s->invocation_id);
    memset(s, 0, sizeof(*s));
}

char *adc_live_state_path(const struct adc_service_config *service) {
    /* The Application ID in the name, limited to safe characters: one state_dir can serve
     * several configurations, and the ID comes from a file. */
    char id[80];
    size_t k = 0;
    for (const char *p = service->app_id ? service->app_id : ""; *p && k < sizeof(id) - 1; p++)
        id[k++] = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                          (*p >= '0' && *p <= '9') || *p == '-'
                      ? *p
                      : '_';
    id[k] = '\0';
    char *path = NULL;
    if (asprintf(&path, "%s/live-%s.json", service->state_dir ? service->state_dir : "/var/lib/adc",
                 id) < 0)
        return NULL;
    return path;
}

static const char *scope_name(enum adc_ldap_scope s) {
    return s == ADC_SCOPE_BASE ? "base" : s == ADC_SCOPE_ONE ? "one" : "sub";
}

/* What the position belongs to. */
static json_t *identity(const struct adc_service_config *service,
                        const struct adc_yaml_config *yaml) {
    const struct adc_ldap_config *l = &yaml->ldap;
    return json_pack("{s:s?, s:s?, s:s?, s:s, s:s?, s:s?}", "app_id", service->app_id, "addr",
                     l->addr, "base_dn", l->base_dn, "scope", scope_name(l->scope), "filter",
                     l->filter, "id_attribute", l->id_attribute);
}

int adc_live_state_load(const struct adc_service_config *service,
                        const struct adc_yaml_config *yaml, const char *watch,
                        struct adc_live_state *out, char **why) {
    _cleanup_free_ char *path = adc_live_state_path(service);
    if (!path)
        return -ENOMEM;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return -ENOENT;
        if (asprintf(why, "cannot open the state file '%s': %s", path, strerror(errno)) < 0)
            *why = NULL;
        return -EINVAL;
    }
    char *buf = malloc(STATE_MAX + 1);
    ssize_t n = buf ? read(fd, buf, STATE_MAX + 1) : -1;
    close(fd);
    json_t *j = NULL, *id = NULL;
    int r = -EINVAL;
    const char *problem = NULL;
    if (n < 0 || n > STATE_MAX) {
        problem = n < 0 ? "cannot be read" : "is too large";
        goto out;
    }
    j = json_loadb(buf, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
    json_t *v = json_object_get(j, "version"), *pos = json_object_get(j, "position");
    json_t *w = json_object_get(j, "watch"), *inv = json_object_get(j, "invocation_id");
    if (json_is_null(inv))
        inv = NULL;
    json_t *owned = json_object_get(j, "n_owned");
    if (!json_is_object(j) || !json_is_integer(v) || !json_is_string(pos) ||
        !json_string_length(pos) || !json_is_string(w) || (inv && !json_is_string(inv)) ||
        !json_is_integer(owned) || json_integer_value(owned) < 0) {
        problem = "is corrupt";
        goto out;
    }
    if (json_integer_value(v) != STATE_VERSION) {
        problem = "was written by another version of adc";
        goto out;
    }
    id = identity(service, yaml);
    if (!id || !json_equal(id, json_object_get(j, "for"))) {
        problem = "belongs to another directory, base DN, scope, filter or configuration";
        goto out;
    }
    if (strcmp(json_string_value(w), watch) != 0) {
        problem = "was written by another kind of watcher";
        goto out;
    }
    struct adc_live_state st = {
        .watch = strdup(json_string_value(w)),
        .position = strdup(json_string_value(pos)),
        .invocation_id = inv ? strdup(json_string_value(inv)) : NULL,
        .n_owned = (size_t)json_integer_value(owned),
    };
    if (!st.watch || !st.position || (inv && !st.invocation_id)) {
        adc_live_state_done(&st);
        r = -ENOMEM;
        goto out;
    }
    *out = st;
    r = 0;
out:
    if (problem && asprintf(why, "the state file '%s' %s", path, problem) < 0)
        *why = NULL;
    free(buf);
    json_decref(j);
    json_decref(id);
    return r;
}

int adc_live_state_save(const struct adc_service_config *service,
                        const struct adc_yaml_config *yaml, const struct adc_live_state *st,
                        char **err) {
    _cleanup_free_ char *path = adc_live_state_path(service);
    _cleanup_free_ char *tmp = NULL;
    if (!path || asprintf(&tmp, "%s.tmp", path) < 0) {
        tmp = NULL;
        return -ENOMEM;
    }
    json_t *j = json_pack("{s:i, s:o, s:s, s:s, s:s?, s:I}", "version", STATE_VERSION, "for",
                          identity(service, yaml), "watch", st->watch, "position", st->position,
                          "invocation_id", st->invocation_id, "n_owned", (json_int_t)st->n_owned);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        return -ENOMEM;
    int r = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    size_t len = strlen(text);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) < 0) {
        r = -errno;
        if (asprintf(err, "cannot write the state file '%s': %s", tmp, strerror(errno)) < 0)
            *err = NULL;
    }
    if (fd >= 0 && close(fd) < 0 && r == 0)
        r = -errno;
    free(text);
    if (r == 0 && rename(tmp, path) < 0) {
        r = -errno;
        if (asprintf(err, "cannot replace the state file '%s': %s", path, strerror(errno)) < 0)
            *err = NULL;
    }
    if (r < 0) {
        unlink(tmp);
        return r;
    }
    /* The rename reaches the disk with the directory. */
    char *slash = strrchr(path, '/');
    if (slash) {
        *slash = '\0';
        int dfd = open(*path ? path : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    return 0;
}

int adc_live_state_remove(const struct adc_service_config *service) {
    _cleanup_free_ char *path = adc_live_state_path(service);
    if (!path)
        return -ENOMEM;
    return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}
