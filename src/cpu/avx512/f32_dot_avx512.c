/* The float32 dot-product tiles for AVX-512 (contract in ../ukernel.h): grad_weight read
 * in place from NCDHW input and grad_output, the vector lanes along the width.
 *
 * Stride 1 (s = 1): per 16 positions, one load of each of the MR input rows and of the NR
 * grad_output rows, MR*NR FMAs into MR*NR accumulators. Tiles 4x6, 8x3 and 24x1 keep 24
 * accumulators; 4x6 and 8x3 load 10-11 lines per 24 FMAs (12 cycles at two FMAs per
 * cycle), under the one line per cycle L2 delivers to a core; 24x1 (one grad_output
 * channel) loads 25 and runs at about half the FMA rate.
 *
 * Stride 2 (s = 2): grad_output positions 2*k + r (r = 0, 1: two width taps) interleave in
 * memory. The 4x4 and 8x2 tiles leave them so: each 32-element window of a grad_output
 * row is two vectors, and each input vector is duplicated lane-wise into two (positions
 * k..k+7 and k+8..k+15, each twice) to meet them, so an accumulator's even lanes sum tap
 * r = 0 and its odd lanes tap r = 1 (2*MR permutes and MR + 2*NR loads per 2*MR*NR FMAs).
 * With one grad_output channel that would take a permute per FMA; the 12x1 tile instead
 * deinterleaves the window (two permutes) into even and odd vectors, 12x1x2 accumulators.
 *
 * Rows past mr (or nr) repeat row mr - 1 (nr - 1): computed, never stored. Loads past kc
 * positions, or past nel elements of a grad_output row, are masked (never read, taken as
 * zero). Each accumulator lane sums its terms in order (b, then k ascending); the lanes
 * are then summed by _mm512_reduce_add_ps / _mm512_mask_reduce_add_ps, a fixed tree, and
 * the total added to C. Only this file and its siblings are compiled with AVX-512 flags. */
#include <immintrin.h>

#include "../ukernel.h"

/* The lanes of a 16-wide vector starting at element `at` that lie below `end`. */
static inline __mmask16 below(size_t at, size_t end) {
  if (at >= end) return 0;
  const size_t n = end - at;
  return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
}

/* One body per kind of tile, inlined with its shape as constants. The loops over the
 * tile are unrolled on request: left to the compiler, the accumulators stay in memory. */
static inline __attribute__((always_inline)) void
tile_s1(const size_t MR, const size_t NR, size_t mr, size_t nr, size_t batch, size_t kc,
        size_t nel, const float *const *a, size_t lda, const float *const *b, size_t ldb,
        float *c, size_t ldc, size_t cs) {
  size_t ao[24], bo[6];
#pragma GCC unroll 24
  for (size_t m = 0; m < MR; m++) ao[m] = (m < mr ? m : mr - 1) * lda;
#pragma GCC unroll 6
  for (size_t j = 0; j < NR; j++) bo[j] = (j < nr ? j : nr - 1) * ldb;
  __m512 acc[24][6];
#pragma GCC unroll 24
  for (size_t m = 0; m < MR; m++)
#pragma GCC unroll 6
    for (size_t j = 0; j < NR; j++) acc[m][j] = _mm512_setzero_ps();
  const size_t bend = nel < kc ? nel : kc;
  for (size_t bi = 0; bi < batch; bi++) {
    const float *ap = a[bi], *bp = b[bi];
    for (size_t k = 0; k < kc; k += 16) {
      const __mmask16 ma = below(k, kc), mb = below(k, bend);
      __m512 bv[6];
#pragma GCC unroll 6
      for (size_t j = 0; j < NR; j++) bv[j] = _mm512_maskz_loadu_ps(mb, bp + bo[j] + k);
#pragma GCC unroll 24
      for (size_t m = 0; m < MR; m++) {
        const __m512 av = _mm512_maskz_loadu_ps(ma, ap + ao[m] + k);
#pragma GCC unroll 6
        for (size_t j = 0; j < NR; j++) acc[m][j] = _mm512_fmadd_ps(av, bv[j], acc[m][j]);
      }
    }
  }
#pragma GCC unroll 24
  for (size_t m = 0; m < MR; m++)
#pragma GCC unroll 6
    for (size_t j = 0; j < NR; j++)
      if (m < mr && j < nr) c[m * ldc + j * cs] += _mm512_reduce_add_ps(acc[m][j]);
}

/* Stride 2 with the input duplicated lane-wise (see the file comment). */
static inline __attribute__((always_inline)) void
tile_s2(const size_t MR, const size_t NR, size_t mr, size_t nr, size_t batch, size_t kc,
        size_t nel, const float *const *a, size_t lda, const float *const *b, size_t ldb,
        float *c0, float *c1, size_t ldc, size_t cs) {
  size_t ao[8], bo[4];
#pragma GCC unroll 8
  for (size_t m = 0; m < MR; m++) ao[m] = (m < mr ? m : mr - 1) * lda;
#pragma GCC unroll 4
  for (size_t j = 0; j < NR; j++) bo[j] = (j < nr ? j : nr - 1) * ldb;
  const __m512i lo_dup = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
  const __m512i hi_dup =
      _mm512_set_epi32(15, 15, 14, 14, 13, 13, 12, 12, 11, 11, 10, 10, 9, 9, 8, 8);
  __m512 acc[8][4];
#pragma GCC unroll 8
  for (size_t m = 0; m < MR; m++)
#pragma GCC unroll 4
    for (size_t j = 0; j < NR; j++) acc[m][j] = _mm512_setzero_ps();
  const size_t end = nel < 2 * kc ? nel : 2 * kc;
  for (size_t bi = 0; bi < batch; bi++) {
    const float *ap = a[bi], *bp = b[bi];
    for (size_t k = 0; k < kc; k += 16) {
      const __mmask16 ma = below(k, kc);
      const __mmask16 m0 = below(2 * k, end), m1 = below(2 * k + 16, end);
      __m512 b0[4], b1[4];
#pragma GCC unroll 4
      for (size_t j = 0; j < NR; j++) {
        b0[j] = _mm512_maskz_loadu_ps(m0, bp + bo[j] + 2 * k);
        b1[j] = _mm512_maskz_loadu_ps(m1, bp + bo[j] + 2 * k + 16);
      }
#pragma GCC unroll 8
      for (size_t m = 0; m < MR; m++) {
        const __m512 av = _mm512_maskz_loadu_ps(ma, ap + ao[m] + k);
        const __m512 d0 = _mm512_permutexvar_ps(lo_dup, av);
        const __m512 d1 = _mm512_permutexvar_ps(hi_dup, av);
#pragma GCC unroll 4
        for (size_t j = 0; j < NR; j++) {
          acc[m][j] = _mm512_fmadd_ps(d0, b0[j], acc[m][j]);
          acc[m][j] = _mm512_fmadd_ps(d1, b1[j], acc[m][j]);
        }
      }
    }
  }
#pragma GCC unroll 8
  for (size_t m = 0; m < MR; m++)
#pragma GCC unroll 4
    for (size_t j = 0; j < NR; j++) {
      if (m >= mr || j >= nr) continue;
      if (c0) c0[m * ldc + j * cs] += _mm512_mask_reduce_add_ps(0x5555, acc[m][j]);
      if (c1) c1[m * ldc + j * cs] += _mm512_mask_reduce_add_ps(0xAAAA, acc[m][j]);
    }
}

/* Stride 2, one grad_output channel: the window deinterleaved into its two taps. */
static inline __attribute__((always_inline)) void
tile_s2_split(const size_t MR, size_t mr, size_t batch, size_t kc, size_t nel,
              const float *const *a, size_t lda, const float *const *b, float *c0,
              float *c1, size_t ldc) {
  size_t ao[12];
#pragma GCC unroll 12
  for (size_t m = 0; m < MR; m++) ao[m] = (m < mr ? m : mr - 1) * lda;
  const __m512i even =
      _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd =
      _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  __m512 acc0[12], acc1[12];
#pragma GCC unroll 12
  for (size_t m = 0; m < MR; m++) acc0[m] = acc1[m] = _mm512_setzero_ps();
  const size_t end = nel < 2 * kc ? nel : 2 * kc;
  for (size_t bi = 0; bi < batch; bi++) {
    const float *ap = a[bi], *bp = b[bi];
    for (size_t k = 0; k < kc; k += 16) {
      const __mmask16 ma = below(k, kc);
      const __m512 w0 = _mm512_maskz_loadu_ps(below(2 * k, end), bp + 2 * k);
      const __m512 w1 = _mm512_maskz_loadu_ps(below(2 * k + 16, end), bp + 2 * k + 16);
      const __m512 be = _mm512_permutex2var_ps(w0, even, w1);
      const __m512 bo = _mm512_permutex2var_ps(w0, odd, w1);
#pragma GCC unroll 12
      for (size_t m = 0; m < MR; m++) {
        const __m512 av = _mm512_maskz_loadu_ps(ma, ap + ao[m] + k);
        acc0[m] = _mm512_fmadd_ps(av, be, acc0[m]);
        acc1[m] = _mm512_fmadd_ps(av, bo, acc1[m]);
      }
    }
  }
#pragma GCC unroll 12
  for (size_t m = 0; m < MR; m++) {
    if (m >= mr) continue;
    if (c0) c0[m * ldc] += _mm512_reduce_add_ps(acc0[m]);
    if (c1) c1[m * ldc] += _mm512_reduce_add_ps(acc1[m]);
  }
}

/* One input row and one grad_output row (depthwise layers, read in place): a batch entry
 * is only a few vectors, so the rows of the entry four ahead are prefetched (measured,
 * 1 thread: MedNeXt up0 170 -> 126 ms, up1 133 -> 119), and two vectors of positions go
 * to separate accumulators, added together at the end. s = 2 deinterleaves the window as
 * tile_s2_split does. */
static inline __attribute__((always_inline)) void
tile_1x1(const size_t S, size_t batch, size_t kc, size_t nel, const float *const *a,
         const float *const *b, float *c0, float *c1) {
  const __m512i even =
      _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd =
      _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  __m512 acc0[2], acc1[2];
  acc0[0] = acc0[1] = acc1[0] = acc1[1] = _mm512_setzero_ps();
  const size_t end = nel < S * kc ? nel : S * kc;
  for (size_t bi = 0; bi < batch; bi++) {
    const float *ap = a[bi], *bp = b[bi];
    if (bi + 4 < batch) {
      const char *pa = (const char *)a[bi + 4], *pb = (const char *)b[bi + 4];
      for (size_t o = 0; o < 4 * kc; o += 64) _mm_prefetch(pa + o, _MM_HINT_T0);
      for (size_t o = 0; o < 4 * S * kc; o += 64) _mm_prefetch(pb + o, _MM_HINT_T0);
    }
    for (size_t k0 = 0; k0 < kc; k0 += 32)
#pragma GCC unroll 2
      for (size_t u = 0; u < 2; u++) {
        const size_t k = k0 + 16 * u;
        const __m512 av = _mm512_maskz_loadu_ps(below(k, kc), ap + k);
        if (S == 1) {
          const __m512 bv = _mm512_maskz_loadu_ps(below(k, end), bp + k);
          acc0[u] = _mm512_fmadd_ps(av, bv, acc0[u]);
          continue;
        }
        const __m512 w0 = _mm512_maskz_loadu_ps(below(2 * k, end), bp + 2 * k);
        const __m512 w1 = _mm512_maskz_loadu_ps(below(2 * k + 16, end), bp + 2 * k + 16);
        acc0[u] = _mm512_fmadd_ps(av, _mm512_permutex2var_ps(w0, even, w1), acc0[u]);
        acc1[u] = _mm512_fmadd_ps(av, _mm512_permutex2var_ps(w0, odd, w1), acc1[u]);
      }
  }
  if (c0) c0[0] += _mm512_reduce_add_ps(_mm512_add_ps(acc0[0], acc0[1]));
  if (S == 2 && c1) c1[0] += _mm512_reduce_add_ps(_mm512_add_ps(acc1[0], acc1[1]));
}

CVT_F32_DOT(cvt_f32_dot_avx512) {
  if (s == 1) {
    if (tile_nr == 6) tile_s1(4, 6, mr, nr, batch, kc, nel, a, lda, b, ldb, c0, ldc, cs);
    else if (tile_nr == 3) tile_s1(8, 3, mr, nr, batch, kc, nel, a, lda, b, ldb, c0, ldc, cs);
    else if (mr == 1) tile_1x1(1, batch, kc, nel, a, b, c0, NULL);
    else tile_s1(24, 1, mr, nr, batch, kc, nel, a, lda, b, ldb, c0, ldc, cs);
  } else {
    if (tile_nr == 4)
      tile_s2(4, 4, mr, nr, batch, kc, nel, a, lda, b, ldb, c0, c1, ldc, cs);
    else if (tile_nr == 2)
      tile_s2(8, 2, mr, nr, batch, kc, nel, a, lda, b, ldb, c0, c1, ldc, cs);
    else if (mr == 1) tile_1x1(2, batch, kc, nel, a, b, c0, c1);
    else tile_s2_split(12, mr, batch, kc, nel, a, lda, b, c0, c1, ldc);
  }
}
