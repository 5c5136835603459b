/* convt3d bench: times convt3d's float32 forward, backward-data or backward-weight pass
 * on the layer shapes of a suite file, beside oneDNN's deconvolution primitive for the
 * same pass run in the same process, after verifying every result.
 *
 * What makes the numbers trustworthy:
 * - every result (convt3d's execute and one-shot, and oneDNN's) is checked before it is
 *   timed, against the exact value in double at a few thousand sampled output elements,
 *   within a bound derived from the reduction length (bench_verify.c);
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

enum { MAX_THREAD_COUNTS = 2 };
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

const char *const bench_pass_name[BENCH_PASSES] = {"fwd", "bwd_d", "bwd_w"};
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
  const size_t nout = bench_result_size(g, pass);
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
  if (st != CONVT3D_OK || !bench_verify(s, pass, "convt3d execute", T, g, sm, out, &r->worst)) goto done;
  memset(out, 0xff, nout * sizeof *out);
  st = ct_oneshot(pass, &s->p, g, d, out);
  if (st != CONVT3D_OK || !bench_verify(s, pass, "convt3d one-shot", T, g, sm, out, &worst)) goto done;
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
      if (e || !bench_verify(s, pass, who, T, g, sm, check, &worst)) {
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
  r->gflops = bench_nominal_flops(g) / r->ms * 1e-6;
  r->eff_gflops = bench_effective_flops(g) / r->ms * 1e-6;
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
          bench_pass_name[c->pass]);
  fflush(c->csv);
}

/* n floats on a 64-byte line (PyTorch aligns its CPU tensors so), or NULL; free() frees. */
static float *tensor_alloc(size_t n) {
  const size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
  return aligned_alloc(64, bytes ? bytes : 64);
}

/* One table: every shape of the suite, every thread count, for pass c->pass, then its
 * geomean rows. Returns 0 or the exit status of a failure (already reported). */
static int bench_table(ctx *c, const bench_shape *shapes, int nshapes) {
  const bench_pass pass = c->pass;
  memset(c->log_ratio_sum, 0, sizeof c->log_ratio_sum);
  memset(c->log_ratio_count, 0, sizeof c->log_ratio_count);
  printf("\npass %s: %s\n", bench_pass_name[pass], pass_title[pass]);
  print_table_header(c);
  samples *sm = malloc(sizeof *sm);
  int rc = sm ? 0 : EXIT_FAILED;
  for (int i = 0; i < nshapes && !rc; i++) {
    const bench_shape *s = &shapes[i];
    const geom g = bench_geom_of(&s->p);
    const size_t nout = bench_result_size(&g, pass);
    fprintf(stderr, "[%d/%d] %s %s: %.3g effective GFLOP\n", i + 1, nshapes, s->name,
            bench_pass_name[pass], bench_effective_flops(&g) * 1e-9);
    /* The forward pass reads x, w, b; backward-data dy, w; backward-weight x, dy. The
     * tensors start on a cache line, as PyTorch's CPU allocator places them. */
    float *x = tensor_alloc(g.nx), *w = tensor_alloc(g.nw), *b = tensor_alloc((size_t)g.cout),
          *dy = NULL, *out = tensor_alloc(nout), *check = NULL;
    if (pass != BENCH_PASS_FWD) dy = tensor_alloc(g.ny);
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
      bench_fill_uniform(x, g.nx, 1 + (uint64_t)i);
      bench_fill_uniform(w, g.nw, 1001 + (uint64_t)i);
      bench_fill_uniform(b, (size_t)g.cout, 2001 + (uint64_t)i);
      if (dy) bench_fill_uniform(dy, g.ny, 3001 + (uint64_t)i);
      const data d = {.x = x, .w = w, .b = b, .dy = dy};
      if (bench_pick_samples(&g, pass, &d, sm)) {
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
      while (first < BENCH_PASSES && strcmp(v, bench_pass_name[first]) != 0)
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
