/* Plans: algorithm choice, the plan's own copy of the weights, execution.
 *
 * A plan is immutable after convt3d_plan_create returns, which is what makes
 * convt3d_plan_execute safe to call from many threads at once: execute reads the plan,
 * reads the input and writes only the caller's output. The one mutable part is the
 * workspace, lent to one execute at a time; a concurrent execute allocates its own. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "cpu/configs.h"
#include "internal.h"

struct convt3d_plan {
  cvt_geometry geo;       /* of the transposed convolution, whichever the pass */
  cvt_geometry run_geo;   /* what the algorithm runs: geo, or an equivalent (pointwise) */
  convt3d_pass pass;
  convt3d_shape output;   /* what execute writes */
  int64_t in_numel, out_numel; /* elements execute reads (input or grad_output) and writes */
  convt3d_algorithm algorithm;
  cvt_forward_fn forward;                 /* CONVT3D_PASS_FORWARD */
  cvt_backward_data_fn backward_data;     /* CONVT3D_PASS_BACKWARD_DATA and _CONV3D */
  cvt_backward_weight_fn backward_weight; /* CONVT3D_PASS_BACKWARD_WEIGHT */
  cvt_isa isa;
  const cvt_brgemm_config *brgemm; /* NULL for algorithms without micro-kernels */
  int num_threads;
  void *weight; /* packed by the algorithm, PyTorch's layout, or NULL (backward weight) */
  void *bias;   /* the forward's (geo.cout) or conv3d's (geo.cin) elements, or NULL */
  size_t weight_bytes, bias_bytes;
  /* Scratch for execute: workspace_bytes in all, which the algorithm may use as
   * num_threads slices of workspace_per_thread bytes. One execute at a time owns it
   * (workspace_busy); a concurrent one allocates its own. */
  void *workspace;
  size_t workspace_bytes, workspace_per_thread;
  atomic_flag workspace_busy;
};

/* ------------------------------------------------------------------ threads */

/* 0 means "OpenMP's default". Atomic because any thread may set it; it is a preference
 * read once per plan, and no other memory is published through it. */
static _Atomic int requested_threads;

void convt3d_set_num_threads(int n) { requested_threads = n > 0 ? n : 0; }

int cvt_default_threads(void) {
  int n = requested_threads;
  if (n > 0) return n;
#ifdef _OPENMP
  n = omp_get_max_threads();
#endif
  return n > 0 ? n : 1;
}

int convt3d_get_num_threads(void) { return cvt_default_threads(); }

/* Below this many multiply-adds per thread, starting a thread costs more than it saves.
 * Applies only when the caller did not ask for a thread count. */
#define MIN_MACS_PER_THREAD 200000.0

/* More threads than this is a caller's mistake, not a machine. */
#define MAX_THREADS 4096

/* Nominal multiply-adds of one execute: every tap of every input (benchdnn's count). */
static double nominal_macs(const cvt_geometry *g) {
  return (double)g->n * (double)g->cin * (double)g->cout_g * (double)g->k[0] *
         (double)g->k[1] * (double)g->k[2] * (double)g->in[0] * (double)g->in[1] *
         (double)g->in[2];
}

static int default_threads(const cvt_geometry *g) {
  const double macs = nominal_macs(g);
  int n = cvt_default_threads();
  while (n > 1 && macs < MIN_MACS_PER_THREAD * n) n--;
  return n;
}

/* --------------------------------------------------------------- algorithms */

const char *convt3d_algorithm_name(convt3d_algorithm algorithm) {
  switch (algorithm) {
  case CONVT3D_ALGO_AUTO: return "auto";
  case CONVT3D_ALGO_REFERENCE: return "reference";
  case CONVT3D_ALGO_DIRECT: return "direct";
  case CONVT3D_ALGO_PHASE: return "phase";
  case CONVT3D_ALGO_TAP_GEMM: return "tap_gemm";
  case CONVT3D_ALGO_WINOGRAD: return "winograd";
  }
  return "unknown";
}

static const char *pass_name(convt3d_pass pass) {
  switch (pass) {
  case CONVT3D_PASS_FORWARD: return "forward";
  case CONVT3D_PASS_BACKWARD_DATA: return "backward-data";
  case CONVT3D_PASS_BACKWARD_WEIGHT: return "backward-weight";
  case CONVT3D_PASS_CONV3D: return "conv3d";
  }
  return "unknown";
}

/* ----------------------------------------------------------------- the plan */

void convt3d_plan_destroy(convt3d_plan *plan) {
  if (!plan) return;
  free(plan->weight);
  free(plan->bias);
  free(plan->workspace);
  free(plan);
}

/* The instruction set for a new plan: the CPU's best, capped by $CONVT3D_ISA and by the
 * caller's request. */
static cvt_isa plan_isa(convt3d_isa requested) {
  cvt_isa isa = cvt_isa_for_plans();
  cvt_isa cap = isa;
  switch (requested) {
  case CONVT3D_ISA_SCALAR: cap = CVT_ISA_SCALAR; break;
  case CONVT3D_ISA_AVX2: cap = CVT_ISA_AVX2; break;
  case CONVT3D_ISA_AVX512: cap = CVT_ISA_AVX512; break;
  case CONVT3D_ISA_AUTO: break;
  }
  return cap < isa ? cap : isa;
}

/* A pointwise layer (kernel 1, stride 1, no padding on every axis) maps each input
 * position to the same output position, so any cut of the contiguous volume into rows is
 * the same layer. The backward passes work in rows, which for MedNeXt's 128^3 head are 128
 * positions: each row's 13-32 channels are so many short streams from memory (measured:
 * grad_input 51 ms, 7.5 GB/s). The run geometry cuts the volume into the longest rows of
 * up to 4096 positions that divide it instead (never shorter than the input's). */
#define POINTWISE_ROW_MAX 4096
static void pointwise_rows(cvt_geometry *g) {
  for (int a = 0; a < 3; a++)
    if (g->k[a] != 1 || g->stride[a] != 1 || g->pad[a] != 0 || g->out_pad[a] != 0) return;
  const int64_t positions = g->in[0] * g->in[1] * g->in[2];
  int64_t len = POINTWISE_ROW_MAX;
  while (len > g->in[2] && positions % len != 0) len--;
  if (len <= g->in[2]) return;
  g->in[0] = g->out[0] = 1;
  g->in[1] = g->out[1] = positions / len;
  g->in[2] = g->out[2] = len;
  for (int a = 0; a < 3; a++) g->dil[a] = 1;
}

/* The phase algorithm would take the layer in place with its pointwise cut (kernel 1, up
 * to 64 channels per group: pointwise.c), which is ahead of the tap-GEMM algorithm there
 * (AVX-512, evicted caches, alternated processes, 1 / 2 threads: 16 -> 8 on 64^3 N = 2
 * 5.0 / 2.8 -> 2.1 / 1.05 ms; 64 -> 4 on 96^3 14.0 / 6.6 -> 13.1 / 6.6; 48 -> 2 on 80^3
 * 4.9 / 2.6 -> 4.7 / 2.4). */
static bool pointwise_cut(const cvt_geometry *geo, cvt_isa isa) {
  size_t count;
  const cvt_brgemm_config *tiles = cvt_brgemm_configs(geo->dtype, isa, &count);
  return cvt_pointwise_pick_kernel(geo, tiles, count) != NULL;
}

/* The micro-kernel among the ISA's tiles that `pick` prefers, or the one CONVT3D_KERNEL
 * names (for tuning and tests). */
static const cvt_brgemm_config *
choose_kernel(const cvt_geometry *geo, cvt_isa isa,
              const cvt_brgemm_config *(*pick)(const cvt_geometry *,
                                               const cvt_brgemm_config *, size_t)) {
  size_t count;
  const cvt_brgemm_config *tiles = cvt_brgemm_configs(geo->dtype, isa, &count);
  const cvt_brgemm_config *chosen = pick(geo, tiles, count);
  const char *forced = getenv("CONVT3D_KERNEL");
  for (size_t i = 0; forced && i < count; i++)
    if (!strcmp(forced, tiles[i].name)) chosen = &tiles[i];
  return chosen;
}

/* CONVT3D_WINOGRAD=0 in the environment keeps CONVT3D_ALGO_AUTO off the Winograd
 * algorithm, whose rounding error is larger (convt3d.h). */
static bool winograd_allowed(void) {
  const char *v = getenv("CONVT3D_WINOGRAD");
  return !v || strcmp(v, "0") != 0;
}

/* True when every weight is finite. The phase algorithm multiplies some weights by the
 * zeros that pad its packed input (taps that fall outside the input, for outputs that
 * other taps reach): harmless for finite weights, but an infinite or NaN weight would
 * turn such a term into NaN where PyTorch, which forms only the products of real inputs,
 * has a number. The direct algorithm forms exactly PyTorch's products. */
static bool all_finite(const cvt_geometry *g, const void *weight) {
  if (!weight) return true;
  bool finite = true;
  if (g->dtype == CONVT3D_F32) {
    const float *w = weight;
    for (int64_t i = 0; i < g->weight_numel; i++) finite &= isfinite(w[i]) != 0;
  } else {
    const double *w = weight;
    for (int64_t i = 0; i < g->weight_numel; i++) finite &= isfinite(w[i]) != 0;
  }
  return finite;
}

/* Creates a plan of any pass for a validated geometry. bias has bias_n elements (0: no
 * bias). */
static convt3d_status plan_new(const cvt_geometry *geo, convt3d_pass pass,
                               const void *weight, const void *bias, int64_t bias_n,
                               const convt3d_plan_options *options, const char *fn,
                               convt3d_plan **out) {
  const convt3d_plan_options defaults = {CONVT3D_ALGO_AUTO, 0, CONVT3D_ISA_AUTO};
  const convt3d_plan_options *opt = options ? options : &defaults;
  if ((unsigned)opt->isa > CONVT3D_ISA_AVX512)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "%s: options->isa = %d is not a "
                    "convt3d_isa", fn, (int)opt->isa);
  if (opt->num_threads > MAX_THREADS)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                    "%s: options->num_threads = %d is more than %d threads", fn,
                    opt->num_threads, MAX_THREADS);
  if ((unsigned)opt->algorithm > CONVT3D_ALGO_WINOGRAD)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "%s: options->algorithm = %d is not a "
                    "convt3d_algorithm", fn, (int)opt->algorithm);
  const bool forward = pass == CONVT3D_PASS_FORWARD;
  convt3d_algorithm algorithm = opt->algorithm;
  /* An empty batch leaves nothing to compute but zeros (or the bias): the reference does
   * that without sizing tiles and workspaces by an output plane that may be huge. */
  if (geo->n == 0) algorithm = CONVT3D_ALGO_REFERENCE;
  const cvt_isa isa = plan_isa(opt->isa);
  if (algorithm == CONVT3D_ALGO_AUTO) {
    algorithm = CONVT3D_ALGO_PHASE; /* and for the backward passes */
    if (forward && (!cvt_phase_supports(geo) || !all_finite(geo, weight)))
      algorithm = CONVT3D_ALGO_DIRECT;
    else if (forward && cvt_tap_gemm_prefers(geo) && !pointwise_cut(geo, isa))
      algorithm = CONVT3D_ALGO_TAP_GEMM;
    else if (forward && winograd_allowed() && cvt_winograd_prefers(geo))
      algorithm = CONVT3D_ALGO_WINOGRAD;
  }
  if (forward && algorithm == CONVT3D_ALGO_PHASE && !cvt_phase_supports(geo))
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "%s: the phase algorithm does not support "
                    "this problem (more than 1024 kernel taps, or a dilation far beyond the "
                    "stride); use CONVT3D_ALGO_AUTO", fn);
  if (forward && algorithm == CONVT3D_ALGO_TAP_GEMM && !cvt_tap_gemm_supports(geo))
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "%s: the tap_gemm algorithm does not "
                    "support this problem (more than 1024 kernel taps, more than 4096 "
                    "kH*kW*Cout/groups, or input rows too wide for its buffers); use "
                    "CONVT3D_ALGO_AUTO", fn);
  if (forward && algorithm == CONVT3D_ALGO_WINOGRAD && !cvt_winograd_supports(geo))
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "%s: the winograd algorithm does not "
                    "support this problem (it takes float32 with width kernel 3 stride 1, "
                    "or kernel 4 stride 2 dilation 1, more than one input row per sample, "
                    "and one tile's transforms within 8 MiB); use CONVT3D_ALGO_AUTO", fn);
  if (!forward && (algorithm == CONVT3D_ALGO_DIRECT || algorithm == CONVT3D_ALGO_TAP_GEMM ||
                   algorithm == CONVT3D_ALGO_WINOGRAD))
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "%s: the %s algorithm computes the "
                    "forward pass only, not %s; use CONVT3D_ALGO_AUTO", fn,
                    convt3d_algorithm_name(algorithm), pass_name(pass));

  /* cvt_validate proved these byte counts fit in size_t. */
  const size_t esize = geo->esize;
  const bool needs_weight = pass != CONVT3D_PASS_BACKWARD_WEIGHT;
  const size_t plain_weight_bytes = needs_weight ? (size_t)geo->weight_numel * esize : 0;
  const size_t bias_bytes = (size_t)bias_n * esize;
  if (needs_weight && !weight && plain_weight_bytes)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "%s: weight is NULL", fn);
  if (bias_n && !bias)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                    "%s: bias is NULL but problem->has_bias is set", fn);

  const bool tap_gemm = algorithm == CONVT3D_ALGO_TAP_GEMM;
  const bool winograd = algorithm == CONVT3D_ALGO_WINOGRAD;
  const bool fast = algorithm == CONVT3D_ALGO_PHASE || tap_gemm || winograd;
  const cvt_brgemm_config *brgemm = NULL;
  size_t weight_bytes = plain_weight_bytes;
  const int num_threads = opt->num_threads > 0 ? opt->num_threads : default_threads(geo);
  size_t ws_per_thread = 0, ws_bytes = 0;
  size_t winograd_slice = 0; /* the Winograd workspace's phase slices, after its buffers */
  cvt_geometry run_geo = *geo; /* the backward passes may run a pointwise layer re-cut */
  if (fast && !forward) pointwise_rows(&run_geo);
  if (fast) {
    switch (pass) {
    case CONVT3D_PASS_FORWARD:
      if (tap_gemm) {
        brgemm = choose_kernel(geo, isa, cvt_tap_gemm_pick_kernel);
        weight_bytes = cvt_tap_gemm_packed_weight_bytes(geo, brgemm);
        ws_per_thread = cvt_tap_gemm_workspace_bytes(geo, brgemm);
        break;
      }
      if (winograd) {
        brgemm = choose_kernel(geo, isa, cvt_winograd_pick_kernel);
        weight_bytes = cvt_winograd_packed_weight_bytes(geo, brgemm);
        ws_bytes = cvt_winograd_workspace_bytes(geo, brgemm, num_threads, &winograd_slice);
        break;
      }
      brgemm = choose_kernel(geo, isa, cvt_phase_pick_kernel);
      weight_bytes = cvt_phase_packed_weight_bytes(geo, brgemm);
      ws_per_thread = cvt_phase_workspace_bytes(geo, brgemm, num_threads);
      break;
    case CONVT3D_PASS_BACKWARD_DATA:
    case CONVT3D_PASS_CONV3D:
      brgemm = choose_kernel(&run_geo, isa, cvt_bwd_data_pick_kernel);
      weight_bytes = cvt_bwd_data_packed_weight_bytes(&run_geo, brgemm);
      {
        bool shared = false;
        ws_per_thread = cvt_bwd_data_workspace_bytes(&run_geo, brgemm, num_threads, &shared);
        if (shared) ws_bytes = ws_per_thread, ws_per_thread = 0;
      }
      break;
    case CONVT3D_PASS_BACKWARD_WEIGHT:
      brgemm = choose_kernel(&run_geo, isa, cvt_bwd_weight_pick_kernel);
      ws_bytes = cvt_bwd_weight_workspace_bytes(&run_geo, brgemm, num_threads);
      break;
    }
    /* Slices rounded up to keep every thread's 64-byte aligned. */
    ws_per_thread = (ws_per_thread + 63) & ~(size_t)63;
    if (ws_per_thread) ws_bytes = ws_per_thread * (size_t)num_threads;
  }

  convt3d_plan *plan = cvt_calloc(1, sizeof *plan);
  if (!plan) goto oom;
  plan->geo = *geo;
  plan->run_geo = run_geo;
  plan->pass = pass;
  plan->algorithm = algorithm;
  plan->isa = brgemm ? isa : CVT_ISA_SCALAR;
  plan->brgemm = brgemm;
  plan->num_threads = num_threads;
  plan->weight_bytes = weight_bytes;
  plan->bias_bytes = bias_bytes;
  plan->workspace_bytes = ws_bytes;
  plan->workspace_per_thread = winograd ? winograd_slice : ws_per_thread;
  atomic_flag_clear(&plan->workspace_busy);
  switch (pass) {
  case CONVT3D_PASS_FORWARD:
    plan->forward = algorithm == CONVT3D_ALGO_REFERENCE ? cvt_reference_forward
                    : algorithm == CONVT3D_ALGO_DIRECT  ? cvt_direct_forward
                    : tap_gemm                          ? cvt_tap_gemm_forward
                    : winograd                          ? cvt_winograd_forward
                                                        : cvt_phase_forward;
    plan->output = cvt_output_shape(geo);
    plan->in_numel = geo->input_numel;
    plan->out_numel = geo->output_numel;
    break;
  case CONVT3D_PASS_BACKWARD_DATA:
  case CONVT3D_PASS_CONV3D:
    plan->backward_data = fast ? cvt_bwd_data_run : cvt_reference_backward_data;
    plan->output = cvt_input_shape(geo); /* grad_input, or conv3d's output */
    plan->in_numel = geo->output_numel;
    plan->out_numel = geo->input_numel;
    break;
  case CONVT3D_PASS_BACKWARD_WEIGHT:
    plan->backward_weight = fast ? cvt_bwd_weight_run : cvt_reference_backward_weight;
    plan->output = (convt3d_shape){5, {geo->cin, geo->cout_g, geo->k[0], geo->k[1], geo->k[2]}};
    plan->in_numel = geo->input_numel;
    plan->out_numel = geo->weight_numel;
    break;
  }
  if (needs_weight) {
    plan->weight = cvt_alloc64(weight_bytes);
    if (!plan->weight) goto oom;
    if (tap_gemm)
      cvt_tap_gemm_pack_weights(geo, brgemm, weight, plan->weight, num_threads);
    else if (winograd)
      cvt_winograd_pack_weights(geo, brgemm, weight, plan->weight, num_threads);
    else if (brgemm && forward)
      cvt_phase_pack_weights(geo, brgemm, weight, plan->weight, num_threads);
    else if (brgemm)
      cvt_bwd_data_pack_weights(geo, brgemm, weight, plan->weight, num_threads);
    else if (weight) /* NULL only for a weight of no elements */
      memcpy(plan->weight, weight, weight_bytes);
  }
  if (bias_n) {
    plan->bias = cvt_alloc64(bias_bytes);
    if (!plan->bias) goto oom;
    memcpy(plan->bias, bias, bias_bytes);
  }
  if (ws_bytes) {
    plan->workspace = cvt_alloc64(ws_bytes);
    if (!plan->workspace) goto oom;
  }
  *out = plan;
  return CONVT3D_OK;

oom:
  convt3d_plan_destroy(plan);
  return cvt_fail(CONVT3D_ERR_OUT_OF_MEMORY,
                  "%s: cannot allocate %zu bytes for the plan's weights, bias and workspace",
                  fn, weight_bytes + bias_bytes + ws_bytes);
}

convt3d_status convt3d_plan_create(const convt3d_problem *problem, const void *weight,
                                   const void *bias, const convt3d_plan_options *options,
                                   convt3d_plan **out) {
  static const char fn[] = "convt3d_plan_create";
  if (!out) return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "%s: plan is NULL", fn);
  *out = NULL;
  cvt_geometry geo;
  convt3d_status s = cvt_validate(problem, 0, fn, &geo);
  if (s != CONVT3D_OK) return s;
  if (!geo.has_bias && bias)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                    "%s: bias is given but problem->has_bias is 0", fn);
  return plan_new(&geo, CONVT3D_PASS_FORWARD, weight, bias, geo.has_bias ? geo.cout : 0,
                  options, fn, out);
}

convt3d_status convt3d_plan_create_backward_data(const convt3d_problem *problem,
                                                 const void *weight,
                                                 const convt3d_plan_options *options,
                                                 convt3d_plan **out) {
  static const char fn[] = "convt3d_plan_create_backward_data";
  if (!out) return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "%s: plan is NULL", fn);
  *out = NULL;
  cvt_geometry geo;
  convt3d_status s = cvt_validate(problem, 0, fn, &geo);
  if (s != CONVT3D_OK) return s;
  return plan_new(&geo, CONVT3D_PASS_BACKWARD_DATA, weight, NULL, 0, options, fn, out);
}

convt3d_status convt3d_plan_create_backward_weight(const convt3d_problem *problem,
                                                   const convt3d_plan_options *options,
                                                   convt3d_plan **out) {
  static const char fn[] = "convt3d_plan_create_backward_weight";
  if (!out) return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "%s: plan is NULL", fn);
  *out = NULL;
  cvt_geometry geo;
  convt3d_status s = cvt_validate(problem, 0, fn, &geo);
  if (s != CONVT3D_OK) return s;
  return plan_new(&geo, CONVT3D_PASS_BACKWARD_WEIGHT, NULL, NULL, 0, options, fn, out);
}

convt3d_status convt3d_conv3d_plan_create(const convt3d_problem *problem, const void *weight,
                                          const void *bias,
                                          const convt3d_plan_options *options,
                                          convt3d_plan **out) {
  static const char fn[] = "convt3d_conv3d_plan_create";
  if (!out) return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "%s: plan is NULL", fn);
  *out = NULL;
  cvt_geometry geo;
  convt3d_status s = cvt_validate_conv3d(problem, fn, &geo);
  if (s != CONVT3D_OK) return s;
  if (!problem->has_bias && bias)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                    "%s: bias is given but problem->has_bias is 0", fn);
  return plan_new(&geo, CONVT3D_PASS_CONV3D, weight, bias, problem->has_bias ? geo.cin : 0,
                  options, fn, out);
}

/* Byte ranges [p, p + n) of two buffers share a byte. Compared as integers: relational
 * operators on pointers into different objects are undefined. */
static bool overlap(const void *a, size_t an, const void *b, size_t bn) {
  const uintptr_t a0 = (uintptr_t)a, b0 = (uintptr_t)b;
  return an && bn && a0 < b0 + bn && b0 < a0 + an;
}

/* Runs one execute with the plan's workspace, or with one of its own when another
 * thread holds the plan's. */
static convt3d_status run(const convt3d_plan *plan, const char *fn, const void *a,
                          const void *b, void *c, void *d) {
  cvt_exec e = {&plan->run_geo, plan->weight, plan->bias, plan->brgemm, plan->workspace,
                plan->workspace_per_thread, plan->num_threads};
  /* The plan is logically const; its workspace is lent to one execute at a time. */
  atomic_flag *busy = (atomic_flag *)&plan->workspace_busy;
  void *own = NULL;
  const bool borrowed = !plan->workspace || !atomic_flag_test_and_set(busy);
  if (!borrowed) {
    own = cvt_alloc64(plan->workspace_bytes);
    if (!own)
      return cvt_fail(CONVT3D_ERR_OUT_OF_MEMORY, "%s: the plan's workspace is in use by "
                      "another thread and %zu bytes for this call's own cannot be allocated",
                      fn, plan->workspace_bytes);
    e.workspace = own;
  }
  switch (plan->pass) {
  case CONVT3D_PASS_FORWARD: plan->forward(&e, a, c); break;
  case CONVT3D_PASS_BACKWARD_DATA:
  case CONVT3D_PASS_CONV3D: plan->backward_data(&e, a, c); break;
  case CONVT3D_PASS_BACKWARD_WEIGHT: plan->backward_weight(&e, a, b, c, d); break;
  }
  if (own)
    free(own);
  else if (plan->workspace)
    atomic_flag_clear(busy);
  return CONVT3D_OK;
}

convt3d_status convt3d_plan_execute(const convt3d_plan *plan, const void *input,
                                    void *output) {
  static const char fn[] = "convt3d_plan_execute";
  if (!plan) return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "%s: plan is NULL", fn);
  if (plan->pass == CONVT3D_PASS_BACKWARD_WEIGHT)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "%s: the plan computes grad_weight; "
                    "use convt3d_plan_execute_backward_weight", fn);
  if (!input && plan->in_numel)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "%s: input is NULL", fn);
  if (!output && plan->out_numel)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "%s: output is NULL", fn);
  if (plan->out_numel == 0) return CONVT3D_OK;
  /* Output elements are written while input elements are still to be read, so shared
   * bytes would make the result depend on the schedule. */
  const size_t esize = plan->geo.esize;
  const size_t in_bytes = (size_t)plan->in_numel * esize, out_bytes = (size_t)plan->out_numel * esize;
  if (overlap(input, in_bytes, output, out_bytes))
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                    "%s: output [%p, +%zu bytes) overlaps input [%p, +%zu bytes); they must "
                    "be disjoint", fn, output, out_bytes, input, in_bytes);
  return run(plan, fn, input, NULL, output, NULL);
}

convt3d_status convt3d_plan_execute_backward_weight(const convt3d_plan *plan,
                                                    const void *input,
                                                    const void *grad_output,
                                                    void *grad_weight, void *grad_bias) {
  static const char fn[] = "convt3d_plan_execute_backward_weight";
  if (!plan) return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "%s: plan is NULL", fn);
  if (plan->pass != CONVT3D_PASS_BACKWARD_WEIGHT)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "%s: the plan computes the %s pass; use "
                    "convt3d_plan_execute", fn, pass_name(plan->pass));
  const cvt_geometry *g = &plan->geo;
  const size_t es = g->esize;
  struct {
    const char *name;
    const void *p;
    size_t bytes;
  } buf[4] = {{"input", input, (size_t)g->input_numel * es},
              {"grad_output", grad_output, (size_t)g->output_numel * es},
              {"grad_weight", grad_weight, (size_t)g->weight_numel * es},
              {"grad_bias", grad_bias, grad_bias ? (size_t)g->cout * es : 0}};
  for (int i = 0; i < 3; i++)
    if (!buf[i].p && buf[i].bytes)
      return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn, buf[i].name);
  for (int i = 0; i < 4; i++)
    for (int j = i + 1; j < 4; j++)
      if ((i >= 2 || j >= 2) && overlap(buf[i].p, buf[i].bytes, buf[j].p, buf[j].bytes))
        return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                        "%s: %s [%p, +%zu bytes) overlaps %s [%p, +%zu bytes); outputs must "
                        "not overlap any other buffer", fn, buf[i].name, buf[i].p,
                        buf[i].bytes, buf[j].name, buf[j].p, buf[j].bytes);
  if (!buf[2].bytes && !buf[3].bytes) return CONVT3D_OK;
  return run(plan, fn, input, grad_output, grad_weight, grad_bias);
}

convt3d_status convt3d_plan_get_info(const convt3d_plan *plan, convt3d_plan_info *info) {
  if (!plan || !info)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "convt3d_plan_get_info: %s is NULL",
                    plan ? "info" : "plan");
  const cvt_geometry *g = &plan->geo;
  memset(info, 0, sizeof *info);
  info->output = plan->output;
  info->algorithm = plan->algorithm;
  info->isa = cvt_isa_name(plan->isa);
  info->kernel = plan->brgemm ? plan->brgemm->name : "";
  /* the phase algorithm's pointwise cut runs the pointwise tile, not the config's own */
  const cvt_brgemm_config *cfg = plan->brgemm;
  const bool cut = cfg && plan->algorithm == CONVT3D_ALGO_PHASE &&
                   (plan->pass == CONVT3D_PASS_FORWARD
                        ? cvt_pointwise_applies(&plan->run_geo, cfg)
                        : plan->pass != CONVT3D_PASS_BACKWARD_WEIGHT &&
                              cvt_pointwise_bwd_data_applies(&plan->run_geo, cfg));
  if (cut) info->kernel = cvt_pointwise_kernel_name(cfg);
  info->num_threads = plan->num_threads;
  info->packed_weight_bytes = plan->weight_bytes + plan->bias_bytes;
  info->workspace_bytes = plan->workspace_bytes;
  info->flops = 2.0 * nominal_macs(g);
  info->pass = plan->pass;
  return CONVT3D_OK;
}

convt3d_status convt3d_forward(const convt3d_problem *problem, const void *input,
                               const void *weight, const void *bias, void *output) {
  convt3d_plan *plan = NULL;
  convt3d_status s = convt3d_plan_create(problem, weight, bias, NULL, &plan);
  if (s == CONVT3D_OK) s = convt3d_plan_execute(plan, input, output);
  convt3d_plan_destroy(plan);
  return s;
}

convt3d_status convt3d_backward_data(const convt3d_problem *problem, const void *grad_output,
                                     const void *weight, void *grad_input) {
  convt3d_plan *plan = NULL;
  convt3d_status s = convt3d_plan_create_backward_data(problem, weight, NULL, &plan);
  if (s == CONVT3D_OK) s = convt3d_plan_execute(plan, grad_output, grad_input);
  convt3d_plan_destroy(plan);
  return s;
}

convt3d_status convt3d_backward_weight(const convt3d_problem *problem, const void *input,
                                       const void *grad_output, void *grad_weight,
                                       void *grad_bias) {
  convt3d_plan *plan = NULL;
  convt3d_status s = convt3d_plan_create_backward_weight(problem, NULL, &plan);
  if (s == CONVT3D_OK)
    s = convt3d_plan_execute_backward_weight(plan, input, grad_output, grad_weight, grad_bias);
  convt3d_plan_destroy(plan);
  return s;
}

convt3d_status convt3d_conv3d(const convt3d_problem *problem, const void *input,
                              const void *weight, const void *bias, void *output) {
  convt3d_plan *plan = NULL;
  convt3d_status s = convt3d_conv3d_plan_create(problem, weight, bias, NULL, &plan);
  if (s == CONVT3D_OK) s = convt3d_plan_execute(plan, input, output);
  convt3d_plan_destroy(plan);
  return s;
}
