/* The phase algorithm's one-voxel cut: an input of a single voxel per sample and channel
 * (D = H = W = 1), with no padding, dilation or output padding. The output is then the
 * kernel's extent, and output position o receives exactly one tap, k = o: every output is
 * one dot product, and each group is one GEMM
 *
 *     y[n, g*Cout_g + co, k] = bias[g*Cout_g + co] + sum over ci of
 *                              x[n, g*Cin_g + ci] * w[g*Cin_g + ci, co, k]
 *
 * over the columns (co, k), co slowest: K = kD*kH*kW columns per channel, which is both
 * the weight's row layout and the output's. (3D-GAN's first layer projects a 200-vector to
 * 512 x 4^3: 26 MB of weights read once for a batch of two, so it is bound by reading the
 * weights.) The phase algorithm proper would split this into 2x2x2 stride phases of 2x2x2
 * taps each, pack every sample's input plane apart, and for each height row apply weights
 * whose tap lands outside the voxel: reading the weights several times, mostly to multiply
 * zeros.
 *
 * Here the weights are packed at plan time per group in blocks of 64 columns, [block][ci]
 * [64] (the last block of a group narrower), so one block is a single contiguous run of
 * Cin_g rows; the input is transposed per thread to [ci][sample] in chunks of nr samples.
 * One call of the channels-in-lanes tile (64 columns by nr samples, its channels-last
 * entry: the output rows y[n] are its C rows) computes a block for nr samples over all
 * Cin_g input channels, onto the bias already in y. Tasks are (group, block), split
 * statically; each output is one call's sum in ci order plus the bias, whatever the thread
 * count. AVX-512 float32 only (the one tile set with a channels-last entry); other
 * instruction sets and float64 keep the phase algorithm. */
#include <string.h>

#include "../internal.h"
#include "arith.h"
#include "threads.h"
#include "ukernel.h"

/* Columns per packed block: the tile's mr_max. */
#define VOXEL_BLOCK 64
/* Samples at most per tile call: the widest channels-in-lanes tile. */
#define VOXEL_MAX_NR 6
/* Bytes per thread of the transposed input: the samples transposed at once, so that
 * every block of weights is read once per this many samples. */
#define VOXEL_X_BUDGET (INT64_C(256) * 1024)

/* The geometry qualifies, whatever the micro-kernel. */
static bool voxel_shape(const cvt_geometry *g) {
  if (g->dtype != CONVT3D_F32 || g->n < 1 || g->phase_tiles) return false;
  for (int a = 0; a < 3; a++)
    if (g->in[a] != 1 || g->pad[a] != 0 || g->dil[a] != 1 || g->out_pad[a] != 0) return false;
  return true;
}

bool cvt_voxel_applies(const cvt_geometry *g, const cvt_brgemm_config *cfg) {
  return voxel_shape(g) && cfg->f32_cl && cfg->vec_m > 1 && cfg->mr_max == VOXEL_BLOCK;
}

const cvt_brgemm_config *cvt_voxel_pick_kernel(const cvt_geometry *g,
                                               const cvt_brgemm_config *tiles, size_t count) {
  /* As many samples per call as there are, up to the widest tile: each block of weights
   * is then read from memory once, and from L1 or L2 for the next chunks. */
  if (!voxel_shape(g)) return NULL;
  const size_t nr = (size_t)min64(g->n, VOXEL_MAX_NR);
  for (size_t i = 0; i < count; i++)
    if (tiles[i].f32_cl && tiles[i].mr_max == VOXEL_BLOCK && tiles[i].nr == nr)
      return &tiles[i];
  return NULL;
}

/* Samples transposed at once: whole chunks of nr, within the budget, at least one chunk. */
static int64_t span_samples(const cvt_geometry *g, int64_t nr) {
  int64_t chunks = VOXEL_X_BUDGET / (g->cin * nr * (int64_t)sizeof(float));
  chunks = chunks < 1 ? 1 : min64(chunks, ceil_div(g->n, nr));
  return chunks * nr;
}

size_t cvt_voxel_packed_weight_bytes(const cvt_geometry *g) {
  /* the tile loads its last vector of a narrow block whole: a vector of slack */
  return ((size_t)g->weight_numel + VOXEL_BLOCK) * sizeof(float);
}

void cvt_voxel_pack_weights(const cvt_geometry *g, const void *weight, void *packed,
                            int num_threads) {
  const int64_t cols = g->cout_g * g->k[0] * g->k[1] * g->k[2];
  const int64_t blocks = ceil_div(cols, VOXEL_BLOCK);
  const float *w = weight;
  float *p = packed;
  memset(p + g->weight_numel, 0, VOXEL_BLOCK * sizeof *p);
  (void)num_threads; /* unused without OpenMP */
#pragma omp parallel for schedule(static) num_threads(num_threads) if (num_threads > 1)
  for (int64_t gb = 0; gb < g->groups * blocks; gb++) {
    const int64_t grp = gb / blocks, c0 = gb % blocks * VOXEL_BLOCK;
    const int64_t width = min64(cols - c0, VOXEL_BLOCK);
    const float *src = w + grp * g->cin_g * cols + c0;
    float *dst = p + grp * g->cin_g * cols + c0 * g->cin_g;
    for (int64_t ci = 0; ci < g->cin_g; ci++, src += cols, dst += width)
      memcpy(dst, src, (size_t)width * sizeof *dst);
  }
}

size_t cvt_voxel_workspace_bytes(const cvt_geometry *g, const cvt_brgemm_config *cfg) {
  const int64_t nr = (int64_t)cfg->nr;
  /* the transposed input, then one tile's rows for a chunk of fewer than nr samples */
  return align64((size_t)(g->cin * span_samples(g, nr)) * sizeof(float)) +
         (size_t)(nr * VOXEL_BLOCK) * sizeof(float);
}

/* Rows j < rows of C (ldc apart) over columns [c0, c0 + width) of a group: its bias, by
 * channel co = column / K, or zero. */
static void fill_bias(const float *bias, int64_t k, int64_t c0, int64_t width, int64_t rows,
                      float *c, int64_t ldc) {
  for (int64_t j = 0; j < rows; j++) {
    float *row = c + j * ldc;
    if (!bias) {
      memset(row, 0, (size_t)width * sizeof *row);
      continue;
    }
    int64_t co = c0 / k, t = c0 % k;
    for (int64_t i = 0; i < width; i++) {
      row[i] = bias[co];
      if (++t == k) t = 0, co++;
    }
  }
}

void cvt_voxel_forward(const cvt_exec *e, const void *input, void *output) {
  const cvt_geometry *g = e->geo;
  const cvt_brgemm_config *cfg = e->brgemm;
  const int64_t k = g->k[0] * g->k[1] * g->k[2], cols = g->cout_g * k;
  const int64_t blocks = ceil_div(cols, VOXEL_BLOCK), tasks = g->groups * blocks;
  const int64_t nr = (int64_t)cfg->nr, span = span_samples(g, nr);
  const int64_t ystride = g->cout * k; /* between samples of y */
  const float *x = input, *w = e->weight, *bias = e->bias;
  float *y = output;
  (void)e->num_threads; /* unused without OpenMP */
#pragma omp parallel num_threads(e->num_threads) if (e->num_threads > 1)
  {
    const int tid = cvt_thread_num();
    /* [chunk][ci][nr]: the span's samples, all channels; then the short chunk's tile
     * (the plan rounds the slices to 64 bytes) */
    float *xt = (float *)e->workspace + (size_t)tid * (e->workspace_per_thread / sizeof(float));
    float *tail = xt + align64((size_t)(g->cin * span) * sizeof(float)) / sizeof(float);
    for (int64_t n0 = 0; n0 < g->n; n0 += span) {
      const int64_t ns = min64(span, g->n - n0), chunks = ceil_div(ns, nr);
      /* every thread transposes the span itself: Cin*span elements against its share of
       * Cin*span*columns multiply-adds, and no barrier */
      for (int64_t ch = 0; ch < chunks; ch++)
        for (int64_t ci = 0; ci < g->cin; ci++)
          for (int64_t j = 0; j < nr; j++) {
            const int64_t n = n0 + ch * nr + j;
            xt[(ch * g->cin + ci) * nr + j] = n < g->n ? x[n * g->cin + ci] : 0.0f;
          }
#pragma omp for schedule(static) nowait
      for (int64_t task = 0; task < tasks; task++) {
        const int64_t grp = task / blocks, c0 = task % blocks * VOXEL_BLOCK;
        const int64_t width = min64(cols - c0, VOXEL_BLOCK);
        const float *a = w + grp * g->cin_g * cols + c0 * g->cin_g;
        const float *gbias = bias ? bias + grp * g->cout_g : NULL;
        for (int64_t ch = 0; ch < chunks; ch++) {
          const int64_t rows = min64(nr, ns - ch * nr);
          const float *b = xt + (ch * g->cin + grp * g->cin_g) * nr;
          float *yc = y + (n0 + ch * nr) * ystride + grp * cols + c0;
          /* a short last chunk goes through a tile of its own: C has nr rows */
          float *c = rows == nr ? yc : tail;
          const int64_t ldc = rows == nr ? ystride : VOXEL_BLOCK;
          fill_bias(gbias, k, c0, width, rows == nr ? rows : nr, c, ldc);
          cfg->f32_cl((size_t)width, 1, (size_t)g->cin_g, &a, &b, (size_t)nr, c,
                      (size_t)ldc);
          for (int64_t j = 0; rows < nr && j < rows; j++)
            memcpy(yc + j * ystride, tail + j * VOXEL_BLOCK, (size_t)width * sizeof *yc);
        }
      }
    }
  }
}
