/* convt3d: the command-line tool. It uses only the public header.
 *
 *   convt3d run --input X.npy --weight W.npy [--bias B.npy] [--stride S] [--padding P]
 *               [--output-padding OP | --output-size OD,OH,OW] [--dilation DL]
 *               [--groups G] --output Y.npy
 *   convt3d demo
 *   convt3d info
 *
 * Exit status: 0 success; 2 the call is one PyTorch would reject (bad shapes or
 * parameters, mismatched dtypes) or the command line is malformed; 1 anything else
 * (unreadable or malformed files, I/O, memory). Messages go to stderr, one line each. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "random.h"
#include "convt3d.h"

enum { EXIT_REJECTED = 2, EXIT_FAILED = 1 };

static const char *prog_cmd = "convt3d";

static int fail(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s: ", prog_cmd);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return code;
}

/* Exit code for a library status: rejections are 2, everything else 1. */
static int status_exit(convt3d_status s) {
  return s == CONVT3D_ERR_INVALID_ARGUMENT || s == CONVT3D_ERR_TOO_LARGE ? EXIT_REJECTED
                                                                          : EXIT_FAILED;
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ------------------------------------------------------------ option values */

/* Parses one decimal int64 with nothing else around it. */
static bool parse_i64(const char *s, int64_t *v) {
  if (!*s || *s == ' ' || *s == '\t') return false;
  char *end;
  errno = 0;
  long long r = strtoll(s, &end, 10);
  if (errno || *end) return false;
  *v = (int64_t)r;
  return true;
}

/* Parses "a" (the same value for all three axes) or "a,b,c" (depth, height, width). */
static bool parse_triple(const char *s, int64_t v[3], bool allow_one) {
  char buf[256];
  const size_t len = strlen(s);
  if (len >= sizeof buf) return false;
  memcpy(buf, s, len + 1);
  char *parts[4];
  int count = 0;
  for (char *p = buf;; p++) {
    if (count == 4) return false;
    parts[count++] = p;
    p = strchr(p, ',');
    if (!p) break;
    *p = '\0';
  }
  if (count == 1 && allow_one) {
    if (!parse_i64(parts[0], &v[0])) return false;
    v[1] = v[2] = v[0];
    return true;
  }
  if (count != 3) return false;
  for (int i = 0; i < 3; i++)
    if (!parse_i64(parts[i], &v[i])) return false;
  return true;
}

/* ---------------------------------------------------------------------- run */

static const char run_usage[] =
    "usage: convt3d run --input X.npy --weight W.npy [--bias B.npy]\n"
    "                   [--stride S] [--padding P]\n"
    "                   [--output-padding OP | --output-size OD,OH,OW]\n"
    "                   [--dilation DL] [--groups G] --output Y.npy\n"
    "\n"
    "Computes torch.nn.functional.conv_transpose3d(X, W, B, stride, padding,\n"
    "output_padding, groups, dilation) and writes it to Y.npy (same dtype as X).\n"
    "X: (N, Cin, D, H, W) or (Cin, D, H, W); W: (Cin, Cout/groups, kD, kH, kW);\n"
    "B: (Cout). Files: little-endian float32 or float64 .npy, C order.\n"
    "S, P, OP, DL: one integer for all axes, or three as depth,height,width.\n"
    "--output-size picks output_padding as nn.ConvTranspose3d.forward(x, output_size)\n"
    "does. Defaults: stride 1, padding 0, output_padding 0, dilation 1, groups 1.\n"
    "\n"
    "Exit status: 0 written; 2 PyTorch would reject the call (message on stderr, no\n"
    "output written); 1 any other failure (unreadable or malformed file, I/O).\n";

typedef struct run_args {
  const char *input, *weight, *bias, *output;
  const char *stride, *padding, *output_padding, *output_size, *dilation, *groups;
} run_args;

static int parse_run_args(int argc, char **argv, run_args *a) {
  memset(a, 0, sizeof *a);
  struct {
    const char *name;
    const char **slot;
  } opts[] = {
      {"--input", &a->input},       {"--weight", &a->weight},
      {"--bias", &a->bias},         {"--output", &a->output},
      {"--stride", &a->stride},     {"--padding", &a->padding},
      {"--dilation", &a->dilation}, {"--groups", &a->groups},
      {"--output-padding", &a->output_padding}, {"--output-size", &a->output_size},
  };
  for (int i = 0; i < argc; i++) {
    const char *arg = argv[i];
    if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
      fputs(run_usage, stdout);
      return -1;
    }
    const char *eq = strchr(arg, '=');
    size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
    bool known = false;
    for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++) {
      if (strlen(opts[k].name) != name_len || strncmp(arg, opts[k].name, name_len) != 0)
        continue;
      known = true;
      const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
      if (!value) return fail(EXIT_REJECTED, "option %s needs a value\n%s", opts[k].name,
                              "try 'convt3d run --help'");
      if (*opts[k].slot) return fail(EXIT_REJECTED, "option %s given twice", opts[k].name);
      *opts[k].slot = value;
    }
    if (!known) return fail(EXIT_REJECTED, "unknown argument '%s' (try 'convt3d run --help')",
                            arg);
  }
  if (!a->input || !a->weight || !a->output)
    return fail(EXIT_REJECTED, "--input, --weight and --output are required (try 'convt3d "
                               "run --help')");
  if (a->output_padding && a->output_size)
    return fail(EXIT_REJECTED, "--output-padding and --output-size exclude each other");
  return 0;
}

static void shape_from_array(convt3d_shape *s, const convt3d_array *a) {
  s->ndim = a->ndim;
  for (int i = 0; i < 5; i++) s->dims[i] = i < a->ndim ? a->shape[i] : 0;
}

static const char *dtype_name(convt3d_dtype t) {
  return t == CONVT3D_F32 ? "float32" : "float64";
}

static int cmd_run(int argc, char **argv) {
  prog_cmd = "convt3d run";
  run_args a;
  int rc = parse_run_args(argc, argv, &a);
  if (rc) return rc < 0 ? 0 : rc;

  convt3d_problem p;
  convt3d_problem_init(&p, CONVT3D_F32);
  struct {
    const char *text, *name;
    int64_t *dst;
  } triples[] = {{a.stride, "--stride", p.stride},
                 {a.padding, "--padding", p.padding},
                 {a.output_padding, "--output-padding", p.output_padding},
                 {a.dilation, "--dilation", p.dilation}};
  for (size_t i = 0; i < sizeof triples / sizeof triples[0]; i++)
    if (triples[i].text && !parse_triple(triples[i].text, triples[i].dst, true))
      return fail(EXIT_REJECTED,
                  "%s '%s': expected one integer or three comma-separated integers "
                  "(depth,height,width)",
                  triples[i].name, triples[i].text);
  int64_t out_size[3];
  if (a.output_size && !parse_triple(a.output_size, out_size, false))
    return fail(EXIT_REJECTED, "--output-size '%s': expected three comma-separated integers "
                               "OD,OH,OW", a.output_size);
  if (a.groups && !parse_i64(a.groups, &p.groups))
    return fail(EXIT_REJECTED, "--groups '%s': expected one integer", a.groups);

  convt3d_array x = {0}, w = {0}, b = {0};
  void *y = NULL;
  convt3d_plan *plan = NULL;
  convt3d_status s;
  if (convt3d_npy_read(a.input, &x) != CONVT3D_OK ||
      convt3d_npy_read(a.weight, &w) != CONVT3D_OK ||
      (a.bias && convt3d_npy_read(a.bias, &b) != CONVT3D_OK)) {
    rc = fail(EXIT_FAILED, "%s", convt3d_last_error());
    goto done;
  }
  p.dtype = x.dtype;
  shape_from_array(&p.input, &x);
  shape_from_array(&p.weight, &w);
  p.has_bias = a.bias != NULL;
  if (a.bias) shape_from_array(&p.bias, &b);
  if (a.output_size &&
      (s = convt3d_output_padding_for_size(&p, out_size, p.output_padding)) != CONVT3D_OK) {
    rc = fail(status_exit(s), "%s", convt3d_last_error());
    goto done;
  }
  convt3d_shape out;
  if ((s = convt3d_output_shape(&p, &out)) != CONVT3D_OK) {
    rc = fail(status_exit(s), "%s", convt3d_last_error());
    goto done;
  }
  /* PyTorch refuses mixed dtypes ("expected scalar type ... but found ..."), and checks
   * them after the shapes: so do we, to report the same fault first. */
  if (w.dtype != x.dtype || (a.bias && b.dtype != x.dtype)) {
    rc = fail(EXIT_REJECTED, "input is %s but %s is %s; all tensors must have one dtype",
              dtype_name(x.dtype), w.dtype != x.dtype ? "weight" : "bias",
              dtype_name(w.dtype != x.dtype ? w.dtype : b.dtype));
    goto done;
  }
  if ((s = convt3d_plan_create(&p, w.data, a.bias ? b.data : NULL, NULL, &plan)) !=
      CONVT3D_OK) {
    rc = fail(status_exit(s), "%s", convt3d_last_error());
    goto done;
  }
  convt3d_array ya = {.dtype = x.dtype, .ndim = out.ndim};
  size_t numel = 1;
  for (int i = 0; i < out.ndim; i++) numel *= (size_t)(ya.shape[i] = out.dims[i]);
  /* convt3d_output_shape succeeded, so numel * element size fits in size_t. */
  y = malloc(numel ? numel * convt3d_dtype_size(x.dtype) : 1);
  if (!y) {
    rc = fail(EXIT_FAILED, "cannot allocate %zu bytes for the output",
              numel * convt3d_dtype_size(x.dtype));
    goto done;
  }
  ya.data = y;
  if ((s = convt3d_plan_execute(plan, x.data, y)) != CONVT3D_OK ||
      (s = convt3d_npy_write(a.output, &ya)) != CONVT3D_OK) {
    rc = fail(status_exit(s), "%s", convt3d_last_error());
    goto done;
  }
  rc = 0;
done:
  convt3d_plan_destroy(plan);
  free(y);
  convt3d_array_free(&x);
  convt3d_array_free(&w);
  convt3d_array_free(&b);
  return rc;
}

/* --------------------------------------------------------------------- demo */

/* Fills n elements of dtype with standard normal samples (Box-Muller), like torch.randn. */
static void fill_randn(convt3d_dtype dt, void *v, size_t n, uint64_t *state) {
  const double two_pi = 6.283185307179586;
  for (size_t i = 0; i < n; i += 2) {
    double u1 = ((double)(next_u64(state) >> 11) + 1.0) * 0x1.0p-53; /* (0, 1] */
    double u2 = (double)(next_u64(state) >> 11) * 0x1.0p-53;
    double r = sqrt(-2.0 * log(u1)), z[2] = {r * cos(two_pi * u2), r * sin(two_pi * u2)};
    for (size_t k = 0; k < 2 && i + k < n; k++) {
      if (dt == CONVT3D_F32) ((float *)v)[i + k] = (float)z[k];
      else ((double *)v)[i + k] = z[k];
    }
  }
}

static double element(convt3d_dtype dt, const void *v, size_t i) {
  return dt == CONVT3D_F32 ? (double)((const float *)v)[i] : ((const double *)v)[i];
}

static int compare_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static size_t shape_numel(const convt3d_shape *s) {
  size_t n = 1;
  for (int i = 0; i < s->ndim; i++) n *= (size_t)s->dims[i];
  return n;
}

static void print_shape(const char *label, const convt3d_shape *s) {
  printf("%s(", label);
  for (int i = 0; i < s->ndim; i++) printf("%s%" PRId64, i ? ", " : "", s->dims[i]);
  printf(s->ndim == 1 ? ",)" : ")");
}

/* Runs problem p with `algorithm` on x, w, b into y (all of p's dtype). */
static convt3d_status run_with(const convt3d_problem *p, convt3d_algorithm algorithm,
                               const void *x, const void *w, const void *b, void *y) {
  convt3d_plan *plan = NULL;
  convt3d_plan_options opt = {algorithm, 0, CONVT3D_ISA_AUTO};
  convt3d_status s = convt3d_plan_create(p, w, b, &opt, &plan);
  if (s == CONVT3D_OK) s = convt3d_plan_execute(plan, x, y);
  convt3d_plan_destroy(plan);
  return s;
}

/* The largest |y - reference| over the tolerance docs/testing.md derives: gamma(K+1)*M for
 * float32 (u = 2^-24), 1e-10*M for float64, M = conv_transpose3d(|x|, |w|, |b|). */
static int check_against_reference(const convt3d_problem *p, const void *x, const void *w,
                                   const void *b, const void *y, size_t nx, size_t nw,
                                   size_t nb, size_t ny) {
  const size_t es = convt3d_dtype_size(p->dtype);
  /* + 1: empty tensors still get a buffer */
  void *ref = malloc(ny * es + 1), *mag = malloc(ny * es + 1);
  void *ax = malloc(nx * es + 1), *aw = malloc(nw * es + 1), *ab = malloc(nb * es + 1);
  int rc = EXIT_FAILED;
  if (!ref || !mag || !ax || !aw || !ab) {
    rc = fail(EXIT_FAILED, "out of memory for the check");
    goto done;
  }
  for (size_t i = 0; i < nx; i++) memcpy((char *)ax + i * es, (const char *)x + i * es, es);
  for (size_t i = 0; i < nw; i++) memcpy((char *)aw + i * es, (const char *)w + i * es, es);
  for (size_t i = 0; i < nb; i++) memcpy((char *)ab + i * es, (const char *)b + i * es, es);
  /* Clearing the sign bit makes |v| in both dtypes (IEEE 754, little-endian). */
  for (size_t i = 0; i < nx; i++) ((unsigned char *)ax)[i * es + es - 1] &= 0x7F;
  for (size_t i = 0; i < nw; i++) ((unsigned char *)aw)[i * es + es - 1] &= 0x7F;
  for (size_t i = 0; i < nb; i++) ((unsigned char *)ab)[i * es + es - 1] &= 0x7F;
  convt3d_status s;
  if ((s = run_with(p, CONVT3D_ALGO_REFERENCE, x, w, p->has_bias ? b : NULL, ref)) !=
          CONVT3D_OK ||
      (s = run_with(p, CONVT3D_ALGO_REFERENCE, ax, aw, p->has_bias ? ab : NULL, mag)) !=
          CONVT3D_OK) {
    rc = fail(status_exit(s), "%s", convt3d_last_error());
    goto done;
  }
  const double terms = (double)p->weight.dims[0] / (double)p->groups *
                       (double)(p->weight.dims[2] * p->weight.dims[3] * p->weight.dims[4]) + 1;
  const double u = 0x1.0p-24, scale = p->dtype == CONVT3D_F32 ? terms * u / (1 - terms * u)
                                                              : 1e-10;
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < ny; i++) {
    const double err = fabs(element(p->dtype, y, i) - element(p->dtype, ref, i));
    const double bound = scale * element(p->dtype, mag, i);
    const double ratio = err == 0 ? 0 : bound > 0 ? err / bound : INFINITY;
    if (!(ratio <= worst)) worst = ratio, at = i;
  }
  printf("check: %zu elements against the reference, worst error %.3g of the bound (element "
         "%zu)\n", ny, worst, at);
  rc = worst <= 1 ? 0 : fail(EXIT_FAILED, "element %zu is off the reference by %.3g times "
                                          "the bound", at, worst);
done:
  free(ref), free(mag), free(ax), free(aw), free(ab);
  return rc;
}

static const char demo_usage[] =
    "usage: convt3d demo [--problem DESC] [--check]\n"
    "\n"
    "Runs a problem on built-in random data (standard normal, fixed seed) and prints the\n"
    "output shape, a checksum, the time and GFLOP/s. Without --problem: the seed example,\n"
    "x (20, 16, 50, 10, 20), w (16, 33, 3, 3, 3), stride 1, no bias, float32.\n"
    "--problem DESC  a descriptor as the tests print it, e.g.\n"
    "                f32_mb2_ic16_oc33_g1_i8x8x8_k3x3x3_s2x2x2_p1x1x1_op1x1x1_d1x1x1_bias\n"
    "--check         also compare every output element with the reference implementation\n"
    "                (slow: plain loops); exit 1 if one is off by more than the bound.\n";

static int cmd_demo(int argc, char **argv) {
  prog_cmd = "convt3d demo";
  convt3d_problem p;
  convt3d_problem_init(&p, CONVT3D_F32);
  p.input = (convt3d_shape){5, {20, 16, 50, 10, 20}};
  p.weight = (convt3d_shape){5, {16, 33, 3, 3, 3}};
  bool check = false;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      fputs(demo_usage, stdout);
      return 0;
    } else if (!strcmp(argv[i], "--check")) {
      check = true;
    } else if (!strcmp(argv[i], "--problem") && i + 1 < argc) {
      if (convt3d_problem_parse(argv[++i], &p) != CONVT3D_OK)
        return fail(EXIT_REJECTED, "%s", convt3d_last_error());
    } else {
      return fail(EXIT_REJECTED, "unknown argument '%s' (try 'convt3d demo --help')",
                  argv[i]);
    }
  }
  convt3d_shape out;
  convt3d_status s;
  if ((s = convt3d_output_shape(&p, &out)) != CONVT3D_OK)
    return fail(status_exit(s), "%s", convt3d_last_error());
  const size_t es = convt3d_dtype_size(p.dtype), nx = shape_numel(&p.input);
  const size_t nw = shape_numel(&p.weight), nb = p.has_bias ? (size_t)p.bias.dims[0] : 0;
  const size_t ny = shape_numel(&out);
  convt3d_plan *plan = NULL;
  convt3d_plan_info info;
  void *x = malloc(nx * es + 1), *w = malloc(nw * es + 1), *b = malloc(nb * es + 1);
  void *y = malloc(ny * es + 1);
  int rc = EXIT_FAILED;
  if (!x || !w || !b || !y) {
    rc = fail(EXIT_FAILED, "out of memory");
    goto done;
  }
  uint64_t seed = 20240229;
  fill_randn(p.dtype, x, nx, &seed);
  fill_randn(p.dtype, w, nw, &seed);
  fill_randn(p.dtype, b, nb, &seed);
  double t0 = now_seconds();
  if ((s = convt3d_plan_create(&p, w, p.has_bias ? b : NULL, NULL, &plan)) != CONVT3D_OK) {
    rc = fail(status_exit(s), "%s", convt3d_last_error());
    goto done;
  }
  const double t_plan = now_seconds() - t0;
  convt3d_plan_get_info(plan, &info);
  /* Up to 5 timed runs, fewer when they are slow (a sanitizer build), at least one. */
  enum { MAX_RUNS = 5 };
  double times[MAX_RUNS], spent = 0;
  int runs = 0;
  while (runs < MAX_RUNS && (runs == 0 || spent < 1.0)) {
    double t = now_seconds();
    convt3d_plan_execute(plan, x, y);
    times[runs] = now_seconds() - t;
    spent += times[runs++];
  }
  qsort(times, (size_t)runs, sizeof times[0], compare_double);
  double sum = 0, sum_abs = 0;
  for (size_t i = 0; i < ny; i++) {
    sum += element(p.dtype, y, i);
    sum_abs += fabs(element(p.dtype, y, i));
  }
  char desc[256];
  convt3d_problem_describe(&p, desc, sizeof desc);
  print_shape("conv_transpose3d(x ", &p.input);
  print_shape(", w ", &p.weight);
  printf("), %s, random normal data\nproblem: %s\n",
         p.dtype == CONVT3D_F32 ? "float32" : "float64", desc);
  print_shape("output shape: ", &out);
  printf("\nchecksum: sum %.6e, sum of |y| %.6e\n", sum, sum_abs);
  printf("time: %.2f ms median of %d runs (plan %.3f ms), %.1f GFLOP/s, %d thread%s, "
         "algorithm %s, isa %s, kernel %s\n",
         times[runs / 2] * 1e3, runs, t_plan * 1e3, info.flops / times[runs / 2] * 1e-9,
         info.num_threads, info.num_threads == 1 ? "" : "s",
         convt3d_algorithm_name(info.algorithm), info.isa,
         info.kernel[0] ? info.kernel : "-");
  rc = check ? check_against_reference(&p, x, w, b, y, nx, nw, nb, ny) : 0;
done:
  convt3d_plan_destroy(plan);
  free(x), free(w), free(b), free(y);
  return rc;
}

/* --------------------------------------------------------------------- info */

static int cmd_info(int argc, char **argv) {
  prog_cmd = "convt3d info";
  if (argc > 0) {
    if (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
      puts("usage: convt3d info\n\nPrints the version, the build, the CPU features found, "
           "the instruction set in use and the thread count.");
      return 0;
    }
    return fail(EXIT_REJECTED, "unknown argument '%s' (try 'convt3d info --help')", argv[0]);
  }
  printf("convt3d %s (header %d.%d.%d)\n", convt3d_version_string(), CONVT3D_VERSION_MAJOR,
         CONVT3D_VERSION_MINOR, CONVT3D_VERSION_PATCH);
#if defined(__clang__)
  printf("build: clang %d.%d.%d\n", __clang_major__, __clang_minor__, __clang_patchlevel__);
#elif defined(__GNUC__)
  printf("build: gcc %d.%d.%d\n", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
#endif
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  static const char *const features[] = {"sse4.2", "avx", "avx2", "fma", "avx512f",
                                         "avx512bw", "avx512vl", "avx512vnni", "avx512bf16"};
  printf("cpu features:");
  __builtin_cpu_init();
  /* __builtin_cpu_supports needs string literals, hence the explicit list. */
  const int have[] = {__builtin_cpu_supports("sse4.2"),   __builtin_cpu_supports("avx"),
                      __builtin_cpu_supports("avx2"),     __builtin_cpu_supports("fma"),
                      __builtin_cpu_supports("avx512f"),  __builtin_cpu_supports("avx512bw"),
                      __builtin_cpu_supports("avx512vl"), __builtin_cpu_supports("avx512vnni"),
                      __builtin_cpu_supports("avx512bf16")};
  for (size_t i = 0; i < sizeof features / sizeof features[0]; i++)
    if (have[i]) printf(" %s", features[i]);
  putchar('\n');
#endif
  convt3d_problem p;
  convt3d_problem_init(&p, CONVT3D_F32);
  p.input = (convt3d_shape){5, {1, 1, 1, 1, 1}};
  p.weight = (convt3d_shape){5, {1, 1, 1, 1, 1}};
  convt3d_plan *plan = NULL;
  const float one = 1.0f;
  convt3d_plan_info info;
  if (convt3d_plan_create(&p, &one, NULL, NULL, &plan) != CONVT3D_OK ||
      convt3d_plan_get_info(plan, &info) != CONVT3D_OK) {
    convt3d_plan_destroy(plan);
    return fail(EXIT_FAILED, "%s", convt3d_last_error());
  }
  printf("isa in use: %s\nalgorithm: %s\nthreads: %d\n", info.isa,
         convt3d_algorithm_name(info.algorithm), convt3d_get_num_threads());
  convt3d_plan_destroy(plan);
  return 0;
}

/* --------------------------------------------------------------------- main */

static const char usage[] =
    "usage: convt3d <command> [options]\n"
    "\n"
    "commands:\n"
    "  run    compute conv_transpose3d on .npy files (convt3d run --help)\n"
    "  demo   run the seed example (or any problem) on random data and time it\n"
    "  info   version, build, CPU features, instruction set and threads\n"
    "  bench  time convt3d beside oneDNN on a suite of layer shapes (convt3d bench --help)\n"
    "\n"
    "Environment: OMP_NUM_THREADS sets the thread count.\n";

int main(int argc, char **argv) {
  if (argc < 2) {
    fputs(usage, stderr);
    return EXIT_REJECTED;
  }
  /* A write past the file-size limit (ulimit -f) then fails with EFBIG, which npy_write
   * reports and cleans up after, instead of killing the process mid-file. */
  signal(SIGXFSZ, SIG_IGN);
  const char *cmd = argv[1];
  if (!strcmp(cmd, "run")) return cmd_run(argc - 2, argv + 2);
  if (!strcmp(cmd, "demo")) return cmd_demo(argc - 2, argv + 2);
  if (!strcmp(cmd, "info")) return cmd_info(argc - 2, argv + 2);
  if (!strcmp(cmd, "bench")) return bench_main(argc - 2, argv + 2);
  if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
    fputs(usage, stdout);
    return 0;
  }
  if (!strcmp(cmd, "--version")) {
    printf("convt3d %s\n", convt3d_version_string());
    return 0;
  }
  return fail(EXIT_REJECTED, "unknown command '%s'\n%s", cmd, usage);
}
