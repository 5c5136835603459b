/* Plans: algorithm choice, the plan's own copy of the weights, execution.
 *
 * A plan is immutable after convt3d_plan_create returns, which is what makes
 * convt3d_plan_execute safe to call from many threads at once: execute reads the plan,
 * reads the input and writes only the caller's output. The one mutable part is the
 * workspace, lent to one execute at a time; a concurrent execute allocates its own. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "cpu/configs.h"
#include "internal.h"

struct convt3d_plan {
  cvt_geometry geo;
  convt3d_shape output;
  convt3d_algorithm algorithm;
  cvt_forward_fn forward;
  cvt_isa isa;
  const cvt_brgemm_config *brgemm; /* NULL for algorithms without micro-kernels */
  int num_threads;
  void *weight; /* packed by the algorithm, or PyTorch's layout */
  void *bias;   /* geo.cout elements, or NULL without bias */
  size_t weight_bytes, bias_bytes;
  /* Scratch for execute: num_threads slices of workspace_per_thread bytes. One execute
   * at a time owns it (workspace_busy); a concurrent one allocates its own. */
  void *workspace;
  size_t workspace_per_thread;
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
  }
  return "unknown";
}

static cvt_forward_fn algorithm_fn(convt3d_algorithm algorithm) {
  switch (algorithm) {
  case CONVT3D_ALGO_REFERENCE: return cvt_reference_forward;
  case CONVT3D_ALGO_DIRECT: return cvt_direct_forward;
  case CONVT3D_ALGO_PHASE: return cvt_phase_forward;
  case CONVT3D_ALGO_AUTO: break;
  }
  return NULL;
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

/* 64-byte aligned allocation of n bytes (at least one), freed with free(). */
static void *alloc64(size_t n) {
  n = (n + 63) & ~(size_t)63;
  return aligned_alloc(64, n ? n : 64);
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

  const convt3d_plan_options defaults = {CONVT3D_ALGO_AUTO, 0, CONVT3D_ISA_AUTO};
  const convt3d_plan_options *opt = options ? options : &defaults;
  if ((unsigned)opt->isa > CONVT3D_ISA_AVX512)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "%s: options->isa = %d is not a "
                    "convt3d_isa", fn, (int)opt->isa);
  if (opt->num_threads > MAX_THREADS)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                    "%s: options->num_threads = %d is more than %d threads", fn,
                    opt->num_threads, MAX_THREADS);
  convt3d_algorithm algorithm = opt->algorithm;
  if (algorithm == CONVT3D_ALGO_AUTO)
    algorithm = cvt_phase_supports(&geo) ? CONVT3D_ALGO_PHASE : CONVT3D_ALGO_DIRECT;
  if (algorithm == CONVT3D_ALGO_PHASE && !cvt_phase_supports(&geo))
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "%s: the phase algorithm does not support "
                    "this problem (more than 1024 kernel taps, or a dilation far beyond the "
                    "stride); use CONVT3D_ALGO_AUTO", fn);
  cvt_forward_fn forward = algorithm_fn(algorithm);
  if (!forward)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "%s: options->algorithm = %d is not a "
                    "convt3d_algorithm", fn, (int)opt->algorithm);

  /* cvt_validate proved these byte counts fit in size_t. */
  const size_t esize = geo.esize;
  const size_t plain_weight_bytes = (size_t)geo.weight_numel * esize;
  const size_t bias_bytes = geo.has_bias ? (size_t)geo.cout * esize : 0;
  if (!weight && plain_weight_bytes)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "%s: weight is NULL", fn);
  if (geo.has_bias && !bias && bias_bytes)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                    "%s: bias is NULL but problem->has_bias is set", fn);
  if (!geo.has_bias && bias)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                    "%s: bias is given but problem->has_bias is 0", fn);

  const cvt_isa isa = plan_isa(opt->isa);
  const cvt_brgemm_config *brgemm = NULL;
  if (algorithm == CONVT3D_ALGO_PHASE) {
    size_t count;
    const cvt_brgemm_config *tiles = cvt_brgemm_configs(geo.dtype, isa, &count);
    brgemm = cvt_phase_pick_kernel(&geo, tiles, count);
    /* For tuning and tests: CONVT3D_KERNEL names one of the ISA's tiles to use instead. */
    const char *forced = getenv("CONVT3D_KERNEL");
    for (size_t i = 0; forced && i < count; i++)
      if (!strcmp(forced, tiles[i].name)) brgemm = &tiles[i];
  }
  const size_t weight_bytes =
      brgemm ? cvt_phase_packed_weight_bytes(&geo, brgemm) : plain_weight_bytes;
  const int num_threads = opt->num_threads > 0 ? opt->num_threads : default_threads(&geo);
  size_t ws_per_thread = 0; /* rounded up to keep every thread's slice 64-byte aligned */
  if (brgemm)
    ws_per_thread = (cvt_phase_workspace_bytes(&geo, brgemm, num_threads) + 63) & ~(size_t)63;

  convt3d_plan *plan = calloc(1, sizeof *plan);
  if (!plan) goto oom;
  plan->geo = geo;
  plan->algorithm = algorithm;
  plan->forward = forward;
  plan->isa = brgemm ? isa : CVT_ISA_SCALAR;
  plan->brgemm = brgemm;
  plan->num_threads = num_threads;
  plan->weight_bytes = weight_bytes;
  plan->bias_bytes = bias_bytes;
  plan->workspace_per_thread = ws_per_thread;
  atomic_flag_clear(&plan->workspace_busy);
  plan->weight = alloc64(weight_bytes);
  if (!plan->weight) goto oom;
  if (brgemm)
    cvt_phase_pack_weights(&geo, brgemm, weight, plan->weight, num_threads);
  else if (weight_bytes)
    memcpy(plan->weight, weight, weight_bytes);
  if (geo.has_bias) {
    plan->bias = alloc64(bias_bytes);
    if (!plan->bias) goto oom;
    memcpy(plan->bias, bias, bias_bytes);
  }
  if (ws_per_thread) {
    plan->workspace = alloc64(ws_per_thread * (size_t)num_threads);
    if (!plan->workspace) goto oom;
  }
  plan->output = cvt_output_shape(&geo);
  *out = plan;
  return CONVT3D_OK;

oom:
  convt3d_plan_destroy(plan);
  return cvt_fail(CONVT3D_ERR_OUT_OF_MEMORY,
                  "%s: cannot allocate %zu bytes for the plan's weights, bias and workspace",
                  fn, weight_bytes + bias_bytes + ws_per_thread * (size_t)num_threads);
}

convt3d_status convt3d_plan_execute(const convt3d_plan *plan, const void *input,
                                    void *output) {
  static const char fn[] = "convt3d_plan_execute";
  if (!plan) return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "%s: plan is NULL", fn);
  const cvt_geometry *g = &plan->geo;
  if (!input && g->input_numel)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "%s: input is NULL", fn);
  if (!output && g->output_numel)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "%s: output is NULL", fn);
  if (g->output_numel == 0) return CONVT3D_OK;
  /* Output elements are written while input elements are still to be read, so shared
   * bytes would make the result depend on the schedule. Compare as integers: relational
   * operators on pointers into different objects are undefined. */
  const size_t esize = g->esize;
  const uintptr_t in0 = (uintptr_t)input, in1 = in0 + (uintptr_t)g->input_numel * esize;
  const uintptr_t out0 = (uintptr_t)output, out1 = out0 + (uintptr_t)g->output_numel * esize;
  if (in0 < out1 && out0 < in1)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                    "%s: output [%p, +%zu bytes) overlaps input [%p, +%zu bytes); they must "
                    "be disjoint", fn, output, (size_t)(out1 - out0), input,
                    (size_t)(in1 - in0));
  cvt_exec e = {g, plan->weight, plan->bias, plan->brgemm, plan->workspace,
                plan->workspace_per_thread, plan->num_threads};
  /* The plan is logically const; its workspace is lent to one execute at a time. */
  atomic_flag *busy = (atomic_flag *)&plan->workspace_busy;
  void *own = NULL;
  const bool borrowed = !plan->workspace || !atomic_flag_test_and_set(busy);
  if (!borrowed) {
    own = alloc64(plan->workspace_per_thread * (size_t)plan->num_threads);
    if (!own)
      return cvt_fail(CONVT3D_ERR_OUT_OF_MEMORY, "%s: the plan's workspace is in use by "
                      "another thread and %zu bytes for this call's own cannot be allocated",
                      fn, plan->workspace_per_thread * (size_t)plan->num_threads);
    e.workspace = own;
  }
  plan->forward(&e, input, output);
  if (own)
    free(own);
  else if (plan->workspace)
    atomic_flag_clear(busy);
  return CONVT3D_OK;
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
  info->num_threads = plan->num_threads;
  info->packed_weight_bytes = plan->weight_bytes + plan->bias_bytes;
  info->workspace_bytes = plan->workspace_per_thread * (size_t)plan->num_threads;
  info->flops = 2.0 * nominal_macs(g);
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
