/* What the two halves of the filter translation share (store-filter.c: attributes and the
 * filter's tree; store-filter-compare.c: the SQL text and one comparison); internal to
 * src/server/store. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/macros.h"
#include "scim/scim-filter.h"
#include "store/store-filter.h"

enum attr_type { T_STRING, T_EXACT, T_BOOL, T_MULTI };

/* What a filter is over: users (the users table), groups (the groups table, members through
 * group_members) or the members of one group (group_members rows, aliased m). */
enum sql_target { TARGET_USERS, TARGET_GROUPS, TARGET_MEMBERS };

struct sql_builder {
    enum sql_target target;
    struct adc_sql_where *w;
    struct adc_buf sql;
    bool pg; /* PostgreSQL, else SQLite */
    char *err;
    size_t err_size;
    int r;
};

/* Appends printf text to the SQL; nothing after an error. */
void adc_sql_emit(struct sql_builder *b, const char *fmt, ...) _printf_(2, 3);
/* Appends a text argument for the next placeholder. */
void adc_sql_arg(struct sql_builder *b, const char *text);
/* Records the first error (a 400's reason); later output is dropped. */
void adc_sql_fail(struct sql_builder *b, const char *fmt, ...) _printf_(2, 3);
/* Emits the comparison of expression `expr` (SQL text without placeholders) with the filter's
 * value. json_bool: expr is JSON text ('true'/'false' on PostgreSQL) rather than an integer. */
void adc_sql_compare(struct sql_builder *b, const char *expr, enum attr_type type, bool nocase_col,
                     bool json_bool, const struct adc_scim_filter *f);
