/* FMA-peak loop for AVX-512F: the only code in the tool built with -mavx512f -mfma.
 * bench.c calls it only when __builtin_cpu_supports("avx512f") says the CPU and the OS
 * have it.
 *
 * BENCH_FMA_CHAINS independent accumulators keep every FMA pipe busy whatever the FMA
 * latency (4 cycles x 2 pipes on Zen 4 and Skylake-X needs at least 8 chains). Multiplying
 * by a value just below 1 and adding a small constant keeps each chain at a fixed point
 * near 1, far from overflow and denormals, which could otherwise slow the loop down. */
#include <immintrin.h>

#include "bench.h"

float bench_fma_avx512(int64_t iters) {
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-6f);
  /* Twelve named accumulators (BENCH_FMA_CHAINS), not an array: compilers keep an array
   * indexed in a loop in memory at -O2, and the loop would then time stores. */
  __m512 c0 = _mm512_set1_ps(1.00f), c1 = _mm512_set1_ps(1.01f), c2 = _mm512_set1_ps(1.02f);
  __m512 c3 = _mm512_set1_ps(1.03f), c4 = _mm512_set1_ps(1.04f), c5 = _mm512_set1_ps(1.05f);
  __m512 c6 = _mm512_set1_ps(1.06f), c7 = _mm512_set1_ps(1.07f), c8 = _mm512_set1_ps(1.08f);
  __m512 c9 = _mm512_set1_ps(1.09f), c10 = _mm512_set1_ps(1.10f), c11 = _mm512_set1_ps(1.11f);
  for (int64_t i = 0; i < iters; i++) {
    c0 = _mm512_fmadd_ps(c0, a, b);
    c1 = _mm512_fmadd_ps(c1, a, b);
    c2 = _mm512_fmadd_ps(c2, a, b);
    c3 = _mm512_fmadd_ps(c3, a, b);
    c4 = _mm512_fmadd_ps(c4, a, b);
    c5 = _mm512_fmadd_ps(c5, a, b);
    c6 = _mm512_fmadd_ps(c6, a, b);
    c7 = _mm512_fmadd_ps(c7, a, b);
    c8 = _mm512_fmadd_ps(c8, a, b);
    c9 = _mm512_fmadd_ps(c9, a, b);
    c10 = _mm512_fmadd_ps(c10, a, b);
    c11 = _mm512_fmadd_ps(c11, a, b);
  }
  const __m512 sum =
      _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3)),
                                  _mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7))),
                    _mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(c10, c11)));
  float lanes[16], total = 0;
  _mm512_storeu_ps(lanes, sum);
  for (int l = 0; l < 16; l++)
    total += lanes[l];
  return total;
}
