/* Logging to stderr with levels. Under systemd (JOURNAL_STREAM set) each line carries a
 * syslog-style "<N>" prefix so journald records the right priority. */
#pragma once

#include <stdarg.h>
#include <stddef.h>

#include "common/macros.h"

enum adc_log_level {
    ADC_LOG_ERROR = 3, /* syslog priorities, so the journald prefix is the level itself */
    ADC_LOG_WARNING = 4,
    ADC_LOG_NOTICE = 5,
    ADC_LOG_INFO = 6,
    ADC_LOG_DEBUG = 7,
};

/* Sets the most verbose level printed; default ADC_LOG_NOTICE. */
void adc_log_set_level(enum adc_log_level level);
enum adc_log_level adc_log_get_level(void);
/* Program name printed before messages when not under journald ("adc: error: ..."). */
void adc_log_set_program(const char *name);

void adc_log(enum adc_log_level level, const char *fmt, ...) _printf_(2, 3);
void adc_logv(enum adc_log_level level, const char *fmt, va_list ap) _printf_(2, 0);

#define log_error(...) adc_log(ADC_LOG_ERROR, __VA_ARGS__)
#define log_warning(...) adc_log(ADC_LOG_WARNING, __VA_ARGS__)
#define log_notice(...) adc_log(ADC_LOG_NOTICE, __VA_ARGS__)
#define log_info(...) adc_log(ADC_LOG_INFO, __VA_ARGS__)
#define log_debug(...) adc_log(ADC_LOG_DEBUG, __VA_ARGS__)

/* Quotes a value that came from outside (a user name, a URL path, a header) for a log line, so
 * that it cannot forge a line of its own or hide in one: the result is wrapped in double
 * quotes; '"' and '\\' are escaped with a backslash, \n \r \t as such, other control
 * characters (C0, DEL, and the C1 range and U+2028/U+2029 written in UTF-8) as \xNN or \u{NNNN},
 * and bytes that are not valid UTF-8 as \xNN; valid UTF-8 text stays readable. A value that
 * does not fit is cut at a character boundary and ends with "..." after the closing quote. NULL
 * is written as (null) without quotes. Returns buf (always NUL-terminated; size >= 16). */
const char *adc_log_quote(const char *s, char *buf, size_t size);
/* The same escapes without the quotes, for a value whose place in the line is clear (a URL path
 * after the method); a cut value ends with "...". */
const char *adc_log_escape(const char *s, char *buf, size_t size);
/* adc_log_quote into a buffer that lives until the end of the enclosing block, for use inside
 * a log call's arguments: log_info("login %s", ADC_LOG_Q(name)). */
#define ADC_LOG_QUOTE_SIZE 256
#define ADC_LOG_Q(s) adc_log_quote((s), (char[ADC_LOG_QUOTE_SIZE]){0}, ADC_LOG_QUOTE_SIZE)
#define ADC_LOG_E(s) adc_log_escape((s), (char[ADC_LOG_QUOTE_SIZE]){0}, ADC_LOG_QUOTE_SIZE)
