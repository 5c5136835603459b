/* Unit tests of the backward passes and conv3d: every fast path (instruction set, thread
 * count) against the reference, bit for bit, on random problems with small-integer data;
 * conv3d against the backward-data pass it is; and the plans' contracts. The comparisons
 * with PyTorch's own gradients are in python/tests. */
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "problem.h"
#include "convt3d.h"

static uint64_t rng = 987654321;
static int64_t rnd(int64_t lo, int64_t hi) { /* uniform in [lo, hi] */
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return lo + (int64_t)(rng % (uint64_t)(hi - lo + 1));
}

static size_t numel(const convt3d_shape *s) {
  size_t n = 1;
  for (int i = 0; i < s->ndim; i++) n *= (size_t)s->dims[i];
  return n;
}

/* Integers in [-3, 3]: every product and partial sum of these small problems is an
 * integer below 2^24, exact in float32 in any order. */
static void fill(convt3d_dtype dt, void *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const double v = (double)rnd(-3, 3);
    if (dt == CONVT3D_F32) ((float *)p)[i] = (float)v;
    else ((double *)p)[i] = v;
  }
}

static void fill_nan(convt3d_dtype dt, void *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (dt == CONVT3D_F32) ((float *)p)[i] = NAN;
    else ((double *)p)[i] = NAN;
  }
}

static const struct path {
  convt3d_algorithm algo;
  convt3d_isa isa;
  int threads;
  const char *name;
} paths[] = {
    {CONVT3D_ALGO_AUTO, CONVT3D_ISA_AUTO, 0, "auto"},
    {CONVT3D_ALGO_PHASE, CONVT3D_ISA_SCALAR, 1, "scalar, 1 thread"},
    {CONVT3D_ALGO_PHASE, CONVT3D_ISA_AVX2, 2, "avx2, 2 threads"},
    {CONVT3D_ALGO_PHASE, CONVT3D_ISA_AVX512, 1, "avx512, 1 thread"},
    {CONVT3D_ALGO_PHASE, CONVT3D_ISA_AVX512, 3, "avx512, 3 threads"},
};
enum { NPATHS = sizeof paths / sizeof paths[0] };
static int runs;

/* Both backward passes and conv3d of one problem, on every path, against the reference. */
static void check_problem(const convt3d_problem *pr) {
  convt3d_shape out;
  if (convt3d_output_shape(pr, &out) != CONVT3D_OK) return;
  const convt3d_dtype dt = pr->dtype;
  const size_t es = convt3d_dtype_size(dt);
  const size_t nx = numel(&pr->input), nw = numel(&pr->weight), ny = numel(&out);
  const size_t nb = (size_t)(pr->weight.dims[1] * pr->groups), ncb = (size_t)pr->weight.dims[0];
  char *x = malloc(nx * es + 8), *w = malloc(nw * es + 8), *gy = malloc(ny * es + 8);
  char *gx0 = malloc(nx * es + 8), *gx1 = malloc(nx * es + 8);
  char *gw0 = malloc(nw * es + 8), *gw1 = malloc(nw * es + 8);
  char *gb0 = malloc(nb * es + 8), *gb1 = malloc(nb * es + 8), *cb = malloc(ncb * es + 8);
  char *c0 = malloc(nx * es + 8);
  fill(dt, x, nx), fill(dt, w, nw), fill(dt, gy, ny), fill(dt, cb, ncb);
  char desc[256];
  convt3d_problem_describe(pr, desc, sizeof desc);

  /* The same layer as conv3d: input grad_output, weight w read as (Cout3, Cin3/g, k). */
  convt3d_problem c3 = *pr;
  c3.input = out;
  c3.has_bias = 1;
  c3.bias = (convt3d_shape){1, {pr->weight.dims[0]}};
  for (int a = 0; a < 3; a++) c3.output_padding[a] = 0;
  /* conv3d maps grad_output back to the input's size unless output_padding reaches the
   * stride (allowed below the dilation): then conv3d's output is longer. */
  bool conv_matches = true;
  for (int a = 0; a < 3; a++) conv_matches &= pr->output_padding[a] < pr->stride[a];
  convt3d_shape c3_out;
  CHECKF(convt3d_conv3d_output_shape(&c3, &c3_out) == CONVT3D_OK, "conv3d of %s: %s", desc,
         convt3d_last_error());
  for (int i = 0; conv_matches && i < c3_out.ndim; i++)
    CHECKF(c3_out.ndim == pr->input.ndim && c3_out.dims[i] == pr->input.dims[i],
           "conv3d of %s does not map grad_output back to the input's shape", desc);
  if (!conv_matches) c3.input.dims[0] = -1; /* skip conv3d below */

  for (int p = -1; p < NPATHS; p++) { /* -1: the reference */
    const convt3d_plan_options opt =
        p < 0 ? (convt3d_plan_options){CONVT3D_ALGO_REFERENCE, 1, CONVT3D_ISA_AUTO}
              : (convt3d_plan_options){paths[p].algo, paths[p].threads, paths[p].isa};
    const char *name = p < 0 ? "reference" : paths[p].name;
    char *gx = p < 0 ? gx0 : gx1, *gw = p < 0 ? gw0 : gw1, *gb = p < 0 ? gb0 : gb1;
    fill_nan(dt, gx, nx), fill_nan(dt, gw, nw), fill_nan(dt, gb, nb), fill_nan(dt, c0, nx);
    convt3d_plan *data = NULL, *weight = NULL, *conv = NULL;
    convt3d_status s1 = convt3d_plan_create_backward_data(pr, w, &opt, &data);
    convt3d_status s2 = convt3d_plan_create_backward_weight(pr, &opt, &weight);
    convt3d_status s3 = conv_matches ? convt3d_conv3d_plan_create(&c3, w, cb, &opt, &conv)
                                     : CONVT3D_OK;
    CHECKF(s1 == CONVT3D_OK && s2 == CONVT3D_OK && s3 == CONVT3D_OK,
           "%s: plans for %s: %s", name, desc, convt3d_last_error());
    if (s1 == CONVT3D_OK && s2 == CONVT3D_OK && s3 == CONVT3D_OK) {
      CHECK(convt3d_plan_execute(data, gy, gx) == CONVT3D_OK);
      CHECK(convt3d_plan_execute_backward_weight(weight, x, gy, gw, gb) == CONVT3D_OK);
      if (conv_matches) CHECK(convt3d_plan_execute(conv, gy, c0) == CONVT3D_OK);
      runs++;
      if (p >= 0) {
        CHECKF(memcmp(gx0, gx1, nx * es) == 0, "grad_input, %s != reference for %s", name,
               desc);
        CHECKF(memcmp(gw0, gw1, nw * es) == 0, "grad_weight, %s != reference for %s", name,
               desc);
        CHECKF(memcmp(gb0, gb1, nb * es) == 0, "grad_bias, %s != reference for %s", name,
               desc);
      }
      /* conv3d = grad_input + its bias, per channel */
      size_t bad = 0;
      const size_t batch = (size_t)(pr->input.ndim == 5 ? pr->input.dims[0] : 1);
      const size_t per = batch ? nx / batch / ncb : 1;
      for (size_t i = 0; conv_matches && i < nx; i++) {
        const size_t ch = i / per % ncb;
        const double want = dt == CONVT3D_F32
                                ? (double)((float *)gx)[i] + (double)((float *)cb)[ch]
                                : ((double *)gx)[i] + ((double *)cb)[ch];
        const double got = dt == CONVT3D_F32 ? (double)((float *)c0)[i] : ((double *)c0)[i];
        bad += got != want;
      }
      CHECKF(bad == 0, "conv3d, %s: %zu elements differ from grad_input + bias for %s",
             name, bad, desc);
    }
    convt3d_plan_destroy(data), convt3d_plan_destroy(weight), convt3d_plan_destroy(conv);
  }
  free(x), free(w), free(gy), free(gx0), free(gx1), free(gw0), free(gw1), free(gb0);
  free(gb1), free(cb), free(c0);
}

static void test_random(void) {
  int configs = 0;
  for (int iter = 0; iter < 400; iter++) {
    int64_t g = rnd(1, 3), in[3], k[3], s[3], p[3], op[3], d[3];
    for (int a = 0; a < 3; a++) {
      in[a] = rnd(1, 5), k[a] = rnd(1, 4), s[a] = rnd(1, 3), d[a] = rnd(1, 2);
      p[a] = rnd(0, 3);
      op[a] = rnd(0, (s[a] > d[a] ? s[a] : d[a]) - 1);
    }
    int64_t cin_g = rnd(1, 3), cout_g = rnd(1, 3);
    if (iter % 7 == 0) in[2] = rnd(17, 90); /* rows longer than one tile */
    if (iter % 5 == 0) cin_g = rnd(5, 20);  /* several channel blocks, with a tail */
    if (iter % 6 == 0) cout_g = rnd(10, 40); /* several grad_output channel tiles */
    convt3d_problem pr =
        make(rnd(-1, 2), g * cin_g, cout_g, g, in, k, s, p, op, d, (int)rnd(0, 1));
    pr.dtype = iter % 2 ? CONVT3D_F64 : CONVT3D_F32;
    if (convt3d_problem_check(&pr) != CONVT3D_OK) continue;
    configs++;
    check_problem(&pr);
  }
  CHECKF(configs > 200, "only %d valid random configurations", configs);
  /* Many channels in few positions (channel-vectorised tiles), a 70-channel block tail. */
  int64_t in3[3] = {3, 3, 3}, k3[3] = {3, 3, 3}, s3[3] = {2, 2, 2}, one[3] = {1, 1, 1};
  int64_t zero[3] = {0, 0, 0};
  convt3d_problem pr = make(1, 70, 8, 1, in3, k3, s3, one, zero, one, 1);
  check_problem(&pr);
  pr = make(2, 70, 3, 2, in3, k3, s3, one, one, one, 0);
  check_problem(&pr);
  /* Deep reductions: grad_output channels in several packed chunks. */
  int64_t in4[3] = {2, 3, 20};
  pr = make(1, 7, 300, 1, in4, k3, one, one, zero, one, 1);
  check_problem(&pr);
  /* Short rows (grad_input by planes): a grad_output chunk tail, channel-block tails,
   * plane positions that are no multiple of the tile, strided and dilated taps. */
  int64_t in6[3] = {2, 9, 11}, s6[3] = {2, 1, 2}, d6[3] = {1, 2, 1}, op6[3] = {1, 0, 1};
  pr = make(1, 13, 300, 1, in6, k3, one, one, zero, one, 1);
  check_problem(&pr);
  pr = make(2, 20, 9, 2, in6, k3, s6, one, op6, d6, 1);
  check_problem(&pr);
  pr.dtype = CONVT3D_F64;
  check_problem(&pr);
  /* Planes past 64 KiB with one chunk of grad_output channels, taken tile by tile
   * (tile_out): 70 channels (a block tail), 24 rows of 30 (tiles across rows, a last tile
   * of 32 of 64 positions), and at depth kernel 1 with padding 1, planes 0 and 2 that no
   * tap reaches (the bias alone); then kernel 4 stride 2 with every plane reached. */
  int64_t in17[3] = {3, 24, 30}, k17[3] = {1, 4, 4}, s17[3] = {1, 2, 2};
  pr = make(1, 70, 2, 1, in17, k17, s17, one, zero, one, 1);
  check_problem(&pr);
  int64_t k18[3] = {4, 4, 4};
  pr = make(2, 64, 1, 1, in17, k18, s3, one, zero, one, 0);
  check_problem(&pr);
  pr.dtype = CONVT3D_F64;
  check_problem(&pr);
  /* grad_input's pointwise cut (kernel 1, stride 1, no padding, at most 64 channels per
   * group on each side, 16384 positions or more; AVX-512 float32; conv3d adds its bias):
   * MedNeXt's head (13 -> 32: passes of 11, 11, 10) on runs of 4096 with a tail of 1024;
   * groups of 15 (8 + 7) on an unbatched input with a 31-position tail; one pass of 14 and
   * of 1; 64 channels (5 passes, the most) and 65 (declined: the backward-data tiles).
   * test_api streams a grad_input of 75 MB through it. */
  {
    int64_t pw1[3] = {16, 32, 34}, pw2[3] = {17, 31, 33};
    const struct {
      int64_t n, cin, cout_g, groups;
      const int64_t *in;
    } pw[] = {{1, 32, 13, 1, pw1}, {-1, 30, 3, 2, pw2}, {2, 14, 5, 1, pw1}, {1, 1, 7, 1, pw1},
              {1, 64, 6, 1, pw1}, {1, 65, 2, 1, pw1}};
    for (size_t i = 0; i < sizeof pw / sizeof pw[0]; i++) {
      pr = make(pw[i].n, pw[i].cin, pw[i].cout_g, pw[i].groups, pw[i].in, one, one, zero,
                zero, one, (int)(i % 2));
      check_problem(&pr);
    }
  }
  /* A wide dilation and a kernel far wider than the input. */
  int64_t in5[3] = {1, 2, 9}, k5[3] = {1, 2, 6}, d5[3] = {1, 3, 7};
  pr = make(2, 3, 4, 1, in5, k5, s3, zero, zero, d5, 1);
  check_problem(&pr);
  /* grad_weight's gemm formulation (input positions at most twice cin_g) in several
   * slabs of Y: 64 positions, rows of 8, cout_g * 27 columns per position, so that a row
   * of Y takes 2.1-2.2 MiB against a 16 MiB slab. */
  int64_t in7[3] = {1, 8, 8};
  pr = make(1, 32, 2500, 1, in7, k3, one, one, zero, one, 1);
  check_problem(&pr);
  pr = make(1, 64, 1300, 2, in7, k3, one, one, zero, one, 0);
  pr.dtype = CONVT3D_F64;
  check_problem(&pr);
  /* grad_weight's dot formulation (float32, AVX-512; width stride 1 or 2, rows of 16
   * positions or more, few channels per group on one side): every tile (cout_g 1,
   * 2-3 and larger, both strides), rows with a partial last vector, padding and
   * output_padding at the row ends, dilation at stride 1, groups, depthwise, and several
   * slabs. */
  for (int iter = 0; iter < 60; iter++) {
    int64_t in8[3] = {rnd(1, 3), rnd(1, 3), 16 * rnd(1, 4) + rnd(0, 3) * (iter % 2)};
    int64_t k8[3], s8[3], p8[3], op8[3], d8[3];
    for (int a = 0; a < 3; a++) {
      k8[a] = rnd(1, 5), s8[a] = rnd(1, 2), d8[a] = a < 2 ? rnd(1, 2) : 1;
      p8[a] = rnd(0, k8[a] - 1), op8[a] = rnd(0, s8[a] - 1);
    }
    if (iter % 3 == 0) d8[2] = s8[2] == 1 ? 2 : 1;
    const int64_t g8 = iter % 4 == 0 ? rnd(2, 4) : 1;
    const int64_t couts[] = {1, 2, 3, 5, 13, 24};
    int64_t cin_g = rnd(1, 30), cout_g = couts[iter % 6];
    if (iter % 5 == 0) cin_g = rnd(1, 4), cout_g = rnd(17, 40); /* few on the input side */
    if (iter % 10 == 9) cin_g = cout_g = 1;                    /* depthwise */
    pr = make(rnd(1, 2), g8 * cin_g, cout_g, g8, in8, k8, s8, p8, op8, d8, (int)rnd(0, 1));
    if (convt3d_problem_check(&pr) == CONVT3D_OK) check_problem(&pr);
  }
  /* The dot formulation keeps 4-16 channels on the narrow side only with one tap (13,
   * 16) or with kernel <= stride on every axis (8); with overlapping taps 4 channels
   * take the tap formulation. */
  int64_t in10[3] = {2, 3, 40}, k10[3] = {2, 2, 2}, s10[3] = {2, 2, 2};
  pr = make(2, 20, 13, 1, in10, one, one, zero, zero, one, 1);
  check_problem(&pr);
  pr = make(1, 16, 37, 1, in10, one, one, zero, zero, one, 0);
  check_problem(&pr);
  pr = make(2, 24, 8, 1, in10, k10, s10, zero, zero, one, 1);
  check_problem(&pr);
  pr = make(1, 30, 4, 1, in10, k3, s10, one, one, one, 1);
  check_problem(&pr);
  int64_t in9[3] = {4, 8, 64}, k9[3] = {3, 3, 3};
  pr = make(2, 16, 16, 1, in9, k9, one, one, zero, one, 1); /* 64 rows, slabs of 36 */
  check_problem(&pr);
  pr = make(2, 16, 8, 1, in9, k9, s3, one, one, one, 0); /* stride 2: slabs of 30 */
  check_problem(&pr);
  /* The dot formulation's pair tiles (at most 3 grad_output channels per group, 16 or
   * more input channels): blocks of (kd, kh) pairs with a tail (9 and 10 pairs), edge
   * rows where only some pairs of a block reach grad_output, both width strides, groups,
   * several slabs (rows of 1000 positions). */
  int64_t in12[3] = {3, 5, 47}, k12[3] = {3, 3, 4}, s12[3] = {2, 2, 2};
  pr = make(2, 20, 1, 1, in12, k12, s12, one, zero, one, 1);
  check_problem(&pr);
  int64_t k13[3] = {2, 5, 3}, s13[3] = {1, 2, 1}, p13[3] = {0, 2, 1};
  pr = make(1, 2 * 17, 2 * 3, 2, in12, k13, s13, p13, zero, one, 0);
  check_problem(&pr);
  int64_t in14[3] = {2, 3, 1000}, k14[3] = {2, 2, 4}, p14[3] = {1, 0, 1};
  pr = make(2, 40, 2, 1, in14, k14, s12, p14, one, one, 1);
  check_problem(&pr);
  /* Pointwise layers, which the backward plans re-cut into rows of up to 4096 positions
   * that divide the volume: short volumes, a prime-ish one (1001), one of 8192 (rows of
   * 4096), groups, dilation (ignored by a 1-kernel), with and without bias. */
  const int64_t vols[][3] = {{1, 3, 5}, {4, 6, 10}, {7, 11, 13}, {2, 64, 64}, {3, 1, 17}};
  for (int v = 0; v < 5; v++) {
    int64_t d10[3] = {1, 1 + v % 2, 1};
    pr = make(1 + v % 2, 6 * (1 + v % 3), 5 + 3 * v, 1 + v % 3, vols[v], one, one, zero, zero,
              d10, v % 2);
    check_problem(&pr);
  }
  /* grad_input's row cut without a row buffer (a group's rows past 256 KiB): with one
   * chunk of grad_output channels each tile is summed on a copy set to the bias (conv3d's)
   * and stored, else the chunks accumulate in grad_input. Pointwise rows of 4096 with 5
   * and 20 channels (chunks of 15 and 5), and rows of 1000 at kernel 3 stride 2 (a last
   * tile of 40 of 64 positions). */
  int64_t vol16[3] = {2, 64, 64};
  pr = make(1, 24, 5, 1, vol16, one, one, zero, zero, one, 1);
  check_problem(&pr);
  pr = make(1, 24, 20, 1, vol16, one, one, zero, zero, one, 0);
  check_problem(&pr);
  int64_t in16[3] = {2, 2, 1000};
  pr = make(1, 80, 3, 1, in16, k3, s3, one, zero, one, 1);
  check_problem(&pr);
  /* grad_input's row cut in bands of rows (a row buffer holding several rows of a plane):
   * 32 planes of 7 rows make bands of 6 and a last band of 1; buffer rows longer than the
   * row (20 and 70 positions) and equal to it (32); few grad_output channels on rows past
   * 64 (the taps join the reduction) and more, with bias (conv3d's). */
  int64_t in11[3] = {16, 7, 70};
  pr = make(2, 5, 2, 1, in11, k3, s3, one, one, one, 1);
  check_problem(&pr);
  in11[2] = 20;
  pr = make(2, 12, 9, 3, in11, k3, s3, one, zero, one, 1);
  check_problem(&pr);
  in11[2] = 32;
  pr = make(2, 7, 8, 1, in11, k3, one, one, zero, one, 1);
  check_problem(&pr);
  in11[2] = 80;
  pr = make(2, 7, 1, 1, in11, k3, one, one, zero, one, 1);
  pr.dtype = CONVT3D_F64;
  check_problem(&pr);
  /* grad_input's row cut with the channels-in-lanes tiles (forced: they win on wide
   * layers, kernel 4 stride 2), their channels-last row buffer (with and without bias,
   * channel counts no multiple of 16), bands of rows sharing packs of grad_output: 40 rows
   * of 2 planes in bands of 5, packs of 3 and 2 rows; a 70-channel block tail; 20
   * grad_output channels in chunks of 16 and 4; rows of 10 (a last tile of 4 or 0);
   * dilation 2 in height (grad_output rows no row of a pack reads); few grad_output
   * channels per group (the taps join the reduction) with groups. */
  int64_t in15[3] = {2, 40, 10}, k15[3] = {4, 4, 4}, d15[3] = {1, 2, 1};
  const char *const wide[] = {"f32_brgemm_64x6_avx512", "f32_brgemm_64x5_avx512",
                              "f32_brgemm_32x12_avx512"};
  for (int t = 0; t < 3; t++) {
    setenv("CONVT3D_KERNEL", wide[t], 1);
    pr = make(1, 70, 20, 1, in15, k15, s3, one, zero, one, 1);
    check_problem(&pr);
    pr = make(1, 48, 6, 2, in15, k15, s3, one, one, d15, 0);
    check_problem(&pr);
    unsetenv("CONVT3D_KERNEL");
  }
  /* Empty batch. */
  pr = make(0, 4, 4, 2, in3, k3, s3, one, zero, one, 1);
  check_problem(&pr);
}

/* ------------------------------------------------------------- concurrency */

/* One thread's problem, its data and the serial results of every pass. */
typedef struct job {
  convt3d_problem p;
  float *x, *w, *b, *gy;                 /* data */
  float *y, *gx, *gw, *gb;               /* serial results */
  size_t nx, nw, ny, nb;
  const convt3d_plan *shared;            /* a backward-weight plan all threads execute... */
  const struct job *shared_job;          /* ...on this job's data */
  int mismatches;
  convt3d_status status;
} job;

static void job_init(job *j, int seed) {
  int64_t in[3] = {3 + seed % 3, 4, 9 + seed}, k[3] = {3, 2, 3}, s[3] = {2, 1, 2};
  int64_t pd[3] = {1, 0, 1}, op[3] = {1, 0, 0}, one[3] = {1, 1, 1};
  j->p = make(2, 6, 5 + seed % 4, 1 + seed % 2, in, k, s, pd, op, one, 1);
  convt3d_shape out;
  convt3d_output_shape(&j->p, &out);
  j->nx = numel(&j->p.input), j->nw = numel(&j->p.weight), j->ny = numel(&out);
  j->nb = (size_t)j->p.bias.dims[0];
  float **bufs[] = {&j->x, &j->w, &j->b, &j->gy, &j->y, &j->gx, &j->gw, &j->gb};
  const size_t sizes[] = {j->nx, j->nw, j->nb, j->ny, j->ny, j->nx, j->nw, j->nb};
  for (int i = 0; i < 8; i++) *bufs[i] = malloc(sizes[i] * sizeof(float));
  for (size_t i = 0; i < j->nx; i++) j->x[i] = (float)rnd(-100, 100) / 37.0f;
  for (size_t i = 0; i < j->nw; i++) j->w[i] = (float)rnd(-100, 100) / 41.0f;
  for (size_t i = 0; i < j->nb; i++) j->b[i] = (float)rnd(-100, 100) / 43.0f;
  for (size_t i = 0; i < j->ny; i++) j->gy[i] = (float)rnd(-100, 100) / 47.0f;
  CHECK(convt3d_forward(&j->p, j->x, j->w, j->b, j->y) == CONVT3D_OK);
  CHECK(convt3d_backward_data(&j->p, j->gy, j->w, j->gx) == CONVT3D_OK);
  CHECK(convt3d_backward_weight(&j->p, j->x, j->gy, j->gw, j->gb) == CONVT3D_OK);
}

static void job_free(job *j) {
  free(j->x), free(j->w), free(j->b), free(j->gy);
  free(j->y), free(j->gx), free(j->gw), free(j->gb);
}

/* Creates, executes and destroys plans of every pass, again and again, and executes the
 * shared plan; every result must equal the serial one bit for bit. */
static void *job_run(void *arg) {
  job *j = arg;
  float *y = malloc(j->ny * sizeof *y), *gx = malloc(j->nx * sizeof *gx);
  float *gw = malloc(j->nw * sizeof *gw), *gb = malloc(j->nb * sizeof *gb);
  const convt3d_plan_options opt = {CONVT3D_ALGO_AUTO, 2, CONVT3D_ISA_AUTO};
  for (int r = 0; r < 6 && j->status == CONVT3D_OK; r++) {
    convt3d_plan *f = NULL, *d = NULL, *w = NULL;
    convt3d_status s = convt3d_plan_create(&j->p, j->w, j->b, &opt, &f);
    if (s == CONVT3D_OK) s = convt3d_plan_create_backward_data(&j->p, j->w, &opt, &d);
    if (s == CONVT3D_OK) s = convt3d_plan_create_backward_weight(&j->p, &opt, &w);
    if (s == CONVT3D_OK) s = convt3d_plan_execute(f, j->x, y);
    if (s == CONVT3D_OK) s = convt3d_plan_execute(d, j->gy, gx);
    if (s == CONVT3D_OK) s = convt3d_plan_execute_backward_weight(w, j->x, j->gy, gw, gb);
    if (s == CONVT3D_OK)
      j->mismatches += memcmp(y, j->y, j->ny * sizeof *y) != 0 ||
                       memcmp(gx, j->gx, j->nx * sizeof *gx) != 0 ||
                       memcmp(gw, j->gw, j->nw * sizeof *gw) != 0 ||
                       memcmp(gb, j->gb, j->nb * sizeof *gb) != 0;
    convt3d_plan_destroy(f), convt3d_plan_destroy(d), convt3d_plan_destroy(w);
    if (s == CONVT3D_OK) { /* the shared plan: one workspace, contended */
      const job *o = j->shared_job;
      float *sgw = malloc(o->nw * sizeof *sgw), *sgb = malloc(o->nb * sizeof *sgb);
      s = convt3d_plan_execute_backward_weight(j->shared, o->x, o->gy, sgw, sgb);
      if (s == CONVT3D_OK)
        j->mismatches += memcmp(sgw, o->gw, o->nw * sizeof *sgw) != 0 ||
                         memcmp(sgb, o->gb, o->nb * sizeof *sgb) != 0;
      free(sgw), free(sgb);
    }
    j->status = s;
  }
  free(y), free(gx), free(gw), free(gb);
  return NULL;
}

static void test_concurrent_plans(void) {
  enum { THREADS = 8 };
  job jobs[THREADS];
  for (int i = 0; i < THREADS; i++) {
    memset(&jobs[i], 0, sizeof jobs[i]);
    job_init(&jobs[i], i);
  }
  convt3d_plan *shared = NULL;
  const convt3d_plan_options opt = {CONVT3D_ALGO_AUTO, 2, CONVT3D_ISA_AUTO};
  CHECK(convt3d_plan_create_backward_weight(&jobs[0].p, &opt, &shared) == CONVT3D_OK);
  for (int i = 0; i < THREADS; i++) jobs[i].shared = shared, jobs[i].shared_job = &jobs[0];
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++) CHECK(pthread_create(&th[i], NULL, job_run, &jobs[i]) == 0);
  for (int i = 0; i < THREADS; i++) {
    pthread_join(th[i], NULL);
    CHECKF(jobs[i].status == CONVT3D_OK && jobs[i].mismatches == 0,
           "thread %d: status %d, %d results differ from the serial ones", i,
           (int)jobs[i].status, jobs[i].mismatches);
  }
  convt3d_plan_destroy(shared);
  for (int i = 0; i < THREADS; i++) job_free(&jobs[i]);
}

/* ------------------------------------------------------------ plan contract */

static void test_contract(void) {
  int64_t in[3] = {2, 3, 4}, k[3] = {3, 3, 3}, s[3] = {2, 2, 2}, one[3] = {1, 1, 1};
  int64_t zero[3] = {0, 0, 0};
  convt3d_problem p = make(2, 4, 3, 1, in, k, s, one, zero, one, 1);
  convt3d_shape out;
  CHECK(convt3d_output_shape(&p, &out) == CONVT3D_OK);
  const size_t nx = numel(&p.input), nw = numel(&p.weight), ny = numel(&out);
  float *buf = calloc(nx + nw + ny + 3 + 64, sizeof *buf);
  float *x = buf, *w = x + nx, *gy = w + nw, *gb = gy + ny;
  convt3d_plan *data = NULL, *weight = NULL;
  CHECK(convt3d_plan_create_backward_data(&p, w, NULL, &data) == CONVT3D_OK);
  CHECK(convt3d_plan_create_backward_weight(&p, NULL, &weight) == CONVT3D_OK);
  convt3d_plan_info info;
  CHECK(convt3d_plan_get_info(data, &info) == CONVT3D_OK &&
        info.pass == CONVT3D_PASS_BACKWARD_DATA && info.output.ndim == 5 &&
        info.output.dims[1] == 4 && info.output.dims[4] == 4);
  CHECK(convt3d_plan_get_info(weight, &info) == CONVT3D_OK &&
        info.pass == CONVT3D_PASS_BACKWARD_WEIGHT && info.output.dims[0] == 4 &&
        info.output.dims[1] == 3 && info.output.dims[2] == 3);
  /* Each plan executes its own pass only. */
  CHECK(convt3d_plan_execute(weight, gy, x) == CONVT3D_ERR_INVALID_ARGUMENT &&
        strstr(convt3d_last_error(), "backward_weight"));
  CHECK(convt3d_plan_execute_backward_weight(data, x, gy, w, gb) ==
            CONVT3D_ERR_INVALID_ARGUMENT && strstr(convt3d_last_error(), "backward-data"));
  /* Outputs must not overlap any buffer; inputs may overlap each other. */
  CHECK(convt3d_plan_execute(data, gy, gy + 1) == CONVT3D_ERR_INVALID_ARGUMENT &&
        strstr(convt3d_last_error(), "overlaps"));
  CHECK(convt3d_plan_execute_backward_weight(weight, x, gy, x + 1, gb) ==
            CONVT3D_ERR_INVALID_ARGUMENT && strstr(convt3d_last_error(), "grad_weight"));
  CHECK(convt3d_plan_execute_backward_weight(weight, x, gy, w, gy + ny - 1) ==
            CONVT3D_ERR_INVALID_ARGUMENT && strstr(convt3d_last_error(), "grad_bias"));
  CHECK(convt3d_plan_execute_backward_weight(weight, x, gy, w, w + 1) ==
            CONVT3D_ERR_INVALID_ARGUMENT);
  CHECK(convt3d_plan_execute_backward_weight(weight, gy, gy, w, gb) == CONVT3D_OK);
  CHECK(convt3d_plan_execute_backward_weight(weight, x, gy, w, NULL) == CONVT3D_OK);
  CHECK(convt3d_plan_execute_backward_weight(weight, NULL, gy, w, gb) ==
            CONVT3D_ERR_INVALID_ARGUMENT && strstr(convt3d_last_error(), "input is NULL"));
  CHECK(convt3d_plan_execute_backward_weight(NULL, x, gy, w, gb) ==
            CONVT3D_ERR_INVALID_ARGUMENT);
  /* The direct algorithm is the forward pass's only. */
  const convt3d_plan_options direct = {CONVT3D_ALGO_DIRECT, 1, CONVT3D_ISA_AUTO};
  convt3d_plan *none = NULL;
  CHECK(convt3d_plan_create_backward_weight(&p, &direct, &none) ==
            CONVT3D_ERR_INVALID_ARGUMENT && none == NULL &&
        strstr(convt3d_last_error(), "forward pass only"));
  /* A plan for an invalid problem fails as the forward pass would. */
  p.output_padding[0] = 5;
  CHECK(convt3d_plan_create_backward_data(&p, w, NULL, &none) == CONVT3D_ERR_INVALID_ARGUMENT &&
        strstr(convt3d_last_error(), "output_padding"));
  convt3d_plan_destroy(data), convt3d_plan_destroy(weight);
  free(buf);

  /* conv3d's own rules, and a conv3d plan is an ordinary plan. */
  convt3d_problem c;
  convt3d_problem_init(&c, CONVT3D_F32);
  c.input = (convt3d_shape){5, {1, 4, 3, 3, 3}};
  c.weight = (convt3d_shape){5, {6, 2, 4, 1, 1}};
  c.groups = 2;
  CHECK(convt3d_conv3d_output_shape(&c, &out) == CONVT3D_ERR_INVALID_ARGUMENT &&
        strstr(convt3d_last_error(), "dilated kernel") &&
        strstr(convt3d_last_error(), "kernel (4, 1, 1), dilation (1, 1, 1)"));
  c.padding[0] = 1; /* 3 + 2 >= 4 */
  CHECK(convt3d_conv3d_output_shape(&c, &out) == CONVT3D_OK && out.dims[1] == 6 &&
        out.dims[2] == 2 && out.dims[3] == 3);
  c.output_padding[1] = 1;
  CHECK(convt3d_conv3d_output_shape(&c, &out) == CONVT3D_ERR_INVALID_ARGUMENT &&
        strstr(convt3d_last_error(), "output_padding"));
  c.output_padding[1] = 0;
  c.input.dims[1] = 5;
  CHECK(convt3d_conv3d_output_shape(&c, &out) == CONVT3D_ERR_INVALID_ARGUMENT &&
        strstr(convt3d_last_error(), "5 channels"));
  c.input.dims[1] = 0, c.weight.dims[1] = 0;
  CHECK(convt3d_conv3d_output_shape(&c, &out) == CONVT3D_ERR_INVALID_ARGUMENT &&
        strstr(convt3d_last_error(), "no channels"));
  c.input.dims[1] = 4, c.weight.dims[1] = 2, c.weight.dims[0] = 5;
  CHECK(convt3d_conv3d_output_shape(&c, &out) == CONVT3D_ERR_INVALID_ARGUMENT &&
        strstr(convt3d_last_error(), "groups = 2"));
  c.weight.dims[0] = 6, c.padding[2] = INT64_MAX / 2;
  CHECK(convt3d_conv3d_output_shape(&c, &out) == CONVT3D_ERR_TOO_LARGE);
}

/* A stride of 1000 has a million in-plane phases: the plan must not size its workspace by
 * them (the forward pass falls back to the direct algorithm). */
static void test_large_stride_workspace(void) {
  convt3d_problem p;
  convt3d_problem_init(&p, CONVT3D_F32);
  p.input = (convt3d_shape){5, {1, 1, 2, 2, 2}};
  p.weight = (convt3d_shape){5, {1, 1, 1, 1, 1}};
  for (int a = 0; a < 3; a++) p.stride[a] = 1000;
  const float w = 1.0f;
  convt3d_plan *plans[3] = {NULL, NULL, NULL};
  CHECK(convt3d_plan_create(&p, &w, NULL, NULL, &plans[0]) == CONVT3D_OK);
  CHECK(convt3d_plan_create_backward_data(&p, &w, NULL, &plans[1]) == CONVT3D_OK);
  CHECK(convt3d_plan_create_backward_weight(&p, NULL, &plans[2]) == CONVT3D_OK);
  for (int i = 0; i < 3; i++) {
    convt3d_plan_info info;
    CHECKF(plans[i] && convt3d_plan_get_info(plans[i], &info) == CONVT3D_OK &&
               info.workspace_bytes < ((size_t)8 << 20),
           "pass %d: workspace of %zu bytes for stride 1000", i,
           plans[i] && convt3d_plan_get_info(plans[i], &info) == CONVT3D_OK
               ? info.workspace_bytes
               : (size_t)0);
    convt3d_plan_destroy(plans[i]);
  }
}

int main(void) {
  test_contract();
  test_large_stride_workspace();
  test_random();
  test_concurrent_plans();
  printf("test_backward: %d plan executions\n", runs);
  return check_summary("test_backward");
}
