/* `adc-server --db FILE init` and `token create|list|revoke`: System Administrator API tokens
 * from the command line. Only hashes are stored (http/auth.h). */
#include "cli/token.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/secret.h"
#include "http/auth.h"
#include "store/store-configs.h"
#include "store/store-runs.h"
#include "store/store.h"

/* Creates an admin token, stores its hash and prints it on stdout (alone, so that scripts can
 * capture it: TOKEN=$(adc-server --db F init)). */
static int new_admin_token(struct adc_store *store, const char *name) {
    char *token = adc_auth_token_new(ADC_TOKEN_PREFIX_ADMIN);
    if (!token) {
        log_error("cannot generate a token: no randomness");
        return 1;
    }
    char hash[ADC_TOKEN_HASH_SIZE], now[24];
    adc_auth_hash(token, hash);
    adc_store_now(now);
    struct adc_db *db = adc_store_acquire(store);
    int r = db ? adc_db_begin(db, true) : -EIO;
    if (r == 0)
        r = adc_store_token_insert(db, name, hash, now);
    if (r == 0)
        r = adc_store_audit(db, "cli", "token.create", name, NULL);
    if (r == 0)
        r = adc_db_commit(db);
    else if (db)
        adc_db_rollback(db);
    adc_store_release(db);
    if (r < 0) {
        log_error("cannot store the token: database error");
        adc_secret_free(token);
        return 1;
    }
    fprintf(stderr, "System Administrator token '%s' (shown only now; keep it safe):\n", name);
    printf("%s\n", token);
    fflush(stdout);
    adc_secret_free(token);
    return 0;
}

int adc_cli_init(const char *db_path, int argc, char **argv) {
    if (argc > 1) {
        log_error("init takes no arguments");
        return 2;
    }
    (void)argv;
    struct adc_store *store;
    if (adc_store_open(db_path, true, &store) < 0)
        return 1;
    if (adc_store_target_is_postgresql(db_path))
        log_notice("created the schema in the %s (version %d)", adc_store_label(store),
                   adc_store_schema_version());
    else
        log_notice("created database '%s' (schema version %d)", db_path,
                   adc_store_schema_version());
    int r = new_admin_token(store, "admin");
    adc_store_free(store);
    return r;
}

static int print_token(const char *name, const char *created, void *ctx) {
    (void)ctx;
    printf("%s\t%s\n", name, created);
    return 0;
}

static int token_exists(const char *name, const char *created, void *ctx) {
    (void)created;
    struct {
        const char *name;
        bool found;
    } *want = ctx;
    if (strcmp(name, want->name) == 0)
        want->found = true;
    return 0;
}

/* token create --name NAME | token list | token revoke --name NAME */
int adc_cli_token(const char *db_path, int argc, char **argv) {
    static const struct option options[] = {
        {"name", required_argument, NULL, 'n'},
        {0},
    };
    const char *sub = argc >= 2 ? argv[1] : "";
    bool create = !strcmp(sub, "create"), list = !strcmp(sub, "list"),
         revoke = !strcmp(sub, "revoke");
    if (!create && !list && !revoke) {
        log_error("usage: adc-server --db FILE token create|revoke --name NAME | token list");
        return 2;
    }
    const char *name = NULL;
    optind = 1;
    for (int c; (c = getopt_long(argc - 1, argv + 1, "n:", options, NULL)) != -1;) {
        if (c == 'n')
            name = optarg;
        else
            return 2;
    }
    if (optind < argc - 1) {
        log_error("token %s: unexpected argument '%s'", sub, argv[optind + 1]);
        return 2;
    }
    if (!list && (!name || !*name || strlen(name) > 100)) {
        log_error("token %s needs --name NAME (1 to 100 characters)", sub);
        return 2;
    }
    struct adc_store *store;
    if (adc_store_open(db_path, false, &store) < 0)
        return 1;
    int ret = 1;
    struct adc_db *db = adc_store_acquire(store);
    if (!db) {
        log_error("%s unavailable", adc_store_label(store));
        goto out;
    }
    if (list) {
        ret = adc_store_token_list(db, print_token, NULL) < 0 ? 1 : 0;
    } else if (create) {
        struct {
            const char *name;
            bool found;
        } want = {name, false};
        if (adc_store_token_list(db, token_exists, &want) < 0)
            goto out;
        if (want.found) {
            log_error("a token named '%s' exists already; revoke it first or choose another name",
                      name);
            goto out;
        }
        adc_store_release(db);
        db = NULL;
        ret = new_admin_token(store, name);
    } else {
        int n = -1;
        if (adc_db_begin(db, true) == 0 && (n = adc_store_token_delete(db, name)) >= 0 &&
            (n == 0 || adc_store_audit(db, "cli", "token.revoke", name, NULL) == 0) &&
            adc_db_commit(db) == 0) {
            if (n == 0) {
                log_error("no token named '%s' (see: token list)", name);
            } else {
                log_notice("token '%s' revoked; requests with it are refused from now on", name);
                ret = 0;
            }
        } else {
            adc_db_rollback(db);
            log_error("cannot revoke token '%s': database error", name);
        }
    }
out:
    adc_store_release(db);
    adc_store_free(store);
    return ret;
}
