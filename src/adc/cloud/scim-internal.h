/* What the parts of the SCIM client share (scim-client.c, scim-list.c, scim-write.c,
 * scim-bulk.c); not for use outside src/adc/cloud. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "cloud/scim-client.h"
#include "cloud/transport.h"
#include "common/macros.h"

struct adc_scim {
    struct adc_transport *http;     /* requests in order; settles conflicts */
    struct adc_transport *prefetch; /* a second connection: the next page while this one parses */
    struct adc_transport *bulk2;    /* a third: a second Bulk of creates beside the first */
};

/* Rounds for the operations of a Bulk answer that failed transiently (429, 5xx). */
#define ADC_SCIM_OP_ATTEMPTS 5

/* A request safe to repeat, on connection h, whose answer must be 2xx JSON (or 204). Returns 0
 * with *out (a new reference, NULL for 204), or -EACCES / -EIO / -EBADMSG / the transport's
 * errno with *err. */
int adc_scim_call_json(struct adc_scim *s, struct adc_transport *h, const char *method,
                       const char *path, const char *body, json_t **out, char **err);

/* `attr eq "value"` with the value a string literal by JSON string rules (RFC 7644 section
 * 3.4.2.2). A new string, NULL when out of memory. */
char *adc_scim_filter_eq(const char *attr, const char *value);

/* scim-write.c: one write's request and the settling of its answer. */
enum adc_scim_outcome {
    ADC_SCIM_OUT_DONE,
    ADC_SCIM_OUT_FAILED,
    ADC_SCIM_OUT_RETRY,
    ADC_SCIM_OUT_CONFLICT,
};
const char *adc_scim_method_of(enum adc_scim_write_kind k);
/* The path (relative to /scim/v2, new string) and the body (lent; NULL for a delete) of one
 * write. Returns 0, -EINVAL (no body where one is needed) or -ENOMEM. */
int adc_scim_describe_write(const struct adc_scim_write *w, char **path, const char **body);
/* What an answer of `status` means for w; sets w->error for a failure. */
enum adc_scim_outcome adc_scim_classify(struct adc_scim_write *w, long status, const char *detail);
/* Settles a write by its outcome; a conflict is settled by adc_scim_created_before. */
void adc_scim_settle(struct adc_scim_write *w, enum adc_scim_outcome o, long status);
/* Marks a write not done with `why`, unless it is done or failed already. */
void adc_scim_fail_write(struct adc_scim_write *w, const char *why);
/* A create w was done: keeps its new id (the last path segment of location, or the whole
 * text when it has no '/') in w->new_id; nothing when absent or longer than any id. */
#define ADC_SCIM_NEW_ID_MAX 255
void adc_scim_note_new_id(struct adc_scim_write *w, const char *location);
void adc_scim_conflict_failed(struct adc_scim_write *w, const char *detail);
/* After creates got 409: sets ours[k] (and w[pos[k]].found_id) when w[pos[k]]'s externalId is
 * a user of ours already. */
void adc_scim_created_before(struct adc_scim *s, struct adc_scim_write *w, const size_t *pos,
                             size_t n, bool *ours);
/* Settles a create that adc_scim_created_before found ours (docs/product.md section 4 rule 1):
 * done when an earlier attempt of this run may have written it (w->sent_before); else the user
 * was there before this run, and w becomes a replace of it (w->existed). Returns true when w
 * must be sent again (as that replace). */
bool adc_scim_settle_ours(struct adc_scim_write *w);

/* scim-bulk.c: adc_scim_write through Bulk requests. */
int adc_scim_write_bulk(struct adc_scim *s, const struct adc_scim_limits *limits,
                        struct adc_scim_write *w, size_t n, char **err);
