/* The phase algorithm's pointwise cut: kernel 1 and stride 1 on every axis, no padding,
 * and at most 64 channels per group on each side (MedNeXt's head: 32 -> 13 on 128^3).
 * Each output is then one dot product over the input channels of its group at its own
 * position,
 *
 *     y[n, g*Cout_g + co, p] = bias[g*Cout_g + co] + sum over ci of
 *                              w[g*Cin_g + ci, co] * x[n, g*Cin_g + ci, p],
 *
 * and with few channels the layer is bound by reading x and writing y (4 (Cin + Cout)
 * bytes per position against 2 Cin Cout FLOPs). The phase algorithm proper packs each
 * channel's rows into a buffer, accumulates tiles of 6 output channels (13 = 6 + 6 + 1: a
 * third of the last tile's lanes idle) into another, and copies them out: two passes more
 * through the caches for each byte the layer must move. Here one call of the pointwise
 * tile (avx512/f32_pointwise_avx512.c) keeps up to 14 output channels in registers over a
 * run of positions, reads every input channel in place and writes each output once,
 * streamed past the caches when the output is larger than they are (stream.h). More
 * output channels go in passes of up to 14 over the same run (15-64: 1.5-2.9x the phase
 * tiles' speed, docs/algorithm.md), the later passes reading the run's input from L2.
 *
 * Tasks are (sample, group, run of positions), split statically; each output is one
 * call's sum, ci ascending from the bias, whatever the thread count. AVX-512 float32
 * only; other instruction sets and float64 keep the phase algorithm. */

#include "../internal.h"
#include "arith.h"
#include "stream.h"
#include "ukernel.h"

/* Positions per task: whole 64-byte lines of every output row where the rows start on
 * one, and few enough tasks per sample to balance two threads on small volumes. */
#define PW_RUN INT64_C(4096)

/* Channels per group at most on either side: every channel of the reduction is one stream
 * read in step, and the tile's prefetches keep up with that many (measured 8-64); past 14
 * outputs the tile takes them in passes (below). */
#define PW_MAX_CHANNELS 64

/* Positions (all samples and groups) at least: smaller layers take the phase algorithm,
 * whose finer tasks keep two threads busy (64 -> 8 on 8^3, 0.02 ms, took 0.73x / 0.92x
 * its time here at 1 / 2 threads). */
#define PW_MIN_POSITIONS (4 * PW_RUN)

/* With several passes, the run of the reduction's rows that the later passes re-read
 * stays within this many bytes (L2 holds it beside the outputs' lines). */
#define PW_PASS_BYTES (INT64_C(256) * 1024)

/* The geometry is pointwise (kernel 1, stride 1, no padding) and large enough, with
 * `outputs` channels per group to compute and `reduction` read per output, whatever the
 * micro-kernel. */
static bool pointwise_shape(const cvt_geometry *g, int64_t outputs, int64_t reduction) {
  if (g->dtype != CONVT3D_F32 || g->n < 1 || g->phase_tiles) return false;
  if (outputs < 1 || outputs > PW_MAX_CHANNELS || reduction < 1 || reduction > PW_MAX_CHANNELS)
    return false;
  for (int a = 0; a < 3; a++) /* out_pad < max(stride, dilation) = 1: 0 */
    if (g->k[a] != 1 || g->stride[a] != 1 || g->pad[a] != 0) return false;
  /* the input's elements over a group's channels: samples x groups x positions */
  return g->input_numel / g->cin_g >= PW_MIN_POSITIONS;
}

/* The channels per pass: at most CVT_POINTWISE_MAX_M, as few passes as that allows, as
 * even as they divide (32 = 11 + 11 + 10). */
static int64_t pass_width(int64_t outputs) {
  return ceil_div(outputs, ceil_div(outputs, CVT_POINTWISE_MAX_M));
}

/* Positions per task: PW_RUN, or with several passes fewer, in whole lines, so that the
 * run of the reduction's rows stays within PW_PASS_BYTES (at least 1024 positions: the
 * reduction is at most PW_MAX_CHANNELS). */
static int64_t run_length(int64_t outputs, int64_t reduction) {
  if (pass_width(outputs) == outputs) return PW_RUN;
  return min64(PW_PASS_BYTES / (reduction * (int64_t)sizeof(float)) / 16 * 16, PW_RUN);
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

const char *cvt_pointwise_kernel_name(const cvt_brgemm_config *cfg) {
  return cfg->f32_pointwise == cvt_f32_pointwise_avx512 ? "f32_pointwise_avx512" : "pointwise";
}

size_t cvt_pointwise_packed_weight_bytes(const cvt_geometry *g) {
  return (size_t)g->weight_numel * sizeof(float);
}

/* The tile's weights: per group and pass, the [k][m] panel of the pass's m outputs over
 * the reduction's k channels, one after another (the panel of output channel o, counted
 * over all groups, starts at o * reduction). The layer's weight is [ci][co] per group:
 * the forward reads it as is (one pass: the panel is the layer's own), grad_input
 * transposed. */
static void pack_passes(const cvt_geometry *g, const float *w, bool backward, float *dst) {
  const int64_t outputs = backward ? g->cin_g : g->cout_g;
  const int64_t reduction = backward ? g->cout_g : g->cin_g, mp = pass_width(outputs);
  for (int64_t grp = 0; grp < g->groups; grp++)
    for (int64_t c0 = 0; c0 < outputs; c0 += mp) {
      const int64_t m = min64(mp, outputs - c0);
      for (int64_t k = 0; k < reduction; k++)
        for (int64_t c = 0; c < m; c++) {
          const int64_t ci = backward ? c0 + c : k, co = backward ? k : c0 + c;
          *dst++ = w[(grp * g->cin_g + ci) * g->cout_g + co];
        }
    }
}

void cvt_pointwise_pack_weights(const cvt_geometry *g, const void *weight, void *packed) {
  pack_passes(g, weight, false, packed);
}

/* out = bias + the panels times in, for every sample, group and pass: in has `in_ch`
 * channels (`reduction` per group), out `out_ch` (`outputs` per group), each channel a
 * plane of the volume's positions. Tasks are (sample, group, run of positions), split
 * statically; each output is one call's sum, k ascending from the bias, whatever the
 * thread count. */
static void run_passes(const cvt_exec *e, const float *in, int64_t in_ch, int64_t reduction,
                       float *out, int64_t out_ch, int64_t outputs) {
  const cvt_geometry *g = e->geo;
  const int64_t positions = g->in[0] * g->in[1] * g->in[2]; /* = the output's */
  const int64_t len = run_length(outputs, reduction), mp = pass_width(outputs);
  const int64_t runs = ceil_div(positions, len), tasks = g->n * g->groups * runs;
  const float *w = e->weight;
  /* Streamed outputs need every row on a 64-byte line: the runs start on one where the
   * output does and each row (one plane) is a whole number of lines. */
  const int stream = (size_t)(g->n * out_ch * positions) * sizeof(float) >
                         (size_t)CVT_STREAM_BYTES &&
                     (uintptr_t)out % 64 == 0 && positions % 16 == 0;
  (void)e->num_threads; /* unused without OpenMP */
#pragma omp parallel num_threads(e->num_threads) if (e->num_threads > 1)
  {
    float zeros[CVT_POINTWISE_MAX_M] = {0};
#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; task++) {
      const int64_t run = task % runs, ng = task / runs, n = ng / g->groups, grp = ng % g->groups;
      const int64_t p0 = run * len, np = min64(len, positions - p0);
      for (int64_t c0 = 0; c0 < outputs; c0 += mp) {
        const int64_t o = grp * outputs + c0, m = min64(mp, outputs - c0);
        const float *bias = e->bias ? (const float *)e->bias + o : zeros;
        e->brgemm->f32_pointwise((size_t)m, (size_t)reduction, w + o * reduction, bias,
                                 in + (n * in_ch + grp * reduction) * positions + p0,
                                 (size_t)positions, (size_t)np,
                                 out + (n * out_ch + o) * positions + p0, (size_t)positions,
                                 stream);
      }
    }
    if (stream) CVT_STREAM_FENCE();
  }
}

void cvt_pointwise_forward(const cvt_exec *e, const void *input, void *output) {
  const cvt_geometry *g = e->geo;
  run_passes(e, input, g->cin, g->cin_g, output, g->cout, g->cout_g);
}

/* grad_input (and conv3d) of a pointwise layer is a pointwise layer too, the other way:
 *
 *     gx[n, g*Cin_g + ci, p] = sum over co of w[g*Cin_g + ci, co] * gy[n, g*Cout_g + co, p]
 *
 * (plus conv3d's bias), a reduction over the Cout_g channels of grad_output for each of
 * the Cin_g outputs, on the same tile and passes: the first pass of a run reads its
 * grad_output rows from memory, the others from L2. MedNeXt's head (13 -> 32) was
 * otherwise packed, summed into a tile buffer and copied out, at 0.54x oneDNN's time. */

bool cvt_pointwise_bwd_data_applies(const cvt_geometry *g, const cvt_brgemm_config *cfg) {
  return pointwise_shape(g, g->cin_g, g->cout_g) && cfg->f32_pointwise;
}

void cvt_pointwise_bwd_data_pack_weights(const cvt_geometry *g, const void *weight,
                                         void *packed) {
  pack_passes(g, weight, true, packed);
}

void cvt_pointwise_bwd_data(const cvt_exec *e, const void *grad_output, void *grad_input) {
  const cvt_geometry *g = e->geo;
  run_passes(e, grad_output, g->cout, g->cout_g, grad_input, g->cin, g->cin_g);
}
