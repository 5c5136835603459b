/*
 * convt3d — PyTorch's torch.nn.functional.conv_transpose3d, exactly, in C.
 *
 * Quick start
 * -----------
 *     #include <convt3d.h>
 *
 *     convt3d_problem p;
 *     convt3d_problem_init(&p, CONVT3D_F32);          // stride 1, padding 0, groups 1, ...
 *     p.input  = (convt3d_shape){5, {2, 16, 8, 8, 8}};  // (N, Cin, D, H, W)
 *     p.weight = (convt3d_shape){5, {16, 33, 3, 3, 3}}; // (Cin, Cout/groups, kD, kH, kW)
 *     p.has_bias = 1;
 *     p.bias   = (convt3d_shape){1, {33}};
 *     for (int a = 0; a < 3; a++) p.stride[a] = 2;
 *
 *     convt3d_shape out;
 *     if (convt3d_output_shape(&p, &out) != CONVT3D_OK) {
 *         fprintf(stderr, "%s\n", convt3d_last_error());   // names the bad value
 *         return 1;
 *     }
 *     float *y = malloc(...);                            // product of out.dims
 *     convt3d_status s = convt3d_forward(&p, x, w, b, y); // plan + execute + destroy
 *
 * To run the same layer many times, create a plan once (it validates the problem,
 * chooses the algorithm and copies the weights into its own layout), then execute it on
 * new input/output buffers as often as needed, from as many threads as you like:
 *
 *     convt3d_plan *plan;
 *     convt3d_plan_create(&p, w, b, NULL, &plan);
 *     convt3d_plan_execute(plan, x, y);
 *     convt3d_plan_destroy(plan);
 *
 * Semantics
 * ---------
 * input  (N, Cin, D, H, W), or unbatched (Cin, D, H, W) whose output is unbatched too;
 * weight (Cin, Cout/groups, kD, kH, kW); bias (Cout) or none; all contiguous, C order,
 * one dtype (float32 or float64). Per axis, with the PyTorch names:
 *
 *     out = (in - 1)*stride - 2*padding + dilation*(k - 1) + output_padding + 1
 *     y[n, g*Cout_g + co, od, oh, ow] = bias[g*Cout_g + co]
 *         + sum over ci < Cin_g, kd, kh, kw of
 *           x[n, g*Cin_g + ci, id, ih, iw] * w[g*Cin_g + ci, co, kd, kh, kw]
 *     where od = id*stride_d - padding_d + kd*dilation_d (likewise h, w).
 *
 * What PyTorch rejects, convt3d rejects (CONVT3D_ERR_INVALID_ARGUMENT), with a message
 * that names the offending values and the rule; docs/semantics.md lists every rule.
 *
 * Errors
 * ------
 * Every function that can fail returns a convt3d_status. On failure,
 * convt3d_last_error() returns a message for the most recent failure on the calling
 * thread. The library never prints, never exits, never aborts, and never leaks on an
 * error path. Outputs are left untouched when a call fails.
 *
 * Threads
 * -------
 * All functions are thread-safe. A plan is immutable once created:
 * convt3d_plan_execute() may run on one plan from many threads at once (each call with
 * its own output buffer). Each call uses up to convt3d_get_num_threads() OpenMP threads
 * internally, fixed when the plan is created. Results are bit-identical for every thread
 * count and every run.
 */
#ifndef CONVT3D_H
#define CONVT3D_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define CONVT3D_API
#elif defined(__GNUC__)
#define CONVT3D_API __attribute__((visibility("default")))
#else
#define CONVT3D_API
#endif

/* ---------------------------------------------------------------- version */

#define CONVT3D_VERSION_MAJOR 0
#define CONVT3D_VERSION_MINOR 1
#define CONVT3D_VERSION_PATCH 0
/** MAJOR*10000 + MINOR*100 + PATCH, for compile-time comparisons. */
#define CONVT3D_VERSION                                                          \
  (CONVT3D_VERSION_MAJOR * 10000 + CONVT3D_VERSION_MINOR * 100 + CONVT3D_VERSION_PATCH)

/** The version of the library actually loaded, as "MAJOR.MINOR.PATCH". Never NULL. */
CONVT3D_API const char *convt3d_version_string(void);
/** CONVT3D_VERSION of the library actually loaded (may differ from the header's). */
CONVT3D_API int convt3d_version(void);

/* ----------------------------------------------------------------- status */

typedef enum convt3d_status {
  CONVT3D_OK = 0,
  /** A shape or parameter PyTorch would reject, or a NULL/invalid argument. */
  CONVT3D_ERR_INVALID_ARGUMENT = 1,
  /** Memory could not be allocated. */
  CONVT3D_ERR_OUT_OF_MEMORY = 2,
  /** Valid for PyTorch, but too large to address here (a size overflows int64/size_t). */
  CONVT3D_ERR_TOO_LARGE = 3,
  /** A file could not be opened, read, written or renamed (npy functions only). */
  CONVT3D_ERR_IO = 4,
  /** A file is not a valid .npy file, or holds a dtype/layout convt3d does not read. */
  CONVT3D_ERR_BAD_FILE = 5,
} convt3d_status;

/** A static, human-readable name for a status ("invalid argument", ...). Never NULL. */
CONVT3D_API const char *convt3d_status_string(convt3d_status status);

/**
 * The message of the most recent failure on the calling thread: which function, which
 * value, which rule. The empty string when no call on this thread has failed. The
 * pointer stays valid until the next convt3d call on the same thread.
 */
CONVT3D_API const char *convt3d_last_error(void);

/* ------------------------------------------------------------ the problem */

typedef enum convt3d_dtype {
  CONVT3D_F32 = 1, /**< float  */
  CONVT3D_F64 = 2, /**< double */
} convt3d_dtype;

/** Size in bytes of one element of dtype; 0 for a value that is not a convt3d_dtype. */
CONVT3D_API size_t convt3d_dtype_size(convt3d_dtype dtype);

/**
 * The shape of a tensor as the caller has it. ndim is the tensor's rank, whatever it is:
 * a rank PyTorch would reject is reported as such. Only the first min(ndim, 5) entries of
 * dims are read.
 */
typedef struct convt3d_shape {
  int ndim;
  int64_t dims[5];
} convt3d_shape;

/** One transposed-convolution problem, in PyTorch's vocabulary. */
typedef struct convt3d_problem {
  convt3d_dtype dtype;     /**< dtype of input, weight, bias and output */
  convt3d_shape input;     /**< (N, Cin, D, H, W) or (Cin, D, H, W) */
  convt3d_shape weight;    /**< (Cin, Cout/groups, kD, kH, kW) */
  int has_bias;            /**< 0: no bias; otherwise `bias` describes it */
  convt3d_shape bias;      /**< (Cout) */
  int64_t stride[3];       /**< per axis (D, H, W), >= 1 */
  int64_t padding[3];      /**< implicit zero padding removed from each side, >= 0 */
  int64_t output_padding[3]; /**< extra size added on one side; < stride or < dilation */
  int64_t dilation[3];     /**< spacing between kernel taps, >= 1 (1 means none) */
  int64_t groups;          /**< >= 1, divides Cin and splits Cout */
} convt3d_problem;

/**
 * Fills *problem with PyTorch's defaults: stride 1, padding 0, output_padding 0,
 * dilation 1, groups 1, no bias, and tensors of rank 0 (to be filled in). Does nothing
 * when problem is NULL.
 */
CONVT3D_API void convt3d_problem_init(convt3d_problem *problem, convt3d_dtype dtype);

/**
 * Checks a problem exactly as PyTorch would check the same call.
 * Returns CONVT3D_OK, CONVT3D_ERR_INVALID_ARGUMENT (PyTorch rejects it) or
 * CONVT3D_ERR_TOO_LARGE (a size overflows int64 or size_t).
 */
CONVT3D_API convt3d_status convt3d_problem_check(const convt3d_problem *problem);

/**
 * The output shape: (N, Cout, oD, oH, oW), or (Cout, oD, oH, oW) for unbatched input.
 * Checks the problem first (as convt3d_problem_check) and writes *out only on success.
 */
CONVT3D_API convt3d_status convt3d_output_shape(const convt3d_problem *problem,
                                                convt3d_shape *out);

/**
 * The output_padding that nn.ConvTranspose3d.forward(x, output_size=...) chooses for a
 * requested spatial output size (oD, oH, oW): output_size - min_size per axis, where
 * min_size is the output size with output_padding 0. As in PyTorch, each requested size
 * must lie in [min_size, min_size + stride - 1]; outside that range the call returns
 * CONVT3D_ERR_INVALID_ARGUMENT with the valid ranges in the message.
 * problem->output_padding is ignored. The rest of the problem must be valid.
 * Writes output_padding[3] only on success.
 */
CONVT3D_API convt3d_status convt3d_output_padding_for_size(const convt3d_problem *problem,
                                                           const int64_t output_size[3],
                                                           int64_t output_padding[3]);

/**
 * Writes a one-line descriptor of the problem to buf (always NUL-terminated when
 * size > 0), e.g. "f32_mb2_ic16_oc33_g1_i8x8x8_k3x3x3_s2x2x2_p1x1x1_op1x1x1_d1x1x1_bias"
 * (dtype, batch or "nb" for unbatched input, input and output channels, groups, input
 * D x H x W, kernel, stride, padding, output_padding, dilation, bias or "nobias").
 * Failure messages of the tests print it; `convt3d demo --problem DESC` replays it.
 * Returns the length it needed (excluding the NUL), like snprintf.
 */
CONVT3D_API int convt3d_problem_describe(const convt3d_problem *problem, char *buf,
                                         size_t size);

/**
 * Reads a descriptor written by convt3d_problem_describe back into *problem (written
 * only on success). The problem itself is not checked: call convt3d_problem_check.
 * Returns CONVT3D_OK, or CONVT3D_ERR_INVALID_ARGUMENT for a malformed descriptor (the
 * message says which field), or output channels that groups does not divide.
 */
CONVT3D_API convt3d_status convt3d_problem_parse(const char *descriptor,
                                                 convt3d_problem *problem);

/* ---------------------------------------------------------------- threads */

/**
 * Sets the number of threads that plans created afterwards use (process-wide default).
 * n <= 0 restores the default: OpenMP's omp_get_max_threads() (OMP_NUM_THREADS).
 * Without OpenMP support the library always runs on one thread.
 */
CONVT3D_API void convt3d_set_num_threads(int n);
/** The thread count a plan created now would use (>= 1). */
CONVT3D_API int convt3d_get_num_threads(void);

/* ------------------------------------------------------------------ plans */

typedef enum convt3d_algorithm {
  CONVT3D_ALGO_AUTO = 0,      /**< let the plan choose the fastest implementation */
  CONVT3D_ALGO_REFERENCE = 1, /**< plain scalar loops, double accumulation: the oracle */
  CONVT3D_ALGO_DIRECT = 2,    /**< stride-aware direct loops, threaded */
  CONVT3D_ALGO_PHASE = 3,     /**< per stride phase, batch-reduce GEMM micro-kernels */
  CONVT3D_ALGO_TAP_GEMM = 4,  /**< the in-plane taps as GEMM rows, then gathered: for
                                   few output channels per group (forward only) */
  CONVT3D_ALGO_WINOGRAD = 5,  /**< Winograd along the width, the rest as the phase
                                   algorithm: float32, width kernel 3 stride 1 (F(4, 3)) or
                                   kernel 4 stride 2 (F(4, 2) per phase), no width dilation
                                   (forward only; about 3x the rounding error of the
                                   others) */
} convt3d_algorithm;

/** Instruction sets of the micro-kernels. */
typedef enum convt3d_isa {
  CONVT3D_ISA_AUTO = 0,   /**< the best the CPU supports, capped by $CONVT3D_ISA */
  CONVT3D_ISA_SCALAR = 1, /**< portable C */
  CONVT3D_ISA_AVX2 = 2,   /**< AVX2 + FMA */
  CONVT3D_ISA_AVX512 = 3, /**< AVX-512 F/BW/DQ/VL */
} convt3d_isa;

/** A static name for an algorithm ("reference", "direct", ...). Never NULL. */
CONVT3D_API const char *convt3d_algorithm_name(convt3d_algorithm algorithm);

/**
 * Options for convt3d_plan_create. Zero-initialised means "all defaults".
 *
 * The instruction set is chosen per plan: the best the CPU supports, lowered by the
 * environment variable CONVT3D_ISA=avx512|avx2|scalar (read at each plan creation) and by
 * options.isa; a request above what the CPU supports is lowered to what it supports
 * (convt3d_plan_get_info says what was used). The choice applies to the algorithms with
 * micro-kernels (CONVT3D_ALGO_PHASE, CONVT3D_ALGO_TAP_GEMM); the others are portable C.
 * For tuning, the environment variable CONVT3D_KERNEL may name one of the chosen
 * instruction set's micro-kernels (convt3d_plan_info.kernel) to use instead of the plan's
 * pick.
 *
 * CONVT3D_ALGO_AUTO takes the Winograd algorithm for float32 layers with width kernel 3,
 * stride 1 and no width dilation, at least 64 channels in and out per group, and rows
 * long enough (about 8 outputs or more) that it does at most 3/4 of the multiply-adds.
 * Its rounding error is about 3x the other algorithms' (RMS; docs/algorithm.md); the
 * environment variable CONVT3D_WINOGRAD=0 (read at each plan creation), or an explicit
 * algorithm, keeps plans off it.
 *
 * An algorithm asked for explicitly that cannot take the problem makes plan creation fail
 * with CONVT3D_ERR_INVALID_ARGUMENT and a message saying why: the phase algorithm beyond
 * its limits (more than 1024 taps on an axis, or a dilation far beyond the stride), the
 * tap_gemm algorithm beyond its own (more than 1024 taps on an axis, more than 4096 GEMM
 * rows kH*kW*Cout/groups, or input rows too wide for its buffers), the Winograd algorithm
 * outside its (float32, width kernel 3 stride 1, or kernel 4 stride 2 dilation 1, more
 * than one input row per sample, and one tile's transforms within 8 MiB), the direct,
 * tap_gemm and Winograd
 * algorithms for a backward pass.
 * CONVT3D_ALGO_AUTO never fails this way.
 */
typedef struct convt3d_plan_options {
  convt3d_algorithm algorithm; /**< CONVT3D_ALGO_AUTO unless testing; an empty batch
                                    (nothing to compute) always gets the reference */
  int num_threads;             /**< <= 0: convt3d_get_num_threads(), fewer for tiny problems;
                                    at most 4096 */
  convt3d_isa isa;             /**< CONVT3D_ISA_AUTO unless testing: an upper bound */
} convt3d_plan_options;

typedef struct convt3d_plan convt3d_plan;

/**
 * Validates the problem, chooses the algorithm and copies (packs) weight and bias into
 * the plan, so the caller's weight and bias buffers may be freed afterwards.
 *
 * weight: contiguous, problem->weight's shape and problem->dtype. May be NULL only when
 *   the weight has no elements.
 * bias: contiguous (Cout); NULL when problem->has_bias is 0, non-NULL otherwise
 *   (unless Cout is 0).
 * options: NULL for the defaults.
 * *plan: set to the new plan on success, to NULL on failure.
 *
 * Returns CONVT3D_OK, CONVT3D_ERR_INVALID_ARGUMENT, CONVT3D_ERR_TOO_LARGE or
 * CONVT3D_ERR_OUT_OF_MEMORY.
 */
CONVT3D_API convt3d_status convt3d_plan_create(const convt3d_problem *problem,
                                               const void *weight, const void *bias,
                                               const convt3d_plan_options *options,
                                               convt3d_plan **plan);

/**
 * Computes output from input. input: contiguous, the problem's input shape; output:
 * contiguous, the plan's output shape (convt3d_plan_get_info); every element of output is
 * written, including those no kernel tap reaches (they get the bias, or 0). input and
 * output must not overlap.
 *
 * Safe to call concurrently on one plan. The plan owns one workspace
 * (convt3d_plan_info.workspace_bytes): an execute that finds it in use by another thread
 * allocates its own for the duration of the call; otherwise execute allocates nothing.
 *
 * Returns CONVT3D_OK; CONVT3D_ERR_INVALID_ARGUMENT for a NULL plan, a NULL buffer of
 * non-zero size, or overlapping buffers; CONVT3D_ERR_OUT_OF_MEMORY when a concurrent
 * call's own workspace cannot be allocated (output untouched).
 */
CONVT3D_API convt3d_status convt3d_plan_execute(const convt3d_plan *plan, const void *input,
                                                void *output);

/** Frees a plan. NULL is a no-op. */
CONVT3D_API void convt3d_plan_destroy(convt3d_plan *plan);

/** What a plan is: filled by convt3d_plan_get_info. */
/** What a plan's execute computes. */
typedef enum convt3d_pass {
  CONVT3D_PASS_FORWARD = 0,         /**< output = conv_transpose3d(input, weight) + bias */
  CONVT3D_PASS_BACKWARD_DATA = 1,   /**< grad_input from grad_output (and the weight) */
  CONVT3D_PASS_BACKWARD_WEIGHT = 2, /**< grad_weight, grad_bias from input, grad_output */
  CONVT3D_PASS_CONV3D = 3,          /**< output = conv3d(input, weight) + bias */
} convt3d_pass;

typedef struct convt3d_plan_info {
  convt3d_shape output;        /**< shape of what execute writes (grad_weight's for
                                    CONVT3D_PASS_BACKWARD_WEIGHT) */
  convt3d_algorithm algorithm; /**< the implementation chosen */
  const char *isa;             /**< instruction set of its kernels: "avx512", "avx2", "scalar" */
  const char *kernel;          /**< its micro-kernel, e.g. "f32_brgemm_6x64_avx512", or "" */
  int num_threads;             /**< threads each execute uses */
  size_t packed_weight_bytes;  /**< bytes of weights (and bias) owned by the plan */
  size_t workspace_bytes;      /**< scratch bytes the plan holds for execute (all threads) */
  double flops;                /**< nominal FLOPs of one execute: 2*N*Cin*Cout_g*K*DHW
                                    (of the transposed problem, whichever the pass) */
  convt3d_pass pass;           /**< what execute computes */
} convt3d_plan_info;

/** Describes a plan. Returns CONVT3D_ERR_INVALID_ARGUMENT if plan or info is NULL. */
CONVT3D_API convt3d_status convt3d_plan_get_info(const convt3d_plan *plan,
                                                 convt3d_plan_info *info);

/**
 * One-shot call: plan create + execute + destroy. Same arguments and statuses as those.
 */
CONVT3D_API convt3d_status convt3d_forward(const convt3d_problem *problem, const void *input,
                                           const void *weight, const void *bias,
                                           void *output);

/* --------------------------------------------------------- backward passes */

/*
 * Training needs the gradients of a loss L through y = conv_transpose3d(x, w) + b. With
 * grad_output = dL/dy (the output's shape), for the same problem:
 *     grad_input  = dL/dx: the input's shape; an ordinary 3D convolution of grad_output
 *                   with w (what F.conv3d computes with the same stride, padding,
 *                   dilation and groups);
 *     grad_weight = dL/dw: the weight's shape, summed over the batch and every position;
 *     grad_bias   = dL/db: (Cout), grad_output summed over the batch and every position.
 * As for the forward pass, each element is summed in an order fixed by the problem (never
 * by the thread count), so results are bit-identical for any number of threads.
 * problem->has_bias and problem->bias are checked as for the forward pass (the forward
 * call must have been valid); the bias values play no part in any gradient.
 */

/**
 * A plan for grad_input: convt3d_plan_execute(plan, grad_output, grad_input) reads
 * grad_output (the problem's output shape) and writes every element of grad_input (its
 * input shape). weight: as for convt3d_plan_create, packed into the plan.
 * Same statuses as convt3d_plan_create.
 */
CONVT3D_API convt3d_status convt3d_plan_create_backward_data(const convt3d_problem *problem,
                                                             const void *weight,
                                                             const convt3d_plan_options *options,
                                                             convt3d_plan **plan);

/**
 * A plan for grad_weight and grad_bias, executed with
 * convt3d_plan_execute_backward_weight. The plan holds no weights. Its workspace
 * (convt3d_plan_info.workspace_bytes) depends on the formulation the plan picks: a slab of
 * packed input and grad_output of about 4 MiB plus a tap-major copy of the weight (the
 * general case); an im2col of grad_output of up to 16 MiB, at most twice the weight's
 * elements (small volumes); or row buffers of about 1.5 MiB (float32 layers with at most
 * 16 channels per group on one side), none for depthwise float32 layers, which are read in
 * place. Same statuses as convt3d_plan_create.
 */
CONVT3D_API convt3d_status convt3d_plan_create_backward_weight(
    const convt3d_problem *problem, const convt3d_plan_options *options, convt3d_plan **plan);

/**
 * Computes grad_weight (the weight's shape, every element written) and, when grad_bias is
 * not NULL, grad_bias (Cout elements; allowed whether or not the problem has a bias) from
 * input and grad_output (the problem's input and output shapes). grad_weight and grad_bias
 * must not overlap any of the four buffers (input and grad_output may overlap each
 * other). Safe to call concurrently on one plan, like convt3d_plan_execute.
 * Returns CONVT3D_OK, CONVT3D_ERR_INVALID_ARGUMENT (NULL plan, a NULL buffer of non-zero
 * size, overlapping buffers, a plan of another pass) or CONVT3D_ERR_OUT_OF_MEMORY.
 */
CONVT3D_API convt3d_status convt3d_plan_execute_backward_weight(const convt3d_plan *plan,
                                                                const void *input,
                                                                const void *grad_output,
                                                                void *grad_weight,
                                                                void *grad_bias);

/** One-shot grad_input: plan create + execute + destroy. */
CONVT3D_API convt3d_status convt3d_backward_data(const convt3d_problem *problem,
                                                 const void *grad_output, const void *weight,
                                                 void *grad_input);

/** One-shot grad_weight (and grad_bias unless NULL): plan create + execute + destroy. */
CONVT3D_API convt3d_status convt3d_backward_weight(const convt3d_problem *problem,
                                                   const void *input, const void *grad_output,
                                                   void *grad_weight, void *grad_bias);

/* ------------------------------------------------------------------ conv3d */

/*
 * torch.nn.functional.conv3d, which is the transposed convolution's backward-data pass
 * with a bias, offered on its own because users need both. Here the convt3d_problem
 * fields keep their conv3d meanings:
 *     input  (N, Cin, D, H, W) or unbatched (Cin, D, H, W);
 *     weight (Cout, Cin/groups, kD, kH, kW); bias (Cout) or none;
 *     out = floor((in + 2*padding - dilation*(k - 1) - 1) / stride) + 1 per axis;
 *     y[n, g*Cout_g + co, o] = bias + sum over ci < Cin_g, kd, kh, kw of
 *         x[n, g*Cin_g + ci, o*stride - padding + k*dilation] * w[g*Cout_g + co, ci, k]
 *     (terms outside the input are zero);
 * output_padding must be 0 (conv3d has none). What F.conv3d rejects, these reject.
 */

/** The output shape of conv3d: (N, Cout, oD, oH, oW), or (Cout, ...) for unbatched. */
CONVT3D_API convt3d_status convt3d_conv3d_output_shape(const convt3d_problem *problem,
                                                       convt3d_shape *out);

/** A conv3d plan: convt3d_plan_execute(plan, input, output). Arguments and statuses as
 * for convt3d_plan_create. */
CONVT3D_API convt3d_status convt3d_conv3d_plan_create(const convt3d_problem *problem,
                                                      const void *weight, const void *bias,
                                                      const convt3d_plan_options *options,
                                                      convt3d_plan **plan);

/** One-shot conv3d: plan create + execute + destroy. */
CONVT3D_API convt3d_status convt3d_conv3d(const convt3d_problem *problem, const void *input,
                                          const void *weight, const void *bias,
                                          void *output);

/* ------------------------------------------------------------------- .npy */

/** numpy's own limit on the rank of an array. */
#define CONVT3D_NPY_MAX_NDIM 32

/** A dense C-order array, as read from or written to a .npy file. */
typedef struct convt3d_array {
  convt3d_dtype dtype;
  int ndim;
  int64_t shape[CONVT3D_NPY_MAX_NDIM];
  void *data; /**< numel * dtype size bytes; owned by the array after convt3d_npy_read */
} convt3d_array;

/**
 * Reads a .npy file (format versions 1.0, 2.0 and 3.0) holding a little-endian float32
 * ('<f4') or float64 ('<f8') array in C order. On success *array owns its data (never
 * NULL, even for an array with no elements): release it with convt3d_array_free(). On
 * failure *array is left with data NULL and ndim 0.
 * Returns CONVT3D_OK, CONVT3D_ERR_INVALID_ARGUMENT (path or array NULL), CONVT3D_ERR_IO
 * (cannot open/read), CONVT3D_ERR_BAD_FILE (malformed, truncated, Fortran order,
 * big-endian, other dtype, trailing bytes, header over 1 MiB), CONVT3D_ERR_TOO_LARGE or
 * CONVT3D_ERR_OUT_OF_MEMORY.
 */
CONVT3D_API convt3d_status convt3d_npy_read(const char *path, convt3d_array *array);

/**
 * Writes array to path as a .npy file, format version 1.0, byte-identical to np.save.
 * The data go to a temporary file in the same directory, which is renamed over path
 * only once completely written and flushed to disk: a failure never leaves a partial
 * file, and an existing file at path is either kept or wholly replaced.
 * Returns CONVT3D_OK, CONVT3D_ERR_INVALID_ARGUMENT (bad array), CONVT3D_ERR_TOO_LARGE,
 * CONVT3D_ERR_OUT_OF_MEMORY or CONVT3D_ERR_IO.
 */
CONVT3D_API convt3d_status convt3d_npy_write(const char *path, const convt3d_array *array);

/** Frees the data of an array filled by convt3d_npy_read and resets it to no data; NULL
 * (or an array already freed) is a no-op. */
CONVT3D_API void convt3d_array_free(convt3d_array *array);

#ifdef __cplusplus
}
#endif

#endif /* CONVT3D_H */
