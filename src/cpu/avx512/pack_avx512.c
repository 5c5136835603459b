/* The packing kernels (../pack_generic.h), compiled with this instruction set's flags
 * (see CMakeLists.txt), and two of float32's written out:
 * - phase_cols, at width strides 1 and 2: it transposes blocks of 16 channels by 16
 *   positions in registers (the portable loop is scalar, one element per load and store;
 *   it was a third of nnU-Net up5's grad_weight);
 * - phase_row at stride 2 (grad_input's pack at kernel = stride = 2): masked vectors from
 *   end to end, where the compiler's loop peels a scalar tail of up to 15 elements and
 *   calls memset twice for the zeros (rows of 32: one vector, one half vector and 7
 *   scalars per row).
 * And the streaming copy and the transpose back from channels-last (ukernel.h), which only
 * this set has. */
#include <immintrin.h>

#define CVT_ISA_SUFFIX avx512
#define CVT_OWN_F32_PHASE_COLS
#define CVT_OWN_F32_PHASE_ROW
#include "../pack_generic.h"
#include "transpose16.h"

/* The first n lanes, 0 <= n <= 16. */
static inline __mmask16 lanes(int64_t n) { return (__mmask16)((1u << n) - 1); }

CVT_PHASE_ROW_DECL(float, cvt_f32_phase_row_avx512) {
  if (s != 2) {
    phase_row_f32_portable(src, n, s, r, qmin, len, dst);
    return;
  }
  int64_t lo, hi;
  phase_row_range(n, s, r, qmin, len, &lo, &hi);
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4,
                                        2, 0);
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t j = 0; j < lo; j += 16)
    _mm512_mask_storeu_ps(dst + j, lanes(min64(16, lo - j)), zero);
  for (int64_t j = lo; j < hi; j += 16) {
    /* dst[j + t] = p[2t] for t < jn: 2 jn - 1 elements read, from the first */
    const int64_t jn = min64(16, hi - j);
    const float *p = src + (j + qmin) * 2 + r;
    const uint32_t span = (uint32_t)((UINT64_C(1) << (2 * jn - 1)) - 1);
    const __m512 a = _mm512_maskz_loadu_ps((__mmask16)span, p);
    const __m512 b = jn > 8 ? _mm512_maskz_loadu_ps((__mmask16)(span >> 16), p + 16) : zero;
    _mm512_mask_storeu_ps(dst + j, lanes(jn), _mm512_permutex2var_ps(a, even, b));
  }
  for (int64_t j = hi; j < len; j += 16)
    _mm512_mask_storeu_ps(dst + j, lanes(min64(16, len - j)), zero);
}

CVT_PHASE_COLS_DECL(float, cvt_f32_phase_cols_avx512) {
  if (s > 2) {
    phase_cols_f32_portable(src, lds, nch, s, r, qmin, lo, hi, dst, ldd);
    return;
  }
  /* stride 2: the even elements of 32 loaded, picked across the two vectors */
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4,
                                        2, 0);
  for (int64_t c0 = 0; c0 < nch; c0 += 16) {
    const int cn = (int)min64(16, nch - c0);
    const __mmask16 cmask = (__mmask16)((1u << cn) - 1);
    for (int64_t j0 = lo; j0 < hi; j0 += 16) {
      const int jn = (int)min64(16, hi - j0);
      /* the elements read: jn of the row (s = 1), or 2*jn - 1 from the first (s = 2); a
       * masked load touches no element outside its mask */
      const uint32_t span = s == 1 ? (1u << jn) - 1 : (uint32_t)((1ull << (2 * jn - 1)) - 1);
      __m512 v[16];
      for (int c = 0; c < 16; c++) {
        if (c >= cn) {
          v[c] = _mm512_setzero_ps();
          continue;
        }
        const float *p = src + (c0 + c) * lds + (j0 + qmin) * s + r;
        if (c0 + 16 + c < nch) { /* the next block's rows: each on a page of its own */
          _mm_prefetch((const char *)(p + 16 * lds), _MM_HINT_T0);
          if (s == 2) _mm_prefetch((const char *)(p + 16 * lds + 16), _MM_HINT_T0);
        }
        if (s == 1) {
          v[c] = _mm512_maskz_loadu_ps((__mmask16)span, p);
        } else {
          const __m512 a = _mm512_maskz_loadu_ps((__mmask16)span, p);
          const __m512 b = _mm512_maskz_loadu_ps((__mmask16)(span >> 16), p + 16);
          v[c] = _mm512_permutex2var_ps(a, even, b);
        }
      }
      transpose16(v);
      for (int j = 0; j < jn; j++) _mm512_mask_storeu_ps(dst + (j0 + j) * ldd + c0, cmask, v[j]);
    }
  }
}

void cvt_f32_stream_rows_avx512(const float *src, int64_t lds, int64_t rows, int64_t n,
                                float *dst, int64_t ldd) {
  for (int64_t i = 0; i < rows; i++) {
    const float *s = src + i * lds;
    float *d = dst + i * ldd;
    /* A row that starts inside a line is copied: its first and last lines would take
     * normal stores beside streamed ones, each fetching the line that the other evicts
     * (measured: 1.5x slower than copying everything). */
    if ((uintptr_t)d % 64 != 0) {
      memcpy(d, s, (size_t)n * sizeof *d);
      continue;
    }
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) _mm512_stream_ps(d + j, _mm512_loadu_ps(s + j));
    /* No store with an empty mask after a whole row: on Zen 5 it still claims the line
     * past the row, which the next row's streamed stores then evict, every row: MedNeXt's
     * head, grad_input copied out in tiles of 64 positions, took 0.54x the time without it
     * at 1 and 2 threads (alternated in one process, medians of 11 rounds). */
    if (j < n)
      _mm512_mask_storeu_ps(d + j, lanes(n - j), _mm512_maskz_loadu_ps(lanes(n - j), s + j));
  }
}

void cvt_f32_cl_rows_avx512(const float *src, int64_t lds, int64_t nch, int64_t w,
                            int64_t ldw, int64_t n, float *dst, int64_t ldd) {
  /* blocks of 16 positions (across rows) by 16 channels: a masked load per position,
   * transposed in registers, a store per channel (the scalar loop this replaces was 36%
   * of VideoGPT's head) */
  for (int64_t c0 = 0; c0 < nch; c0 += 16) {
    const int cn = (int)min64(16, nch - c0);
    int64_t r = 0, x = 0; /* the row and column of position p0 */
    for (int64_t p0 = 0; p0 < n; p0 += 16) {
      const int pn = (int)min64(16, n - p0);
      __m512 v[16];
      for (int i = 0; i < 16; i++) {
        v[i] = i < pn ? _mm512_maskz_loadu_ps(lanes(cn), src + (r * ldw + x) * lds + c0)
                      : _mm512_setzero_ps();
        if (++x == w) x = 0, r++;
      }
      transpose16(v);
      for (int c = 0; c < cn; c++)
        _mm512_mask_storeu_ps(dst + (c0 + c) * ldd + p0, lanes(pn), v[c]);
    }
  }
}
