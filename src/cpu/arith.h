/* Small integer helpers shared by the drivers and the packing kernels. */
#ifndef CONVT3D_CPU_ARITH_H
#define CONVT3D_CPU_ARITH_H

#include <stddef.h>
#include <stdint.h>

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* a / b rounded up, for a >= 0 and b > 0; no intermediate can overflow. */
static inline int64_t ceil_div(int64_t a, int64_t b) {
  return a / b + (a % b != 0); /* NOLINT(clang-analyzer-core.DivideZero): b > 0 */
}

/* a / b rounded down, for any a and b > 0; no intermediate can overflow. */
static inline int64_t floor_div(int64_t a, int64_t b) {
  return a / b - (a % b != 0 && a < 0); /* NOLINT(clang-analyzer-core.DivideZero): b > 0 */
}

/* The positions j < len of a packed phase row (phase r, first position qmin) whose output
 * index (j + qmin)*s + r lies in [0, out): [*lo, *hi). No intermediate overflows. */
static inline void phase_row_range(int64_t out, int64_t s, int64_t r, int64_t qmin,
                                   int64_t len, int64_t *lo, int64_t *hi) {
  *lo = min64(len, max64(0, -qmin));
  *hi = out - 1 - r < 0 ? *lo : max64(*lo, min64(len, (out - 1 - r) / s - qmin + 1));
}

/* The index of key in a[0 .. n), ascending, or -1 where it is not there. */
static inline int64_t sorted_index(const int64_t *a, int64_t n, int64_t key) {
  int64_t lo = 0, hi = n; /* key, if there, lies in a[lo .. hi) */
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (a[mid] == key) return mid;
    if (a[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return -1;
}

/* n rounded up to a multiple of 64 (bytes: keeps workspace slices cache-line aligned). */
static inline size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* The smallest stride >= n elements of esize bytes that is an odd number of 64-byte lines.
 * A micro-kernel reads one B row per input channel, a stride apart: with a stride of a
 * multiple of 4 KiB every row falls in the same L1 set (L1 sets repeat every 4 KiB), and
 * a call's rows evict each other (measured: 6x16 tiles at 60% of their speed); with an
 * odd number of lines, 64 consecutive rows fall in 64 different sets. */
static inline int64_t unaliased_stride(int64_t n, size_t esize) {
  const int64_t line = 64 / (int64_t)esize; /* elements per line */
  int64_t lines = ceil_div(n, line);
  if (lines % 2 == 0) lines++;
  return lines * line;
}

#endif
