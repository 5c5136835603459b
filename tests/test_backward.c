/* Unit tests of the backward passes and conv3d: every fast path (instruction set, thread
 * count) against the reference, bit for bit, on random problems with small-integer data;
 * conv3d against the backward-data pass it is; and the plans' contracts. The comparisons
 * with PyTorch's own gradients are in python/tests. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
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

static convt3d_problem make(int64_t n, int64_t cin, int64_t cout_g, int64_t groups,
                            const int64_t in[3], const int64_t k[3], const int64_t s[3],
                            const int64_t p[3], const int64_t op[3], const int64_t d[3],
                            int bias) {
  convt3d_problem pr;
  convt3d_problem_init(&pr, CONVT3D_F32);
  if (n < 0)
    pr.input = (convt3d_shape){4, {cin, in[0], in[1], in[2]}};
  else
    pr.input = (convt3d_shape){5, {n, cin, in[0], in[1], in[2]}};
  pr.weight = (convt3d_shape){5, {cin, cout_g, k[0], k[1], k[2]}};
  pr.groups = groups;
  pr.has_bias = bias;
  pr.bias = (convt3d_shape){1, {cout_g * groups}};
  for (int a = 0; a < 3; a++) {
    pr.stride[a] = s[a];
    pr.padding[a] = p[a];
    pr.output_padding[a] = op[a];
    pr.dilation[a] = d[a];
  }
  return pr;
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
  /* A wide dilation and a kernel far wider than the input. */
  int64_t in5[3] = {1, 2, 9}, k5[3] = {1, 2, 6}, d5[3] = {1, 3, 7};
  pr = make(2, 3, 4, 1, in5, k5, s3, zero, zero, d5, 1);
  check_problem(&pr);
  /* Empty batch. */
  pr = make(0, 4, 4, 2, in3, k3, s3, one, zero, one, 1);
  check_problem(&pr);
}

int main(void) {
  test_random();
  printf("test_backward: %d plan executions\n", runs);
  return check_summary("test_backward");
}
