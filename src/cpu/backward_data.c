/* grad_input of conv_transpose3d (equivalently conv3d's forward pass) on the brgemm
 * micro-kernels.
 *
 *     gx[n, ci, i] = sum over co, kd, kh, kw of w[ci, co, k] * gy[n, co, i*s - p + k*dil]
 *
 * Work unit: one row of grad_input, gx[n, group block, id, ih, 0 .. W). The depth and
 * height taps whose grad_output row (od, oh) exists select rows of grad_output; along the
 * width, tap kw reads gy columns iw*sW + t (t = kw*dW - pW), a stride-sW gather. Writing
 * t = q*sW + r (0 <= r < sW), that column is (iw + q)*sW + r: position iw + q of the
 * row's width phase r. So each selected row is packed once per width phase it is read
 * in, zero-filled outside grad_output, and every tap becomes a contiguous,
 * bounds-free run of the packed row: the micro-kernel's B operand, with the weights of
 * that tap, packed [co][ci], as its A operand; the taps form the batch. Rows of W
 * positions are cut into tiles of the kernel's nr; the last tile of a row runs on a copy.
 *
 * Each grad_input element is written by one task and summed in a fixed order (bias or 0,
 * then grad_output channel chunks, taps, channels), so results do not depend on the
 * thread count. */
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "../internal.h"
#include "arith.h"
#include "ukernel.h"

/* Bytes of packed grad_output rows a task aims for; chunks of channels keep it there. */
#define BWD_DATA_PACK_BUDGET (INT64_C(256) * 1024)

/* The width taps: which reach grad_output at all, and where each one reads. */
typedef struct bwd_width {
  int64_t taps;       /* kW */
  int64_t qmin;       /* smallest q over the live taps */
  int64_t len;        /* packed row length: W + spread + nr of slack */
  int64_t slots;      /* width phases packed per row (an upper bound when sizing) */
  int64_t live;       /* live taps */
  int64_t *slot, *shift; /* per tap: packed phase (-1: dead tap) and offset q - qmin */
  int64_t *phase;     /* per slot: its phase r */
} bwd_width;

/* Everything a task needs that depends only on the problem and the tile. */
typedef struct bwd_data_dims {
  int64_t W, nr, mr_max, blocks; /* blocks of mr_max channels per group */
  int64_t kc;                    /* grad_output channels per packed chunk */
  int64_t pairs_max;             /* kD * kH */
  int64_t slots, len;            /* packed phases per row (upper bound) and their length */
  int64_t row_elems;             /* kc * slots * len: one (kd, kh) row pair's pack */
} bwd_data_dims;

/* Describes the width taps. With w->slot, w->shift and w->phase pointing at kW entries
 * each, fills them; with them NULL, only sizes: w->slots is then an upper bound. */
static void width_of(const cvt_geometry *g, int64_t nr, bwd_width *w) {
  const int64_t sw = g->stride[2], W = g->in[2], oW = g->out[2];
  int64_t qmin = INT64_MAX, qmax = INT64_MIN;
  w->taps = g->k[2];
  w->live = 0;
  w->slots = w->phase ? 0 : min64(sw, g->k[2]);
  for (int64_t kw = 0; kw < g->k[2]; kw++) {
    const int64_t t = kw * g->dil[2] - g->pad[2];
    /* live when some iw in [0, W) lands in [0, oW): iw*sw + t spans [t, (W-1)*sw + t] */
    const bool live = t < oW && t >= -((W - 1) * sw); /* (W-1)*sw <= out + 2*pad: exact */
    if (w->slot) w->slot[kw] = -1;
    if (!live) continue;
    const int64_t q = floor_div(t, sw), r = t - q * sw;
    qmin = min64(qmin, q);
    qmax = max64(qmax, q);
    w->live++;
    if (!w->phase) continue;
    int64_t s = 0;
    while (s < w->slots && w->phase[s] != r) s++;
    if (s == w->slots) w->phase[w->slots++] = r;
    w->slot[kw] = s;
  }
  w->qmin = w->live ? qmin : 0;
  w->len = W + (w->live ? qmax - qmin : 0) + nr;
  if (w->shift)
    for (int64_t kw = 0; kw < g->k[2]; kw++)
      if (w->slot[kw] >= 0) w->shift[kw] = floor_div(kw * g->dil[2] - g->pad[2], sw) - w->qmin;
}

static bwd_data_dims dims_of(const cvt_geometry *g, const cvt_brgemm_config *cfg) {
  bwd_data_dims d;
  bwd_width w = {0};
  width_of(g, (int64_t)cfg->nr, &w);
  d.W = g->in[2];
  d.nr = (int64_t)cfg->nr;
  d.mr_max = (int64_t)cfg->mr_max;
  d.blocks = ceil_div(g->cin_g, d.mr_max);
  d.pairs_max = g->k[0] * g->k[1];
  const int64_t per_channel = d.pairs_max * w.slots * w.len * (int64_t)g->esize;
  d.kc = min64(g->cout_g, max64(1, BWD_DATA_PACK_BUDGET / per_channel));
  d.slots = w.slots;
  d.len = w.len;
  d.row_elems = d.kc * w.slots * w.len;
  return d;
}

/* Lanes a tile computes, plus half its loads: the cost of one (kd, kh) row pair's pass
 * over one grad_output channel, for a whole group's rows. */
static double tile_cost(const cvt_geometry *g, const cvt_brgemm_config *c) {
  const double cin = (double)g->cin_g;
  const double tiles = (double)ceil_div(g->in[2], (int64_t)c->nr);
  const double blocks = (double)ceil_div(g->cin_g, (int64_t)c->mr_max);
  double fmas, loads;
  if (c->vec_m > 1) { /* channels in lanes */
    const double vecs = (double)ceil_div(g->cin_g, (int64_t)c->vec_m);
    fmas = vecs * tiles * (double)c->nr;
    loads = tiles * (vecs + blocks * (double)c->nr);
  } else {            /* positions in lanes */
    const double vecs = (double)c->nr / (double)c->vec_n;
    fmas = cin * tiles * vecs;
    loads = blocks * tiles * (vecs + (double)c->mr_max);
  }
  return fmas + 0.5 * loads;
}

/* Tiles with the channels in the lanes finish every call by adding each lane into a
 * different grad_input plane, a scalar store a plane apart; measured (convt3d bench --pass
 * bwd_d, CONVT3D_KERNEL) they lose to the positions-in-lanes tiles on every row of 16
 * positions or more, so only rows shorter than a vector consider them. */
const cvt_brgemm_config *cvt_bwd_data_pick_kernel(const cvt_geometry *g,
                                                  const cvt_brgemm_config *tiles,
                                                  size_t count) {
  const cvt_brgemm_config *best = NULL;
  double best_cost = 0;
  for (size_t i = 0; i < count; i++) {
    if (tiles[i].vec_m > 1 && g->in[2] >= 16) continue;
    const double c = tile_cost(g, &tiles[i]);
    if (!best || c < best_cost) best = &tiles[i], best_cost = c;
  }
  return best ? best : &tiles[0];
}

/* Packed weights: per group and block of mr_max channels ci (mr in the last), per tap, the
 * [co][mr] panel (the micro-kernel's A: row k = grad_output channel co). */
static int64_t block_offset(const cvt_geometry *g, int64_t mr_max, int64_t grp, int64_t b) {
  const int64_t taps = g->k[0] * g->k[1] * g->k[2];
  return (grp * g->cin_g + b * mr_max) * taps * g->cout_g;
}

size_t cvt_bwd_data_packed_weight_bytes(const cvt_geometry *g, const cvt_brgemm_config *cfg) {
  /* the kernels may read a vector past a panel's last row */
  return ((size_t)g->weight_numel + cfg->mr_max) * g->esize;
}

/* NOLINTBEGIN(bugprone-macro-parentheses): T is a type */
#define PACK_BLOCK(T)                                                                     \
  for (int64_t tap = 0; tap < taps; tap++) {                                            \
    T *dst = (T *)packed + off + tap * g->cout_g * mr;                                   \
    for (int64_t co = 0; co < g->cout_g; co++)                                           \
      for (int64_t m = 0; m < mr; m++)                                                   \
        *dst++ = ((const T *)weight)[((grp * g->cin_g + ci0 + m) * g->cout_g + co) * taps + \
                                     tap];                                               \
  }
/* NOLINTEND(bugprone-macro-parentheses) */

void cvt_bwd_data_pack_weights(const cvt_geometry *g, const cvt_brgemm_config *cfg,
                               const void *weight, void *packed, int num_threads) {
  const int64_t taps = g->k[0] * g->k[1] * g->k[2], mr_max = (int64_t)cfg->mr_max;
  const int64_t blocks = ceil_div(g->cin_g, mr_max);
  memset((char *)packed + (size_t)g->weight_numel * g->esize, 0, cfg->mr_max * g->esize);
  (void)num_threads; /* unused without OpenMP */
#pragma omp parallel for schedule(static) num_threads(num_threads) if (num_threads > 1)
  for (int64_t gb = 0; gb < g->groups * blocks; gb++) {
    const int64_t grp = gb / blocks, b = gb % blocks, ci0 = b * mr_max;
    const int64_t mr = min64(g->cin_g - ci0, mr_max);
    const int64_t off = block_offset(g, mr_max, grp, b);
    if (g->dtype == CONVT3D_F32) {
      PACK_BLOCK(float)
    } else {
      PACK_BLOCK(double)
    }
  }
}
#undef PACK_BLOCK

/* Per-thread workspace: the packed rows, the width tables, the batch's pointers and the
 * copy of a row's last tile. */
typedef struct bwd_data_ws {
  void *pack;             /* pairs_max * row_elems elements (+ slack) */
  int64_t *slot, *shift, *phase; /* the width taps (bwd_width) */
  int64_t *pair_row, *pair_tap;   /* per live (kd, kh): grad_output row offset, first tap */
  const void **a_ptrs, **b_ptrs; /* taps entries each */
  void *tile;             /* mr_max * nr elements */
} bwd_data_ws;

static size_t ws_layout(const cvt_geometry *g, const cvt_brgemm_config *cfg, char *base,
                        bwd_data_ws *ws) {
  const bwd_data_dims d = dims_of(g, cfg);
  const int64_t taps = g->k[0] * g->k[1] * g->k[2], kw = g->k[2];
  const size_t es = g->esize;
  size_t at = 0;
#define TAKE(field, bytes)                                                               \
  do {                                                                                   \
    if (ws) ws->field = (void *)(base + at);                                             \
    at += align64(bytes);                                                                \
  } while (0)
  TAKE(pack, ((size_t)(d.pairs_max * d.row_elems) + 64) * es);
  TAKE(slot, (size_t)kw * sizeof(int64_t));
  TAKE(shift, (size_t)kw * sizeof(int64_t));
  TAKE(phase, (size_t)kw * sizeof(int64_t));
  TAKE(pair_row, (size_t)d.pairs_max * sizeof(int64_t));
  TAKE(pair_tap, (size_t)d.pairs_max * sizeof(int64_t));
  TAKE(a_ptrs, (size_t)taps * sizeof(void *));
  TAKE(b_ptrs, (size_t)taps * sizeof(void *));
  TAKE(tile, (size_t)(d.mr_max * d.nr) * es);
#undef TAKE
  return at;
}

size_t cvt_bwd_data_workspace_bytes(const cvt_geometry *g, const cvt_brgemm_config *cfg) {
  return ws_layout(g, cfg, NULL, NULL);
}

#define CVT_T float
#define CVT_FN bwd_data_f32
#define CVT_PACK_ROW pack_row_f32
#define CVT_BRGEMM f32
#include "backward_data_impl.h"
#undef CVT_T
#undef CVT_FN
#undef CVT_PACK_ROW
#undef CVT_BRGEMM

#define CVT_T double
#define CVT_FN bwd_data_f64
#define CVT_PACK_ROW pack_row_f64
#define CVT_BRGEMM f64
#include "backward_data_impl.h"
#undef CVT_T
#undef CVT_FN
#undef CVT_PACK_ROW
#undef CVT_BRGEMM

void cvt_bwd_data_run(const cvt_exec *e, const void *grad_output, void *grad_input) {
  if (e->geo->dtype == CONVT3D_F32)
    bwd_data_f32(e, grad_output, grad_input);
  else
    bwd_data_f64(e, grad_output, grad_input);
}
