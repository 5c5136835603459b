/* The library's allocations, in one place.
 *
 * Every buffer convt3d allocates comes from these three functions, so that a test build
 * (CMake option CONVT3D_FAULT_INJECTION) can make any chosen allocation fail and prove
 * that each failure is reported as CONVT3D_ERR_OUT_OF_MEMORY, leaks nothing and leaves
 * the caller's outputs untouched (tests/test_faults.c). In other builds they are the C
 * library's functions and nothing more. */
#include <stdlib.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "internal.h"

#ifdef CONVT3D_FAULT_INJECTION
#include <stdatomic.h>

/* Allocations to let through before one fails; negative: none fails. */
static _Atomic long long fail_countdown = -1;
static _Atomic long long allocations;

/* Test builds only (not in convt3d.h): makes the allocation `after` allocations from now
 * fail (0: the next one), once; a negative value cancels. Returns the number of
 * allocations made so far. */
CONVT3D_API long long convt3d_test_fail_allocation(long long after);
long long convt3d_test_fail_allocation(long long after) {
  fail_countdown = after;
  return allocations;
}

static bool injected_failure(void) {
  allocations++;
  long long left = atomic_load(&fail_countdown);
  while (left >= 0) /* take one step of the countdown; the step that reaches -1 fails */
    if (atomic_compare_exchange_weak(&fail_countdown, &left, left - 1)) return left == 0;
  return false;
}
#else
static bool injected_failure(void) { return false; }
#endif

void *cvt_malloc(size_t n) { return injected_failure() ? NULL : malloc(n ? n : 1); }

void *cvt_calloc(size_t count, size_t size) {
  return injected_failure() ? NULL : calloc(count ? count : 1, size ? size : 1);
}

/* Buffers from this size on (packed weights of deep layers, large workspaces) are
 * aligned to 2 MiB and offered to the kernel for transparent huge pages: the micro-kernels
 * read a 54 MB weight in panels scattered over thousands of 4 KiB pages, and once other
 * work has evicted the page tables from the caches, every panel costs a page walk
 * (measured, ResidualUNet3D up1, 1 thread: 12 ms warm, 42-46 ms when alternated with
 * oneDNN as in the bench; with huge pages 12.5 ms there, and its plan creation, mostly
 * page faults, 173 -> 25 ms). Only advice: where the system declines, nothing changes. */
#define HUGE_BYTES ((size_t)4 << 20)
#define HUGE_ALIGN ((size_t)2 << 20)

void *cvt_alloc64(size_t n) {
  if (injected_failure()) return NULL;
  n = (n + 63) & ~(size_t)63;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (n >= HUGE_BYTES) {
    n = (n + HUGE_ALIGN - 1) & ~(HUGE_ALIGN - 1);
    void *p = aligned_alloc(HUGE_ALIGN, n);
    if (p) (void)madvise(p, n, MADV_HUGEPAGE);
    return p;
  }
#endif
  return aligned_alloc(64, n ? n : 64);
}
