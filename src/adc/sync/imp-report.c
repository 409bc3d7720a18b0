/* What `adc imp` reports of a finished run: the groups' summary line, the JSON of
 * `adc imp --json`, and the stats, settings and errors a run record carries (the same keys). */
#include "sync/imp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json-util.h"
#include "common/macros.h"
#include "common/wire.h"

char *adc_imp_groups_summary(const struct adc_imp_result *r) {
    const struct adc_group_sync *g = &r->groups;
    if (!g->have_plan)
        return NULL;
    const struct adc_group_plan *p = &g->plan;
    bool done = r->applied && !r->dry_run;
    char *s = NULL;
    if (asprintf(&s,
                 "%s: created %zu, updated %zu, deleted %zu, unchanged %zu, skipped %zu, failed "
                 "%zu; members added %zu, removed %zu; %zu member values name no synced user or "
                 "group%s%s%s; %zu in cycles%s%s",
                 done         ? "Groups"
                 : r->dry_run ? "Groups (dry run, would be)"
                              : "Groups (planned)",
                 done ? g->created : p->created, done ? g->updated : p->updated,
                 done ? g->deleted : p->deleted, p->unchanged, p->skipped, g->failed,
                 done ? g->members_added : p->members_added,
                 done ? g->members_removed : p->members_removed, p->unresolved + g->not_synced,
                 p->n_examples ? " (e.g. '" : "", p->n_examples ? p->examples[0] : "",
                 p->n_examples ? "')" : "", p->in_cycles, p->cycle_example ? ", e.g. " : "",
                 p->cycle_example ? p->cycle_example : "") < 0)
        return NULL;
    return s;
}

json_t *adc_imp_stats_json(const struct adc_plan_stats *s) {
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "created", (json_int_t)s->created,
                     "updated", (json_int_t)s->updated, "deleted", (json_int_t)s->deleted,
                     "disabled", (json_int_t)s->disabled, "enabled", (json_int_t)s->enabled,
                     "unchanged", (json_int_t)s->unchanged, "skipped", (json_int_t)s->skipped,
                     "failed", (json_int_t)s->failed);
}

json_t *adc_imp_settings_json(const struct adc_imp_result *r) {
    json_t *o = json_object();
    for (int i = 0; o && i < ADC_SETTING_COUNT; i++)
        json_object_set_new(o, adc_setting_name(i), json_boolean(r->settings.value[i]));
    return o;
}

/* Change i as one line of `adc imp --json`: {"op","userName","externalId","reason"}, with its
 * failure when it failed. Written as text: 100,000 of them need no tree of values. */
static void change_text(const struct adc_imp_result *r, size_t i, struct adc_buf *t) {
    const struct adc_plan_change *c = &r->plan.changes[i];
    const char *e = r->apply.errors ? r->apply.errors[i] : NULL;
    bool existed = r->apply.existed && r->apply.existed[i];
    char buf[512];
    adc_plan_change_describe(c, buf, sizeof(buf));
    if (existed) /* a create that found its user there already (sync/apply.h) */
        snprintf(buf, sizeof(buf), "it was in the cloud already as this configuration's user");
    adc_buf_puts(t, "{\"op\":\"");
    adc_buf_puts(t, existed ? adc_plan_op_name(ADC_PLAN_UPDATE) : adc_plan_op_name(c->op));
    adc_buf_puts(t, "\",\"userName\":");
    adc_json_append_string(t, c->user_name);
    adc_buf_puts(t, ",\"externalId\":");
    char ext_buf[ADC_DIR_UUID_TEXT];
    adc_json_append_string(t, adc_plan_change_external_id(c, ext_buf));
    adc_buf_puts(t, ",\"reason\":");
    /* A failed change says why it failed; an entry without a name says which entry. */
    _cleanup_free_ char *text = NULL;
    int k = e                        ? asprintf(&text, "failed: %s", e)
            : !c->user_name && c->dn ? asprintf(&text, "%s%sentry %s", buf, *buf ? "; " : "", c->dn)
            : *buf                   ? asprintf(&text, "%s", buf)
                                     : 0;
    if (k < 0)
        text = NULL;
    adc_json_append_string(t, text);
    adc_buf_puts(t, "}");
}

json_t *adc_imp_errors_json(const struct adc_imp_result *r, size_t max) {
    json_t *a = json_array();
    size_t n = 0, more = 0;
    if (a && r->error)
        json_array_append_new(a, json_string(r->error));
    for (size_t i = 0; a && r->apply.errors && i < r->plan.n_changes; i++) {
        const char *e = r->apply.errors[i];
        if (!e)
            continue;
        if (n++ >= max) {
            more++;
            continue;
        }
        const struct adc_plan_change *c = &r->plan.changes[i];
        char *m = NULL;
        if (asprintf(&m, "%s '%s': %s", adc_plan_op_name(c->op), c->user_name ? c->user_name : "?",
                     e) >= 0) {
            json_array_append_new(a, json_string(m));
            free(m);
        }
    }
    if (a && more) {
        char m[64];
        snprintf(m, sizeof(m), "... and %zu more failed users", more);
        json_array_append_new(a, json_string(m));
    }
    return a;
}

/* The "groups" object of `adc imp --json`: planned counts, and what was done. */
static json_t *groups_json(const struct adc_imp_result *r) {
    const struct adc_group_sync *g = &r->groups;
    if (!g->have_plan)
        return NULL;
    const struct adc_group_plan *p = &g->plan;
    json_t *ex = json_array();
    for (size_t i = 0; ex && i < p->n_examples; i++)
        json_array_append_new(ex, json_string(p->examples[i]));
    bool done = r->applied && !r->dry_run;
    return json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:I,s:I}", "created",
        (json_int_t)(done ? g->created : p->created), "updated",
        (json_int_t)(done ? g->updated : p->updated), "deleted",
        (json_int_t)(done ? g->deleted : p->deleted), "unchanged", (json_int_t)p->unchanged,
        "skipped", (json_int_t)p->skipped, "failed", (json_int_t)g->failed, "members_added",
        (json_int_t)(done ? g->members_added : p->members_added), "members_removed",
        (json_int_t)(done ? g->members_removed : p->members_removed), "members_not_synced",
        (json_int_t)(p->unresolved + g->not_synced), "examples", ex ? ex : json_array(),
        "in_cycles", (json_int_t)p->in_cycles, "patch_bytes", (json_int_t)g->patch_bytes);
}

/* Streamed: the changes of 100,000 users as one jansson tree would take more memory than the
 * users themselves. One change per line. */
int adc_imp_write_json(FILE *f, const struct adc_imp_result *r) {
    json_t *settings = adc_imp_settings_json(r), *stats = adc_imp_stats_json(&r->stats);
    int ok = settings && stats;
    ok = ok &&
         fprintf(f, "{\n  \"dry_run\": %s,\n  \"settings\": ", r->dry_run ? "true" : "false") > 0;
    ok = ok && json_dumpf(settings, f, JSON_COMPACT) == 0;
    ok = ok && fputs(",\n  \"stats\": ", f) >= 0;
    ok = ok && json_dumpf(stats, f, JSON_COMPACT) == 0;
    json_t *groups = groups_json(r);
    if (groups) {
        ok = ok && fputs(",\n  \"groups\": ", f) >= 0;
        ok = ok && json_dumpf(groups, f, JSON_COMPACT) == 0;
        json_decref(groups);
    }
    ok = ok && fputs(",\n  \"changes\": [", f) >= 0;
    json_decref(settings);
    json_decref(stats);
    struct adc_buf t = {0};
    for (size_t i = 0; ok && i < r->plan.n_changes; i++) {
        adc_buf_clear(&t); /* one buffer for every line */
        adc_buf_puts(&t, i ? ",\n    " : "\n    ");
        change_text(r, i, &t);
        ok = !t.failed && fwrite(t.data, 1, t.len, f) == t.len;
    }
    /* The groups' changes follow the users': {"op", "group", "externalId", "added",
     * "removed", "rename"} (docs/product.md section 10). */
    const struct adc_group_plan *gp = &r->groups.plan;
    for (size_t i = 0; ok && r->groups.have_plan && i < gp->n_changes; i++) {
        static const char *const ops[] = {"create", "update", "delete", "unchanged"};
        const struct adc_group_change *c = &gp->changes[i];
        adc_buf_clear(&t);
        adc_buf_puts(&t, i || r->plan.n_changes ? ",\n    " : "\n    ");
        adc_buf_printf(&t, "{\"op\":\"%s\",\"group\":", ops[c->op]);
        adc_json_append_string(&t, c->name);
        adc_buf_puts(&t, ",\"externalId\":");
        adc_json_append_string(&t, c->external_id);
        adc_buf_printf(&t, ",\"added\":%zu,\"removed\":%zu,\"rename\":%s}", c->n_add, c->n_remove,
                       c->rename ? "true" : "false");
        ok = !t.failed && fwrite(t.data, 1, t.len, f) == t.len;
    }
    adc_buf_done(&t);
    bool any = r->plan.n_changes || (r->groups.have_plan && gp->n_changes);
    ok = ok && fputs(any ? "\n  ]\n}\n" : "]\n}\n", f) >= 0;
    return ok ? 0 : -EIO;
}
