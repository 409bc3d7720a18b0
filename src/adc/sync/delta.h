/* One live change of the directory written to the cloud (docs/product.md section 9): the same
 * rules as a full sync (section 4 and every setting, the server's settings winning), through the
 * same pure plan (plan.c) built for one user, and targeted SCIM requests: the cloud state of that
 * user is fetched by externalId (and userName), never by listing every user.
 *
 * What a single change cannot see is left to the next full sync, which enumerates everything:
 *   - a present change never deletes or disables anyone (in the plan of one user, every other
 *     user of the configuration looks unclaimed);
 *   - a userName held by another user of this configuration is skipped (a rename still in
 *     flight, or two entries sharing a name: rule 8 needs the whole directory);
 *   - deletes beyond max-delete within DELTA_BURST_WINDOW pause live deletes until a full sync
 *     succeeds (rule 6 for live changes).
 * Not thread-safe: one delta per watcher thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

struct adc_delta;

/* The window of the live mass-delete guard, in seconds. */
#define ADC_DELTA_BURST_WINDOW 600

/* What the last change did, for logs and the console ("update 'alice@example.org'"). */
struct adc_delta_outcome {
    bool wrote;        /* a write was made in the cloud */
    bool paused;       /* a delete held back by the burst guard */
    bool created;      /* the write created a user (its memberships follow: group-delta.h) */
    char summary[300]; /* empty when nothing was to be done */
};

/* Creates the delta of one configuration snapshot (yaml and service are lent and must outlive
 * it). Returns 0, or a negative errno with *err. */
int adc_delta_new(const struct adc_yaml_config *yaml, const struct adc_service_config *service,
                  struct adc_delta **ret, char **err);
void adc_delta_free(struct adc_delta *d);

/* Reads the server's settings (GET /api/v1/agent/config): call before each batch of changes, so
 * that a setting changed on the server (dry-run, no-delete, ...) holds from the next batch. */
int adc_delta_begin(struct adc_delta *d, char **err);

/* The number of users of this configuration at the last full sync: a percentage max-delete is
 * resolved against it. 0 = unknown (then a percentage allows no live delete). */
void adc_delta_set_owned(struct adc_delta *d, size_t n_owned);
/* A full sync succeeded: live deletes held back by the burst guard may flow again. */
void adc_delta_resume_deletes(struct adc_delta *d);
bool adc_delta_deletes_paused(const struct adc_delta *d);

/* The entry `dn` was added, modified or renamed (or, with in_scope false, may have left the
 * sync filter: then it is handled as a delete of its identity when it no longer matches).
 * Returns 0 when the change was handled (written, or nothing to do, or refused by a rule or by
 * the server for this user: logged), or a negative errno with *err when it could not be handled
 * now and must be tried again (the directory or the cloud unreachable: -EAGAIN). */
int adc_delta_entry(struct adc_delta *d, const char *dn, bool in_scope,
                    struct adc_delta_outcome *out, char **err);

/* The entry with syncUUID `uuid` (16 bytes, RFC 4533) was deleted or left the sync filter. Its
 * cloud user is found by externalId in either form the directory uses for those bytes
 * (entryUUID 8-4-4-4-12, 389's nsUniqueId 8-8-8-8). Same returns as adc_delta_entry. */
int adc_delta_delete_uuid(struct adc_delta *d, const unsigned char uuid[16],
                          struct adc_delta_outcome *out, char **err);
/* The same for a known externalId (an entry read by the poll watcher outside the filter). */
int adc_delta_delete_id(struct adc_delta *d, const char *external_id, struct adc_delta_outcome *out,
                        char **err);

/* syncUUID bytes as entryUUID text ("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", lower case) and as
 * 389-ds nsUniqueId text ("xxxxxxxx-xxxxxxxx-xxxxxxxx-xxxxxxxx"). */
void adc_delta_uuid_forms(const unsigned char uuid[16], char entry_uuid[37], char ns_unique_id[36]);
