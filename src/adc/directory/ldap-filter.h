/* RFC 4515 string filters: syntax check (for adc.yaml) and value escaping (for sign-in names). */
#pragma once

#include <stddef.h>

/* Checks that `filter` is one well-formed RFC 4515 filter. Returns 0, or -EINVAL with
 * *err_offset set to the byte offset of the first problem and *err_msg to a static
 * description ("unbalanced parentheses", "missing attribute description", ...). */
int adc_ldap_filter_validate(const char *filter, size_t *err_offset, const char **err_msg);

/* Checks that `attr` is an attribute description (RFC 4512 section 2.5: a name or numeric OID,
 * then ;options). Same contract as adc_ldap_filter_validate. */
int adc_ldap_filter_attr_validate(const char *attr, size_t *err_offset, const char **err_msg);

/* Escapes a value for use inside a filter (RFC 4515 section 3: '*', '(', ')', '\\', NUL and
 * every byte >= 0x80 that does not form valid UTF-8 become \XX). Returns a new string or NULL. */
char *adc_ldap_filter_escape(const char *value);
/* The same for a value of `len` bytes that may contain NUL (a binary or hostile value). */
char *adc_ldap_filter_escape_len(const char *value, size_t len);

/* Checks that `tmpl` contains exactly one "%s" (other '%' are literal). Returns 0, or -EINVAL
 * with *err_offset at the second "%s", or 0 when there is none. */
int adc_ldap_filter_template_check(const char *tmpl, size_t *err_offset);

/* Builds the filter of backend.ldap.authentication.username_filter_template for one name:
 * the single %s replaced by the escaped name. Returns a new string, or NULL when out of
 * memory or when the template does not contain exactly one %s. */
char *adc_ldap_filter_from_template(const char *tmpl, const char *name);
