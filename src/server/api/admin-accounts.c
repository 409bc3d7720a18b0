/* System Administrator accounts: storage, password checks and the `admin` command. */
#include "api/admin-accounts.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macros.h"
#include "http/password.h"
#include "common/secret.h"
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

int adc_admin_account_create(struct adc_store *s, const char *name, const char *password,
                             const char *actor) {
    if (!adc_admin_name_valid(name))
        return -EINVAL;
    char *hash = NULL;
    int r = adc_password_hash(password, &hash); /* slow: before taking the writer lock */
    if (r < 0)
        return r;
    struct adc_db *db = adc_store_acquire(s);
    r = adc_db_begin(db, true);
    if (r < 0)
        goto out;
    sqlite3_stmt *st = adc_db_stmt(db, "INSERT INTO admin_accounts(name, password_hash, created, "
                                       "password_changed) VALUES(?,?,?,?)");
    if (!st) {
        r = -EIO;
        goto rollback;
    }
    char now[24];
    adc_store_now(now);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, now, -1, SQLITE_TRANSIENT);
    r = adc_db_step_done(db, st, false); /* the NOCASE unique index gives -EEXIST */
    if (r < 0)
        goto rollback;
    r = adc_store_audit(db, actor, "admin_account.create", name, NULL);
    if (r < 0)
        goto rollback;
    r = adc_db_commit(db);
    goto out;
rollback:
    adc_db_rollback(db);
out:
    adc_store_release(db);
    adc_secret_free(hash);
    return r;
}

/* Runs one statement with a name parameter inside the open write transaction; returns the
 * number of rows changed or a negative errno. */
static int exec_name(struct adc_db *db, const char *sql, const char *name) {
    sqlite3_stmt *st = adc_db_stmt(db, sql);
    if (!st)
        return -EIO;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    int r = adc_db_step_done(db, st, false);
    return r < 0 ? r : sqlite3_changes(adc_db_handle(db));
}

int adc_admin_account_set_password(struct adc_store *s, const char *name, const char *password,
                                   const char *actor) {
    char *hash = NULL;
    int r = adc_password_hash(password, &hash);
    if (r < 0)
        return r;
    struct adc_db *db = adc_store_acquire(s);
    r = adc_db_begin(db, true);
    if (r < 0)
        goto out;
    sqlite3_stmt *st = adc_db_stmt(db, "UPDATE admin_accounts SET password_hash = ?, "
                                       "password_changed = ? WHERE name = ?");
    if (!st) {
        r = -EIO;
        goto rollback;
    }
    char now[24];
    adc_store_now(now);
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_TRANSIENT);
    r = adc_db_step_done(db, st, true); /* -ENOENT: no such account */
    if (r < 0)
        goto rollback;
    /* A new password ends the sessions opened with the old one (a stolen session included). */
    r = exec_name(db,
                  "DELETE FROM console_sessions WHERE account_id = "
                  "(SELECT id FROM admin_accounts WHERE name = ?)",
                  name);
    if (r < 0)
        goto rollback;
    r = adc_store_audit(db, actor, "admin_account.password", name, NULL);
    if (r < 0)
        goto rollback;
    r = adc_db_commit(db);
    goto out;
rollback:
    adc_db_rollback(db);
out:
    adc_store_release(db);
    adc_secret_free(hash);
    return r;
}

int adc_admin_account_delete(struct adc_store *s, const char *name, const char *actor) {
    struct adc_db *db = adc_store_acquire(s);
    int r = adc_db_begin(db, true);
    if (r < 0)
        goto out;
    r = exec_name(db,
                  "DELETE FROM console_sessions WHERE account_id = "
                  "(SELECT id FROM admin_accounts WHERE name = ?)",
                  name);
    if (r < 0)
        goto rollback;
    r = exec_name(db, "DELETE FROM admin_accounts WHERE name = ?", name);
    if (r < 0)
        goto rollback;
    if (r == 0) {
        r = -ENOENT;
        goto rollback;
    }
    r = adc_store_audit(db, actor, "admin_account.delete", name, NULL);
    if (r < 0)
        goto rollback;
    r = adc_db_commit(db);
    goto out;
rollback:
    adc_db_rollback(db);
out:
    adc_store_release(db);
    return r;
}

int adc_admin_account_check(struct adc_store *s, const char *name, const char *password,
                            int64_t *id, char *stored_name) {
    if (!adc_admin_name_valid(name) || !password || !*password) {
        adc_password_verify_dummy(password ? password : "");
        return -EACCES;
    }
    int64_t found_id = 0;
    char found_name[ADC_ADMIN_NAME_MAX + 1] = "";
    _cleanup_free_ char *hash = NULL;
    struct adc_db *db = adc_store_acquire(s);
    sqlite3_stmt *st =
        adc_db_stmt(db, "SELECT id, name, password_hash FROM admin_accounts WHERE name = ?");
    int rc = SQLITE_ERROR;
    if (st) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            found_id = sqlite3_column_int64(st, 0);
            snprintf(found_name, sizeof(found_name), "%s",
                     (const char *)sqlite3_column_text(st, 1));
            hash = adc_db_column_strdup(st, 2);
        }
        sqlite3_reset(st);
    }
    int r = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0 : adc_db_errno(db, rc);
    adc_store_release(db); /* before the slow hash: the pool is small */
    if (r < 0)
        return r;
    if (rc == SQLITE_DONE) {
        adc_password_verify_dummy(password);
        return -EACCES;
    }
    if (!hash)
        return -ENOMEM;
    if (!adc_password_verify(password, hash))
        return -EACCES;
    *id = found_id;
    memcpy(stored_name, found_name, strlen(found_name) + 1);
    return 0;
}

/* ---- the command line ---- */

/* Reads a password: from a terminal without echo and twice, else one line of stdin (so a
 * script can pipe it; never an argument, which other users see in ps). Returns a string to
 * free with adc_secret_free(), or NULL with the reason printed. */
static char *read_password(const char *name) {
    char buf[ADC_PASSWORD_MAX + 3], again[ADC_PASSWORD_MAX + 3];
    bool tty = isatty(STDIN_FILENO);
    struct termios old, quiet;
    char *result = NULL;
    if (tty) {
        if (tcgetattr(STDIN_FILENO, &old) < 0) {
            log_error("cannot read the terminal settings: %s", strerror(errno));
            return NULL;
        }
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        fprintf(stderr, "Password for '%s': ", name);
    }
    bool ok = fgets(buf, sizeof(buf), stdin) != NULL;
    if (tty && ok) {
        fprintf(stderr, "\nRepeat the password: ");
        ok = fgets(again, sizeof(again), stdin) != NULL;
    }
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    if (!ok) {
        log_error("no password on standard input; pipe it in or type it at the prompt");
        goto out;
    }
    size_t n = strcspn(buf, "\r\n");
    if (buf[n] == '\0' && n > ADC_PASSWORD_MAX) {
        log_error("the password is longer than %d characters", ADC_PASSWORD_MAX);
        goto out;
    }
    buf[n] = '\0';
    if (tty) {
        again[strcspn(again, "\r\n")] = '\0';
        if (!adc_secret_equal(buf, again)) {
            log_error("the two passwords differ; nothing changed");
            goto out;
        }
    }
    if (n < ADC_PASSWORD_MIN) {
        log_error("the password must have at least %d characters", ADC_PASSWORD_MIN);
        goto out;
    }
    result = strdup(buf);
    if (!result)
        log_error("out of memory");
out:
    explicit_bzero(buf, sizeof(buf));
    explicit_bzero(again, sizeof(again));
    return result;
}

static int cmd_list(struct adc_store *s) {
    struct adc_db *db = adc_store_acquire(s);
    sqlite3_stmt *st = adc_db_stmt(db, "SELECT name, created, last_sign_in FROM admin_accounts "
                                       "ORDER BY name");
    int r = 1;
    if (st) {
        printf("%-32s %-22s %s\n", "NAME", "CREATED", "LAST SIGN-IN");
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            const char *last = (const char *)sqlite3_column_text(st, 2);
            printf("%-32s %-22s %s\n", sqlite3_column_text(st, 0), sqlite3_column_text(st, 1),
                   last ? last : "never");
        }
        sqlite3_reset(st);
        r = rc == SQLITE_DONE ? 0 : 1;
        if (r)
            log_error("cannot list the administrator accounts: %s", sqlite3_errstr(rc));
    }
    adc_store_release(db);
    return r;
}

static void admin_usage(FILE *f) {
    fprintf(f,
            "Usage: adc-server --db FILE admin create NAME     (password on stdin)\n"
            "       adc-server --db FILE admin password NAME   (new password on stdin)\n"
            "       adc-server --db FILE admin delete NAME\n"
            "       adc-server --db FILE admin list\n"
            "NAME: 1-%d characters of letters, digits and . _ @ -; the password: at least %d "
            "characters.\n",
            ADC_ADMIN_NAME_MAX, ADC_PASSWORD_MIN);
}

int adc_admin_command(const char *db_path, int argc, char **argv) {
    if (argc < 1 || (strcmp(argv[0], "list") == 0 ? argc != 1 : argc != 2)) {
        admin_usage(stderr);
        return 2;
    }
    const char *verb = argv[0], *name = argc > 1 ? argv[1] : NULL;
    if (!adc_streq(verb, "create") && !adc_streq(verb, "password") && !adc_streq(verb, "delete") &&
        !adc_streq(verb, "list")) {
        log_error("unknown admin command '%s'", verb);
        admin_usage(stderr);
        return 2;
    }
    if (name && !adc_admin_name_valid(name)) {
        log_error("invalid account name '%s': use 1-%d characters of letters, digits and . _ @ -",
                  name, ADC_ADMIN_NAME_MAX);
        return 2;
    }
    if (!db_path) {
        log_error("missing --db FILE");
        return 2;
    }
    struct adc_store *s = NULL;
    if (adc_store_open(db_path, false, &s) < 0)
        return 1; /* the store said why */
    int status = 1, r;
    char *pw = NULL;
    if (adc_streq(verb, "list")) {
        status = cmd_list(s);
        goto out;
    }
    if (adc_streq(verb, "delete")) {
        r = adc_admin_account_delete(s, name, "cli");
        if (r == -ENOENT)
            log_error("no administrator account '%s'", name);
        else if (r < 0)
            log_error("cannot delete the administrator account '%s': %s", name, strerror(-r));
        else {
            printf("deleted administrator account '%s' and its sessions\n", name);
            status = 0;
        }
        goto out;
    }
    pw = read_password(name);
    if (!pw)
        goto out;
    if (adc_streq(verb, "create")) {
        r = adc_admin_account_create(s, name, pw, "cli");
        if (r == -EEXIST)
            log_error("an administrator account '%s' exists already; change its password with "
                      "'admin password %s'",
                      name, name);
        else if (r < 0)
            log_error("cannot create the administrator account '%s': %s", name, strerror(-r));
        else {
            printf("created administrator account '%s'; sign in at /console/\n", name);
            status = 0;
        }
    } else {
        r = adc_admin_account_set_password(s, name, pw, "cli");
        if (r == -ENOENT)
            log_error("no administrator account '%s'", name);
        else if (r < 0)
            log_error("cannot change the password of '%s': %s", name, strerror(-r));
        else {
            printf("changed the password of '%s'; its sessions were ended\n", name);
            status = 0;
        }
    }
out:
    adc_secret_free(pw);
    adc_store_free(s);
    return status;
}
