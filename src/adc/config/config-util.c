#include "config/config-util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/secret.h"

/* A bind password or a secret token is short; a file much larger is the wrong file. */
#define SECRET_FILE_MAX 4096

int adc_config_parse_bool(const char *s, bool *ret) {
    if (!s)
        return -EINVAL;
    if (strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0) {
        *ret = true;
        return 0;
    }
    if (strcasecmp(s, "false") == 0 || strcasecmp(s, "no") == 0) {
        *ret = false;
        return 0;
    }
    return -EINVAL;
}

int adc_config_parse_long(const char *s, long min, long max, long *ret) {
    const char *p = s;
    if (!s)
        return -EINVAL;
    if (*p == '-' || *p == '+')
        p++;
    if (*p < '0' || *p > '9')
        return -EINVAL;
    for (; *p; p++)
        if (*p < '0' || *p > '9')
            return -EINVAL;
    errno = 0;
    long v = strtol(s, NULL, 10);
    if (errno == ERANGE || v < min || v > max)
        return -ERANGE;
    *ret = v;
    return 0;
}

char *adc_config_path_resolve(const char *base_file, const char *path) {
    if (!path)
        return NULL;
    if (path[0] == '/' || !base_file)
        return strdup(path);
    const char *slash = strrchr(base_file, '/');
    if (!slash)
        return strdup(path);
    char *out = NULL;
    if (asprintf(&out, "%.*s/%s", (int)(slash - base_file), base_file, path) < 0)
        return NULL;
    return out;
}

int adc_config_read_secret_file(const char *path, char **ret) {
    char buf[SECRET_FILE_MAX + 2];
    int r;
    /* O_NONBLOCK: a FIFO or device named by mistake must not hang adc (it is refused below). */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        r = -errno;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        r = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
        goto out;
    }
    size_t n = 0;
    while (n < sizeof buf - 1) {
        ssize_t k = read(fd, buf + n, sizeof buf - 1 - n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            goto out;
        }
        if (k == 0)
            break;
        n += (size_t)k;
    }
    if (n > SECRET_FILE_MAX) {
        r = -EFBIG;
        goto out;
    }
    buf[n] = '\0';
    size_t len = strcspn(buf, "\r\n");
    if (len == 0) {
        r = -ENODATA;
        goto out;
    }
    buf[len] = '\0';
    char *s = strdup(buf);
    if (!s) {
        r = -ENOMEM;
        goto out;
    }
    *ret = s;
    r = 0;
out:
    explicit_bzero(buf, sizeof buf);
    close(fd);
    return r;
}

bool adc_config_readable_by_others(const char *path) {
    struct stat st;
    if (stat(path, &st) < 0)
        return false;
    return (st.st_mode & (S_IRGRP | S_IROTH)) != 0;
}

int adc_config_check_readable(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    struct stat st;
    int r = fstat(fd, &st) < 0     ? -errno
            : S_ISDIR(st.st_mode)  ? -EISDIR
            : !S_ISREG(st.st_mode) ? -EINVAL
                                   : 0;
    close(fd);
    return r;
}

const char *adc_config_file_error(int r) {
    return r == -EINVAL ? "not a regular file" : strerror(-r);
}
