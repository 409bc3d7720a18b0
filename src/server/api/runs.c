#include "api/runs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/auth.h"
#include "common/macros.h"
#include "common/wire.h"

/* "enabled": users unlocked (an update that re-activates them), counted apart from "updated"
 * as "disabled" counts the locks. */
const char *const adc_run_stat_keys[8] = {"created",   "updated", "deleted", "disabled",
                                          "unchanged", "skipped", "failed",  "enabled"};

/* The groups' counts of a run that syncs groups (docs/product.md section 10): shown only when
 * reported, so that runs without groups keep their shape. */
static const char *const group_stat_keys[] = {"groups_created", "groups_updated",
                                              "groups_deleted", "groups_failed",
                                              "members_added",  "members_removed"};

bool adc_run_trigger_valid(const char *trigger) {
    static const char *const known[] = {"manual", "schedule", "imp", "startup"};
    for (size_t i = 0; trigger && i < ADC_ARRAY_SIZE(known); i++)
        if (strcmp(trigger, known[i]) == 0)
            return true;
    return false;
}

int adc_run_create(struct adc_db *db, const char *app_id, const char *source, const char *trigger,
                   bool dry_run, const char *status, const char *actor, char run_id[static 40]) {
    struct adc_store_run r = {.dry_run = dry_run};
    snprintf(r.trigger, sizeof(r.trigger), "%s", trigger);
    adc_auth_uuid(r.run_id);
    snprintf(r.app_id, sizeof(r.app_id), "%s", app_id);
    snprintf(r.source, sizeof(r.source), "%s", source);
    snprintf(r.status, sizeof(r.status), "%s", status);
    adc_store_now(r.created);
    memcpy(r.updated, r.created, sizeof(r.updated));
    if (strcmp(status, ADC_RUN_RUNNING) == 0)
        memcpy(r.started, r.created, sizeof(r.started));
    int e = adc_store_run_insert(db, &r);
    if (e < 0)
        return e;
    char detail[120];
    snprintf(detail, sizeof(detail), "app_id=%s source=%s trigger=%s dry_run=%s", app_id, source,
             trigger, dry_run ? "true" : "false");
    e = adc_store_audit(db, actor, "run.create", r.run_id, detail);
    if (e < 0)
        return e;
    memcpy(run_id, r.run_id, 40);
    return 0;
}

/* A report's stats: known keys with non-negative integers. 0, or the status with why. */
static unsigned check_stats(const json_t *stats, char *why, size_t why_size) {
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)stats, key, v) {
        bool known = false;
        for (size_t i = 0; i < ADC_ARRAY_SIZE(adc_run_stat_keys); i++)
            known |= strcmp(key, adc_run_stat_keys[i]) == 0;
        for (size_t i = 0; i < ADC_ARRAY_SIZE(group_stat_keys); i++)
            known |= strcmp(key, group_stat_keys[i]) == 0;
        if (!known) {
            snprintf(why, why_size,
                     "unknown stats key '%.40s' (known: created updated deleted disabled "
                     "unchanged skipped failed enabled, and groups_created groups_updated "
                     "groups_deleted groups_failed members_added members_removed)",
                     key);
            return 400;
        }
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            snprintf(why, why_size, "stats.%s must be a non-negative integer", key);
            return 400;
        }
    }
    return 0;
}

/* A report's errors (strings; the first ADC_RUN_MAX_ERRORS kept, each cut to
 * ADC_RUN_MAX_ERROR_LEN) into *kept, and their count (error_count when given, at least their
 * number). 0, or the status with why. */
static unsigned read_errors(const json_t *report, const json_t *errors, json_t **kept_out,
                            json_int_t *count_out, char *why, size_t why_size) {
    if (errors && !json_is_array(errors)) {
        snprintf(why, why_size, "errors must be an array of strings");
        return 400;
    }
    json_t *kept = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(errors, i, v) {
        if (!json_is_string(v)) {
            json_decref(kept);
            snprintf(why, why_size, "errors must be an array of strings");
            return 400;
        }
        if (i < ADC_RUN_MAX_ERRORS)
            json_array_append_new(kept, json_stringn(json_string_value(v),
                                                     json_string_length(v) > ADC_RUN_MAX_ERROR_LEN
                                                         ? ADC_RUN_MAX_ERROR_LEN
                                                         : json_string_length(v)));
    }
    json_int_t count = (json_int_t)json_array_size(errors);
    json_t *ec = json_object_get(report, "error_count");
    if (ec) {
        if (!json_is_integer(ec) || json_integer_value(ec) < count) {
            json_decref(kept);
            snprintf(why, why_size,
                     "error_count must be an integer, at least the number of errors");
            return 400;
        }
        count = json_integer_value(ec);
    }
    *kept_out = kept;
    *count_out = count;
    return 0;
}

unsigned adc_run_apply_report(struct adc_store_run *run, const json_t *report, char *why,
                              size_t why_size) {
    const char *status = json_string_value(json_object_get(report, ADC_WIRE_STATUS));
    if (!status || !(strcmp(status, ADC_RUN_RUNNING) == 0 || adc_run_status_finished(status))) {
        snprintf(why, why_size, "status must be \"running\", \"succeeded\" or \"failed\"");
        return 400;
    }
    if (adc_run_status_finished(run->status)) {
        snprintf(why, why_size, "run %s has already %s", run->run_id, run->status);
        return 409;
    }
    json_t *stats = json_object_get(report, ADC_WIRE_STATS);
    if (stats && !json_is_object(stats)) {
        snprintf(why, why_size, "stats must be an object");
        return 400;
    }
    unsigned st = check_stats(stats, why, why_size);
    if (st)
        return st;
    json_t *errors = json_object_get(report, ADC_WIRE_ERRORS), *kept = NULL;
    json_int_t count = 0;
    if ((st = read_errors(report, errors, &kept, &count, why, why_size)) != 0)
        return st;
    char *stats_text = stats ? json_dumps(stats, JSON_COMPACT) : strdup("{}");
    char *errors_text = json_dumps(kept, JSON_COMPACT);
    json_decref(kept);
    if (!stats_text || !errors_text) {
        free(stats_text);
        free(errors_text);
        snprintf(why, why_size, "out of memory");
        return 500;
    }
    /* A report without stats or errors keeps the ones reported before. */
    if (stats) {
        free(run->stats);
        run->stats = stats_text;
    } else {
        free(stats_text);
    }
    if (errors) {
        free(run->errors);
        run->errors = errors_text;
        run->error_count = count;
    } else {
        free(errors_text);
    }
    snprintf(run->status, sizeof(run->status), "%s", status);
    adc_store_now(run->updated);
    if (!run->started[0])
        memcpy(run->started, run->updated, sizeof(run->started));
    if (adc_run_status_finished(status))
        memcpy(run->finished, run->updated, sizeof(run->finished));
    return 0;
}

static json_t *str_or_null(const char *s) { return s && *s ? json_string(s) : json_null(); }

json_t *adc_run_render(const struct adc_store_run *run) {
    json_t *stats = json_loads(run->stats, 0, NULL);
    json_t *full = json_object();
    /* Every key present, 0 when not reported, so clients need no special case. */
    for (size_t i = 0; i < ADC_ARRAY_SIZE(adc_run_stat_keys); i++) {
        json_t *v = json_object_get(stats, adc_run_stat_keys[i]);
        json_object_set_new(full, adc_run_stat_keys[i],
                            json_integer(json_is_integer(v) ? json_integer_value(v) : 0));
    }
    for (size_t i = 0; i < ADC_ARRAY_SIZE(group_stat_keys); i++) {
        json_t *v = json_object_get(stats, group_stat_keys[i]);
        if (json_is_integer(v))
            json_object_set_new(full, group_stat_keys[i], json_integer(json_integer_value(v)));
    }
    json_decref(stats);
    json_t *errors = json_loads(run->errors, 0, NULL);
    if (!json_is_array(errors)) {
        json_decref(errors);
        errors = json_array();
    }
    return json_pack(
        "{s:s,s:s,s:s,s:b,s:s,s:o,s:o,s:I,s:s,s:o,s:o,s:s,s:o,s:s}", ADC_WIRE_RUN_ID, run->run_id,
        "app_id", run->app_id, ADC_WIRE_SOURCE, run->source, ADC_WIRE_DRY_RUN, run->dry_run,
        ADC_WIRE_STATUS, run->status, ADC_WIRE_STATS, full, ADC_WIRE_ERRORS, errors, "error_count",
        (json_int_t)run->error_count, "created", run->created, "started", str_or_null(run->started),
        "finished", str_or_null(run->finished), "updated", run->updated, ADC_WIRE_AGENT_ID,
        str_or_null(run->agent_id), ADC_WIRE_TRIGGER, run->trigger[0] ? run->trigger : "manual");
}
