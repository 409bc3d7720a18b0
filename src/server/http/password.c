/* yescrypt via libxcrypt's crypt_r/crypt_gensalt_rn (thread-safe variants: the server runs a
 * thread per connection). */
#include "http/password.h"

#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/macros.h"

/* libxcrypt's default yescrypt cost (0 = the library's recommended value, today N=4096,r=32:
 * about 16 MB and a few tens of milliseconds per hash on this machine). */
#define YESCRYPT_PREFIX "$y$"

static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t slots_cond = PTHREAD_COND_INITIALIZER;
static int slots_free = 2;

static void slot_take(void) {
    pthread_mutex_lock(&slots_lock);
    while (slots_free == 0)
        pthread_cond_wait(&slots_cond, &slots_lock);
    slots_free--;
    pthread_mutex_unlock(&slots_lock);
}

static void slot_give(void) {
    pthread_mutex_lock(&slots_lock);
    slots_free++;
    pthread_cond_signal(&slots_cond);
    pthread_mutex_unlock(&slots_lock);
}

static bool length_ok(const char *password) {
    size_t n = strnlen(password, ADC_PASSWORD_MAX + 1);
    return n >= ADC_PASSWORD_MIN && n <= ADC_PASSWORD_MAX;
}

int adc_password_hash(const char *password, char **ret) {
    if (!password || !length_ok(password))
        return -EINVAL;
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    /* NULL random bytes: libxcrypt takes them from the kernel (getrandom). */
    if (!crypt_gensalt_rn(YESCRYPT_PREFIX, 0, NULL, 0, salt, sizeof(salt)))
        return errno ? -errno : -EIO;
    struct crypt_data *data = calloc(1, sizeof(*data)); /* 32 KB: not on a thread's stack */
    if (!data)
        return -ENOMEM;
    slot_take();
    const char *h = crypt_r(password, salt, data);
    slot_give();
    int r;
    /* crypt_r signals failure with a string starting with '*', never NULL in libxcrypt. */
    if (!h || h[0] == '*') {
        r = -EIO;
        goto out;
    }
    char *copy = strdup(h);
    if (!copy) {
        r = -ENOMEM;
        goto out;
    }
    *ret = copy;
    r = 0;
out:
    OPENSSL_cleanse(data, sizeof(*data));
    free(data);
    return r;
}

static bool verify(const char *password, const char *hash) {
    struct crypt_data *data = calloc(1, sizeof(*data));
    if (!data)
        return false;
    slot_take();
    const char *h = crypt_r(password, hash, data);
    slot_give();
    bool ok =
        h && h[0] != '*' && strlen(h) == strlen(hash) && CRYPTO_memcmp(h, hash, strlen(hash)) == 0;
    OPENSSL_cleanse(data, sizeof(*data));
    free(data);
    return ok;
}

bool adc_password_verify(const char *password, const char *hash) {
    if (!password || !hash || strnlen(password, ADC_PASSWORD_MAX + 1) > ADC_PASSWORD_MAX)
        return false;
    return verify(password, hash);
}

void adc_password_verify_dummy(const char *password) {
    /* A valid yescrypt hash of a random string nobody knows, at the default cost. */
    static const char dummy[] =
        "$y$j9T$wcZkHrWO.ISbAu.h$CQwUGc/q6jHvJMdZVfI8q0cDz2cLCjhM2YvBE/8Qjw.";
    if (password && strnlen(password, ADC_PASSWORD_MAX + 1) <= ADC_PASSWORD_MAX)
        (void)verify(password, dummy);
}
