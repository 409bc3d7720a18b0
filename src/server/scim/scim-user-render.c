/* A stored user as its SCIM resource (RFC 7643 section 4.1 with the provider extension): as a
 * JSON tree, or as text spliced from the stored attributes for listings. */
#include "scim/scim-user.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/json-util.h"

json_t *adc_scim_user_render(const struct adc_store_user *u, const char *base_url) {
    json_t *data = json_loads(u->data, 0, NULL);
    if (!json_is_object(data)) {
        json_decref(data);
        data = json_object();
    }
    json_t *res = json_object();
    json_t *schemas = json_pack("[s,s]", ADC_SCIM_SCHEMA_USER, ADC_SCIM_SCHEMA_PROVIDER);
    if (json_object_get(data, ADC_SCIM_SCHEMA_ENTERPRISE))
        json_array_append_new(schemas, json_string(ADC_SCIM_SCHEMA_ENTERPRISE));
    json_object_set_new(res, "schemas", schemas);
    json_object_set_new(res, "id", json_string(u->id));
    json_object_update(res, data);
    json_decref(data);
    /* The columns are the truth for the indexed attributes. */
    json_object_set_new(res, "userName", json_string(u->user_name));
    if (u->external_id)
        json_object_set_new(res, "externalId", json_string(u->external_id));
    json_object_set_new(res, "active", json_boolean(u->active));
    json_object_set_new(res, ADC_SCIM_SCHEMA_PROVIDER, json_pack("{s:s}", "provider", u->provider));
    char etag[32], location[512];
    adc_scim_etag(u->version, etag, sizeof(etag));
    snprintf(location, sizeof(location), "%s/scim/v2/Users/%s", base_url ? base_url : "", u->id);
    json_object_set_new(res, "meta",
                        json_pack("{s:s,s:s,s:s,s:s,s:s}", "resourceType", "User", "created",
                                  u->created, "lastModified", u->modified, "location", location,
                                  "version", etag));
    return res;
}

int adc_scim_user_render_text(const struct adc_store_user *u, const char *base_url, bool meta,
                              struct adc_buf *out) {
    /* The stored attributes are a compact JSON object written by us (adc_scim_user_check keeps
     * userName, externalId and active in it equal to the columns); splice its members in. */
    size_t dlen = strlen(u->data);
    if (dlen < 2 || u->data[0] != '{' || u->data[dlen - 1] != '}')
        return -EINVAL;
    adc_buf_puts(out,
                 "{\"schemas\":[\"" ADC_SCIM_SCHEMA_USER "\",\"" ADC_SCIM_SCHEMA_PROVIDER "\"");
    if (strstr(u->data, "\"" ADC_SCIM_SCHEMA_ENTERPRISE "\":"))
        adc_buf_puts(out, ",\"" ADC_SCIM_SCHEMA_ENTERPRISE "\"");
    adc_buf_puts(out, "],\"id\":");
    adc_json_append_string(out, u->id);
    if (dlen > 2) {
        adc_buf_puts(out, ",");
        adc_buf_append(out, u->data + 1, dlen - 2);
    }
    adc_buf_puts(out, ",\"" ADC_SCIM_SCHEMA_PROVIDER "\":{\"provider\":");
    adc_json_append_string(out, u->provider);
    if (!meta)
        return adc_buf_puts(out, "}}");
    adc_buf_printf(out,
                   "},\"meta\":{\"resourceType\":\"User\",\"created\":\"%s\",\"lastModified\":"
                   "\"%s\",\"location\":",
                   u->created, u->modified);
    char location[512];
    snprintf(location, sizeof(location), "%s/scim/v2/Users/%s", base_url ? base_url : "", u->id);
    adc_json_append_string(out, location);
    return adc_buf_printf(out, ",\"version\":\"W/\\\"%lld\\\"\"}}", (long long)u->version);
}
