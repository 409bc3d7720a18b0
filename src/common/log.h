/* Logging to stderr with levels. Under systemd (JOURNAL_STREAM set) each line carries a
 * syslog-style "<N>" prefix so journald records the right priority. */
#pragma once

#include <stdarg.h>

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
