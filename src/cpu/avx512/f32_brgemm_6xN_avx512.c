/* The float32 brgemm tiles for AVX-512 (contract in ../ukernel.h): up to 6 output
 * channels by 16, 32, 48 or 64 positions (nv = 1..4 zmm per channel). The plan picks the
 * narrowest tile that covers a row's positions, so short rows waste few lanes.
 *
 * Per input channel k of each batch entry: nv loads of B, then for each of the mr
 * channels one broadcast of A (folded into the FMA as a {1to16} operand by the compiler)
 * and nv FMAs. With 6 channels even nv = 1 keeps 6 independent accumulators in flight,
 * more than the FMA latency (4 cycles) needs at Zen 4's one 512-bit FMA per cycle, and
 * nv + 6 loads per 6*nv FMAs stay under two loads per cycle. Only this file is compiled
 * with AVX-512 flags. */
#include <immintrin.h>

#include "../ukernel.h"

/* Vector v of the tile covers positions (v / vpr) * brow + (v % vpr) * 16 of B and
 * (v / vpr) * crow + (v % vpr) * 16 of C: consecutive when vpr = nv (one row), or the rows
 * of a short plane stacked into one tile. */
static inline __attribute__((always_inline)) void tile(const size_t mr, const size_t nv,
                                                       size_t batch, size_t kc,
                                                       const float *const *a,
                                                       const float *const *b, size_t ldb,
                                                       float *c, size_t ldc, size_t vpr,
                                                       size_t brow, size_t crow) {
  size_t boff[4], coff[4];
  for (size_t v = 0; v < nv; v++) {
    boff[v] = v / vpr * brow + v % vpr * 16;
    coff[v] = v / vpr * crow + v % vpr * 16;
  }
  __m512 acc[6][4];
  for (size_t m = 0; m < mr; m++)
    for (size_t v = 0; v < nv; v++) acc[m][v] = _mm512_loadu_ps(c + m * ldc + coff[v]);
  for (size_t bi = 0; bi < batch; bi++) {
    const float *ap = a[bi];
    const float *bp = b[bi];
    for (size_t k = 0; k < kc; k++, ap += mr, bp += ldb) {
      __m512 bv[4];
      for (size_t v = 0; v < nv; v++) bv[v] = _mm512_loadu_ps(bp + boff[v]);
      for (size_t m = 0; m < mr; m++) {
        const __m512 av = _mm512_set1_ps(ap[m]);
        for (size_t v = 0; v < nv; v++) acc[m][v] = _mm512_fmadd_ps(av, bv[v], acc[m][v]);
      }
    }
  }
  for (size_t m = 0; m < mr; m++)
    for (size_t v = 0; v < nv; v++) _mm512_storeu_ps(c + m * ldc + coff[v], acc[m][v]);
}

/* One entry point per width, and one per width for stacked rows; each switches once on
 * mr to a fully unrolled tile. */
#define CVT_SWITCH(nv, vpr, brow, crow)                                                  \
  switch (mr) {                                                                          \
  case 6: tile(6, nv, batch, kc, a, b, ldb, c, ldc, vpr, brow, crow); break;             \
  case 5: tile(5, nv, batch, kc, a, b, ldb, c, ldc, vpr, brow, crow); break;             \
  case 4: tile(4, nv, batch, kc, a, b, ldb, c, ldc, vpr, brow, crow); break;             \
  case 3: tile(3, nv, batch, kc, a, b, ldb, c, ldc, vpr, brow, crow); break;             \
  case 2: tile(2, nv, batch, kc, a, b, ldb, c, ldc, vpr, brow, crow); break;             \
  default: tile(1, nv, batch, kc, a, b, ldb, c, ldc, vpr, brow, crow); break;            \
  }
#define CVT_ENTRY(name, rows_name, nv)                                                   \
  void name(size_t mr, size_t batch, size_t kc, const float *const *a,                 \
            const float *const *b, size_t ldb, float *c, size_t ldc) {                 \
    CVT_SWITCH(nv, nv, 0, 0)                                                             \
  }                                                                                      \
  void rows_name(size_t mr, size_t batch, size_t kc, const float *const *a,            \
                 const float *const *b, size_t ldb, float *c, size_t ldc, size_t vpr,  \
                 size_t brow, size_t crow) {                                             \
    CVT_SWITCH(nv, vpr, brow, crow)                                                      \
  }

CVT_ENTRY(cvt_f32_brgemm_6x16_avx512, cvt_f32_brgemm_6x16_rows_avx512, 1)
CVT_ENTRY(cvt_f32_brgemm_6x32_avx512, cvt_f32_brgemm_6x32_rows_avx512, 2)
CVT_ENTRY(cvt_f32_brgemm_6x48_avx512, cvt_f32_brgemm_6x48_rows_avx512, 3)
CVT_ENTRY(cvt_f32_brgemm_6x64_avx512, cvt_f32_brgemm_6x64_rows_avx512, 4)
