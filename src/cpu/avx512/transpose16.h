/* A 16 x 16 float32 transpose in AVX-512 registers, shared by the files of this folder
 * (each is built with the AVX-512 flags: CMakeLists.txt). */
#ifndef CONVT3D_CPU_AVX512_TRANSPOSE16_H
#define CONVT3D_CPU_AVX512_TRANSPOSE16_H

#include <immintrin.h>
#include <stddef.h>

/* r[x] = column x of the 16 rows r[0..15]: lanes interleaved in pairs, then quads, then the
 * 128-bit quarters gathered (unpack, shuffle_ps, two rounds of shuffle_f32x4). */
static inline void transpose16(__m512 r[16]) {
  __m512 t[16], u[16];
  for (size_t i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  /* u[4i + k], quarter L: element 4L + k of rows 4i .. 4i + 3 */
  for (size_t i = 0; i < 4; i++) {
    u[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    u[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    u[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    u[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  for (size_t k = 0; k < 4; k++) {
    const __m512 w0 = _mm512_shuffle_f32x4(u[k], u[4 + k], 0x88);
    const __m512 w1 = _mm512_shuffle_f32x4(u[k], u[4 + k], 0xDD);
    const __m512 w2 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0x88);
    const __m512 w3 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0xDD);
    r[k] = _mm512_shuffle_f32x4(w0, w2, 0x88);
    r[4 + k] = _mm512_shuffle_f32x4(w1, w3, 0x88);
    r[8 + k] = _mm512_shuffle_f32x4(w0, w2, 0xDD);
    r[12 + k] = _mm512_shuffle_f32x4(w1, w3, 0xDD);
  }
}

#endif
