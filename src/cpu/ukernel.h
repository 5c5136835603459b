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
#include <stdint.h>

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
 * from one B, started from the bias (or 0), written interleaved straight to the output.
 * The tile's 2*NR outputs per channel (position j's even phase, then its odd) go out in
 * vectors of 16: of vector v, the lanes set in out[v].mask[h] (a contiguous run; h = 0,
 * 1: two parts when the vector's positions end one output row and start the next; an
 * empty mask stores nothing) are stored in order from out[v].dst[h] on, and row m of the
 * block adds m*ych. Full, aligned parts are written with non-temporal stores where stream is
 * set (the caller then issues a fence before the output is read). See
 * avx512/f32_brgemm_w2_avx512.c. */
typedef struct cvt_w2_out {
  float *dst[2];
  uint16_t mask[2];
} cvt_w2_out;
typedef void (*cvt_f32_brgemm_w2_fn)(size_t mr, size_t batch, size_t kc,
                                     const float *const *a0, const float *const *a1,
                                     const float *const *b, size_t ldb, const float *bias,
                                     const cvt_w2_out *out, size_t ych, int stream);

/* The channels-in-lanes tiles (vec_m > 1) with B read across rows instead, for
 * grad_weight's tap formulation reading grad_output in place (backward_weight.c):
 *
 *     C[m][j] += sum over b < batch, k < kc of A_b[k*mr + m] * B_b[min(j, nr - 1)*ldj + k*ldk]
 *
 * for m < mr and j < NR, the tile's nr: columns j >= nr repeat column nr - 1 and are
 * written to C all the same (the caller's C has NR columns). 1 <= nr <= NR; otherwise as
 * the plain entry, in the same summation order. */
typedef void (*cvt_f32_brgemm_bt_fn)(size_t mr, size_t nr, size_t batch, size_t kc,
                                     const float *const *a, const float *const *b,
                                     size_t ldk, size_t ldj, float *c, size_t ldc);

/* The channels-in-lanes tiles also have an entry (cvt_brgemm_config.f32_cl) of the plain
 * type whose C is channels-last: C[j*ldc + m] instead of C[m*ldc + j], otherwise as the
 * plain entry, in the same summation order (grad_input's row buffers, backward_data.c). */

/* Dot-product tiles for grad_weight read in place (backward_weight.c's dot formulation):
 *
 *     C_r[m*ldc + j*cs] += sum over b < batch, k < kc of A_b[m*lda + k] * B_b[j*ldb + s*k + r]
 *
 * for m < mr, j < nr and r < s, where s (1 or 2) is the width stride: with s = 2 the call
 * covers two width taps, r = 0 into C_0 and r = 1 into C_1 (either may be NULL: not
 * stored).
 *   A_b: mr rows of input, lda apart, read for kc elements;
 *   B_b: nr rows of grad_output, ldb apart; elements at or past nel (counted from B_b)
 *        are neither read nor multiplied: they count as zero;
 *   tile_nr: the tile's nr_max, from cvt_dot_tile, which the caller blocks by.
 * Preconditions: 1 <= mr <= mr_max, 1 <= nr <= tile_nr, batch >= 1, kc >= 1. Each C
 * element's terms are summed per vector lane (b, then k ascending), then across the lanes
 * in a fixed order, and the total is added to C: results do not depend on threads. */
typedef void (*cvt_f32_dot_fn)(size_t s, size_t tile_nr, size_t mr, size_t nr, size_t batch,
                               size_t kc, size_t nel, const float *const *a, size_t lda,
                               const float *const *b, size_t ldb, float *c0, float *c1,
                               size_t ldc, size_t cs);

/* The dot tile (mr_max x nr_max) for stride s and cin x cout channels per group: the
 * fewest estimated cycles, ceil(cin/mr) * ceil(cout/nr) tiles at the cycles per vector of
 * positions each tile takes (the FMAs at two per cycle, or its cache lines at one per
 * cycle, whichever binds; see avx512/f32_dot_avx512.c). */
static inline void cvt_dot_tile(size_t s, size_t cin, size_t cout, size_t *mr_max,
                                size_t *nr_max) {
  static const size_t tiles[2][4][3] = {{{4, 6, 12}, {8, 3, 12}, {24, 1, 25}, {1, 1, 2}},
                                        {{4, 4, 16}, {8, 2, 16}, {12, 1, 14}, {1, 1, 3}}};
  const size_t(*t)[3] = tiles[s == 2];
  size_t best = 0, best_cost = 0;
  for (size_t i = 0; i < 4; i++) {
    const size_t cost = (cin + t[i][0] - 1) / t[i][0] * ((cout + t[i][1] - 1) / t[i][1]) * t[i][2];
    if (i == 0 || cost < best_cost) best = i, best_cost = cost;
  }
  *mr_max = t[best][0], *nr_max = t[best][1];
}

/* The packing kernels: the same portable C (pack_generic.h) compiled per instruction set,
 * so that its strided loops are vectorised for the set in use. One phase of a strided
 * grad_output row, zero-filled outside it:
 *
 *     dst[j] = src[(j + qmin)*s + r] for j < len where 0 <= (j + qmin)*s + r < n, else 0,
 *
 * with s >= 1 and 0 <= r < s; src is read only at indices in [0, n). */
typedef void (*cvt_f32_phase_row_fn)(const float *src, int64_t n, int64_t s, int64_t r,
                                     int64_t qmin, int64_t len, float *dst);
typedef void (*cvt_f64_phase_row_fn)(const double *src, int64_t n, int64_t s, int64_t r,
                                     int64_t qmin, int64_t len, double *dst);
/* The same phase of nch rows lds apart, transposed to channels-last:
 *
 *     dst[j*ldd + c] = src[c*lds + (j + qmin)*s + r] for c < nch and lo <= j < hi,
 *
 * the caller keeping those columns inside the rows; dst is not written elsewhere. */
typedef void (*cvt_f32_phase_cols_fn)(const float *src, int64_t lds, int64_t nch, int64_t s,
                                      int64_t r, int64_t qmin, int64_t lo, int64_t hi,
                                      float *dst, int64_t ldd);
typedef void (*cvt_f64_phase_cols_fn)(const double *src, int64_t lds, int64_t nch, int64_t s,
                                      int64_t r, int64_t qmin, int64_t lo, int64_t hi,
                                      double *dst, int64_t ldd);
/* Rows copied with non-temporal stores, for outputs no cache will hold (stream.h):
 *
 *     dst[i*ldd + j] = src[i*lds + j] for i < rows, j < n,
 *
 * rows that start on a 64-byte line streamed (a last partial line stored normally), the
 * others copied; the caller fences (CVT_STREAM_FENCE) before anything reads dst. */
typedef void (*cvt_f32_stream_rows_fn)(const float *src, int64_t lds, int64_t rows,
                                       int64_t n, float *dst, int64_t ldd);
/* Channels-last rows back to one run per channel (grad_input's channels-last buffer): n
 * positions, rows of w ldw apart, position p = y*w + x at row y and column x,
 *
 *     dst[c*ldd + p] = src[(y*ldw + x)*lds + c] for c < nch, p < n. */
typedef void (*cvt_f32_cl_rows_fn)(const float *src, int64_t lds, int64_t nch, int64_t w,
                                   int64_t ldw, int64_t n, float *dst, int64_t ldd);
/* The pointwise tile, for kernel-1 stride-1 layers with few output channels (pointwise.c):
 *
 *     y[c*ldy + p] = bias[c] + sum over ci < kc of w[ci*m + c] * x[ci*ldx + p]
 *
 * for c < m and p < np, each sum from the bias, ci ascending, one fused multiply-add at a
 * time, and written once; nothing else of y is written, and x is read only within its
 * rows' np positions (prefetches aside). With stream, whole steps of 32 positions go out
 * with non-temporal stores, which need every y + c*ldy on a 64-byte line; the caller
 * fences (CVT_STREAM_FENCE). 1 <= m <= CVT_POINTWISE_MAX_M, kc >= 1. */
#define CVT_POINTWISE_MAX_M 14
typedef void (*cvt_f32_pointwise_fn)(size_t m, size_t kc, const float *w, const float *bias,
                                     const float *x, size_t ldx, size_t np, float *y,
                                     size_t ldy, int stream);

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
  cvt_f32_dot_fn f32_dot;          /* the ISA's dot-product tiles, or NULL */
  union {
    cvt_f32_phase_row_fn f32;
    cvt_f64_phase_row_fn f64;
  } phase_row; /* the ISA's packing kernels for the dtype */
  union {
    cvt_f32_phase_cols_fn f32;
    cvt_f64_phase_cols_fn f64;
  } phase_cols;
  cvt_f32_brgemm_bt_fn f32_bt; /* the entry reading B across rows, or NULL */
  cvt_f32_brgemm_fn f32_cl;    /* the entry with C channels-last, or NULL (above) */
  cvt_f32_stream_rows_fn f32_stream; /* the ISA's streaming copy, or NULL (memcpy) */
  cvt_f32_cl_rows_fn f32_cl_rows;    /* f32_cl's transpose back, or NULL without f32_cl */
  /* The same channels-in-lanes tile for 1..nr positions (entry np - 1), or NULL: a tile
   * whose taps reach only some of its positions calls them on just those (phase.c). */
  const cvt_f32_brgemm_fn *f32_np;
  cvt_f32_pointwise_fn f32_pointwise; /* the ISA's pointwise tile, or NULL */
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
            const cvt_w2_out *out, size_t ych, int stream)
#define CVT_F32_DOT(name)                                                                \
  void name(size_t s, size_t tile_nr, size_t mr, size_t nr, size_t batch, size_t kc,     \
            size_t nel, const float *const *a, size_t lda, const float *const *b,        \
            size_t ldb, float *c0, float *c1, size_t ldc, size_t cs)
#define CVT_F32_BRGEMM_BT(name)                                                          \
  void name(size_t mr, size_t nr, size_t batch, size_t kc, const float *const *a,      \
            const float *const *b, size_t ldk, size_t ldj, float *c, size_t ldc)
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
CVT_F32_DOT(cvt_f32_dot_avx512);
CVT_F32_BRGEMM(cvt_f32_brgemm_64x1_avx512);
CVT_F32_BRGEMM(cvt_f32_brgemm_64x2_avx512);
CVT_F32_BRGEMM(cvt_f32_brgemm_64x3_avx512);
CVT_F32_BRGEMM(cvt_f32_brgemm_64x4_avx512);
CVT_F32_BRGEMM(cvt_f32_brgemm_64x5_avx512);
CVT_F32_BRGEMM(cvt_f32_brgemm_64x6_avx512);
CVT_F32_BRGEMM_BT(cvt_f32_brgemm_64x1_bt_avx512);
CVT_F32_BRGEMM_BT(cvt_f32_brgemm_64x2_bt_avx512);
CVT_F32_BRGEMM_BT(cvt_f32_brgemm_64x3_bt_avx512);
CVT_F32_BRGEMM_BT(cvt_f32_brgemm_64x4_bt_avx512);
CVT_F32_BRGEMM_BT(cvt_f32_brgemm_64x5_bt_avx512);
CVT_F32_BRGEMM_BT(cvt_f32_brgemm_64x6_bt_avx512);
CVT_F32_BRGEMM(cvt_f32_brgemm_64x1_cl_avx512);
CVT_F32_BRGEMM(cvt_f32_brgemm_64x2_cl_avx512);
CVT_F32_BRGEMM(cvt_f32_brgemm_64x3_cl_avx512);
CVT_F32_BRGEMM(cvt_f32_brgemm_64x4_cl_avx512);
CVT_F32_BRGEMM(cvt_f32_brgemm_64x5_cl_avx512);
CVT_F32_BRGEMM(cvt_f32_brgemm_64x6_cl_avx512);
CVT_F32_BRGEMM(cvt_f32_brgemm_32x1_avx512);
CVT_F32_BRGEMM(cvt_f32_brgemm_32x2_avx512);
CVT_F32_BRGEMM(cvt_f32_brgemm_32x3_avx512);
CVT_F32_BRGEMM(cvt_f32_brgemm_32x4_avx512);
CVT_F32_BRGEMM(cvt_f32_brgemm_32x5_avx512);
CVT_F32_BRGEMM(cvt_f32_brgemm_32x6_avx512);
CVT_F32_BRGEMM(cvt_f32_brgemm_32x7_avx512);
CVT_F32_BRGEMM(cvt_f32_brgemm_32x8_avx512);
CVT_F32_BRGEMM(cvt_f32_brgemm_32x9_avx512);
CVT_F32_BRGEMM(cvt_f32_brgemm_32x10_avx512);
CVT_F32_BRGEMM(cvt_f32_brgemm_32x11_avx512);
CVT_F32_BRGEMM(cvt_f32_brgemm_32x12_avx512);
CVT_F64_BRGEMM(cvt_f64_brgemm_6x32_avx512);
CVT_F32_BRGEMM(cvt_f32_brgemm_4x24_avx2);
CVT_F64_BRGEMM(cvt_f64_brgemm_4x12_avx2);
CVT_F32_BRGEMM(cvt_f32_brgemm_4x16_scalar);
CVT_F64_BRGEMM(cvt_f64_brgemm_4x8_scalar);

/* NOLINTBEGIN(bugprone-macro-parentheses): T is a type */
#define CVT_PHASE_ROW_DECL(T, name)                                                      \
  void name(const T *src, int64_t n, int64_t s, int64_t r, int64_t qmin, int64_t len,    \
            T *dst)
#define CVT_PHASE_COLS_DECL(T, name)                                                     \
  void name(const T *src, int64_t lds, int64_t nch, int64_t s, int64_t r, int64_t qmin,  \
            int64_t lo, int64_t hi, T *dst, int64_t ldd)
/* NOLINTEND(bugprone-macro-parentheses) */
CVT_PHASE_ROW_DECL(float, cvt_f32_phase_row_scalar);
CVT_PHASE_ROW_DECL(float, cvt_f32_phase_row_avx2);
CVT_PHASE_ROW_DECL(float, cvt_f32_phase_row_avx512);
CVT_PHASE_ROW_DECL(double, cvt_f64_phase_row_scalar);
CVT_PHASE_ROW_DECL(double, cvt_f64_phase_row_avx2);
CVT_PHASE_ROW_DECL(double, cvt_f64_phase_row_avx512);
CVT_PHASE_COLS_DECL(float, cvt_f32_phase_cols_scalar);
CVT_PHASE_COLS_DECL(float, cvt_f32_phase_cols_avx2);
CVT_PHASE_COLS_DECL(float, cvt_f32_phase_cols_avx512);
CVT_PHASE_COLS_DECL(double, cvt_f64_phase_cols_scalar);
CVT_PHASE_COLS_DECL(double, cvt_f64_phase_cols_avx2);
CVT_PHASE_COLS_DECL(double, cvt_f64_phase_cols_avx512);
void cvt_f32_stream_rows_avx512(const float *src, int64_t lds, int64_t rows, int64_t n,
                                float *dst, int64_t ldd);
void cvt_f32_cl_rows_avx512(const float *src, int64_t lds, int64_t nch, int64_t w,
                            int64_t ldw, int64_t n, float *dst, int64_t ldd);
void cvt_f32_pointwise_avx512(size_t m, size_t kc, const float *w, const float *bias,
                              const float *x, size_t ldx, size_t np, float *y, size_t ldy,
                              int stream);

#endif
