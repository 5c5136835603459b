/* The fused float32 tiles for AVX-512 for kernel = stride = 2 along the width (nnU-Net,
 * V-Net, UNETR/SwinUNETR upsampling): both width phases of 16 or 32 positions at once,
 * written straight to the output, interleaved.
 *
 * With kernel = stride = 2 (no padding) the two width phases read the same input (tap
 * kw = 0 makes the even outputs, kw = 1 the odd ones), so one load of B feeds both
 * phases' FMAs, and the tile, started from the bias, goes to the output with one
 * permute per pair of vectors instead of through a buffer and a separate interleaving
 * pass. For each output the terms are summed exactly as by the unfused path: bias, then
 * b ascending, then k ascending, one FMA at a time, so results are bit-identical.
 *
 *   z[m][2*j]     = bias[m] + sum_b sum_k a0[b][k*mr + m] * B_b[k*ldb + j]
 *   z[m][2*j + 1] = bias[m] + sum_b sum_k a1[b][k*mr + m] * B_b[k*ldb + j]
 *
 * for m < mr, j < 16*nv; vector v of row m (z[m][16*v .. 16*v + 15]) is stored through
 * out[v] (ukernel.h): the caller's positions may run across output rows (the driver packs
 * whole rows of a plane one after another and tiles them as one sequence), and lanes no
 * mask keeps are computed from whatever B holds there and dropped. batch may be 0 (the
 * output gets the bias). With stream set, full parts on a cache line go out with
 * non-temporal stores (outputs too large for any cache: no read of each line before it
 * is overwritten); the caller fences them. */
#include <immintrin.h>
#include <stdint.h>

#include "../ukernel.h"

static inline __attribute__((always_inline)) void tile(const size_t mr, const size_t nv,
                                                       size_t batch, size_t kc,
                                                       const float *const *a0,
                                                       const float *const *a1,
                                                       const float *const *b, size_t ldb,
                                                       const float *bias,
                                                       const cvt_w2_out *out, size_t ych,
                                                       int stream) {
  __m512 acc0[6][2], acc1[6][2];
  for (size_t m = 0; m < mr; m++) {
    const __m512 v = bias ? _mm512_set1_ps(bias[m]) : _mm512_setzero_ps();
    for (size_t j = 0; j < nv; j++) acc0[m][j] = acc1[m][j] = v;
  }
  for (size_t bi = 0; bi < batch; bi++) {
    const float *ap0 = a0[bi], *ap1 = a1[bi], *bp = b[bi];
    for (size_t k = 0; k < kc; k++, ap0 += mr, ap1 += mr, bp += ldb) {
      __m512 bv[2];
      for (size_t j = 0; j < nv; j++) bv[j] = _mm512_loadu_ps(bp + 16 * j);
      for (size_t m = 0; m < mr; m++) {
        const __m512 w0 = _mm512_set1_ps(ap0[m]), w1 = _mm512_set1_ps(ap1[m]);
        for (size_t j = 0; j < nv; j++) {
          acc0[m][j] = _mm512_fmadd_ps(w0, bv[j], acc0[m][j]);
          acc1[m][j] = _mm512_fmadd_ps(w1, bv[j], acc1[m][j]);
        }
      }
    }
  }
  /* even lanes from the first phase, odd from the second */
  const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i hi =
      _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  for (size_t v = 0; v < 2 * nv; v++) {
    const size_t j = v / 2;
    const __m512i idx = v % 2 ? hi : lo;
    for (size_t part = 0; part < 2; part++) {
      const __mmask16 keep = out[v].mask[part];
      float *const dst = out[v].dst[part];
      if (!keep) continue; /* no store with an empty mask (pack_avx512.c's stream rows) */
      if (keep == 0xFFFF) {
        for (size_t m = 0; m < mr; m++) {
          const __m512 z = _mm512_permutex2var_ps(acc0[m][j], idx, acc1[m][j]);
          if (stream && ((uintptr_t)(dst + m * ych) & 63) == 0)
            _mm512_stream_ps(dst + m * ych, z);
          else
            _mm512_storeu_ps(dst + m * ych, z);
        }
      } else if (keep & 1) {
        for (size_t m = 0; m < mr; m++)
          _mm512_mask_storeu_ps(dst + m * ych, keep,
                                _mm512_permutex2var_ps(acc0[m][j], idx, acc1[m][j]));
      } else { /* the part starts past lane 0: its lanes move down to dst's */
        const __mmask16 first = (__mmask16)((1u << __builtin_popcount(keep)) - 1);
        for (size_t m = 0; m < mr; m++)
          _mm512_mask_storeu_ps(
              dst + m * ych, first,
              _mm512_maskz_compress_ps(keep,
                                       _mm512_permutex2var_ps(acc0[m][j], idx, acc1[m][j])));
      }
    }
  }
}

#define CVT_W2_SWITCH(nv)                                                                \
  switch (mr) {                                                                          \
  case 6: tile(6, nv, batch, kc, a0, a1, b, ldb, bias, out, ych, stream); break;         \
  case 5: tile(5, nv, batch, kc, a0, a1, b, ldb, bias, out, ych, stream); break;         \
  case 4: tile(4, nv, batch, kc, a0, a1, b, ldb, bias, out, ych, stream); break;         \
  case 3: tile(3, nv, batch, kc, a0, a1, b, ldb, bias, out, ych, stream); break;         \
  case 2: tile(2, nv, batch, kc, a0, a1, b, ldb, bias, out, ych, stream); break;         \
  default: tile(1, nv, batch, kc, a0, a1, b, ldb, bias, out, ych, stream); break;        \
  }

CVT_F32_BRGEMM_W2(cvt_f32_brgemm_w2_6x16_avx512) { CVT_W2_SWITCH(1) }
CVT_F32_BRGEMM_W2(cvt_f32_brgemm_w2_6x32_avx512) { CVT_W2_SWITCH(2) }
