/* Memory that is about to be filled, backed at once (docs/BENCHMARKS.md, issue 21). */
#pragma once

#include <stddef.h>

/* Asks the kernel to back [p, p + len) now, for memory just allocated that will be written
 * all over soon (an arena block, an index's arrays, a list reserved for a known count): one
 * system call instead of a page fault per 4 KiB page, which costs 10-20 us on a virtual
 * machine (about 70,000 of them, a second of CPU, for adc's 290 MB at 1,000,000 users), and
 * transparent huge pages where the range holds aligned 2 MiB (fewer TLB misses in a large
 * index). Only the whole pages inside the range are touched, and below 64 KiB nothing is done.
 * Best effort: a kernel without MADV_POPULATE_WRITE (Linux < 5.14) or THP leaves the memory as
 * it was, to be faulted in page by page. Never changes the contents. */
void adc_mem_populate(void *p, size_t len);
