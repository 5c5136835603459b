/* convt3d bench: times convt3d's float32 forward on the layer shapes of a suite file,
 * beside oneDNN's deconvolution run in the same process, after verifying every result.
 *
 * What makes the numbers trustworthy:
 * - every result (convt3d's execute and one-shot, and oneDNN's) is checked before it is
 *   timed, against the exact value in double at a few thousand sampled output elements,
 *   within a bound derived from the reduction length (see verify());
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

/* Sampled output elements checked per shape: enough to catch a wrong tile, a wrong tail
 * or a wrong phase with near certainty, cheap enough for 17-GFLOP shapes. */
enum { SAMPLES = 4096, MAX_THREAD_COUNTS = 2 };
#define MIN_SECONDS 1.0 /* default: enough rounds for this much time, and ... */
#define MIN_RUNS    5   /* ... at least this many */
#define MAX_RUNS    100000

static const char usage[] =
    "usage: convt3d bench [--suite FILE.csv] [--threads N] [--runs R] [--csv OUT.csv]\n"
    "\n"
    "Times convt3d's float32 forward (batched, with bias, random data) on every shape of\n"
    "a suite file, with 1 and 2 threads, beside oneDNN's deconvolution in its best\n"
    "layout (format_tag::any, reorders excluded) and in plain ncdhw, run alternately in\n"
    "this process. Every result is verified first at sampled output elements.\n"
    "\n"
    "  --suite FILE   suite CSV (default, baked in at build time:\n"
    "                 " CONVT3D_DEFAULT_SUITE ")\n"
    "  --threads N    only N threads (default: 1, then 2)\n"
    "  --runs R       timed rounds (default: enough for 1 s, at least 5)\n"
    "  --csv OUT      also write one CSV row per shape and thread count\n"
    "\n"
    "Suite: CSV with a header holding at least name,N,Cin,Cout,D,H,W,kD,kH,kW,sD,sH,sW,\n"
    "pD,pH,pW,opD,opH,opW,dD,dH,dW,groups (other columns are ignored).\n"
    "Table (stdout; progress goes to stderr): times are medians in ms: ms = plan execute,\n"
    "1shot = convt3d_forward (plan + execute + destroy), plan_ms = plan creation;\n"
    "GFLOP/s nominal (every tap) and effective (only taps that land in the output);\n"
    "%peak = effective GFLOP/s / FMA peak measured at start for that thread count;\n"
    "any/ct, pl/ct, bst/ct = oneDNN ms (any, plain, the faster of the two) / convt3d ms:\n"
    "above 1, convt3d is faster; pack_MiB, ws_MiB = the plan's packed weights, workspace.\n"
    "Exit status: 0 done; 1 a result failed verification, or I/O; 2 bad command line or\n"
    "suite file.\n";

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

/* Effective FLOPs: 2 * N * Cin * Cout/groups * (input/tap pairs that land inside the
 * output), the pairs counted exactly per axis: tap k of input i lands on i*s - p + k*dl. */
static double effective_flops(const geom *g) {
  double pairs = 1;
  for (int a = 0; a < 3; a++) {
    int64_t count = 0;
    for (int64_t k = 0; k < g->k[a]; k++) {
      const int64_t off = k * g->dil[a] - g->pad[a];
      int64_t lo = -floor_div(off, g->s[a]); /* ceil(-off / s): first i with i*s+off >= 0 */
      int64_t hi = floor_div(g->out[a] - 1 - off, g->s[a]);
      if (lo < 0) lo = 0;
      if (hi > g->in[a] - 1) hi = g->in[a] - 1;
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

/* The sampled output elements with their exact values and error bounds. */
typedef struct samples {
  int count;
  size_t idx[SAMPLES];
  double exact[SAMPLES], tol[SAMPLES];
} samples;

/* Exact value (double: float products are exact in double, and a double sum of K of them
 * is off by ~K*2^-53, negligible beside the float bound) of y at flat NCDHW index i, and
 * the error bound of any float32 evaluation order: |y - exact| <= gamma(K+1) *
 * (sum |x*w| + |b|), gamma(n) = n*u/(1 - n*u), u = 2^-24, K = Cin/groups * kD*kH*kW
 * (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., section 3.1). */
static void exact_at(const geom *g, const float *x, const float *w, const float *b, size_t i,
                     int64_t *taps, double *exact, double *tol) {
  int64_t o[3], t = (int64_t)i;
  for (int a = 2; a >= 0; a--)
    o[a] = t % g->out[a], t /= g->out[a];
  const int64_t oc = t % g->cout, n = t / g->cout, grp = oc / g->cout_g, co = oc % g->cout_g;
  /* Per axis, the (k, i) pairs that land on o: taps[a] lists k, then i, packed in pairs. */
  int cnt[3] = {0, 0, 0};
  int64_t *tp[3] = {taps, taps + 2 * g->k[0], taps + 2 * (g->k[0] + g->k[1])};
  for (int a = 0; a < 3; a++)
    for (int64_t k = 0; k < g->k[a]; k++) {
      const int64_t d = o[a] + g->pad[a] - k * g->dil[a];
      if (d >= 0 && d % g->s[a] == 0 && d / g->s[a] < g->in[a])
        tp[a][2 * cnt[a]] = k, tp[a][2 * cnt[a] + 1] = d / g->s[a], cnt[a]++;
    }
  double sum = b[oc], mag = fabs(b[oc]);
  for (int64_t ci = 0; ci < g->cin_g; ci++) {
    const int64_t ic = grp * g->cin_g + ci;
    for (int jd = 0; jd < cnt[0]; jd++)
      for (int jh = 0; jh < cnt[1]; jh++)
        for (int jw = 0; jw < cnt[2]; jw++) {
          const double xv = x[(((n * g->cin + ic) * g->in[0] + tp[0][2 * jd + 1]) * g->in[1] +
                               tp[1][2 * jh + 1]) *
                                  g->in[2] +
                              tp[2][2 * jw + 1]];
          const double wv =
              w[(((ic * g->cout_g + co) * g->k[0] + tp[0][2 * jd]) * g->k[1] + tp[1][2 * jh]) *
                    g->k[2] +
                tp[2][2 * jw]];
          sum += xv * wv;
          mag += fabs(xv * wv);
        }
  }
  const double nu = (double)(g->cin_g * g->k[0] * g->k[1] * g->k[2] + 1) * 0x1p-24;
  *exact = sum;
  *tol = nu < 1 ? nu / (1 - nu) * mag : INFINITY;
}

/* Picks the elements to check: all of them for small outputs, otherwise the 32 corners
 * of the (n, c, d, h, w) box, where boundary and tail bugs live, plus uniform samples. */
static int pick_samples(const geom *g, const float *x, const float *w, const float *b,
                        samples *sm) {
  int64_t *taps = malloc(2 * (size_t)(g->k[0] + g->k[1] + g->k[2]) * sizeof *taps);
  if (!taps) return -1;
  sm->count = 0;
  if (g->ny <= SAMPLES) {
    for (size_t i = 0; i < g->ny; i++)
      sm->idx[sm->count++] = i;
  } else {
    const int64_t ext[5] = {g->n, g->cout, g->out[0], g->out[1], g->out[2]};
    for (int c = 0; c < 32; c++) {
      size_t i = 0;
      for (int a = 0; a < 5; a++)
        i = i * (size_t)ext[a] + (size_t)((c >> a & 1) * (ext[a] - 1));
      sm->idx[sm->count++] = i;
    }
    uint64_t seed = 0x5eed;
    while (sm->count < SAMPLES)
      sm->idx[sm->count++] = next_u64(&seed) % g->ny;
  }
  for (int j = 0; j < sm->count; j++)
    exact_at(g, x, w, b, sm->idx[j], taps, &sm->exact[j], &sm->tol[j]);
  free(taps);
  return 0;
}

/* Checks y at the samples. Returns true when all are within bound; *worst gets the
 * largest |error| / bound seen (how much of the budget is used: a number to watch). On
 * failure prints the shape, the first bad element and how many are bad. */
static bool verify(const bench_shape *s, const char *who, int threads, const geom *g,
                   const samples *sm, const float *y, double *worst) {
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
  char desc[256];
  convt3d_problem_describe(&s->p, desc, sizeof desc);
  size_t i = sm->idx[first];
  int64_t at[5];
  for (int a = 4; a >= 2; a--)
    at[a] = (int64_t)(i % (size_t)g->out[a - 2]), i /= (size_t)g->out[a - 2];
  at[1] = (int64_t)(i % (size_t)g->cout), at[0] = (int64_t)(i / (size_t)g->cout);
  fprintf(stderr,
          "convt3d bench: VERIFICATION FAILED: %s, %s, %d thread%s (%s)\n"
          "  y[%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 "] = %.9g, exact "
          "%.9g, |error| %.3g > bound %.3g; %d of %d sampled elements wrong\n",
          who, s->name, threads, threads == 1 ? "" : "s", desc, at[0], at[1], at[2], at[3], at[4],
          (double)y[sm->idx[first]], sm->exact[first],
          fabs((double)y[sm->idx[first]] - sm->exact[first]), sm->tol[first], bad, sm->count);
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
  FILE *csv;
  int name_width;
  /* Per thread count, geomean accumulators of oneDNN ms / convt3d ms: any, plain, best. */
  double log_ratio_sum[MAX_THREAD_COUNTS][RATIOS];
  int log_ratio_count[MAX_THREAD_COUNTS][RATIOS];
} ctx;

static void set_threads(int n) {
  convt3d_set_num_threads(n);
#ifdef _OPENMP
  omp_set_num_threads(n); /* oneDNN (OpenMP build) uses omp_get_max_threads() */
#endif
}

/* Times every implementation on one shape for one thread count (index ti) and fills *r.
 * Returns 0, or EXIT_FAILED after printing why (verification failure, library error). */
static int bench_one(ctx *c, const bench_shape *s, const geom *g, const samples *sm, int ti,
                     const float *x, const float *w, const float *b, float *y, float *ycheck,
                     result *r) {
#ifndef CONVT3D_HAVE_ONEDNN
  (void)ycheck; /* holds oneDNN's output for verification */
#endif
  const int T = c->threads[ti];
  *r = (result){.threads = T, .any_ms = NAN, .plain_ms = NAN};
  set_threads(T);
  convt3d_plan_options opt = {.algorithm = CONVT3D_ALGO_AUTO, .num_threads = T};
  convt3d_plan *plan = NULL;
  convt3d_plan_info info;
  double tp[3], t0;
  for (int i = 0; i < 3; i++) { /* median of three: a page-faulting first call counts once */
    convt3d_plan_destroy(plan);
    t0 = now_seconds();
    if (convt3d_plan_create(&s->p, w, b, &opt, &plan) != CONVT3D_OK) {
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
  memset(y, 0xff, g->ny * sizeof *y); /* NaN: an element never written cannot pass */
  convt3d_status st = convt3d_plan_execute(plan, x, y);
  if (st != CONVT3D_OK || !verify(s, "convt3d execute", T, g, sm, y, &r->worst)) goto done;
  memset(y, 0xff, g->ny * sizeof *y);
  st = convt3d_forward(&s->p, x, w, b, y);
  if (st != CONVT3D_OK || !verify(s, "convt3d_forward", T, g, sm, y, &worst)) goto done;
  r->worst = fmax(r->worst, worst);
#ifdef CONVT3D_HAVE_ONEDNN
  char *impl[ONEDNN_LAYOUTS] = {r->any_impl, r->plain_impl};
  for (int l = 0; l < ONEDNN_LAYOUTS; l++) {
    char why[256];
    dnn[l] = bench_onednn_create(&s->p, (bench_onednn_layout)l, x, w, b, why, sizeof why);
    if (dnn[l]) {
      snprintf(impl[l], sizeof r->any_impl, "%s", bench_onednn_impl(dnn[l]));
      int e = bench_onednn_execute(dnn[l]);
      memset(ycheck, 0xff, g->ny * sizeof *ycheck);
      if (!e) e = bench_onednn_output(dnn[l], ycheck);
      char who[32];
      snprintf(who, sizeof who, "oneDNN %s", layout_name[l]);
      /* A wrong oneDNN result is oneDNN's (or this file's) fault, not convt3d's: report
       * it, leave that column n/a, and go on with the suite. */
      if (e || !verify(s, who, T, g, sm, ycheck, &worst)) {
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
    convt3d_plan_execute(plan, x, y);
    times[0][n[0]++] = now_seconds() - t0;
    t0 = now_seconds();
    convt3d_forward(&s->p, x, w, b, y);
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
  fprintf(c->csv, ",%zu,%zu,1,%.4g,%s,%s,%d,%.6g,%s,%s\n", r->packed, r->workspace, r->worst,
          r->algorithm, r->isa, r->runs, c->peak[ti], r->any_impl, r->plain_impl);
  fflush(c->csv);
}

/* ------------------------------------------------------------------------ main */

int bench_main(int argc, char **argv) {
  const char *suite = CONVT3D_DEFAULT_SUITE, *csv_path = NULL;
  ctx c = {.nthreads = 2, .threads = {1, 2}};
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(usage, stdout);
      return 0;
    }
    const bool known = !strcmp(a, "--suite") || !strcmp(a, "--threads") || !strcmp(a, "--csv") ||
                       !strcmp(a, "--runs");
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
    else if (!bench_parse_i64(v, &n) || n < 1 || n > (!strcmp(a, "--runs") ? MAX_RUNS : 1024)) {
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
          "onednn_plain_impl\n",
          c.csv);
  print_table_header(&c);

  samples *sm = malloc(sizeof *sm);
  rc = sm ? 0 : EXIT_FAILED;
  for (int i = 0; i < nshapes && !rc; i++) {
    const bench_shape *s = &shapes[i];
    const geom g = geom_of(&s->p);
    fprintf(stderr, "[%d/%d] %s: %.3g effective GFLOP\n", i + 1, nshapes, s->name,
            effective_flops(&g) * 1e-9);
    float *x = malloc(g.nx * sizeof *x), *w = malloc(g.nw * sizeof *w),
          *b = malloc((size_t)g.cout * sizeof *b), *y = malloc(g.ny * sizeof *y), *yc = NULL;
#ifdef CONVT3D_HAVE_ONEDNN
    yc = malloc(g.ny * sizeof *yc);
    const bool need_yc = true;
#else
    const bool need_yc = false;
#endif
    if (!x || !w || !b || !y || (need_yc && !yc)) {
      fprintf(stderr, "convt3d bench: %s: out of memory\n", s->name);
      rc = EXIT_FAILED;
    } else {
      fill_uniform(x, g.nx, 1 + (uint64_t)i);
      fill_uniform(w, g.nw, 1001 + (uint64_t)i);
      fill_uniform(b, (size_t)g.cout, 2001 + (uint64_t)i);
      if (pick_samples(&g, x, w, b, sm)) {
        fprintf(stderr, "convt3d bench: out of memory\n");
        rc = EXIT_FAILED;
      }
      for (int t = 0; t < c.nthreads && !rc; t++) {
        result r;
        if (!(rc = bench_one(&c, s, &g, sm, t, x, w, b, y, yc, &r))) report(&c, s, &r, t);
      }
    }
    free(x), free(w), free(b), free(y), free(yc);
  }
  if (!rc)
    for (int t = 0; t < c.nthreads; t++) {
      /* Blank up to the ratio columns: 8 columns of widths 8 9 9 7 7 6 9 9, 1 space each. */
      printf("%-*s %3d%*s", c.name_width, "geomean", c.threads[t], 72, "");
      for (int l = 0; l < RATIOS; l++)
        put_num(stdout, 6, 2,
                c.log_ratio_count[t][l] ? exp(c.log_ratio_sum[t][l] / c.log_ratio_count[t][l])
                                        : NAN);
      putchar('\n');
    }
  free(sm);
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
