/* Where live changes resume after a restart (docs/product.md section 9): the watcher's position
 * (a syncrepl cookie, a modifyTimestamp, a highest uSNChanged with the DC's invocationId) in a
 * file under state_dir (adc.cfg), written atomically (temporary file, fsync, rename) and only
 * after the cloud accepted the change it follows.
 *
 * The file names what it belongs to (Application ID, directory address, base DN, scope, sync
 * filter, watcher): a file made for anything else is outdated. A missing, unreadable, corrupt or
 * outdated file is never guessed from: the caller runs a full sync instead, so no delete is ever
 * derived from a bad position. */
#pragma once

#include <stddef.h>

#include "config/config.h"

struct adc_live_state {
    char *watch;         /* "syncrepl", "poll", "usn" */
    char *position;      /* the watcher's own text (hex cookie, timestamp, USN) */
    char *invocation_id; /* usn: the DC's invocationId; else NULL */
    size_t n_owned;      /* this configuration's users at the last full sync (max-delete %) */
};

void adc_live_state_done(struct adc_live_state *s);

/* The state file's path for this configuration (a new string), or NULL when out of memory. */
char *adc_live_state_path(const struct adc_service_config *service);

/* 0 with *out filled; -ENOENT (no file), or -EINVAL with *why (a new string) when the file is
 * unreadable, corrupt, of another version, or made for another configuration or watcher. */
int adc_live_state_load(const struct adc_service_config *service,
                        const struct adc_yaml_config *yaml, const char *watch,
                        struct adc_live_state *out, char **why);

/* Writes the state atomically. 0, or a negative errno with *err. */
int adc_live_state_save(const struct adc_service_config *service,
                        const struct adc_yaml_config *yaml, const struct adc_live_state *st,
                        char **err);

/* Removes the file (a position the directory refused). 0 or a negative errno. */
int adc_live_state_remove(const struct adc_service_config *service);
