/* The phase algorithm's pointwise cut: kernel 1 and stride 1 on every axis, no padding,
 * and few output channels per group (MedNeXt's head: 32 -> 13 on 128^3). Each output is
 * then one dot product over the input channels of its group at its own position,
 *
 *     y[n, g*Cout_g + co, p] = bias[g*Cout_g + co] + sum over ci of
 *                              w[g*Cin_g + ci, co] * x[n, g*Cin_g + ci, p],
 *
 * and the layer is bound by reading x and writing y (4 (Cin + Cout) bytes per position
 * against 2 Cin Cout FLOPs). The phase algorithm proper packs each channel's rows into a
 * buffer, accumulates tiles of 6 output channels (13 = 6 + 6 + 1: a third of the last
 * tile's lanes idle) into another, and copies them out: two passes more through the
 * caches for each byte the layer must move. Here one call of the pointwise tile
 * (avx512/f32_pointwise_avx512.c) keeps all of a group's output channels in registers
 * over a run of positions, reads every input channel in place and writes each output
 * once, streamed past the caches when the output is larger than they are (stream.h).
 *
 * The weights are the layer's own ([ci][co] per group: PyTorch's layout with kernel 1).
 * Tasks are (sample, group, run of PW_RUN positions), split statically; each output is
 * one call's sum, ci ascending from the bias, whatever the thread count. AVX-512 float32
 * only; other instruction sets and float64 keep the phase algorithm. */
#include <string.h>

#include "../internal.h"
#include "arith.h"
#include "stream.h"
#include "ukernel.h"

/* Positions per task: whole 64-byte lines of every output row where the rows start on
 * one, and few enough tasks per sample to balance two threads on small volumes. */
#define PW_RUN INT64_C(4096)

/* Input channels per group at most: every channel's row is one stream read in step, and
 * the tile's prefetches keep up with that many (measured 8-64). */
#define PW_MAX_CIN 64

/* Positions (all samples and groups) at least: smaller layers take the phase algorithm,
 * whose finer tasks keep two threads busy (64 -> 8 on 8^3, 0.02 ms, took 0.73x / 0.92x
 * its time here at 1 / 2 threads). */
#define PW_MIN_POSITIONS (4 * PW_RUN)

/* The geometry is pointwise (kernel 1, stride 1, no padding) and large enough, with
 * `outputs` channels per group held in registers and `reduction` read per output,
 * whatever the micro-kernel. */
static bool pointwise_shape(const cvt_geometry *g, int64_t outputs, int64_t reduction) {
  if (g->dtype != CONVT3D_F32 || g->n < 1 || g->phase_tiles) return false;
  if (outputs < 1 || outputs > CVT_POINTWISE_MAX_M || reduction < 1 || reduction > PW_MAX_CIN)
    return false;
  for (int a = 0; a < 3; a++) /* out_pad < max(stride, dilation) = 1: 0 */
    if (g->k[a] != 1 || g->stride[a] != 1 || g->pad[a] != 0) return false;
  /* the input's elements over a group's channels: samples x groups x positions */
  return g->input_numel / g->cin_g >= PW_MIN_POSITIONS;
}

bool cvt_pointwise_applies(const cvt_geometry *g, const cvt_brgemm_config *cfg) {
  return pointwise_shape(g, g->cout_g, g->cin_g) && cfg->f32_pointwise;
}

const cvt_brgemm_config *cvt_pointwise_pick_kernel(const cvt_geometry *g,
                                                   const cvt_brgemm_config *tiles,
                                                   size_t count) {
  if (!pointwise_shape(g, g->cout_g, g->cin_g)) return NULL;
  for (size_t i = 0; i < count; i++)
    if (tiles[i].f32_pointwise) return &tiles[i];
  return NULL;
}

size_t cvt_pointwise_packed_weight_bytes(const cvt_geometry *g) {
  return (size_t)g->weight_numel * sizeof(float);
}

void cvt_pointwise_pack_weights(const cvt_geometry *g, const void *weight, void *packed) {
  memcpy(packed, weight, (size_t)g->weight_numel * sizeof(float));
}

void cvt_pointwise_forward(const cvt_exec *e, const void *input, void *output) {
  const cvt_geometry *g = e->geo;
  const int64_t positions = g->in[0] * g->in[1] * g->in[2]; /* = the output's */
  const int64_t runs = ceil_div(positions, PW_RUN), tasks = g->n * g->groups * runs;
  const float *x = input, *w = e->weight;
  float *y = output;
  /* Streamed outputs need every row on a 64-byte line: the runs start on one where the
   * output does and each row (one plane) is a whole number of lines. */
  const int stream = (size_t)g->output_numel * sizeof(float) > (size_t)CVT_STREAM_BYTES &&
                     (uintptr_t)y % 64 == 0 && positions % 16 == 0;
  (void)e->num_threads; /* unused without OpenMP */
#pragma omp parallel num_threads(e->num_threads) if (e->num_threads > 1)
  {
    float zeros[CVT_POINTWISE_MAX_M] = {0};
#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; task++) {
      const int64_t run = task % runs, ng = task / runs, n = ng / g->groups, grp = ng % g->groups;
      const int64_t p0 = run * PW_RUN, np = min64(PW_RUN, positions - p0);
      const float *bias = e->bias ? (const float *)e->bias + grp * g->cout_g : zeros;
      e->brgemm->f32_pointwise((size_t)g->cout_g, (size_t)g->cin_g,
                               w + grp * g->cin_g * g->cout_g, bias,
                               x + (n * g->cin + grp * g->cin_g) * positions + p0,
                               (size_t)positions, (size_t)np,
                               y + (n * g->cout + grp * g->cout_g) * positions + p0,
                               (size_t)positions, stream);
    }
    if (stream) CVT_STREAM_FENCE();
  }
}

/* grad_input (and conv3d) of a pointwise layer is a pointwise layer too, the other way:
 *
 *     gx[n, g*Cin_g + ci, p] = sum over co of w[g*Cin_g + ci, co] * gy[n, g*Cout_g + co, p]
 *
 * (plus conv3d's bias), a reduction over the Cout_g channels of grad_output for each of
 * Cin_g outputs. The same tile takes it in passes of up to CVT_POINTWISE_MAX_M channels
 * (as even as they divide: 32 = 11 + 11 + 10), each pass over the task's run of
 * positions: the first reads grad_output's rows from memory, the others from L2 (a run of
 * 4096 positions is 16 KB per channel), and every grad_input row is written once.
 * MedNeXt's head (13 -> 32) was otherwise packed, summed into a tile buffer and copied
 * out, at 0.54x oneDNN's time. */

/* Input channels (grad_input's, outputs here) per group at most: the passes re-read the
 * run's grad_output from L2, and many outputs per position make the layer compute-bound,
 * where the backward-data tiles do better (measured: see docs/algorithm.md). */
#define PW_BWD_MAX_OUT 64

bool cvt_pointwise_bwd_data_applies(const cvt_geometry *g, const cvt_brgemm_config *cfg) {
  return pointwise_shape(g, 1, g->cout_g) && g->cin_g <= PW_BWD_MAX_OUT && cfg->f32_pointwise;
}

/* The channels per pass: at most CVT_POINTWISE_MAX_M, as few passes as that allows. */
static int64_t bwd_pass_width(const cvt_geometry *g) {
  return ceil_div(g->cin_g, ceil_div(g->cin_g, CVT_POINTWISE_MAX_M));
}

/* Per group and pass, the [co][m] panel of the pass's m channels (the tile's w), one
 * after another: the panel of channel ci0 starts at ci0 * Cout_g, as many floats as the
 * weight has. */
void cvt_pointwise_bwd_data_pack_weights(const cvt_geometry *g, const void *weight,
                                         void *packed) {
  const float *w = weight;
  float *dst = packed;
  const int64_t mp = bwd_pass_width(g);
  for (int64_t grp = 0; grp < g->groups; grp++)
    for (int64_t c0 = 0; c0 < g->cin_g; c0 += mp) {
      const int64_t ci0 = grp * g->cin_g + c0, m = min64(mp, g->cin_g - c0);
      for (int64_t co = 0; co < g->cout_g; co++)
        for (int64_t c = 0; c < m; c++) *dst++ = w[(ci0 + c) * g->cout_g + co];
    }
}

void cvt_pointwise_bwd_data(const cvt_exec *e, const void *grad_output, void *grad_input) {
  const cvt_geometry *g = e->geo;
  const int64_t positions = g->in[0] * g->in[1] * g->in[2];
  const int64_t runs = ceil_div(positions, PW_RUN), tasks = g->n * g->groups * runs;
  const int64_t mp = bwd_pass_width(g);
  const float *gy = grad_output, *w = e->weight;
  float *gx = grad_input;
  const int stream = (size_t)g->input_numel * sizeof(float) > (size_t)CVT_STREAM_BYTES &&
                     (uintptr_t)gx % 64 == 0 && positions % 16 == 0;
  (void)e->num_threads; /* unused without OpenMP */
#pragma omp parallel num_threads(e->num_threads) if (e->num_threads > 1)
  {
    float zeros[CVT_POINTWISE_MAX_M] = {0};
#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; task++) {
      const int64_t run = task % runs, ng = task / runs, n = ng / g->groups, grp = ng % g->groups;
      const int64_t p0 = run * PW_RUN, np = min64(PW_RUN, positions - p0);
      for (int64_t c0 = 0; c0 < g->cin_g; c0 += mp) {
        const int64_t ci0 = grp * g->cin_g + c0, m = min64(mp, g->cin_g - c0);
        const float *bias = e->bias ? (const float *)e->bias + ci0 : zeros;
        e->brgemm->f32_pointwise((size_t)m, (size_t)g->cout_g, w + ci0 * g->cout_g, bias,
                                 gy + (n * g->cout + grp * g->cout_g) * positions + p0,
                                 (size_t)positions, (size_t)np,
                                 gx + (n * g->cin + ci0) * positions + p0, (size_t)positions,
                                 stream);
      }
    }
    if (stream) CVT_STREAM_FENCE();
  }
}
