/* The rules of adc.yaml that involve several keys (the bind's DN and password, StartTLS and
 * ldaps://, the files named by bind_password_file and ca_file), checked after the walk so that
 * each key's own errors come first. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config-diag.h"
#include "config/config-schema.h"
#include "config/config-util.h"
#include "config/config.h"

/* The connection: StartTLS over ldaps://, and the bind's DN and password together. */
static void check_bind(struct walk *w) {
    struct adc_ldap_config *l = &w->c->ldap;
    if (l->starttls && l->addr && strcasestr(l->addr, "ldaps://"))
        adc_yaml_error_at(
            w, w->key_pos[SLOT_STARTTLS],
            "starttls: true with an ldaps:// addr; ldaps:// is TLS already, use ldap:// "
            "with starttls or ldaps:// without");

    if (l->bind_password && l->bind_password_file)
        adc_yaml_error_at(w, w->key_pos[SLOT_BIND_PASSWORD_FILE],
                          "both bind_password and bind_password_file are set; keep one");
    if (l->bind_dn && *l->bind_dn && !l->bind_password && !l->bind_password_file)
        adc_yaml_error_at(
            w, w->key_pos[SLOT_BIND_DN],
            "bind_dn is set but no password; add bind_password_file (or bind_password)");
    if (!l->bind_dn && (l->bind_password || l->bind_password_file)) {
        enum slot s = l->bind_password ? SLOT_BIND_PASSWORD : SLOT_BIND_PASSWORD_FILE;
        adc_yaml_error_at(w, w->key_pos[s],
                          "a bind password without bind_dn; add bind_dn, or remove the "
                          "password to bind anonymously");
    }
    if (l->bind_dn && l->bind_password && !*l->bind_password)
        /* RFC 4513 section 5.1.2: a simple bind with a DN and an empty password is an
         * unauthenticated bind, which servers answer with success. */
        adc_yaml_error_at(
            w, w->value_pos[SLOT_BIND_PASSWORD],
            "empty bind_password would bind anonymously; give the password, or remove "
            "bind_dn and bind_password to bind anonymously on purpose");
}

/* bind_password_file read into bind_password (its path resolved against the configuration's
 * folder), or a bind_password in a file others may read. */
static void load_password(struct walk *w, const char *path) {
    struct adc_ldap_config *l = &w->c->ldap;
    if (l->bind_password_file && *l->bind_password_file && !l->bind_password) {
        char *p = adc_config_path_resolve(path, l->bind_password_file);
        char *pw = NULL;
        int r = p ? adc_config_read_secret_file(p, &pw) : -ENOMEM;
        if (r == -ENODATA)
            adc_yaml_error_at(w, w->value_pos[SLOT_BIND_PASSWORD_FILE],
                              "bind_password_file '%s' is empty (the password is its first line)",
                              p);
        else if (r == -EFBIG)
            adc_yaml_error_at(w, w->value_pos[SLOT_BIND_PASSWORD_FILE],
                              "bind_password_file '%s' is too large for a password file", p);
        else if (r < 0)
            adc_yaml_error_at(w, w->value_pos[SLOT_BIND_PASSWORD_FILE],
                              "cannot read bind_password_file '%s': %s", p ? p : "",
                              adc_config_file_error(r));
        else {
            l->bind_password = pw; /* owned by the config now; wiped by adc_yaml_config_free */
            if (adc_config_readable_by_others(p))
                adc_diag_warning(w->d, 0, 0,
                                 "bind_password_file '%s' is readable by others; "
                                 "chmod 600 %s",
                                 p, p);
        }
        if (p) {
            free(l->bind_password_file);
            l->bind_password_file = p;
        }
    } else if (l->bind_password && w->key_pos[SLOT_BIND_PASSWORD].line &&
               adc_config_readable_by_others(path)) {
        adc_diag_warning(w->d, 0, 0,
                         "contains bind_password and is readable by others; chmod 600 %s", path);
    }
}

/* ca_file: readable (its path resolved against the configuration's folder), and of use. */
static void check_ca_file(struct walk *w, const char *path) {
    struct adc_ldap_config *l = &w->c->ldap;
    if (l->ca_file && *l->ca_file) {
        char *p = adc_config_path_resolve(path, l->ca_file);
        int r = p ? adc_config_check_readable(p) : -ENOMEM;
        if (r < 0)
            adc_yaml_error_at(w, w->value_pos[SLOT_CA_FILE], "cannot read ca_file '%s': %s",
                              p ? p : "", adc_config_file_error(r));
        if (p) {
            free(l->ca_file);
            l->ca_file = p;
        }
        /* Not an error (a StartTLS switch may be coming), but the CA file does nothing now. */
        if (r == 0 && !l->starttls && l->addr && !strcasestr(l->addr, "ldaps://"))
            adc_diag_warning(w->d, w->key_pos[SLOT_CA_FILE].line, w->key_pos[SLOT_CA_FILE].col,
                             "ca_file is set but the connection is not TLS (ldap:// without "
                             "starttls); use ldaps:// or starttls: true");
    }
}

void adc_yaml_check_cross(struct walk *w, const char *path) {
    check_bind(w);
    load_password(w, path);
    check_ca_file(w, path);
}
