/* attributes and excludedAttributes (RFC 7644 section 3.9): which attributes of a resource a
 * listing or a read returns. */
#include "scim/scim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scim/scim-attrs.h"

void adc_scim_projection_done(struct adc_scim_projection *p) {
    if (p->attrs)
        for (char **a = p->attrs; *a; a++)
            free(*a);
    free(p->attrs);
}

int adc_scim_projection_parse(const char *list, bool exclude, struct adc_scim_projection *p) {
    memset(p, 0, sizeof(*p));
    p->exclude = exclude;
    if (!list || !*list)
        return 0;
    size_t n = 1;
    for (const char *c = list; *c; c++)
        n += *c == ',';
    if (n > 100)
        return -EINVAL;
    p->attrs = calloc(n + 1, sizeof(char *));
    if (!p->attrs)
        return -ENOMEM;
    size_t k = 0;
    for (const char *c = list; *c;) {
        size_t len = strcspn(c, ",");
        char *name = strndup(c, len);
        if (!name)
            return -ENOMEM;
        /* Strip the core URN; keep extension URNs whole; cut sub-attributes. */
        char *s = name;
        while (*s == ' ')
            s++;
        if (strncasecmp(s, ADC_SCIM_SCHEMA_USER ":", strlen(ADC_SCIM_SCHEMA_USER) + 1) == 0)
            s += strlen(ADC_SCIM_SCHEMA_USER) + 1;
        else if (strncasecmp(s, ADC_SCIM_SCHEMA_GROUP ":", strlen(ADC_SCIM_SCHEMA_GROUP) + 1) == 0)
            s += strlen(ADC_SCIM_SCHEMA_GROUP) + 1;
        if (strncasecmp(s, "urn:", 4) == 0) {
            char *colon = strrchr(s, ':');
            if (colon && strcasecmp(s, ADC_SCIM_SCHEMA_PROVIDER) != 0 &&
                strcasecmp(s, ADC_SCIM_SCHEMA_GROUP_PROVIDER) != 0 &&
                strcasecmp(s, ADC_SCIM_SCHEMA_ENTERPRISE) != 0)
                *colon = '\0';
        } else {
            s[strcspn(s, ". ")] = '\0';
        }
        p->attrs[k++] = strdup(s);
        free(name);
        c += len;
        if (*c == ',')
            c++;
    }
    return 0;
}

bool adc_scim_projection_wants(const struct adc_scim_projection *p, const char *name) {
    if (!p->attrs)
        return true;
    bool listed = false;
    for (char **a = p->attrs; *a; a++)
        if (strcasecmp(*a, name) == 0)
            listed = true;
    return listed != p->exclude;
}

bool adc_scim_projection_all_but_meta(const struct adc_scim_projection *p) {
    if (!p->exclude || !p->attrs || !p->attrs[0])
        return false;
    for (char **a = p->attrs; *a; a++)
        if (strcasecmp(*a, "meta") != 0)
            return false;
    return true;
}

void adc_scim_projection_apply(json_t *res, const struct adc_scim_projection *p) {
    if (!p->attrs)
        return;
    const char *key;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(res, tmp, key, v) {
        /* id and schemas are always returned (RFC 7643 section 7, "returned": "always"). */
        if (!strcmp(key, "id") || !strcmp(key, "schemas"))
            continue;
        if (!adc_scim_projection_wants(p, key))
            json_object_del(res, key);
    }
}
