/* grad_weight (and grad_bias) of conv_transpose3d on the brgemm micro-kernels.
 *
 *     gw[ci, co, k] = sum over n, i of x[n, ci, i] * gy[n, co, i*s - p + k*dil]
 *
 * For one tap k this is a GEMM whose reduction runs over input positions: C = gw[:, :, k]
 * (channels ci by co), A = x with the positions as rows, B = grad_output with the
 * positions, shifted for the tap, as rows. Both are packed channels-last, a slab of input
 * rows (n, id, ih) at a time: x as [row][iw][ci block] and the grad_output rows the slab
 * reaches, each once however many input rows reach it (slab_keys), as [row][ow][co],
 * whole: a width tap t reads the positions iw*sW + t, sW rows of the pack apart (the
 * micro-kernel's ldb). Packed per (input row, (kd, kh)), each grad_output row was
 * transposed up to kD*kH/(sD*sH) times (9 at kernel 3 stride 1): a kernel 3 stride 1
 * layer (32 -> 32 channels, 64^3) 0.84x / 0.73x the time at 1 / 2 threads once per row,
 * 3D-GAN l4 and TATS up2 0.90x, ResidualUNet3D up3 0.93x at 1 thread (alternated in one
 * process, medians of 9 executes); bit-identical sums. (A kernel narrower than its stride
 * reaches only some width phases: there the rows are deinterleaved by phase, as in the
 * backward-data pass, and only the phases the taps read are packed. Deinterleaving them
 * always took two transposes per row instead of one: on nnU-Net up4 at 1 thread the pack
 * took 30 ms of the slabs' 87, whole 17 of 77.) Then one micro-kernel call covers a
 * block of ci, a tile of co and one tap over the whole slab: k runs along a row's
 * positions whose output exists, the batch over the slab's rows whose (od, oh) exists.
 * The tiles with input channels in the lanes (64xN, for few grad_output channels: their
 * values are broadcast, not loaded as vectors) need no grad_output pack at all: their
 * _bt entry reads grad_output in place, a row per channel (d.direct).
 *
 * The sums accumulate in a tap-major copy of the weight, [group][tap][ci][co], owned by
 * the plan's workspace; the threads split its tiles, and every tile takes the slabs in
 * order, so each element is summed in an order set by the problem alone: bit-identical
 * for any thread count.
 *
 * That is the tap formulation. When the volume is small (the deep layers of a decoder:
 * 1^3..8^3 inputs, weights of 10-60 MB) its per-tap accumulator costs more than the sums:
 * it is zeroed, revisited per slab and transposed back, three passes over the weight.
 * There the whole pass is one GEMM instead, the gemm formulation:
 *
 *     gw[ci][(co, k)] = sum over n, i of x[n, ci, i] * Y[(n, i)][(co, k)],
 *     Y[(n, i)][(co, k)] = gy[n, co, i*s - p + k*dil], or 0 outside grad_output,
 *
 * whose C is grad_weight itself, in PyTorch's layout: a row per input channel, its
 * columns (co, tap) contiguous. Y (an im2col of grad_output, one row per input position)
 * is packed per slab of input rows, x as in the tap formulation, and one micro-kernel
 * call covers a block of ci and a tile of (co, tap) columns over the slab (the batch over
 * its rows, k along each row). The terms of taps that fall outside grad_output are
 * products with Y's zeros: exact for finite inputs, and a few more multiply-adds than the
 * tap formulation's (42% more on ResidualUNet3D's k3 s2 layer on 4^3, none for
 * kernel = stride); Y holds each grad_output element once per tap that reaches it
 * (kD*kH*kW / (sD*sH*sW) times), so it is used only where the volume is small.
 *
 * With few channels on one side (depthwise layers, network heads of 1-13 channels) both
 * of those spend their time transposing. The dot formulation keeps NCDHW: the lanes of
 * dot-product tiles (ukernel.h, cvt_f32_dot_fn) run along the width, an input row and a
 * grad_output row meeting per tap, so the only copy is of whole rows into a slab's
 * buffers (channels an unaliased stride apart); at width stride 2 each tile takes the two
 * taps that share a run of grad_output elements. Each call sums a block of ci by a block
 * of co, one (kd, kh) and width tap (or pair) over the slab's rows, and adds its sums to
 * grad_weight, which it holds in PyTorch's layout. Positions that only one tap of a pair
 * reaches meet zeros for the other (exact for finite inputs). With one to three
 * grad_output channels the tile's columns are (kd, kh) pairs of one channel instead, and
 * at stride 2 the grad_output rows are split by width phase (use_dot_pairs). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../internal.h"
#include "arith.h"
#include "taps.h"
#include "threads.h"
#include "ukernel.h"

/* Bytes of packed input and grad_output a slab aims for. The gemm formulation's C is the
 * whole weight, loaded and stored once per slab (measured: 3D-GAN's l2, a 33 MB weight,
 * 22.6 ms in three slabs), so it takes one slab of up to 16 MiB, still less than the
 * tap formulation's accumulator for the weights it serves (its Y holds at most
 * BWD_WEIGHT_GEMM_RATIO times the weight's elements, and mostly far fewer). */
#define BWD_WEIGHT_SLAB_BUDGET (INT64_C(4096) * 1024)
#define BWD_WEIGHT_GEMM_SLAB_BUDGET (INT64_C(16384) * 1024)
/* The tiles that read grad_output in place (d.direct) pack only the input, and every
 * (tap, block of ci, tile of co) call reads the slab's whole x pack: over L2, each read
 * came from L3 (nnU-Net up5, 64 -> 32 channels at 64^3: 8 taps x 8 tiles of 4 co read
 * 4 MiB slabs 64 times each). There a slab is kept within L2, unless the accumulator is
 * larger than that: it is revisited per slab (VideoGPT convt1's, 14.7 MB, in 4 slabs
 * instead of 1: 1.1-1.3x the time). Alternated in one process against 4 MiB slabs (medians
 * of 9 executes, 1 / 2 threads): nnU-Net up5 0.66x / 0.76x the time, benchdnn fwks
 * 64to32 0.70x / 0.75x; 256 KiB measured the same as 512. */
#define BWD_WEIGHT_DIRECT_SLAB_BUDGET (INT64_C(512) * 1024)

/* The gemm formulation when building Y costs less than the tap formulation's passes over
 * the weight: Y holds positions * cout_g * taps values, the weight cin_g * cout_g * taps,
 * so while the input positions (n, id, ih, iw) number at most BWD_WEIGHT_GEMM_RATIO
 * times the input channels per group. */
#define BWD_WEIGHT_GEMM_RATIO 2

static bool use_gemm(const cvt_geometry *g) {
  const int64_t positions = g->n * g->in[0] * g->in[1] * g->in[2];
  return positions <= BWD_WEIGHT_GEMM_RATIO * g->cin_g;
}

/* The dot formulation: float32 on an ISA with dot-product tiles, a width stride of 1 (or
 * 2 without width dilation: the tiles pair width taps 2q and 2q + 1), rows that fill at
 * least three quarters of their vectors of 16 positions, and few channels per group on
 * one side (below: at most BWD_WEIGHT_DOT_MAX_CHANNELS with one tap). Measured on the suite (best
 * of 2 x 3 runs, 1 thread, against the tap formulation): MedNeXt's depthwise layer 2.8x
 * faster, its kernel-1 head (32 -> 13) 1.22x, 3D-GAN's l5 (64 -> 1) 1.25x, VideoGPT's
 * head (240 -> 3) level; with many channels on both sides the tap formulation's larger
 * tiles win (0.26-0.85x there, more with short rows: its calls reduce over a slab's rows
 * only, so each ends in a horizontal sum per accumulator). */
#define BWD_WEIGHT_DOT_MAX_CHANNELS 16
/* That many channels only with one tap (a pointwise layer); with several, the tap
 * formulation's tiles win from 4 channels on (more with kernel <= stride on every axis,
 * where no two taps meet one grad_output position, up to 8), by far when the other side
 * is wide. Alternated in one process against the dot formulation (medians of 9 executes,
 * 1 / 2 threads), 32^3 inputs unless said: kernel 4 stride 2 64 -> 16 0.33x / 0.32x the
 * time, 64 -> 8 0.40x / 0.34x, 64 -> 4 0.49x / 0.44x; kernel 3 stride 2 32 -> 12 0.52x;
 * kernel 3 stride 1 4 -> 64 0.40x / 0.33x, 16 -> 16 (48^3) 0.66x / 0.46x, 8 -> 8 (48^3)
 * 1.12x / 0.72x; kernel 2 stride 2 32 -> 16 (64^3) 0.93x / 0.77x, 16 -> 32 (48^3) 0.96x /
 * 0.77x, 16 -> 16 (64^3) 1.12x / 0.72x, but 64 -> 8 (48^3) 1.25x / 1.18x; kernel 1 64 ->
 * 16 1.85x / 4.4x, MedNeXt's head 2.1x / 3.6x. */
#define BWD_WEIGHT_DOT_MAX_CHANNELS_APART 8
#define BWD_WEIGHT_DOT_MAX_CHANNELS_MEETING 3
static bool use_dot(const cvt_geometry *g, const cvt_brgemm_config *cfg) {
  const int64_t W = g->in[2], sw = g->stride[2];
  bool apart = true; /* kernel <= stride, undilated, on every axis */
  for (int ax = 0; ax < 3; ax++)
    apart = apart && (g->k[ax] == 1 || (g->k[ax] <= g->stride[ax] && g->dil[ax] == 1));
  const int64_t max_channels = g->k[0] * g->k[1] * g->k[2] == 1 ? BWD_WEIGHT_DOT_MAX_CHANNELS
                               : apart ? BWD_WEIGHT_DOT_MAX_CHANNELS_APART
                                       : BWD_WEIGHT_DOT_MAX_CHANNELS_MEETING;
  return g->dtype == CONVT3D_F32 && cfg->f32_dot && !use_gemm(g) &&
         (sw == 1 || (sw == 2 && g->dil[2] == 1)) && 4 * W >= INT64_C(48) * ceil_div(W, 16) &&
         min64(g->cin_g, g->cout_g) <= max_channels;
}

/* The dot formulation with at most BWD_WEIGHT_DOT_PAIRS_MAX_COUT grad_output channels per
 * group and at least BWD_WEIGHT_DOT_PAIRS_MIN_CIN input channels (network heads such as
 * 3D-GAN's l5, 64 -> 1) spreads a tile's columns over (kd, kh) pairs instead of channels,
 * so that each input vector it loads meets several grad_output rows (the 12x1 tile of
 * one channel loads a line per two FMAs). A pair whose grad_output row does not exist for
 * an input row is a row of zeros in the slab's buffer (exact for finite inputs, as for
 * the width pairs at stride 2). At width stride 2 the grad_output rows are split by
 * phase as they are copied (dot_phases), so that every tap is a stride-1 dot product:
 * the stride-2 tiles compute two taps per call, and at the row ends (offsets q whose
 * pair has one tap in the kernel) half of those are wasted. Measured (best of 4
 * alternated processes): 3D-GAN l5 17.6 -> 10.2 ms at 1 thread, 13.6 -> 8.4 at 2. */
#define BWD_WEIGHT_DOT_PAIRS_MAX_COUT 3
#define BWD_WEIGHT_DOT_PAIRS_MIN_CIN 16
static bool use_dot_pairs(const cvt_geometry *g) {
  return g->cout_g <= BWD_WEIGHT_DOT_PAIRS_MAX_COUT &&
         g->cin_g >= BWD_WEIGHT_DOT_PAIRS_MIN_CIN && g->k[0] * g->k[1] > 1;
}

/* Bytes of input and grad_output rows a dot slab aims for. Each row of input is read once
 * per block of grad_output channels and tap, each grad_output row once per block of input
 * channels, so the slab's rows are copied (row by row, no transposing) into buffers whose
 * channels lie an unaliased stride apart: read in place, a power-of-two volume puts every
 * channel's row in the same L1 and L2 sets (measured: nnU-Net up4 at half the tap
 * formulation's speed). The calls then take one (kd, kh) at a time, the input rows and
 * that pair's grad_output rows staying in L2. */
#define BWD_WEIGHT_DOT_SLAB_BUDGET (INT64_C(1536) * 1024)

/* Rows of one channel per copy task of a dot slab. */
#define DOT_COPY_ROWS 16

/* The dot formulation reads input and grad_output in place (dot_direct) when each tile
 * meets one input and one grad_output channel (depthwise layers): two rows cannot crowd a
 * cache set, and the copies were most of the time. Copied, MedNeXt's k5 layer also took
 * slabs of a single row (its grad_output rows per input row, 25 pairs of 64 elements,
 * filled the budget), so each call summed one row: 1024 slabs of 9600 calls. In place a
 * slab is sized for a group's rows to stay in L2 while its taps revisit them. */
#define BWD_WEIGHT_DOT_DIRECT_BUDGET (INT64_C(512) * 1024)

/* Sizes fixed by the problem and the tile. */
typedef struct bwd_weight_dims {
  bool gemm;             /* the gemm formulation */
  bool dot;              /* the dot formulation (neither: taps) */
  int64_t dot_mr, dot_nr; /* dot: the tile (cvt_dot_tile) */
  bool dot_pairs;         /* dot: the tile's columns are (kd, kh) pairs of one channel */
  bool dot_phases;        /* dot: grad_output rows split by width phase (stride 2) */
  bool dot_direct;        /* dot: input and grad_output read in place, no slab buffers */
  int64_t dot_len;        /* dot: elements per grad_output row (or phase row) in gbuf */
  int64_t dot_cb;         /* dot: blocks of input channels per group */
  int64_t dot_jb, dot_pb; /* dot: column blocks, pair items (pairs, or blocks of them) */
  int64_t dot_q0, dot_wg; /* dot: width tap groups (kW taps; stride 2: offsets q = q0..) */
  int64_t dot_ldx, dot_ldg; /* dot: channel strides of the slab's input and grad_output
                               buffers ([c][row][W], [co][(kd, kh)][row][oW] or
                               [co][(kd, kh)][phase][row][dot_len]), unaliased */
  int64_t taps, pairs;   /* kD*kH*kW; kD*kH */
  int64_t W, mr_max, nr;
  int64_t blocks;        /* blocks of mr_max input channels per group */
  int64_t cpad;          /* grad_output channels per group, rounded up to nr */
  int64_t qmin, len;     /* width: smallest tap offset q; packed phase row length */
  int64_t slots;         /* width phases (<= min(sW, kW)) */
  bool whole;            /* taps: grad_output rows packed whole, not by width phase */
  bool direct;           /* taps: grad_output read in place (the tile's f32_bt entry) */
  int64_t rows;          /* input rows (n, id, ih) in all */
  int64_t slab;          /* rows per slab */
  int64_t x_row, y_row;  /* elements one slab row takes in the x and grad_output packs */
  int64_t cols;          /* gemm: columns of C, cout_g * taps */
  int64_t ctiles;        /* tiles of nr: of cpad (taps), of cols (gemm) */
  int64_t ldy;           /* gemm: between positions in Y: ctiles * nr, unaliased */
} bwd_weight_dims;

static bwd_weight_dims dims_of(const cvt_geometry *g, const cvt_brgemm_config *cfg) {
  bwd_weight_dims d = {0};
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
  d.gemm = use_gemm(g);
  d.cols = g->cout_g * d.taps;
  d.ctiles = d.gemm ? ceil_div(d.cols, d.nr) : d.cpad / d.nr;
  d.ldy = unaliased_stride(d.ctiles * d.nr, g->esize);
  d.whole = g->stride[2] <= g->k[2];
  d.direct = !d.gemm && g->dtype == CONVT3D_F32 && cfg->f32_bt;
  d.y_row = d.gemm     ? d.W * d.ldy * g->groups
            : d.direct ? 0
            : d.whole  ? d.pairs * g->out[2] * d.cpad * g->groups
                       : d.pairs * d.slots * d.len * d.cpad * g->groups;
  const int64_t per_row = (d.x_row + d.y_row) * (int64_t)g->esize;
  const int64_t acc_bytes = g->groups * d.taps * g->cin_g * d.cpad * (int64_t)g->esize;
  const int64_t budget = d.gemm ? BWD_WEIGHT_GEMM_SLAB_BUDGET
                         : d.direct && acc_bytes <= BWD_WEIGHT_DIRECT_SLAB_BUDGET
                             ? BWD_WEIGHT_DIRECT_SLAB_BUDGET
                             : BWD_WEIGHT_SLAB_BUDGET;
  d.slab = max64(1, min64(d.rows, budget / per_row));
  d.dot = use_dot(g, cfg);
  if (d.dot) {
    size_t mr, nr;
    const int64_t sw = g->stride[2];
    d.dot_pairs = use_dot_pairs(g);
    d.dot_phases = d.dot_pairs && sw == 2;
    d.dot_len = d.dot_phases ? ceil_div(g->out[2], 2) : g->out[2];
    const int64_t per_pair = (d.dot_phases ? 2 : 1) * d.dot_len; /* per pair and row */
    cvt_dot_tile(d.dot_phases ? 1 : (size_t)sw, (size_t)g->cin_g,
                 (size_t)(d.dot_pairs ? d.pairs : g->cout_g), &mr, &nr);
    d.dot_mr = (int64_t)mr, d.dot_nr = (int64_t)nr;
    d.dot_cb = ceil_div(g->cin_g, d.dot_mr);
    d.dot_jb = d.dot_pairs ? g->cout_g : ceil_div(g->cout_g, d.dot_nr);
    d.dot_pb = d.dot_pairs ? ceil_div(d.pairs, d.dot_nr) : d.pairs;
    d.dot_q0 = sw == 2 && !d.dot_phases ? floor_div(-g->pad[2], 2) : 0;
    d.dot_wg = sw == 2 && !d.dot_phases
                   ? floor_div(g->k[2] - 1 - g->pad[2], 2) - d.dot_q0 + 1
                   : g->k[2];
    d.dot_direct = !d.dot_pairs && min64(d.dot_mr, g->cin_g) == 1 &&
                   min64(d.dot_nr, g->cout_g) == 1;
    if (d.dot_direct) { /* a group's input rows and the grad_output rows they reach */
      const int64_t row_bytes =
          (d.W * g->cin_g + g->stride[0] * g->stride[1] * g->out[2] * g->cout_g) *
          (int64_t)g->esize;
      d.slab = max64(1, min64(d.rows, BWD_WEIGHT_DOT_DIRECT_BUDGET / row_bytes));
      d.dot_ldx = d.dot_ldg = 0; /* no slab buffers */
    } else {
      const int64_t row_bytes =
          (d.W * g->cin_g + d.pairs * per_pair * g->cout_g) * g->groups * (int64_t)g->esize;
      d.slab = max64(1, min64(d.rows, BWD_WEIGHT_DOT_SLAB_BUDGET / row_bytes));
      d.dot_ldx = unaliased_stride(d.slab * d.W, g->esize);
      d.dot_ldg = unaliased_stride(d.pairs * d.slab * per_pair, g->esize);
    }
  }
  return d;
}

/* Whether the input row at (id, ih) with depth and height taps (kd, kh) reaches a row
 * (od, oh) of grad_output, whose offset od * oH + oh goes to *at. */
static inline bool reaches(const cvt_geometry *g, int64_t id, int64_t ih, int64_t kd,
                           int64_t kh, int64_t *at) {
  const int64_t od = id * g->stride[0] - g->pad[0] + kd * g->dil[0];
  const int64_t oh = ih * g->stride[1] - g->pad[1] + kh * g->dil[1];
  *at = od * g->out[1] + oh;
  return od >= 0 && od < g->out[0] && oh >= 0 && oh < g->out[1];
}

/* The same for input row `row` (n, id, ih). */
static bool row_reaches(const cvt_geometry *g, int64_t row, int64_t kd, int64_t kh,
                        int64_t *at) {
  return reaches(g, row / g->in[1] % g->in[0], row % g->in[1], kd, kh, at);
}

/* A walk over consecutive input rows without divisions (the batch loops visit every row
 * of a slab per micro-kernel call, and with short rows the divisions of row_reaches cost
 * as much as the call: 3D-GAN l5's rows of 32 took 40% longer). */
typedef struct row_walk {
  int64_t n, id, ih;
} row_walk;

static inline row_walk walk_from(const cvt_geometry *g, int64_t row) {
  return (row_walk){row / g->in[1] / g->in[0], row / g->in[1] % g->in[0], row % g->in[1]};
}

static inline void walk_next(const cvt_geometry *g, row_walk *w) {
  if (++w->ih == g->in[1]) {
    w->ih = 0;
    if (++w->id == g->in[0]) w->id = 0, w->n++;
  }
}

static int cmp_int64(const void *a, const void *b) {
  const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* The grad_output rows that the slab's input rows r0 .. r0 + nrows reach, each once:
 * keys[0 .. count) ascending, a row (n, od, oh) keyed (n * oD + od) * oH + oh, and
 * slots[rr * pairs + (kd * kH + kh)] the index in keys of the row that (kd, kh) reaches
 * from input row r0 + rr, or -1. Returns count. */
static int64_t slab_keys(const cvt_geometry *g, const bwd_weight_dims *d, int64_t r0,
                         int64_t nrows, int64_t *slots, int64_t *keys) {
  const int64_t kH = g->k[1], plane = g->out[0] * g->out[1];
  int64_t count = 0;
  row_walk w = walk_from(g, r0);
  for (int64_t rr = 0; rr < nrows; rr++, walk_next(g, &w))
    for (int64_t pair = 0; pair < d->pairs; pair++) {
      int64_t at;
      const bool live = reaches(g, w.id, w.ih, pair / kH, pair % kH, &at);
      slots[rr * d->pairs + pair] = live ? w.n * plane + at : -1;
      if (live) keys[count++] = w.n * plane + at;
    }
  qsort(keys, (size_t)count, sizeof *keys, cmp_int64);
  int64_t unique = 0;
  for (int64_t i = 0; i < count; i++)
    if (unique == 0 || keys[i] != keys[unique - 1]) keys[unique++] = keys[i];
  for (int64_t i = 0; i < nrows * d->pairs; i++)
    if (slots[i] >= 0) slots[i] = sorted_index(keys, unique, slots[i]);
  return unique;
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

/* The gemm formulation's: a C tile is mr_max input channels by nr contiguous columns of
 * grad_weight, so only the tiles with positions (here: columns) in the lanes apply. */
static double gemm_tile_cost(const cvt_geometry *g, const cvt_brgemm_config *c) {
  const int64_t taps = g->k[0] * g->k[1] * g->k[2];
  const double tiles = (double)ceil_div(g->cout_g * taps, (int64_t)c->nr);
  const double vecs = (double)c->nr / (double)c->vec_n;
  const double blocks = (double)ceil_div(g->cin_g, (int64_t)c->mr_max);
  return (double)g->cin_g * tiles * vecs + 0.5 * blocks * tiles * (vecs + (double)c->mr_max);
}

const cvt_brgemm_config *cvt_bwd_weight_pick_kernel(const cvt_geometry *g,
                                                    const cvt_brgemm_config *tiles,
                                                    size_t count) {
  for (size_t i = 0; i < count; i++)
    if (use_dot(g, &tiles[i])) return &tiles[i];
  const bool gemm = use_gemm(g);
  const cvt_brgemm_config *best = NULL;
  double best_cost = 0;
  for (size_t i = 0; i < count; i++) {
    if (gemm && tiles[i].vec_m > 1) continue;
    const double c = gemm ? gemm_tile_cost(g, &tiles[i]) : tile_cost(g, &tiles[i]);
    if (!best || c < best_cost) best = &tiles[i], best_cost = c;
  }
  return best ? best : &tiles[0];
}

/* The shared workspace: the tap-major accumulator (taps), the slab's two packs, and per
 * thread the batch's pointers and a C tile (gemm: the last, partial tile of a row). */
typedef struct bwd_weight_ws {
  void *acc;   /* taps: groups * taps * cin_g * cpad elements */
  void *xpack; /* slab * x_row elements */
  void *ypack; /* slab * y_row elements */
  void *slots; /* taps, packed: slab * pairs pack rows of the (row, pair) (int64_t) */
  void *keys;  /* taps, packed: up to slab * pairs grad_output rows (int64_t) */
  void *ptrs;  /* per thread: 2 * slab pointers, in slices of ptr_slice (gemm: none) */
  void *tile;  /* gemm, per thread: mr_max * nr elements */
} bwd_weight_ws;

/* Pointers per thread's slice: 2 * slab, rounded up to 128 bytes, so that no two threads
 * write one cache line (or an adjacent pair the prefetcher fetches together) when they
 * fill their batches (measured: on 3^3 SwinUNETR, 2 threads took 1.7 ms to 1 thread's 1.4
 * with the slices adjacent). */
static size_t ptr_slice(const bwd_weight_dims *d) {
  if (d->gemm) return 0; /* its calls take one entry each, pointers on the stack */
  return ((size_t)(2 * d->slab) + 15) & ~(size_t)15;
}

static size_t ws_layout(const cvt_geometry *g, const bwd_weight_dims *d, int threads,
                        char *base, bwd_weight_ws *ws) {
  const size_t es = g->esize;
  size_t at = 0;
#define TAKE(field, bytes)                                                               \
  do {                                                                                   \
    if (ws) ws->field = (void *)(base + at);                                             \
    at += align64(bytes);                                                                \
  } while (0)
  TAKE(acc, d->gemm || d->dot ? 0 : (size_t)(g->groups * d->taps * g->cin_g * d->cpad) * es);
  TAKE(xpack, (size_t)(d->dot ? g->cin * d->dot_ldx : d->slab * d->x_row) * es);
  TAKE(ypack, (size_t)(d->dot ? g->cout * d->dot_ldg : d->slab * d->y_row) * es);
  const bool keyed = !d->gemm && !d->dot && !d->direct;
  TAKE(slots, keyed ? (size_t)(d->slab * d->pairs) * sizeof(int64_t) : 0);
  TAKE(keys, keyed ? (size_t)(d->slab * d->pairs) * sizeof(int64_t) : 0);
  TAKE(ptrs, (size_t)threads * ptr_slice(d) * sizeof(void *));
  TAKE(tile, d->gemm ? (size_t)threads * (size_t)(d->mr_max * d->nr) * es : 0);
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
#define CVT_GEMM_PACK_Y gemm_pack_y_f32
#define CVT_GEMM_TILES gemm_tiles_f32
#define CVT_DOT_SLAB dot_slab_f32
#define CVT_DOT_COPY dot_copy_f32
#define CVT_IS_F32 1 /* the float32-only kernels: dot tiles, _bt entries */
#define CVT_BRGEMM f32
#include "backward_weight_impl.h"
#undef CVT_T
#undef CVT_FN
#undef CVT_GEMM_PACK_Y
#undef CVT_GEMM_TILES
#undef CVT_DOT_SLAB
#undef CVT_DOT_COPY
#undef CVT_IS_F32
#undef CVT_BRGEMM

#define CVT_T double
#define CVT_FN bwd_weight_f64
#define CVT_GEMM_PACK_Y gemm_pack_y_f64
#define CVT_GEMM_TILES gemm_tiles_f64
#define CVT_DOT_SLAB dot_slab_f64
#define CVT_DOT_COPY dot_copy_f64
#define CVT_IS_F32 0
#define CVT_BRGEMM f64
#include "backward_weight_impl.h"
#undef CVT_T
#undef CVT_FN
#undef CVT_GEMM_PACK_Y
#undef CVT_GEMM_TILES
#undef CVT_DOT_SLAB
#undef CVT_DOT_COPY
#undef CVT_IS_F32
#undef CVT_BRGEMM

void cvt_bwd_weight_run(const cvt_exec *e, const void *input, const void *grad_output,
                        void *grad_weight, void *grad_bias) {
  if (e->geo->dtype == CONVT3D_F32)
    bwd_weight_f32(e, input, grad_output, grad_weight, grad_bias);
  else
    bwd_weight_f64(e, input, grad_output, grad_weight, grad_bias);
}
