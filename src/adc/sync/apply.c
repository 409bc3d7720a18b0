#include "sync/apply.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/macros.h"
#include "cloud/scim-user.h"

/* Changes turned into SCIM writes at a time: several Bulk requests' worth, so that the round
 * trips stay few, while the JSON of 100,000 users is never built at once. */
#define SLICE 4000

/* id_buf holds the SCIM id's text when the cloud user keeps it as a UUID's bytes
 * (sync/cloud-users.h): it lives as long as the write. */
static int to_write(const struct adc_plan_change *c, const char *app_id, struct adc_scim_write *w,
                    char id_buf[ADC_UUID_TEXT], char ext_buf[ADC_DIR_UUID_TEXT]) {
    memset(w, 0, sizeof(*w));
    switch (c->op) {
    case ADC_PLAN_CREATE:
        w->kind = ADC_SCIM_CREATE;
        w->external_id = adc_plan_change_external_id(c, ext_buf);
        break;
    case ADC_PLAN_UPDATE: w->kind = ADC_SCIM_REPLACE; break;
    case ADC_PLAN_DISABLE: w->kind = ADC_SCIM_DISABLE; break;
    case ADC_PLAN_DELETE: w->kind = ADC_SCIM_DELETE; break;
    case ADC_PLAN_SKIP: return -EINVAL;
    }
    if (c->cloud)
        w->id = adc_cloud_user_id(c->cloud, id_buf);
    if (c->op == ADC_PLAN_CREATE || c->op == ADC_PLAN_UPDATE) {
        /* The whole resource: a PUT is idempotent, so a retry cannot do harm. The provider
         * extension names this configuration (explicit for a takeover). */
        struct adc_user view;
        char ext_buf[ADC_DIR_UUID_TEXT];
        adc_dir_user_view(c->dir, &view, ext_buf);
        if (!(w->resource = adc_scim_user_to_text(&view, c->active, app_id)))
            return -ENOMEM;
    }
    return 0;
}

/* Keeps the id of change i's user (see adc_apply_result.ids). 0 or -ENOMEM. */
static int keep_id(struct adc_apply_result *res, size_t n_changes, size_t i, const char *id) {
    if (!id) {
        res->n_ids_missing++;
        return 0;
    }
    if (!res->ids && (!(res->ids = calloc(n_changes, sizeof(*res->ids))) ||
                      !(res->id_kind = calloc(n_changes, 1))))
        return -ENOMEM;
    if (adc_uuid_parse(id, res->ids[i].uuid)) {
        res->id_kind[i] = 1;
        return 0;
    }
    if (!(res->ids[i].text = adc_arena_strndup(&res->id_texts, id, strlen(id))))
        return -ENOMEM;
    res->id_kind[i] = 2;
    return 0;
}

const char *adc_apply_result_id(const struct adc_apply_result *r, size_t i,
                                char buf[ADC_UUID_TEXT]) {
    if (!r->id_kind || !r->id_kind[i])
        return NULL;
    return r->id_kind[i] == 1 ? adc_uuid_format(r->ids[i].uuid, buf) : r->ids[i].text;
}

int adc_apply_plan(struct adc_scim *client, const struct adc_scim_limits *limits,
                   const struct adc_plan *plan, const char *app_id, adc_apply_progress_fn progress,
                   void *userdata, struct adc_apply_result *result, char **err) {
    struct adc_apply_result res = {
        .stats = {.unchanged = plan->stats.unchanged, .skipped = plan->stats.skipped},
    };
    struct adc_scim_write *w = calloc(SLICE, sizeof(*w));
    size_t *which = calloc(SLICE, sizeof(*which));
    char(*ids)[ADC_UUID_TEXT] = calloc(SLICE, sizeof(*ids));
    char(*exts)[ADC_DIR_UUID_TEXT] = calloc(SLICE, sizeof(*exts)); /* live as long as ids */
    int r = -ENOMEM;

    /* res.errors is made at the first failure: 8 bytes a change (8 MB at 1,000,000 creates)
     * that a run without failures never needs */
    if (!w || !which || !ids || !exts)
        goto out;
    size_t total = plan->n_changes - plan->stats.skipped, done = 0;
    size_t i = 0;
    int wr = 0;
    while (i < plan->n_changes) {
        size_t m = 0;
        for (; i < plan->n_changes && m < SLICE; i++) {
            const struct adc_plan_change *c = &plan->changes[i];
            if (c->op == ADC_PLAN_SKIP)
                continue;
            if ((r = to_write(c, app_id, &w[m], ids[m], exts[m])) < 0)
                goto out_slice;
            which[m++] = i;
        }
        if (m == 0)
            break;
        wr = adc_scim_write(client, limits, w, m, err);
        for (size_t k = 0; k < m; k++) {
            const struct adc_plan_change *c = &plan->changes[which[k]];
            /* A temporary step of a rename cycle is not a user: the user is counted by its
             * final update (which cannot succeed when this step failed). */
            if (w[k].done && w[k].existed) {
                /* A create whose user was there before this run: replaced, not created. */
                log_notice("%s was in the cloud already as this configuration's user: updated, "
                           "not created",
                           ADC_LOG_Q(c->user_name));
                res.stats.updated++;
                if (!res.existed)
                    res.existed = calloc(plan->n_changes, sizeof(bool));
                if (res.existed) /* else only the report's line for it says create */
                    res.existed[which[k]] = true;
            } else if (w[k].done) {
                if (!c->temporary)
                    adc_plan_stats_count(&res.stats, c);
            } else {
                if (!c->temporary)
                    res.stats.failed++;
                res.n_failed++;
                if (!res.errors && !(res.errors = calloc(plan->n_changes, sizeof(char *)))) {
                    r = -ENOMEM;
                    break;
                }
                res.errors[which[k]] = w[k].error ? TAKE_PTR(w[k].error) : strdup("not written");
            }
        }
        for (size_t k = 0; k < m && r >= 0; k++) {
            const struct adc_plan_change *c = &plan->changes[which[k]];
            if (!w[k].done || c->temporary)
                continue;
            if (c->op == ADC_PLAN_CREATE)
                r = keep_id(&res, plan->n_changes, which[k],
                            w[k].new_id ? w[k].new_id : w[k].found_id);
            else if (c->op == ADC_PLAN_UPDATE && (c->fields & ADC_FIELD_PROVIDER))
                r = keep_id(&res, plan->n_changes, which[k], w[k].id); /* a takeover */
        }
        done += m;
    out_slice:
        for (size_t k = 0; k < m; k++) {
            free((char *)w[k].resource); /* made by to_write */
            adc_scim_write_done(&w[k]);
        }
        if (r < 0)
            goto out;
        if (wr < 0) {
            /* Nothing more can be written; the rest is neither done nor tried. */
            res.aborted = true;
            r = wr;
            goto out;
        }
        if (progress && !progress(userdata, done, total) && i < plan->n_changes) {
            res.aborted = true;
            break;
        }
    }
    r = 0;
out:
    free(w);
    free(which);
    free(ids);
    free(exts);
    *result = res;
    return r;
}

void adc_apply_result_done(struct adc_apply_result *r, size_t n_changes) {
    if (!r)
        return;
    if (r->errors)
        for (size_t i = 0; i < n_changes; i++)
            free(r->errors[i]);
    free(r->errors);
    free(r->existed);
    free(r->ids);
    free(r->id_kind);
    adc_arena_done(&r->id_texts);
    memset(r, 0, sizeof(*r));
}
