/* A growable byte buffer with a hard limit (curl's dynbuf): responses built piece by piece. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/macros.h"

struct adc_buf {
    char *data; /* NUL-terminated while not failed */
    size_t len, cap, max;
    bool failed; /* out of memory or over max: later appends do nothing */
    bool wipe;   /* may hold secrets: see adc_buf_init_secret */
};

/* max: the most bytes the buffer may hold (0 = 1 GiB). A zeroed struct adc_buf is an empty
 * buffer with that default too. */
void adc_buf_init(struct adc_buf *b, size_t max);
/* The same for data that may hold secrets (answers carrying passwords): growth copies instead
 * of realloc and wipes the old block, and adc_buf_done wipes the data. Costs a copy per
 * doubling, which a network read never notices. */
void adc_buf_init_secret(struct adc_buf *b, size_t max);
void adc_buf_done(struct adc_buf *b);
/* Hands the data out (caller frees, and wipes it first when the buffer was a secret one); NULL
 * when the buffer failed. */
char *adc_buf_take(struct adc_buf *b, size_t *len);
/* Empties the buffer and clears a failure, keeping its memory for the next use. */
void adc_buf_clear(struct adc_buf *b);
/* Makes room for len more bytes at once, for a size known beforehand (a request body's
 * Content-Length): the appends up to it then neither realloc nor copy, where growing by
 * doubling copies the data about once over and, in a secret buffer, wipes each old block.
 * 0, -E2BIG over max (the buffer stays usable), or -ENOMEM (it failed). */
int adc_buf_reserve(struct adc_buf *b, size_t len);
int adc_buf_append(struct adc_buf *b, const void *data, size_t len);
int adc_buf_puts(struct adc_buf *b, const char *s);
int adc_buf_printf(struct adc_buf *b, const char *fmt, ...) _printf_(2, 3);
int adc_buf_vprintf(struct adc_buf *b, const char *fmt, va_list ap) _printf_(2, 0);

/* printf into a new string (NULL when out of memory): for messages built once. */
char *adc_strdup_printf(const char *fmt, ...) _printf_(1, 2);
char *adc_strdup_vprintf(const char *fmt, va_list ap) _printf_(1, 0);
/* The same into *err, for the "char **err" out-parameters; nothing when err is NULL. */
void adc_set_error(char **err, const char *fmt, ...) _printf_(2, 3);

/* The same for an array that keeps no capacity, only its count n, and grows by this rule alone:
 * its capacity is then `first` doubled as often as needed to hold n, so it is known from n.
 * `if (adc_grow_array_n(keys, n_keys, 64) < 0) return -ENOMEM;` */
int adc_grow_n(void **items, size_t n, size_t size, size_t first);
#define adc_grow_array_n(arr, n, first)                                                            \
    ({                                                                                             \
        void *_p = (arr);                                                                          \
        int _r = adc_grow_n(&_p, (n), sizeof(*(arr)), (first));                                    \
        (arr) = _p;                                                                                \
        _r;                                                                                        \
    })

/* Reads the whole file at path into a new NUL-terminated string *ret (caller frees; *len, when
 * not NULL, its length). Returns 0, -EFBIG when the file holds more than max bytes (reading stops
 * at max + 1: a wrong path to a large file costs nothing), -ENOMEM, or the negative errno of
 * fopen/fread; *ret is written only on success. For configuration, certificates and keys: the
 * caller says which file it was in its message (and wipes the data when it is a key). */
int adc_read_file(const char *path, size_t max, char **ret, size_t *len);

/* Makes room for one more element in a growable array (the one growth rule for arrays, beside
 * adc_buf for bytes): when n == *cap, doubles *cap (to `first` when 0) and reallocs *items to
 * *cap elements of `size` bytes. Returns 0, or -ENOMEM with *items and *cap unchanged (the
 * elements held stay valid). Doubling keeps appends amortized O(1). */
int adc_grow(void **items, size_t *cap, size_t n, size_t size, size_t first);
/* adc_grow for a typed array: `if (adc_grow_array(list, cap, n, 16) < 0) return -ENOMEM;`. */
#define adc_grow_array(arr, cap, n, first)                                                         \
    ({                                                                                             \
        void *_p = (arr);                                                                          \
        int _r = adc_grow(&_p, &(cap), (n), sizeof(*(arr)), (first));                              \
        (arr) = _p;                                                                                \
        _r;                                                                                        \
    })
