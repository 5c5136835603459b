/* The float32 brgemm tiles for AVX-512 that vectorise along output channels (contract in
 * ../ukernel.h): up to 64 channels (4 zmm) by 1..6 positions, and up to 32 channels (2
 * zmm) by 1..12 positions (below).
 *
 * The 6xN tiles (f32_brgemm_6xN_avx512.c) put positions in the vector lanes, which wastes
 * lanes when a plane has few positions per row: deep decoder layers on 3^3..8^3 inputs
 * (3D-GAN, UNETR/SwinUNETR, ResidualUNet3D's first decoder). Here the lanes hold output
 * channels instead, read as one contiguous row of the packed weights per input channel,
 * and each position's input value is broadcast: per input channel k, ceil(mr/16) loads of
 * A, np broadcasts of B, ceil(mr/16)*np FMAs.
 *
 * The accumulators start at zero and the call's sum is added to C at the end, whose
 * layout [channel][position] (ldc apart) is the transpose of the accumulators: each
 * vector's positions are transposed in registers (16 x 16) and added to C a masked
 * vector per channel, mr vector adds per call against batch*kc*ceil(mr/16)*np vector
 * FMAs. So for each C element this kernel sums the call's terms (b, then k, ascending)
 * before adding them to C, a fixed order too.
 *
 * The second entry per tile (_bt, contract in ../ukernel.h) reads B's columns a stride
 * apart instead of adjacent: grad_weight's tap formulation points it at grad_output in
 * place, a row per grad_output channel, so that grad_output needs no transposing pack.
 * The third (_cl) adds the sums to a C laid out channels-last instead, C[j*ldc + m]:
 * one masked vector add per vector of channels and position, no transpose. grad_input's
 * row buffers use it. (Microbenchmark, 64x6 with batch 1 on Zen 5: at kc 64 the plain
 * entry runs at 0.92x the channels-last entry's speed, level at kc 576; when it added
 * its sums with mr*np scalar adds it ran at half the speed at kc 64.)
 *
 * The last vector of a block with mr % 16 != 0 is loaded whole: its lanes past mr read
 * the next row of weights (or the plan's slack after the last block) and are never
 * stored. (A masked load would be exact, but makes GCC keep the accumulators in memory.) */
#include <immintrin.h>

#include "../ukernel.h"
#include "transpose16.h"

static inline __attribute__((always_inline)) void
tile(const size_t nvec, const size_t np, const int cl, size_t mr, size_t nr, size_t batch,
     size_t kc, const float *const *a, const float *const *b, size_t ldk, size_t ldj,
     float *c, size_t ldc) {
  size_t bo[12]; /* B's column j: ldj apart, from column nr - 1 on repeated */
  for (size_t j = 0; j < np; j++) bo[j] = (j < nr ? j : nr - 1) * ldj;
  __m512 acc[4][12]; /* nvec * np <= 24 */
  for (size_t j = 0; j < np; j++)
    for (size_t v = 0; v < nvec; v++) acc[v][j] = _mm512_setzero_ps();
  for (size_t bi = 0; bi < batch; bi++) {
    const float *ap = a[bi];
    const float *bp = b[bi];
    for (size_t k = 0; k < kc; k++, ap += mr, bp += ldk) {
      __m512 av[4];
      for (size_t v = 0; v < nvec; v++) av[v] = _mm512_loadu_ps(ap + 16 * v);
      for (size_t j = 0; j < np; j++) {
        const __m512 bv = _mm512_set1_ps(bp[bo[j]]);
        for (size_t v = 0; v < nvec; v++) acc[v][j] = _mm512_fmadd_ps(av[v], bv, acc[v][j]);
      }
    }
  }
  for (size_t j = 0; cl && j < np; j++)
    for (size_t v = 0; v < nvec; v++) {
      const size_t lanes = v + 1 < nvec ? 16 : mr - 16 * v;
      const __mmask16 m = (__mmask16)((1u << lanes) - 1);
      float *cj = c + j * ldc + 16 * v;
      _mm512_mask_storeu_ps(cj, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, cj), acc[v][j]));
    }
  /* C[m][j]: the np positions of each vector's 16 channels transposed into a row per
   * channel, added with one masked vector per channel */
  for (size_t v = 0; !cl && v < nvec; v++) {
    __m512 r[16];
    for (size_t j = 0; j < 16; j++) r[j] = j < np ? acc[v][j] : _mm512_setzero_ps();
    transpose16(r);
    const size_t lanes = v + 1 < nvec ? 16 : mr - 16 * v;
    const __mmask16 m = (__mmask16)((1u << np) - 1);
    for (size_t l = 0; l < lanes; l++) {
      float *cl_row = c + (16 * v + l) * ldc;
      _mm512_mask_storeu_ps(cl_row, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, cl_row), r[l]));
    }
  }
}

/* Three entry points per position count: the plain one (B's columns adjacent: ldj = 1),
 * the one reading B across rows, and the one writing C channels-last; each switches once
 * on the vectors mr needs. */
#define CVT_TILES(np, cl, mr, nr, ldk, ldj)                                              \
  switch (((mr) + 15) / 16) {                                                            \
  case 4: tile(4, np, cl, mr, nr, batch, kc, a, b, ldk, ldj, c, ldc); break;             \
  case 3: tile(3, np, cl, mr, nr, batch, kc, a, b, ldk, ldj, c, ldc); break;             \
  case 2: tile(2, np, cl, mr, nr, batch, kc, a, b, ldk, ldj, c, ldc); break;             \
  default: tile(1, np, cl, mr, nr, batch, kc, a, b, ldk, ldj, c, ldc); break;            \
  }
#define CVT_ENTRY(np)                                                                    \
  CVT_F32_BRGEMM(cvt_f32_brgemm_64x##np##_avx512) { CVT_TILES(np, 0, mr, np, ldb, 1) }   \
  CVT_F32_BRGEMM_BT(cvt_f32_brgemm_64x##np##_bt_avx512) {                                \
    CVT_TILES(np, 0, mr, nr, ldk, ldj)                                                   \
  }                                                                                      \
  CVT_F32_BRGEMM(cvt_f32_brgemm_64x##np##_cl_avx512) { CVT_TILES(np, 1, mr, np, ldb, 1) }

CVT_ENTRY(1)
CVT_ENTRY(2)
CVT_ENTRY(3)
CVT_ENTRY(4)
CVT_ENTRY(5)
CVT_ENTRY(6)

/* 32 channels (2 zmm) by 1..12 positions, the plain entry only; 24 accumulators at most,
 * as in the 64x6 tile. The phase algorithm calls them with exact width taps: each width
 * tap of a row of 7 to 12 positions reaches a run of it (kernel 3 stride 1 on rows of 9
 * to 12: runs of 9), computed by one call as wide as the run, so each weight vector
 * loaded from L2 feeds 7 to 12 multiply-adds. The 64x6 tile's exact runs there are 3 to
 * 6 wide, and measured no faster than its whole tiles: their weight loads bind. */
#define CVT_ENTRY32(np)                                                                  \
  CVT_F32_BRGEMM(cvt_f32_brgemm_32x##np##_avx512) {                                      \
    if (mr > 16)                                                                         \
      tile(2, np, 0, mr, np, batch, kc, a, b, ldb, 1, c, ldc);                           \
    else                                                                                 \
      tile(1, np, 0, mr, np, batch, kc, a, b, ldb, 1, c, ldc);                           \
  }

CVT_ENTRY32(1)
CVT_ENTRY32(2)
CVT_ENTRY32(3)
CVT_ENTRY32(4)
CVT_ENTRY32(5)
CVT_ENTRY32(6)
CVT_ENTRY32(7)
CVT_ENTRY32(8)
CVT_ENTRY32(9)
CVT_ENTRY32(10)
CVT_ENTRY32(11)
CVT_ENTRY32(12)
