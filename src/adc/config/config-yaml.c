/* adc.yaml: loaded with libyaml's document loader so every node keeps its line:col mark, then
 * walked against a schema table (config-schema.c) that lists every key exactly as nested in
 * docs/product.md section 2. The walk never stops at the first problem: each one is recorded with
 * its position and all are printed together (config-diag.c). */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "config/config-diag.h"
#include "config/config-schema.h"
#include "config/config-util.h"
#include "config/config.h"
#include "common/macros.h"
#include "common/secret.h"

/* A configuration file is a few hundred bytes; a megabyte is the wrong file. */
#define YAML_FILE_MAX (1024 * 1024)

/* ---- scalars ---- */

static const char *type_name(const yaml_node_t *n) {
    switch (n->type) {
    case YAML_MAPPING_NODE: return "a mapping";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_SCALAR_NODE: return "a single value";
    default: return "nothing";
    }
}

/* A plain scalar spelling YAML's null ("key:" with nothing after it). */
static bool is_null(const yaml_node_t *n) {
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *s = (const char *)n->data.scalar.value;
    return !*s || strcmp(s, "~") == 0 || strcasecmp(s, "null") == 0;
}

static const char *scalar(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }

static void *field(struct walk *w, size_t offset) { return (char *)w->c + offset; }

void adc_yaml_error_at(struct walk *w, struct pos p, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    adc_diag_verror(w->d, p.line, p.col, fmt, ap);
    va_end(ap);
}

/* ---- the walk ---- */

static void list_keys(const struct level *lv, char *buf, size_t size) {
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < lv->n && o < size; i++)
        o += (size_t)snprintf(buf + o, size - o, "%s%s", i ? ", " : "", lv->keys[i].name);
}

static void walk_level(struct walk *w, const struct level *lv, yaml_node_t *map, struct pos at);

/* The level where a key of this name lives, for a key indented at the wrong depth. */
static const struct level *find_level_of(const struct level *lv, const char *name) {
    for (size_t i = 0; i < lv->n; i++) {
        if (strcmp(lv->keys[i].name, name) == 0)
            return lv;
        if (lv->keys[i].type == T_MAP) {
            const struct level *found = find_level_of(lv->keys[i].children, name);
            if (found)
                return found;
        }
    }
    return NULL;
}

/* Keys a missing mapping would have had to contain. */
static void report_missing(struct walk *w, const struct level *lv, struct pos at) {
    for (size_t i = 0; i < lv->n; i++) {
        const struct key *k = &lv->keys[i];
        if (k->type == T_MAP && !k->optional)
            report_missing(w, k->children, at);
        else if (k->type != T_MAP && k->required)
            adc_yaml_error_at(w, at, "missing required key '%s%s%s'", lv->path,
                              *lv->path ? "." : "", k->name);
    }
}

static void set_string(struct walk *w, const struct key *k, const char *text) {
    char **f = field(w, k->offset);
    char *copy = strdup(text);
    if (!copy) {
        adc_diag_error(w->d, 0, 0, "out of memory");
        return;
    }
    if (k->slot == SLOT_BIND_PASSWORD)
        adc_secret_free(*f);
    else
        free(*f);
    *f = copy;
}

/* A mapping's value: its keys walked, or every required key under it reported missing. */
static void walk_map_value(struct walk *w, const struct key *k, yaml_node_t *v, struct pos kp) {
    if (is_null(v)) {
        report_missing(w, k->children, kp);
        return;
    }
    if (v->type != YAML_MAPPING_NODE) {
        adc_yaml_error_at(w, adc_yaml_node_pos(v), "'%s' must be a mapping of keys, not %s",
                          k->name, type_name(v));
        report_missing(w, k->children, kp);
        return;
    }
    walk_level(w, k->children, v, kp);
}

/* T_BOOL into its field, T_SETTING into the settings. */
static void set_bool(struct walk *w, const struct key *k, const char *text, struct pos vp) {
    bool b;
    if (adc_config_parse_bool(text, &b) < 0) {
        adc_yaml_error_at(w, vp, "'%s' must be true or false (or yes/no), not '%s'", k->name, text);
        return;
    }
    if (k->type == T_SETTING)
        w->c->settings[k->setting] = b ? ADC_TRUE : ADC_FALSE;
    else
        *(bool *)field(w, k->offset) = b;
}

static void set_int(struct walk *w, const struct key *k, const char *text, struct pos vp) {
    long n;
    int r = adc_config_parse_long(text, k->min, k->max, &n);
    if (r == -EINVAL)
        adc_yaml_error_at(w, vp, "'%s' must be a whole number of %s, not '%s'", k->name, k->unit,
                          text);
    else if (r < 0)
        adc_yaml_error_at(w, vp, "'%s' must be from %ld to %ld %s, not %s", k->name, k->min, k->max,
                          k->unit, text);
    else
        *(int *)field(w, k->offset) = (int)n;
}

static void set_scope(struct walk *w, const char *text, struct pos vp) {
    if (strcmp(text, "base") == 0)
        w->c->ldap.scope = ADC_SCOPE_BASE;
    else if (strcmp(text, "one") == 0)
        w->c->ldap.scope = ADC_SCOPE_ONE;
    else if (strcmp(text, "sub") == 0)
        w->c->ldap.scope = ADC_SCOPE_SUB;
    else
        adc_yaml_error_at(w, vp, "scope must be base, one or sub, not '%s'", text);
}

static void set_watch(struct walk *w, const char *text, struct pos vp) {
    for (int i = 0; i < ADC_WATCH_COUNT; i++)
        if (strcmp(text, adc_watch_name(i)) == 0) {
            w->c->ldap.watch = i;
            return;
        }
    adc_yaml_error_at(
        w, vp, "watch must be auto, syncrepl, dirsync, notify, usn, poll or off, not '%s'", text);
}

/* max-delete: a number of users, or a percentage of them ("10%"). */
static void set_max_delete(struct walk *w, const char *text, struct pos vp) {
    long n;
    size_t len = strlen(text);
    bool percent = len > 1 && text[len - 1] == '%';
    char *num = strndup(text, percent ? len - 1 : len);
    int r = num ? adc_config_parse_long(num, 0, percent ? 100 : 1000000000L, &n) : -ENOMEM;
    free(num);
    if (r < 0 || text[0] == '+')
        adc_yaml_error_at(w, vp,
                          "max-delete must be a number of users (like 500) or a percentage "
                          "from 0%% to 100%% (like 10%%), not '%s'",
                          text);
    else
        w->c->max_delete = (struct adc_max_delete){.value = n, .percent = percent};
}

/* One key's value: where it stands is remembered (for adc_yaml_check_cross and the warnings), then
 * it is checked and stored by its type. */
static void walk_value(struct walk *w, const struct key *k, yaml_node_t *key_node, yaml_node_t *v) {
    struct pos kp = adc_yaml_node_pos(key_node), vp = adc_yaml_node_pos(v);
    if (k->slot != SLOT_NONE) {
        w->key_pos[k->slot] = kp;
        w->value_pos[k->slot] = vp;
        w->value_node[k->slot] = v;
    }
    if (k->type == T_MAP) {
        walk_map_value(w, k, v, kp);
        return;
    }
    if (v->type != YAML_SCALAR_NODE) {
        adc_yaml_error_at(w, vp, "'%s' must be a single value, not %s", k->name, type_name(v));
        return;
    }
    if (is_null(v)) {
        adc_yaml_error_at(w, kp, "'%s' has no value; remove the key or give it a value", k->name);
        return;
    }
    const char *text = scalar(v);
    switch (k->type) {
    case T_SETTING:
    case T_BOOL: set_bool(w, k, text, vp); return;
    case T_INT: set_int(w, k, text, vp); return;
    case T_SCOPE: set_scope(w, text, vp); return;
    case T_WATCH: set_watch(w, text, vp); return;
    case T_MAX_DELETE: set_max_delete(w, text, vp); return;
    case T_STRING:
        if (k->check)
            k->check(w, v, text);
        set_string(w, k, text);
        return;
    case T_MAP: break;
    }
}

static void walk_level(struct walk *w, const struct level *lv, yaml_node_t *map, struct pos at) {
    unsigned first_line[32] = {0};
    bool seen[32] = {false};
    char allowed[512];

    for (yaml_node_pair_t *pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top;
         pair++) {
        yaml_node_t *kn = yaml_document_get_node(w->doc, pair->key);
        yaml_node_t *vn = yaml_document_get_node(w->doc, pair->value);
        if (!kn || !vn)
            continue;
        if (kn->type != YAML_SCALAR_NODE) {
            adc_yaml_error_at(w, adc_yaml_node_pos(kn), "keys must be plain names, not %s",
                              type_name(kn));
            continue;
        }
        const char *name = scalar(kn);
        size_t i;
        for (i = 0; i < lv->n; i++)
            if (strcmp(lv->keys[i].name, name) == 0)
                break;
        if (i == lv->n) {
            const char *names[32];
            for (size_t j = 0; j < lv->n; j++)
                names[j] = lv->keys[j].name;
            const char *hint = adc_diag_suggest(name, names, lv->n);
            list_keys(lv, allowed, sizeof allowed);
            char where[128];
            snprintf(where, sizeof where, *lv->path ? "in '%s'" : "at the top level", lv->path);
            const struct level *home = hint ? NULL : find_level_of(&adc_yaml_schema_root, name);
            if (hint)
                adc_yaml_error_at(w, adc_yaml_node_pos(kn),
                                  "unknown key '%s' %s; did you mean '%s'? (allowed: %s)", name,
                                  where, hint, allowed);
            else if (home)
                adc_yaml_error_at(w, adc_yaml_node_pos(kn),
                                  "unknown key '%s' %s; it belongs in '%s' (check the "
                                  "indentation)",
                                  name, where, home->path);
            else
                adc_yaml_error_at(w, adc_yaml_node_pos(kn), "unknown key '%s' %s (allowed: %s)",
                                  name, where, allowed);
            continue;
        }
        if (seen[i]) {
            adc_yaml_error_at(w, adc_yaml_node_pos(kn), "duplicate key '%s' (first on line %u)",
                              name, first_line[i]);
            continue;
        }
        seen[i] = true;
        first_line[i] = adc_yaml_node_pos(kn).line;
        walk_value(w, &lv->keys[i], kn, vn);
    }

    for (size_t i = 0; i < lv->n; i++) {
        if (seen[i])
            continue;
        const struct key *k = &lv->keys[i];
        if (k->type == T_MAP && !k->optional)
            report_missing(w, k->children, at);
        else if (k->type != T_MAP && k->required)
            adc_yaml_error_at(w, at, "missing required key '%s%s%s'", lv->path,
                              *lv->path ? "." : "", k->name);
    }
}

static int read_file(const char *path, struct adc_diag *d, char **ret, size_t *len) {
    FILE *f = fopen(path, "re");
    char *buf = NULL;
    int r;
    if (!f) {
        r = -errno;
        adc_diag_error(d, 0, 0, "cannot open: %s", strerror(-r));
        return r;
    }
    buf = malloc(YAML_FILE_MAX + 1);
    if (!buf) {
        r = -ENOMEM;
        goto out;
    }
    size_t n = fread(buf, 1, YAML_FILE_MAX + 1, f);
    if (ferror(f)) {
        r = errno ? -errno : -EIO;
        adc_diag_error(d, 0, 0, "cannot read: %s", strerror(-r));
        goto out;
    }
    if (n > YAML_FILE_MAX) {
        r = -EFBIG;
        adc_diag_error(d, 0, 0, "larger than %d bytes; is this the right file?", YAML_FILE_MAX);
        goto out;
    }
    buf[n] = '\0';
    *ret = TAKE_PTR(buf);
    *len = n;
    r = 0;
out:
    free(buf);
    fclose(f);
    return r;
}

/* The document against the schema, and no second document after it. */
static void walk_document(struct walk *w, yaml_parser_t *parser) {
    yaml_document_t extra;
    yaml_node_t *root = yaml_document_get_root_node(w->doc);
    struct pos top = {1, 1};
    if (!root || is_null(root))
        report_missing(w, &adc_yaml_schema_root, top);
    else if (root->type != YAML_MAPPING_NODE)
        adc_yaml_error_at(w, adc_yaml_node_pos(root),
                          "the file must be a mapping with the keys settings and "
                          "backend, not %s",
                          type_name(root));
    else
        walk_level(w, &adc_yaml_schema_root, root, top);

    /* A second document ("---" then more keys) would be silently ignored otherwise. */
    if (!yaml_parser_load(parser, &extra)) {
        adc_yaml_report_syntax(w->d, parser, w->src, w->src_len);
    } else {
        yaml_node_t *more = yaml_document_get_root_node(&extra);
        if (more)
            adc_yaml_error_at(w, adc_yaml_node_pos(more),
                              "a second YAML document; adc.yaml holds exactly one");
        yaml_document_delete(&extra);
    }
}

/* Frees a loaded document; its scalars are libyaml's copies of the source, bind_password among
 * them, and are wiped first. */
static void wipe_document(yaml_document_t *doc) {
    for (yaml_node_t *n = doc->nodes.start; n < doc->nodes.top; n++)
        if (n->type == YAML_SCALAR_NODE)
            explicit_bzero(n->data.scalar.value, n->data.scalar.length);
    yaml_document_delete(doc);
}

int adc_yaml_config_load(const char *path, FILE *diag, struct adc_yaml_config **ret) {
    struct adc_diag d;
    yaml_parser_t parser;
    yaml_document_t doc;
    bool parser_ok = false, doc_ok = false;
    char *src = NULL;
    size_t len = 0;
    struct adc_yaml_config *c = NULL;
    int r;

    adc_diag_init(&d, path, diag);
    r = read_file(path, &d, &src, &len);
    if (r < 0)
        goto out;

    c = calloc(1, sizeof *c);
    if (!c || adc_yaml_config_defaults(c) < 0 || !(c->path = strdup(path))) {
        r = -ENOMEM;
        adc_diag_error(&d, 0, 0, "out of memory");
        goto out;
    }

    if (!yaml_parser_initialize(&parser)) {
        r = -ENOMEM;
        adc_diag_error(&d, 0, 0, "out of memory");
        goto out;
    }
    parser_ok = true;
    yaml_parser_set_input_string(&parser, (const unsigned char *)src, len);
    if (!yaml_parser_load(&parser, &doc)) {
        adc_yaml_report_syntax(&d, &parser, src, len);
        r = -EINVAL;
        goto out;
    }
    doc_ok = true;

    struct walk w = {.d = &d, .doc = &doc, .src = src, .src_len = len, .c = c};
    walk_document(&w, &parser);
    adc_yaml_check_cross(&w, path);
    r = d.errors ? -EINVAL : 0;
out:
    if (doc_ok)
        wipe_document(&doc);
    if (parser_ok)
        yaml_parser_delete(&parser);
    if (src) {
        /* The source may hold bind_password. */
        explicit_bzero(src, len);
        free(src);
    }
    adc_diag_flush(&d);
    if (r == 0)
        *ret = TAKE_PTR(c);
    adc_yaml_config_free(c);
    return r;
}
