/* The agent channel's rules on the server side (src/server/hub.c), with real threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/hub.h"

static char failed_run[64];
static char failed_why[128];
static int failed_count;

static void on_run_failed(void *userdata, const char *run_id, const char *why) {
    (void)userdata;
    snprintf(failed_run, sizeof(failed_run), "%s", run_id);
    snprintf(failed_why, sizeof(failed_why), "%s", why);
    failed_count++;
}

static int setup(void **state) {
    struct adc_hub *h;
    failed_count = 0;
    failed_run[0] = '\0';
    if (adc_hub_new(on_run_failed, NULL, &h) < 0)
        return -1;
    *state = h;
    return 0;
}

static int teardown(void **state) {
    adc_hub_free(*state);
    return 0;
}

static double now_mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sync_needs_agent_and_reaches_it(void **state) {
    struct adc_hub *h = *state;
    assert_int_equal(adc_hub_sync(h, "app1", "run1", false), -ENOTCONN);
    assert_false(adc_hub_connected(h, "app1"));

    char agent[ADC_HUB_ID_SIZE];
    assert_int_equal(adc_hub_connect(h, "app1", "dc1", "0.1.0", agent), 0);
    assert_true(adc_hub_connected(h, "app1"));
    assert_false(adc_hub_connected(h, "app2"));
    assert_int_equal(adc_hub_sync(h, "app1", "run1", true), 0);

    json_t *out = NULL;
    /* Another configuration's credentials do not reach this agent. */
    assert_int_equal(adc_hub_poll(h, "app2", agent, 0, NULL, NULL, &out), -ENOENT);
    assert_int_equal(adc_hub_poll(h, "app1", agent, 5, NULL, NULL, &out), 0);
    json_t *cmds = json_object_get(out, "commands");
    assert_int_equal(json_array_size(cmds), 1);
    json_t *c = json_array_get(cmds, 0);
    assert_string_equal(json_string_value(json_object_get(c, "type")), "sync");
    assert_string_equal(json_string_value(json_object_get(c, "run_id")), "run1");
    assert_true(json_is_true(json_object_get(c, "dry_run")));
    json_decref(out);

    /* Nothing queued: an empty answer after the wait. */
    double t0 = now_mono();
    assert_int_equal(adc_hub_poll(h, "app1", agent, 1, NULL, NULL, &out), 0);
    assert_true(now_mono() - t0 >= 0.9);
    assert_int_equal(json_array_size(json_object_get(out, "commands")), 0);
    json_decref(out);

    json_t *agents = adc_hub_agents(h, "app1");
    assert_int_equal(json_array_size(agents), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(agents, 0), "host")),
                        "dc1");
    json_decref(agents);

    /* The agent leaves holding the run: it is failed at once. */
    assert_int_equal(adc_hub_disconnect(h, "app1", agent), 0);
    assert_int_equal(failed_count, 1);
    assert_string_equal(failed_run, "run1");
    assert_false(adc_hub_connected(h, "app1"));
    assert_int_equal(adc_hub_disconnect(h, "app1", agent), -ENOENT);
}

struct poller {
    struct adc_hub *h;
    char agent[ADC_HUB_ID_SIZE];
    int answered;
    volatile bool stop;
};

/* An agent: polls and answers every check "accepted" when the password is "right". */
static void *poller_main(void *userdata) {
    struct poller *p = userdata;
    while (!p->stop) {
        json_t *out = NULL;
        if (adc_hub_poll(p->h, "app1", p->agent, 1, NULL, NULL, &out) < 0)
            break;
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(out, "commands"), i, c) {
            const char *pw = json_string_value(json_object_get(c, "password"));
            int r = adc_hub_answer(p->h, "app1", json_string_value(json_object_get(c, "id")),
                                   strcmp(pw, "right") == 0 ? "accepted" : "denied", "checked");
            assert_int_equal(r, 0);
            p->answered++;
        }
        json_decref(out);
    }
    return NULL;
}

struct asker {
    struct adc_hub *h;
    int n;
    int accepted, denied, unavailable;
};

static void *asker_main(void *userdata) {
    struct asker *a = userdata;
    for (int i = 0; i < a->n; i++) {
        enum adc_hub_outcome o;
        char *reason = NULL;
        assert_int_equal(adc_hub_check_password(a->h, "app1", "u", i % 2 ? "right" : "wrong", 5000,
                                                &o, &reason, NULL),
                         0);
        free(reason);
        if (o == ADC_HUB_ACCEPTED)
            a->accepted++;
        else if (o == ADC_HUB_DENIED)
            a->denied++;
        else
            a->unavailable++;
    }
    return NULL;
}

/* Two agents, four login threads: every check answered exactly once, by one agent. */
static void each_check_goes_to_exactly_one_agent(void **state) {
    struct adc_hub *h = *state;
    struct poller p[2] = {{.h = h}, {.h = h}};
    for (int i = 0; i < 2; i++)
        assert_int_equal(adc_hub_connect(h, "app1", "dc", "0.1.0", p[i].agent), 0);
    pthread_t pt[2], at[4];
    struct asker a[4];
    for (int i = 0; i < 2; i++)
        pthread_create(&pt[i], NULL, poller_main, &p[i]);
    for (int i = 0; i < 4; i++) {
        a[i] = (struct asker){.h = h, .n = 200};
        pthread_create(&at[i], NULL, asker_main, &a[i]);
    }
    int accepted = 0, denied = 0, unavailable = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(at[i], NULL);
        accepted += a[i].accepted;
        denied += a[i].denied;
        unavailable += a[i].unavailable;
    }
    for (int i = 0; i < 2; i++)
        p[i].stop = true;
    for (int i = 0; i < 2; i++)
        pthread_join(pt[i], NULL);
    assert_int_equal(accepted, 400);
    assert_int_equal(denied, 400);
    assert_int_equal(unavailable, 0);
    assert_int_equal(p[0].answered + p[1].answered, 800);
}

struct silent {
    struct adc_hub *h;
    char agent[ADC_HUB_ID_SIZE];
    char id[ADC_HUB_ID_SIZE];
    json_t *out;
};

/* Takes one command and keeps quiet. */
static void *silent_main(void *userdata) {
    struct silent *s = userdata;
    while (!s->out || json_array_size(json_object_get(s->out, "commands")) == 0) {
        json_decref(s->out);
        s->out = NULL;
        if (adc_hub_poll(s->h, "app1", s->agent, 1, NULL, NULL, &s->out) < 0)
            return NULL;
    }
    json_t *c = json_array_get(json_object_get(s->out, "commands"), 0);
    snprintf(s->id, sizeof(s->id), "%s", json_string_value(json_object_get(c, "id")));
    return NULL;
}

static void check_without_agent_or_answer_is_unavailable(void **state) {
    struct adc_hub *h = *state;
    enum adc_hub_outcome o;
    char *reason = NULL;
    assert_int_equal(adc_hub_check_password(h, "app1", "u", "pw", 1000, &o, &reason, NULL), 0);
    assert_int_equal(o, ADC_HUB_UNAVAILABLE);
    assert_string_equal(reason, "no agent connected");
    free(reason);

    /* An agent that takes the check and never answers: unavailable at the timeout, and a late
     * answer finds nothing. */
    struct silent arg = {.h = h};
    assert_int_equal(adc_hub_connect(h, "app1", "dc1", "0.1.0", arg.agent), 0);
    pthread_t t;
    pthread_create(&t, NULL, silent_main, &arg);
    double t0 = now_mono();
    assert_int_equal(adc_hub_check_password(h, "app1", "u", "pw", 500, &o, &reason, NULL), 0);
    assert_true(now_mono() - t0 >= 0.45);
    assert_int_equal(o, ADC_HUB_UNAVAILABLE);
    assert_string_equal(reason, "the agent did not answer in time");
    free(reason);
    pthread_join(t, NULL);
    assert_int_equal(adc_hub_answer(h, "app1", arg.id, "accepted", ""), -ENOENT);
    json_decref(arg.out);
}

/* Takes one check, then leaves without answering. */
static void *leaving_main(void *userdata) {
    struct silent *s = userdata;
    silent_main(s);
    adc_hub_disconnect(s->h, "app1", s->agent);
    return NULL;
}

/* agent_gone tells apart an unavailable check that another agent could still answer (none
 * here, or the one holding it left: api/cluster-check.h asks again elsewhere) from one that
 * ran out of time. */
static void check_agent_gone(void **state) {
    struct adc_hub *h = *state;
    enum adc_hub_outcome o;
    char *reason = NULL;
    bool gone = false;
    assert_false(adc_hub_live(h, "app1", 3.0));
    assert_int_equal(adc_hub_check_password(h, "app1", "u", "pw", 1000, &o, &reason, &gone), 0);
    assert_int_equal(o, ADC_HUB_UNAVAILABLE);
    assert_true(gone);
    free(reason);

    struct silent arg = {.h = h};
    assert_int_equal(adc_hub_connect(h, "app1", "dc1", "0.1.0", arg.agent), 0);
    /* just connected: live for a while, not with no slack at all and no poll open */
    assert_true(adc_hub_live(h, "app1", 3.0));
    assert_false(adc_hub_live(h, "app1", 0.0));
    assert_false(adc_hub_live(h, "app2", 3.0));
    pthread_t t;
    pthread_create(&t, NULL, leaving_main, &arg);
    assert_int_equal(adc_hub_check_password(h, "app1", "u", "pw", 5000, &o, &reason, &gone), 0);
    pthread_join(t, NULL);
    assert_int_equal(o, ADC_HUB_UNAVAILABLE);
    assert_true(gone);
    assert_string_equal(reason, "agent disconnected");
    free(reason);
    json_decref(arg.out);

    /* taken and not answered in time: not "gone" */
    struct silent arg2 = {.h = h};
    assert_int_equal(adc_hub_connect(h, "app1", "dc1", "0.1.0", arg2.agent), 0);
    pthread_create(&t, NULL, silent_main, &arg2);
    assert_int_equal(adc_hub_check_password(h, "app1", "u", "pw", 1500, &o, &reason, &gone), 0);
    pthread_join(t, NULL);
    assert_int_equal(o, ADC_HUB_UNAVAILABLE);
    assert_false(gone);
    free(reason);
    json_decref(arg2.out);
}

/* An agent silent for more than 30 s is gone; a sync queued for its configuration fails. */
static void silent_agent_expires(void **state) {
    struct adc_hub *h = *state;
    char agent[ADC_HUB_ID_SIZE];
    assert_int_equal(adc_hub_connect(h, "app1", "dc1", "0.1.0", agent), 0);
    assert_int_equal(adc_hub_sync(h, "app1", "run7", false), 0);
    adc_hub_expire(h, now_mono() + 10);
    assert_true(adc_hub_connected(h, "app1"));
    assert_int_equal(failed_count, 0);
    adc_hub_expire(h, now_mono() + ADC_HUB_CONNECTED_TIMEOUT + 1);
    assert_false(adc_hub_connected(h, "app1"));
    assert_int_equal(failed_count, 1);
    assert_string_equal(failed_run, "run7");
    json_t *out = NULL;
    assert_int_equal(adc_hub_poll(h, "app1", agent, 0, NULL, NULL, &out), -ENOENT);
    assert_int_equal(adc_hub_answer(h, "app1", "nope", "bogus", ""), -EINVAL);

    /* A client connecting in a loop meets a limit. */
    for (int i = 0; i < ADC_HUB_MAX_AGENTS; i++)
        assert_int_equal(adc_hub_connect(h, "app2", "dc", "0.1.0", agent), 0);
    assert_int_equal(adc_hub_connect(h, "app2", "dc", "0.1.0", agent), -EUSERS);
    assert_int_equal(adc_hub_connect(h, "app3", "dc", "0.1.0", agent), 0);
}

struct stale_poll {
    struct adc_hub *h;
    const char *agent;
    json_t *out;
    double seconds;
};

static void *stale_poll_main(void *userdata) {
    struct stale_poll *p = userdata;
    double t0 = now_mono();
    adc_hub_poll(p->h, "app1", p->agent, 10, NULL, NULL, &p->out);
    p->seconds = now_mono() - t0;
    return NULL;
}

/* An agent polls again while an older poll of its own is still open (that connection died
 * where the server cannot see it): the older one returns at once, empty, and the command goes
 * to the new one. */
static void newer_poll_supersedes_older(void **state) {
    struct adc_hub *h = *state;
    char agent[ADC_HUB_ID_SIZE];
    assert_int_equal(adc_hub_connect(h, "app1", "dc1", "0.1.0", agent), 0);
    struct stale_poll old = {.h = h, .agent = agent};
    pthread_t t;
    pthread_create(&t, NULL, stale_poll_main, &old);
    usleep(200000);
    struct stale_poll fresh = {.h = h, .agent = agent};
    pthread_t t2;
    pthread_create(&t2, NULL, stale_poll_main, &fresh);
    pthread_join(t, NULL);
    assert_true(old.seconds < 5);
    assert_int_equal(json_array_size(json_object_get(old.out, "commands")), 0);
    assert_int_equal(adc_hub_sync(h, "app1", "run10", false), 0);
    pthread_join(t2, NULL);
    assert_int_equal(json_array_size(json_object_get(fresh.out, "commands")), 1);
    json_decref(old.out);
    json_decref(fresh.out);
}

/* ---- polls without a thread (adc_hub_poll_begin / adc_hub_wake_fn) ---- */

struct waker {
    int woken; /* calls of wake */
};

static void count_wake(void *userdata) {
    struct waker *w = userdata;
    __atomic_add_fetch(&w->woken, 1, __ATOMIC_SEQ_CST);
}

static int woken(struct waker *w) { return __atomic_load_n(&w->woken, __ATOMIC_SEQ_CST); }

static bool dead(void *userdata) {
    (void)userdata;
    return false;
}

/* A poll waits with no thread; queueing a command wakes it once, with the command. */
static void waiting_poll_is_woken_by_a_command(void **state) {
    struct adc_hub *h = *state;
    char agent[ADC_HUB_ID_SIZE];
    assert_int_equal(adc_hub_connect(h, "app1", "dc1", "0.1.0", agent), 0);
    struct waker w = {0};
    struct adc_hub_poll *p = NULL;
    json_t *out = NULL;
    assert_int_equal(adc_hub_poll_begin(h, "app2", agent, 10, NULL, NULL, count_wake, &w, &out, &p),
                     -ENOENT);
    assert_int_equal(adc_hub_poll_begin(h, "app1", agent, 10, NULL, NULL, count_wake, &w, &out, &p),
                     1);
    assert_non_null(p);
    assert_int_equal(adc_hub_waiting(h), 1);
    usleep(200000);
    assert_int_equal(woken(&w), 0);
    double t0 = now_mono();
    assert_int_equal(adc_hub_sync(h, "app1", "run1", false), 0);
    assert_int_equal(woken(&w), 1); /* at once, by the thread that queued it */
    assert_true(now_mono() - t0 < 0.1);
    assert_int_equal(adc_hub_waiting(h), 0);
    assert_int_equal(adc_hub_poll_end(h, p, &out), 0);
    json_t *cmds = json_object_get(out, "commands");
    assert_int_equal(json_array_size(cmds), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(cmds, 0), "run_id")),
                        "run1");
    json_decref(out);
    /* Nothing more: a second sync is queued, and taken at once by the next poll. */
    assert_int_equal(adc_hub_sync(h, "app1", "run2", false), 0);
    assert_int_equal(adc_hub_poll_begin(h, "app1", agent, 10, NULL, NULL, count_wake, &w, &out, &p),
                     0);
    assert_null(p);
    assert_int_equal(json_array_size(json_object_get(out, "commands")), 1);
    json_decref(out);
    assert_int_equal(woken(&w), 1);
}

/* The reaper ends a poll at its deadline; a poll ended before it is woken is never woken. */
static void waiting_poll_deadline_and_cancel(void **state) {
    struct adc_hub *h = *state;
    char agent[ADC_HUB_ID_SIZE];
    assert_int_equal(adc_hub_connect(h, "app1", "dc1", "0.1.0", agent), 0);
    struct waker w = {0};
    struct adc_hub_poll *p = NULL;
    json_t *out = NULL;
    double t0 = now_mono();
    assert_int_equal(adc_hub_poll_begin(h, "app1", agent, 1, NULL, NULL, count_wake, &w, &out, &p),
                     1);
    while (!woken(&w) && now_mono() - t0 < 5)
        usleep(10000);
    double waited = now_mono() - t0;
    assert_int_equal(woken(&w), 1);
    assert_true(waited >= 0.95 && waited < 1.5);
    assert_int_equal(adc_hub_poll_end(h, p, &out), 0);
    assert_int_equal(json_array_size(json_object_get(out, "commands")), 0);
    json_decref(out);

    /* Cancelled (the connection closed): no wake later, not even when the agent leaves. */
    struct waker w2 = {0};
    assert_int_equal(
        adc_hub_poll_begin(h, "app1", agent, 10, NULL, NULL, count_wake, &w2, &out, &p), 1);
    assert_int_equal(adc_hub_poll_end(h, p, &out), 0);
    json_decref(out);
    assert_int_equal(adc_hub_waiting(h), 0);
    assert_int_equal(adc_hub_disconnect(h, "app1", agent), 0);
    usleep(300000);
    assert_int_equal(woken(&w2), 0);
}

/* Many waiting polls of many configurations: a command wakes exactly one poll, of its own
 * configuration; a dead connection's poll is skipped and the command goes to the next; the
 * agent leaving, adc_hub_wake and shutdown wake the rest. */
#define MANY_APPS 100
#define MANY_AGENTS 10

static void many_waiting_polls(void **state) {
    struct adc_hub *h = *state;
    static char agents[MANY_APPS][MANY_AGENTS][ADC_HUB_ID_SIZE];
    static struct waker w[MANY_APPS][MANY_AGENTS];
    static struct adc_hub_poll *p[MANY_APPS][MANY_AGENTS];
    memset(w, 0, sizeof(w));
    json_t *out = NULL;
    for (int a = 0; a < MANY_APPS; a++) {
        char app[16];
        snprintf(app, sizeof(app), "app%d", a);
        for (int i = 0; i < MANY_AGENTS; i++) {
            assert_int_equal(adc_hub_connect(h, app, "dc", "0.1.0", agents[a][i]), 0);
            /* Agent 0 of every configuration has a connection that died. */
            assert_int_equal(adc_hub_poll_begin(h, app, agents[a][i], 15, i == 0 ? dead : NULL,
                                                NULL, count_wake, &w[a][i], &out, &p[a][i]),
                             1);
        }
    }
    assert_int_equal(adc_hub_waiting(h), MANY_APPS * MANY_AGENTS);
    double t0 = now_mono();
    assert_int_equal(adc_hub_sync(h, "app42", "run42", false), 0);
    assert_true(now_mono() - t0 < 0.05);
    /* The dead one was ended empty, the next one got the command; nobody else moved. */
    int total = 0;
    for (int a = 0; a < MANY_APPS; a++)
        for (int i = 0; i < MANY_AGENTS; i++)
            total += woken(&w[a][i]);
    assert_int_equal(total, 2);
    assert_int_equal(woken(&w[42][0]), 1);
    assert_int_equal(woken(&w[42][1]), 1);
    assert_int_equal(adc_hub_poll_end(h, p[42][0], &out), 0);
    assert_int_equal(json_array_size(json_object_get(out, "commands")), 0);
    json_decref(out);
    assert_int_equal(adc_hub_poll_end(h, p[42][1], &out), 0);
    assert_int_equal(json_array_size(json_object_get(out, "commands")), 1);
    json_decref(out);
    p[42][0] = p[42][1] = NULL;

    /* adc_hub_wake: one agent, then a whole configuration. */
    assert_int_equal(adc_hub_wake(h, "app7", agents[7][3]), 0);
    assert_int_equal(woken(&w[7][3]), 1);
    assert_int_equal(woken(&w[7][4]), 0);
    assert_int_equal(adc_hub_wake(h, "app7", agents[7][3]), -ENOENT);
    assert_int_equal(adc_hub_wake(h, "app8", NULL), 0);
    for (int i = 0; i < MANY_AGENTS; i++)
        assert_int_equal(woken(&w[8][i]), 1);
    /* An agent that leaves: its poll is woken. */
    assert_int_equal(adc_hub_disconnect(h, "app9", agents[9][5]), 0);
    assert_int_equal(woken(&w[9][5]), 1);
    /* Shutdown wakes every poll left, each once. */
    adc_hub_shutdown(h);
    for (int a = 0; a < MANY_APPS; a++)
        for (int i = 0; i < MANY_AGENTS; i++) {
            if (!p[a][i])
                continue;
            assert_int_equal(woken(&w[a][i]), 1);
            assert_int_equal(adc_hub_poll_end(h, p[a][i], &out), 0);
            json_decref(out);
        }
    assert_int_equal(adc_hub_waiting(h), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(sync_needs_agent_and_reaches_it, setup, teardown),
        cmocka_unit_test_setup_teardown(each_check_goes_to_exactly_one_agent, setup, teardown),
        cmocka_unit_test_setup_teardown(check_without_agent_or_answer_is_unavailable, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(check_agent_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(silent_agent_expires, setup, teardown),
        cmocka_unit_test_setup_teardown(newer_poll_supersedes_older, setup, teardown),
        cmocka_unit_test_setup_teardown(waiting_poll_is_woken_by_a_command, setup, teardown),
        cmocka_unit_test_setup_teardown(waiting_poll_deadline_and_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(many_waiting_polls, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
