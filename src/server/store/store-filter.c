/* SCIM filters to SQL over the users table, the groups table and a group's members, in the
 * dialect of the engine (store-filter.h). */
#include "store/store-filter.h"
#include "store/store-filter-internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/macros.h"
#include "common/wire.h"

#define CORE_USER_URN ADC_SCIM_SCHEMA_USER ":"
#define PROVIDER_ATTR ADC_SCIM_SCHEMA_PROVIDER ":provider"
#define ENTERPRISE_URN ADC_SCIM_SCHEMA_ENTERPRISE
#define CORE_GROUP_URN ADC_SCIM_SCHEMA_GROUP ":"
#define GROUP_PROVIDER_ATTR ADC_SCIM_SCHEMA_GROUP_PROVIDER ":provider"

/* The longest WHERE clause: a filter is at most a few KiB (the server refuses longer ones), and
 * each of its comparisons turns into at most a few hundred bytes of SQL. */
#define MAX_SQL (1024 * 1024)

/* How a User attribute is reached in SQL. */
struct sql_attr {
    enum attr_type type;
    const char *column; /* a column of users, or NULL for JSON in data */
    bool nocase_column; /* the column's collation (SQLite NOCASE, PostgreSQL citext) ignores case */
    const char *ns;     /* JSON in data: the extension object holding it, or NULL */
    char name[64];      /* JSON in data: the canonical dotted name ("name.familyName") */
};

static const char *const string_attrs[] = {
    "displayName",
    "nickName",
    "profileUrl",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "name.formatted",
    "name.familyName",
    "name.givenName",
    "name.middleName",
    "name.honorificPrefix",
    "name.honorificSuffix",
};
static const char *const multi_attrs[] = {
    "emails", "phoneNumbers",     "ims",    "photos", "addresses", "entitlements",
    "roles",  "x509Certificates", "groups",
};
static const char *const enterprise_attrs[] = {
    "employeeNumber", "costCenter", "organization", "division", "department", "manager.value",
};

static bool in_list(const char *const *list, size_t n, const char *name, const char **canon) {
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(list[i], name) == 0) {
            *canon = list[i];
            return true;
        }
    return false;
}

/* Resolves a top-level attribute path; false when unknown. */
static bool resolve_attr(const char *attr, struct sql_attr *a, const char **sub_out) {
    memset(a, 0, sizeof(*a));
    *sub_out = NULL;
    if (strncasecmp(attr, CORE_USER_URN, strlen(CORE_USER_URN)) == 0)
        attr += strlen(CORE_USER_URN);
    const char *canon;
    if (strcasecmp(attr, "userName") == 0) {
        *a = (struct sql_attr){T_STRING, "user_name", true, NULL, ""};
    } else if (strcasecmp(attr, "externalId") == 0) {
        *a = (struct sql_attr){T_EXACT, "external_id", false, NULL, ""};
    } else if (strcasecmp(attr, "id") == 0) {
        *a = (struct sql_attr){T_EXACT, "id", false, NULL, ""};
    } else if (strcasecmp(attr, "active") == 0) {
        *a = (struct sql_attr){T_BOOL, "active", false, NULL, ""};
    } else if (strcasecmp(attr, "meta.created") == 0) {
        *a = (struct sql_attr){T_EXACT, "created", false, NULL, ""};
    } else if (strcasecmp(attr, "meta.lastModified") == 0) {
        *a = (struct sql_attr){T_EXACT, "modified", false, NULL, ""};
    } else if (strcasecmp(attr, PROVIDER_ATTR) == 0) {
        *a = (struct sql_attr){T_EXACT, "provider", false, NULL, ""};
    } else if (in_list(string_attrs, ADC_ARRAY_SIZE(string_attrs), attr, &canon)) {
        a->type = T_STRING;
        snprintf(a->name, sizeof(a->name), "%s", canon);
    } else if (strncasecmp(attr, ENTERPRISE_URN ":", strlen(ENTERPRISE_URN) + 1) == 0 &&
               in_list(enterprise_attrs, ADC_ARRAY_SIZE(enterprise_attrs),
                       attr + strlen(ENTERPRISE_URN) + 1, &canon)) {
        a->type = T_STRING;
        a->ns = ENTERPRISE_URN;
        snprintf(a->name, sizeof(a->name), "%s", canon);
    } else {
        /* Multi-valued: "emails" or "emails.value". */
        size_t n = strcspn(attr, ".");
        if (n >= sizeof(a->name))
            return false;
        char top[sizeof(a->name)];
        memcpy(top, attr, n);
        top[n] = '\0';
        if (!in_list(multi_attrs, ADC_ARRAY_SIZE(multi_attrs), top, &canon))
            return false;
        a->type = T_MULTI;
        snprintf(a->name, sizeof(a->name), "%s", canon);
        *sub_out = attr[n] == '.' ? attr + n + 1 : "value";
    }
    return true;
}

/* Sub-attributes of multi-valued attributes: only simple names. */
/* Resolves an attribute of a Group (RFC 7643 section 4.2); false when unknown. "members"
 * comes back as T_MULTI with the sub-attribute in *sub_out. */
static bool resolve_group_attr(const char *attr, struct sql_attr *a, const char **sub_out) {
    memset(a, 0, sizeof(*a));
    *sub_out = NULL;
    if (strncasecmp(attr, CORE_GROUP_URN, strlen(CORE_GROUP_URN)) == 0)
        attr += strlen(CORE_GROUP_URN);
    if (strcasecmp(attr, "displayName") == 0)
        *a = (struct sql_attr){.type = T_STRING, .column = "display_name", .nocase_column = true};
    else if (strcasecmp(attr, "externalId") == 0)
        *a = (struct sql_attr){.type = T_EXACT, .column = "external_id"};
    else if (strcasecmp(attr, "id") == 0)
        *a = (struct sql_attr){.type = T_EXACT, .column = "id"};
    else if (strcasecmp(attr, "meta.created") == 0)
        *a = (struct sql_attr){.type = T_EXACT, .column = "created"};
    else if (strcasecmp(attr, "meta.lastModified") == 0)
        *a = (struct sql_attr){.type = T_EXACT, .column = "modified"};
    else if (strcasecmp(attr, GROUP_PROVIDER_ATTR) == 0)
        *a = (struct sql_attr){.type = T_EXACT, .column = "provider"};
    else if (strncasecmp(attr, "members", 7) == 0 && (attr[7] == '\0' || attr[7] == '.')) {
        a->type = T_MULTI;
        *sub_out = attr[7] == '.' ? attr + 8 : "value";
    } else
        return false;
    return true;
}

/* A sub-attribute of a group's member as a column of group_members (alias m): value and
 * type are stored; display and $ref are derived, not filterable. */
static const char *member_column(const char *sub) {
    if (strcasecmp(sub, "value") == 0)
        return "m.member_id";
    if (strcasecmp(sub, "type") == 0)
        return "m.type";
    return NULL;
}

static bool valid_sub(const char *sub) {
    if (!*sub || strlen(sub) > 64)
        return false;
    for (const char *c = sub; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '_')
            return false;
    return true;
}

/* The text at a JSON path inside `source`. Paths come from the lists above or valid_sub(),
 * never from the request as such: safe to inline, quoted as SQL strings all the same.
 * SQLite: json_extract (a JSON true is 1). PostgreSQL: #>> on jsonb (a JSON true is 'true'). */
static void json_expr(struct sql_builder *b, char *out, size_t size, const char *source,
                      const char *ns, const char *dotted) {
    char path[200];
    size_t o = 0;
    if (b->pg) {
        o += (size_t)snprintf(path, sizeof(path), "{");
        if (ns)
            o += (size_t)snprintf(path + o, sizeof(path) - o, "\"%s\",", ns);
        for (const char *c = dotted; *c && o + 2 < sizeof(path); c++)
            path[o++] = *c == '.' ? ',' : *c;
        snprintf(path + o, sizeof(path) - o, "}");
        snprintf(out, size, "(%s::jsonb #>> '%s')", source, path);
    } else {
        if (ns)
            snprintf(path, sizeof(path), "$.\"%s\".%s", ns, dotted);
        else
            snprintf(path, sizeof(path), "$.%s", dotted);
        snprintf(out, size, "json_extract(%s, '%s')", source, path);
    }
}

/* The elements of a multi-valued attribute of users.data as a row source `e` with a column
 * `value`; none when the attribute is absent or not an array. */
static void emit_elements(struct sql_builder *b, const char *name) {
    if (b->pg)
        adc_sql_emit(
            b,
            "jsonb_array_elements(CASE WHEN jsonb_typeof(users.data::jsonb -> '%s') = 'array' "
            "THEN users.data::jsonb -> '%s' ELSE '[]'::jsonb END) AS e(value)",
            name, name);
    else
        adc_sql_emit(b, "json_each(users.data, '$.%s') AS e", name);
}

/* A comparison on a sub-attribute of an element `e` of a multi-valued attribute: strings,
 * except primary. */
static void compare_sub(struct sql_builder *b, const char *sub, const struct adc_scim_filter *f) {
    char expr[300];
    json_expr(b, expr, sizeof(expr), "e.value", NULL, sub);
    bool primary = strcasecmp(sub, "primary") == 0;
    adc_sql_compare(b, expr, primary ? T_BOOL : T_STRING, false, true, f);
}

/* Whether a comparison of users' externalId can only hold for a user that has one: then the
 * externalId index can answer it (a user without one is in neither of its parts). "ne" and a
 * comparison with null hold for users without one; they read the users table. */
static bool by_external_id_index(const struct adc_scim_filter *f) {
    switch (f->op) {
    case ADC_SCIM_EQ:
    case ADC_SCIM_GT:
    case ADC_SCIM_GE:
    case ADC_SCIM_LT:
    case ADC_SCIM_LE:
    case ADC_SCIM_SW:
    case ADC_SCIM_EW:
    case ADC_SCIM_CO: return json_is_string(f->value);
    default: return false;
    }
}

/* A comparison of users' externalId through its index (store-users.h): the settled users
 * from user_external_ids, the others by their seq above the mark, and the comparison on the
 * row itself, so that the result is the same as the comparison alone. */
static void gen_external_id(struct sql_builder *b, const struct adc_scim_filter *f) {
    adc_sql_emit(b, "(users.seq IN (SELECT x.seq FROM user_external_ids AS x WHERE ");
    adc_sql_compare(b, "x.external_id", T_EXACT, false, false, f);
    adc_sql_emit(b, " UNION ALL SELECT p.seq FROM users AS p WHERE p.seq > (SELECT m.seq FROM "
                    "index_marks AS m WHERE m.name = 'user_external_ids') AND ");
    adc_sql_compare(b, "p.external_id", T_EXACT, false, false, f);
    adc_sql_emit(b, ") AND ");
    adc_sql_compare(b, "users.external_id", T_EXACT, false, false, f);
    adc_sql_emit(b, ")");
}

/* Whether f is "externalId eq <string>" on users. */
static bool external_id_eq(const struct adc_scim_filter *f) {
    struct sql_attr a;
    const char *sub;
    return f->op == ADC_SCIM_EQ && json_is_string(f->value) && resolve_attr(f->attr, &a, &sub) &&
           a.type != T_MULTI && a.column && strcmp(a.column, "external_id") == 0;
}

/* Whether every operand of the chain of ORs at f is "externalId eq <string>". */
static bool external_id_eq_chain(const struct adc_scim_filter *f) {
    if (f->op == ADC_SCIM_OR)
        return external_id_eq_chain(f->left) && external_id_eq_chain(f->right);
    return external_id_eq(f);
}

/* The values of such a chain as a list of placeholders, "?, ?, ?", with their arguments. */
static void emit_eq_values(struct sql_builder *b, const struct adc_scim_filter *f, bool *first) {
    if (f->op == ADC_SCIM_OR) {
        emit_eq_values(b, f->left, first);
        emit_eq_values(b, f->right, first);
        return;
    }
    adc_sql_emit(b, *first ? "?" : ", ?");
    adc_sql_arg(b, json_string_value(f->value));
    *first = false;
}

/* "externalId eq a or externalId eq b or ..." (adc asks so for the users of a repeated Bulk
 * request, about 60 at a time: cloud/scim-write.c) as one look-up through the index for all of
 * the values: as a chain of gen_external_id, each value would scan the users above the mark
 * again. The result is the same (the row's own externalId is one of the values). */
static void gen_external_id_in(struct sql_builder *b, const struct adc_scim_filter *f) {
    static const char *const parts[] = {
        "(users.seq IN (SELECT x.seq FROM user_external_ids AS x WHERE x.external_id IN (",
        (") UNION ALL SELECT p.seq FROM users AS p WHERE p.seq > (SELECT m.seq FROM index_marks "
         "AS m WHERE m.name = 'user_external_ids') AND p.external_id IN ("),
        ")) AND users.external_id IN ("};
    for (size_t i = 0; i < ADC_ARRAY_SIZE(parts); i++) {
        bool first = true;
        adc_sql_emit(b, "%s", parts[i]);
        emit_eq_values(b, f, &first);
    }
    adc_sql_emit(b, "))");
}

static void gen(struct sql_builder *b, const struct adc_scim_filter *f, bool element);

/* A condition on the elements of a multi-valued attribute: EXISTS over its elements. */
static void gen_multi(struct sql_builder *b, const char *name,
                      const struct adc_scim_filter *inner_or_null, const char *sub,
                      const struct adc_scim_filter *cmp) {
    adc_sql_emit(b, "EXISTS (SELECT 1 FROM ");
    emit_elements(b, name);
    adc_sql_emit(b, " WHERE ");
    if (inner_or_null) {
        gen(b, inner_or_null, true);
    } else {
        if (!valid_sub(sub)) {
            adc_sql_fail(b, "invalid sub-attribute in '%s'", cmp->attr);
            return;
        }
        compare_sub(b, sub, cmp);
    }
    adc_sql_emit(b, ")");
}

/* The operands of a chain of one operator, without brackets around the inner links: the
 * parser builds "a and b and c" as ((a and b) and c), and a bracket per link would nest as
 * deep as the chain is long, past SQLite's parser stack (100) for a long but legal filter. */
static void gen_chain(struct sql_builder *b, const struct adc_scim_filter *f,
                      enum adc_scim_filter_op op, bool element) {
    if (f->op != op) {
        gen(b, f, element);
        return;
    }
    gen_chain(b, f->left, op, element);
    adc_sql_emit(b, op == ADC_SCIM_AND ? " AND " : " OR ");
    gen_chain(b, f->right, op, element);
}

/* A condition on a group: a column, or on its members an EXISTS over group_members through
 * its primary key (group_id, member_id), so "members.value eq X" is one index lookup. */
static void gen_group(struct sql_builder *b, const struct adc_scim_filter *f,
                      const struct sql_attr *a, const char *sub) {
    if (a->type != T_MULTI) {
        if (f->op == ADC_SCIM_VALUE_PATH) {
            adc_sql_fail(b, "'%s' is not a multi-valued attribute", f->attr);
            return;
        }
        char expr[100];
        snprintf(expr, sizeof(expr), "groups.%s", a->column);
        adc_sql_compare(b, expr, a->type, a->nocase_column, false, f);
        return;
    }
    if (f->op == ADC_SCIM_PR && !strchr(f->attr, '.')) {
        adc_sql_emit(b, "(groups.member_count > 0)");
        return;
    }
    if (f->op == ADC_SCIM_VALUE_PATH && strchr(f->attr, '.')) {
        adc_sql_fail(b, "'%s' is not a multi-valued attribute", f->attr);
        return;
    }
    const char *col = f->op == ADC_SCIM_VALUE_PATH ? "" : member_column(sub);
    if (!col) {
        adc_sql_fail(b, "members can be filtered by value and type, not '%s'", f->attr);
        return;
    }
    adc_sql_emit(b, "EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = groups.id AND ");
    if (f->op == ADC_SCIM_VALUE_PATH)
        gen(b, f->left, true);
    else
        adc_sql_compare(b, col, T_EXACT, false, false, f);
    adc_sql_emit(b, ")");
}

static void gen(struct sql_builder *b, const struct adc_scim_filter *f, bool element) {
    if (b->r < 0)
        return;
    switch (f->op) {
    case ADC_SCIM_AND:
    case ADC_SCIM_OR:
        if (f->op == ADC_SCIM_OR && !element && b->target == TARGET_USERS &&
            external_id_eq_chain(f)) {
            gen_external_id_in(b, f);
            return;
        }
        adc_sql_emit(b, "(");
        gen_chain(b, f, f->op, element);
        adc_sql_emit(b, ")");
        return;
    case ADC_SCIM_NOT:
        /* NOT over SQL's three-valued logic: an absent attribute (NULL) must count as "does
         * not match", so the inner condition is coalesced to false first. */
        adc_sql_emit(b, "(NOT coalesce(");
        gen(b, f->left, element);
        adc_sql_emit(b, ", FALSE))");
        return;
    default: break;
    }
    if (element) {
        /* Inside attr[...]: sub-attributes of the element. */
        if (f->op == ADC_SCIM_VALUE_PATH || !valid_sub(f->attr)) {
            adc_sql_fail(b, "invalid sub-attribute '%s' in a value filter", f->attr);
            return;
        }
        if (b->target != TARGET_USERS) {
            const char *col = member_column(f->attr);
            if (!col) {
                adc_sql_fail(b, "members can be filtered by value and type, not '%s'", f->attr);
                return;
            }
            adc_sql_compare(b, col, T_EXACT, false, false, f);
            return;
        }
        compare_sub(b, f->attr, f);
        return;
    }
    struct sql_attr a;
    const char *sub;
    if (b->target == TARGET_GROUPS ? !resolve_group_attr(f->attr, &a, &sub)
                                   : !resolve_attr(f->attr, &a, &sub)) {
        adc_sql_fail(b, "unsupported attribute '%s' in filter", f->attr);
        return;
    }
    if (b->target == TARGET_GROUPS) {
        gen_group(b, f, &a, sub);
        return;
    }
    if (f->op == ADC_SCIM_VALUE_PATH) {
        if (a.type != T_MULTI || strchr(f->attr, '.')) {
            adc_sql_fail(b, "'%s' is not a multi-valued attribute", f->attr);
            return;
        }
        gen_multi(b, a.name, f->left, NULL, f);
        return;
    }
    if (a.type == T_MULTI) {
        if (f->op == ADC_SCIM_PR && !strchr(f->attr, '.')) {
            if (b->pg)
                adc_sql_emit(
                    b,
                    "(coalesce(jsonb_array_length(CASE WHEN jsonb_typeof(users.data::jsonb -> "
                    "'%s') = 'array' THEN users.data::jsonb -> '%s' END), 0) > 0)",
                    a.name, a.name);
            else
                adc_sql_emit(b, "(coalesce(json_array_length(users.data, '$.%s'), 0) > 0)", a.name);
            return;
        }
        gen_multi(b, a.name, NULL, sub, f);
        return;
    }
    if (a.column && strcmp(a.column, "external_id") == 0 && by_external_id_index(f)) {
        gen_external_id(b, f);
        return;
    }
    char expr[400];
    if (a.column)
        snprintf(expr, sizeof(expr), "users.%s", a.column);
    else
        json_expr(b, expr, sizeof(expr), "users.data", a.ns, a.name);
    adc_sql_compare(b, expr, a.type, a.nocase_column, false, f);
}

void adc_sql_where_done(struct adc_sql_where *w) {
    if (!w)
        return;
    free(w->sql);
    for (size_t i = 0; i < w->n; i++)
        free(w->args[i].text);
    free(w->args);
    memset(w, 0, sizeof(*w));
}

static int filter_sql(enum sql_target target, const struct adc_scim_filter *f,
                      enum adc_sql_dialect dialect, struct adc_sql_where *out, char *err,
                      size_t err_size) {
    struct adc_sql_where w = {0};
    struct sql_builder b = {.target = target,
                            .w = &w,
                            .pg = dialect == ADC_SQL_POSTGRESQL,
                            .err = err,
                            .err_size = err_size};
    adc_buf_init(&b.sql, MAX_SQL);
    /* The members of one group: the filter is on the elements themselves. */
    gen(&b, f, target == TARGET_MEMBERS);
    if (b.r == 0)
        w.sql = adc_buf_take(&b.sql, NULL);
    if (b.r == 0 && !w.sql)
        b.r = -ENOMEM;
    if (b.r < 0) {
        adc_buf_done(&b.sql);
        adc_sql_where_done(&w);
        if (b.r == -ENOMEM)
            snprintf(err, err_size, "out of memory or filter too complex");
        return b.r;
    }
    *out = w;
    return 0;
}

int adc_store_filter_sql(const struct adc_scim_filter *f, enum adc_sql_dialect dialect,
                         struct adc_sql_where *out, char *err, size_t err_size) {
    return filter_sql(TARGET_USERS, f, dialect, out, err, err_size);
}

int adc_store_filter_sql_groups(const struct adc_scim_filter *f, enum adc_sql_dialect dialect,
                                struct adc_sql_where *out, char *err, size_t err_size) {
    return filter_sql(TARGET_GROUPS, f, dialect, out, err, err_size);
}

int adc_store_filter_sql_members(const struct adc_scim_filter *f, enum adc_sql_dialect dialect,
                                 struct adc_sql_where *out, char *err, size_t err_size) {
    return filter_sql(TARGET_MEMBERS, f, dialect, out, err, err_size);
}
