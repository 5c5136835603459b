/* A portable brgemm micro-kernel (contract in ukernel.h), written so that compilers
 * vectorise it: the tile has compile-time sizes, and the kernel switches on mr once so
 * that each case is a fully unrolled tile whose accumulators can live in registers.
 *
 * Included once by each file in src/cpu/<isa>/ that uses it, after defining
 *   CVT_T       element type (float or double)
 *   CVT_MR      maximum rows (output channels) per tile, 1..8
 *   CVT_NR      positions per tile
 *   CVT_KERNEL  the kernel's name, as declared in ukernel.h
 * The including file's compiler flags decide the instruction set. */
#include <stddef.h>

#if !defined(CVT_T) || !defined(CVT_MR) || !defined(CVT_NR) || !defined(CVT_KERNEL)
#error "define CVT_T, CVT_MR, CVT_NR and CVT_KERNEL before including brgemm_generic.h"
#endif

static inline __attribute__((always_inline)) void tile(const size_t mr, size_t batch,
                                                       size_t kc, const CVT_T *const *a,
                                                       const CVT_T *const *b, size_t ldb,
                                                       CVT_T *c, size_t ldc) {
  CVT_T acc[CVT_MR][CVT_NR];
  for (size_t m = 0; m < mr; m++)
    for (size_t j = 0; j < CVT_NR; j++) acc[m][j] = c[m * ldc + j];
  for (size_t bi = 0; bi < batch; bi++) {
    const CVT_T *restrict ap = a[bi];
    const CVT_T *restrict bp = b[bi];
    for (size_t k = 0; k < kc; k++, ap += mr, bp += ldb)
      for (size_t m = 0; m < mr; m++) {
        const CVT_T av = ap[m];
        for (size_t j = 0; j < CVT_NR; j++) acc[m][j] += av * bp[j];
      }
  }
  for (size_t m = 0; m < mr; m++)
    for (size_t j = 0; j < CVT_NR; j++) c[m * ldc + j] = acc[m][j];
}

void CVT_KERNEL(size_t mr, size_t batch, size_t kc, const CVT_T *const *a,
                const CVT_T *const *b, size_t ldb, CVT_T *c, size_t ldc) {
  switch (mr) {
#if CVT_MR >= 8
  case 8: tile(8, batch, kc, a, b, ldb, c, ldc); break;
#endif
#if CVT_MR >= 7
  case 7: tile(7, batch, kc, a, b, ldb, c, ldc); break;
#endif
#if CVT_MR >= 6
  case 6: tile(6, batch, kc, a, b, ldb, c, ldc); break;
#endif
#if CVT_MR >= 5
  case 5: tile(5, batch, kc, a, b, ldb, c, ldc); break;
#endif
#if CVT_MR >= 4
  case 4: tile(4, batch, kc, a, b, ldb, c, ldc); break;
#endif
#if CVT_MR >= 3
  case 3: tile(3, batch, kc, a, b, ldb, c, ldc); break;
#endif
#if CVT_MR >= 2
  case 2: tile(2, batch, kc, a, b, ldb, c, ldc); break;
#endif
  default: tile(1, batch, kc, a, b, ldb, c, ldc); break;
  }
}
