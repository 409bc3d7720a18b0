/* `serve --downloads DIR`: the files an operator offers (the ad-connect archive) at
 * /downloads/NAME, and GET /api/v1/downloads for the console's install steps (name, size,
 * SHA-256). docs/product.md section 13.
 *
 * Defences: a name is checked before it reaches the file system (plain characters, no leading
 * dot, so no "..", no "/" and no hidden file; MHD has %-decoded it already, so "%2e%2e" and
 * "%2f" arrive as "." and "/" and are refused here), the file is opened relative to the
 * directory with O_NOFOLLOW (a symbolic link is never followed, inside DIR or out of it) and
 * O_NONBLOCK (a FIFO cannot hang the thread), and only a regular file is answered. */
#include "http/downloads.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hex.h"
#include "common/log.h"
#include "common/macros.h"
#include "http/http.h"
#include "server.h"

#define PREFIX "/downloads/"
#define NAME_MAX_LEN 128
#define MAX_LISTED 64 /* files reported by GET /api/v1/downloads */

bool adc_downloads_name_ok(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n > NAME_MAX_LEN || name[0] == '.')
        return false;
    return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-") == n;
}

int adc_downloads_check_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        log_error("--downloads '%s': not a readable directory: %s", dir, strerror(e));
        return -e;
    }
    close(fd);
    return 0;
}

bool adc_downloads_owns(const char *url) {
    return strncmp(url, PREFIX, strlen(PREFIX)) == 0 || adc_streq(url, "/downloads");
}

/* Opens name in dir for reading when it is a regular file with a plain name; fills st. Returns
 * the descriptor or a negative errno (-ENOENT for everything that is not offered). */
static int open_offered(const char *dir, const char *name, struct stat *st) {
    if (!dir || !adc_downloads_name_ok(name))
        return -ENOENT;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    int e = errno;
    close(dfd);
    if (fd < 0)
        return e == ELOOP ? -ENOENT : -e; /* ELOOP: a symbolic link, never followed */
    if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        return -ENOENT;
    }
    return fd;
}

static const char *content_type(const char *name) {
    static const struct {
        const char *suffix, *type;
    } types[] = {
        {".tar.gz", "application/gzip"},
        {".tgz", "application/gzip"},
        {".gz", "application/gzip"},
        {".tar", "application/x-tar"},
        {".deb", "application/vnd.debian.binary-package"},
        {".zip", "application/zip"},
        {".sha256", "text/plain; charset=utf-8"},
        {".txt", "text/plain; charset=utf-8"},
        {".asc", "text/plain; charset=utf-8"},
    };
    size_t n = strlen(name);
    for (size_t i = 0; i < ADC_ARRAY_SIZE(types); i++) {
        size_t s = strlen(types[i].suffix);
        if (n > s && strcmp(name + n - s, types[i].suffix) == 0)
            return types[i].type;
    }
    return "application/octet-stream";
}

static enum MHD_Result answer_text(struct MHD_Connection *conn, unsigned status, const char *text) {
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_X_CONTENT_TYPE_OPTIONS, "nosniff");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

enum MHD_Result adc_downloads_handle(struct adc_server *srv, struct MHD_Connection *conn,
                                     const char *method, const char *url) {
    if (!adc_streq(method, "GET") && !adc_streq(method, "HEAD")) {
        log_info("%s /downloads/... -> 405", method);
        return answer_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    }
    const char *name = strncmp(url, PREFIX, strlen(PREFIX)) == 0 ? url + strlen(PREFIX) : "";
    struct stat st;
    int fd = open_offered(srv->downloads_dir, name, &st);
    if (fd < 0) {
        /* The name is not logged: it is the client's text, and a refused one may be hostile. */
        if (fd != -ENOENT)
            log_warning("downloads: cannot open a file of '%s': %s", srv->downloads_dir,
                        strerror(-fd));
        log_info("%s /downloads/... -> 404", method);
        return answer_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
    }
    /* MHD owns fd from here (closed with the response) and sends it with sendfile() where it
     * can; Content-Length is the size at open time. */
    struct MHD_Response *resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    if (!resp) {
        close(fd);
        return MHD_NO;
    }
    char disposition[NAME_MAX_LEN + 40];
    snprintf(disposition, sizeof(disposition), "attachment; filename=\"%s\"", name);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type(name));
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION, disposition);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_X_CONTENT_TYPE_OPTIONS, "nosniff");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    enum MHD_Result r = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    log_info("%s /downloads/%s -> 200 (%lld bytes)", method, name, (long long)st.st_size);
    return r;
}

/* SHA-256 of the offered files, remembered by name, inode, size and modification time, so that
 * the console's page does not hash a large archive on every visit (about 10 ms per MB). */
struct digest_entry {
    char name[NAME_MAX_LEN + 1];
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    char hex[65];
};
static struct digest_entry digest_cache[MAX_LISTED];
static size_t digest_next;
static pthread_mutex_t digest_lock = PTHREAD_MUTEX_INITIALIZER;

static bool same_file(const struct digest_entry *e, const char *name, const struct stat *st) {
    return strcmp(e->name, name) == 0 && e->dev == st->st_dev && e->ino == st->st_ino &&
           e->size == st->st_size && e->mtime.tv_sec == st->st_mtim.tv_sec &&
           e->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* Hashes the open file fd into hex (65 bytes). Returns 0 or a negative errno. */
static int sha256_fd(int fd, char hex[65]) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return -ENOMEM;
    }
    int r = 0;
    char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            goto out;
        }
        if (n == 0)
            break;
        if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1) {
            r = -EIO;
            goto out;
        }
    }
    unsigned char md[32];
    unsigned len = 0;
    if (EVP_DigestFinal_ex(ctx, md, &len) != 1 || len != sizeof(md)) {
        r = -EIO;
        goto out;
    }
    adc_hex_encode(md, len, hex);
out:
    EVP_MD_CTX_free(ctx);
    return r;
}

static int file_digest(int fd, const char *name, const struct stat *st, char hex[65]) {
    pthread_mutex_lock(&digest_lock);
    for (size_t i = 0; i < ADC_ARRAY_SIZE(digest_cache); i++)
        if (same_file(&digest_cache[i], name, st)) {
            memcpy(hex, digest_cache[i].hex, 65);
            pthread_mutex_unlock(&digest_lock);
            return 0;
        }
    pthread_mutex_unlock(&digest_lock);
    int r = sha256_fd(fd, hex);
    if (r < 0)
        return r;
    pthread_mutex_lock(&digest_lock);
    struct digest_entry *e = &digest_cache[digest_next++ % ADC_ARRAY_SIZE(digest_cache)];
    snprintf(e->name, sizeof(e->name), "%s", name);
    e->dev = st->st_dev;
    e->ino = st->st_ino;
    e->size = st->st_size;
    e->mtime = st->st_mtim;
    memcpy(e->hex, hex, 65);
    pthread_mutex_unlock(&digest_lock);
    return 0;
}

size_t adc_http_unescape_keep_nul(void *cls, struct MHD_Connection *conn, char *s) {
    (void)cls;
    (void)conn;
    char *w = s;
    for (const char *r = s; *r;) {
        int hi = r[0] == '%' ? adc_hex_digit(r[1]) : -1, lo = hi >= 0 ? adc_hex_digit(r[2]) : -1;
        if (lo < 0 || (hi == 0 && lo == 0)) {
            *w++ = *r++; /* not an escape, or %00: kept as text */
            continue;
        }
        *w++ = (char)(hi * 16 + lo);
        r += 3;
    }
    *w = '\0';
    return (size_t)(w - s);
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* GET /api/v1/downloads: {"enabled": bool, "files": [{"name", "url", "size", "sha256"}]} sorted
 * by name; the files /downloads/ would serve (at most MAX_LISTED). */
static void downloads_list(struct adc_http_request *req, struct adc_http_response *res) {
    const char *dir = req->server->downloads_dir;
    json_t *files = json_array();
    char *names[MAX_LISTED];
    size_t n = 0;
    DIR *d = NULL;
    if (dir) {
        d = opendir(dir);
        if (!d) {
            log_warning("downloads: cannot read '%s': %m", dir);
            adc_http_error(res, 503, NULL, "the downloads directory cannot be read");
            json_decref(files);
            return;
        }
        for (struct dirent *de; n < MAX_LISTED && (de = readdir(d));)
            if (adc_downloads_name_ok(de->d_name) && (names[n] = strdup(de->d_name)))
                n++;
        closedir(d);
    }
    qsort(names, n, sizeof(names[0]), by_name);
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        char hex[65], url[sizeof(PREFIX) + NAME_MAX_LEN];
        int fd = open_offered(dir, names[i], &st);
        if (fd >= 0 && file_digest(fd, names[i], &st, hex) == 0) {
            snprintf(url, sizeof(url), PREFIX "%s", names[i]);
            json_array_append_new(files,
                                  json_pack("{s:s,s:s,s:I,s:s}", "name", names[i], "url", url,
                                            "size", (json_int_t)st.st_size, "sha256", hex));
        }
        if (fd >= 0)
            close(fd);
        free(names[i]);
    }
    adc_http_json(res, 200, json_pack("{s:b,s:o}", "enabled", dir != NULL, "files", files));
}

const struct adc_route adc_downloads_routes[] = {
    {"GET", "/api/v1/downloads", ADC_AUTH_ADMIN, downloads_list},
    {NULL, NULL, 0, NULL},
};
