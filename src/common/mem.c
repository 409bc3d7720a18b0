#include "common/mem.h"

#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#define POPULATE_MIN (64u * 1024)

void adc_mem_populate(void *p, size_t len) {
    if (!p || len < POPULATE_MIN)
        return;
    static size_t page;
    if (!page) {
        long ps = sysconf(_SC_PAGESIZE);
        page = ps > 0 ? (size_t)ps : 4096;
    }
    uintptr_t start = ((uintptr_t)p + page - 1) & ~(uintptr_t)(page - 1);
    uintptr_t end = ((uintptr_t)p + len) & ~(uintptr_t)(page - 1);
    if (end <= start)
        return;
#ifdef MADV_HUGEPAGE
    /* Before the populate: the pages it makes are then huge where the range allows. */
    if (end - start >= 2u * 1024 * 1024)
        (void)madvise((void *)start, end - start, MADV_HUGEPAGE);
#endif
#ifdef MADV_POPULATE_WRITE
    (void)madvise((void *)start, end - start, MADV_POPULATE_WRITE);
#endif
}
