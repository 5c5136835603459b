/* Unit tests of the public API: shape inference, every rejection rule, results computed
 * by hand, the direct path against the reference, and the plan's contract. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "problem.h"
#include "convt3d.h"

static const int64_t ONE[3] = {1, 1, 1}, ZERO[3] = {0, 0, 0};

/* Expects problem to be rejected with status and a message that mentions `word`. */
static void expect_reject(const convt3d_problem *p, convt3d_status status, const char *word,
                          int line) {
  convt3d_status s = convt3d_problem_check(p);
  const char *msg = convt3d_last_error();
  CHECKF(s == status && msg[0] && strstr(msg, word),
         "line %d: status %d (want %d), message '%s' (want it to mention '%s')", line, s,
         status, msg, word);
  convt3d_shape out = {-7, {0}};
  CHECK(convt3d_output_shape(p, &out) == status && out.ndim == -7);
  convt3d_plan *plan = (convt3d_plan *)&out; /* any non-NULL value: must become NULL */
  float w[1] = {0};
  CHECK(convt3d_plan_create(p, w, NULL, NULL, &plan) == status && plan == NULL);
}
#define REJECT(p, word) expect_reject(&(p), CONVT3D_ERR_INVALID_ARGUMENT, word, __LINE__)

static void test_output_shape(void) {
  int64_t in[3] = {5, 6, 7}, k3[3] = {3, 3, 3}, s2[3] = {2, 2, 2};
  convt3d_problem p = make(2, 4, 3, 1, in, k3, s2, ONE, ZERO, ONE, 0);
  convt3d_shape out;
  /* kernel 3, stride 2, padding 1: 2n - 1 */
  CHECK(convt3d_output_shape(&p, &out) == CONVT3D_OK);
  CHECK(out.ndim == 5 && out.dims[0] == 2 && out.dims[1] == 3 && out.dims[2] == 9 &&
        out.dims[3] == 11 && out.dims[4] == 13);
  /* output_padding 1 gives 2n */
  for (int a = 0; a < 3; a++) p.output_padding[a] = 1;
  CHECK(convt3d_output_shape(&p, &out) == CONVT3D_OK);
  CHECK(out.dims[2] == 10 && out.dims[3] == 12 && out.dims[4] == 14);
  /* unbatched in, unbatched out; groups multiply Cout */
  p = make(-1, 4, 3, 2, in, k3, ONE, ZERO, ZERO, ONE, 0);
  CHECK(convt3d_output_shape(&p, &out) == CONVT3D_OK);
  CHECK(out.ndim == 4 && out.dims[0] == 6 && out.dims[1] == 7 && out.dims[2] == 8 &&
        out.dims[3] == 9);
  /* dilation: (in-1)*s - 2p + d*(k-1) + op + 1 */
  int64_t d[3] = {1, 2, 3}, op[3] = {0, 1, 2}, s[3] = {1, 2, 3};
  p = make(1, 1, 1, 1, in, k3, s, ZERO, op, d, 0);
  CHECK(convt3d_output_shape(&p, &out) == CONVT3D_OK);
  CHECK(out.dims[2] == 4 * 1 + 2 + 0 + 1 && out.dims[3] == 5 * 2 + 4 + 1 + 1 &&
        out.dims[4] == 6 * 3 + 6 + 2 + 1);
  /* a zero batch is valid and gives an empty output */
  p = make(0, 4, 3, 1, in, k3, s2, ONE, ZERO, ONE, 1);
  CHECK(convt3d_output_shape(&p, &out) == CONVT3D_OK && out.dims[0] == 0 && out.dims[2] == 9);
  CHECK(convt3d_forward(&p, NULL, (float[4 * 3 * 27]){0}, (float[3]){0}, NULL) == CONVT3D_OK);
}

static void test_rejections(void) {
  int64_t in[3] = {4, 4, 4}, k[3] = {3, 3, 3}, s2[3] = {2, 2, 2};
  const convt3d_problem good = make(2, 4, 3, 2, in, k, s2, ONE, ONE, ONE, 1);
  CHECK(convt3d_problem_check(&good) == CONVT3D_OK);
  convt3d_problem p;

  CHECK(convt3d_problem_check(NULL) == CONVT3D_ERR_INVALID_ARGUMENT);
  p = good, p.dtype = (convt3d_dtype)7, REJECT(p, "dtype");
  p = good, p.input.ndim = 3, REJECT(p, "3-D");
  p = good, p.input.ndim = 6, REJECT(p, "6-D");
  p = good, p.weight.ndim = 4, REJECT(p, "4-D weight");
  p = good, p.input.dims[3] = -1, REJECT(p, "negative");
  p = good, p.weight.dims[4] = -2, REJECT(p, "negative");
  p = good, p.padding[1] = -1, REJECT(p, "padding");
  p = good, p.output_padding[2] = -1, REJECT(p, "output_padding");
  p = good, p.stride[0] = 0, REJECT(p, "stride");
  p = good, p.stride[2] = -3, REJECT(p, "stride");
  p = good, p.dilation[1] = 0, REJECT(p, "dilation");
  p = good, p.groups = 0, REJECT(p, "groups");
  p = good, p.groups = -2, REJECT(p, "groups");
  p = good, p.groups = 3, REJECT(p, "groups = 3");  /* does not divide Cin = 4 */
  p = good, p.groups = 8, REJECT(p, "groups = 8");  /* more groups than channels */
  p = good, p.input.dims[1] = 5, REJECT(p, "5 channels");
  p = good, p.bias.dims[0] = 3, REJECT(p, "bias");  /* Cout is 3 * 2 groups */
  p = good, p.bias.ndim = 2, REJECT(p, "bias");
  p = good, p.bias.ndim = 0, REJECT(p, "bias");
  p = good, p.weight.dims[3] = 0, REJECT(p, "dimension 3");
  p = good, p.weight.dims[1] = 0, p.bias.dims[0] = 0, REJECT(p, "dimension 1");
  p = good, p.input.dims[4] = 0, REJECT(p, "empty");
  p = good, p.output_padding[0] = 2, REJECT(p, "smaller than either stride");
  /* output_padding may reach the stride when the dilation is larger */
  p = good, p.output_padding[0] = 2, p.dilation[0] = 3;
  CHECK(convt3d_problem_check(&p) == CONVT3D_OK);
  /* output size below 1: k1 p1 on a 1-wide input gives -1 */
  int64_t one_in[3] = {1, 1, 1};
  p = make(1, 1, 1, 1, one_in, ONE, ONE, ONE, ZERO, ONE, 0), REJECT(p, "output size");
  p = make(1, 1, 1, 1, one_in, ONE, ONE, (int64_t[3]){0, 0, 1}, ZERO, ONE, 0);
  REJECT(p, "width");
  /* the parameter rules hold for a zero batch too (PyTorch 1.13 skips them there) */
  p = good, p.input.dims[0] = 0, p.dilation[2] = 0, REJECT(p, "dilation");
  p = make(0, 1, 1, 1, one_in, ONE, ONE, ONE, ZERO, ONE, 0), REJECT(p, "output size");

  /* sizes beyond int64: detected, never wrapped */
  p = good, p.stride[0] = INT64_MAX;
  expect_reject(&p, CONVT3D_ERR_TOO_LARGE, "exceeds", __LINE__);
  p = good, p.padding[0] = INT64_MAX;
  REJECT(p, "output size"); /* hugely negative, exactly computed */
  p = good, p.weight.dims[1] = INT64_MAX / 2, p.bias.dims[0] = INT64_MAX / 2 * 2;
  expect_reject(&p, CONVT3D_ERR_TOO_LARGE, "bytes", __LINE__);
  p = good, p.input.dims[0] = INT64_MAX;
  expect_reject(&p, CONVT3D_ERR_TOO_LARGE, "bytes", __LINE__);
}

static void test_output_padding_for_size(void) {
  int64_t in[3] = {5, 5, 5}, k[3] = {3, 3, 3}, s[3] = {2, 3, 1};
  convt3d_problem p = make(1, 2, 2, 1, in, k, s, ONE, ZERO, ONE, 0);
  int64_t op[3] = {-1, -1, -1};
  /* minimum sizes: 8*... (5-1)*2-2+2+1 = 9, (5-1)*3-2+2+1 = 13, 4-2+2+1 = 5 */
  CHECK(convt3d_output_padding_for_size(&p, (int64_t[3]){10, 15, 5}, op) == CONVT3D_OK);
  CHECK(op[0] == 1 && op[1] == 2 && op[2] == 0);
  op[0] = -1;
  CHECK(convt3d_output_padding_for_size(&p, (int64_t[3]){9, 16, 5}, op) ==
        CONVT3D_ERR_INVALID_ARGUMENT);
  CHECK(op[0] == -1 && strstr(convt3d_last_error(), "from (9, 13, 5) to (10, 15, 5)"));
  CHECK(convt3d_output_padding_for_size(&p, (int64_t[3]){9, 13, 6}, op) ==
        CONVT3D_ERR_INVALID_ARGUMENT);
  CHECK(convt3d_output_padding_for_size(&p, (int64_t[3]){8, 13, 5}, op) ==
        CONVT3D_ERR_INVALID_ARGUMENT);
  /* the rest of the problem must still be valid */
  p.groups = 0;
  CHECK(convt3d_output_padding_for_size(&p, (int64_t[3]){9, 13, 5}, op) ==
        CONVT3D_ERR_INVALID_ARGUMENT);
}

/* y = conv_transpose3d along the width axis only, checked against sums done by hand. */
static void test_hand_computed(void) {
  const float x[2] = {1, 2}, w[3] = {1, 10, 100};
  float y[8];
  int64_t in[3] = {1, 1, 2}, k[3] = {1, 1, 3};
  for (int algo = CONVT3D_ALGO_REFERENCE; algo <= CONVT3D_ALGO_TAP_GEMM; algo++) {
    convt3d_plan_options opt = {(convt3d_algorithm)algo, 0, CONVT3D_ISA_AUTO};
    convt3d_plan *plan;
    /* stride 2: x0 covers outputs 0..2, x1 covers 2..4 */
    convt3d_problem p = make(1, 1, 1, 1, in, k, (int64_t[3]){1, 1, 2}, ZERO, ZERO, ONE, 0);
    CHECK(convt3d_plan_create(&p, w, NULL, &opt, &plan) == CONVT3D_OK);
    CHECK(convt3d_plan_execute(plan, x, y) == CONVT3D_OK);
    CHECK(y[0] == 1 && y[1] == 10 && y[2] == 102 && y[3] == 20 && y[4] == 200);
    convt3d_plan_destroy(plan);
    /* padding 1 crops one output at each end; bias is added everywhere */
    p = make(1, 1, 1, 1, in, k, (int64_t[3]){1, 1, 2}, (int64_t[3]){0, 0, 1}, ZERO, ONE, 1);
    const float b = 0.5f;
    CHECK(convt3d_plan_create(&p, w, &b, &opt, &plan) == CONVT3D_OK);
    CHECK(convt3d_plan_execute(plan, x, y) == CONVT3D_OK);
    CHECK(y[0] == 10.5f && y[1] == 102.5f && y[2] == 20.5f);
    convt3d_plan_destroy(plan);
    /* dilation 2: taps at 0, 2, 4 */
    p = make(1, 1, 1, 1, in, k, ONE, ZERO, ZERO, (int64_t[3]){1, 1, 2}, 0);
    CHECK(convt3d_plan_create(&p, w, NULL, &opt, &plan) == CONVT3D_OK);
    CHECK(convt3d_plan_execute(plan, x, y) == CONVT3D_OK);
    CHECK(y[0] == 1 && y[1] == 2 && y[2] == 10 && y[3] == 20 && y[4] == 100 && y[5] == 200);
    convt3d_plan_destroy(plan);
    /* kernel 1, stride 3, output_padding 2: outputs no tap reaches get the bias */
    p = make(1, 1, 1, 1, in, ONE, (int64_t[3]){1, 1, 3}, ZERO, (int64_t[3]){0, 0, 2}, ONE, 1);
    for (int i = 0; i < 8; i++) y[i] = NAN;
    CHECK(convt3d_plan_create(&p, w, &b, &opt, &plan) == CONVT3D_OK);
    CHECK(convt3d_plan_execute(plan, x, y) == CONVT3D_OK);
    CHECK(y[0] == 1.5f && y[1] == 0.5f && y[2] == 0.5f && y[3] == 2.5f && y[4] == 0.5f &&
          y[5] == 0.5f && isnan(y[6]));
    convt3d_plan_destroy(plan);
    /* two groups of one channel each: channel g only sees weight g */
    const float x2[2] = {3, 5}, w2[2] = {2, 7};
    p = make(1, 2, 1, 2, (int64_t[3]){1, 1, 1}, ONE, ONE, ZERO, ZERO, ONE, 0);
    CHECK(convt3d_plan_create(&p, w2, NULL, &opt, &plan) == CONVT3D_OK);
    CHECK(convt3d_plan_execute(plan, x2, y) == CONVT3D_OK);
    CHECK(y[0] == 6 && y[1] == 35);
    convt3d_plan_destroy(plan);
  }
}

/* ---------------------------------------------- direct against the reference */

static uint64_t rng = 12345;
static int64_t rnd(int64_t lo, int64_t hi) { /* uniform in [lo, hi] */
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return lo + (int64_t)(rng % (uint64_t)(hi - lo + 1));
}

/* Runs `algo` on `isa` with `threads` into y pre-filled with NaN. Returns the status, or
 * -1 when the plan did not get the requested instruction set (the CPU lacks it) or the
 * algorithm declines the problem. */
static int run_algo(const convt3d_problem *p, convt3d_algorithm algo, convt3d_isa isa,
                    int threads, const void *x, const void *w, const void *b, void *y,
                    size_t ny) {
  static const char *const isa_names[] = {"", "scalar", "avx2", "avx512"};
  convt3d_plan_options opt = {algo, threads, isa};
  convt3d_plan *plan;
  if (p->dtype == CONVT3D_F32)
    for (size_t i = 0; i < ny; i++) ((float *)y)[i] = NAN;
  else
    for (size_t i = 0; i < ny; i++) ((double *)y)[i] = NAN;
  int s = convt3d_plan_create(p, w, b, &opt, &plan);
  convt3d_plan_info info;
  const int kernels = algo == CONVT3D_ALGO_PHASE || algo == CONVT3D_ALGO_TAP_GEMM ||
                      algo == CONVT3D_ALGO_WINOGRAD;
  /* The Winograd algorithm takes float32 layers whose width axis has kernel 3 stride 1, or
   * kernel 3 or 4 stride 2 without dilation (winograd.c) */
  if (s == CONVT3D_ERR_INVALID_ARGUMENT && algo == CONVT3D_ALGO_WINOGRAD) return -1;
  if (s == CONVT3D_ERR_INVALID_ARGUMENT && kernels) {
    /* beyond the phase algorithm's limits, AUTO takes the direct one; else a real fault */
    convt3d_plan_options auto_opt = {CONVT3D_ALGO_AUTO, 1, CONVT3D_ISA_AUTO};
    convt3d_plan *auto_plan = NULL;
    const int declined = convt3d_plan_create(p, w, b, &auto_opt, &auto_plan) == CONVT3D_OK &&
                          convt3d_plan_get_info(auto_plan, &info) == CONVT3D_OK &&
                          info.algorithm == CONVT3D_ALGO_DIRECT;
    convt3d_plan_destroy(auto_plan);
    if (declined) return -1;
  }
  if (s == CONVT3D_OK && kernels &&
      (convt3d_plan_get_info(plan, &info) != CONVT3D_OK ||
       strcmp(info.isa, isa_names[isa]) != 0))
    s = -1;
  else if (s == CONVT3D_OK)
    s = convt3d_plan_execute(plan, x, y);
  convt3d_plan_destroy(plan);
  return s;
}

static void fill(convt3d_dtype dt, void *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    double v = (double)rnd(-3, 3);
    if (dt == CONVT3D_F32) ((float *)p)[i] = (float)v;
    else ((double *)p)[i] = v;
  }
}

static int skipped_isa_runs;
static int winograd_runs; /* Winograd plans executed (it declines most problems) */

/* Every path on problem pr with small-integer data: every product and partial sum is an
 * integer below 2^24, exact in float32 in any order, so every algorithm, instruction set
 * and thread count must give the reference's result bit for bit. The weights are
 * multiples of 24, which the Winograd algorithm's weight transform (G, whose entries are
 * multiples of 1/24) keeps integers: its transforms are then exact too. */
static void check_all_paths(const convt3d_problem *pr) {
  convt3d_shape out;
  if (convt3d_output_shape(pr, &out) != CONVT3D_OK) return;
  size_t nx = 1, nw = 1, ny = 1, es = convt3d_dtype_size(pr->dtype);
  for (int i = 0; i < pr->input.ndim; i++) nx *= (size_t)pr->input.dims[i];
  for (int i = 0; i < 5; i++) nw *= (size_t)pr->weight.dims[i];
  for (int i = 0; i < out.ndim; i++) ny *= (size_t)out.dims[i];
  size_t nb = (size_t)pr->bias.dims[0];
  char *x = malloc(nx * es + 1), *w = malloc(nw * es), *b = malloc(nb * es);
  /* y1 on a line, as PyTorch's allocator gives: the non-temporal stores need one */
  char *y0 = malloc(ny * es + 1), *y1 = aligned_alloc(64, (ny * es + 64) / 64 * 64);
  fill(pr->dtype, x, nx), fill(pr->dtype, w, nw), fill(pr->dtype, b, nb);
  for (size_t i = 0; i < nw; i++)
    if (pr->dtype == CONVT3D_F32) ((float *)w)[i] *= 24;
    else ((double *)w)[i] *= 24;
  const void *bias = pr->has_bias ? b : NULL;
  char desc[256];
  convt3d_problem_describe(pr, desc, sizeof desc);
  CHECKF(run_algo(pr, CONVT3D_ALGO_REFERENCE, CONVT3D_ISA_AUTO, 1, x, w, bias, y0, ny) == 0,
         "reference failed on %s", desc);
  static const struct {
    convt3d_algorithm algo;
    convt3d_isa isa;
    int threads;
    const char *name;
  } paths[] = {
      {CONVT3D_ALGO_DIRECT, CONVT3D_ISA_AUTO, 1, "direct, 1 thread"},
      {CONVT3D_ALGO_DIRECT, CONVT3D_ISA_AUTO, 3, "direct, 3 threads"},
      {CONVT3D_ALGO_PHASE, CONVT3D_ISA_SCALAR, 1, "phase scalar, 1 thread"},
      {CONVT3D_ALGO_PHASE, CONVT3D_ISA_AVX2, 2, "phase avx2, 2 threads"},
      {CONVT3D_ALGO_PHASE, CONVT3D_ISA_AVX512, 1, "phase avx512, 1 thread"},
      {CONVT3D_ALGO_PHASE, CONVT3D_ISA_AVX512, 2, "phase avx512, 2 threads"},
      {CONVT3D_ALGO_PHASE, CONVT3D_ISA_AVX512, 3, "phase avx512, 3 threads"},
      {CONVT3D_ALGO_TAP_GEMM, CONVT3D_ISA_SCALAR, 1, "tap_gemm scalar, 1 thread"},
      {CONVT3D_ALGO_TAP_GEMM, CONVT3D_ISA_AVX2, 2, "tap_gemm avx2, 2 threads"},
      {CONVT3D_ALGO_TAP_GEMM, CONVT3D_ISA_AVX512, 1, "tap_gemm avx512, 1 thread"},
      {CONVT3D_ALGO_TAP_GEMM, CONVT3D_ISA_AVX512, 3, "tap_gemm avx512, 3 threads"},
      {CONVT3D_ALGO_WINOGRAD, CONVT3D_ISA_SCALAR, 1, "winograd scalar, 1 thread"},
      {CONVT3D_ALGO_WINOGRAD, CONVT3D_ISA_AVX2, 2, "winograd avx2, 2 threads"},
      {CONVT3D_ALGO_WINOGRAD, CONVT3D_ISA_AVX512, 1, "winograd avx512, 1 thread"},
      {CONVT3D_ALGO_WINOGRAD, CONVT3D_ISA_AVX512, 3, "winograd avx512, 3 threads"},
  };
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
    int s = run_algo(pr, paths[i].algo, paths[i].isa, paths[i].threads, x, w, bias, y1, ny);
    if (s == -1) {
      skipped_isa_runs++;
      continue;
    }
    if (paths[i].algo == CONVT3D_ALGO_WINOGRAD) winograd_runs++;
    CHECKF(s == 0 && memcmp(y0, y1, ny * es) == 0, "%s != reference for %s",
           paths[i].name, desc);
  }
  free(x), free(w), free(b), free(y0), free(y1);
}

/* Random sizes per axis: input 1..in_max, kernel 1..4, stride 1..3, padding 0..3,
 * dilation 1..2, and an output_padding PyTorch accepts (below the stride or the
 * dilation). */
static void random_axes(int64_t in_max, int64_t in[3], int64_t k[3], int64_t s[3],
                        int64_t p[3], int64_t op[3], int64_t d[3]) {
  for (int a = 0; a < 3; a++) {
    in[a] = rnd(1, in_max), k[a] = rnd(1, 4), s[a] = rnd(1, 3), d[a] = rnd(1, 2);
    p[a] = rnd(0, 3);
    op[a] = rnd(0, (s[a] > d[a] ? s[a] : d[a]) - 1);
  }
}

/* iters random single-group problems (1-2 samples, 1-6 input channels, 1-cout_max output
 * channels, axes up to in_max, bias or not), their width axis redrawn by `width`, through
 * check_all_paths; returns how many were valid. */
static int check_random_problems(int iters, int64_t in_max, int64_t cout_max,
                                 void (*width)(int64_t *in, int64_t *k, int64_t *s,
                                               int64_t *p, int64_t *op, int64_t *d)) {
  int configs = 0;
  for (int iter = 0; iter < iters; iter++) {
    int64_t in[3], k[3], s[3], p[3], op[3], d[3];
    random_axes(in_max, in, k, s, p, op, d);
    width(&in[2], &k[2], &s[2], &p[2], &op[2], &d[2]);
    convt3d_problem pr = make(rnd(1, 2), rnd(1, 6), rnd(1, cout_max), 1, in, k, s, p, op,
                              d, (int)rnd(0, 1));
    if (convt3d_problem_check(&pr) != CONVT3D_OK) continue; /* output too small */
    configs++;
    check_all_paths(&pr);
  }
  return configs;
}

/* Width axes for check_random_problems: rows of one to five 12-wide tiles, any taps; and
 * kernel = stride = 2 without padding on rows of 1-40 (the fused tiles). */
static void rows_of_tiles(int64_t *in, int64_t *k, int64_t *s, int64_t *p, int64_t *op,
                          int64_t *d) {
  (void)k, (void)s, (void)p, (void)op, (void)d;
  *in = rnd(1, 30);
}
static void width_k2s2(int64_t *in, int64_t *k, int64_t *s, int64_t *p, int64_t *op,
                       int64_t *d) {
  *in = rnd(1, 40), *k = 2, *s = 2, *p = 0, *op = 0, *d = 1;
}

/* Random small problems, with a share of wide rows (micro-kernel tails along the width),
 * many channels (channel-block tails) and deep reductions (input-channel blocking). */
static void test_paths_match_reference(void) {
  int configs = 0;
  for (int iter = 0; iter < 700; iter++) {
    int64_t g = rnd(1, 3), in[3], k[3], s[3], p[3], op[3], d[3];
    random_axes(5, in, k, s, p, op, d);
    int64_t cin_g = rnd(1, 3), cout_g = rnd(1, 3);
    if (iter % 7 == 0) in[2] = rnd(30, 150); /* rows longer than one 64-wide tile */
    if (iter % 5 == 0) cout_g = rnd(4, 14);  /* several channel blocks, with a tail */
    convt3d_problem pr =
        make(rnd(-1, 2), g * cin_g, cout_g, g, in, k, s, p, op, d, (int)rnd(0, 1));
    pr.dtype = iter % 2 ? CONVT3D_F64 : CONVT3D_F32;
    if (convt3d_problem_check(&pr) != CONVT3D_OK) continue; /* output too small */
    configs++;
    check_all_paths(&pr);
  }
  CHECKF(configs > 350, "only %d valid random configurations", configs);
  /* A reduction too deep for one packed block: 1000 channels x 27 taps (phase.c's budgets
   * allow about 400). */
  int64_t in[3] = {3, 3, 20}, k[3] = {3, 3, 3};
  convt3d_problem pr = make(1, 1000, 7, 1, in, k, ONE, ONE, ZERO, ONE, 1);
  check_all_paths(&pr);
  pr.dtype = CONVT3D_F64;
  check_all_paths(&pr);
  /* Output tiles too many to accumulate at once: 40 channels x 4 phases x 500 positions
   * are computed in channel chunks. */
  int64_t in2[3] = {2, 12, 40}, k2[3] = {2, 3, 3}, s2[3] = {1, 2, 2};
  pr = make(2, 5, 40, 1, in2, k2, s2, ONE, ZERO, ONE, 1);
  check_all_paths(&pr);
  /* Planes whose rows are one or two position vectors (16, 32) wide: tiles stack rows. */
  int64_t in4[3] = {3, 8, 16}, k4[3] = {4, 4, 4}, s4[3] = {2, 2, 2};
  pr = make(2, 8, 13, 1, in4, k4, s4, ONE, ZERO, ONE, 1);
  check_all_paths(&pr);
  in4[2] = 32;
  pr = make(1, 4, 7, 1, in4, k4, s4, ONE, ZERO, ONE, 0);
  check_all_paths(&pr);
  /* Kernel = stride = 2 along the width on rows of 16, 48, 21 and 3 positions: fused
   * tiles that write both width phases straight to the output (with a channel-block
   * tail and partial tiles). */
  int64_t in6[3] = {3, 4, 16}, k6[3] = {2, 3, 2}, s6[3] = {2, 1, 2}, p6[3] = {0, 1, 0};
  pr = make(2, 6, 13, 2, in6, k6, s6, p6, ZERO, ONE, 1);
  check_all_paths(&pr);
  in6[2] = 48;
  pr = make(1, 8, 7, 1, in6, k6, s6, p6, ZERO, ONE, 0);
  check_all_paths(&pr);
  in6[2] = 21; /* a partial last tile of 5 positions (10 outputs) per row */
  pr = make(2, 5, 9, 1, in6, k6, s6, p6, ZERO, ONE, 1);
  check_all_paths(&pr);
  in6[2] = 3;
  pr = make(1, 4, 6, 2, in6, k6, s6, p6, ZERO, ONE, 1);
  check_all_paths(&pr);
  /* Few tasks that do not deal evenly to the threads (5 blocks of output channels, one
   * band of slices: 3 + 2 blocks for 2 threads): the forward halves its slice bands and
   * channel chunks until the busiest thread's share is least (phase.c, balanced_tasks);
   * 1, 2 and 3 threads give the reference's result. */
  int64_t in17[3] = {5, 6, 5}, k17[3] = {1, 2, 2}, s17[3] = {1, 2, 2};
  pr = make(2, 8, 30, 1, in17, k17, s17, ZERO, ZERO, ONE, 1);
  check_all_paths(&pr);
  pr = make(1, 6, 320, 1, (int64_t[3]){2, 3, 5}, k17, s17, ZERO, ZERO, ONE, 1);
  check_all_paths(&pr);
  /* Beyond the phase algorithm's limits (1025 taps along the width; a dilation far beyond
   * the stride): the plan falls back to the direct algorithm, with the same results. */
  int64_t in7[3] = {1, 1, 3}, k7[3] = {1, 1, 1025};
  pr = make(1, 2, 2, 1, in7, k7, ONE, ZERO, ZERO, ONE, 1);
  check_all_paths(&pr);
  int64_t k8[3] = {1, 1, 3}, d8[3] = {1, 1, 3000};
  pr = make(1, 2, 2, 1, in7, k8, ONE, ZERO, ZERO, d8, 0);
  check_all_paths(&pr);
  for (int i = 0; i < 2; i++) {
    float *w0 = calloc(2 * 2 * 1025, sizeof *w0), b0[2] = {0, 0};
    pr = i == 0 ? make(1, 2, 2, 1, in7, k7, ONE, ZERO, ZERO, ONE, 1)
                : make(1, 2, 2, 1, in7, k8, ONE, ZERO, ZERO, d8, 1);
    convt3d_plan *fallback;
    convt3d_plan_info fi;
    CHECK(convt3d_plan_create(&pr, w0, b0, NULL, &fallback) == CONVT3D_OK &&
          convt3d_plan_get_info(fallback, &fi) == CONVT3D_OK &&
          fi.algorithm == CONVT3D_ALGO_DIRECT);
    convt3d_plan_destroy(fallback);
    free(w0);
  }
  /* Few positions, many channels: kernels that vectorise along channels, with a block
   * tail (70 = 64 + 6, 2 groups of 35). */
  int64_t in3[3] = {3, 3, 3}, k3[3] = {3, 3, 3}, s3[3] = {2, 2, 2};
  pr = make(1, 8, 70, 1, in3, k3, s3, ONE, ZERO, ONE, 1);
  check_all_paths(&pr);
  pr = make(2, 12, 35, 2, in3, k3, s3, ONE, ONE, ONE, 0);
  check_all_paths(&pr);
  convt3d_plan *plan;
  float *w = calloc(8 * 70 * 27, sizeof *w);
  pr = make(1, 8, 70, 1, in3, k3, s3, ONE, ZERO, ONE, 0);
  convt3d_plan_options opt = {CONVT3D_ALGO_PHASE, 1, CONVT3D_ISA_AVX512};
  convt3d_plan_info info;
  CHECK(convt3d_plan_create(&pr, w, NULL, &opt, &plan) == CONVT3D_OK &&
        convt3d_plan_get_info(plan, &info) == CONVT3D_OK);
  CHECKF(strcmp(info.isa, "avx512") != 0 || strstr(info.kernel, "_64x"),
         "a channel-vectorised kernel should be picked, not %s", info.kernel);
  convt3d_plan_destroy(plan);
  free(w);
  /* The tap-GEMM algorithm on the shapes that exercise its limits: a plane whose last tile
   * is partial (5 x 23 positions), a reduction blocked by input channels (400 channels x
   * 3 depth taps), S split into bands of rows (75 GEMM rows of 200-wide rows, 30 rows),
   * strides 3 and dilations; and AUTO's choice of it for few output channels. */
  int64_t in9[3] = {3, 5, 23}, k9[3] = {4, 4, 4}, s9[3] = {2, 2, 2};
  pr = make(2, 20, 1, 1, in9, k9, s9, ONE, ZERO, ONE, 1);
  check_all_paths(&pr);
  pr = make(1, 32, 3, 2, in9, k9, (int64_t[3]){1, 3, 3}, (int64_t[3]){0, 2, 1},
            (int64_t[3]){0, 1, 2}, (int64_t[3]){2, 1, 2}, 0);
  check_all_paths(&pr);
  int64_t in10[3] = {2, 3, 20}, k10[3] = {3, 3, 3};
  pr = make(1, 400, 2, 1, in10, k10, ONE, ONE, ZERO, ONE, 1);
  check_all_paths(&pr);
  int64_t in11[3] = {1, 30, 200}, k11[3] = {1, 5, 5};
  pr = make(1, 16, 3, 1, in11, k11, ONE, (int64_t[3]){0, 2, 2}, ZERO, ONE, 1);
  check_all_paths(&pr);
  pr.dtype = CONVT3D_F64;
  check_all_paths(&pr);
  pr = make(1, 16, 3, 1, in9, k9, s9, ONE, ZERO, ONE, 0);
  w = calloc(16 * 6 * 64, sizeof *w);
  opt = (convt3d_plan_options){CONVT3D_ALGO_AUTO, 1, CONVT3D_ISA_AUTO};
  CHECK(convt3d_plan_create(&pr, w, NULL, &opt, &plan) == CONVT3D_OK &&
        convt3d_plan_get_info(plan, &info) == CONVT3D_OK &&
        info.algorithm == CONVT3D_ALGO_TAP_GEMM);
  convt3d_plan_destroy(plan);
  pr = make(1, 16, 8, 1, in9, (int64_t[3]){3, 1, 1}, s9, ONE, ZERO, ONE, 0); /* 1x1 plane */
  CHECK(convt3d_plan_create(&pr, w, NULL, &opt, &plan) == CONVT3D_OK &&
        convt3d_plan_get_info(plan, &info) == CONVT3D_OK &&
        info.algorithm == CONVT3D_ALGO_TAP_GEMM);
  convt3d_plan_destroy(plan);
  pr = make(1, 16, 6, 1, in9, k9, s9, ONE, ZERO, ONE, 0); /* six channels: the phase tiles */
  CHECK(convt3d_plan_create(&pr, w, NULL, &opt, &plan) == CONVT3D_OK &&
        convt3d_plan_get_info(plan, &info) == CONVT3D_OK &&
        info.algorithm == CONVT3D_ALGO_PHASE);
  convt3d_plan_destroy(plan);
  /* A pointwise layer that the phase algorithm takes in place (pointwise.c: kernel 1, at
   * least 16384 positions, AVX-512) goes there rather than to the tap-GEMM algorithm, for
   * 1-8 output channels; without the AVX-512 tile, and on fewer positions, tap_gemm. */
  int64_t in_pw[3] = {16, 32, 32};
  for (int64_t cout = 1; cout <= 8; cout += 7)
    for (int isa = 0; isa < 2; isa++)
      for (int small = 0; small < 2; small++) {
        pr = make(1, 16, cout, 1, small ? in10 : in_pw, ONE, ONE, ZERO, ZERO, ONE, 0);
        opt = (convt3d_plan_options){CONVT3D_ALGO_AUTO, 1,
                                     isa ? CONVT3D_ISA_AVX2 : CONVT3D_ISA_AUTO};
        CHECK(convt3d_plan_create(&pr, w, NULL, &opt, &plan) == CONVT3D_OK &&
              convt3d_plan_get_info(plan, &info) == CONVT3D_OK);
        const int in_place = !isa && !small && strcmp(info.isa, "avx512") == 0;
        CHECKF(info.algorithm == (in_place ? CONVT3D_ALGO_PHASE : CONVT3D_ALGO_TAP_GEMM),
               "AUTO took %s for 16 -> %d pointwise (isa %s, %s)",
               convt3d_algorithm_name(info.algorithm), (int)cout, info.isa,
               small ? "120 positions" : "16384 positions");
        CHECKF(in_place == (strcmp(info.kernel, "f32_pointwise_avx512") == 0),
               "16 -> %d pointwise (isa %s): kernel %s", (int)cout, info.isa, info.kernel);
        convt3d_plan_destroy(plan);
        /* grad_input of the same layer (16 outputs over a reduction of cout) */
        CHECK(convt3d_plan_create_backward_data(&pr, w, &opt, &plan) == CONVT3D_OK &&
              convt3d_plan_get_info(plan, &info) == CONVT3D_OK);
        CHECKF(in_place == (strcmp(info.kernel, "f32_pointwise_avx512") == 0),
               "grad_input of 16 -> %d pointwise (isa %s): kernel %s", (int)cout, info.isa,
               info.kernel);
        convt3d_plan_destroy(plan);
      }
  free(w);
  /* One input voxel (voxel.c): one GEMM over (channel, tap) columns, in blocks of 64 with
   * a narrow last block (7 x 64 = 448 columns; 90 = 64 + 26; 45; 3 x 40 = 120 per
   * group), batches of 1 to 6 samples in one tile and 7 or 13 (a short last chunk),
   * unbatched, groups, with and without bias; strides do not matter with one voxel. */
  int64_t k13[3] = {4, 4, 4}, k14[3] = {3, 2, 5}, k15[3] = {2, 3, 3}, k16[3] = {1, 5, 8};
  const struct {
    int64_t n, cin, cout_g, groups;
    const int64_t *k;
    int bias;
  } voxel[] = {{2, 5, 7, 1, k13, 1},   {1, 3, 3, 1, k14, 0}, {7, 4, 5, 2, k15, 1},
               {13, 6, 3, 3, k16, 1},  {-1, 9, 4, 1, k14, 1}, {6, 2, 1, 1, k13, 0},
               {3, 40, 2, 1, k16, 1},  {5, 1, 1, 1, ONE, 1}};
  for (size_t i = 0; i < sizeof voxel / sizeof voxel[0]; i++) {
    pr = make(voxel[i].n, voxel[i].cin, voxel[i].cout_g, voxel[i].groups, ONE, voxel[i].k,
              s9, ZERO, ZERO, ONE, voxel[i].bias);
    check_all_paths(&pr);
  }
  /* the tile is as wide as the batch, up to 6 samples */
  w = calloc(5 * 7 * 64, sizeof *w);
  pr = make(2, 5, 7, 1, ONE, k13, s9, ZERO, ZERO, ONE, 0);
  opt = (convt3d_plan_options){CONVT3D_ALGO_PHASE, 1, CONVT3D_ISA_AVX512};
  CHECK(convt3d_plan_create(&pr, w, NULL, &opt, &plan) == CONVT3D_OK &&
        convt3d_plan_get_info(plan, &info) == CONVT3D_OK);
  CHECKF(strcmp(info.isa, "avx512") != 0 || strstr(info.kernel, "_64x2_"),
         "one voxel, two samples: the 64x2 tile should be picked, not %s", info.kernel);
  convt3d_plan_destroy(plan);
  free(w);
  /* Kernel = stride on input planes of 16 positions or fewer (patch.c): one GEMM per
   * group over every input voxel, columns (channel, tap) in blocks of the tile's rows.
   * Kernel 2^3 (8 taps: units of 6 channels, 20 = 3 units + 2), (1, 2, 2) (4 taps), 3^3
   * (27 taps: units of 2 channels, narrow last blocks), kernel 3 stride 1 along a depth
   * of one voxel, rows of 16; chunks of rows that cross samples (2048 input channels in
   * rows of 4: 8 rows per chunk of 60 rows), groups, unbatched, with and without bias. */
  const struct {
    int64_t n, cin, cout_g, groups, in[3], k[3], s[3];
    int bias;
  } patch[] = {
      {1, 24, 20, 1, {3, 3, 3}, {2, 2, 2}, {2, 2, 2}, 1},
      {2, 10, 7, 2, {4, 4, 4}, {2, 2, 2}, {2, 2, 2}, 0},
      {2, 16, 13, 1, {5, 2, 3}, {1, 2, 2}, {1, 2, 2}, 1},
      {3, 6, 5, 3, {2, 3, 2}, {3, 3, 3}, {3, 3, 3}, 1},
      {-1, 9, 11, 1, {1, 4, 4}, {3, 2, 4}, {1, 2, 4}, 1},
      {3, 2048, 3, 1, {5, 4, 4}, {2, 2, 2}, {2, 2, 2}, 1},
      {2, 5, 1, 1, {7, 1, 16}, {2, 1, 2}, {2, 1, 2}, 0},
  };
  for (size_t i = 0; i < sizeof patch / sizeof patch[0]; i++) {
    pr = make(patch[i].n, patch[i].cin, patch[i].cout_g, patch[i].groups, patch[i].in,
              patch[i].k, patch[i].s, ZERO, ZERO, ONE, patch[i].bias);
    check_all_paths(&pr);
  }
  /* Overlapping patches (kernel > stride somewhere, no padding): the cut's GEMM, then
   * each tap's columns added to the outputs, chunks of whole samples. Kernel 4 stride 2
   * (64 taps: units of 3 channels, 7 = 3 + 3 + 1), kernel 3 stride 1 with groups, kernel
   * 3 stride 2 with output padding, dilation with kernel = stride on another axis, kernel
   * 4 stride 3 and kernel 1 along an axis unbatched, and one sample per chunk (1024 input
   * channels: 3 chunks). */
  const struct {
    int64_t n, cin, cout_g, groups, in[3], k[3], s[3], op[3], d[3];
    int bias;
  } overlap[] = {
      {2, 8, 7, 1, {4, 4, 4}, {4, 4, 4}, {2, 2, 2}, {0, 0, 0}, {1, 1, 1}, 1},
      {1, 6, 5, 2, {3, 2, 4}, {3, 3, 3}, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}, 0},
      {3, 5, 4, 1, {2, 4, 3}, {3, 3, 3}, {2, 2, 2}, {1, 0, 1}, {1, 1, 1}, 1},
      {2, 4, 3, 1, {3, 3, 3}, {2, 2, 2}, {1, 2, 2}, {0, 0, 0}, {2, 1, 3}, 1},
      {-1, 7, 6, 1, {5, 2, 2}, {4, 1, 4}, {3, 1, 2}, {0, 0, 1}, {1, 1, 1}, 1},
      {3, 1024, 2, 1, {4, 4, 4}, {3, 3, 3}, {2, 2, 2}, {0, 0, 0}, {1, 1, 1}, 1},
  };
  for (size_t i = 0; i < sizeof overlap / sizeof overlap[0]; i++) {
    pr = make(overlap[i].n, overlap[i].cin, overlap[i].cout_g, overlap[i].groups,
              overlap[i].in, overlap[i].k, overlap[i].s, ZERO, overlap[i].op, overlap[i].d,
              overlap[i].bias);
    check_all_paths(&pr);
  }
  /* SwinUNETR's deepest decoder layer (768 -> 384 on 3^3) goes through the cut, with a
   * positions-in-lanes tile of 32 for its 27 positions (the phase algorithm proper takes
   * a channels-in-lanes one). */
  int64_t in18[3] = {3, 3, 3}, k18[3] = {2, 2, 2};
  pr = make(1, 768, 384, 1, in18, k18, k18, ZERO, ZERO, ONE, 0);
  w = calloc((size_t)768 * 384 * 8, sizeof *w);
  opt = (convt3d_plan_options){CONVT3D_ALGO_AUTO, 1, CONVT3D_ISA_AVX512};
  CHECK(convt3d_plan_create(&pr, w, NULL, &opt, &plan) == CONVT3D_OK &&
        convt3d_plan_get_info(plan, &info) == CONVT3D_OK &&
        info.algorithm == CONVT3D_ALGO_PHASE);
  CHECKF(strcmp(info.isa, "avx512") != 0 || strstr(info.kernel, "_6x32_"),
         "kernel = stride on 3^3: the 6x32 tile should be picked, not %s", info.kernel);
  convt3d_plan_destroy(plan);
  free(w);
  /* Kernel 4 stride 2 (no padding), 256 -> 256 on 4^3, 4 samples: overlapping patches,
   * all 256 positions in 6x64 tiles (the phase algorithm proper takes a channels-in-lanes
   * tile for rows of 5). */
  pr = make(4, 256, 256, 1, (int64_t[3]){4, 4, 4}, k4, s4, ZERO, ZERO, ONE, 0);
  w = calloc((size_t)256 * 256 * 64, sizeof *w);
  CHECK(convt3d_plan_create(&pr, w, NULL, &opt, &plan) == CONVT3D_OK &&
        convt3d_plan_get_info(plan, &info) == CONVT3D_OK &&
        info.algorithm == CONVT3D_ALGO_PHASE);
  CHECKF(strcmp(info.isa, "avx512") != 0 || strstr(info.kernel, "_6x64_"),
         "kernel 4 stride 2 on 4^3: the 6x64 tile should be picked, not %s", info.kernel);
  convt3d_plan_destroy(plan);
  free(w);
  /* One input channel, 64 output channels, 64 x 4 x 4 voxels per sample, 16 samples: the
   * chunks are cut by the task's columns too (48 of them over 16 384 positions would take
   * 3 MiB), so each thread's workspace stays within 1 MiB; and the result is right. */
  pr = make(16, 1, 64, 1, (int64_t[3]){64, 4, 4}, k18, k18, ZERO, ZERO, ONE, 1);
  check_all_paths(&pr);
  w = calloc(64 * 8, sizeof *w);
  opt = (convt3d_plan_options){CONVT3D_ALGO_PHASE, 2, CONVT3D_ISA_AUTO};
  CHECK(convt3d_plan_create(&pr, w, w, &opt, &plan) == CONVT3D_OK &&
        convt3d_plan_get_info(plan, &info) == CONVT3D_OK);
  CHECKF(info.workspace_bytes <= ((size_t)2 << 20),
         "the patch cut's workspace for 2 threads: %zu bytes", info.workspace_bytes);
  convt3d_plan_destroy(plan);
  free(w);
  /* Kernel = stride = 2 with an output over 64 MiB (9 x 128^3 floats): the fused tiles
   * write it with non-temporal stores. */
  int64_t in12[3] = {64, 64, 64}, k12[3] = {2, 2, 2};
  pr = make(1, 2, 9, 1, in12, k12, k12, ZERO, ZERO, ONE, 1);
  check_all_paths(&pr);
  /* Width stride 1 with outputs over 64 MiB: the scatter streams whole rows, band by band
   * (kernel 1 with 65 output channels, one more than the pointwise cut takes: 65 x 16 x
   * 128 x 132 floats; height kernel = stride = 2: each phase's rows two apart, 17 x 64 x
   * 128 x 128). */
  int64_t in20[3] = {16, 128, 132}, in21[3] = {64, 64, 128}, k21[3] = {1, 2, 1};
  pr = make(1, 2, 65, 1, in20, ONE, ONE, ZERO, ZERO, ONE, 1);
  check_all_paths(&pr);
  pr = make(1, 3, 17, 1, in21, k21, k21, ZERO, ZERO, ONE, 0);
  check_all_paths(&pr);
  if (skipped_isa_runs)
    printf("test_api: %d runs skipped: ISA not on this CPU, or phase declines\n",
           skipped_isa_runs);
}

/* The fused kernel = stride = 2 width tiles (phase_impl.h), forced on, over runs of rows
 * tiled as one sequence: rows of 8 and 20 (vectors that end one output row and start the
 * next), 9 and 13 (parts that start past lane 0), 7 (too short: one row at a time);
 * height kernel 3 stride 1 padding 1 (the first and last rows tiled alone, with the taps
 * that exist), height output padding (a last row no tap reaches), height kernel 1 stride
 * 2 (a phase without taps), depth taps that vary by slice, tall planes cut into bands;
 * random problems; and an output over 64 MiB with rows of 101 (streamed stores beside
 * masked ones). */
static void test_fused_width2_runs(void) {
  static const char *const tiles[] = {"f32_brgemm_6x32_avx512", "f32_brgemm_6x16_avx512"};
  const struct {
    int64_t n, cin, cout_g, groups, in[3], k[3], s[3], p[3], op[3];
    int bias;
  } cases[] = {
      {2, 5, 7, 1, {2, 3, 8}, {2, 2, 2}, {2, 2, 2}, {0, 0, 0}, {0, 0, 0}, 1},
      {1, 4, 13, 2, {2, 5, 20}, {2, 2, 2}, {2, 2, 2}, {0, 0, 0}, {0, 0, 0}, 0},
      {2, 3, 6, 1, {1, 4, 9}, {2, 2, 2}, {2, 2, 2}, {0, 0, 0}, {0, 0, 0}, 1},
      {-1, 6, 9, 1, {3, 3, 13}, {2, 2, 2}, {2, 2, 2}, {0, 0, 0}, {0, 0, 0}, 1},
      {1, 2, 5, 1, {2, 4, 7}, {2, 2, 2}, {2, 2, 2}, {0, 0, 0}, {0, 0, 0}, 1},
      {2, 4, 8, 1, {2, 5, 20}, {2, 3, 2}, {2, 1, 2}, {0, 1, 0}, {0, 0, 0}, 1},
      {1, 3, 7, 1, {2, 4, 9}, {2, 3, 2}, {1, 1, 2}, {0, 1, 0}, {0, 0, 0}, 0},
      {2, 4, 6, 1, {2, 3, 12}, {2, 2, 2}, {2, 2, 2}, {0, 0, 0}, {0, 1, 0}, 1},
      {1, 5, 7, 1, {2, 4, 10}, {2, 1, 2}, {2, 2, 2}, {0, 0, 0}, {0, 1, 0}, 1},
      {2, 3, 7, 1, {4, 3, 9}, {3, 2, 2}, {2, 2, 2}, {1, 0, 0}, {1, 0, 0}, 1},
      {1, 2, 5, 1, {2, 40, 17}, {2, 2, 2}, {2, 2, 2}, {0, 0, 0}, {0, 0, 0}, 1},
  };
  for (size_t t = 0; t < 2; t++) {
    setenv("CONVT3D_KERNEL", tiles[t], 1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
      convt3d_problem pr = make(cases[i].n, cases[i].cin * cases[i].groups, cases[i].cout_g,
                                cases[i].groups, cases[i].in, cases[i].k, cases[i].s,
                                cases[i].p, cases[i].op, ONE, cases[i].bias);
      CHECKF(convt3d_problem_check(&pr) == CONVT3D_OK, "fused case %zu is invalid", i);
      check_all_paths(&pr);
    }
  }
  setenv("CONVT3D_KERNEL", tiles[0], 1);
  const int configs = check_random_problems(120, 5, 14, width_k2s2);
  CHECKF(configs > 50, "only %d valid random configurations", configs);
  int64_t in[3] = {90, 90, 101}, k[3] = {2, 2, 2};
  convt3d_problem pr = make(1, 2, 3, 1, in, k, k, ZERO, ZERO, ONE, 1);
  check_all_paths(&pr);
  unsetenv("CONVT3D_KERNEL");
}

/* Random floats in [-1, 1) through the Winograd algorithm on 64 -> 16 channels, 3x4x9
 * inputs, kernel 3 in depth and height and kw along the width (stride sw, padding pw),
 * against the float64 reference: each output within the bound of the algorithm's
 * rounding, c (the largest sum over points of |A^T| |G| |B^T| products: 32/3 for F(4, 3),
 * 6 for F(4, 2)) x (K + 16) x 2^-24 x S, S = the bias + the sum over channels and (kd, kh)
 * of (sum of |w| over kw) x (sum of |x| over the input columns the output's tile reads: 6
 * for F(4, 3), the phase's 5 for F(4, 2)); K = Cin * kD * kH terms per point. */
static void check_winograd_bound(int kw, int sw, int pw, int dw, double c) {
  enum { CI = 64, CO = 16, D = 3, H = 4, W = 9, OD = 5, OH = 6, OWMAX = 19 };
  const int ow_n = (W - 1) * sw - 2 * pw + dw * (kw - 1) + 1;
  static float xf[CI * D * H * W], wf[CI * CO * 9 * 4], yf[CO * OD * OH * OWMAX];
  static double xd[CI * D * H * W], wd[CI * CO * 9 * 4], yr[CO * OD * OH * OWMAX];
  float bf[CO];
  double bd[CO];
  const int nw = CI * CO * 9 * kw, ny = CO * OD * OH * ow_n;
  for (int i = 0; i < CI * D * H * W; i++) xd[i] = xf[i] = (float)rnd(-1000, 999) / 1000;
  for (int i = 0; i < nw; i++) wd[i] = wf[i] = (float)rnd(-1000, 999) / 1000;
  for (int i = 0; i < CO; i++) bd[i] = bf[i] = (float)rnd(-1000, 999) / 1000;
  const int64_t k[3] = {3, 3, kw}, s[3] = {1, 1, sw}, p[3] = {0, 0, pw}, d[3] = {1, 1, dw};
  convt3d_problem pr = make(1, CI, CO, 1, (int64_t[3]){D, H, W}, k, s, p, ZERO, d, 1);
  pr.dtype = CONVT3D_F64;
  CHECK(run_algo(&pr, CONVT3D_ALGO_REFERENCE, CONVT3D_ISA_AUTO, 1, xd, wd, bd, yr, ny) == 0);
  pr.dtype = CONVT3D_F32;
  int outside = 0, runs = 0;
  double worst = 0;
  for (int isa = CONVT3D_ISA_SCALAR; isa <= CONVT3D_ISA_AVX512; isa++) {
    const int st = run_algo(&pr, CONVT3D_ALGO_WINOGRAD, (convt3d_isa)isa, 2, xf, wf, bf, yf, ny);
    CHECK(st == 0 || st == -1);
    if (st != 0) continue;
    runs++;
    for (int co = 0; co < CO; co++)
      for (int od = 0; od < OD; od++)
        for (int oh = 0; oh < OH; oh++)
          for (int ow = 0; ow < ow_n; ow++) {
            /* the tile's input columns: F(4, 3) c0 + pw + (l - 2)*dw, l < 6, its first
             * output c0 = ow % dw + (ow / dw) / 4 * 4*dw; F(4, 2) phase b 4t + floor((b +
             * pw) / 2) - 1 + l, l < 5 */
            const int first = sw == 1 ? ow % dw + ow / dw / 4 * 4 * dw + pw - 2 * dw
                                      : ow / 8 * 4 + (ow % 2 + pw) / 2 - 1;
            const int cols = sw == 1 ? 6 : 5, step = sw == 1 ? dw : 1;
            double sum = fabs(bf[co]);
            for (int ci = 0; ci < CI; ci++)
              for (int kd = 0; kd < 3; kd++)
                for (int kh = 0; kh < 3; kh++) {
                  const int id = od - kd, ih = oh - kh;
                  if (id < 0 || id >= D || ih < 0 || ih >= H) continue;
                  double sw_abs = 0, sx = 0;
                  for (int t = 0; t < kw; t++)
                    sw_abs += fabs(wf[(((ci * CO + co) * 3 + kd) * 3 + kh) * kw + t]);
                  for (int l = 0; l < cols; l++) {
                    const int col = first + l * step;
                    if (col >= 0 && col < W) sx += fabs(xf[((ci * D + id) * H + ih) * W + col]);
                  }
                  sum += sw_abs * sx;
                }
            const int i = ((co * OD + od) * OH + oh) * ow_n + ow;
            const double bound = c * (CI * 9 + 16) * 0x1p-24 * sum;
            const double err = fabs(yf[i] - yr[i]);
            outside += !(err <= bound);
            worst = err / bound > worst ? err / bound : worst;
          }
  }
  CHECK(runs >= 1);
  CHECKF(outside == 0,
         "kernel %d stride %d dilation %d: %d outputs beyond the error bound (worst %.2f)", kw,
         sw, dw, outside, worst);
  printf("test_api: Winograd's worst error on random data, kernel %d stride %d dilation %d: "
         "%.4f of its bound\n", kw, sw, dw, worst);
}

/* The Winograd algorithm (winograd.c), bit for bit against the reference on integer data
 * (check_all_paths): for kernel 3 stride 1 (F(4, 3)) every row width from 1 to 14 (tiles
 * of 4 with every remainder) at every width padding that leaves an output, and for kernel
 * 4 stride 2 (F(4, 2) per phase) every row width 1-14 at width paddings 0-3 and output
 * paddings 0-1; random depth and height axes, groups, unbatched inputs and bias;
 * transforms cut into chunks of slices with a shorter last one; inputs with an infinity
 * or a NaN (computed by the direct algorithm from the weights the plan keeps); random
 * float data within each form's error bound; and AUTO's choice of it. */
/* A random problem (2-3 input rows per sample: Winograd declines one) whose width axis is
 * w inputs, kernel kw, stride sw, padding pw, output padding opw and dilation dw, through
 * every path; 1 if it was valid (an output), else 0. */
static int check_winograd_row(int64_t w, int64_t kw, int64_t sw, int64_t pw, int64_t opw,
                              int64_t dw) {
  int64_t in[3], k[3], s[3], p[3], op[3], d[3];
  random_axes(3, in, k, s, p, op, d);
  in[1] = rnd(2, 3);
  in[2] = w, k[2] = kw, s[2] = sw, p[2] = pw, op[2] = opw, d[2] = dw;
  const int64_t g = rnd(1, 2);
  convt3d_problem pr = make(rnd(-1, 2), g * rnd(1, 3), rnd(1, 5), g, in, k, s, p, op, d,
                            (int)rnd(0, 1));
  if (convt3d_problem_check(&pr) != CONVT3D_OK) return 0; /* output too small */
  check_all_paths(&pr);
  return 1;
}

static void test_winograd(void) {
  const int before = winograd_runs;
  int configs = 0;
  for (int64_t w = 1; w <= 14; w++)
    for (int64_t pw = 0; pw <= 3; pw++) configs += check_winograd_row(w, 3, 1, pw, 0, 1);
  /* Kernel 4 stride 2 (two F(4, 2), one per width phase): every row width 1-14 at every
   * width padding and output padding that leaves an output */
  for (int64_t w = 1; w <= 14; w++)
    for (int64_t pw = 0; pw <= 3; pw++)
      for (int64_t opw = 0; opw <= 1; opw++) configs += check_winograd_row(w, 4, 2, pw, opw, 1);
  /* Kernel 3 stride 2 (F(4, 2) on the phase of taps 0 and 2, the middle tap's phase as it
   * is): every row width 1-14 at width padding 0-2 and output padding 0-1 */
  for (int64_t w = 1; w <= 14; w++)
    for (int64_t pw = 0; pw <= 2; pw++)
      for (int64_t opw = 0; opw <= 1; opw++) configs += check_winograd_row(w, 3, 2, pw, opw, 1);
  /* Kernel 3 stride 1 with width dilation 2 and 3: each residue of the output columns mod
   * the dilation tiled apart (outputs dW apart, input columns dW apart), every row width
   * 1-14 at width padding 0-4, including rows shorter than the dilation (residues with
   * no column) */
  for (int64_t dw = 2; dw <= 3; dw++)
    for (int64_t w = 1; w <= 14; w++)
      for (int64_t pw = 0; pw <= 4; pw++) configs += check_winograd_row(w, 3, 1, pw, 0, dw);
  /* Middle problems the phase algorithm would give to its patch cut (patch.c) on their
   * own: kernel = stride along the depth and the height on a plane of 2 x 3, and
   * overlapping patches (kernel 3 stride 1, no padding) on 2 x 2. Winograd packs its
   * weights for the phase tiles, and runs them with those (bit for bit in
   * check_all_paths, which counts its runs). */
  for (int64_t kdh = 2; kdh <= 3; kdh++) {
    const int64_t sdh = kdh == 2 ? 2 : 1, in_h = kdh == 2 ? 3 : 2;
    convt3d_problem pr = make(1, 4, 3, 1, (int64_t[3]){2, in_h, 8}, (int64_t[3]){kdh, kdh, 3},
                              (int64_t[3]){sdh, sdh, 1}, (int64_t[3]){0, 0, 1}, ZERO, ONE, 1);
    configs++;
    check_all_paths(&pr);
  }
  /* A width dilation far beyond the row, with as much padding (10 columns in, 10 out):
   * only the 10 residues below the row are tiled, not 2^60 of them */
  const int64_t far = INT64_C(1) << 60;
  convt3d_problem wide = make(1, 4, 3, 1, (int64_t[3]){2, 3, 10}, (int64_t[3]){3, 3, 3}, ONE,
                              (int64_t[3]){1, 1, far}, ZERO, (int64_t[3]){1, 1, far}, 1);
  configs++;
  check_all_paths(&wide);
  /* every one ran at least on the portable kernels */
  CHECKF(configs >= 60 && winograd_runs - before >= configs,
         "the Winograd algorithm ran %d times on %d problems", winograd_runs - before, configs);
  /* Slices (n, t) of 2.8 MB (240 x 240 rows of one channel, rows of 12 -> 14: 4 tiles),
   * 3 within the 8 MiB budget: unbatched, 4 slices in chunks of 2 + 2; 2 samples, 8
   * slices in chunks of 3 + 3 + 2, the second spanning both samples; kernel 4 stride 2,
   * slices of 4.1 MB (10 planes of 240 x 240 in, 240 x 240 out; rows of 12 -> 24: 3
   * tiles), one per chunk */
  const int64_t k3[3] = {1, 1, 3}, big[3] = {240, 240, 12};
  convt3d_problem pr = make(-1, 1, 1, 1, big, k3, ONE, ZERO, ZERO, ONE, 1);
  check_all_paths(&pr);
  pr = make(2, 1, 1, 1, big, k3, ONE, ZERO, ZERO, ONE, 0);
  check_all_paths(&pr);
  const int64_t k4[3] = {1, 1, 4}, s2[3] = {1, 1, 2}, p1[3] = {0, 0, 1};
  pr = make(-1, 1, 1, 1, big, k4, s2, p1, ZERO, ONE, 1);
  check_all_paths(&pr);
  /* Tiles along the depth (winograd.c, wino_axis): 256 -> 256 channels in 64 groups,
   * where along the width a chunk would hold 2 of a sample's 3 tiles (slices of 2.95-3.3
   * MB) and the depth has as many tile rows. Kernel 3 stride 2 (8 x 8 x 12 -> 16 x 16 x
   * 24, 2 samples), kernel 4 stride 2 (the same sizes, unbatched), and kernel 3 stride 1
   * with depth dilation 2 (14 x 12 x 14 -> 16 x 12 x 14: each residue of the depths tiled
   * apart) */
  const int64_t cube3[3] = {3, 3, 3}, cube4[3] = {4, 4, 4}, two[3] = {2, 2, 2};
  const int64_t mid_in[3] = {8, 8, 12}, dil_in[3] = {14, 12, 14}, dil_d[3] = {2, 1, 1};
  pr = make(2, 256, 4, 64, mid_in, cube3, two, ONE, ONE, ONE, 1);
  check_all_paths(&pr);
  pr = make(-1, 256, 4, 64, mid_in, cube4, two, ONE, ZERO, ONE, 0);
  check_all_paths(&pr);
  pr = make(1, 256, 4, 64, dil_in, cube3, ONE, ONE, ZERO, dil_d, 1);
  check_all_paths(&pr);

  /* Non-finite inputs: the direct algorithm's result, NaN where it has NaN. */
  const int64_t in[3] = {2, 3, 9}, k[3] = {3, 3, 3};
  pr = make(2, 4, 5, 1, in, k, ONE, ONE, ZERO, ONE, 1);
  enum { NX = 2 * 4 * 2 * 3 * 9, NW = 4 * 5 * 27, NY = 2 * 5 * 2 * 3 * 9 };
  float x[NX], w[NW], b[5], y0[NY], y1[NY];
  fill(CONVT3D_F32, x, NX), fill(CONVT3D_F32, w, NW), fill(CONVT3D_F32, b, 5);
  for (int c = 0; c < 3; c++) {
    fill(CONVT3D_F32, x, NX);
    if (c == 0) x[17] = INFINITY;
    if (c == 1) x[NX - 5] = NAN;
    if (c == 2) x[60] = 3e38f, x[61] = -3e38f; /* finite, but B^T d overflows */
    CHECK(run_algo(&pr, CONVT3D_ALGO_DIRECT, CONVT3D_ISA_AUTO, 1, x, w, b, y0, NY) == 0 &&
          run_algo(&pr, CONVT3D_ALGO_WINOGRAD, CONVT3D_ISA_SCALAR, 2, x, w, b, y1, NY) == 0);
    int same = 0;
    for (int i = 0; i < NY; i++) same += y0[i] == y1[i] || (isnan(y0[i]) && isnan(y1[i]));
    CHECKF(same == NY, "case %d: %d of %d outputs differ from the direct algorithm's", c,
           NY - same, NY);
  }
  /* the same through F(4, 2): kernel 4 stride 2 padding 1 along the width, 9 -> 18 */
  {
    const int64_t k4[3] = {3, 3, 4}, s2[3] = {1, 1, 2};
    pr = make(2, 4, 5, 1, in, k4, s2, ONE, ZERO, ONE, 1);
    enum { NW4 = 4 * 5 * 36, NY4 = 2 * 5 * 2 * 3 * 18 };
    static float w4[NW4], z0[NY4], z1[NY4];
    fill(CONVT3D_F32, w4, NW4);
    for (int c = 0; c < 2; c++) {
      fill(CONVT3D_F32, x, NX);
      x[c == 0 ? 17 : NX - 5] = c == 0 ? -INFINITY : NAN;
      CHECK(run_algo(&pr, CONVT3D_ALGO_DIRECT, CONVT3D_ISA_AUTO, 1, x, w4, b, z0, NY4) == 0 &&
            run_algo(&pr, CONVT3D_ALGO_WINOGRAD, CONVT3D_ISA_AVX2, 2, x, w4, b, z1, NY4) == 0);
      int same = 0;
      for (int i = 0; i < NY4; i++) same += z0[i] == z1[i] || (isnan(z0[i]) && isnan(z1[i]));
      CHECKF(same == NY4, "F(4, 2) case %d: %d of %d outputs differ from the direct algorithm's",
             c, NY4 - same, NY4);
    }
  }

  /* Random floats in [-1, 1): within the bounds of F(4, 3)'s and F(4, 2)'s rounding */
  check_winograd_bound(3, 1, 0, 1, 32.0 / 3);
  check_winograd_bound(3, 1, 2, 2, 32.0 / 3);
  check_winograd_bound(4, 2, 1, 1, 6);
  check_winograd_bound(3, 2, 0, 1, 6);
  check_winograd_bound(3, 2, 1, 1, 6);

  /* AUTO: Winograd for 64 -> 64 channels on rows of 9 (18 multiply-adds per row against
   * 27), not with CONVT3D_WINOGRAD=0, not in float64, not on rows of 4 (12 against 12) */
  static float wa[64 * 64 * 27];
  convt3d_plan *plan;
  convt3d_plan_info info;
  const struct {
    int64_t width;
    convt3d_dtype dtype;
    const char *env;
    convt3d_algorithm expect;
  } autos[] = {
      {9, CONVT3D_F32, NULL, CONVT3D_ALGO_WINOGRAD},
      {9, CONVT3D_F32, "0", CONVT3D_ALGO_PHASE},
      {9, CONVT3D_F32, "1", CONVT3D_ALGO_WINOGRAD},
      {9, CONVT3D_F64, NULL, CONVT3D_ALGO_PHASE},
      {4, CONVT3D_F32, NULL, CONVT3D_ALGO_PHASE},
  };
  for (size_t i = 0; i < sizeof autos / sizeof autos[0]; i++) {
    if (autos[i].env) setenv("CONVT3D_WINOGRAD", autos[i].env, 1);
    pr = make(1, 64, 64, 1, (int64_t[3]){4, 5, autos[i].width}, k, ONE, ZERO, ZERO, ONE, 0);
    pr.dtype = autos[i].dtype;
    static double wa64[64 * 64 * 27];
    CHECK(convt3d_plan_create(&pr, pr.dtype == CONVT3D_F32 ? (void *)wa : (void *)wa64,
                              NULL, NULL, &plan) == CONVT3D_OK &&
          convt3d_plan_get_info(plan, &info) == CONVT3D_OK);
    CHECKF(info.algorithm == autos[i].expect, "AUTO case %zu took %s", i,
           convt3d_algorithm_name(info.algorithm));
    convt3d_plan_destroy(plan);
    unsetenv("CONVT3D_WINOGRAD");
  }
  /* F(4, 3) with fewer channels (kernel 3 on every axis: 3 x 3 depth and height taps):
   * 48 -> 48 and 32 -> 32 at any size (on 48^3, tiles along the depth); not 32 -> 32 on
   * 96^3 (a slice of 14.5 MB even along the depth: beyond the budget), nor 16 -> 16, nor
   * 48 -> 48 with kernel (1, 3, 3) */
  const struct {
    int64_t c, in[3], k[3];
    convt3d_algorithm expect;
  } narrow[] = {
      {48, {48, 48, 48}, {3, 3, 3}, CONVT3D_ALGO_WINOGRAD},
      {32, {4, 5, 9}, {3, 3, 3}, CONVT3D_ALGO_WINOGRAD},
      {32, {48, 48, 48}, {3, 3, 3}, CONVT3D_ALGO_WINOGRAD},
      {32, {96, 96, 96}, {3, 3, 3}, CONVT3D_ALGO_PHASE},
      {16, {4, 5, 9}, {3, 3, 3}, CONVT3D_ALGO_PHASE},
      {48, {4, 5, 9}, {1, 3, 3}, CONVT3D_ALGO_PHASE},
  };
  for (size_t i = 0; i < sizeof narrow / sizeof narrow[0]; i++) {
    pr = make(1, narrow[i].c, narrow[i].c, 1, narrow[i].in, narrow[i].k, ONE, ONE, ZERO, ONE,
              0);
    CHECK(convt3d_plan_create(&pr, wa, NULL, NULL, &plan) == CONVT3D_OK &&
          convt3d_plan_get_info(plan, &info) == CONVT3D_OK);
    CHECKF(info.algorithm == narrow[i].expect, "AUTO, %d -> %d channels, narrow case %zu: %s",
           (int)narrow[i].c, (int)narrow[i].c, i, convt3d_algorithm_name(info.algorithm));
    convt3d_plan_destroy(plan);
  }
  /* width dilation 2: Winograd on rows of 24 -> 24 (6 tiles, 36 multiply-adds per row
   * against 68), not on rows of 5 -> 9 (4 tiles of which 2 hold 1 output: 24 against 15) */
  for (int i = 0; i < 2; i++) {
    pr = make(1, 64, 64, 1, (int64_t[3]){4, 5, i == 0 ? 24 : 5}, k, ONE,
              (int64_t[3]){0, 0, i == 0 ? 2 : 0}, ZERO, (int64_t[3]){1, 1, 2}, 0);
    CHECK(convt3d_plan_create(&pr, wa, NULL, NULL, &plan) == CONVT3D_OK &&
          convt3d_plan_get_info(plan, &info) == CONVT3D_OK);
    CHECKF(info.algorithm == (i == 0 ? CONVT3D_ALGO_WINOGRAD : CONVT3D_ALGO_PHASE),
           "AUTO, width dilation 2, rows of %d: %s", i == 0 ? 24 : 5,
           convt3d_algorithm_name(info.algorithm));
    convt3d_plan_destroy(plan);
  }
  /* Kernel 4 stride 2 padding 1: Winograd for 128 -> 64 channels (a reduction of 128 x
   * 2 x 2 per point) on rows of 16 -> 32 (40 multiply-adds per row against 62), not on
   * rows of 2 -> 4 (10 against 6), not for 64 -> 64 (a reduction of 256); kernel (1, 3, 3)
   * at 128 -> 64 (384) not either */
  const struct {
    int64_t cin, width, kd, kh, kw, s;
    convt3d_algorithm expect;
  } cases[] = {
      {128, 16, 4, 4, 4, 2, CONVT3D_ALGO_WINOGRAD}, {128, 2, 4, 4, 4, 2, CONVT3D_ALGO_PHASE},
      {64, 16, 4, 4, 4, 2, CONVT3D_ALGO_PHASE},     {128, 16, 1, 3, 3, 1, CONVT3D_ALGO_PHASE},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    static float w4[128 * 64 * 64];
    const int64_t kk[3] = {cases[i].kd, cases[i].kh, cases[i].kw};
    const int64_t ss[3] = {cases[i].s, cases[i].s, cases[i].s}, in[3] = {3, 4, cases[i].width};
    pr = make(1, cases[i].cin, 64, 1, in, kk, ss, ONE, ZERO, ONE, 0);
    CHECK(convt3d_plan_create(&pr, w4, NULL, NULL, &plan) == CONVT3D_OK &&
          convt3d_plan_get_info(plan, &info) == CONVT3D_OK);
    CHECKF(info.algorithm == cases[i].expect, "AUTO case %zu (kernel %d) took %s", i,
           (int)cases[i].kw, convt3d_algorithm_name(info.algorithm));
    convt3d_plan_destroy(plan);
  }
}

/* The 32x12 channels-in-lanes tile, which applies each width tap only to the positions
 * of a tile whose input column exists (phase.c's exact width taps), forced on (it is
 * picked for kernel 3 stride 1 on rows of about 9 to 12): rows of 11 (one tile with a
 * dropped lane), 15 (a second tile of 3), kernel 4 stride 2 with padding, stride 3 with
 * dilation 2 (taps that reach no position of a tile), output padding, width kernel 1,
 * channel tails (37 = 32 + 5; 12, one vector), groups, unbatched; then random small
 * problems; and AUTO's choice of it. */
static void test_exact_width_taps(void) {
  setenv("CONVT3D_KERNEL", "f32_brgemm_32x12_avx512", 1);
  const struct {
    int64_t n, cin, cout_g, groups, in[3], k[3], s[3], p[3], op[3], d[3];
    int bias;
  } cases[] = {
      {1, 20, 37, 1, {3, 4, 9}, {3, 3, 3}, {1, 1, 1}, {0, 0, 0}, {0, 0, 0}, {1, 1, 1}, 1},
      {2, 6, 12, 2, {2, 3, 13}, {2, 3, 3}, {1, 1, 1}, {0, 1, 0}, {0, 0, 0}, {1, 1, 1}, 0},
      {1, 8, 33, 1, {2, 5, 5}, {4, 4, 4}, {2, 2, 2}, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}, 1},
      {2, 4, 9, 1, {2, 2, 4}, {2, 3, 3}, {1, 3, 3}, {0, 1, 2}, {0, 2, 2}, {1, 2, 2}, 1},
      {-1, 5, 40, 1, {2, 4, 7}, {3, 3, 1}, {1, 1, 1}, {1, 1, 0}, {0, 0, 0}, {1, 1, 1}, 1},
      {1, 3, 16, 3, {3, 3, 10}, {3, 2, 5}, {2, 1, 2}, {1, 0, 3}, {1, 0, 1}, {1, 1, 1}, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    convt3d_problem pr = make(cases[i].n, cases[i].cin * cases[i].groups, cases[i].cout_g,
                              cases[i].groups, cases[i].in, cases[i].k, cases[i].s,
                              cases[i].p, cases[i].op, cases[i].d, cases[i].bias);
    CHECKF(convt3d_problem_check(&pr) == CONVT3D_OK, "exact-taps case %zu is invalid", i);
    check_all_paths(&pr);
  }
  const int configs = check_random_problems(150, 4, 40, rows_of_tiles);
  CHECKF(configs > 50, "only %d valid random configurations", configs);
  unsetenv("CONVT3D_KERNEL");
  /* kernel 3 stride 1, rows of 9 -> 11: 27 of every 36 (lane, width tap) pairs of the
   * 64x6 tiles are real; the 32x12 tile computes only those */
  int64_t in[3] = {4, 9, 9}, k[3] = {3, 3, 3};
  convt3d_problem pr = make(1, 8, 64, 1, in, k, ONE, ZERO, ZERO, ONE, 0);
  float *w = calloc(8 * 64 * 27, sizeof *w);
  convt3d_plan_options opt = {CONVT3D_ALGO_PHASE, 1, CONVT3D_ISA_AVX512};
  convt3d_plan *plan;
  convt3d_plan_info info;
  CHECK(convt3d_plan_create(&pr, w, NULL, &opt, &plan) == CONVT3D_OK &&
        convt3d_plan_get_info(plan, &info) == CONVT3D_OK);
  CHECKF(strcmp(info.isa, "avx512") != 0 || strstr(info.kernel, "_32x12_"),
         "kernel 3 stride 1 on rows of 11: the 32x12 tile should be picked, not %s",
         info.kernel);
  convt3d_plan_destroy(plan);
  free(w);
}

/* The reference's result of pr (forward, or grad_input with bwd) from `in` into ref, then
 * the phase algorithm's at 1 and 3 threads into `out` on a 64-byte line and 16 bytes past
 * it (the streamed stores' two cases), each bit for bit against it; out holds n + 4
 * floats, n the result's. */
static void check_streamed(const convt3d_problem *pr, int bwd, const float *w, const float *b,
                           const float *in, float *ref, float *out, size_t n) {
  char desc[256];
  convt3d_problem_describe(pr, desc, sizeof desc);
  for (int run = 0; run < 5; run++) { /* the reference, then 2 thread counts x 2 shifts */
    const int threads = run < 3 ? 1 : 3;
    const size_t shift = run == 2 || run == 4 ? 4 : 0; /* floats past the line */
    const convt3d_plan_options opt = {run ? CONVT3D_ALGO_PHASE : CONVT3D_ALGO_REFERENCE,
                                      threads, CONVT3D_ISA_AUTO};
    float *y = run ? out + shift : ref;
    for (size_t j = 0; j < n; j++) y[j] = NAN;
    convt3d_plan *plan = NULL;
    const int made = bwd ? convt3d_plan_create_backward_data(pr, w, &opt, &plan)
                         : convt3d_plan_create(pr, w, b, &opt, &plan);
    CHECKF(made == CONVT3D_OK && convt3d_plan_execute(plan, in, y) == CONVT3D_OK &&
               (!run || memcmp(ref, y, n * sizeof *y) == 0),
           "%s of %s, %d threads, %zu floats past a line, != reference",
           bwd ? "grad_input" : "output", desc, threads, shift);
    convt3d_plan_destroy(plan);
  }
}

/* grad_input over 64 MiB: its stores are streamed (non-temporal) where a row starts on a
 * line, and plain where it does not. A pointwise layer of 32 channels (the pointwise cut:
 * whole steps of 32 positions streamed), one of 65 (beyond the cut: rows of 4096 summed
 * tile by tile on a copy, then stored) and kernel = stride = 2 (a row buffer copied out a
 * band at a time), each into a grad_input on a line and one 16 bytes past it, against the
 * reference. Small integers: every sum is exact. */
static void test_backward_data_streams(void) {
  int64_t in_pw[3] = {9, 256, 256}, in_k2[3] = {65, 128, 256}, k2[3] = {2, 2, 2};
  const convt3d_problem probs[] = {make(1, 32, 5, 1, in_pw, ONE, ONE, ZERO, ZERO, ONE, 0),
                                   make(1, 65, 1, 1, in_pw, ONE, ONE, ZERO, ZERO, ONE, 0),
                                   make(1, 8, 2, 1, in_k2, k2, k2, ZERO, ZERO, ONE, 0)};
  for (int i = 0; i < 3; i++) {
    const convt3d_problem *pr = &probs[i];
    convt3d_shape out;
    CHECK(convt3d_output_shape(pr, &out) == CONVT3D_OK);
    size_t nx = 1, ny = 1, nw = 1;
    for (int a = 0; a < 5; a++)
      nx *= (size_t)pr->input.dims[a], ny *= (size_t)out.dims[a],
          nw *= (size_t)pr->weight.dims[a];
    CHECK(nx * sizeof(float) > ((size_t)64 << 20));
    float *gy = malloc(ny * sizeof *gy), *w = malloc(nw * sizeof *w);
    float *gx0 = malloc(nx * sizeof *gx0);
    float *gx1 = aligned_alloc(64, (nx * sizeof *gx1 + 64 + 63) / 64 * 64);
    CHECK(gy && w && gx0 && gx1);
    if (!gy || !w || !gx0 || !gx1) {
      free(gy), free(w), free(gx0), free(gx1);
      return;
    }
    fill(CONVT3D_F32, gy, ny), fill(CONVT3D_F32, w, nw);
    check_streamed(pr, 1, w, NULL, gy, gx0, gx1, nx);
    free(gy), free(w), free(gx0), free(gx1);
  }
}

/* The pointwise cut (pointwise.c): kernel 1, stride 1, 1-14 output channels per group
 * (each count its own specialisation of the tile) and 15-64 in passes (15 = 8 + 7, 28 =
 * 14 + 14, 29 = 10 + 10 + 9, 64 = 4 x 13 + 12), 1-64 input channels, 26 x 25 x 27 or 28
 * positions (runs of 4096, or of 1024-4096 with several passes, and a last one whose last
 * step has 14 or 24 positions), batched or not, grouped, with and without bias, on every
 * path; 65 input or output channels per group (the phase algorithm proper); and an output
 * of 68 MB, streamed past the caches where its rows start on a line, against the
 * reference bit for bit. */
static void test_pointwise(void) {
  static const int64_t outs[] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                 12, 13, 14, 15, 28, 29, 64, 65, 8};
  for (int64_t i = 0; i < (int64_t)(sizeof outs / sizeof outs[0]); i++) {
    const int64_t m = outs[i], last = i + 1 == (int64_t)(sizeof outs / sizeof outs[0]);
    int64_t in[3] = {26, 25, 27 + m % 2};
    const int64_t groups = m % 2 ? 2 : 1, n = m % 3 == 0 ? -1 : rnd(1, 2);
    const int64_t cin_g = last ? 65 : i % 3 == 0 ? 64 : rnd(1, 64);
    const convt3d_problem pr = make(n, groups * cin_g, m, groups, in, ONE, ONE, ZERO, ZERO,
                                    ONE, m % 4 != 1);
    check_all_paths(&pr);
  }
  int64_t big[3] = {65, 256, 1024};
  const convt3d_problem pr = make(1, 2, 1, 1, big, ONE, ONE, ZERO, ZERO, ONE, 1);
  const size_t nx = (size_t)2 * 65 * 256 * 1024, ny = nx / 2;
  CHECK(ny * sizeof(float) > ((size_t)64 << 20));
  float *x = malloc(nx * sizeof *x), *y0 = malloc(ny * sizeof *y0);
  float *y1 = aligned_alloc(64, (ny * sizeof *y1 + 64 + 63) / 64 * 64), w[2], b[1];
  CHECK(x && y0 && y1);
  if (!x || !y0 || !y1) {
    free(x), free(y0), free(y1);
    return;
  }
  fill(CONVT3D_F32, x, nx), fill(CONVT3D_F32, w, 2), fill(CONVT3D_F32, b, 1);
  check_streamed(&pr, 0, w, b, x, y0, y1, ny);
  free(x), free(y0), free(y1);
}

/* ------------------------------------------------------------ plan contract */

static void test_plan_contract(void) {
  int64_t in[3] = {2, 3, 4}, k[3] = {2, 2, 2};
  convt3d_problem p = make(1, 2, 3, 1, in, k, (int64_t[3]){2, 2, 2}, ZERO, ZERO, ONE, 1);
  float w[2 * 3 * 8], b[3] = {1, 2, 3}, x[2 * 24], y[3 * 4 * 6 * 8];
  for (int i = 0; i < 48; i++) w[i] = (float)i, x[i] = (float)i;
  convt3d_plan *plan = NULL;
  CHECK(convt3d_plan_create(&p, w, b, NULL, NULL) == CONVT3D_ERR_INVALID_ARGUMENT);
  CHECK(convt3d_plan_create(&p, NULL, b, NULL, &plan) == CONVT3D_ERR_INVALID_ARGUMENT);
  CHECK(convt3d_plan_create(&p, w, NULL, NULL, &plan) == CONVT3D_ERR_INVALID_ARGUMENT);
  CHECK(strstr(convt3d_last_error(), "bias"));
  convt3d_plan_options bad = {(convt3d_algorithm)99, 0, CONVT3D_ISA_AUTO};
  CHECK(convt3d_plan_create(&p, w, b, &bad, &plan) == CONVT3D_ERR_INVALID_ARGUMENT);
  bad = (convt3d_plan_options){CONVT3D_ALGO_AUTO, 1 << 20, CONVT3D_ISA_AUTO};
  CHECK(convt3d_plan_create(&p, w, b, &bad, &plan) == CONVT3D_ERR_INVALID_ARGUMENT &&
        strstr(convt3d_last_error(), "1048576"));
  bad = (convt3d_plan_options){CONVT3D_ALGO_AUTO, 0, (convt3d_isa)9};
  CHECK(convt3d_plan_create(&p, w, b, &bad, &plan) == CONVT3D_ERR_INVALID_ARGUMENT);
  CHECK(convt3d_plan_create(&p, w, b, NULL, &plan) == CONVT3D_OK && plan);

  /* the plan owns copies: changing the caller's weights afterwards changes nothing */
  float y1[sizeof y / sizeof y[0]];
  CHECK(convt3d_plan_execute(plan, x, y) == CONVT3D_OK);
  w[0] = 1000, b[0] = 1000;
  CHECK(convt3d_plan_execute(plan, x, y1) == CONVT3D_OK);
  CHECK(memcmp(y, y1, sizeof y) == 0);

  convt3d_plan_info info;
  CHECK(convt3d_plan_get_info(plan, &info) == CONVT3D_OK);
  CHECK(info.output.ndim == 5 && info.output.dims[1] == 3 && info.output.dims[4] == 8);
  CHECK(info.packed_weight_bytes >= sizeof w + sizeof b && info.num_threads >= 1);
  CHECK(info.flops == 2.0 * 2 * 3 * 8 * 24 && info.isa && info.isa[0]);
  CHECK(convt3d_plan_get_info(plan, NULL) == CONVT3D_ERR_INVALID_ARGUMENT);

  CHECK(convt3d_plan_execute(NULL, x, y) == CONVT3D_ERR_INVALID_ARGUMENT);
  CHECK(convt3d_plan_execute(plan, NULL, y) == CONVT3D_ERR_INVALID_ARGUMENT);
  CHECK(convt3d_plan_execute(plan, x, NULL) == CONVT3D_ERR_INVALID_ARGUMENT);
  /* output overlapping the input is refused before anything is written */
  float shared[3 * 4 * 6 * 8 + 48];
  memcpy(shared, x, sizeof x);
  shared[30] = 42;
  CHECK(convt3d_plan_execute(plan, shared, shared + 10) == CONVT3D_ERR_INVALID_ARGUMENT);
  CHECK(strstr(convt3d_last_error(), "overlaps") && shared[30] == 42);
  convt3d_plan_destroy(plan);
  convt3d_plan_destroy(NULL);

  CHECK(strcmp(convt3d_status_string(CONVT3D_ERR_OUT_OF_MEMORY), "out of memory") == 0);
  CHECK(convt3d_status_string((convt3d_status)42)[0] != '\0');
  CHECK(convt3d_version() == CONVT3D_VERSION && convt3d_version_string()[0] == '0');
  CHECK(convt3d_dtype_size(CONVT3D_F64) == 8 && convt3d_dtype_size((convt3d_dtype)0) == 0);
  convt3d_set_num_threads(3);
  CHECK(convt3d_get_num_threads() == 3);
  convt3d_set_num_threads(0);
  CHECK(convt3d_get_num_threads() >= 1);

  char desc[256];
  int len = convt3d_problem_describe(&p, desc, sizeof desc);
  CHECKF(strcmp(desc, "f32_mb1_ic2_oc3_g1_i2x3x4_k2x2x2_s2x2x2_p0x0x0_op0x0x0_d1x1x1_bias") ==
             0 && len == (int)strlen(desc), "%s", desc);
  /* descriptors read back to the same problem, and malformed ones are refused */
  int64_t in5[3] = {3, 4, 5}, k5[3] = {1, 2, 3}, s5[3] = {3, 2, 1}, p5[3] = {0, 1, 2},
          op5[3] = {2, 1, 0}, d5[3] = {1, 2, 3};
  convt3d_problem probs[3] = {p, make(-1, 6, 4, 3, in5, k5, s5, p5, op5, d5, 0),
                              make(0, 4, 1, 4, in5, k5, s5, p5, op5, d5, 1)};
  probs[1].dtype = CONVT3D_F64;
  for (int i = 0; i < 3; i++) {
    convt3d_problem q;
    memset(&q, 0, sizeof q);
    convt3d_problem_describe(&probs[i], desc, sizeof desc);
    CHECKF(convt3d_problem_parse(desc, &q) == CONVT3D_OK, "%s: %s", desc,
           convt3d_last_error());
    char again[256];
    convt3d_problem_describe(&q, again, sizeof again);
    CHECKF(strcmp(desc, again) == 0 && q.dtype == probs[i].dtype &&
               q.input.ndim == probs[i].input.ndim && q.has_bias == probs[i].has_bias &&
               memcmp(q.weight.dims, probs[i].weight.dims, sizeof q.weight.dims) == 0,
           "%s read back as %s", desc, again);
  }
  static const char *const malformed[] = {
      "", "f16_mb1_ic2_oc3_g1_i2x3x4_k2x2x2_s2x2x2_p0x0x0_op0x0x0_d1x1x1_bias",
      "f32_mb1_ic2_oc3_g1_i2x3_k2x2x2_s2x2x2_p0x0x0_op0x0x0_d1x1x1_bias",
      "f32_mb1_ic2_oc3_g2_i2x3x4_k2x2x2_s2x2x2_p0x0x0_op0x0x0_d1x1x1_bias",
      "f32_mb1_ic2_oc3_g1_i2x3x4_k2x2x2_s2x2x2_p0x0x0_op0x0x0_d1x1x1_biasx",
      "f32_mbx_ic2_oc3_g1_i2x3x4_k2x2x2_s2x2x2_p0x0x0_op0x0x0_d1x1x1_bias",
      "f32_mb1_ic2_oc99999999999999999999_g1_i2x3x4_k2x2x2_s2x2x2_p0x0x0_op0x0x0_d1x1x1_bias"};
  convt3d_problem_describe(&p, desc, sizeof desc);
  for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
    convt3d_problem q = p;
    char after[256];
    const int s = convt3d_problem_parse(malformed[i], &q);
    convt3d_problem_describe(&q, after, sizeof after); /* q untouched on failure */
    CHECKF(s == CONVT3D_ERR_INVALID_ARGUMENT && convt3d_last_error()[0] &&
               strcmp(desc, after) == 0,
           "'%s' was not refused cleanly", malformed[i]);
  }
  CHECK(convt3d_problem_parse(NULL, &p) == CONVT3D_ERR_INVALID_ARGUMENT);
}

/* One plan executed from 8 threads at once: every call must give the serial result bit
 * for bit (the plan lends its workspace to one call; the others allocate their own). */
typedef struct concurrent_job {
  const convt3d_plan *plan;
  const float *x;
  float *y;
  convt3d_status status;
} concurrent_job;

static void *execute_job(void *arg) {
  concurrent_job *job = arg;
  for (int r = 0; r < 5 && job->status == CONVT3D_OK; r++)
    job->status = convt3d_plan_execute(job->plan, job->x, job->y);
  return NULL;
}

static void test_concurrent_execute(void) {
  enum { THREADS = 8 };
  int64_t in[3] = {6, 7, 20}, k[3] = {3, 3, 3}, s[3] = {2, 2, 2};
  convt3d_problem p = make(2, 12, 10, 2, in, k, s, ONE, ONE, ONE, 1);
  convt3d_shape out;
  CHECK(convt3d_output_shape(&p, &out) == CONVT3D_OK);
  size_t nx = 2 * 12 * 6 * 7 * 20, nw = 12 * 10 * 27, ny = 1;
  for (int i = 0; i < out.ndim; i++) ny *= (size_t)out.dims[i];
  float *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w), b[20];
  float *serial = malloc(ny * sizeof *serial), *ys = malloc(THREADS * ny * sizeof *ys);
  for (size_t i = 0; i < nx; i++) x[i] = (float)rnd(-100, 100) / 37.0f;
  for (size_t i = 0; i < nw; i++) w[i] = (float)rnd(-100, 100) / 41.0f;
  for (int i = 0; i < 20; i++) b[i] = (float)i / 3.0f;
  convt3d_plan *plan;
  convt3d_plan_options opt = {CONVT3D_ALGO_AUTO, 2, CONVT3D_ISA_AUTO};
  CHECK(convt3d_plan_create(&p, w, b, &opt, &plan) == CONVT3D_OK);
  CHECK(convt3d_plan_execute(plan, x, serial) == CONVT3D_OK);
  pthread_t th[THREADS];
  concurrent_job jobs[THREADS];
  for (int i = 0; i < THREADS; i++) {
    jobs[i] = (concurrent_job){plan, x, ys + (size_t)i * ny, CONVT3D_OK};
    CHECK(pthread_create(&th[i], NULL, execute_job, &jobs[i]) == 0);
  }
  for (int i = 0; i < THREADS; i++) {
    pthread_join(th[i], NULL);
    CHECKF(jobs[i].status == CONVT3D_OK &&
               memcmp(ys + (size_t)i * ny, serial, ny * sizeof *serial) == 0,
           "concurrent execute %d differs from the serial result", i);
  }
  convt3d_plan_destroy(plan);
  free(x), free(w), free(serial), free(ys);
}

/* The failure message is per thread: another thread's failure does not replace ours. */
static void *fail_in_thread(void *arg) {
  (void)arg;
  convt3d_problem_check(NULL);
  return NULL;
}

static void test_error_is_thread_local(void) {
  convt3d_problem p;
  convt3d_problem_init(&p, CONVT3D_F32);
  p.input.ndim = 7;
  CHECK(convt3d_problem_check(&p) == CONVT3D_ERR_INVALID_ARGUMENT);
  char before[512];
  strcpy(before, convt3d_last_error());
  pthread_t t;
  CHECK(pthread_create(&t, NULL, fail_in_thread, NULL) == 0);
  pthread_join(t, NULL);
  CHECK(strcmp(before, convt3d_last_error()) == 0 && strstr(before, "7-D"));
}

int main(void) {
  test_output_shape();
  test_rejections();
  test_output_padding_for_size();
  test_hand_computed();
  test_paths_match_reference();
  test_exact_width_taps();
  test_fused_width2_runs();
  test_winograd();
  test_backward_data_streams();
  test_pointwise();
  test_plan_contract();
  test_concurrent_execute();
  test_error_is_thread_local();
  return check_summary("test_api");
}
