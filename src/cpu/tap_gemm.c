/* The tap-GEMM algorithm, for layers with few output channels per group (docs/algorithm.md).
 *
 * With one to three output channels, the phase algorithm's tiles hold one to three
 * channel rows: each input vector it loads feeds that many multiply-adds, and the tile
 * is bound by its loads. Here the in-plane taps become rows of the GEMM instead: for one
 * output slice (n, od) and each (kh, kw, co),
 *
 *     S[(kh, kw, co)][ih, iw] = sum over the slice's depth taps kd, and ci, of
 *                               w[ci, co, kd, kh, kw] * x[n, ci, id(kd), ih, iw]
 *
 * over the input plane's positions, one brgemm per tile of positions (the depth taps are
 * its batch, read straight from the input: no packing but the plane's last partial tile).
 * M = kH*kW*Cout_g rows fill the micro-kernel's channel rows. Then every output row of
 * every in-plane phase gathers its taps from S at their offsets:
 *
 *     y[n, co, od, j*sH + ch, jw*sW + cw] = bias + sum over kh of phase ch, kw of phase cw,
 *                                           of S[(kh, kw, co)][j + e(kh), jw + e(kw)]
 *
 * (the (kh, kw) terms in ascending order, those whose input lies outside skipped). S
 * forms exactly the products of real inputs that PyTorch forms, plus those of taps that
 * land in the cropped padding (computed, never gathered). A task is one group, one slice
 * and one band of the height phases' rows; S holds the band's input rows. Each output is
 * summed in an order fixed by the problem, whatever the thread count. */
#include <string.h>

#include "../internal.h"
#include "arith.h"
#include "phase_taps.h"
#include "threads.h"
#include "ukernel.h"

/* Bytes per thread of S (sets the band of rows), and of one call's input when it is
 * blocked by input channels (sets the block: the depth taps' input rows of one tile stay
 * in L2 while every block of M rows reads them). */
#define TG_S_BUDGET (INT64_C(512) * 1024)
#define TG_B_BUDGET (INT64_C(192) * 1024)

/* Limits beyond which the algorithm declines: GEMM rows (kH*kW*Cout_g), and elements of
 * S for one input row of every row a band of one output row reads. */
#define TG_MAX_ROWS 4096
#define TG_MAX_S_ELEMS (INT64_C(1) << 20)

/* Sizes shared by planning and execution, from the geometry and the tile only. */
typedef struct tg_dims {
  int64_t m;          /* GEMM rows: (kh, kw, co), co fastest */
  int64_t mr, nr;     /* the micro-kernel's tile */
  phase_axis h, w;
  int64_t w_taps;     /* bound on the width taps of one phase */
  int64_t max_pairs;  /* bound on a slice's depth taps */
  int64_t bh, bands;  /* rows j of the height phases per task, and bands per slice */
  int64_t srows;      /* bound on the input rows a band reads */
  int64_t lds;        /* S elements per GEMM row: srows * W rounded up to the tile */
  int64_t kc;         /* input channels per call */
  int64_t tld;        /* row stride of a partial tile's copy: nr, unaliased (arith.h) */
  int64_t x_channel;  /* D*H*W */
  size_t esize;
} tg_dims;

static int64_t spread_rows(const phase_axis *h) { return h->emax - h->emin; }

static tg_dims tg_dims_of(const cvt_geometry *g, const cvt_brgemm_config *cfg) {
  tg_dims d;
  d.esize = g->esize;
  d.m = g->k[1] * g->k[2] * g->cout_g;
  d.mr = (int64_t)cfg->mr_max;
  d.nr = (int64_t)cfg->nr;
  d.h = phase_axis_of(g, 1);
  d.w = phase_axis_of(g, 2);
  d.w_taps = max_taps_per_phase(g->k[2], g->stride[2], g->dil[2]);
  d.max_pairs = max_taps_per_phase(g->k[0], g->stride[0], g->dil[0]);
  const int64_t esize = (int64_t)g->esize, width = g->in[2];
  /* A band of bh rows reads at most bh + spread input rows. */
  const int64_t row_bytes = d.m * width * esize;
  int64_t bh = TG_S_BUDGET / row_bytes - spread_rows(&d.h);
  bh = bh < 1 ? 1 : min64(bh, d.h.jmax);
  d.bands = ceil_div(d.h.jmax, bh);
  d.bh = ceil_div(d.h.jmax, d.bands); /* balanced */
  d.srows = min64(g->in[1], d.bh + spread_rows(&d.h));
  d.lds = unaliased_stride(ceil_div(d.srows * width, d.nr) * d.nr, d.esize);
  d.kc = min64(g->cin_g, TG_B_BUDGET / (d.max_pairs * d.nr * esize));
  if (d.kc < 1) d.kc = 1;
  d.x_channel = g->in[0] * g->in[1] * g->in[2];
  d.tld = unaliased_stride(d.nr, d.esize);
  return d;
}

bool cvt_tap_gemm_supports(const cvt_geometry *g) {
  if (g->in[1] < 1 || g->in[2] < 1) return false;
  for (int ax = 0; ax < 3; ax++)
    if (g->k[ax] > PHASE_MAX_TAPS) return false;
  const int64_t m = g->k[1] * g->k[2] * g->cout_g; /* <= 2^20 * cout_g: exact */
  if (m < 1 || m > TG_MAX_ROWS) return false;
  const phase_axis h = phase_axis_of(g, 1), w = phase_axis_of(g, 2);
  /* One output row's band: S of 1 + spread input rows, and the row buffer (the first test
   * bounds rows, so that m * rows cannot overflow). */
  const int64_t rows = min64(g->in[1], 1 + spread_rows(&h));
  return rows <= TG_MAX_S_ELEMS / g->in[2] && m * rows <= TG_MAX_S_ELEMS / g->in[2] &&
         w.phases * w.jmax <= TG_MAX_S_ELEMS;
}

bool cvt_tap_gemm_prefers(const cvt_geometry *g) {
  /* Measured on Zen 5 against the phase algorithm (docs/performance.md): ahead for up to
   * three output channels per group, and for up to eight with a 1x1 in-plane kernel
   * (no gather, no packing), once there are 8 or more input channels to reduce over;
   * behind or level beyond (four channels: 0.8-1.1x; six: 0.7-1.0x). */
  const bool few = g->cout_g <= 3 || (g->k[1] * g->k[2] == 1 && g->cout_g <= 8);
  return few && g->cin_g >= 8 && cvt_tap_gemm_supports(g);
}

const cvt_brgemm_config *cvt_tap_gemm_pick_kernel(const cvt_geometry *g,
                                                  const cvt_brgemm_config *tiles,
                                                  size_t count) {
  /* The tile with the fewest vector multiply-adds over one plane (lanes past the plane's
   * last position and past the last row block count), weighted by the loads per FMA and
   * by the latency cover, as the phase algorithm weighs them. Positions in the lanes
   * only: S is as wide as a plane. */
  const int64_t m = g->k[1] * g->k[2] * g->cout_g, positions = g->in[1] * g->in[2];
  const cvt_brgemm_config *best = &tiles[0];
  double best_cost = 0;
  for (size_t i = 0; i < count; i++) {
    if (tiles[i].vec_m > 1) continue;
    const int64_t mr = (int64_t)tiles[i].mr_max, nr = (int64_t)tiles[i].nr;
    const int64_t vecs = nr / (int64_t)tiles[i].vec_n; /* B vectors per k step */
    const int64_t tile_vecs = ceil_div(positions, nr) * vecs;
    const double fmas = (double)tile_vecs * (double)(ceil_div(m, mr) * mr);
    const int64_t rows = min64(mr, m), accumulators = rows * vecs;
    const double loads_per_fma = (double)(rows + vecs) / (double)accumulators;
    const double cost = fmas * (1.0 + loads_per_fma) *
                        (accumulators < 8 ? 8.0 / (double)accumulators : 1.0);
    if (best_cost == 0 || cost < best_cost) best = &tiles[i], best_cost = cost;
  }
  return best;
}

/* ------------------------------------------------------------------ workspace */

typedef struct tg_workspace {
  void *s;                       /* m * lds: the band's S */
  void *tail;                    /* max_pairs * kc * tld: a partial tile's input, padded */
  void *row;                     /* w.phases * w.jmax: one output row, by width phase */
  const void **a_ptrs, **b_ptrs; /* max_pairs each: one brgemm batch */
  int64_t *x_off, *tap_d;        /* max_pairs each: a depth tap's input plane and kd */
  phase_tap *tw;                 /* w.phases * w_taps: the width taps of each phase */
  int64_t *ntw;                  /* w.phases */
} tg_workspace;

static size_t tg_layout(const tg_dims *d, char *base, tg_workspace *ws) {
  const size_t sizes[] = {
      (size_t)(d->m * d->lds) * d->esize,
      (size_t)(d->max_pairs * d->kc * d->tld) * d->esize,
      (size_t)(d->w.phases * d->w.jmax) * d->esize,
      (size_t)d->max_pairs * sizeof(void *),
      (size_t)d->max_pairs * sizeof(void *),
      (size_t)d->max_pairs * sizeof(int64_t),
      (size_t)d->max_pairs * sizeof(int64_t),
      (size_t)(d->w.phases * d->w_taps) * sizeof(phase_tap),
      (size_t)d->w.phases * sizeof(int64_t),
  };
  void **slots[] = {&ws->s,
                    &ws->tail,
                    &ws->row,
                    (void **)&ws->a_ptrs,
                    (void **)&ws->b_ptrs,
                    (void **)&ws->x_off,
                    (void **)&ws->tap_d,
                    (void **)&ws->tw,
                    (void **)&ws->ntw};
  size_t off = 0;
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    if (base) *slots[i] = base + off;
    off += align64(sizes[i]);
  }
  return off;
}

size_t cvt_tap_gemm_workspace_bytes(const cvt_geometry *g, const cvt_brgemm_config *cfg) {
  const tg_dims d = tg_dims_of(g, cfg);
  tg_workspace unused;
  return tg_layout(&d, NULL, &unused);
}

/* -------------------------------------------------------------------- weights */

/* Packed per group and block of mr_max GEMM rows m = (kh*kW + kw)*Cout_g + co as
 * [kd][ci][mr], so that the A operand of a (depth tap, channel range) is contiguous.
 * Every block but a group's last is full; the packed weights are as large as the user's,
 * plus one vector (kernels that vectorise along rows may read it). */
static int64_t tg_block_offset(const cvt_geometry *g, int64_t grp, int64_t m0) {
  return (grp * g->k[1] * g->k[2] * g->cout_g + m0) * g->k[0] * g->cin_g;
}

size_t cvt_tap_gemm_packed_weight_bytes(const cvt_geometry *g, const cvt_brgemm_config *cfg) {
  return ((size_t)g->weight_numel + cfg->mr_max) * g->esize;
}

/* NOLINTBEGIN(bugprone-macro-parentheses): T is a type */
#define TG_PACK(T)                                                                         \
  for (int64_t kd = 0; kd < g->k[0]; kd++)                                                 \
    for (int64_t ci = 0; ci < g->cin_g; ci++) {                                            \
      T *dst = (T *)packed + block + (kd * g->cin_g + ci) * mr;                            \
      for (int64_t i = 0; i < mr; i++) {                                                   \
        const int64_t row = m0 + i, co = row % g->cout_g, hw = row / g->cout_g;            \
        dst[i] = ((const T *)weight)[(((grp * g->cin_g + ci) * g->cout_g + co) * g->k[0] + \
                                      kd) * khw + hw];                                     \
      }                                                                                    \
    }
/* NOLINTEND(bugprone-macro-parentheses) */

void cvt_tap_gemm_pack_weights(const cvt_geometry *g, const cvt_brgemm_config *cfg,
                               const void *weight, void *packed, int num_threads) {
  const int64_t khw = g->k[1] * g->k[2], m = khw * g->cout_g, mr_max = (int64_t)cfg->mr_max;
  const int64_t blocks = ceil_div(m, mr_max);
  memset((char *)packed + (size_t)g->weight_numel * g->esize, 0, cfg->mr_max * g->esize);
  (void)num_threads; /* unused without OpenMP */
#pragma omp parallel for schedule(static) num_threads(num_threads) if (num_threads > 1)
  for (int64_t gb = 0; gb < g->groups * blocks; gb++) {
    const int64_t grp = gb / blocks, m0 = gb % blocks * mr_max, mr = min64(m - m0, mr_max);
    const int64_t block = tg_block_offset(g, grp, m0);
    if (g->dtype == CONVT3D_F32) {
      TG_PACK(float)
    } else {
      TG_PACK(double)
    }
  }
}
#undef TG_PACK

/* --------------------------------------------------------------------- drivers */

#define CVT_CAT_(a, b) a##b
#define CVT_CAT(a, b) CVT_CAT_(a, b) /* the dtype's name for a helper */

#define CVT_T float
#define CVT_FN tap_gemm_f32
#define CVT_BRGEMM f32
#include "tap_gemm_impl.h"
#undef CVT_T
#undef CVT_FN
#undef CVT_BRGEMM

#define CVT_T double
#define CVT_FN tap_gemm_f64
#define CVT_BRGEMM f64
#include "tap_gemm_impl.h"
#undef CVT_T
#undef CVT_FN
#undef CVT_BRGEMM

void cvt_tap_gemm_forward(const cvt_exec *e, const void *input, void *output) {
  if (e->geo->dtype == CONVT3D_F32)
    tap_gemm_f32(e, input, output);
  else
    tap_gemm_f64(e, input, output);
}
