/* What delta.c shares with group-delta.c (the live changes of users and of groups, one
 * configuration snapshot, one thread); not for use outside src/adc/sync. */
#pragma once

#include <ldap.h>
#include <stdbool.h>
#include <stddef.h>

#include "cloud/scim-client.h"
#include "common/settings.h"
#include "sync/settings-merge.h"
#include "sync/delta.h"

struct adc_group_graph; /* group-delta.c */

struct adc_delta {
    const struct adc_yaml_config *yaml;
    const struct adc_service_config *service;
    struct adc_scim *client;
    struct adc_scim_limits limits;
    bool have_limits;
    char *app_id; /* as the server names this configuration */
    struct adc_effective_settings settings;
    bool have_settings;
    LDAP *ld; /* bound as bind_dn; opened when first needed, again after a failure */
    /* The live mass-delete guard: when the recent deletes (and disables) happened. */
    double *recent;
    size_t n_recent, cap_recent;
    bool paused;
    size_t n_owned;
    /* backend.ldap.groups: the group graph of live membership changes (group-delta.c); NULL
     * until seeded. */
    struct adc_group_graph *groups;
};

/* The directory connection, opened (or opened again) as bind_dn: d->ld. 0 or a negative errno
 * with *err. */
int adc_delta_directory(struct adc_delta *d, char **err);
/* The connection failed: the next adc_delta_directory opens a new one. */
void adc_delta_directory_lost(struct adc_delta *d);
/* The live mass-delete guard (rule 6), users and groups together: true when n more deletes fit
 * in the window; adc_delta_burst_note records n deletes made. */
bool adc_delta_burst_allows(struct adc_delta *d, size_t n);
int adc_delta_burst_note(struct adc_delta *d, size_t n);
/* Says the guard paused live deletes (logs once). */
void adc_delta_burst_pause(struct adc_delta *d);
