/* fuzz_api: libFuzzer harness for the API's argument checking.
 *
 * An input is either a problem in a compact binary form (first byte even) or a
 * descriptor string for convt3d_problem_parse (first byte odd); see decode_problem for the
 * binary form. Ranks, dtypes, dimensions and parameters take any value, including
 * negative ones and values near INT64_MAX. For each problem it checks:
 * - convt3d_problem_check against the rules of docs/semantics.md written out again here
 *   (spec_verdict): what they reject is rejected, what they accept is accepted unless a
 *   size overflows, and an accepted problem has the output shape of the formula;
 * - convt3d_output_shape agrees with convt3d_problem_check, and leaves *out untouched
 *   on failure;
 * - convt3d_output_padding_for_size: the output_padding it picks lies in [0, stride) and
 *   gives the requested size, and for a valid problem it finds the problem's own
 *   output_padding again from the problem's output size;
 * - convt3d_problem_describe (every buffer size, truncation included) and
 *   convt3d_problem_parse read each other back exactly;
 * - every failing call returns a documented status and leaves a new message that names
 *   the function;
 * - a valid problem whose tensors have at most 4096 elements each runs: convt3d_forward
 *   (the automatic choice), a reference plan and a plan with the algorithm, instruction
 *   set and thread count the input picks, on data in {-2, ..., 2}; every sum then is a
 *   small integer, exact in float32 in any order, so the results must be equal (as values:
 *   the sign of a zero may differ). The plan must not keep the caller's weights (they are
 *   freed before it executes), must write every output element, and must give the same
 *   result when executed twice.
 * An invalid problem is also given to convt3d_forward with small buffers it must not touch.
 * FUZZ_API_VERBOSE=1 prints each problem's descriptor, its status and how it is run. */
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convt3d.h"

#define REQUIRE(cond, ...)                                                                \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      fprintf(stderr, "fuzz_api: %s:%d: %s: ", __FILE__, __LINE__, #cond);                \
      fprintf(stderr, __VA_ARGS__);                                                       \
      fprintf(stderr, "\nproblem: %s\n", current_desc);                                    \
      abort();                                                                            \
    }                                                                                     \
  } while (0)

/* The descriptor of the problem being checked, for failure reports. */
static char current_desc[512];
/* $FUZZ_API_VERBOSE: print each problem's descriptor and verdicts. */
static bool verbose;

/* Largest tensor (in elements) that is executed, and the largest number of multiply-adds
 * the reference may spend on it, so that every input runs in milliseconds. */
enum { MAX_EXEC_NUMEL = 4096 };
#define MAX_EXEC_MACS (1 << 21)

/* --------------------------------------------------------------- decoding */

typedef struct reader {
  const uint8_t *p;
  size_t n;
} reader;

static uint8_t take_u8(reader *r) {
  if (r->n == 0) return 0;
  r->n--;
  return *r->p++;
}

static uint64_t take_u64(reader *r) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)take_u8(r) << (8 * i);
  return v;
}

/* Values where size arithmetic breaks: int64 and int32 limits, square roots of the
 * limits, powers of two, and the algorithms' own thresholds. */
static const int64_t edge_values[32] = {
    -1, -2, INT64_MIN, INT64_MAX, INT64_MAX - 1, INT64_MAX / 2, INT64_MAX / 3,
    (int64_t)1 << 31, ((int64_t)1 << 31) - 1, (int64_t)1 << 32, (int64_t)1 << 62,
    ((int64_t)1 << 62) + 1, 3037000499, 3037000500, 2097151, 2097152, (int64_t)1 << 40,
    -((int64_t)1 << 62), INT32_MAX, INT32_MIN, UINT32_MAX, 65535, 65536, 1000000007, 4096,
    4097, 1024, 1025, 255, 256, 17, INT64_MIN + 1};

/* An int64: mostly 0..15, sometimes a value of the edge table, 16..271, or any 64 bits. */
static int64_t take_i64(reader *r) {
  const uint8_t t = take_u8(r);
  if (t < 0xA0) return t & 15;
  if (t < 0xC0) return edge_values[t & 31];
  if (t < 0xE0) return 16 + (int64_t)take_u8(r);
  return (int64_t)take_u64(r);
}

/* A rank: mostly `usual`, sometimes any other, including negative and huge ones. */
static int take_rank(reader *r, int usual) {
  static const int other[8] = {0, 1, 2, 3, 4, 5, 6, -1};
  const uint8_t t = take_u8(r);
  if (t < 0xC0) return usual;
  if (t < 0xF8) return other[t & 7];
  return t == 0xF8 ? INT_MIN : t == 0xF9 ? INT_MAX : (int)take_u64(r);
}

static void take_shape(reader *r, convt3d_shape *s, int usual_rank) {
  s->ndim = take_rank(r, usual_rank);
  for (int i = 0; i < 5; i++) s->dims[i] = take_i64(r);
}

/* The binary form, in order: dtype selector; input rank and 5 dims; weight rank and 5
 * dims; bias mode, rank and dim; stride, padding, output_padding, dilation (3 each);
 * groups; a fix-up byte (bit 0: input channels := weight.size(0), bit 1: a bias of
 * Cout elements). Missing bytes read as 0. */
static void decode_problem(reader *r, convt3d_problem *p) {
  memset(p, 0, sizeof *p);
  const uint8_t dt = take_u8(r);
  p->dtype = (dt & 7) < 3 ? CONVT3D_F32 : (dt & 7) < 6 ? CONVT3D_F64 : (dt & 7) == 6 ? 0
           : (convt3d_dtype)(int)take_u64(r);
  take_shape(r, &p->input, 5);
  take_shape(r, &p->weight, 5);
  const uint8_t bias_mode = take_u8(r);
  p->has_bias = (bias_mode & 3) == 0 ? 0 : (bias_mode & 3) < 3 ? 1 : (int)(bias_mode | 0x100);
  p->bias.ndim = take_rank(r, 1);
  p->bias.dims[0] = take_i64(r);
  int64_t *fields[4] = {p->stride, p->padding, p->output_padding, p->dilation};
  for (int f = 0; f < 4; f++)
    for (int a = 0; a < 3; a++) fields[f][a] = take_i64(r);
  p->groups = take_i64(r);
  const uint8_t fix = take_u8(r);
  if (fix & 1) p->input.dims[p->input.ndim == 4 ? 0 : 1] = p->weight.dims[0];
  if (fix & 2) {
    p->bias.ndim = 1;
    if (__builtin_mul_overflow(p->weight.dims[1], p->groups, &p->bias.dims[0]))
      p->bias.dims[0] = 1;
  }
}

/* ------------------------------------------------------------ the rules */

/* Multiplication saturating at 2^62 (operands >= 0). */
static int64_t sat_mul(int64_t a, int64_t b) {
  const int64_t cap = (int64_t)1 << 62;
  int64_t r;
  return __builtin_mul_overflow(a, b, &r) || r > cap ? cap : r;
}

typedef enum verdict { SPEC_INVALID, SPEC_VALID } verdict;

/* PyTorch's rules (docs/semantics.md), checked in no particular order and independently
 * of src/api.c. For a valid problem, also the expected output shape, and whether every
 * size is far from overflowing (then the library must accept it). */
static verdict spec_verdict(const convt3d_problem *p, convt3d_shape *out, bool *small) {
  *small = false;
  if (p->dtype != CONVT3D_F32 && p->dtype != CONVT3D_F64) return SPEC_INVALID;
  if ((p->input.ndim != 4 && p->input.ndim != 5) || p->weight.ndim != 5) return SPEC_INVALID;
  for (int i = 0; i < p->input.ndim; i++)
    if (p->input.dims[i] < 0) return SPEC_INVALID;
  for (int i = 0; i < 5; i++)
    if (p->weight.dims[i] < 0) return SPEC_INVALID;
  const bool batched = p->input.ndim == 5;
  const int64_t n = batched ? p->input.dims[0] : 1, cin = p->input.dims[batched ? 1 : 0];
  const int64_t *in = p->input.dims + (batched ? 2 : 1), *w = p->weight.dims;
  if (p->groups < 1 || w[0] < p->groups || w[0] % p->groups != 0 || cin != w[0])
    return SPEC_INVALID;
  int64_t cout;
  const bool cout_fits = !__builtin_mul_overflow(w[1], p->groups, &cout);
  if (p->has_bias && (p->bias.ndim != 1 || !cout_fits || p->bias.dims[0] != cout))
    return SPEC_INVALID;
  for (int i = 1; i < 5; i++)
    if (w[i] < 1) return SPEC_INVALID;
  __int128 o[3];
  for (int a = 0; a < 3; a++) {
    const int64_t s = p->stride[a], pd = p->padding[a], op = p->output_padding[a];
    const int64_t dl = p->dilation[a];
    if (in[a] < 1 || s < 1 || pd < 0 || op < 0 || dl < 1 || (op >= s && op >= dl))
      return SPEC_INVALID;
    o[a] = (__int128)(in[a] - 1) * s - 2 * (__int128)pd + (__int128)dl * (w[2 + a] - 1) +
           op + 1;
    if (o[a] < 1) return SPEC_INVALID;
  }
  bool fits = cout_fits;
  for (int a = 0; a < 3; a++) fits = fits && o[a] + 2 * (__int128)p->padding[a] <= INT64_MAX;
  if (!fits) return SPEC_VALID;
  out->ndim = 0;
  if (batched) out->dims[out->ndim++] = n;
  out->dims[out->ndim++] = cout;
  for (int a = 0; a < 3; a++) out->dims[out->ndim++] = (int64_t)o[a];
  /* Element counts (saturated): under 2^59 each, their bytes fit in int64 and size_t. */
  int64_t nin = 1, nw = 1, nout = 1;
  for (int i = 0; i < p->input.ndim; i++) nin = sat_mul(nin, p->input.dims[i]);
  for (int i = 0; i < 5; i++) nw = sat_mul(nw, w[i]);
  for (int i = 0; i < out->ndim; i++) nout = sat_mul(nout, out->dims[i]);
  const int64_t limit = (int64_t)1 << 59;
  *small = nin < limit && nw < limit && nout < limit;
  return SPEC_VALID;
}

/* --------------------------------------------------------------- messages */

/* The message convt3d_problem_check(NULL) leaves. Every checked call is made right after
 * arm(), so a failing call that set no message of its own is caught. */
static char armed_message[512];
static void arm(void) { (void)convt3d_problem_check(NULL); }

static void expect_failure(convt3d_status s, const char *fn) {
  REQUIRE(s == CONVT3D_ERR_INVALID_ARGUMENT || s == CONVT3D_ERR_TOO_LARGE ||
              s == CONVT3D_ERR_OUT_OF_MEMORY,
          "%s returned status %d", fn, (int)s);
  const char *m = convt3d_last_error();
  REQUIRE(m[0] != '\0' && strcmp(m, armed_message) != 0, "%s failed (%s) without a "
          "message of its own: '%s'", fn, convt3d_status_string(s), m);
  REQUIRE(strncmp(m, fn, strlen(fn)) == 0 && m[strlen(fn)] == ':', "%s failed with a "
          "message that does not name it: '%s'", fn, m);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  verbose = getenv("FUZZ_API_VERBOSE") != NULL;
  arm();
  snprintf(armed_message, sizeof armed_message, "%s", convt3d_last_error());
  REQUIRE(armed_message[0] != '\0', "convt3d_problem_check(NULL) left no message");
  return 0;
}

/* ---------------------------------------------------- descriptor round trip */

static bool same_shape(const convt3d_shape *a, const convt3d_shape *b) {
  if (a->ndim != b->ndim) return false;
  for (int i = 0; i < a->ndim && i < 5; i++)
    if (a->dims[i] != b->dims[i]) return false;
  return true;
}

/* Parses desc, which a valid problem p was described as (p NULL: desc comes from
 * elsewhere). On success the parsed problem must describe as desc again. */
static void check_parse(const char *desc, const convt3d_problem *p) {
  convt3d_problem q;
  memset(&q, 0x5A, sizeof q);
  const convt3d_problem untouched = q;
  arm();
  const convt3d_status s = convt3d_problem_parse(desc, &q);
  if (s != CONVT3D_OK) {
    REQUIRE(p == NULL, "the descriptor '%s' of a valid problem does not parse: %s", desc,
            convt3d_last_error());
    REQUIRE(s == CONVT3D_ERR_INVALID_ARGUMENT, "parse returned status %d", (int)s);
    expect_failure(s, "convt3d_problem_parse");
    REQUIRE(memcmp(&q, &untouched, sizeof q) == 0, "a failed parse wrote the problem");
    return;
  }
  char again[512];
  const int len = convt3d_problem_describe(&q, again, sizeof again);
  REQUIRE(len >= 0 && (size_t)len < sizeof again && strcmp(again, desc) == 0,
          "'%s' parses to a problem described as '%s'", desc, again);
  if (!p) return;
  /* A valid problem survives the trip field by field (a bias shape without a bias, and
   * the value of has_bias beyond 0 or not, are not part of a problem's meaning). */
  REQUIRE(q.dtype == p->dtype && same_shape(&q.input, &p->input) &&
              same_shape(&q.weight, &p->weight) && q.groups == p->groups &&
              q.has_bias == (p->has_bias != 0) &&
              (!p->has_bias || same_shape(&q.bias, &p->bias)) &&
              !memcmp(q.stride, p->stride, sizeof q.stride) &&
              !memcmp(q.padding, p->padding, sizeof q.padding) &&
              !memcmp(q.output_padding, p->output_padding, sizeof q.output_padding) &&
              !memcmp(q.dilation, p->dilation, sizeof q.dilation),
          "'%s' parses to a different problem", desc);
}

/* describe with every kind of buffer: none, exact, and truncated to `cut` bytes. */
static void check_describe(const convt3d_problem *p, uint8_t cut, bool valid) {
  const int n = convt3d_problem_describe(p, NULL, 0);
  REQUIRE(n > 0 && n < 512, "describe needs %d characters", n);
  char *full = malloc((size_t)n + 1); /* exact sizes, so ASan sees any overrun */
  REQUIRE(full != NULL, "out of memory");
  REQUIRE(convt3d_problem_describe(p, full, (size_t)n + 1) == n && strlen(full) == (size_t)n,
          "describe wrote '%s', not %d characters", full, n);
  snprintf(current_desc, sizeof current_desc, "%s", full);
  const size_t k = cut % ((size_t)n + 1);
  if (k > 0) {
    char *part = malloc(k);
    REQUIRE(part != NULL, "out of memory");
    REQUIRE(convt3d_problem_describe(p, part, k) == n, "describe into %zu bytes", k);
    REQUIRE(part[k - 1] == '\0' && strncmp(part, full, k - 1) == 0,
            "describe into %zu bytes wrote '%.*s'", k, (int)k, part);
    free(part);
  }
  check_parse(full, valid ? p : NULL);
  free(full);
}

/* ------------------------------------------------------------- execution */

static size_t elem_size(convt3d_dtype dt) { return dt == CONVT3D_F32 ? 4 : 8; }

/* n elements of {-2, ..., 2} from a small LCG. */
static void *make_data(convt3d_dtype dt, int64_t n, uint32_t *state) {
  void *v = malloc((size_t)n * elem_size(dt));
  REQUIRE(v != NULL, "out of memory");
  for (int64_t i = 0; i < n; i++) {
    *state = *state * 1664525u + 1013904223u;
    const int x = (int)((*state >> 16) % 5) - 2;
    if (dt == CONVT3D_F32) ((float *)v)[i] = (float)x;
    else ((double *)v)[i] = x;
  }
  return v;
}

static void *nan_filled(convt3d_dtype dt, int64_t n) {
  void *v = malloc((size_t)n * elem_size(dt));
  REQUIRE(v != NULL, "out of memory");
  memset(v, 0xFF, (size_t)n * elem_size(dt)); /* all-ones: a NaN in either dtype */
  return v;
}

static double value_at(convt3d_dtype dt, const void *v, int64_t i) {
  return dt == CONVT3D_F32 ? ((const float *)v)[i] : ((const double *)v)[i];
}

/* Every element written, and equal in value to the reference. */
static void expect_equal(convt3d_dtype dt, const void *y, const void *ref, int64_t n,
                         const char *what) {
  for (int64_t i = 0; i < n; i++) {
    const double a = value_at(dt, y, i), b = value_at(dt, ref, i);
    REQUIRE(!isnan(a) && a == b, "%s: element %lld is %g, the reference %g", what,
            (long long)i, a, b);
  }
}

typedef struct exec_choice {
  convt3d_algorithm algorithm;
  convt3d_isa isa;
  int num_threads;
} exec_choice;

static exec_choice take_choice(reader *r) {
  static const int algos[8] = {CONVT3D_ALGO_AUTO,     CONVT3D_ALGO_REFERENCE,
                               CONVT3D_ALGO_DIRECT,   CONVT3D_ALGO_PHASE,
                               CONVT3D_ALGO_TAP_GEMM, CONVT3D_ALGO_WINOGRAD, 6, -1};
  static const int isas[6] = {CONVT3D_ISA_AUTO, CONVT3D_ISA_SCALAR, CONVT3D_ISA_AVX2,
                              CONVT3D_ISA_AVX512, 4, -1};
  static const int threads[8] = {0, 1, 2, 3, 4, 7, -1, 4097};
  exec_choice c;
  c.algorithm = (convt3d_algorithm)algos[take_u8(r) % 8];
  c.isa = (convt3d_isa)isas[take_u8(r) % 6];
  c.num_threads = threads[take_u8(r) % 8];
  return c;
}

/* Creates a plan; on success checks its info against the expected output shape. */
static convt3d_status make_plan(const convt3d_problem *p, const void *w, const void *b,
                                const convt3d_plan_options *o, const convt3d_shape *out,
                                convt3d_plan **plan) {
  arm();
  *plan = (convt3d_plan *)&armed_message; /* must become NULL on failure */
  const convt3d_status s = convt3d_plan_create(p, w, b, o, plan);
  if (s != CONVT3D_OK) {
    REQUIRE(*plan == NULL, "a failed plan create left *plan set");
    return s;
  }
  convt3d_plan_info info;
  REQUIRE(convt3d_plan_get_info(*plan, &info) == CONVT3D_OK, "get_info failed");
  REQUIRE(same_shape(&info.output, out), "the plan's output shape differs from "
          "convt3d_output_shape");
  REQUIRE(info.num_threads >= 1 && info.isa && info.kernel, "plan info: %d threads",
          info.num_threads);
  /* An empty batch has nothing to compute: its plans are the reference's, whatever asked. */
  const bool empty = p->input.ndim == 5 && p->input.dims[0] == 0;
  REQUIRE(o->algorithm == CONVT3D_ALGO_AUTO || info.algorithm == o->algorithm ||
              (empty && info.algorithm == CONVT3D_ALGO_REFERENCE),
          "asked for algorithm %d, got %d", (int)o->algorithm, (int)info.algorithm);
  return s;
}

static void run_problem(const convt3d_problem *p, const convt3d_shape *out, uint8_t seed,
                        exec_choice c) {
  if (verbose)
    fprintf(stderr, "fuzz_api: running %s: algorithm %d, isa %d, %d threads, seed %d\n",
            current_desc, (int)c.algorithm, (int)c.isa, c.num_threads, seed);
  const convt3d_dtype dt = p->dtype;
  const size_t es = elem_size(dt);
  int64_t nx = 1, nw = 1, ny = 1;
  for (int i = 0; i < p->input.ndim; i++) nx *= p->input.dims[i];
  for (int i = 0; i < 5; i++) nw *= p->weight.dims[i];
  for (int i = 0; i < out->ndim; i++) ny *= out->dims[i];
  const int64_t nb = p->has_bias ? p->bias.dims[0] : 0;
  uint32_t state = seed;
  void *x = make_data(dt, nx, &state), *w = make_data(dt, nw, &state);
  /* Weights that are multiples of 24 pass the Winograd algorithm's transforms exactly
   * (winograd.c), so that every algorithm must give the reference's sums bit for bit. */
  for (int64_t i = 0; i < nw; i++)
    if (dt == CONVT3D_F32) ((float *)w)[i] *= 24;
    else ((double *)w)[i] *= 24;
  void *b = p->has_bias ? make_data(dt, nb, &state) : NULL;
  void *y_auto = nan_filled(dt, ny), *y_ref = nan_filled(dt, ny), *y_alt = nan_filled(dt, ny);

  /* The one-shot call, the automatic choice. */
  arm();
  convt3d_status s = convt3d_forward(p, x, w, b, y_auto);
  REQUIRE(s == CONVT3D_OK, "convt3d_forward failed: %s", convt3d_last_error());

  /* The reference. */
  convt3d_plan *plan;
  const convt3d_plan_options ref_opt = {CONVT3D_ALGO_REFERENCE, 0, CONVT3D_ISA_AUTO};
  s = make_plan(p, w, b, &ref_opt, out, &plan);
  REQUIRE(s == CONVT3D_OK, "reference plan failed: %s", convt3d_last_error());
  arm();
  s = convt3d_plan_execute(plan, x, y_ref);
  REQUIRE(s == CONVT3D_OK, "reference execute failed: %s", convt3d_last_error());
  convt3d_plan_destroy(plan);
  expect_equal(dt, y_auto, y_ref, ny, "convt3d_forward");

  /* The automatic choice with the input's ISA and thread count: which algorithm it takes
   * says whether the phase algorithm accepts this problem. */
  const bool options_valid = (unsigned)c.isa <= CONVT3D_ISA_AVX512 && c.num_threads <= 4096;
  const convt3d_plan_options auto_opt = {CONVT3D_ALGO_AUTO, c.num_threads, c.isa};
  s = make_plan(p, w, b, &auto_opt, out, &plan);
  bool phase_ok = false, tap_gemm_ok = false, winograd_ok = false;
  if (!options_valid) {
    REQUIRE(s == CONVT3D_ERR_INVALID_ARGUMENT, "bad options accepted (isa %d, %d threads)",
            (int)c.isa, c.num_threads);
    expect_failure(s, "convt3d_plan_create");
  } else {
    REQUIRE(s == CONVT3D_OK, "auto plan failed: %s", convt3d_last_error());
    convt3d_plan_info info;
    convt3d_plan_get_info(plan, &info);
    /* AUTO takes tap_gemm or winograd only where the phase algorithm accepts the problem */
    tap_gemm_ok = info.algorithm == CONVT3D_ALGO_TAP_GEMM;
    winograd_ok = info.algorithm == CONVT3D_ALGO_WINOGRAD;
    phase_ok = info.algorithm == CONVT3D_ALGO_PHASE || tap_gemm_ok || winograd_ok;
    convt3d_plan_destroy(plan);
  }

  /* The input's algorithm, from a copy of the weights that is freed before it runs. */
  void *w_copy = malloc((size_t)nw * es + 1);
  REQUIRE(w_copy != NULL, "out of memory");
  memcpy(w_copy, w, (size_t)nw * es);
  const convt3d_plan_options alt_opt = {c.algorithm, c.num_threads, c.isa};
  s = make_plan(p, w_copy, b, &alt_opt, out, &plan);
  free(w_copy);
  /* Bad options must be refused; the phase, tap_gemm and Winograd algorithms may decline
   * a problem, but not one the automatic choice gave them. */
  const bool must_fail = !options_valid || (unsigned)c.algorithm > CONVT3D_ALGO_WINOGRAD;
  const bool may_fail = (c.algorithm == CONVT3D_ALGO_PHASE && !phase_ok) ||
                        (c.algorithm == CONVT3D_ALGO_TAP_GEMM && !tap_gemm_ok) ||
                        (c.algorithm == CONVT3D_ALGO_WINOGRAD && !winograd_ok);
  if (s != CONVT3D_OK) {
    REQUIRE(must_fail || may_fail, "plan create with algorithm %d, isa %d, %d threads "
            "failed: %s", (int)c.algorithm, (int)c.isa, c.num_threads, convt3d_last_error());
    REQUIRE(s == CONVT3D_ERR_INVALID_ARGUMENT, "plan create returned %d", (int)s);
    expect_failure(s, "convt3d_plan_create");
  } else {
    REQUIRE(!must_fail, "plan create accepted algorithm %d, isa %d, %d threads",
            (int)c.algorithm, (int)c.isa, c.num_threads);
    arm();
    s = convt3d_plan_execute(plan, x, y_alt);
    REQUIRE(s == CONVT3D_OK, "execute failed: %s", convt3d_last_error());
    expect_equal(dt, y_alt, y_ref, ny, "chosen algorithm");
    memset(y_alt, 0xFF, (size_t)ny * es);
    s = convt3d_plan_execute(plan, x, y_alt);
    REQUIRE(s == CONVT3D_OK, "second execute failed: %s", convt3d_last_error());
    expect_equal(dt, y_alt, y_ref, ny, "chosen algorithm, executed again");
    convt3d_plan_destroy(plan);
  }
  free(x), free(w), free(b), free(y_auto), free(y_ref), free(y_alt);
}

/* --------------------------------------------------------- the problem */

static void check_problem(const convt3d_problem *p, reader *r) {
  current_desc[0] = '\0';
  convt3d_shape expected = {0, {0}};
  bool small = false;
  const verdict v = spec_verdict(p, &expected, &small);

  arm();
  const convt3d_status s = convt3d_problem_check(p);
  if (s != CONVT3D_OK) expect_failure(s, "convt3d_problem_check");
  REQUIRE(s != CONVT3D_OK || v == SPEC_VALID, "accepted a problem the rules reject");
  REQUIRE(s == CONVT3D_OK || s == CONVT3D_ERR_TOO_LARGE || v == SPEC_INVALID,
          "rejected a problem the rules accept: %s", convt3d_last_error());
  REQUIRE(s == CONVT3D_OK || !small, "rejected a small valid problem: %s",
          convt3d_last_error());

  convt3d_shape out;
  memset(&out, 0x77, sizeof out);
  const convt3d_shape untouched = out;
  arm();
  const convt3d_status s_shape = convt3d_output_shape(p, &out);
  REQUIRE(s_shape == s, "output_shape returned %d, problem_check %d", (int)s_shape, (int)s);
  if (s != CONVT3D_OK) {
    expect_failure(s_shape, "convt3d_output_shape");
    REQUIRE(memcmp(&out, &untouched, sizeof out) == 0, "a failed output_shape wrote *out");
  } else {
    REQUIRE(same_shape(&out, &expected), "output shape differs from the formula");
    arm();
    const convt3d_status s_null = convt3d_output_shape(p, NULL);
    REQUIRE(s_null == CONVT3D_ERR_INVALID_ARGUMENT, "output_shape(NULL) returned %d",
            (int)s_null);
    expect_failure(s_null, "convt3d_output_shape");
  }

  /* output_padding from a requested size: the problem's own output size (+ a small
   * offset), or any size. */
  const uint8_t mode = take_u8(r);
  int64_t want[3], op[3] = {-7, -7, -7};
  for (int a = 0; a < 3; a++) {
    if (s != CONVT3D_OK || mode >= 0xC0) {
      want[a] = take_i64(r);
      continue;
    }
    const int64_t own = out.dims[out.ndim - 3 + a];
    if (mode < 0x80 || __builtin_add_overflow(own, (int8_t)take_u8(r), &want[a]))
      want[a] = own;
  }
  arm();
  const convt3d_status s_op = convt3d_output_padding_for_size(p, want, op);
  if (s_op != CONVT3D_OK) {
    expect_failure(s_op, "convt3d_output_padding_for_size");
    REQUIRE(op[0] == -7 && op[1] == -7 && op[2] == -7, "a failed output_padding_for_size "
            "wrote output_padding");
    bool own = s == CONVT3D_OK && mode < 0x80;
    for (int a = 0; a < 3; a++) own = own && p->output_padding[a] < p->stride[a];
    REQUIRE(!own, "output_padding_for_size rejects the output size of a valid problem "
            "whose output_padding is below the stride: %s", convt3d_last_error());
  } else {
    convt3d_problem q = *p;
    for (int a = 0; a < 3; a++) {
      REQUIRE(op[a] >= 0 && op[a] < p->stride[a], "output_padding %lld in axis %d, stride "
              "%lld", (long long)op[a], a, (long long)p->stride[a]);
      q.output_padding[a] = op[a];
    }
    if (s == CONVT3D_OK && mode < 0x80)
      REQUIRE(memcmp(op, p->output_padding, sizeof op) == 0, "the output size of a valid "
              "problem gives a different output_padding");
    convt3d_shape qo;
    arm();
    const convt3d_status s_q = convt3d_output_shape(&q, &qo);
    if (s_q == CONVT3D_OK) {
      for (int a = 0; a < 3; a++)
        REQUIRE(qo.dims[qo.ndim - 3 + a] == want[a], "the chosen output_padding gives size "
                "%lld in axis %d, not the %lld requested", (long long)qo.dims[qo.ndim - 3 + a],
                a, (long long)want[a]);
    } else {
      expect_failure(s_q, "convt3d_output_shape");
      const bool below_one = want[0] < 1 || want[1] < 1 || want[2] < 1;
      REQUIRE(s_q == CONVT3D_ERR_TOO_LARGE || below_one, "the output_padding chosen for "
              "a size fails: %s", convt3d_last_error());
    }
  }

  check_describe(p, take_u8(r), s == CONVT3D_OK);
  if (verbose)
    fprintf(stderr, "fuzz_api: %s: %s%s\n", current_desc, convt3d_status_string(s),
            s == CONVT3D_OK ? "" : " (expected: it is not run)");

  const uint8_t seed = take_u8(r);
  const exec_choice c = take_choice(r);
  if (s != CONVT3D_OK) {
    /* Rejected before any buffer is touched: small buffers, which must stay as they are. */
    uint8_t *buf = malloc(64);
    REQUIRE(buf != NULL, "out of memory");
    memset(buf, 0x3C, 64);
    arm();
    const convt3d_status s_fwd = convt3d_forward(p, buf, buf + 16, p->has_bias ? buf + 32 :
                                                 NULL, buf + 48);
    REQUIRE(s_fwd == s, "convt3d_forward returned %d, problem_check %d", (int)s_fwd, (int)s);
    expect_failure(s_fwd, "convt3d_plan_create");
    for (int i = 0; i < 64; i++) REQUIRE(buf[i] == 0x3C, "a rejected forward wrote byte %d", i);
    free(buf);
    return;
  }
  /* Small enough to run? */
  int64_t nx = 1, nw = 1, ny = 1;
  for (int i = 0; i < p->input.ndim; i++) nx = sat_mul(nx, p->input.dims[i]);
  for (int i = 0; i < 5; i++) nw = sat_mul(nw, p->weight.dims[i]);
  for (int i = 0; i < out.ndim; i++) ny = sat_mul(ny, out.dims[i]);
  const int64_t per_output = sat_mul(p->weight.dims[0] / p->groups,
                                     sat_mul(p->weight.dims[2],
                                             sat_mul(p->weight.dims[3], p->weight.dims[4])));
  if (nx > MAX_EXEC_NUMEL || nw > MAX_EXEC_NUMEL || ny > MAX_EXEC_NUMEL ||
      sat_mul(ny, per_output) > MAX_EXEC_MACS)
    return;
  run_problem(p, &out, seed, c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  reader r = {data + 1, size - 1};
  if (!(data[0] & 1)) {
    convt3d_problem p;
    decode_problem(&r, &p);
    check_problem(&p, &r);
    return 0;
  }
  /* A descriptor: the bytes up to the first NUL (or the end); the rest drives the checks. */
  const uint8_t *nul = memchr(r.p, 0, r.n);
  const size_t len = nul ? (size_t)(nul - r.p) : r.n;
  char *desc = malloc(len + 1);
  if (!desc) return 0;
  memcpy(desc, r.p, len);
  desc[len] = '\0';
  r.p += nul ? len + 1 : len;
  r.n -= nul ? len + 1 : len;
  snprintf(current_desc, sizeof current_desc, "%s", desc);
  convt3d_problem p;
  arm();
  const convt3d_status s = convt3d_problem_parse(desc, &p);
  if (s == CONVT3D_OK) {
    /* Whatever parses must describe itself in a form that parses to the same problem. */
    char canon[512];
    const int n = convt3d_problem_describe(&p, canon, sizeof canon);
    REQUIRE(n > 0 && (size_t)n < sizeof canon, "describe needs %d characters", n);
    check_parse(canon, NULL);
    check_problem(&p, &r);
  } else {
    expect_failure(s, "convt3d_problem_parse");
  }
  free(desc);
  return 0;
}
