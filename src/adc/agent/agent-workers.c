#include "agent/agent-workers.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloud/agent-api.h"
#include "directory/ldap-auth.h"
#include "common/log.h"
#include "common/macros.h"
#include "common/secret.h"
#include "common/wire.h"

/* A burst beyond this is answered "unavailable" at once instead of queueing for longer than any
 * login would wait (1000 checks/s is the target; the server's login timeout is seconds). */
#define QUEUE_MAX 4096

struct job {
    struct job *next;
    struct adc_agent_config *cfg;
    char *id;
    char *user_name;
    char *password; /* wiped on free */
};

struct worker {
    struct adc_workers *pool;
    pthread_t thread;
    struct adc_transport *ch;
    unsigned ch_generation;
    bool started;
};

struct adc_workers {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct job *head, *tail;
    size_t queued;
    bool stopping;
    unsigned n;
    struct worker *workers;
};

static void job_free(struct job *j) {
    if (!j)
        return;
    adc_agent_config_unref(j->cfg);
    free(j->id);
    free(j->user_name);
    adc_secret_free(j->password);
    free(j);
}

static const char *outcome_word(enum adc_auth_outcome o) {
    switch (o) {
    case ADC_AUTH_ACCEPTED: return ADC_OUTCOME_ACCEPTED;
    case ADC_AUTH_DENIED: return ADC_OUTCOME_DENIED;
    case ADC_AUTH_UNAVAILABLE: return ADC_OUTCOME_UNAVAILABLE;
    }
    return ADC_OUTCOME_UNAVAILABLE;
}

static void run_job(struct worker *w, struct job *j) {
    char *reason = NULL;
    enum adc_auth_outcome o;

    /* docs/product.md section 5: an empty password would be an anonymous bind that "succeeds". The
     * LDAP layer refuses it too; refusing here as well costs nothing. */
    if (!j->password || j->password[0] == '\0') {
        o = ADC_AUTH_DENIED;
        reason = strdup("empty password");
    } else {
        o = adc_ldap_check_password(&j->cfg->yaml->ldap, j->user_name, j->password, &reason);
    }
    adc_secret_free(j->password);
    j->password = NULL;
    log_info("password check for '%s': %s%s%s%s", j->user_name, outcome_word(o),
             reason ? " (" : "", reason ? reason : "", reason ? ")" : "");

    /* A reload may have changed the server or the secret: answer on a client for the config
     * this check ran with. */
    if (!w->ch || w->ch_generation != j->cfg->generation) {
        adc_transport_free(w->ch);
        w->ch = NULL;
        if (adc_transport_new(j->cfg->service, NULL, &w->ch, NULL) < 0) {
            log_error("cannot answer command %s: out of memory", j->id);
            free(reason);
            return;
        }
        w->ch_generation = j->cfg->generation;
    }
    int st = adc_agent_api_post_result(w->ch, j->id, outcome_word(o), reason);
    if (st >= 0 && st != 204 && st != 200)
        log_warning("the server answered %d to the result of command %s", st, j->id);
    free(reason);
}

static void *worker_main(void *userdata) {
    struct worker *w = userdata;
    struct adc_workers *p = w->pool;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        while (!p->head && !p->stopping)
            pthread_cond_wait(&p->cond, &p->lock);
        struct job *j = p->head;
        if (!j) { /* stopping and drained */
            pthread_mutex_unlock(&p->lock);
            break;
        }
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        p->queued--;
        pthread_mutex_unlock(&p->lock);
        run_job(w, j);
        job_free(j);
    }
    adc_transport_free(w->ch);
    w->ch = NULL;
    return NULL;
}

int adc_workers_new(unsigned n, struct adc_workers **ret) {
    if (n == 0 || n > 64)
        return -EINVAL;
    struct adc_workers *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->workers = calloc(n, sizeof(*p->workers));
    if (!p->workers) {
        adc_workers_free(p);
        return -ENOMEM;
    }
    p->n = n;
    for (unsigned i = 0; i < n; i++) {
        p->workers[i].pool = p;
        int e = pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i]);
        if (e != 0) {
            adc_workers_free(p);
            return -e;
        }
        p->workers[i].started = true;
    }
    *ret = p;
    return 0;
}

int adc_workers_submit(struct adc_workers *p, struct adc_agent_config *cfg, const char *command_id,
                       const char *user_name, const char *password) {
    struct job *j = calloc(1, sizeof(*j));
    if (!j)
        return -ENOMEM;
    j->id = strdup(command_id);
    j->user_name = strdup(user_name);
    j->password = strdup(password);
    if (!j->id || !j->user_name || !j->password) {
        job_free(j);
        return -ENOMEM;
    }
    j->cfg = adc_agent_config_ref(cfg);

    pthread_mutex_lock(&p->lock);
    if (p->queued >= QUEUE_MAX || p->stopping) {
        pthread_mutex_unlock(&p->lock);
        job_free(j);
        return -EAGAIN;
    }
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    p->queued++;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    return 0;
}

void adc_workers_free(struct adc_workers *p) {
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < p->n; i++)
        if (p->workers[i].started)
            pthread_join(p->workers[i].thread, NULL);
    /* Threads drain the queue before they stop; anything left means none ever started. */
    while (p->head) {
        struct job *j = p->head;
        p->head = j->next;
        job_free(j);
    }
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p->workers);
    free(p);
}
