/* The phase algorithm's patch cut: no padding, and an input plane of 16 positions or
 * fewer. Each input voxel (d, h, w) sends tap (kd, kh, kw) to output (d*sD + kd*dD,
 * h*sH + kh*dH, w*sW + kw*dW), its patch, so each group is one GEMM over every input
 * voxel of every sample at once:
 *
 *     C[(co, t)][p] = sum over ci of w[g*Cin_g + ci, co, t] * x[n, g*Cin_g + ci, d, h, w],
 *
 * columns (co, t) for t = (kd, kh, kw), co slowest (the weight's row layout), positions
 * p = (n, d, h, w) in the input's order; then C's columns go to the patches.
 *
 * Kernel = stride on every axis (or an input one voxel long there), with no dilation or
 * output padding ("exact"): the patches tile the output, each output one tap's, so y's
 * patches are C's columns plus the bias. This is nnU-Net's upsampling (kernel = stride =
 * 2) deep in the decoder, where the volume is small: SwinUNETR's 768 -> 384 on 3^3 has
 * 27 positions per channel, 9 per slice plane. The phase algorithm proper computes each
 * of the 8 phases apart and tiles one slice plane at a time, so its tiles hold 9
 * positions of 16 lanes (or stream a whole weight panel per 3 positions in
 * channels-in-lanes tiles); here one tile of 32 positions covers them all, and each
 * weight is read once per call.
 *
 * Otherwise the patches overlap (kernel 4 stride 2 on 4^3: each output sums up to 8
 * taps' columns): the outputs start from the bias and each column is added to its
 * patch, tap by tap. The GEMM is the same; the adds are one per column element (1/256
 * of the multiply-adds with 256 input channels). Padding would crop taps whose columns
 * the GEMM computes anyway (a third of them for kernel 4 stride 2 padding 1 on 4^3,
 * where the Winograd algorithm is faster): the cut declines it.
 *
 * The weights are packed at plan time per group in blocks of the tile's mr columns,
 * [block][ci][mr] (the last block of a group narrower); the positions are taken in chunks
 * of whole input rows (whole samples where patches overlap, so that no two chunks reach
 * an output), packed per thread as [ci][position] (the rows of one channel are
 * contiguous in the input, so a chunk is a few runs per channel). A task is one chunk and
 * one unit of whole output channels of one group: its tiles sum every input channel into
 * a buffer, whose columns then go to the patches, whole output rows at a time (exact) or
 * tap by tap. Each output's sum is in a fixed order (ci, then the taps), whatever the
 * thread count. Float32, positions-in-lanes tiles (every instruction set has them). */
#include <string.h>

#include "../internal.h"
#include "arith.h"
#include "threads.h"
#include "ukernel.h"

/* Bytes per thread of a chunk's packed input, which sets the positions per chunk: every
 * weight is read once per chunk. */
#define PATCH_B_BUDGET (INT64_C(256) * 1024)
/* Bytes per thread of a task's columns (its output channels' taps over a chunk). */
#define PATCH_C_BUDGET (INT64_C(512) * 1024)
/* Bytes of a tile's slice of input channels, read by every block of columns. */
#define PATCH_L1_BUDGET (INT64_C(24) * 1024)
/* Columns per task at least: units of whole channels, a few tiles each. */
#define PATCH_UNIT_COLUMNS 48
/* Taps per patch at most (kernel 4 on every axis): a unit's buffer holds all of them. */
#define PATCH_MAX_TAPS 64
/* Overlapping patches: input positions per sample at most. Their chunks are whole
 * samples, so a task's columns (up to mr x 64 per unit, mr <= 6) stay under 1.5 MiB. */
#define PATCH_MAX_SAMPLE 1024

static int64_t patch_taps(const cvt_geometry *g) { return g->k[0] * g->k[1] * g->k[2]; }

/* Kernel = stride on every axis (or an input one voxel long there), with no padding,
 * dilation or output padding: the patches tile the output, each output one tap's. */
static bool patch_exact(const cvt_geometry *g) {
  for (int a = 0; a < 3; a++) {
    if (g->pad[a] != 0 || g->dil[a] != 1 || g->out_pad[a] != 0) return false;
    if (g->k[a] != g->stride[a] && g->in[a] != 1) return false;
  }
  return true;
}

/* Input rows (d, h) per sample, and the bytes of one input row of a group's channels. */
static int64_t sample_rows(const cvt_geometry *g) { return g->in[0] * g->in[1]; }
static int64_t row_in_bytes(const cvt_geometry *g) {
  return g->cin_g * g->in[2] * (int64_t)sizeof(float);
}

/* The geometry qualifies, whatever the micro-kernel and the plan's rule. */
static bool patch_shape(const cvt_geometry *g) {
  if (g->dtype != CONVT3D_F32 || g->n < 1 || g->cout_g < 1 || g->phase_tiles) return false;
  for (int a = 0; a < 3; a++) /* no tap's output is cropped */
    if (g->pad[a] != 0) return false;
  if (g->in[0] * g->in[1] * g->in[2] == 1 || patch_taps(g) > PATCH_MAX_TAPS) return false;
  /* one input row of a chunk fits its budget; overlapping patches: a whole sample */
  if (patch_exact(g)) return row_in_bytes(g) <= PATCH_B_BUDGET;
  return sample_rows(g) * row_in_bytes(g) <= PATCH_B_BUDGET &&
         sample_rows(g) * g->in[2] <= PATCH_MAX_SAMPLE;
}

bool cvt_patch_prefers(const cvt_geometry *g) {
  /* Where the phase algorithm's tiles are poorly filled: input planes of 16 positions or
   * fewer. Measured against it (bench, median ms, 1 / 2 threads, 2026-12-07): SwinUNETR's
   * 768 -> 384 on 3^3 1.43 / 0.65-0.75 against 1.49 / 0.80-0.83, nnU-Net's 320 -> 320 on
   * 4^3 (N = 2) 1.49-1.59 / 0.81 against 1.56-1.73 / 0.91-0.98; but planes of 30-36
   * positions (nnU-Net lung's 5x6x5, benchdnn's 7x7x5, UNETR's 6^3) level or 1.2x
   * slower, where the channels-in-lanes tiles fill whole rows. Overlapping patches
   * (paired, evicted caches, 1 / 2 threads): kernel 4 stride 2, 256 -> 256 on 4^3 (N =
   * 4), 15.5-16.0 / 9.1-9.3 ms against 19.4-20.8 / 10.5-14.0; kernel 3 stride 2 on 4^3
   * 2.2x / 1.6x faster; kernel 3 stride 1, 64 -> 64 on 4^3, 0.98x / 0.93x (0.3 ms). Kernel
   * 1 (K = 1) is a plain pointwise layer, left to the phase algorithm. */
  return patch_shape(g) && patch_taps(g) > 1 && g->in[1] * g->in[2] <= 16;
}

bool cvt_patch_applies(const cvt_geometry *g, const cvt_brgemm_config *cfg) {
  return cvt_patch_prefers(g) && cfg->vec_m == 1;
}

/* Sizes shared by planning and execution. */
typedef struct patch_dims {
  int64_t taps, cols; /* K = kD*kH*kW, and Cout_g * K GEMM columns per group */
  int64_t rows;       /* input rows (n, d, h) in all */
  int64_t chunk_rows; /* input rows per chunk */
  int64_t chunks;
  int64_t ldb;   /* packed input row: a chunk's positions, whole tiles, unaliased */
  int64_t kc;    /* input channels per slice of the reduction */
  int64_t unit;  /* output channels per task */
  int64_t units; /* per group */
  bool exact;    /* patch_exact: else the patches overlap, and chunks are whole samples */
} patch_dims;

static patch_dims patch_dims_of(const cvt_geometry *g, const cvt_brgemm_config *cfg) {
  patch_dims d;
  const int64_t mr = (int64_t)cfg->mr_max, nr = (int64_t)cfg->nr, w = g->in[2];
  d.taps = patch_taps(g);
  d.cols = g->cout_g * d.taps;
  d.rows = g->n * g->in[0] * g->in[1];
  /* Whole channels whose columns are whole blocks of mr (but the group's last), at least
   * PATCH_UNIT_COLUMNS of them: multiples of mr / gcd(K, mr) channels. */
  int64_t a = d.taps, b = mr;
  while (b) {
    const int64_t r = a % b;
    a = b, b = r;
  }
  const int64_t base = max64(1, mr / max64(1, a)), cols = max64(1, base * d.taps);
  d.unit = min64(g->cout_g, base * max64(1, PATCH_UNIT_COLUMNS / cols));
  d.units = ceil_div(g->cout_g, d.unit);
  /* As few chunks as keep a chunk's packed input and a task's columns within their
   * budgets (at least one row: planes of 16 positions or fewer, patch_prefers), the rows
   * dealt evenly among them. */
  const int64_t row_in = g->cin_g * w * (int64_t)sizeof(float);
  const int64_t row_out = d.unit * d.taps * w * (int64_t)sizeof(float);
  const int64_t fit = max64(1, min64(PATCH_B_BUDGET / row_in, PATCH_C_BUDGET / row_out));
  d.exact = patch_exact(g);
  if (d.exact) {
    d.chunks = ceil_div(d.rows, fit);
    d.chunk_rows = ceil_div(d.rows, d.chunks);
  } else { /* whole samples: no two chunks reach the same outputs */
    const int64_t per = sample_rows(g), samples = max64(1, fit / per);
    d.chunks = ceil_div(g->n, samples);
    d.chunk_rows = ceil_div(g->n, d.chunks) * per;
  }
  d.ldb = ceil_div(d.chunk_rows * w, nr) * nr;
  if (d.ldb > 256) d.ldb = unaliased_stride(d.ldb, sizeof(float));
  d.kc = max64(1, min64(g->cin_g, PATCH_L1_BUDGET / (nr * (int64_t)sizeof(float))));
  return d;
}

const cvt_brgemm_config *cvt_patch_pick_kernel(const cvt_geometry *g,
                                               const cvt_brgemm_config *tiles, size_t count) {
  /* The positions-in-lanes tile with the fewest estimated cycles: the lanes it covers
   * (a chunk's positions rounded up to its tiles), at a cost per lane that falls with its
   * accumulators (fewer loads per FMA, and under 8 it cannot hide the FMA latency); of
   * equals, the first. */
  if (!cvt_patch_prefers(g)) return NULL;
  const cvt_brgemm_config *best = NULL;
  double best_cost = 0;
  for (size_t i = 0; i < count; i++) {
    if (tiles[i].vec_m != 1) continue;
    const patch_dims d = patch_dims_of(g, &tiles[i]);
    const int64_t nr = (int64_t)tiles[i].nr, per = d.chunk_rows * g->in[2];
    const int64_t last = (d.rows - (d.chunks - 1) * d.chunk_rows) * g->in[2];
    const int64_t lanes = (d.chunks - 1) * ceil_div(per, nr) * nr + ceil_div(last, nr) * nr;
    const double a = (double)tiles[i].mr_max, b = (double)nr / (double)tiles[i].vec_n;
    const double acc = a * b;
    const double cost = (double)lanes * (1.0 + (a + b) / acc) * (acc < 8 ? 8.0 / acc : 1.0);
    if (!best || cost < best_cost) best = &tiles[i], best_cost = cost;
  }
  return best;
}

size_t cvt_patch_packed_weight_bytes(const cvt_geometry *g) {
  /* the tiles read A rows a whole vector past mr values: a line of slack */
  return ((size_t)g->weight_numel + 16) * sizeof(float);
}

/* Offset of the packed weights of block k0 (a column of the unit) in the slice of input
 * channels from ci0 (kc of them), for the unit at column c0 of group grp: a group's units
 * one after the other, each in the order its tasks read it (slice by slice, each slice
 * block by block, [ci][column] within a block), so that the weights stream in order. */
static int64_t packed_offset(const cvt_geometry *g, const patch_dims *d, int64_t grp, int64_t c0,
                             int64_t ncols, int64_t ci0, int64_t kc, int64_t k0) {
  return grp * g->cin_g * d->cols + c0 * g->cin_g + ci0 * ncols + kc * k0;
}

void cvt_patch_pack_weights(const cvt_geometry *g, const cvt_brgemm_config *cfg, const void *weight,
                            void *packed, int num_threads) {
  const patch_dims d = patch_dims_of(g, cfg);
  const int64_t mr = (int64_t)cfg->mr_max;
  const float *w = weight;
  float *p = packed;
  memset(p + g->weight_numel, 0, 16 * sizeof *p);
  (void)num_threads; /* unused without OpenMP */
#pragma omp parallel for schedule(static) num_threads(num_threads) if (num_threads > 1)
  for (int64_t gu = 0; gu < g->groups * d.units; gu++) {
    const int64_t grp = gu / d.units, c0 = gu % d.units * d.unit * d.taps;
    const int64_t ncols = min64(d.unit * d.taps, d.cols - c0);
    for (int64_t ci0 = 0; ci0 < g->cin_g; ci0 += d.kc) {
      const int64_t kc = min64(d.kc, g->cin_g - ci0);
      for (int64_t k0 = 0; k0 < ncols; k0 += mr) {
        const int64_t m = min64(mr, ncols - k0);
        const float *src = w + (grp * g->cin_g + ci0) * d.cols + c0 + k0;
        float *dst = p + packed_offset(g, &d, grp, c0, ncols, ci0, kc, k0);
        for (int64_t ci = 0; ci < kc; ci++, src += d.cols, dst += m)
          memcpy(dst, src, (size_t)m * sizeof *dst);
      }
    }
  }
}

size_t cvt_patch_workspace_bytes(const cvt_geometry *g, const cvt_brgemm_config *cfg) {
  const patch_dims d = patch_dims_of(g, cfg);
  /* a chunk's packed input, then one task's columns */
  return align64((size_t)(g->cin_g * d.ldb) * sizeof(float)) +
         (size_t)(d.unit * d.taps * d.ldb) * sizeof(float);
}

/* Input channels [grp*Cin_g, (grp + 1)*Cin_g) of input rows [r0, r0 + nrows), as
 * b[ci*ldb + position], zero past the positions up to ldb. */
static void pack_chunk(const cvt_geometry *g, const patch_dims *d, const float *x, int64_t grp,
                       int64_t r0, int64_t nrows, float *b) {
  const int64_t w = g->in[2], plane_rows = g->in[0] * g->in[1], plane = plane_rows * w;
  for (int64_t ci = 0; ci < g->cin_g; ci++) {
    float *dst = b + ci * d->ldb;
    for (int64_t r = r0; r < r0 + nrows;) { /* a run of rows within one sample */
      const int64_t n = r / plane_rows, in_plane = r % plane_rows;
      const int64_t run = min64(r0 + nrows - r, plane_rows - in_plane);
      const float *src = x + (n * g->cin + grp * g->cin_g + ci) * plane + in_plane * w;
      memcpy(dst, src, (size_t)(run * w) * sizeof *dst);
      dst += run * w, r += run;
    }
    memset(dst, 0, (size_t)(b + (ci + 1) * d->ldb - dst) * sizeof *dst);
  }
}

/* Channel co of the task's columns c (ldc apart, (co, t) with t = (kd, kh, kw)) to its
 * patches of output channel yc, for input rows [r0, r0 + nrows). */
static void write_patches(const cvt_geometry *g, const float *c, int64_t ldc, int64_t r0,
                          int64_t nrows, float *y, int64_t oc) {
  const int64_t w = g->in[2], kw = g->k[2], plane_rows = g->in[0] * g->in[1];
  const int64_t ow = g->out[2], oplane = g->out[0] * g->out[1] * ow;
  for (int64_t r = r0; r < r0 + nrows; r++) {
    const int64_t n = r / plane_rows, dd = r % plane_rows / g->in[1], h = r % g->in[1];
    float *yc = y + (n * g->cout + oc) * oplane;
    const float *src = c + (r - r0) * w;
    for (int64_t kd = 0; kd < g->k[0]; kd++)
      for (int64_t kh = 0; kh < g->k[1]; kh++) {
        float *row = yc + ((dd * g->stride[0] + kd) * g->out[1] + h * g->stride[1] + kh) * ow;
        const float *s0 = src + ((kd * g->k[1] + kh) * kw) * ldc; /* tap (kd, kh, 0) */
        if (kw == 1) {
          memcpy(row, s0, (size_t)w * sizeof *row);
        } else if (kw == 2) { /* interleave; vectorises */
          const float *s1 = s0 + ldc;
          for (int64_t j = 0; j < w; j++) {
            row[2 * j] = s0[j];
            row[2 * j + 1] = s1[j];
          }
        } else {
          for (int64_t t = 0; t < kw; t++) /* w == 1 or kw == sW: ow = j*kw + t */
            for (int64_t j = 0; j < w; j++)
              row[j * kw + t] = s0[t * ldc + j];
        }
      }
  }
}

/* Overlapping patches: per (kh, kw), each input plane position's output plane offset,
 * at[(kh*kW + kw)*H*W + h*W + w] = (h*sH + kh*dH)*oW + w*sW + kw*dW. Once per thread and
 * execute: kH*kW <= PATCH_MAX_TAPS entries of H*W <= 16 (cvt_patch_prefers). */
#define PATCH_TABLE (PATCH_MAX_TAPS * 16)
static void patch_offsets(const cvt_geometry *g, int64_t *at) {
  const int64_t hw = g->in[1] * g->in[2];
  for (int64_t t = 0; t < g->k[1] * g->k[2]; t++)
    for (int64_t i = 0; i < hw; i++) {
      const int64_t oh = i / g->in[2] * g->stride[1] + t / g->k[2] * g->dil[1];
      const int64_t o = i % g->in[2] * g->stride[2] + t % g->k[2] * g->dil[2];
      at[t * hw + i] = oh * g->out[2] + o;
    }
}

/* Overlapping patches (no padding: every tap of every input voxel lands in the output):
 * channel co of the task's columns c added to output channel oc, for input rows [r0, r0 +
 * nrows) of whole samples. Input (d, h, w) and tap (kd, kh, kw) reach output (d*sD +
 * kd*dD, h*sH + kh*dH, w*sW + kw*dW): per tap, input plane after input plane, one run of
 * C added through the offsets `at` (patch_offsets). */
static void add_patches(const cvt_geometry *g, const int64_t *at, const float *c, int64_t ldc,
                        int64_t r0, int64_t nrows, float *y, int64_t oc) {
  const int64_t hw = g->in[1] * g->in[2], kk = g->k[1] * g->k[2];
  const int64_t oplane = g->out[0] * g->out[1] * g->out[2];
  const int64_t planes0 = r0 / g->in[1], planes = nrows / g->in[1]; /* input rows: (n, d, h) */
  for (int64_t kd = 0; kd < g->k[0]; kd++)
    for (int64_t q = planes0; q < planes0 + planes; q++) {
      const int64_t n = q / g->in[0], od = q % g->in[0] * g->stride[0] + kd * g->dil[0];
      float *dst = y + (n * g->cout + oc) * oplane + od * g->out[1] * g->out[2];
      const float *src = c + kd * kk * ldc + (q - planes0) * hw;
      for (int64_t t = 0; t < kk; t++, src += ldc)
        for (int64_t i = 0; i < hw; i++) dst[at[t * hw + i]] += src[i];
    }
}

/* Output channels [c0, c0 + nc) of the samples of input rows [r0, r0 + nrows) set to
 * their bias (or 0), before overlapping patches are added. */
static void fill_bias(const cvt_geometry *g, const float *bias, int64_t r0, int64_t nrows,
                      int64_t c0, int64_t nc, float *y) {
  const int64_t per = sample_rows(g), oplane = g->out[0] * g->out[1] * g->out[2];
  for (int64_t n = r0 / per; n < (r0 + nrows) / per; n++)
    for (int64_t co = c0; co < c0 + nc; co++) {
      const float v = bias ? bias[co] : 0.0f;
      float *dst = y + (n * g->cout + co) * oplane;
      for (int64_t i = 0; i < oplane; i++) dst[i] = v;
    }
}

void cvt_patch_forward(const cvt_exec *e, const void *input, void *output) {
  const cvt_geometry *g = e->geo;
  const cvt_brgemm_config *cfg = e->brgemm;
  const patch_dims d = patch_dims_of(g, cfg);
  const int64_t mr = (int64_t)cfg->mr_max, nr = (int64_t)cfg->nr, w = g->in[2];
  const int64_t per_chunk = d.units * g->groups, tasks = d.chunks * per_chunk;
  const float *x = input, *wp = e->weight, *bias = e->bias;
  float *y = output;
  (void)e->num_threads; /* unused without OpenMP */
#pragma omp parallel num_threads(e->num_threads) if (e->num_threads > 1)
  {
    const int tid = cvt_thread_num();
    float *b = (float *)e->workspace + (size_t)tid * (e->workspace_per_thread / sizeof(float));
    float *c = b + align64((size_t)(g->cin_g * d.ldb) * sizeof(float)) / sizeof(float);
    int64_t packed = -1; /* the (chunk, group) in b */
    int64_t at[PATCH_TABLE];
    if (!d.exact) patch_offsets(g, at);
#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; task++) {
      const int64_t chunk = task / per_chunk, grp = task % per_chunk / d.units;
      const int64_t co0 = task % d.units * d.unit, nco = min64(d.unit, g->cout_g - co0);
      const int64_t r0 = chunk * d.chunk_rows, nrows = min64(d.chunk_rows, d.rows - r0);
      const int64_t positions = nrows * w;
      if (packed != chunk * g->groups + grp) {
        pack_chunk(g, &d, x, grp, r0, nrows, b);
        packed = chunk * g->groups + grp;
      }
      const int64_t c0 = co0 * d.taps, ncols = nco * d.taps;
      const int64_t lanes = ceil_div(positions, nr) * nr; /* what the tiles read */
      /* every column starts from its bias, or with overlapping patches from 0 (their
       * outputs start from the bias) */
      if (!d.exact) fill_bias(g, bias, r0, nrows, grp * g->cout_g + co0, nco, y);
      for (int64_t i = 0; i < ncols; i++) {
        const float v = bias && d.exact ? bias[grp * g->cout_g + co0 + i / d.taps] : 0.0f;
        float *ci = c + i * d.ldb;
        for (int64_t j = 0; j < lanes; j++)
          ci[j] = v;
      }
      /* Per tile of positions, input channels in slices of kc, whose rows of the tile
       * stay in L1 while every block of the task's columns reads them. */
      for (int64_t j0 = 0; j0 < positions; j0 += nr)
        for (int64_t ci0 = 0; ci0 < g->cin_g; ci0 += d.kc) {
          const int64_t kc = min64(d.kc, g->cin_g - ci0);
          const float *bj = b + ci0 * d.ldb + j0;
          for (int64_t k0 = 0; k0 < ncols; k0 += mr) { /* blocks of mr columns */
            const int64_t m = min64(mr, ncols - k0);
            const float *a = wp + packed_offset(g, &d, grp, c0, ncols, ci0, kc, k0);
            /* the weights stream in order: fetch two blocks ahead (within the packing) */
            if (ci0 + kc < g->cin_g || k0 + 2 * mr < ncols)
              for (int64_t l = 0; l < kc * m; l += 16)
                __builtin_prefetch(a + 2 * kc * mr + l, 0, 3);
            cfg->fn.f32((size_t)m, 1, (size_t)kc, &a, &bj, (size_t)d.ldb, c + k0 * d.ldb + j0,
                        (size_t)d.ldb);
          }
        }
      for (int64_t co = 0; co < nco; co++) {
        const float *cc = c + co * d.taps * d.ldb;
        if (d.exact)
          write_patches(g, cc, d.ldb, r0, nrows, y, grp * g->cout_g + co0 + co);
        else
          add_patches(g, at, cc, d.ldb, r0, nrows, y, grp * g->cout_g + co0 + co);
      }
    }
  }
}
