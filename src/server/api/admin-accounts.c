/* System Administrator accounts: names, password hashing and checks; the rows are in the store
 * (store-admins.c), the `admin` command in cli/admin.c. */
#include "api/admin-accounts.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/macros.h"
#include "http/password.h"
#include "common/secret.h"
#include "store/store-admins.h"
#include "store/store-runs.h"
#include "store/store.h"

bool adc_admin_name_valid(const char *name) {
    if (!name)
        return false;
    size_t n = strlen(name);
    if (n == 0 || n > ADC_ADMIN_NAME_MAX)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("._@-", *p)))
            return false;
    return true;
}

/* Runs one change in a write transaction with its audit line. */
static int change(struct adc_store *s,
                  int (*fn)(struct adc_db *, const char *, const char *, const char *),
                  const char *name, const char *hash, const char *actor, const char *action) {
    int r;
    struct adc_db *db = adc_store_begin_write(s, &r);
    if (!db)
        return r;
    char now[24];
    adc_store_now(now);
    r = fn(db, name, hash, now);
    if (r == 0)
        r = adc_store_audit(db, actor, action, name, NULL);
    return adc_store_end_write(db, r);
}

int adc_admin_account_create(struct adc_store *s, const char *name, const char *password,
                             const char *actor) {
    if (!adc_admin_name_valid(name))
        return -EINVAL;
    char *hash = NULL;
    int r = adc_password_hash(password, &hash); /* slow: before taking the writer lock */
    if (r < 0)
        return r;
    r = change(s, adc_store_admin_insert, name, hash, actor, "admin_account.create");
    adc_secret_free(hash);
    return r;
}

int adc_admin_account_set_password(struct adc_store *s, const char *name, const char *password,
                                   const char *actor) {
    char *hash = NULL;
    int r = adc_password_hash(password, &hash);
    if (r < 0)
        return r;
    /* A new password ends the sessions opened with the old one (a stolen session included). */
    r = change(s, adc_store_admin_set_password, name, hash, actor, "admin_account.password");
    adc_secret_free(hash);
    return r;
}

static int delete_account(struct adc_db *db, const char *name, const char *hash, const char *now) {
    (void)hash;
    (void)now;
    return adc_store_admin_delete(db, name);
}

int adc_admin_account_delete(struct adc_store *s, const char *name, const char *actor) {
    return change(s, delete_account, name, NULL, actor, "admin_account.delete");
}

int adc_admin_account_check(struct adc_store *s, const char *name, const char *password,
                            int64_t *id, char *stored_name) {
    if (!adc_admin_name_valid(name) || !password || !*password) {
        adc_password_verify_dummy(password ? password : "");
        return -EACCES;
    }
    struct adc_store_admin a = {0};
    struct adc_db *db = adc_store_acquire(s);
    int r = db ? adc_store_admin_get(db, name, &a) : -EIO;
    adc_store_release(db); /* before the slow hash: the pool is small */
    if (r == -ENOENT) {
        adc_password_verify_dummy(password);
        return -EACCES;
    }
    if (r < 0)
        return r;
    if (!adc_password_verify(password, a.password_hash)) {
        adc_store_admin_done(&a);
        return -EACCES;
    }
    *id = a.id;
    memcpy(stored_name, a.name, strlen(a.name) + 1);
    adc_store_admin_done(&a);
    return 0;
}
