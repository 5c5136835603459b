/* grad_weight (and grad_bias) of conv_transpose3d on the brgemm micro-kernels.
 *
 *     gw[ci, co, k] = sum over n, i of x[n, ci, i] * gy[n, co, i*s - p + k*dil]
 *
 * For one tap k this is a GEMM whose reduction runs over input positions: C = gw[:, :, k]
 * (channels ci by co), A = x with the positions as rows, B = grad_output with the
 * positions, shifted for the tap, as rows. Both are packed channels-last, a slab of input
 * rows (n, id, ih) at a time: x as [row][iw][ci block] and the grad_output rows the slab
 * reaches as [(kd, kh)][row][width phase][j][co], the width deinterleaved by phase as in
 * the backward-data pass, so that the positions of one input row are equally spaced for
 * every width tap. Then one micro-kernel call covers a block of ci, a tile of co and one
 * tap over the whole slab: k runs along a row's positions whose output exists, the batch
 * over the slab's rows whose (od, oh) exists.
 *
 * The sums accumulate in a tap-major copy of the weight, [group][tap][ci][co], owned by
 * the plan's workspace; the threads split its tiles, and every tile takes the slabs in
 * order, so each element is summed in an order set by the problem alone: bit-identical
 * for any thread count. */
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "../internal.h"
#include "arith.h"
#include "taps.h"
#include "ukernel.h"

/* Bytes of packed input and grad_output a slab aims for. */
#define BWD_WEIGHT_SLAB_BUDGET (INT64_C(4096) * 1024)

/* Sizes fixed by the problem and the tile. */
typedef struct bwd_weight_dims {
  int64_t taps, pairs;   /* kD*kH*kW; kD*kH */
  int64_t W, mr_max, nr;
  int64_t blocks;        /* blocks of mr_max input channels per group */
  int64_t cpad;          /* grad_output channels per group, rounded up to nr */
  int64_t qmin, len;     /* width: smallest tap offset q; packed phase row length */
  int64_t slots;         /* width phases (<= min(sW, kW)) */
  int64_t rows;          /* input rows (n, id, ih) in all */
  int64_t slab;          /* rows per slab */
  int64_t x_row, y_row;  /* elements one slab row takes in the x and grad_output packs */
} bwd_weight_dims;

static bwd_weight_dims dims_of(const cvt_geometry *g, const cvt_brgemm_config *cfg) {
  bwd_weight_dims d;
  d.taps = g->k[0] * g->k[1] * g->k[2];
  d.pairs = g->k[0] * g->k[1];
  d.W = g->in[2];
  d.mr_max = (int64_t)cfg->mr_max;
  d.nr = (int64_t)cfg->nr;
  d.blocks = ceil_div(g->cin_g, d.mr_max);
  d.cpad = ceil_div(g->cout_g, d.nr) * d.nr;
  /* Width taps: the live ones read packed phase rows at offsets q - qmin (taps.h). */
  bwd_axis w = {0};
  axis_of(g, 2, &w);
  d.qmin = w.qmin;
  d.slots = w.slots; /* min(sW, kW): sizing only, so an upper bound */
  d.len = w.len;
  d.rows = g->n * g->in[0] * g->in[1];
  d.x_row = d.W * g->cin_g * g->groups + d.mr_max; /* + a block's slack */
  d.y_row = d.pairs * d.slots * d.len * d.cpad * g->groups;
  const int64_t per_row = (d.x_row + d.y_row) * (int64_t)g->esize;
  d.slab = max64(1, min64(d.rows, BWD_WEIGHT_SLAB_BUDGET / per_row));
  return d;
}

/* The packed width phase a tap reads: its phase r when every phase is packed (sW <= kW),
 * else one slot per tap. */
static int64_t tap_slot(const cvt_geometry *g, int64_t kw) {
  const int64_t sw = g->stride[2], t = kw * g->dil[2] - g->pad[2];
  return sw <= g->k[2] ? t - floor_div(t, sw) * sw : kw;
}

/* The phase r that slot s holds. */
static int64_t slot_phase(const cvt_geometry *g, int64_t s) {
  const int64_t sw = g->stride[2];
  if (sw <= g->k[2]) return s;
  const int64_t t = s * g->dil[2] - g->pad[2];
  return t - floor_div(t, sw) * sw;
}

/* Vector multiply-adds over a slab row of one tap, plus half the loads. */
static double tile_cost(const cvt_geometry *g, const cvt_brgemm_config *c) {
  const double blocks = (double)ceil_div(g->cin_g, (int64_t)c->mr_max);
  const double tiles = (double)ceil_div(g->cout_g, (int64_t)c->nr);
  double fmas, loads;
  if (c->vec_m > 1) { /* input channels in the lanes */
    const double vecs = (double)ceil_div(g->cin_g, (int64_t)c->vec_m);
    fmas = vecs * tiles * (double)c->nr;
    loads = tiles * (vecs + blocks * (double)c->nr);
  } else {            /* grad_output channels in the lanes */
    const double vecs = (double)c->nr / (double)c->vec_n;
    fmas = (double)g->cin_g * tiles * vecs;
    loads = blocks * tiles * (vecs + (double)c->mr_max);
  }
  return fmas + 0.5 * loads;
}

const cvt_brgemm_config *cvt_bwd_weight_pick_kernel(const cvt_geometry *g,
                                                    const cvt_brgemm_config *tiles,
                                                    size_t count) {
  const cvt_brgemm_config *best = &tiles[0];
  double best_cost = tile_cost(g, best);
  for (size_t i = 1; i < count; i++) {
    const double c = tile_cost(g, &tiles[i]);
    if (c < best_cost) best = &tiles[i], best_cost = c;
  }
  return best;
}

/* The shared workspace: the tap-major accumulator, the slab's two packs, and per thread
 * the batch's pointers. */
typedef struct bwd_weight_ws {
  void *acc;   /* groups * taps * cin_g * cpad elements */
  void *xpack; /* slab * x_row elements */
  void *ypack; /* slab * y_row elements */
  void *ptrs;  /* per thread: 2 * slab pointers */
} bwd_weight_ws;

static size_t ws_layout(const cvt_geometry *g, const bwd_weight_dims *d, int threads,
                        char *base, bwd_weight_ws *ws) {
  const size_t es = g->esize;
  size_t at = 0;
#define TAKE(field, bytes)                                                               \
  do {                                                                                   \
    if (ws) ws->field = (void *)(base + at);                                             \
    at += align64(bytes);                                                                \
  } while (0)
  TAKE(acc, (size_t)(g->groups * d->taps * g->cin_g * d->cpad) * es);
  TAKE(xpack, (size_t)(d->slab * d->x_row) * es);
  TAKE(ypack, (size_t)(d->slab * d->y_row) * es);
  TAKE(ptrs, (size_t)threads * 2 * (size_t)d->slab * sizeof(void *));
#undef TAKE
  return at;
}

size_t cvt_bwd_weight_workspace_bytes(const cvt_geometry *g, const cvt_brgemm_config *cfg,
                                      int num_threads) {
  const bwd_weight_dims d = dims_of(g, cfg);
  return ws_layout(g, &d, num_threads, NULL, NULL);
}

#define CVT_T float
#define CVT_FN bwd_weight_f32
#define CVT_BRGEMM f32
#include "backward_weight_impl.h"
#undef CVT_T
#undef CVT_FN
#undef CVT_BRGEMM

#define CVT_T double
#define CVT_FN bwd_weight_f64
#define CVT_BRGEMM f64
#include "backward_weight_impl.h"
#undef CVT_T
#undef CVT_FN
#undef CVT_BRGEMM

void cvt_bwd_weight_run(const cvt_exec *e, const void *input, const void *grad_output,
                        void *grad_weight, void *grad_bias) {
  if (e->geo->dtype == CONVT3D_F32)
    bwd_weight_f32(e, input, grad_output, grad_weight, grad_bias);
  else
    bwd_weight_f64(e, input, grad_output, grad_weight, grad_bias);
}
