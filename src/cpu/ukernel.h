/* The micro-kernel contract: batch-reduce GEMM ("brgemm") tiles.
 *
 * One call computes, for a tile of mr output channels by NR output positions,
 *
 *     C[m][j] += sum over b < batch, k < kc of A_b[k*mr + m] * B_b[k*ldb + j]
 *
 * for m < mr, j < NR, where
 *   A_b: packed weights of one kernel tap: kc rows of mr output channels, contiguous
 *        (row k = input channel k of the block);
 *   B_b: packed input rows: row k (input channel k) starts at B_b + k*ldb and holds
 *        NR consecutive positions, already shifted for the tap and zero-filled outside
 *        the input, so the kernel never tests bounds;
 *   C:   mr rows of NR values, row stride ldc, read and written (the caller initialises
 *        it with the bias).
 *
 *               NR positions               mr channels
 *         +-----------------+            +-----+
 *   k=0   | B_b row 0       |  ldb       |A_b  |  k=0
 *   k=1   | B_b row 1       |  apart     |rows |  k=1      C[mr][NR] += A_b^T B_b
 *   ...   |                 |            |     |  ...
 *         +-----------------+            +-----+
 *
 * Preconditions: 1 <= mr <= the kernel's MR, kc >= 1, batch >= 1; every B_b row is
 * readable for NR elements; A_b rows are readable up to a whole vector past mr values
 * (the plan pads its packed weights). Summation order, for each C element: b ascending,
 * then k ascending, one fused or unfused multiply-add at a time, either onto C directly
 * or onto zero with the total added to C at the end; the order is fixed per kernel, so
 * results do not depend on threads. Micro-kernels are leaf functions: no allocation, no
 * threads, no status. */
#ifndef CONVT3D_UKERNEL_H
#define CONVT3D_UKERNEL_H

#include <stddef.h>

typedef void (*cvt_f32_brgemm_fn)(size_t mr, size_t batch, size_t kc,
                                  const float *const *a, const float *const *b, size_t ldb,
                                  float *c, size_t ldc);
typedef void (*cvt_f64_brgemm_fn)(size_t mr, size_t batch, size_t kc,
                                  const double *const *a, const double *const *b,
                                  size_t ldb, double *c, size_t ldc);

/* The same tile over stacked rows: vector v of the NR positions reads B at
 * (v / vpr)*brow + (v % vpr)*16 and C at (v / vpr)*crow + (v % vpr)*16, so a plane whose
 * rows hold vpr vectors fills the tile with several rows and no padding columns. */
typedef void (*cvt_f32_brgemm_rows_fn)(size_t mr, size_t batch, size_t kc,
                                       const float *const *a, const float *const *b,
                                       size_t ldb, float *c, size_t ldc, size_t vpr,
                                       size_t brow, size_t crow);

/* Fused tiles for kernel = stride = 2 along the width: both width phases of NR positions
 * from one B, started from the bias (or 0), written interleaved to the output row y (row m
 * of the block at y + m*ych), the first 2*n outputs only, with non-temporal stores where
 * stream is set (the caller then issues a full fence before the output is read). See
 * avx512/f32_brgemm_w2_avx512.c. */
typedef void (*cvt_f32_brgemm_w2_fn)(size_t mr, size_t batch, size_t kc,
                                     const float *const *a0, const float *const *a1,
                                     const float *const *b, size_t ldb, const float *bias,
                                     float *y, size_t ych, size_t n, int stream);

/* A micro-kernel and its tile: the plan packs weights in blocks of mr_max channels and
 * the driver packs inputs in strips of nr positions. An instruction set may offer several
 * tiles; the plan picks the one that computes the fewest vector multiply-adds. */
typedef struct cvt_brgemm_config {
  const char *name; /* e.g. "f32_brgemm_6x64_avx512" */
  size_t mr_max, nr;
  size_t vec_m, vec_n; /* lanes per FMA along channels and along positions (one is 1) */
  union {
    cvt_f32_brgemm_fn f32;
    cvt_f64_brgemm_fn f64;
  } fn;
  cvt_f32_brgemm_rows_fn f32_rows; /* the stacked-rows entry, or NULL */
  cvt_f32_brgemm_w2_fn f32_w2[2];  /* fused k = s = 2 width tiles of 16 and 32, or NULL */
} cvt_brgemm_config;

/* The kernels, one declaration macro per signature (the signature is written once, in
 * the typedefs above). The file that defines each is named after its family. */
#define CVT_F32_BRGEMM(name)                                                             \
  void name(size_t mr, size_t batch, size_t kc, const float *const *a,                 \
            const float *const *b, size_t ldb, float *c, size_t ldc)
#define CVT_F32_BRGEMM_ROWS(name)                                                        \
  void name(size_t mr, size_t batch, size_t kc, const float *const *a,                 \
            const float *const *b, size_t ldb, float *c, size_t ldc, size_t vpr,       \
            size_t brow, size_t crow)
#define CVT_F32_BRGEMM_W2(name)                                                          \
  void name(size_t mr, size_t batch, size_t kc, const float *const *a0,                \
            const float *const *a1, const float *const *b, size_t ldb, const float *bias, \
            float *y, size_t ych, size_t n, int stream)
#define CVT_F64_BRGEMM(name)                                                             \
  void name(size_t mr, size_t batch, size_t kc, const double *const *a,                \
            const double *const *b, size_t ldb, double *c, size_t ldc)

CVT_F32_BRGEMM(cvt_f32_brgemm_6x16_avx512);
CVT_F32_BRGEMM(cvt_f32_brgemm_6x32_avx512);
CVT_F32_BRGEMM(cvt_f32_brgemm_6x48_avx512);
CVT_F32_BRGEMM(cvt_f32_brgemm_6x64_avx512);
CVT_F32_BRGEMM_ROWS(cvt_f32_brgemm_6x16_rows_avx512);
CVT_F32_BRGEMM_ROWS(cvt_f32_brgemm_6x32_rows_avx512);
CVT_F32_BRGEMM_ROWS(cvt_f32_brgemm_6x48_rows_avx512);
CVT_F32_BRGEMM_ROWS(cvt_f32_brgemm_6x64_rows_avx512);
CVT_F32_BRGEMM_W2(cvt_f32_brgemm_w2_6x16_avx512);
CVT_F32_BRGEMM_W2(cvt_f32_brgemm_w2_6x32_avx512);
CVT_F32_BRGEMM(cvt_f32_brgemm_64x1_avx512);
CVT_F32_BRGEMM(cvt_f32_brgemm_64x2_avx512);
CVT_F32_BRGEMM(cvt_f32_brgemm_64x3_avx512);
CVT_F32_BRGEMM(cvt_f32_brgemm_64x4_avx512);
CVT_F32_BRGEMM(cvt_f32_brgemm_64x5_avx512);
CVT_F32_BRGEMM(cvt_f32_brgemm_64x6_avx512);
CVT_F64_BRGEMM(cvt_f64_brgemm_6x32_avx512);
CVT_F32_BRGEMM(cvt_f32_brgemm_4x24_avx2);
CVT_F64_BRGEMM(cvt_f64_brgemm_4x12_avx2);
CVT_F32_BRGEMM(cvt_f32_brgemm_4x16_scalar);
CVT_F64_BRGEMM(cvt_f64_brgemm_4x8_scalar);

#endif
