/* The schema of adc.yaml (config-schema.c) and what the walk over it (config-yaml.c) shares with
 * the checks of single values; internal to src/adc/config. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

#include "config/config-diag.h"
#include "config/config.h"

struct pos {
    unsigned line, col; /* 1-based; line 0 = not present */
};

/* Positions the cross-key checks need after the walk (bind_dn without a password, ...). */
enum slot {
    SLOT_NONE,
    SLOT_ADDR,
    SLOT_STARTTLS,
    SLOT_BIND_DN,
    SLOT_BIND_PASSWORD,
    SLOT_BIND_PASSWORD_FILE,
    SLOT_CA_FILE,
    SLOT_COUNT,
};

struct walk {
    struct adc_diag *d;
    yaml_document_t *doc;
    const char *src; /* the raw text, to map a byte offset inside a value to a column */
    size_t src_len;
    struct adc_yaml_config *c;
    struct pos key_pos[SLOT_COUNT];
    struct pos value_pos[SLOT_COUNT];
    yaml_node_t *value_node[SLOT_COUNT];
};

enum ktype {
    T_MAP,
    T_SETTING, /* one of the seven booleans of settings */
    T_BOOL,
    T_INT,
    T_STRING,
    T_SCOPE,
    T_WATCH,
    T_MAX_DELETE,
};

struct level;
struct key {
    const char *name;
    enum ktype type;
    bool required;
    size_t offset;    /* T_BOOL, T_INT, T_STRING: field of struct adc_yaml_config */
    long min, max;    /* T_INT */
    const char *unit; /* T_INT: what the number counts, for messages */
    /* T_STRING: extra validation of the value; reports its own errors. */
    void (*check)(struct walk *w, yaml_node_t *value, const char *text);
    const struct level *children; /* T_MAP */
    bool optional;                /* T_MAP: absent is fine even if it has required keys */
    int setting;                  /* T_SETTING */
    enum slot slot;
};

struct level {
    const char *path; /* dotted, for messages; "" at the top */
    const struct key *keys;
    size_t n;
};

#define FIELD(f) offsetof(struct adc_yaml_config, f)
#define LDAP_FIELD(f) (offsetof(struct adc_yaml_config, ldap) + offsetof(struct adc_ldap_config, f))

/* The top of the schema: every key of adc.yaml as nested in docs/product.md section 2. */
extern const struct level adc_yaml_schema_root;

/* Fills the defaults of every key that has one (before the walk overrides them). Returns 0 or
 * -ENOMEM. */
int adc_yaml_config_defaults(struct adc_yaml_config *c);

/* config-yaml.c: the position of a node, and of byte `offset` of a scalar's value. */
struct pos adc_yaml_node_pos(const yaml_node_t *n);
struct pos adc_yaml_value_offset_pos(const struct walk *w, const yaml_node_t *n, size_t offset);
/* Records an error at p; the walk goes on. */
void adc_yaml_error_at(struct walk *w, struct pos p, const char *fmt, ...) _printf_(3, 4);
/* Reports libyaml's syntax error (the parser's state) at the position it names
 * (config-yaml-pos.c). */
void adc_yaml_report_syntax(struct adc_diag *d, yaml_parser_t *parser, const char *src, size_t len);
/* The rules that involve several keys, after the walk (config-cross.c); path: the file's, to
 * resolve the files it names. */
void adc_yaml_check_cross(struct walk *w, const char *path);
