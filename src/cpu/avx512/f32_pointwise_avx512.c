/* The pointwise tile (AVX-512, float32) for kernel-1 stride-1 layers with few output
 * channels per group (pointwise.c): m <= 14 output channels by 32 positions, 2m
 * accumulators started from the bias, each input channel's 32 positions loaded straight
 * from the input (two vectors) and multiplied by the m weights of that channel, broadcast.
 * Nothing is packed: the input is read once, in place, and each output once written,
 * streamed past the caches where the caller asks.
 *
 * The input channels of a layer are one plane apart, often a power of two of bytes, so
 * the same 32 positions of every channel fall in the same cache sets: more lines than the
 * sets have ways, and the hardware's own prefetches are evicted before their use. Each
 * channel's lines two steps ahead are prefetched in the step itself, which keeps them
 * near: MedNeXt's head (32 -> 13 on 128^3, planes of 8 MiB) took 26 ms at 1 thread with
 * it and 49 ms without, in a stand-alone loop; farther prefetches (128-512 positions
 * ahead) took 28-48 ms. */
#include <immintrin.h>
#include <stdbool.h>
#include <stdint.h>

#include "../ukernel.h"

#define PW_STEP 32                /* positions per step: two vectors */
#define PW_PREFETCH 64 /* positions ahead that each step prefetches: two steps */

/* The m accumulators of one step, stored with non-temporal stores or normally; a last
 * step of n < 32 positions stores just those (normally). */
static inline __attribute__((always_inline)) void
store_step(int m, __m512 acc[][2], float *y, size_t ldy, size_t n, bool stream) {
  if (n == PW_STEP && stream) {
    for (int c = 0; c < m; c++) {
      _mm512_stream_ps(y + c * ldy, acc[c][0]);
      _mm512_stream_ps(y + c * ldy + 16, acc[c][1]);
    }
  } else if (n == PW_STEP) {
    for (int c = 0; c < m; c++) {
      _mm512_storeu_ps(y + c * ldy, acc[c][0]);
      _mm512_storeu_ps(y + c * ldy + 16, acc[c][1]);
    }
  } else {
    const __mmask16 k0 = (__mmask16)(n >= 16 ? 0xffff : (1u << n) - 1);
    const __mmask16 k1 = (__mmask16)(n <= 16 ? 0 : (1u << (n - 16)) - 1);
    for (int c = 0; c < m; c++) {
      _mm512_mask_storeu_ps(y + c * ldy, k0, acc[c][0]);
      if (k1) _mm512_mask_storeu_ps(y + c * ldy + 16, k1, acc[c][1]);
    }
  }
}

/* One step of n <= 32 positions (masked loads past n). */
static inline __attribute__((always_inline)) void
step(int m, size_t kc, const float *w, const float *bias, const float *x, size_t ldx,
     size_t n, float *y, size_t ldy, bool stream) {
  __m512 acc[14][2];
  for (int c = 0; c < m; c++) acc[c][0] = acc[c][1] = _mm512_set1_ps(bias[c]);
  const __mmask16 k0 = (__mmask16)(n >= 16 ? 0xffff : (1u << n) - 1);
  const __mmask16 k1 = (__mmask16)(n >= 32 ? 0xffff : n <= 16 ? 0 : (1u << (n - 16)) - 1);
  for (size_t ci = 0; ci < kc; ci++, x += ldx, w += m) {
    _mm_prefetch((const char *)(x + PW_PREFETCH), _MM_HINT_T0);
    _mm_prefetch((const char *)(x + PW_PREFETCH + 16), _MM_HINT_T0);
    const __m512 x0 = _mm512_maskz_loadu_ps(k0, x), x1 = _mm512_maskz_loadu_ps(k1, x + 16);
    for (int c = 0; c < m; c++) {
      const __m512 wc = _mm512_set1_ps(w[c]);
      acc[c][0] = _mm512_fmadd_ps(wc, x0, acc[c][0]);
      acc[c][1] = _mm512_fmadd_ps(wc, x1, acc[c][1]);
    }
  }
  store_step(m, acc, y, ldy, n, stream);
}

/* The run for a constant m: whole steps, then the rest. */
static inline __attribute__((always_inline)) void
run(int m, size_t kc, const float *w, const float *bias, const float *x, size_t ldx,
    size_t np, float *y, size_t ldy, bool stream) {
  size_t p = 0;
  for (; p + PW_STEP <= np; p += PW_STEP)
    step(m, kc, w, bias, x + p, ldx, PW_STEP, y + p, ldy, stream);
  if (p < np) step(m, kc, w, bias, x + p, ldx, np - p, y + p, ldy, false);
}

#define PW_CASE(M)                                                                       \
  case M: run(M, kc, w, bias, x, ldx, np, y, ldy, stream); break;

void cvt_f32_pointwise_avx512(size_t m, size_t kc, const float *w, const float *bias,
                              const float *x, size_t ldx, size_t np, float *y, size_t ldy,
                              int stream) {
  switch (m) {
    PW_CASE(1) PW_CASE(2) PW_CASE(3) PW_CASE(4) PW_CASE(5) PW_CASE(6) PW_CASE(7)
    PW_CASE(8) PW_CASE(9) PW_CASE(10) PW_CASE(11) PW_CASE(12) PW_CASE(13) PW_CASE(14)
    default: break; /* m <= CVT_POINTWISE_MAX_M: the caller's precondition */
  }
}
