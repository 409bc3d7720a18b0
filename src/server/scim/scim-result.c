/* The frame of every SCIM operation (users, groups, Bulk): its outcome (status, error detail,
 * resource), entity tags, and what the calling client may do (the sync configuration's
 * server-side settings, docs/product.md section 6; the provider an administrator names). */
#include "scim/scim-result.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "store/store-configs.h"

#define fail adc_scim_fail

void adc_scim_result_done(struct adc_scim_result *r) {
    if (!r)
        return;
    json_decref(r->resource);
    memset(r, 0, sizeof(*r));
}

int adc_scim_fail(struct adc_scim_result *r, unsigned status, const char *scim_type,
                  const char *fmt, ...) {
    r->status = status;
    r->scim_type = scim_type;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
    va_end(ap);
    return -1;
}

json_t *adc_scim_result_error(const struct adc_scim_result *r) {
    char status[8];
    snprintf(status, sizeof(status), "%u", r->status);
    json_t *j = json_pack("{s:[s],s:s,s:s}", "schemas", ADC_SCIM_SCHEMA_ERROR, "status", status,
                          "detail", r->detail);
    if (r->scim_type)
        json_object_set_new(j, "scimType", json_string(r->scim_type));
    return j;
}

void adc_scim_etag(int64_t version, char *buf, size_t size) {
    snprintf(buf, size, "W/\"%lld\"", (long long)version);
}

bool adc_scim_etag_matches(const char *if_match, int64_t version) {
    if (!if_match)
        return true;
    char want[32];
    snprintf(want, sizeof(want), "\"%lld\"", (long long)version);
    /* A list of entity tags, weak or strong: compare the quoted part. */
    const char *p = if_match;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == '*')
            return true;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        size_t n = strcspn(p, ",");
        while (n > 0 && p[n - 1] == ' ')
            n--;
        if (n == strlen(want) && strncmp(p, want, n) == 0)
            return true;
        p += strcspn(p, ",");
    }
    return false;
}

bool adc_scim_setting_on(const struct adc_principal *who, enum adc_setting s) {
    /* Unset means the client decides (docs/product.md section 6): the server then refuses nothing
     * on that setting's account. For no-update-provider-mismatch this lets the client's own setting
     * (adc.yaml) decide the takeover of a `local` user: its plan writes one only when that setting
     * is false there. New configurations start with it true (docs/product.md section 11). */
    return who->settings[s] == ADC_TRUE;
}

int adc_scim_enforce(struct adc_scim_ctx *ctx, const char *what, enum adc_setting s,
                     struct adc_scim_result *r) {
    if (ctx->who->kind != ADC_PRINCIPAL_SYNC)
        return 0;
    if (adc_scim_setting_on(ctx->who, ADC_SETTING_DRY_RUN))
        return fail(r, 403, NULL,
                    "sync configuration %s is dry-run only (server setting dry-run=true): "
                    "%s refused, nothing changed",
                    ctx->who->app_id, what);
    if ((int)s >= 0 && adc_scim_setting_on(ctx->who, s))
        return fail(r, 403, NULL, "server setting %s=true of sync configuration %s: %s refused",
                    adc_setting_name(s), ctx->who->app_id, what);
    return 0;
}

int adc_scim_check_provider(struct adc_scim_ctx *ctx, const char *provider,
                            struct adc_scim_result *r) {
    if (strcmp(provider, ADC_PROVIDER_LOCAL) == 0)
        return 0;
    struct adc_store_config c;
    int e = adc_store_config_get(ctx->db, provider, &c, NULL);
    if (e == 0) {
        adc_store_config_done(&c);
        return 0;
    }
    if (e == -ENOENT)
        return fail(r, 400, "invalidValue",
                    "provider '%s' is neither 'local' nor the app_id of a sync configuration",
                    provider);
    return fail(r, 500, NULL, "database error");
}
