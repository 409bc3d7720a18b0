#include "common/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static enum adc_log_level max_level = ADC_LOG_NOTICE;
static const char *program = "adc";
/* One line at a time: the agent logs from its password-check threads too. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void adc_log_set_level(enum adc_log_level level) { max_level = level; }
enum adc_log_level adc_log_get_level(void) { return max_level; }
void adc_log_set_program(const char *name) { program = name; }

static const char *level_word(enum adc_log_level level) {
    switch (level) {
    case ADC_LOG_ERROR: return "error";
    case ADC_LOG_WARNING: return "warning";
    case ADC_LOG_NOTICE: return "notice";
    case ADC_LOG_INFO: return "info";
    case ADC_LOG_DEBUG: return "debug";
    }
    return "log";
}

/* systemd sets JOURNAL_STREAM when stderr is connected to the journal. */
static int under_journald(void) {
    static int cached = -1;
    if (cached < 0)
        cached = getenv("JOURNAL_STREAM") != NULL;
    return cached;
}

void adc_logv(enum adc_log_level level, const char *fmt, va_list ap) {
    if (level > max_level)
        return;
    pthread_mutex_lock(&log_lock);
    if (under_journald())
        fprintf(stderr, "<%d>", (int)level);
    else if (level == ADC_LOG_NOTICE || level == ADC_LOG_INFO)
        fprintf(stderr, "%s: ", program);
    else
        fprintf(stderr, "%s: %s: ", program, level_word(level));
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    fflush(stderr);
    pthread_mutex_unlock(&log_lock);
}

void adc_log(enum adc_log_level level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    adc_logv(level, fmt, ap);
    va_end(ap);
}
