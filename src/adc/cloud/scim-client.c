/* The SCIM client of a sync (RFC 7644): its connections to adc-server and the server's Bulk
 * limits. The listing is in scim-list.c, the writes in scim-write.c and scim-bulk.c. */
#include "cloud/scim-client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloud/scim-internal.h"
#include "common/buf.h"
#include "common/macros.h"
#include "common/wire.h"

int adc_scim_new(const struct adc_service_config *svc, struct adc_scim **ret, char **err) {
    struct adc_scim *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    int r = adc_transport_new(svc, NULL, &s->http, err);
    if (r >= 0)
        r = adc_transport_new(svc, NULL, &s->prefetch, err);
    if (r >= 0)
        r = adc_transport_new(svc, NULL, &s->bulk2, err);
    if (r < 0) {
        adc_scim_free(s);
        return r;
    }
    *ret = s;
    return 0;
}

void adc_scim_set_attempts(struct adc_scim *s, int attempts) {
    adc_transport_set_attempts(s->http, attempts);
    adc_transport_set_attempts(s->prefetch, attempts);
    adc_transport_set_attempts(s->bulk2, attempts);
}

struct adc_transport *adc_scim_transport(struct adc_scim *s) {
    return s->http;
}

void adc_scim_free(struct adc_scim *s) {
    if (!s)
        return;
    adc_transport_free(s->http);
    adc_transport_free(s->prefetch);
    adc_transport_free(s->bulk2);
    free(s);
}

int adc_scim_call_json(struct adc_scim *s, struct adc_transport *h, const char *method,
                       const char *path, const char *body, json_t **out, char **err) {
    (void)s;
    struct adc_transport_reply resp;
    json_t *j = NULL;
    int r = adc_transport_request_retry(h, method, path, body, body ? strlen(body) : 0, 0, &resp);
    if (r < 0) {
        if (err)
            *err = TAKE_PTR(resp.error);
        goto out;
    }
    if (resp.status < 200 || resp.status > 299) {
        adc_transport_status_error(h, method, path, &resp, err);
        r = adc_transport_status_errno(resp.status);
        goto out;
    }
    j = adc_transport_reply_json(&resp);
    if (!j && resp.status != 204) {
        adc_set_error(err, "%s %s%s: the answer is not JSON", method, adc_transport_url(h), path);
        r = -EBADMSG;
        goto out;
    }
    *out = TAKE_PTR(j);
    r = 0;
out:
    adc_transport_reply_done(&resp);
    return r;
}

/* The most adc puts in one Bulk request, whatever a server allows (adc-server: 1,000 and 4 MiB). */
#define BULK_MAX_OPERATIONS 10000
#define BULK_MAX_PAYLOAD (64 * 1024 * 1024)

int adc_scim_call(struct adc_scim *s, const char *method, const char *path, const char *body,
                  json_t **out, char **err) {
    *out = NULL;
    return adc_scim_call_json(s, s->http, method, path, body, out, err);
}

int adc_scim_get_limits(struct adc_scim *s, struct adc_scim_limits *out, char **err) {
    json_t *j = NULL;
    int r = adc_scim_call_json(s, s->http, "GET", ADC_WIRE_SCIM_SPC, NULL, &j, err);
    if (r < 0)
        return r;
    const json_t *bulk = json_object_get(j, "bulk");
    json_int_t ops = json_integer_value(json_object_get(bulk, "maxOperations"));
    json_int_t payload = json_integer_value(json_object_get(bulk, "maxPayloadSize"));
    /* The server's word sizes our buffers (an array per Bulk request of max_operations):
     * never more than we would send anyway, whatever it advertises. */
    if (ops > BULK_MAX_OPERATIONS)
        ops = BULK_MAX_OPERATIONS;
    if (payload > BULK_MAX_PAYLOAD)
        payload = BULK_MAX_PAYLOAD;
    *out = (struct adc_scim_limits){
        .bulk = json_is_true(json_object_get(bulk, "supported")) && ops > 0 && payload > 1024,
        .max_operations = ops > 0 ? (size_t)ops : 1,
        .max_payload = payload > 0 ? (size_t)payload : 0,
    };
    json_decref(j);
    return 0;
}
