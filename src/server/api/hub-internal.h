/* What the parts of the agent hub share (hub.c: agents, commands, the reaper; hub-poll.c: the
 * long polls); not for use outside src/server/api/hub*.c. Everything here is under the hub's
 * lock (h->lock) unless it says otherwise. */
#pragma once

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "api/hub.h"

#define ADC_HUB_APP_ID_MAX 64
#define ADC_HUB_RUN_ID_MAX 64

enum adc_hub_cmd_type { ADC_HUB_CMD_CHECK, ADC_HUB_CMD_SYNC };
enum adc_hub_cmd_state { ADC_HUB_CMD_QUEUED, ADC_HUB_CMD_DELIVERED, ADC_HUB_CMD_DONE };

/* A command is in at most one list at a time: its configuration's queue, or the hub's list of
 * checks handed out and awaiting an answer. A check belongs to the login thread waiting for it
 * (it frees it); a sync belongs to the hub until it is handed out. */
struct adc_hub_cmd {
    struct adc_hub_cmd *prev, *next;
    enum adc_hub_cmd_type type;
    enum adc_hub_cmd_state state;
    char id[ADC_HUB_ID_SIZE];
    char app_id[ADC_HUB_APP_ID_MAX];
    char agent_id[ADC_HUB_ID_SIZE]; /* who took it */
    /* check_password */
    char *user_name;
    char *password; /* wiped once handed out */
    enum adc_hub_outcome outcome;
    char *reason;
    bool agent_gone; /* unavailable because its agent left before answering */
    pthread_cond_t done;
    /* sync */
    char run_id[ADC_HUB_RUN_ID_MAX];
    bool dry_run;
};

struct adc_hub_list {
    struct adc_hub_cmd *head, *tail;
    size_t n;
};

struct adc_hub_agent;

/* A long poll waiting for commands, in its configuration's list of waiting polls. */
struct adc_hub_poll {
    struct adc_hub_poll *prev, *next;
    struct adc_hub_agent *agent;
    struct adc_hub_queue *q;
    unsigned long gen;
    double deadline; /* monotonic */
    adc_hub_alive_fn alive;
    void *alive_userdata;
    adc_hub_wake_fn wake;
    void *wake_userdata;
    json_t *cmds; /* the commands handed to it */
    bool waiting; /* in q's list: wake not called yet */
};

struct adc_hub_queue {
    struct adc_hub_queue *next;
    char app_id[ADC_HUB_APP_ID_MAX];
    struct adc_hub_list cmds;
    struct adc_hub_poll *wait_head, *wait_tail; /* oldest first */
    unsigned n_agents;
};

struct adc_hub_agent {
    struct adc_hub_agent *next;
    char id[ADC_HUB_ID_SIZE];
    char app_id[ADC_HUB_APP_ID_MAX];
    char host[256];
    char version[64];
    time_t connected_since;
    time_t last_seen;
    double last_poll_start; /* monotonic */
    unsigned polls_open;
    unsigned long poll_gen;          /* bumped by each poll; only the newest one takes commands */
    bool gone;                       /* unlinked; the last poll to return frees it */
    char run_id[ADC_HUB_RUN_ID_MAX]; /* the sync handed to it last, "" when none */
};

struct adc_hub {
    pthread_mutex_t lock;
    pthread_condattr_t condattr;
    struct adc_hub_agent *agents;
    struct adc_hub_queue *queues;
    struct adc_hub_list inflight;
    bool shutdown;
    adc_hub_run_failed_fn run_failed;
    void *userdata;
    pthread_t reaper;
    bool reaper_started;
    pthread_cond_t reaper_wake;
    size_t n_waiting;
};

/* CLOCK_MONOTONIC now, in seconds; and a time of it as pthread_cond_timedwait wants it (the
 * hub's condition variables use the monotonic clock). Need no lock. */
double adc_hub_mono_now(void);
struct timespec adc_hub_mono_at(double t);
/* src (NULL as "") into dst of size bytes, cut to fit. Needs no lock. */
void adc_hub_copy_str(char *dst, size_t size, const char *src);
/* Appends c to l / unlinks c from l (c is in l). */
void adc_hub_list_push(struct adc_hub_list *l, struct adc_hub_cmd *c);
void adc_hub_list_remove(struct adc_hub_list *l, struct adc_hub_cmd *c);
/* Frees a command that is in no list; NULL is fine. */
void adc_hub_cmd_free(struct adc_hub_cmd *c);
/* The queue of configuration app_id (made when `create`); NULL when none (or out of memory). */
struct adc_hub_queue *adc_hub_queue_get(struct adc_hub *h, const char *app_id, bool create);
/* A connected agent of app_id, NULL when none has that id. */
struct adc_hub_agent *adc_hub_agent_find(struct adc_hub *h, const char *app_id,
                                         const char *agent_id);

/* hub-poll.c: ends a waiting poll, its answer being what it holds now (calls its wake). */
void adc_hub_wait_finish(struct adc_hub *h, struct adc_hub_poll *p);
/* Commands were queued: each goes to the longest-waiting poll whose client is still there; a
 * poll whose connection died is ended empty. */
void adc_hub_dispatch(struct adc_hub *h, struct adc_hub_queue *q);
/* Ends the waiting polls of agent a (all of q's when a is NULL), empty. */
void adc_hub_wake_agent_polls(struct adc_hub *h, struct adc_hub_queue *q, struct adc_hub_agent *a);
