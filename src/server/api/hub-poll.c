/* The agents' long polls (docs/agent-protocol.md): a poll takes the queued commands of its
 * configuration or waits for them; queuing a command (hub.c) hands it to the longest-waiting
 * poll and wakes it. The hub's state and lock are hub.c's (api/hub-internal.h). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/hub-internal.h"
#include "api/hub.h"
#include "common/secret.h"
#include "common/wire.h"

static json_t *command_json(const struct adc_hub_cmd *c) {
    if (c->type == ADC_HUB_CMD_CHECK)
        return json_pack("{s:s, s:s, s:s, s:s}", "id", c->id, "type", ADC_CMD_CHECK_PASSWORD,
                         "username", c->user_name, "password", c->password ? c->password : "");
    return json_pack("{s:s, s:s, s:s, s:b}", "id", c->id, "type", ADC_CMD_SYNC, "run_id", c->run_id,
                     "dry_run", c->dry_run);
}

static void wait_unlink(struct adc_hub *h, struct adc_hub_poll *p) {
    struct adc_hub_queue *q = p->q;
    if (p->prev)
        p->prev->next = p->next;
    else
        q->wait_head = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        q->wait_tail = p->prev;
    p->prev = p->next = NULL;
    p->waiting = false;
    h->n_waiting--;
}

/* Ends a waiting poll: its answer is what it holds now. Called under the lock. */
void adc_hub_wait_finish(struct adc_hub *h, struct adc_hub_poll *p) {
    wait_unlink(h, p);
    p->wake(p->wake_userdata);
}

/* Hands up to ADC_HUB_MAX_BATCH queued commands to agent a (its answer array cmds). */
static void take_commands(struct adc_hub *h, struct adc_hub_queue *q, struct adc_hub_agent *a,
                          json_t *cmds) {
    for (size_t n = 0; q->cmds.head && n < ADC_HUB_MAX_BATCH; n++) {
        struct adc_hub_cmd *c = q->cmds.head;
        json_t *j = command_json(c);
        if (!j || json_array_append_new(cmds, j) < 0)
            break;
        adc_hub_list_remove(&q->cmds, c);
        if (c->type == ADC_HUB_CMD_CHECK) {
            c->state = ADC_HUB_CMD_DELIVERED;
            adc_hub_copy_str(c->agent_id, sizeof(c->agent_id), a->id);
            /* The only copy left is in the answer being sent. */
            adc_secret_free(c->password);
            c->password = NULL;
            adc_hub_list_push(&h->inflight, c);
        } else {
            adc_hub_copy_str(a->run_id, sizeof(a->run_id), c->run_id);
            adc_hub_cmd_free(c);
        }
    }
}

/* Commands were queued: each goes to the longest-waiting poll whose client is still there. A
 * poll whose connection died is ended empty (its agent will poll again or expire) and the
 * commands wait for the next one. */
void adc_hub_dispatch(struct adc_hub *h, struct adc_hub_queue *q) {
    while (q->cmds.head && q->wait_head) {
        struct adc_hub_poll *p = q->wait_head;
        if (!p->alive || p->alive(p->alive_userdata))
            take_commands(h, q, p->agent, p->cmds);
        adc_hub_wait_finish(h, p);
    }
}

/* Ends the waiting polls of agent a (all of q's when a is NULL), empty. */
void adc_hub_wake_agent_polls(struct adc_hub *h, struct adc_hub_queue *q, struct adc_hub_agent *a) {
    for (struct adc_hub_poll *p = q->wait_head, *next; p; p = next) {
        next = p->next;
        if (!a || p->agent == a)
            adc_hub_wait_finish(h, p);
    }
}

int adc_hub_poll_begin(struct adc_hub *h, const char *app_id, const char *agent_id, int wait_s,
                       adc_hub_alive_fn alive, void *alive_userdata, adc_hub_wake_fn wake,
                       void *wake_userdata, json_t **out, struct adc_hub_poll **poll) {
    struct adc_hub_poll *p = calloc(1, sizeof(*p));
    if (!p || !(p->cmds = json_array())) {
        free(p);
        return -ENOMEM;
    }
    if (wait_s < 0)
        wait_s = 0;
    if (wait_s > ADC_HUB_POLL_WAIT)
        wait_s = ADC_HUB_POLL_WAIT;
    p->alive = alive;
    p->alive_userdata = alive_userdata;
    p->wake = wake;
    p->wake_userdata = wake_userdata;

    pthread_mutex_lock(&h->lock);
    struct adc_hub_agent *a = adc_hub_agent_find(h, app_id, agent_id);
    struct adc_hub_queue *q =
        a ? adc_hub_queue_get(h, app_id, false) : NULL; /* the agent's connect made it */
    if (!a || !q) {
        pthread_mutex_unlock(&h->lock);
        json_decref(p->cmds);
        free(p);
        return -ENOENT;
    }
    double start = adc_hub_mono_now();
    p->agent = a;
    p->q = q;
    p->deadline = start + wait_s;
    a->last_poll_start = start;
    a->last_seen = time(NULL);
    a->polls_open++;
    /* An agent runs one poll at a time: an older one still open is a connection that died
     * somewhere the server cannot see (e.g. behind a proxy). It must not take commands. */
    p->gen = ++a->poll_gen;
    adc_hub_wake_agent_polls(h, q, a);
    bool ready = true;
    if (q->cmds.head && !h->shutdown) {
        /* A command handed to a dead connection would be lost: look before handing out. */
        if (!alive || alive(alive_userdata))
            take_commands(h, q, a, p->cmds);
    } else if (wait_s > 0 && !h->shutdown) {
        p->prev = q->wait_tail;
        if (q->wait_tail)
            q->wait_tail->next = p;
        else
            q->wait_head = p;
        q->wait_tail = p;
        p->waiting = true;
        h->n_waiting++;
        ready = false;
    }
    pthread_mutex_unlock(&h->lock);
    if (!ready) {
        *poll = p;
        return 1;
    }
    *poll = NULL;
    return adc_hub_poll_end(h, p, out);
}

int adc_hub_poll_end(struct adc_hub *h, struct adc_hub_poll *p, json_t **out) {
    pthread_mutex_lock(&h->lock);
    if (p->waiting)
        wait_unlink(h, p);
    struct adc_hub_agent *a = p->agent;
    a->polls_open--;
    a->last_seen = time(NULL);
    if (a->gone && a->polls_open == 0)
        free(a);
    pthread_mutex_unlock(&h->lock);
    json_t *body = json_pack("{s:o}", "commands", p->cmds);
    free(p);
    if (!body)
        return -ENOMEM;
    *out = body;
    return 0;
}

int adc_hub_wake(struct adc_hub *h, const char *app_id, const char *agent_id) {
    int r = -ENOENT;
    pthread_mutex_lock(&h->lock);
    struct adc_hub_queue *q = adc_hub_queue_get(h, app_id, false);
    for (struct adc_hub_poll *p = q ? q->wait_head : NULL, *next; p; p = next) {
        next = p->next;
        if (agent_id && strcmp(p->agent->id, agent_id) != 0)
            continue;
        if (q->cmds.head && (!p->alive || p->alive(p->alive_userdata)))
            take_commands(h, q, p->agent, p->cmds);
        adc_hub_wait_finish(h, p);
        r = 0;
    }
    pthread_mutex_unlock(&h->lock);
    return r;
}

size_t adc_hub_waiting(struct adc_hub *h) {
    pthread_mutex_lock(&h->lock);
    size_t n = h->n_waiting;
    pthread_mutex_unlock(&h->lock);
    return n;
}

/* The blocking poll: adc_hub_poll_begin with a condition variable as its wake-up. */
struct blocking_wait {
    pthread_cond_t cond;
    bool woken;
};

static void blocking_wake(void *userdata) {
    struct blocking_wait *w = userdata;
    w->woken = true;
    pthread_cond_signal(&w->cond);
}

int adc_hub_poll(struct adc_hub *h, const char *app_id, const char *agent_id, int wait_s,
                 adc_hub_alive_fn alive, void *alive_userdata, json_t **out) {
    struct blocking_wait w = {.woken = false};
    pthread_cond_init(&w.cond, &h->condattr);
    struct adc_hub_poll *p = NULL;
    int r = adc_hub_poll_begin(h, app_id, agent_id, wait_s, alive, alive_userdata, blocking_wake,
                               &w, out, &p);
    if (r == 1) {
        pthread_mutex_lock(&h->lock);
        /* Wake at least once a second to notice a client that went away. */
        while (!w.woken) {
            struct timespec at = adc_hub_mono_at(adc_hub_mono_now() + 1.0);
            pthread_cond_timedwait(&w.cond, &h->lock, &at);
            if (!w.woken && alive && !alive(alive_userdata))
                break;
        }
        pthread_mutex_unlock(&h->lock);
        r = adc_hub_poll_end(h, p, out);
    }
    pthread_cond_destroy(&w.cond);
    return r;
}
