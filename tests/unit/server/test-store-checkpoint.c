/* store-sqlite.c's checkpointer: with writers and readers at the store all the time, the WAL
 * stays bounded (the checkpoints keep up and SQLite starts it over), nobody sees SQLITE_BUSY
 * from it (-EBUSY), and once the writes stop the WAL file is emptied. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "store/store.h"

#define WRITERS 2
#define READERS 2
#define COMMITS 600 /* per writer */
#define ROWS 10     /* per commit, of 2,000 bytes: 12 MB each writer */
#define CHECKPOINT_BYTES (256 << 10)

static struct adc_store *store;
static char wal[300];
static atomic_int writers_left;
static atomic_long wal_max;
static atomic_int failures;

static long wal_size(void) {
    struct stat st;
    return stat(wal, &st) == 0 ? (long)st.st_size : 0;
}

static void note_wal(void) {
    long n = wal_size(), m = atomic_load(&wal_max);
    while (n > m && !atomic_compare_exchange_weak(&wal_max, &m, n))
        ;
}

static void *writer(void *arg) {
    (void)arg;
    for (int i = 0; i < COMMITS; i++) {
        struct adc_db *db = adc_store_acquire_writer(store);
        int r = db ? adc_db_begin(db, true) : -EIO;
        for (int k = 0; r == 0 && k < ROWS; k++)
            r = adc_db_exec(db, "INSERT INTO ckpt_test(x) VALUES (randomblob(2000))", false, "");
        if (r == 0)
            r = adc_db_commit(db);
        else
            adc_db_rollback(db);
        adc_store_release(db);
        if (r < 0) {
            fprintf(stderr, "writer: %s\n", strerror(-r));
            atomic_fetch_add(&failures, 1);
        }
        note_wal();
        /* At most 10 MB/s from each writer: a copy has to keep up with the writes, and
         * the server's take more time than inserting a blob. */
        usleep(2000);
    }
    atomic_fetch_sub(&writers_left, 1);
    return NULL;
}

static void *reader(void *arg) {
    (void)arg;
    while (atomic_load(&writers_left) > 0) {
        struct adc_db *db = adc_store_acquire(store);
        int r = db ? adc_db_begin(db, false) : -EIO;
        /* A short read, as the server's are (one user, one session). */
        struct adc_stmt *st = NULL;
        if (r == 0)
            st = adc_db_query_row(db, "SELECT length(x) FROM ckpt_test ORDER BY rowid DESC LIMIT 1",
                                  &r, "");
        if (r == -ENOENT) /* nothing written yet */
            r = 0;
        if (st)
            adc_stmt_reset(st);
        if (r == 0)
            r = adc_db_commit(db);
        adc_store_release(db);
        if (r < 0) {
            fprintf(stderr, "reader: %s\n", strerror(-r));
            atomic_fetch_add(&failures, 1);
        }
    }
    return NULL;
}

static void wal_bounded_no_busy_and_emptied_when_idle(void **state) {
    (void)state;
    char dir[] = "/tmp/adc-test-ckpt-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/server.db", dir);
    snprintf(wal, sizeof(wal), "%s-wal", path);
    adc_store_sqlite_tune(CHECKPOINT_BYTES, 300);
    if (getenv("CKPT_DEBUG"))
        adc_log_set_level(ADC_LOG_DEBUG);
    assert_int_equal(adc_store_open(path, true, &store), 0);
    struct adc_db *db = adc_store_acquire_writer(store);
    assert_int_equal(adc_db_exec(db, "CREATE TABLE ckpt_test(x BLOB)", false, ""), 0);
    adc_store_release(db);

    atomic_store(&writers_left, WRITERS);
    pthread_t th[WRITERS + READERS];
    for (int i = 0; i < WRITERS + READERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, i < WRITERS ? writer : reader, NULL), 0);
    for (int i = 0; i < WRITERS + READERS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&failures), 0);

    /* 24 MB written in all; without checkpoints the WAL would hold all of it. With them it
     * holds what was written during one round (a copy and a sync of the database): a third of
     * the total is far above what that takes here, and far below what it grows to without. */
    long written = (long)WRITERS * COMMITS * ROWS * 2000;
    fprintf(stderr, "WAL at most %ld bytes for %ld written\n", atomic_load(&wal_max), written);
    assert_true(atomic_load(&wal_max) < written / 3);

    /* Idle: emptied within a few idle periods. */
    for (int i = 0; i < 100 && wal_size() > 0; i++)
        usleep(50 * 1000);
    assert_int_equal(wal_size(), 0);

    db = adc_store_acquire(store);
    int r;
    struct adc_stmt *st = adc_db_query_row(db, "SELECT count(*) FROM ckpt_test", &r, "");
    assert_non_null(st);
    assert_int_equal(adc_stmt_int(st, 0), WRITERS * COMMITS * ROWS);
    adc_stmt_reset(st);
    adc_store_release(db);
    adc_store_free(store); /* stops the checkpointer */
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wal_bounded_no_busy_and_emptied_when_idle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
