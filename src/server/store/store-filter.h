/* SCIM filters (a tree parsed by scim/scim-filter.c) translated to a WHERE clause over the
 * users table (or the groups table, or a group's members), in the SQL dialect of the store's
 * engine: the filter's SQL lives here with the rest of the store's SQL. Values are always bound,
 * never spliced into the text. */
#pragma once

#include <stddef.h>

#include "scim/scim-filter.h"
#include "store/store.h"

/* A WHERE clause with its bound values. */
struct adc_sql_where {
    char *sql;
    struct adc_sql_arg *args;
    size_t n, cap;
};
void adc_sql_where_done(struct adc_sql_where *w);

/* Translates a parsed filter on User resources into SQL over the users table (columns
 * user_name, external_id, id, active, provider, created, modified, data) for dialect. An
 * attribute we do not know, or a value of the wrong type, is an error with a reason in err
 * (-EINVAL). */
int adc_store_filter_sql(const struct adc_scim_filter *f, enum adc_sql_dialect dialect,
                         struct adc_sql_where *out, char *err, size_t err_size);

/* The same over the groups table (columns display_name, external_id, id, provider, created,
 * modified; members.value and members.type through group_members). */
int adc_store_filter_sql_groups(const struct adc_scim_filter *f, enum adc_sql_dialect dialect,
                                struct adc_sql_where *out, char *err, size_t err_size);
/* A filter on the members of one group, as in the PATCH path members[value eq "..."]: SQL
 * over the group_members row aliased m (value is m.member_id, type is m.type). */
int adc_store_filter_sql_members(const struct adc_scim_filter *f, enum adc_sql_dialect dialect,
                                 struct adc_sql_where *out, char *err, size_t err_size);
