/* Small helpers shared by every file: cleanup attributes, ownership transfer, string tests. */
#pragma once

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define ADC_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline void adc_freep(void *p) { free(*(void **)p); }
#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(adc_freep)
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))

/* Hands ownership out of a variable that would otherwise be freed by a cleanup attribute. */
#define TAKE_PTR(p)                                                                                \
    ({                                                                                             \
        __typeof__(p) _taken = (p);                                                                \
        (p) = NULL;                                                                                \
        _taken;                                                                                    \
    })

static inline bool adc_streq(const char *a, const char *b) {
    return a && b && strcmp(a, b) == 0;
}
