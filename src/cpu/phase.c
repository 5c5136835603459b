/* The phase algorithm: conv_transpose3d as one batch-reduce GEMM per output row and
 * stride phase, over exactly the taps that reach it (docs/algorithm.md).
 *
 * Per axis, an output o = j*s + c (phase c = o mod s) receives the taps k with
 * k*dilation = c + padding (mod s), from input i = j + e(k), e(k) = (c + padding -
 * k*dilation) / s. Depth and height are gathered per row; width is vectorised: the
 * micro-kernel (ukernel.h) computes mr output channels at NR consecutive j of one phase.
 *
 * Weights are packed at plan time, per group and block of mr channels, as
 * [tap][ci][mr] (tap = (kd*kH + kh)*kW + kw), so that the A operand of every
 * (tap, channel range) is contiguous. */
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "../internal.h"
#include "ukernel.h"

/* Limits beyond which the phase algorithm declines (the direct one takes over): the
 * kernel's taps, and the spread of input offsets e across a row's taps, which sets the
 * packed row length. Both are far beyond any real layer. */
#define PHASE_MAX_TAPS 1024
#define PHASE_MAX_SPREAD 4096

/* Bytes of packed input per thread, the budget that decides the channel block kc. It
 * keeps a row's packed input in L2 (1 MiB on Zen 4) beside the weights being streamed. */
#define PHASE_PACK_BUDGET (384 * 1024)

/* Width strides up to this have all their phases' tiles buffered before the scatter. */
#define PHASE_MAX_BUFFERED_PHASES 4

typedef struct phase_tap {
  int64_t k; /* kernel index along the axis */
  int64_t e; /* input offset: i = j + e */
} phase_tap;

/* The taps of one axis that reach phase c, in ascending k; returns how many. */
static int64_t phase_taps(int64_t c, int64_t ksize, int64_t s, int64_t pad, int64_t dil,
                          phase_tap *out) {
  int64_t n = 0;
  for (int64_t k = 0; k < ksize; k++) {
    const int64_t t = c + pad - k * dil; /* bounded by out + 2*pad: exact (api.c) */
    if (t % s == 0) out[n++] = (phase_tap){k, t / s};
  }
  return n;
}

static int64_t gcd64(int64_t a, int64_t b) {
  while (b) {
    int64_t t = a % b;
    a = b, b = t;
  }
  return a;
}

/* At most how many taps of an axis reach one phase: taps k and k + s/gcd(s, dil) are the
 * nearest that share a phase. */
static int64_t max_taps_per_phase(int64_t ksize, int64_t s, int64_t dil) {
  const int64_t period = s / gcd64(s, dil);
  return (ksize + period - 1) / period;
}

static int64_t floor_div(int64_t a, int64_t b) { /* b > 0 */
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* Sizes shared by planning and execution, all derived from the geometry and the
 * micro-kernel's tile. */
typedef struct phase_dims {
  int64_t mr, nr;          /* the micro-kernel's tile */
  int64_t phases_w;        /* width phases that have outputs: min(sW, oW) */
  int64_t pgroup;          /* phases computed before one scatter: sW when all fit, else 1 */
  int64_t jmax;            /* positions j of the largest phase: ceil(oW / sW) */
  int64_t emin, emax;      /* bounds on the width offsets e over all phases and taps */
  int64_t wp, ldb;         /* packed row length (nr + spread) and its padded stride */
  int64_t max_pairs;       /* bound on a row's (kd, kh) taps */
  int64_t max_batch;       /* bound on a brgemm call's batch: max_pairs * width taps */
  int64_t kc;              /* input channels per packed block */
  int64_t w;               /* input width */
  int64_t x_channel;       /* D*H*W: distance between input channels */
  int64_t y_channel;       /* oD*oH*oW: distance between output channels */
  size_t esize;
} phase_dims;

static phase_dims phase_dims_of(const cvt_geometry *g, const cvt_brgemm_config *cfg) {
  phase_dims d;
  d.mr = (int64_t)cfg->mr_max;
  d.nr = (int64_t)cfg->nr;
  const int64_t sw = g->stride[2], ow = g->out[2];
  d.phases_w = sw < ow ? sw : ow;
  /* With every phase of a strip buffered, the scatter writes whole output rows in order
   * (for stride 2: an interleave) instead of strided single elements. */
  d.pgroup = d.phases_w == sw && sw <= PHASE_MAX_BUFFERED_PHASES ? sw : 1;
  d.jmax = (ow + sw - 1) / sw;
  /* e = (c + pad - k*dil) / s over c in [0, phases_w), k in [0, kW) */
  d.emin = floor_div(g->pad[2] - (g->k[2] - 1) * g->dil[2], sw);
  d.emax = floor_div(d.phases_w - 1 + g->pad[2], sw);
  d.wp = d.nr + (d.emax - d.emin);
  d.ldb = (d.wp + 15) / 16 * 16; /* 64-byte rows for float */
  d.max_pairs = max_taps_per_phase(g->k[0], g->stride[0], g->dil[0]) *
                max_taps_per_phase(g->k[1], g->stride[1], g->dil[1]);
  d.max_batch = d.max_pairs * max_taps_per_phase(g->k[2], sw, g->dil[2]);
  d.esize = convt3d_dtype_size(g->dtype);
  const int64_t per_channel = d.max_pairs * d.ldb * (int64_t)d.esize;
  d.kc = PHASE_PACK_BUDGET / per_channel;
  if (d.kc < 1) d.kc = 1;
  if (d.kc > g->cin_g) d.kc = g->cin_g;
  d.w = g->in[2];
  d.x_channel = g->in[0] * g->in[1] * g->in[2];
  d.y_channel = g->out[0] * g->out[1] * g->out[2];
  return d;
}

bool cvt_phase_supports(const cvt_geometry *g) {
  const int64_t taps = g->k[0] * g->k[1] * g->k[2]; /* <= weight elements: no overflow */
  if (taps > PHASE_MAX_TAPS) return false;
  const int64_t sw = g->stride[2], ow = g->out[2];
  const int64_t phases_w = sw < ow ? sw : ow;
  const int64_t spread = floor_div(phases_w - 1 + g->pad[2], sw) -
                         floor_div(g->pad[2] - (g->k[2] - 1) * g->dil[2], sw);
  return spread <= PHASE_MAX_SPREAD;
}

/* ------------------------------------------------------------------ workspace */

/* One thread's scratch, carved from its slice of the plan's workspace. */
typedef struct phase_workspace {
  void *bpack;        /* max_pairs * kc * ldb elements: packed input rows */
  void *cbuf;         /* pgroup * mr * nr elements: the tiles being accumulated */
  const void **a_ptrs, **b_ptrs; /* max_batch each: the brgemm batch */
  int64_t *x_row;     /* max_pairs: input row offsets of the row's pairs */
  int64_t *tap_dh;    /* max_pairs: (kd*kH + kh)*kW of each pair */
} phase_workspace;

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

static phase_workspace phase_workspace_of(const phase_dims *d, char *base) {
  phase_workspace ws;
  size_t off = 0;
  ws.bpack = base + off;
  off += align64((size_t)(d->max_pairs * d->kc * d->ldb) * d->esize);
  ws.cbuf = base + off;
  off += align64((size_t)(d->pgroup * d->mr * d->nr) * d->esize);
  ws.a_ptrs = (const void **)(base + off);
  off += align64((size_t)d->max_batch * sizeof(void *));
  ws.b_ptrs = (const void **)(base + off);
  off += align64((size_t)d->max_batch * sizeof(void *));
  ws.x_row = (int64_t *)(base + off);
  off += align64((size_t)d->max_pairs * sizeof(int64_t));
  ws.tap_dh = (int64_t *)(base + off);
  return ws;
}

size_t cvt_phase_workspace_bytes(const cvt_geometry *g, const cvt_brgemm_config *cfg) {
  const phase_dims d = phase_dims_of(g, cfg);
  return align64((size_t)(d.max_pairs * d.kc * d.ldb) * d.esize) +
         align64((size_t)(d.pgroup * d.mr * d.nr) * d.esize) +
         2 * align64((size_t)d.max_batch * sizeof(void *)) +
         2 * align64((size_t)d.max_pairs * sizeof(int64_t));
}

/* -------------------------------------------------------------------- weights */

size_t cvt_phase_packed_weight_bytes(const cvt_geometry *g, const cvt_brgemm_config *cfg) {
  (void)cfg; /* blocks of mr channels tile Cout_g exactly: no padding */
  return (size_t)g->weight_numel * convt3d_dtype_size(g->dtype);
}

/* Element offset of the packed block of channels [co0, co0 + mr) of group grp: every
 * earlier block of the group is full (mr_max channels), and each holds taps*cin_g*mr. */
static int64_t phase_weight_block_offset(const cvt_geometry *g, const phase_dims *d,
                                         int64_t grp, int64_t co0) {
  (void)d;
  const int64_t per_channel = g->k[0] * g->k[1] * g->k[2] * g->cin_g;
  return (grp * g->cout_g + co0) * per_channel;
}

void cvt_phase_pack_weights(const cvt_geometry *g, const cvt_brgemm_config *cfg,
                            const void *weight, void *packed) {
  const phase_dims d = phase_dims_of(g, cfg);
  const int64_t taps = g->k[0] * g->k[1] * g->k[2];
  for (int64_t grp = 0; grp < g->groups; grp++)
    for (int64_t co0 = 0; co0 < g->cout_g; co0 += d.mr) {
      const int64_t mr = g->cout_g - co0 < d.mr ? g->cout_g - co0 : d.mr;
      const int64_t block = phase_weight_block_offset(g, &d, grp, co0);
      for (int64_t tap = 0; tap < taps; tap++)
        for (int64_t ci = 0; ci < g->cin_g; ci++)
          for (int64_t m = 0; m < mr; m++) {
            /* PyTorch's w[grp*Cin_g + ci][co0 + m][tap] */
            const int64_t src = ((grp * g->cin_g + ci) * g->cout_g + co0 + m) * taps + tap;
            const int64_t dst = block + (tap * g->cin_g + ci) * mr + m;
            if (g->dtype == CONVT3D_F32)
              ((float *)packed)[dst] = ((const float *)weight)[src];
            else
              ((double *)packed)[dst] = ((const double *)weight)[src];
          }
    }
}

/* ----------------------------------------------------------------------- rows */

/* What one output row (n, group, od, oh) reads. */
typedef struct phase_row {
  int64_t group;
  int64_t npairs;  /* (kd, kh) taps whose input row exists */
  int64_t *x_row;  /* per pair: element offset of x[n, group*Cin_g, id, ih, 0] */
  int64_t *tap_dh; /* per pair: (kd*kH + kh)*kW */
  int64_t y_row;   /* element offset of y[n, group*Cout_g, od, oh, 0] */
} phase_row;

static void phase_row_setup(const cvt_geometry *g, const phase_dims *d, int64_t row,
                            phase_row *r) {
  const int64_t oh = row % g->out[1], od = row / g->out[1] % g->out[0];
  const int64_t ng = row / g->out[1] / g->out[0]; /* n * groups + group */
  const int64_t n = ng / g->groups;
  r->group = ng % g->groups;
  phase_tap td[PHASE_MAX_TAPS], th[PHASE_MAX_TAPS];
  const int64_t ntd = phase_taps(od % g->stride[0], g->k[0], g->stride[0], g->pad[0],
                                 g->dil[0], td);
  const int64_t nth = phase_taps(oh % g->stride[1], g->k[1], g->stride[1], g->pad[1],
                                 g->dil[1], th);
  r->npairs = 0;
  for (int64_t a = 0; a < ntd; a++) {
    const int64_t id = od / g->stride[0] + td[a].e;
    if (id < 0 || id >= g->in[0]) continue;
    for (int64_t b = 0; b < nth; b++) {
      const int64_t ih = oh / g->stride[1] + th[b].e;
      if (ih < 0 || ih >= g->in[1]) continue;
      r->x_row[r->npairs] =
          (((n * g->cin + r->group * g->cin_g) * g->in[0] + id) * g->in[1] + ih) * g->in[2];
      r->tap_dh[r->npairs] = (td[a].k * g->k[1] + th[b].k) * g->k[2];
      r->npairs++;
    }
  }
  r->y_row = (((n * g->cout + r->group * g->cout_g) * g->out[0] + od) * g->out[1] + oh) *
             g->out[2];
  (void)d;
}

/* How many of the positions j0 .. j0 + nr - 1 of width phase cw exist, i.e. satisfy
 * (j0 + jj)*sW + cw < oW; zero or negative when none does. */
static int64_t phase_positions(const cvt_geometry *g, const phase_dims *d, int64_t j0,
                               int64_t cw) {
  const int64_t n = (g->out[2] - cw + g->stride[2] - 1) / g->stride[2] - j0;
  return n < d->nr ? n : d->nr;
}

/* --------------------------------------------------------------------- drivers */

#define CVT_T float
#define CVT_FN phase_f32
#define CVT_PACK_ROWS pack_rows_f32
#define CVT_TILE tile_f32
#define CVT_SCATTER_ALL scatter_all_f32
#define CVT_BRGEMM f32
#include "phase_impl.h"
#undef CVT_T
#undef CVT_FN
#undef CVT_PACK_ROWS
#undef CVT_TILE
#undef CVT_SCATTER_ALL
#undef CVT_BRGEMM

#define CVT_T double
#define CVT_FN phase_f64
#define CVT_PACK_ROWS pack_rows_f64
#define CVT_TILE tile_f64
#define CVT_SCATTER_ALL scatter_all_f64
#define CVT_BRGEMM f64
#include "phase_impl.h"
#undef CVT_T
#undef CVT_FN
#undef CVT_PACK_ROWS
#undef CVT_TILE
#undef CVT_SCATTER_ALL
#undef CVT_BRGEMM

void cvt_phase_forward(const cvt_exec *e, const void *input, void *output) {
  if (e->geo->dtype == CONVT3D_F32)
    phase_f32(e, input, output);
  else
    phase_f64(e, input, output);
}
