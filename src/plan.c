/* Plans: algorithm choice, the plan's own copy of the weights, execution.
 *
 * A plan is immutable after convt3d_plan_create returns, which is what makes
 * convt3d_plan_execute safe to call from many threads at once: execute reads the plan,
 * reads the input, writes only the caller's output, and allocates nothing. */
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "internal.h"

struct convt3d_plan {
  cvt_geometry geo;
  convt3d_shape output;
  convt3d_algorithm algorithm;
  cvt_forward_fn forward;
  int num_threads;
  void *weight; /* geo.weight_numel elements, PyTorch's layout (the kernels read it as is) */
  void *bias;   /* geo.cout elements, or NULL without bias */
  size_t weight_bytes, bias_bytes;
};

/* ------------------------------------------------------------------ threads */

/* 0 means "OpenMP's default". Relaxed atomics suffice: the value is a preference read once
 * per plan, and no other memory is published through it. */
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

static int default_threads(const cvt_geometry *g) {
  const double macs = (double)g->n * (double)g->cin * (double)g->cout_g * (double)g->k[0] *
                      (double)g->k[1] * (double)g->k[2] * (double)g->in[0] *
                      (double)g->in[1] * (double)g->in[2];
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
  }
  return "unknown";
}

static cvt_forward_fn algorithm_fn(convt3d_algorithm algorithm) {
  switch (algorithm) {
  case CONVT3D_ALGO_REFERENCE: return cvt_reference_forward;
  case CONVT3D_ALGO_DIRECT: return cvt_direct_forward;
  case CONVT3D_ALGO_AUTO: break;
  }
  return NULL;
}

/* ----------------------------------------------------------------- the plan */

static void *copy_bytes(const void *src, size_t bytes) {
  /* malloc(0) may return NULL; a one-byte block keeps "NULL means failure" simple. */
  void *dst = malloc(bytes ? bytes : 1);
  if (dst && bytes) memcpy(dst, src, bytes);
  return dst;
}

void convt3d_plan_destroy(convt3d_plan *plan) {
  if (!plan) return;
  free(plan->weight);
  free(plan->bias);
  free(plan);
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

  const convt3d_plan_options defaults = {CONVT3D_ALGO_AUTO, 0};
  const convt3d_plan_options *opt = options ? options : &defaults;
  convt3d_algorithm algorithm = opt->algorithm;
  if (algorithm == CONVT3D_ALGO_AUTO) algorithm = CONVT3D_ALGO_DIRECT;
  cvt_forward_fn forward = algorithm_fn(algorithm);
  if (!forward)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "%s: options->algorithm = %d is not a "
                    "convt3d_algorithm", fn, (int)opt->algorithm);

  /* cvt_validate proved these byte counts fit in size_t. */
  const size_t esize = convt3d_dtype_size(geo.dtype);
  const size_t weight_bytes = (size_t)geo.weight_numel * esize;
  const size_t bias_bytes = geo.has_bias ? (size_t)geo.cout * esize : 0;
  if (!weight && weight_bytes)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "%s: weight is NULL", fn);
  if (geo.has_bias && !bias && bias_bytes)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                    "%s: bias is NULL but problem->has_bias is set", fn);
  if (!geo.has_bias && bias)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                    "%s: bias is given but problem->has_bias is 0", fn);

  convt3d_plan *plan = calloc(1, sizeof *plan);
  if (!plan) goto oom;
  plan->geo = geo;
  plan->algorithm = algorithm;
  plan->forward = forward;
  plan->num_threads = opt->num_threads > 0 ? opt->num_threads : default_threads(&geo);
  plan->weight_bytes = weight_bytes;
  plan->bias_bytes = bias_bytes;
  plan->weight = copy_bytes(weight, weight_bytes);
  if (!plan->weight) goto oom;
  if (geo.has_bias) {
    plan->bias = copy_bytes(bias, bias_bytes);
    if (!plan->bias) goto oom;
  }
  s = convt3d_output_shape(problem, &plan->output);
  if (s != CONVT3D_OK) { /* cannot happen: the problem was validated above */
    convt3d_plan_destroy(plan);
    return s;
  }
  *out = plan;
  return CONVT3D_OK;

oom:
  convt3d_plan_destroy(plan);
  return cvt_fail(CONVT3D_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes for the plan's "
                  "copy of the weights and bias", fn, weight_bytes + bias_bytes);
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
  const size_t esize = convt3d_dtype_size(g->dtype);
  const uintptr_t in0 = (uintptr_t)input, in1 = in0 + (uintptr_t)g->input_numel * esize;
  const uintptr_t out0 = (uintptr_t)output, out1 = out0 + (uintptr_t)g->output_numel * esize;
  if (in0 < out1 && out0 < in1)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                    "%s: output [%p, +%zu bytes) overlaps input [%p, +%zu bytes); they must "
                    "be disjoint", fn, output, (size_t)(out1 - out0), input,
                    (size_t)(in1 - in0));
  plan->forward(g, input, plan->weight, plan->bias, output, plan->num_threads);
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
  info->isa = "scalar";
  info->num_threads = plan->num_threads;
  info->packed_weight_bytes = plan->weight_bytes + plan->bias_bytes;
  info->workspace_bytes = 0;
  info->flops = 2.0 * (double)g->n * (double)g->cin * (double)g->cout_g * (double)g->k[0] *
                (double)g->k[1] * (double)g->k[2] * (double)g->in[0] * (double)g->in[1] *
                (double)g->in[2];
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
