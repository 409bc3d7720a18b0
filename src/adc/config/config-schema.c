/* The schema table of adc.yaml: every key exactly as nested in docs/product.md section 2, its
 * type, bounds, the field it fills and the check of its value; the defaults of the keys that
 * have one, and freeing what the walk (config-yaml.c) filled in. */
#include <errno.h>
#include <ldap.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/macros.h"
#include "common/secret.h"
#include "config/config-schema.h"
#include "directory/ldap-filter.h"

static void check_addr(struct walk *w, yaml_node_t *v, const char *text);
static void check_dn(struct walk *w, yaml_node_t *v, const char *text);
static void check_filter(struct walk *w, yaml_node_t *v, const char *text);
static void check_attr(struct walk *w, yaml_node_t *v, const char *text);
static void check_template(struct walk *w, yaml_node_t *v, const char *text);
static void check_path(struct walk *w, yaml_node_t *v, const char *text);
static void check_not_empty(struct walk *w, yaml_node_t *v, const char *text);
static void check_nested(struct walk *w, yaml_node_t *v, const char *text);

static const struct key settings_keys[] = {
    {.name = "dry-run", .type = T_SETTING, .setting = ADC_SETTING_DRY_RUN},
    {.name = "no-update", .type = T_SETTING, .setting = ADC_SETTING_NO_UPDATE},
    {.name = "no-create", .type = T_SETTING, .setting = ADC_SETTING_NO_CREATE},
    {.name = "no-delete", .type = T_SETTING, .setting = ADC_SETTING_NO_DELETE},
    {.name = "delete-disables", .type = T_SETTING, .setting = ADC_SETTING_DELETE_DISABLES},
    {.name = "no-update-provider-mismatch",
     .type = T_SETTING,
     .setting = ADC_SETTING_NO_UPDATE_PROVIDER_MISMATCH},
    {.name = "create-as-disabled", .type = T_SETTING, .setting = ADC_SETTING_CREATE_AS_DISABLED},
    {.name = "max-delete", .type = T_MAX_DELETE},
};
static const struct level settings_level = {"settings", settings_keys,
                                            ADC_ARRAY_SIZE(settings_keys)};

static const struct key attributes_keys[] = {
    {.name = "displayName",
     .type = T_STRING,
     .offset = LDAP_FIELD(display_name_attribute),
     .check = check_attr},
    {.name = "givenName",
     .type = T_STRING,
     .offset = LDAP_FIELD(given_name_attribute),
     .check = check_attr},
    {.name = "familyName",
     .type = T_STRING,
     .offset = LDAP_FIELD(family_name_attribute),
     .check = check_attr},
    {.name = "email", .type = T_STRING, .offset = LDAP_FIELD(email_attribute), .check = check_attr},
};
static const struct level attributes_level = {"backend.ldap.sync.attributes", attributes_keys,
                                              ADC_ARRAY_SIZE(attributes_keys)};

/* AD returns at most 1000 entries per page (MaxPageSize); OpenLDAP's default sizelimit is 500.
 * 100000 bounds the memory of one page. */
static const struct key sync_keys[] = {
    {.name = "page_size",
     .type = T_INT,
     .offset = LDAP_FIELD(page_size),
     .min = 1,
     .max = 100000,
     .unit = "entries"},
    {.name = "filter", .type = T_STRING, .offset = LDAP_FIELD(filter), .check = check_filter},
    {.name = "id_attribute",
     .type = T_STRING,
     .offset = LDAP_FIELD(id_attribute),
     .check = check_attr},
    {.name = "attributes", .type = T_MAP, .children = &attributes_level},
    {.name = "watch", .type = T_WATCH},
    {.name = "poll_interval",
     .type = T_INT,
     .offset = LDAP_FIELD(poll_interval),
     .min = 1,
     .max = 86400,
     .unit = "seconds"},
};
static const struct level sync_level = {"backend.ldap.sync", sync_keys, ADC_ARRAY_SIZE(sync_keys)};

/* backend.ldap.groups: the presence of the map (with its required filter) turns group sync on
 * (docs/product.md section 10). */
static const struct key groups_keys[] = {
    {.name = "filter",
     .type = T_STRING,
     .required = true,
     .offset = LDAP_FIELD(groups_filter),
     .check = check_filter},
    {.name = "name_attribute",
     .type = T_STRING,
     .offset = LDAP_FIELD(groups_name_attribute),
     .check = check_attr},
    {.name = "nested",
     .type = T_STRING,
     .offset = LDAP_FIELD(groups_nested),
     .check = check_nested},
};
static const struct level groups_level = {"backend.ldap.groups", groups_keys,
                                          ADC_ARRAY_SIZE(groups_keys)};

static const struct key auth_keys[] = {
    {.name = "username_attribute",
     .type = T_STRING,
     .required = true,
     .offset = LDAP_FIELD(username_attribute),
     .check = check_attr},
    {.name = "username_filter_template",
     .type = T_STRING,
     .required = true,
     .offset = LDAP_FIELD(username_filter_template),
     .check = check_template},
    {.name = "timeout",
     .type = T_INT,
     .offset = LDAP_FIELD(auth_timeout),
     .min = 1,
     .max = 3600,
     .unit = "seconds"},
};
static const struct level auth_level = {"backend.ldap.authentication", auth_keys,
                                        ADC_ARRAY_SIZE(auth_keys)};

static const struct key ldap_keys[] = {
    {.name = "addr",
     .type = T_STRING,
     .required = true,
     .offset = LDAP_FIELD(addr),
     .check = check_addr,
     .slot = SLOT_ADDR},
    {.name = "bind_dn",
     .type = T_STRING,
     .offset = LDAP_FIELD(bind_dn),
     .check = check_not_empty,
     .slot = SLOT_BIND_DN},
    {.name = "bind_password",
     .type = T_STRING,
     .offset = LDAP_FIELD(bind_password),
     .slot = SLOT_BIND_PASSWORD},
    {.name = "bind_password_file",
     .type = T_STRING,
     .offset = LDAP_FIELD(bind_password_file),
     .check = check_path,
     .slot = SLOT_BIND_PASSWORD_FILE},
    {.name = "base_dn",
     .type = T_STRING,
     .required = true,
     .offset = LDAP_FIELD(base_dn),
     .check = check_dn},
    {.name = "scope", .type = T_SCOPE},
    {.name = "starttls", .type = T_BOOL, .offset = LDAP_FIELD(starttls), .slot = SLOT_STARTTLS},
    {.name = "ca_file",
     .type = T_STRING,
     .offset = LDAP_FIELD(ca_file),
     .check = check_path,
     .slot = SLOT_CA_FILE},
    {.name = "tls_verify", .type = T_BOOL, .offset = LDAP_FIELD(tls_verify)},
    {.name = "network_timeout",
     .type = T_INT,
     .offset = LDAP_FIELD(network_timeout),
     .min = 1,
     .max = 3600,
     .unit = "seconds"},
    {.name = "timeout",
     .type = T_INT,
     .offset = LDAP_FIELD(timeout),
     .min = 1,
     .max = 86400,
     .unit = "seconds"},
    {.name = "follow_referrals", .type = T_BOOL, .offset = LDAP_FIELD(follow_referrals)},
    {.name = "sync", .type = T_MAP, .children = &sync_level},
    {.name = "authentication", .type = T_MAP, .children = &auth_level},
    {.name = "groups", .type = T_MAP, .children = &groups_level, .optional = true},
};
static const struct level ldap_level = {"backend.ldap", ldap_keys, ADC_ARRAY_SIZE(ldap_keys)};

static const struct key backend_keys[] = {
    {.name = "ldap", .type = T_MAP, .children = &ldap_level},
};
static const struct level backend_level = {"backend", backend_keys, ADC_ARRAY_SIZE(backend_keys)};

static const struct key root_keys[] = {
    {.name = "settings", .type = T_MAP, .children = &settings_level},
    {.name = "backend", .type = T_MAP, .children = &backend_level},
};
const struct level adc_yaml_schema_root = {"", root_keys, ADC_ARRAY_SIZE(root_keys)};

const char *adc_watch_name(enum adc_watch w) {
    static const char *const names[ADC_WATCH_COUNT] = {
        [ADC_WATCH_AUTO] = "auto",       [ADC_WATCH_SYNCREPL] = "syncrepl",
        [ADC_WATCH_DIRSYNC] = "dirsync", [ADC_WATCH_NOTIFY] = "notify",
        [ADC_WATCH_USN] = "usn",         [ADC_WATCH_POLL] = "poll",
        [ADC_WATCH_OFF] = "off",
    };
    return (unsigned)w < ADC_WATCH_COUNT ? names[w] : "?";
}

/* ---- value checks ---- */

static void check_not_empty(struct walk *w, yaml_node_t *v, const char *text) {
    if (!*text)
        adc_yaml_error_at(w, adc_yaml_node_pos(v),
                          "empty value; remove the key or give it a value");
}

static void check_path(struct walk *w, yaml_node_t *v, const char *text) {
    check_not_empty(w, v, text);
}

static void check_addr(struct walk *w, yaml_node_t *v, const char *text) {
    /* Several URLs separated by spaces are tried in turn by libldap (failover). */
    const char *p = text;
    bool any = false;
    while (*p) {
        size_t sp = strspn(p, " \t");
        p += sp;
        if (!*p)
            break;
        size_t len = strcspn(p, " \t");
        struct pos at = adc_yaml_value_offset_pos(w, v, (size_t)(p - text));
        char *url = strndup(p, len);
        any = true;
        if (!url)
            return;
        if (strncasecmp(url, "ldap://", 7) != 0 && strncasecmp(url, "ldaps://", 8) != 0) {
            adc_yaml_error_at(w, at, "addr '%s' must start with ldap:// or ldaps://", url);
        } else {
            const char *host = strstr(url, "://") + 3;
            LDAPURLDesc *lud = NULL;
            if (strchr(host, '/') && strchr(host, '/')[1] != '\0')
                adc_yaml_error_at(
                    w, at, "addr '%s' takes only scheme, host and port; put the DN in base_dn",
                    url);
            else if (ldap_url_parse(url, &lud) != LDAP_URL_SUCCESS)
                adc_yaml_error_at(w, at, "addr '%s' is not a valid LDAP URL (ldap://host:port)",
                                  url);
            else if (!lud->lud_host || !*lud->lud_host)
                adc_yaml_error_at(w, at, "addr '%s' names no host", url);
            if (lud)
                ldap_free_urldesc(lud);
        }
        free(url);
        p += len;
    }
    if (!any)
        adc_yaml_error_at(w, adc_yaml_node_pos(v), "empty addr; write ldap://host or ldaps://host");
}

static void check_dn(struct walk *w, yaml_node_t *v, const char *text) {
    LDAPDN dn = NULL;
    if (!*text) {
        adc_yaml_error_at(w, adc_yaml_node_pos(v),
                          "empty base_dn; write the DN under which the users are, "
                          "like dc=example,dc=com");
        return;
    }
    if (ldap_str2dn(text, &dn, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS)
        adc_yaml_error_at(w, adc_yaml_node_pos(v),
                          "'%s' is not a valid DN (like ou=people,dc=example,dc=com)", text);
    ldap_dnfree(dn);
}

static void check_filter(struct walk *w, yaml_node_t *v, const char *text) {
    size_t off;
    const char *msg;
    if (adc_ldap_filter_validate(text, &off, &msg) < 0)
        adc_yaml_error_at(w, adc_yaml_value_offset_pos(w, v, off), "invalid LDAP filter: %s", msg);
}

static void check_nested(struct walk *w, yaml_node_t *v, const char *text) {
    if (strcmp(text, "keep") == 0 || strcmp(text, "flatten") == 0)
        w->c->ldap.groups_flatten = text[0] == 'f';
    else
        adc_yaml_error_at(w, adc_yaml_node_pos(v), "nested must be keep or flatten, not '%s'",
                          text);
}

static void check_attr(struct walk *w, yaml_node_t *v, const char *text) {
    size_t off;
    const char *msg;
    if (adc_ldap_filter_attr_validate(text, &off, &msg) < 0)
        adc_yaml_error_at(w, adc_yaml_value_offset_pos(w, v, off),
                          "'%s' is not an attribute name: %s", text, msg);
}

static void check_template(struct walk *w, yaml_node_t *v, const char *text) {
    size_t off;
    const char *msg;
    const char *at = strstr(text, "%s");
    if (adc_ldap_filter_template_check(text, &off) < 0) {
        if (!at)
            adc_yaml_error_at(w, adc_yaml_node_pos(v),
                              "username_filter_template must contain %%s where the user "
                              "name goes, like (&(objectClass=inetOrgPerson)(mail=%%s))");
        else
            adc_yaml_error_at(w, adc_yaml_value_offset_pos(w, v, off),
                              "username_filter_template must contain exactly one %%s");
        return;
    }
    /* Filled with a name that is only valid as a value: "(%s=x)" must fail, not pass as
     * "(name=x)". */
    static const char probe[] = "a b";
    size_t idx = (size_t)(at - text), plen = sizeof probe - 1;
    char *filled = adc_ldap_filter_from_template(text, probe);
    if (!filled)
        return;
    if (adc_ldap_filter_validate(filled, &off, &msg) < 0) {
        if (off >= idx + plen)
            off = off - plen + 2;
        else if (off > idx)
            off = idx;
        adc_yaml_error_at(w, adc_yaml_value_offset_pos(w, v, off),
                          "invalid LDAP filter once %%s is filled in: %s", msg);
    }
    free(filled);
}

int adc_yaml_config_defaults(struct adc_yaml_config *c) {
    for (int i = 0; i < ADC_SETTING_COUNT; i++)
        c->settings[i] = ADC_UNSET;
    c->max_delete = (struct adc_max_delete){.value = 500};
    struct adc_ldap_config *l = &c->ldap;
    l->scope = ADC_SCOPE_SUB;
    l->tls_verify = true;
    l->network_timeout = 10;
    l->timeout = 30;
    l->page_size = 500;
    l->watch = ADC_WATCH_AUTO;
    l->poll_interval = 30;
    l->auth_timeout = 5;
    l->filter = strdup("(objectClass=inetOrgPerson)");
    l->display_name_attribute = strdup("displayName");
    l->given_name_attribute = strdup("givenName");
    l->family_name_attribute = strdup("sn");
    l->email_attribute = strdup("mail");
    if (!l->filter || !l->display_name_attribute || !l->given_name_attribute ||
        !l->family_name_attribute || !l->email_attribute)
        return -ENOMEM;
    return 0;
}

void adc_yaml_config_free(struct adc_yaml_config *c) {
    if (!c)
        return;
    struct adc_ldap_config *l = &c->ldap;
    free(c->path);
    free(l->addr);
    free(l->bind_dn);
    adc_secret_free(l->bind_password);
    free(l->bind_password_file);
    free(l->base_dn);
    free(l->ca_file);
    free(l->filter);
    free(l->id_attribute);
    free(l->display_name_attribute);
    free(l->given_name_attribute);
    free(l->family_name_attribute);
    free(l->email_attribute);
    free(l->username_attribute);
    free(l->username_filter_template);
    free(l->groups_filter);
    free(l->groups_name_attribute);
    free(l->groups_nested);
    free(c);
}

/* Reads the whole file; reports and returns a negative errno when it cannot. */
