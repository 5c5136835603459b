/* convt3d bench: times convt3d's float32 forward, backward-data or backward-weight pass
 * on the layer shapes of a suite file, beside oneDNN's deconvolution primitive for the
 * same pass run in the same process, after verifying every result.
 *
 * What makes the numbers trustworthy:
 * - every result (convt3d's execute and one-shot, and oneDNN's) is checked before it is
 *   timed, against the exact value in double at a few thousand sampled output elements,
 *   within a bound derived from the reduction length (see exact_at() and verify());
 * - implementations run alternately, round by round, so a change in machine load or
 *   clock hits all of them alike; medians, not means, so one preempted run does not count;
 * - % of peak divides by an FMA peak measured here, now, with the same thread count.
 * The library is used only through its public header, like any other caller. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "bench.h"
#include "random.h"

enum { EXIT_REJECTED = 2, EXIT_FAILED = 1 };

#ifndef CONVT3D_DEFAULT_SUITE /* CMake bakes in the source tree's bench/shapes.csv */
#define CONVT3D_DEFAULT_SUITE "bench/shapes.csv"
#endif

/* Sampled result elements checked per shape: enough to catch a wrong tile, a wrong tail
 * or a wrong phase with near certainty, cheap enough for 17-GFLOP shapes. An element of
 * grad_weight is a sum over the batch and every position: there, as many samples as
 * SAMPLE_TERMS terms allow, but at least MIN_WEIGHT_SAMPLES and MAX_BIAS_SAMPLES. */
enum { SAMPLES = 4096, MIN_WEIGHT_SAMPLES = 64, MAX_BIAS_SAMPLES = 64, MAX_THREAD_COUNTS = 2 };
#define SAMPLE_TERMS 268435456.0 /* 2^28 products in double: about 0.3 s */
#define MIN_SECONDS  1.0         /* default: enough rounds for this much time, and ... */
#define MIN_RUNS     5           /* ... at least this many */
#define MAX_RUNS     100000

static const char usage[] =
    "usage: convt3d bench [--suite FILE.csv] [--pass fwd|bwd_d|bwd_w|all] [--threads N]\n"
    "                     [--runs R] [--csv OUT.csv]\n"
    "\n"
    "Times convt3d's float32 forward (or a backward pass; batched, with bias, random data)\n"
    "on every shape of a suite file, with 1 and 2 threads, beside oneDNN's deconvolution\n"
    "primitive for the same pass in its best layout (format_tag::any, reorders excluded)\n"
    "and in plain ncdhw, run alternately in this process. Every result is verified first\n"
    "at sampled elements.\n"
    "\n"
    "  --suite FILE   suite CSV (default, baked in at build time:\n"
    "                 " CONVT3D_DEFAULT_SUITE ")\n"
    "  --pass P       fwd: y = conv_transpose3d(x, w) + b (default); bwd_d: grad_input;\n"
    "                 bwd_w: grad_weight and grad_bias; all: the three, one table each\n"
    "  --threads N    only N threads (default: 1, then 2)\n"
    "  --runs R       timed rounds (default: enough for 1 s, at least 5)\n"
    "  --csv OUT      also write one CSV row per pass, shape and thread count\n"
    "\n"
    "Suite: CSV with a header holding at least name,N,Cin,Cout,D,H,W,kD,kH,kW,sD,sH,sW,\n"
    "pD,pH,pW,opD,opH,opW,dD,dH,dW,groups (other columns are ignored).\n"
    "Table (stdout; progress goes to stderr): times are medians in ms: ms = plan execute,\n"
    "1shot = convt3d_forward / convt3d_backward_data / convt3d_backward_weight (plan +\n"
    "execute + destroy), plan_ms = plan creation; GFLOP/s nominal (every tap) and\n"
    "effective (only taps that land in the output), the forward's counts for every pass;\n"
    "%peak = effective GFLOP/s / FMA peak measured at start for that thread count;\n"
    "any/ct, pl/ct, bst/ct = oneDNN ms (any, plain, the faster of the two) / convt3d ms:\n"
    "above 1, convt3d is faster; pack_MiB, ws_MiB = the plan's packed weights, workspace.\n"
    "Exit status: 0 done; 1 a result failed verification, or I/O; 2 bad command line or\n"
    "suite file.\n";

static const char *const pass_name[BENCH_PASSES] = {"fwd", "bwd_d", "bwd_w"};
static const char *const pass_title[BENCH_PASSES] = {
    "y = conv_transpose3d(x, w) + b",
    "grad_input = conv3d(grad_output, w) (oneDNN: deconvolution backward_data)",
    "grad_weight and grad_bias from x, grad_output (oneDNN: deconvolution backward_weights "
    "with diff_bias)"};

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int compare_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  if (n == 0) return NAN;
  qsort(v, (size_t)n, sizeof v[0], compare_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ----------------------------------------------------------------- the problem */

/* A suite problem unpacked: everything is >= 1 (read_suite checked it). */
typedef struct geom {
  int64_t n, cin, cout, groups, cin_g, cout_g;
  int64_t in[3], k[3], s[3], pad[3], dil[3], out[3];
  size_t nx, nw, ny;
} geom;

static geom geom_of(const convt3d_problem *p) {
  geom g = {.n = p->input.dims[0], .cin = p->input.dims[1], .groups = p->groups};
  g.cout_g = p->weight.dims[1];
  g.cout = g.cout_g * g.groups;
  g.cin_g = g.cin / g.groups;
  convt3d_shape out;
  convt3d_output_shape(p, &out); /* read_suite checked the problem */
  g.nx = (size_t)(g.n * g.cin);
  g.ny = (size_t)(g.n * g.cout);
  g.nw = (size_t)(g.cin * g.cout_g);
  for (int a = 0; a < 3; a++) {
    g.in[a] = p->input.dims[2 + a];
    g.k[a] = p->weight.dims[2 + a];
    g.s[a] = p->stride[a];
    g.pad[a] = p->padding[a];
    g.dil[a] = p->dilation[a];
    g.out[a] = out.dims[2 + a];
    g.nx *= (size_t)g.in[a];
    g.ny *= (size_t)g.out[a];
    g.nw *= (size_t)g.k[a];
  }
  return g;
}

static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && a < 0); }

/* Tap k of axis a carries input position i to output position i*s - p + k*dl: the
 * inputs whose tap k lands inside the output are lo..hi (none when hi < lo). */
static void landing(const geom *g, int a, int64_t k, int64_t *lo, int64_t *hi) {
  const int64_t off = k * g->dil[a] - g->pad[a];
  *lo = -floor_div(off, g->s[a]); /* ceil(-off / s): the first i with i*s + off >= 0 */
  *hi = floor_div(g->out[a] - 1 - off, g->s[a]);
  if (*lo < 0) *lo = 0;
  if (*hi > g->in[a] - 1) *hi = g->in[a] - 1;
}

/* Effective FLOPs: 2 * N * Cin * Cout/groups * (input/tap pairs that land inside the
 * output), the pairs counted exactly per axis. The backward passes compute the same
 * products (paired differently), so the same count serves them. */
static double effective_flops(const geom *g) {
  double pairs = 1;
  for (int a = 0; a < 3; a++) {
    int64_t count = 0, lo, hi;
    for (int64_t k = 0; k < g->k[a]; k++) {
      landing(g, a, k, &lo, &hi);
      if (hi >= lo) count += hi - lo + 1;
    }
    pairs *= (double)count;
  }
  return 2.0 * (double)g->n * (double)g->cin * (double)g->cout_g * pairs;
}

static double nominal_flops(const geom *g) {
  double f = 2.0 * (double)g->n * (double)g->cin * (double)g->cout_g;
  for (int a = 0; a < 3; a++)
    f *= (double)(g->k[a] * g->in[a]);
  return f;
}

/* Uniform data in [-1, 1) (tools/random.h) keeps sums of any length far from overflow
 * and gives no implementation an easy case (no zeros, no integers). */

static void fill_uniform(float *v, size_t n, uint64_t seed) {
  for (size_t i = 0; i < n; i++)
    v[i] = (float)((double)(next_u64(&seed) >> 40) * 0x1p-23 - 1);
}

/* --------------------------------------------------------------- verification */

/* One problem's buffers (PyTorch layouts); dy is grad_output, used by the backward passes. */
typedef struct data {
  const float *x, *w, *b, *dy;
} data;

/* Elements of a pass's result buffer (see bench_pass): y, grad_input, or grad_weight
 * followed by grad_bias. */
static size_t result_size(const geom *g, bench_pass pass) {
  return pass == BENCH_PASS_FWD     ? g->ny
         : pass == BENCH_PASS_BWD_D ? g->nx
                                    : g->nw + (size_t)g->cout;
}

/* The 5-D box of a pass's result (grad_bias aside) into ext, and the result's name. */
static const char *result_box(const geom *g, bench_pass pass, int64_t ext[5]) {
  const int64_t *sp = pass == BENCH_PASS_FWD ? g->out : pass == BENCH_PASS_BWD_D ? g->in : g->k;
  ext[0] = pass == BENCH_PASS_BWD_W ? g->cin : g->n;
  ext[1] = pass == BENCH_PASS_FWD ? g->cout : pass == BENCH_PASS_BWD_D ? g->cin : g->cout_g;
  for (int a = 0; a < 3; a++)
    ext[2 + a] = sp[a];
  return pass == BENCH_PASS_FWD ? "y" : pass == BENCH_PASS_BWD_D ? "grad_input" : "grad_weight";
}

/* The bound on |float32 result - exact| of any evaluation order of a sum of n products
 * whose magnitudes add up to mag: gamma(n) * mag, gamma(n) = n*u/(1 - n*u), u = 2^-24
 * (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., sections 3.1, 3.3). */
static double error_bound(double n, double mag) {
  const double nu = n * 0x1p-24;
  return nu < 1 ? nu / (1 - nu) * mag : INFINITY;
}

/* sum += a[ia] * w[iw] over c < nc channels and the tap lists tp (per axis, pairs of
 * (kernel index, position in a)), a's channel c at a0 + c*astride with spatial extents
 * asp, w's at w0 + c*wstride: the shared inner loop of the forward and backward-data
 * references. mag accumulates the magnitudes. */
static void dot_taps(const float *a, size_t a0, size_t astride, const int64_t asp[3],
                     const float *w, size_t w0, size_t wstride, const int64_t ksp[3], int64_t nc,
                     int64_t *const tp[3], const int cnt[3], double *sum, double *mag) {
  for (int64_t c = 0; c < nc; c++)
    for (int64_t jd = 0; jd < cnt[0]; jd++)
      for (int64_t jh = 0; jh < cnt[1]; jh++)
        for (int64_t jw = 0; jw < cnt[2]; jw++) {
          const double av = a[a0 + (size_t)c * astride +
                              (size_t)((tp[0][2 * jd + 1] * asp[1] + tp[1][2 * jh + 1]) * asp[2] +
                                       tp[2][2 * jw + 1])];
          const double wv =
              w[w0 + (size_t)c * wstride +
                (size_t)((tp[0][2 * jd] * ksp[1] + tp[1][2 * jh]) * ksp[2] + tp[2][2 * jw])];
          *sum += av * wv;
          *mag += fabs(av * wv);
        }
}

/* Exact value of element i of a pass's result, and its error bound (error_bound over the
 * terms of that element's sum; double: float products are exact in double, and a double
 * sum of K of them is off by ~K*2^-53, negligible beside the float bound):
 *   FWD    y[n,oc,o]    = b[oc] + sum over ci < Cin/groups and the taps k with
 *                         o = i*s - p + k*dl of x[n,ic,i] * w[ic,co,k]      (K + 1 terms)
 *   BWD_D  dx[n,ic,i]   = sum over co < Cout/groups and the taps k with o inside the
 *                         output of dy[n,oc,o] * w[ic,co,k]
 *   BWD_W  dw[ic,co,k]  = sum over n and the inputs i whose tap k lands at o inside the
 *                         output of x[n,ic,i] * dy[n,oc,o]
 *          db[oc]       = sum over n and every output position of dy[n,oc,o]
 * with ic = g*Cin_g + ci, oc = g*Cout_g + co in group g. taps: scratch for 2*(kD+kH+kW). */
static void exact_at(const geom *g, bench_pass pass, const data *d, size_t i, int64_t *taps,
                     double *exact, double *tol) {
  double sum = 0, mag = 0, terms = 1;
  int64_t e[5], at[3], t = (int64_t)i;
  const size_t vin = g->nx / (size_t)(g->n * g->cin), vout = g->ny / (size_t)(g->n * g->cout);
  result_box(g, pass, e);
  if (pass == BENCH_PASS_BWD_W && i >= g->nw) { /* grad_bias */
    const int64_t oc = (int64_t)(i - g->nw);
    for (int64_t n = 0; n < g->n; n++)
      for (size_t j = 0; j < vout; j++) {
        const double v = d->dy[(size_t)(n * g->cout + oc) * vout + j];
        sum += v, mag += fabs(v);
      }
    *exact = sum;
    *tol = error_bound((double)g->n * (double)vout, mag);
    return;
  }
  for (int a = 2; a >= 0; a--)
    at[a] = t % e[2 + a], t /= e[2 + a];
  const int64_t c1 = t % e[1], c0 = t / e[1];
  if (pass == BENCH_PASS_BWD_W) {
    const int64_t ic = c0, oc = ic / g->cin_g * g->cout_g + c1;
    int64_t lo[3], hi[3];
    for (int a = 0; a < 3; a++) {
      landing(g, a, at[a], &lo[a], &hi[a]);
      terms *= (double)(hi[a] >= lo[a] ? hi[a] - lo[a] + 1 : 0);
    }
    for (int64_t n = 0; n < g->n; n++) {
      const float *xc = d->x + (size_t)(n * g->cin + ic) * vin;
      const float *dyc = d->dy + (size_t)(n * g->cout + oc) * vout;
      for (int64_t id = lo[0]; id <= hi[0]; id++)
        for (int64_t ih = lo[1]; ih <= hi[1]; ih++) {
          const int64_t od = id * g->s[0] - g->pad[0] + at[0] * g->dil[0];
          const int64_t oh = ih * g->s[1] - g->pad[1] + at[1] * g->dil[1];
          for (int64_t iw = lo[2]; iw <= hi[2]; iw++) {
            const int64_t ow = iw * g->s[2] - g->pad[2] + at[2] * g->dil[2];
            const double v = (double)xc[(id * g->in[1] + ih) * g->in[2] + iw] *
                             dyc[(od * g->out[1] + oh) * g->out[2] + ow];
            sum += v, mag += fabs(v);
          }
        }
    }
    *exact = sum;
    *tol = error_bound((double)g->n * terms, mag);
    return;
  }
  /* FWD and BWD_D: per axis, the (k, position) pairs of the taps that reach `at`; taps
   * holds the three lists. */
  int cnt[3] = {0, 0, 0};
  int64_t *tp[3] = {taps, taps + 2 * g->k[0], taps + 2 * (g->k[0] + g->k[1])};
  for (int a = 0; a < 3; a++)
    for (int64_t k = 0; k < g->k[a]; k++) {
      int64_t pos;
      bool ok;
      if (pass == BENCH_PASS_FWD) { /* the input i with i*s - p + k*dl = at */
        const int64_t q = at[a] + g->pad[a] - k * g->dil[a];
        pos = q / g->s[a];
        ok = q >= 0 && q % g->s[a] == 0 && pos < g->in[a];
      } else { /* the output position o that input `at` reaches */
        pos = at[a] * g->s[a] - g->pad[a] + k * g->dil[a];
        ok = pos >= 0 && pos < g->out[a];
      }
      if (ok) tp[a][2 * (size_t)cnt[a]] = k, tp[a][2 * (size_t)cnt[a] + 1] = pos, cnt[a]++;
    }
  const size_t kvol = (size_t)(g->k[0] * g->k[1] * g->k[2]);
  if (pass == BENCH_PASS_FWD) {
    const int64_t oc = c1, grp = oc / g->cout_g, ic0 = grp * g->cin_g;
    sum = d->b[oc], mag = fabs((double)d->b[oc]);
    dot_taps(d->x, (size_t)(c0 * g->cin + ic0) * vin, vin, g->in, d->w,
             ((size_t)ic0 * (size_t)g->cout_g + (size_t)(oc % g->cout_g)) * kvol,
             (size_t)g->cout_g * kvol, g->k, g->cin_g, tp, cnt, &sum, &mag);
    terms = (double)(g->cin_g * g->k[0] * g->k[1] * g->k[2] + 1);
  } else {
    const int64_t ic = c1, oc0 = ic / g->cin_g * g->cout_g;
    dot_taps(d->dy, (size_t)(c0 * g->cout + oc0) * vout, vout, g->out, d->w,
             (size_t)ic * (size_t)g->cout_g * kvol, kvol, g->k, g->cout_g, tp, cnt, &sum, &mag);
    terms = (double)(g->cout_g * g->k[0] * g->k[1] * g->k[2]);
  }
  *exact = sum;
  *tol = error_bound(terms, mag);
}

/* The sampled result elements with their exact values and error bounds. */
typedef struct samples {
  int count;
  size_t idx[SAMPLES];
  double exact[SAMPLES], tol[SAMPLES];
} samples;

/* Picks the elements to check: all of them for small results, otherwise the 32 corners
 * of the result's 5-D box, where boundary and tail bugs live, plus uniform samples. For
 * BWD_W, fewer where each element sums many terms, and grad_bias's first and last
 * elements plus uniform ones. */
static int pick_samples(const geom *g, bench_pass pass, const data *d, samples *sm) {
  int64_t *taps = malloc(2 * (size_t)(g->k[0] + g->k[1] + g->k[2]) * sizeof *taps), e[5];
  if (!taps) return -1;
  size_t box = pass == BENCH_PASS_BWD_W ? g->nw : result_size(g, pass);
  int want = SAMPLES, bias_want = 0;
  if (pass == BENCH_PASS_BWD_W) {
    const double per_weight = (double)g->nx / (double)g->cin; /* an upper bound */
    const double per_bias = (double)g->ny / (double)g->cout;
    want =
        (int)fmin(SAMPLES - MAX_BIAS_SAMPLES, fmax(MIN_WEIGHT_SAMPLES, SAMPLE_TERMS / per_weight));
    bias_want = (int)fmin(MAX_BIAS_SAMPLES, fmax(2, SAMPLE_TERMS / 4 / per_bias)); /* 1/4 */
  }
  result_box(g, pass, e);
  sm->count = 0;
  uint64_t seed = 0x5eed;
  if (box <= (size_t)want) {
    for (size_t i = 0; i < box; i++)
      sm->idx[sm->count++] = i;
  } else {
    for (int c = 0; c < 32; c++) {
      size_t i = 0;
      for (int a = 0; a < 5; a++)
        i = i * (size_t)e[a] + (size_t)((c >> a & 1) * (e[a] - 1));
      sm->idx[sm->count++] = i;
    }
    while (sm->count < want)
      sm->idx[sm->count++] = next_u64(&seed) % box;
  }
  if (bias_want >= g->cout) {
    for (int64_t oc = 0; oc < g->cout; oc++)
      sm->idx[sm->count++] = g->nw + (size_t)oc;
  } else if (bias_want) {
    sm->idx[sm->count++] = g->nw;
    sm->idx[sm->count++] = g->nw + (size_t)g->cout - 1;
    for (int j = 2; j < bias_want; j++)
      sm->idx[sm->count++] = g->nw + next_u64(&seed) % (size_t)g->cout;
  }
  for (int j = 0; j < sm->count; j++)
    exact_at(g, pass, d, sm->idx[j], taps, &sm->exact[j], &sm->tol[j]);
  free(taps);
  return 0;
}

/* Checks a result at the samples. Returns true when all are within bound; *worst gets
 * the largest |error| / bound seen (how much of the budget is used: a number to watch).
 * On failure prints the shape, the first bad element and how many are bad. */
static bool verify(const bench_shape *s, bench_pass pass, const char *who, int threads,
                   const geom *g, const samples *sm, const float *y, double *worst) {
  int bad = 0, first = -1;
  *worst = 0;
  for (int j = 0; j < sm->count; j++) {
    const double err = fabs((double)y[sm->idx[j]] - sm->exact[j]);
    if (!(err <= sm->tol[j])) { /* also catches NaN */
      if (!bad++) first = j;
      *worst = INFINITY;
    } else if (sm->tol[j] > 0 && err / sm->tol[j] > *worst) {
      *worst = err / sm->tol[j];
    }
  }
  if (!bad) return true;
  char desc[256], where[128];
  convt3d_problem_describe(&s->p, desc, sizeof desc);
  size_t i = sm->idx[first];
  int64_t e[5], at[5];
  const char *name = result_box(g, pass, e);
  if (pass == BENCH_PASS_BWD_W && i >= g->nw) {
    snprintf(where, sizeof where, "grad_bias[%zu]", i - g->nw);
  } else {
    for (int a = 4; a >= 0; a--)
      at[a] = (int64_t)(i % (size_t)e[a]), i /= (size_t)e[a];
    snprintf(where, sizeof where, "%s[%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 "]",
             name, at[0], at[1], at[2], at[3], at[4]);
  }
  i = sm->idx[first];
  fprintf(stderr,
          "convt3d bench: VERIFICATION FAILED: %s, %s, pass %s, %d thread%s (%s)\n"
          "  %s = %.9g, exact %.9g, |error| %.3g > bound %.3g; %d of %d sampled elements "
          "wrong\n",
          who, s->name, pass_name[pass], threads, threads == 1 ? "" : "s", desc, where,
          (double)y[i], sm->exact[first], fabs((double)y[i] - sm->exact[first]), sm->tol[first],
          bad, sm->count);
  return false;
}

/* -------------------------------------------------------------------- FMA peak */

/* GFLOP/s of an FMA loop on `threads` threads, each running its own copy, best of three;
 * NAN where the CPU has neither AVX-512F nor AVX2+FMA (or threads > 1 without OpenMP). */
static double fma_peak(int threads, const char **isa) {
  float (*loop)(int64_t) = NULL;
  double flop_per_iter = 0;
  *isa = "n/a";
#ifdef CONVT3D_BENCH_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f"))
    loop = bench_fma_avx512, flop_per_iter = 2.0 * 16 * BENCH_FMA_CHAINS, *isa = "avx512";
  else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    loop = bench_fma_avx2, flop_per_iter = 2.0 * 8 * BENCH_FMA_CHAINS, *isa = "avx2";
#endif
#ifndef _OPENMP
  if (threads > 1) loop = NULL;
#endif
  if (!loop) return NAN;
  volatile float sink = 0;
  int64_t iters = 1 << 14;
  double t;
  for (;;) { /* calibrate to ~0.2 s per thread */
    t = now_seconds();
    sink += loop(iters);
    t = now_seconds() - t;
    if (t > 0.02 || iters > ((int64_t)1 << 40)) break;
    iters *= 4;
  }
  iters = (int64_t)((double)iters * 0.2 / t) + 1;
  double best = INFINITY;
  for (int rep = 0; rep < 3; rep++) {
    t = now_seconds();
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
    {
      float r = loop(iters);
#ifdef _OPENMP
#pragma omp critical
#endif
      sink += r;
    }
    t = now_seconds() - t;
    if (t < best) best = t;
  }
  (void)sink;
  return (double)threads * (double)iters * flop_per_iter / best * 1e-9;
}

/* ------------------------------------------------------------------ one shape */

/* The columns of one report row; NAN (times) or "" (names) where not measured. */
typedef struct result {
  int threads, runs;
  double plan_ms, ms, oneshot_ms, gflops, eff_gflops, peak_pct, any_ms, plain_ms;
  double worst; /* largest |error| / bound over every verified result */
  size_t packed, workspace;
  const char *algorithm, *isa;
  char any_impl[48], plain_impl[48];
} result;

enum { ONEDNN_LAYOUTS = 2, RATIOS = ONEDNN_LAYOUTS + 1 };
#ifdef CONVT3D_HAVE_ONEDNN
static const char *const layout_name[ONEDNN_LAYOUTS] = {"any", "plain"};
#endif

typedef struct ctx {
  int nthreads, threads[MAX_THREAD_COUNTS], runs;
  double peak[MAX_THREAD_COUNTS];
  bench_pass pass; /* the pass being timed */
  FILE *csv;
  int name_width;
  /* Per thread count, geomean accumulators of oneDNN ms / convt3d ms: any, plain, best
   * (reset for each pass). */
  double log_ratio_sum[MAX_THREAD_COUNTS][RATIOS];
  int log_ratio_count[MAX_THREAD_COUNTS][RATIOS];
} ctx;

static void set_threads(int n) {
  convt3d_set_num_threads(n);
#ifdef _OPENMP
  omp_set_num_threads(n); /* oneDNN (OpenMP build) uses omp_get_max_threads() */
#endif
}

/* convt3d's plan, execute and one-shot call for a pass; out: the pass's result buffer. */
static convt3d_status ct_plan(bench_pass pass, const convt3d_problem *p, const data *d,
                              const convt3d_plan_options *opt, convt3d_plan **plan) {
  if (pass == BENCH_PASS_BWD_D) return convt3d_plan_create_backward_data(p, d->w, opt, plan);
  if (pass == BENCH_PASS_BWD_W) return convt3d_plan_create_backward_weight(p, opt, plan);
  return convt3d_plan_create(p, d->w, d->b, opt, plan);
}

static convt3d_status ct_execute(bench_pass pass, const convt3d_plan *plan, const geom *g,
                                 const data *d, float *out) {
  if (pass == BENCH_PASS_BWD_D) return convt3d_plan_execute(plan, d->dy, out);
  if (pass == BENCH_PASS_BWD_W)
    return convt3d_plan_execute_backward_weight(plan, d->x, d->dy, out, out + g->nw);
  return convt3d_plan_execute(plan, d->x, out);
}

static convt3d_status ct_oneshot(bench_pass pass, const convt3d_problem *p, const geom *g,
                                 const data *d, float *out) {
  if (pass == BENCH_PASS_BWD_D) return convt3d_backward_data(p, d->dy, d->w, out);
  if (pass == BENCH_PASS_BWD_W) return convt3d_backward_weight(p, d->x, d->dy, out, out + g->nw);
  return convt3d_forward(p, d->x, d->w, d->b, out);
}

/* Times every implementation of pass c->pass on one shape for one thread count (index
 * ti) and fills *r. out, check: result buffers (result_size elements; check holds
 * oneDNN's result for verification). Returns 0, or EXIT_FAILED after printing why
 * (verification failure, library error). */
static int bench_one(ctx *c, const bench_shape *s, const geom *g, const samples *sm, int ti,
                     const data *d, float *out, float *check, result *r) {
#ifndef CONVT3D_HAVE_ONEDNN
  (void)check;
#endif
  const int T = c->threads[ti];
  const bench_pass pass = c->pass;
  const size_t nout = result_size(g, pass);
  *r = (result){.threads = T, .any_ms = NAN, .plain_ms = NAN};
  set_threads(T);
  convt3d_plan_options opt = {.algorithm = CONVT3D_ALGO_AUTO, .num_threads = T};
  convt3d_plan *plan = NULL;
  convt3d_plan_info info;
  double tp[3], t0;
  for (int i = 0; i < 3; i++) { /* median of three: a page-faulting first call counts once */
    convt3d_plan_destroy(plan);
    t0 = now_seconds();
    if (ct_plan(pass, &s->p, d, &opt, &plan) != CONVT3D_OK) {
      fprintf(stderr, "convt3d bench: %s: %s\n", s->name, convt3d_last_error());
      return EXIT_FAILED;
    }
    tp[i] = now_seconds() - t0;
  }
  r->plan_ms = median(tp, 3) * 1e3;
  convt3d_plan_get_info(plan, &info);
  r->packed = info.packed_weight_bytes;
  r->workspace = info.workspace_bytes;
  r->algorithm = convt3d_algorithm_name(info.algorithm);
  r->isa = info.isa;

  /* Each implementation's first run is verified (and warms it up); only then is it timed.
   * Times go to one series per implementation: execute, one-shot, oneDNN any, plain. */
  enum { SERIES = 2 + ONEDNN_LAYOUTS };
  double *times[SERIES] = {NULL}, worst;
  int rc = EXIT_FAILED, n[SERIES] = {0};
#ifdef CONVT3D_HAVE_ONEDNN
  bench_onednn *dnn[ONEDNN_LAYOUTS] = {NULL, NULL};
#endif
  memset(out, 0xff, nout * sizeof *out); /* NaN: an element never written cannot pass */
  convt3d_status st = ct_execute(pass, plan, g, d, out);
  if (st != CONVT3D_OK || !verify(s, pass, "convt3d execute", T, g, sm, out, &r->worst)) goto done;
  memset(out, 0xff, nout * sizeof *out);
  st = ct_oneshot(pass, &s->p, g, d, out);
  if (st != CONVT3D_OK || !verify(s, pass, "convt3d one-shot", T, g, sm, out, &worst)) goto done;
  r->worst = fmax(r->worst, worst);
#ifdef CONVT3D_HAVE_ONEDNN
  char *impl[ONEDNN_LAYOUTS] = {r->any_impl, r->plain_impl};
  for (int l = 0; l < ONEDNN_LAYOUTS; l++) {
    char why[256];
    dnn[l] = bench_onednn_create(&s->p, pass, (bench_onednn_layout)l, d->x, d->w, d->b, d->dy, why,
                                 sizeof why);
    if (dnn[l]) {
      snprintf(impl[l], sizeof r->any_impl, "%s", bench_onednn_impl(dnn[l]));
      int e = bench_onednn_execute(dnn[l]);
      memset(check, 0xff, nout * sizeof *check);
      if (!e) e = bench_onednn_output(dnn[l], check);
      char who[32];
      snprintf(who, sizeof who, "oneDNN %s", layout_name[l]);
      /* A wrong oneDNN result is oneDNN's (or this file's) fault, not convt3d's: report
       * it, leave that column n/a, and go on with the suite. */
      if (e || !verify(s, pass, who, T, g, sm, check, &worst)) {
        if (e)
          fprintf(stderr, "convt3d bench: %s: oneDNN %s failed to run\n", s->name, layout_name[l]);
        fprintf(stderr, "convt3d bench: %s: oneDNN %s result rejected, its column is n/a\n",
                s->name, layout_name[l]);
        snprintf(impl[l], sizeof r->any_impl, "wrong result");
        bench_onednn_destroy(dnn[l]);
        dnn[l] = NULL;
      } else {
        r->worst = fmax(r->worst, worst);
      }
    } else {
      fprintf(stderr, "convt3d bench: %s: oneDNN %s declined: %s\n", s->name, layout_name[l], why);
      snprintf(impl[l], sizeof r->any_impl, "rejected");
    }
  }
#endif

  /* Timed rounds: each round runs every implementation once, in a fixed order, so slow
   * drifts (clock, other load) hit all of them alike. Rounds go on until MIN_SECONDS
   * have passed and MIN_RUNS are done, or for exactly --runs rounds. */
  fprintf(stderr, "  %d thread%s: verified (worst error %.3f of bound), timing\n", T,
          T == 1 ? "" : "s", r->worst);
  const double start = now_seconds();
  int runs = 0;
  for (int cap = 0;
       c->runs ? runs < c->runs
               : runs < MIN_RUNS || (runs < MAX_RUNS && now_seconds() - start < MIN_SECONDS);
       runs++) {
    if (runs == cap) {
      cap = cap ? 2 * cap : 64;
      for (int k = 0; k < SERIES; k++) {
        double *grown = realloc(times[k], (size_t)cap * sizeof *grown);
        if (!grown) {
          fprintf(stderr, "convt3d bench: out of memory\n");
          goto done;
        }
        times[k] = grown;
      }
    }
    t0 = now_seconds();
    ct_execute(pass, plan, g, d, out);
    times[0][n[0]++] = now_seconds() - t0;
    t0 = now_seconds();
    ct_oneshot(pass, &s->p, g, d, out);
    times[1][n[1]++] = now_seconds() - t0;
#ifdef CONVT3D_HAVE_ONEDNN
    for (int l = 0; l < ONEDNN_LAYOUTS; l++) {
      if (!dnn[l]) continue;
      t0 = now_seconds();
      if (!bench_onednn_execute(dnn[l])) times[2 + l][n[2 + l]++] = now_seconds() - t0;
    }
#endif
  }
  r->runs = runs;
  r->ms = median(times[0], n[0]) * 1e3;
  r->oneshot_ms = median(times[1], n[1]) * 1e3;
  r->any_ms = median(times[2], n[2]) * 1e3;
  r->plain_ms = median(times[3], n[3]) * 1e3;
  r->gflops = nominal_flops(g) / r->ms * 1e-6;
  r->eff_gflops = effective_flops(g) / r->ms * 1e-6;
  r->peak_pct = 100 * r->eff_gflops / c->peak[ti];
  rc = 0;
done:
  if (rc && st != CONVT3D_OK)
    fprintf(stderr, "convt3d bench: %s: %s\n", s->name, convt3d_last_error());
  for (int k = 0; k < SERIES; k++)
    free(times[k]);
#ifdef CONVT3D_HAVE_ONEDNN
  for (int l = 0; l < ONEDNN_LAYOUTS; l++)
    bench_onednn_destroy(dnn[l]);
#endif
  convt3d_plan_destroy(plan);
  return rc;
}

/* ---------------------------------------------------------------------- report */

/* Prints v in a field of `width` characters, or "n/a" for NAN. */
static void put_num(FILE *f, int width, int prec, double v) {
  if (isnan(v))
    fprintf(f, " %*s", width, "n/a");
  else
    fprintf(f, " %*.*f", width, prec, v);
}

static void print_table_header(const ctx *c) {
  printf("%-*s %3s %8s %9s %9s %7s %7s %6s %9s %9s %6s %6s %6s %8s %7s\n", c->name_width, "shape",
         "thr", "plan_ms", "ms", "1shot_ms", "GFLOP/s", "eff_GF", "%peak", "dnnl_any", "dnnl_pln",
         "any/ct", "pl/ct", "bst/ct", "pack_MiB", "ws_MiB");
}

static void report(ctx *c, const bench_shape *s, const result *r, int ti) {
  /* "best" is oneDNN at its fastest of the two layouts: for Cout in {1, 3} plain beats any. */
  const double best_ms = isnan(r->any_ms) ? r->plain_ms : fmin(r->any_ms, r->plain_ms);
  const double ratio[RATIOS] = {r->any_ms / r->ms, r->plain_ms / r->ms, best_ms / r->ms};
  for (int l = 0; l < RATIOS; l++)
    if (isfinite(ratio[l]) && ratio[l] > 0)
      c->log_ratio_sum[ti][l] += log(ratio[l]), c->log_ratio_count[ti][l]++;
  printf("%-*s %3d", c->name_width, s->name, r->threads);
  put_num(stdout, 8, 3, r->plan_ms);
  put_num(stdout, 9, 3, r->ms);
  put_num(stdout, 9, 3, r->oneshot_ms);
  put_num(stdout, 7, 1, r->gflops);
  put_num(stdout, 7, 1, r->eff_gflops);
  put_num(stdout, 6, 1, r->peak_pct);
  put_num(stdout, 9, 3, r->any_ms);
  put_num(stdout, 9, 3, r->plain_ms);
  put_num(stdout, 6, 2, ratio[0]);
  put_num(stdout, 6, 2, ratio[1]);
  put_num(stdout, 6, 2, ratio[2]);
  put_num(stdout, 8, 2, (double)r->packed / 1048576.0);
  put_num(stdout, 7, 2, (double)r->workspace / 1048576.0);
  putchar('\n');
  fflush(stdout);
  if (!c->csv) return;
  /* Names are written as read, so quote them if they hold CSV's special characters. */
  if (strpbrk(s->name, ",\"\n")) {
    fputc('"', c->csv);
    for (const char *p = s->name; *p; p++) {
      if (*p == '"') fputc('"', c->csv);
      fputc(*p, c->csv);
    }
    fputc('"', c->csv);
  } else {
    fputs(s->name, c->csv);
  }
  /* %.6g, and an empty field where a value is missing (pandas reads it as NaN). */
  const double nums[] = {r->ms,         r->gflops,   r->oneshot_ms, r->plan_ms,
                         r->eff_gflops, r->peak_pct, r->any_ms,     r->plain_ms,
                         ratio[0],      ratio[1],    ratio[2]};
  fprintf(c->csv, ",%d", r->threads);
  for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
    isnan(nums[i]) ? fputc(',', c->csv) : fprintf(c->csv, ",%.6g", nums[i]);
  fprintf(c->csv, ",%zu,%zu,1,%.4g,%s,%s,%d,%.6g,%s,%s,%s\n", r->packed, r->workspace, r->worst,
          r->algorithm, r->isa, r->runs, c->peak[ti], r->any_impl, r->plain_impl,
          pass_name[c->pass]);
  fflush(c->csv);
}

/* One table: every shape of the suite, every thread count, for pass c->pass, then its
 * geomean rows. Returns 0 or the exit status of a failure (already reported). */
static int bench_table(ctx *c, const bench_shape *shapes, int nshapes) {
  const bench_pass pass = c->pass;
  memset(c->log_ratio_sum, 0, sizeof c->log_ratio_sum);
  memset(c->log_ratio_count, 0, sizeof c->log_ratio_count);
  printf("\npass %s: %s\n", pass_name[pass], pass_title[pass]);
  print_table_header(c);
  samples *sm = malloc(sizeof *sm);
  int rc = sm ? 0 : EXIT_FAILED;
  for (int i = 0; i < nshapes && !rc; i++) {
    const bench_shape *s = &shapes[i];
    const geom g = geom_of(&s->p);
    const size_t nout = result_size(&g, pass);
    fprintf(stderr, "[%d/%d] %s %s: %.3g effective GFLOP\n", i + 1, nshapes, s->name,
            pass_name[pass], effective_flops(&g) * 1e-9);
    /* The forward pass reads x, w, b; backward-data dy, w; backward-weight x, dy. */
    float *x = malloc(g.nx * sizeof *x), *w = malloc(g.nw * sizeof *w),
          *b = malloc((size_t)g.cout * sizeof *b), *dy = NULL, *out = malloc(nout * sizeof *out),
          *check = NULL;
    if (pass != BENCH_PASS_FWD) dy = malloc(g.ny * sizeof *dy);
#ifdef CONVT3D_HAVE_ONEDNN
    check = malloc(nout * sizeof *check);
    const bool need_check = true;
#else
    const bool need_check = false;
#endif
    if (!x || !w || !b || !out || (pass != BENCH_PASS_FWD && !dy) || (need_check && !check)) {
      fprintf(stderr, "convt3d bench: %s: out of memory\n", s->name);
      rc = EXIT_FAILED;
    } else {
      /* The same seeds for every pass: the tables describe one set of problems. */
      fill_uniform(x, g.nx, 1 + (uint64_t)i);
      fill_uniform(w, g.nw, 1001 + (uint64_t)i);
      fill_uniform(b, (size_t)g.cout, 2001 + (uint64_t)i);
      if (dy) fill_uniform(dy, g.ny, 3001 + (uint64_t)i);
      const data d = {.x = x, .w = w, .b = b, .dy = dy};
      if (pick_samples(&g, pass, &d, sm)) {
        fprintf(stderr, "convt3d bench: out of memory\n");
        rc = EXIT_FAILED;
      }
      for (int t = 0; t < c->nthreads && !rc; t++) {
        result r;
        if (!(rc = bench_one(c, s, &g, sm, t, &d, out, check, &r))) report(c, s, &r, t);
      }
    }
    free(x), free(w), free(b), free(dy), free(out), free(check);
  }
  free(sm);
  if (!rc)
    for (int t = 0; t < c->nthreads; t++) {
      /* Blank up to the ratio columns: 8 columns of widths 8 9 9 7 7 6 9 9, 1 space each. */
      printf("%-*s %3d%*s", c->name_width, "geomean", c->threads[t], 72, "");
      for (int l = 0; l < RATIOS; l++)
        put_num(stdout, 6, 2,
                c->log_ratio_count[t][l] ? exp(c->log_ratio_sum[t][l] / c->log_ratio_count[t][l])
                                         : NAN);
      putchar('\n');
    }
  fflush(stdout);
  return rc;
}

/* ------------------------------------------------------------------------ main */

int bench_main(int argc, char **argv) {
  const char *suite = CONVT3D_DEFAULT_SUITE, *csv_path = NULL;
  ctx c = {.nthreads = 2, .threads = {1, 2}};
  int first = BENCH_PASS_FWD, last = BENCH_PASS_FWD; /* the passes to time, in order */
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(usage, stdout);
      return 0;
    }
    const bool known = !strcmp(a, "--suite") || !strcmp(a, "--threads") || !strcmp(a, "--csv") ||
                       !strcmp(a, "--runs") || !strcmp(a, "--pass");
    if (!known || i + 1 == argc) {
      fprintf(stderr, "convt3d bench: %s '%s' (try 'convt3d bench --help')\n",
              known ? "missing value after" : "unknown argument", a);
      return EXIT_REJECTED;
    }
    const char *v = argv[++i];
    int64_t n = 0;
    if (!strcmp(a, "--suite"))
      suite = v;
    else if (!strcmp(a, "--csv"))
      csv_path = v;
    else if (!strcmp(a, "--pass")) {
      first = 0, last = BENCH_PASSES - 1;
      while (first < BENCH_PASSES && strcmp(v, pass_name[first]) != 0)
        first++;
      if (first < BENCH_PASSES)
        last = first;
      else if (strcmp(v, "all") != 0) {
        fprintf(stderr, "convt3d bench: --pass '%s': expected fwd, bwd_d, bwd_w or all\n", v);
        return EXIT_REJECTED;
      } else
        first = 0;
    } else if (!bench_parse_i64(v, &n) || n < 1 || n > (!strcmp(a, "--runs") ? MAX_RUNS : 1024)) {
      fprintf(stderr, "convt3d bench: %s '%s': expected an integer from 1 to %d\n", a, v,
              !strcmp(a, "--runs") ? MAX_RUNS : 1024);
      return EXIT_REJECTED;
    } else if (!strcmp(a, "--runs"))
      c.runs = (int)n;
    else
      c.nthreads = 1, c.threads[0] = (int)n;
  }

  bench_shape *shapes;
  int nshapes, rc = bench_read_suite(suite, &shapes, &nshapes);
  if (rc) return rc;
  if (csv_path && !(c.csv = fopen(csv_path, "w"))) {
    fprintf(stderr, "convt3d bench: cannot write '%s': %s\n", csv_path, strerror(errno));
    free(shapes);
    return EXIT_FAILED;
  }
  c.name_width = 7; /* "geomean" */
  for (int i = 0; i < nshapes; i++)
    if ((int)strlen(shapes[i].name) > c.name_width) c.name_width = (int)strlen(shapes[i].name);

  /* The machine's identity and peak head the table, so a pasted table says what it is. */
  char cpu[128] = "unknown CPU", date[32] = "";
  FILE *ci = fopen("/proc/cpuinfo", "r");
  for (char l[256]; ci && fgets(l, sizeof l, ci);)
    if (!strncmp(l, "model name", 10) && strchr(l, ':')) {
      snprintf(cpu, sizeof cpu, "%s", strchr(l, ':') + 2);
      cpu[strcspn(cpu, "\n")] = '\0';
      break;
    }
  if (ci) fclose(ci);
  const time_t now = time(NULL);
  strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
  fprintf(stderr, "convt3d bench: measuring the FMA peak...\n");
  printf("convt3d %s bench, %s, %s, suite %s (%d shape%s)\n", convt3d_version_string(), date, cpu,
         suite, nshapes, nshapes == 1 ? "" : "s");
  /* The 1-thread peak is always shown: it is the yardstick for thread scaling. */
  const char *peak_isa = "n/a";
  const double peak1 = fma_peak(1, &peak_isa);
  printf("FMA peak (measured, %s, GFLOP/s): 1 thread", peak_isa);
  put_num(stdout, 0, 1, peak1);
  for (int t = 0; t < c.nthreads; t++) {
    c.peak[t] = c.threads[t] == 1 ? peak1 : fma_peak(c.threads[t], &peak_isa);
    if (c.threads[t] == 1) continue;
    printf(", %d threads", c.threads[t]);
    put_num(stdout, 0, 1, c.peak[t]);
  }
  putchar('\n');
  /* The peak loop scales perfectly on free cores, so poor scaling means other processes
   * hold cores: every multi-thread time below would then be inflated. */
  for (int t = 0; t < c.nthreads; t++)
    if (c.threads[t] > 1 && c.peak[t] < 0.85 * c.threads[t] * peak1)
      printf("WARNING: the peak scales only %.2fx on %d threads: the machine looks busy, "
             "multi-thread times are unreliable\n",
             c.peak[t] / peak1, c.threads[t]);
#ifdef CONVT3D_HAVE_ONEDNN
  printf("oneDNN %s: any = format_tag::any, reorders excluded; pln = ncdhw + iodhw weights\n",
         bench_onednn_version());
#else
  printf("oneDNN: not built in (install libdnnl-dev and rebuild for the comparison)\n");
#endif
  if (c.csv)
    fputs("name,threads,ms,gflops,oneshot_ms,plan_ms,effective_gflops,peak_pct,onednn_any_ms,"
          "onednn_plain_ms,ratio_any,ratio_plain,ratio_best,packed_bytes,workspace_bytes,verified,"
          "max_error_over_bound,algorithm,isa,runs,peak_gflops,onednn_any_impl,"
          "onednn_plain_impl,pass\n",
          c.csv);
  for (int p = first; p <= last && !rc; p++) {
    c.pass = (bench_pass)p;
    rc = bench_table(&c, shapes, nshapes);
  }
  free(shapes);
#ifdef CONVT3D_HAVE_ONEDNN
  bench_onednn_shutdown();
#endif
  if (c.csv && (fclose(c.csv) != 0) && !rc) {
    fprintf(stderr, "convt3d bench: error writing '%s'\n", csv_path);
    rc = EXIT_FAILED;
  }
  return rc;
}
