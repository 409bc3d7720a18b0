/* The configuration of adc: adc.yaml (what to sync and how, docs/product.md section 2) and adc.cfg
 * (the cloud connection). Loading reports every problem as "file:line:col: error: ..." */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "common/settings.h"

enum adc_ldap_scope {
    ADC_SCOPE_BASE,
    ADC_SCOPE_ONE,
    ADC_SCOPE_SUB,
};

/* backend.ldap.sync.watch: how `adc run` learns of changes (docs/product.md section 9). */
enum adc_watch {
    ADC_WATCH_AUTO, /* from the root DSE's supportedControl */
    ADC_WATCH_SYNCREPL,
    ADC_WATCH_DIRSYNC,
    ADC_WATCH_NOTIFY,
    ADC_WATCH_USN,
    ADC_WATCH_POLL,
    ADC_WATCH_OFF,
    ADC_WATCH_COUNT
};
/* "auto", "syncrepl", ... "off". */
const char *adc_watch_name(enum adc_watch w);

/* backend.ldap of adc.yaml. Strings are NULL when absent (and have no default). */
struct adc_ldap_config {
    char *addr; /* ldap://host[:port] or ldaps://host[:port] */
    char *bind_dn;
    char *bind_password; /* inline, or read from bind_password_file at load time */
    char *bind_password_file;
    char *base_dn;
    enum adc_ldap_scope scope; /* default sub */
    bool starttls;             /* default false */
    char *ca_file;
    bool tls_verify;       /* default true */
    int network_timeout;   /* seconds, default 10 */
    int timeout;           /* seconds per operation, default 30 */
    bool follow_referrals; /* default false */
    /* backend.ldap.sync */
    int page_size;        /* default 500; AD caps at 1000 */
    char *filter;         /* default (objectClass=inetOrgPerson) */
    char *id_attribute;   /* NULL = detect entryUUID / objectGUID / nsUniqueId */
    enum adc_watch watch; /* default auto */
    int poll_interval;    /* seconds between modifyTimestamp/uSNChanged polls, default 30 */
    /* backend.ldap.sync.attributes: directory attribute per cloud attribute */
    char *display_name_attribute; /* default displayName (falls back to cn) */
    char *given_name_attribute;   /* default givenName */
    char *family_name_attribute;  /* default sn */
    char *email_attribute;        /* default mail */
    /* backend.ldap.groups (docs/product.md section 10): groups_filter NULL = no group sync */
    char *groups_filter;
    char *groups_name_attribute; /* default cn: the cloud group's displayName */
    char *groups_nested;         /* "keep" or "flatten", as written */
    bool groups_flatten;         /* nested: flatten (members of member groups, transitively)
                                  * rather than keep (member groups stay groups), the default */
    /* backend.ldap.authentication */
    char *username_attribute;       /* required */
    char *username_filter_template; /* required, contains exactly one %s */
    int auth_timeout;               /* seconds, default 5 */
};

/* The mass-delete guard: a count, or a percentage of the cloud users this configuration owns. */
struct adc_max_delete {
    long value; /* default 500 */
    bool percent;
};

/* adc.yaml */
struct adc_yaml_config {
    char *path;
    enum adc_tristate settings[ADC_SETTING_COUNT]; /* ADC_UNSET where the key is absent */
    struct adc_max_delete max_delete;
    struct adc_ldap_config ldap;
};

/* adc.cfg */
struct adc_service_config {
    char *path;
    char *server_url; /* server = https://cloud.example.com */
    char *app_id;     /* app_id = ... */
    char *secret;     /* secret = ..., or read from secret_file at load time */
    char *secret_file;
    char *yaml_path; /* yaml = path; default adc.yaml beside adc.cfg */
    char *ca_file;   /* ca_file = ... for the server's certificate */
    bool tls_verify; /* tls_verify = true|false, default true */
    char *proxy;     /* proxy = http://proxy:3128 */
    char *state_dir; /* state_dir = /var/lib/adc: where `adc run` keeps its live position */
};

/* Loads and validates adc.yaml. Every problem is printed to `diag` as
 * "file:line:col: error: ..." (warnings as "...: warning: ..."); returns 0, or -EINVAL after
 * reporting all problems, or another negative errno when the file cannot be read
 * (also reported). On success *ret is a new config. */
int adc_yaml_config_load(const char *path, FILE *diag, struct adc_yaml_config **ret);
void adc_yaml_config_free(struct adc_yaml_config *c);

/* Loads and validates adc.cfg, same contract as adc_yaml_config_load. */
int adc_service_config_load(const char *path, FILE *diag, struct adc_service_config **ret);
void adc_service_config_free(struct adc_service_config *c);

/* Finds adc.cfg: explicit path (-C), else $ADC_CFG, else ../adc.cfg relative to the running
 * binary (argv0 resolved through /proc/self/exe), else /etc/adc/adc.cfg.
 * Returns a new string, or NULL when none exists (then *tried lists the candidates). */
char *adc_service_config_find(const char *explicit_path, char **tried);
