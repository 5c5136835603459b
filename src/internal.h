/* Internal declarations shared by the library's source files. Nothing here is exported:
 * the library is built with -fvisibility=hidden, and only CONVT3D_API names are public. */
#ifndef CONVT3D_INTERNAL_H
#define CONVT3D_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "convt3d.h"

#if defined(__GNUC__)
#define CVT_PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#else
#define CVT_PRINTF(fmt_index, first_arg)
#endif

/* Records the failure message for the calling thread and returns status, so that error
 * paths read `return cvt_fail(CONVT3D_ERR_..., "...", ...);`. */
convt3d_status cvt_fail(convt3d_status status, const char *fmt, ...) CVT_PRINTF(2, 3);

/* Clears the calling thread's failure message (a successful public call does not). */
void cvt_clear_error(void);

/* The library's only allocators (src/alloc.c), freed with free(). A size of 0 allocates
 * a minimal block. cvt_alloc64 aligns to 64 bytes (and rounds n up to a multiple). In
 * test builds (CONVT3D_FAULT_INJECTION) any one of them can be made to fail. */
void *cvt_malloc(size_t n);
void *cvt_calloc(size_t count, size_t size);
void *cvt_alloc64(size_t n);

/* Checked int64 arithmetic: true when the exact result is representable, and then *r
 * holds it. The builtins compute the infinitely precise result and report whether it
 * wrapped, so no intermediate can overflow undetected. */
static inline bool cvt_mul(int64_t a, int64_t b, int64_t *r) {
  return !__builtin_mul_overflow(a, b, r);
}
static inline bool cvt_add(int64_t a, int64_t b, int64_t *r) {
  return !__builtin_add_overflow(a, b, r);
}
static inline bool cvt_sub(int64_t a, int64_t b, int64_t *r) {
  return !__builtin_sub_overflow(a, b, r);
}

/* ------------------------------------------------------------------------ geometry */

/* A validated problem, unpacked into the sizes every implementation needs. All values
 * are exact and positive unless noted, and every product the kernels form from them
 * (tensor element counts, offsets) fits in int64 and in size_t bytes: cvt_validate
 * guarantees it, so kernels index with plain int64 arithmetic. */
typedef struct cvt_geometry {
  convt3d_dtype dtype;
  size_t esize;          /* bytes per element */
  bool batched;          /* input was (N, Cin, D, H, W) rather than (Cin, D, H, W) */
  bool has_bias;
  int64_t n;             /* batch, may be 0 */
  int64_t groups;
  int64_t cin, cout;     /* totals over all groups */
  int64_t cin_g, cout_g; /* per group; cout_g may be 0 */
  int64_t in[3];         /* D, H, W of the input */
  int64_t k[3];          /* kD, kH, kW */
  int64_t stride[3], pad[3], out_pad[3], dil[3];
  int64_t out[3];        /* oD, oH, oW (1 each while output_padding is being chosen) */
  int64_t input_numel, weight_numel, output_numel;
  bool phase_tiles;      /* the phase algorithm runs it with its tiles, none of its cuts
                            (voxel.c, patch.c): Winograd's middle problem, whose weights it
                            packs for the tiles. cvt_validate leaves it false. */
} cvt_geometry;

/* What cvt_validate checks beyond the parameters themselves. */
enum {
  /* Skip the per-axis checks that involve output_padding and the resulting output
   * size: used while choosing output_padding from a requested output size. */
  CVT_VALIDATE_NO_OUTPUT_SIZE = 1u << 0,
};

/* Checks problem exactly as PyTorch would (see docs/semantics.md) and fills *geo.
 * Returns CONVT3D_OK, CONVT3D_ERR_INVALID_ARGUMENT or CONVT3D_ERR_TOO_LARGE with the
 * thread's message set. `fn` names the public function for the message. */
convt3d_status cvt_validate(const convt3d_problem *problem, unsigned flags, const char *fn,
                            cvt_geometry *geo);

/* The output shape of a validated problem: (N, Cout, oD, oH, oW), or without N when the
 * input was unbatched. */
convt3d_shape cvt_output_shape(const cvt_geometry *geo);

/* Checks a conv3d problem (convt3d_conv3d's meanings of the fields) exactly as
 * F.conv3d would and fills *geo with the transposed convolution whose backward-data
 * pass it is: geo->in is conv3d's output size, geo->out its input size, geo->cin its
 * output channels, geo->cout its input channels; geo->has_bias is false (conv3d's bias
 * is the backward-data pass's, of geo->cin elements). */
convt3d_status cvt_validate_conv3d(const convt3d_problem *problem, const char *fn,
                                   cvt_geometry *geo);
/* The input shape of a validated problem, (N, Cin, D, H, W) or without N: also grad_input's
 * shape, and conv3d's output shape under cvt_validate_conv3d's geometry. */
convt3d_shape cvt_input_shape(const cvt_geometry *geo);

/* The thread count for a new plan when the caller does not give one. */
int cvt_default_threads(void);

/* ---------------------------------------------------------------- implementations */

struct cvt_brgemm_config; /* src/cpu/ukernel.h */

/* What an implementation gets to compute one output, fixed by plan create except the
 * workspace, which execute provides. */
typedef struct cvt_exec {
  const cvt_geometry *geo;
  const void *weight; /* in the layout the algorithm packed it (PyTorch's if it did not) */
  const void *bias;   /* forward: geo->cout elements; backward data: geo->cin (conv3d's
                         bias); or NULL */
  const struct cvt_brgemm_config *brgemm; /* the micro-kernel, for algorithms that use one */
  void *workspace;    /* num_threads slices of workspace_per_thread bytes, 64-byte aligned */
  size_t workspace_per_thread;
  int num_threads;
} cvt_exec;

/* Every implementation computes the whole output. Preconditions (established by plan
 * create): geo is valid, buffers are sized as geo says and do not overlap.
 * Implementations never fail and allocate nothing. */
typedef void (*cvt_forward_fn)(const cvt_exec *e, const void *input, void *output);

/* The backward passes (see convt3d.h): grad_input from grad_output, into which a
 * conv3d plan also adds its bias (e->bias, geo->cin elements, or NULL); and grad_weight
 * with grad_bias (NULL: not wanted) from input and grad_output. Same preconditions. */
typedef void (*cvt_backward_data_fn)(const cvt_exec *e, const void *grad_output,
                                     void *grad_input);
typedef void (*cvt_backward_weight_fn)(const cvt_exec *e, const void *input,
                                       const void *grad_output, void *grad_weight,
                                       void *grad_bias);

/* src/reference/: naive gather loops with double accumulation; the oracle. */
void cvt_reference_forward(const cvt_exec *e, const void *input, void *output);
void cvt_reference_backward_data(const cvt_exec *e, const void *grad_output,
                                 void *grad_input);
void cvt_reference_backward_weight(const cvt_exec *e, const void *input,
                                   const void *grad_output, void *grad_weight,
                                   void *grad_bias);

/* src/cpu/direct.c: stride-aware direct loops over output planes, OpenMP threads. */
void cvt_direct_forward(const cvt_exec *e, const void *input, void *output);

/* src/cpu/phase.c: the output split by stride phase, each phase a batch-reduce GEMM over
 * the taps that reach it, on packed weights and packed input rows (docs/algorithm.md). */
bool cvt_phase_supports(const cvt_geometry *geo);
/* The micro-kernel, among an instruction set's tiles (ukernel.h), that wastes the fewest
 * lanes on this problem. */
const struct cvt_brgemm_config *cvt_phase_pick_kernel(const cvt_geometry *geo,
                                                      const struct cvt_brgemm_config *tiles,
                                                      size_t count);
size_t cvt_phase_packed_weight_bytes(const cvt_geometry *geo,
                                     const struct cvt_brgemm_config *cfg);
void cvt_phase_pack_weights(const cvt_geometry *geo, const struct cvt_brgemm_config *cfg,
                            const void *weight, void *packed, int num_threads);
/* `copies` packs of float32 weights derived from src, nc = 3 or 4 values per weight
 * element: copy p, at packed + p * weight_numel elements, has element i = (sum over l <
 * nc of c[p*nc + l] * src[at(i, l)]) * scale, summed in l order (the Winograd algorithm's
 * G g, transformed and packed in one pass over src). src's taps are geo's with one more
 * axis of nc taps: the innermost, at(i, l) = nc*i + l, or with `outer` the outermost,
 * at(i, l) = (i / T * nc + l) * T + i % T for geo's T taps. Not for one-voxel
 * geometries. */
void cvt_phase_pack_weights_combined(const cvt_geometry *geo,
                                     const struct cvt_brgemm_config *cfg, const float *src,
                                     const float *c, int nc, bool outer, int copies,
                                     float scale, void *packed, int num_threads);
size_t cvt_phase_workspace_bytes(const cvt_geometry *geo,
                                 const struct cvt_brgemm_config *cfg, int num_threads);
void cvt_phase_forward(const cvt_exec *e, const void *input, void *output);
/* src/cpu/voxel.c: the phase algorithm's cut for an input of one voxel (no padding,
 * dilation or output padding), one GEMM per group, which the functions above delegate
 * to. _applies: the geometry qualifies, with this micro-kernel (AVX-512 float32
 * channels-in-lanes tiles); _pick_kernel: the tile for it, or NULL when the geometry does
 * not qualify or the instruction set has no such tile. */
bool cvt_voxel_applies(const cvt_geometry *geo, const struct cvt_brgemm_config *cfg);
const struct cvt_brgemm_config *cvt_voxel_pick_kernel(const cvt_geometry *geo,
                                                      const struct cvt_brgemm_config *tiles,
                                                      size_t count);
size_t cvt_voxel_packed_weight_bytes(const cvt_geometry *geo);
void cvt_voxel_pack_weights(const cvt_geometry *geo, const void *weight, void *packed,
                            int num_threads);
size_t cvt_voxel_workspace_bytes(const cvt_geometry *geo, const struct cvt_brgemm_config *cfg);
void cvt_voxel_forward(const cvt_exec *e, const void *input, void *output);
/* src/cpu/pointwise.c: the phase algorithm's cut for kernel-1 stride-1 layers without
 * padding and with at most 64 channels per group on each side (AVX-512 float32: the tiles
 * with a pointwise entry), which the functions above delegate to. */
bool cvt_pointwise_applies(const cvt_geometry *geo, const struct cvt_brgemm_config *cfg);
const struct cvt_brgemm_config *cvt_pointwise_pick_kernel(const cvt_geometry *geo,
                                                          const struct cvt_brgemm_config *tiles,
                                                          size_t count);
/* The name plans report for the tile the cut runs (convt3d_plan_info.kernel). */
const char *cvt_pointwise_kernel_name(const struct cvt_brgemm_config *cfg);
size_t cvt_pointwise_packed_weight_bytes(const cvt_geometry *geo);
void cvt_pointwise_pack_weights(const cvt_geometry *geo, const void *weight, void *packed);
void cvt_pointwise_forward(const cvt_exec *e, const void *input, void *output);
/* The same tile for grad_input (and conv3d) of such layers, with their own weight panels
 * (delegated to by the backward-data functions below). */
bool cvt_pointwise_bwd_data_applies(const cvt_geometry *geo, const struct cvt_brgemm_config *cfg);
void cvt_pointwise_bwd_data_pack_weights(const cvt_geometry *geo, const void *weight,
                                         void *packed);
void cvt_pointwise_bwd_data(const cvt_exec *e, const void *grad_output, void *grad_input);
/* src/cpu/patch.c: the phase algorithm's cut for small unpadded planes (each input
 * voxel's outputs a patch, of its own for kernel = stride), one GEMM per group over all
 * input voxels, which the functions above delegate to. _prefers: the geometry qualifies
 * and the plan takes it; _applies: with this micro-kernel (positions-in-lanes tiles). */
bool cvt_patch_prefers(const cvt_geometry *geo);
bool cvt_patch_applies(const cvt_geometry *geo, const struct cvt_brgemm_config *cfg);
const struct cvt_brgemm_config *cvt_patch_pick_kernel(const cvt_geometry *geo,
                                                      const struct cvt_brgemm_config *tiles,
                                                      size_t count);
size_t cvt_patch_packed_weight_bytes(const cvt_geometry *geo);
void cvt_patch_pack_weights(const cvt_geometry *geo, const struct cvt_brgemm_config *cfg,
                            const void *weight, void *packed, int num_threads);
size_t cvt_patch_workspace_bytes(const cvt_geometry *geo, const struct cvt_brgemm_config *cfg);
void cvt_patch_forward(const cvt_exec *e, const void *input, void *output);

/* src/cpu/tap_gemm.c: for few output channels per group, the in-plane taps as the rows of
 * a batch-reduce GEMM over the input plane, then gathered per output row
 * (docs/algorithm.md). _prefers: the plan's rule for CONVT3D_ALGO_AUTO. */
bool cvt_tap_gemm_supports(const cvt_geometry *geo);
bool cvt_tap_gemm_prefers(const cvt_geometry *geo);
const struct cvt_brgemm_config *cvt_tap_gemm_pick_kernel(const cvt_geometry *geo,
                                                         const struct cvt_brgemm_config *tiles,
                                                         size_t count);
size_t cvt_tap_gemm_packed_weight_bytes(const cvt_geometry *geo,
                                        const struct cvt_brgemm_config *cfg);
void cvt_tap_gemm_pack_weights(const cvt_geometry *geo, const struct cvt_brgemm_config *cfg,
                               const void *weight, void *packed, int num_threads);
size_t cvt_tap_gemm_workspace_bytes(const cvt_geometry *geo,
                                    const struct cvt_brgemm_config *cfg);
void cvt_tap_gemm_forward(const cvt_exec *e, const void *input, void *output);

/* src/cpu/winograd.c: Winograd along the width (or the depth), F(4, 3) for kernel 3
 * stride 1 and F(4, 2) per stride phase for kernel 4 or 3 stride 2 (no dilation there;
 * float32), the middle step the phase algorithm on a problem of 6x (10x, 9x) the groups.
 * _prefers: the plan's rule for CONVT3D_ALGO_AUTO. The workspace is one block: the
 * transformed input and products, then num_threads slices of *phase_slice bytes for the
 * phase algorithm, which execute gets as cvt_exec.workspace_per_thread. */
bool cvt_winograd_supports(const cvt_geometry *geo);
bool cvt_winograd_prefers(const cvt_geometry *geo);
const struct cvt_brgemm_config *cvt_winograd_pick_kernel(const cvt_geometry *geo,
                                                         const struct cvt_brgemm_config *tiles,
                                                         size_t count);
size_t cvt_winograd_packed_weight_bytes(const cvt_geometry *geo,
                                        const struct cvt_brgemm_config *cfg);
void cvt_winograd_pack_weights(const cvt_geometry *geo, const struct cvt_brgemm_config *cfg,
                               const void *weight, void *packed, int num_threads);
size_t cvt_winograd_workspace_bytes(const cvt_geometry *geo,
                                    const struct cvt_brgemm_config *cfg, int num_threads,
                                    size_t *phase_slice);
void cvt_winograd_forward(const cvt_exec *e, const void *input, void *output);

/* src/cpu/backward_data.c: grad_input (and conv3d) as a batch-reduce GEMM per input
 * row over the taps, on grad_output rows packed per width phase (docs/algorithm.md).
 * The workspace is per thread. */
const struct cvt_brgemm_config *cvt_bwd_data_pick_kernel(const cvt_geometry *geo,
                                                         const struct cvt_brgemm_config *tiles,
                                                         size_t count);
size_t cvt_bwd_data_packed_weight_bytes(const cvt_geometry *geo,
                                        const struct cvt_brgemm_config *cfg);
void cvt_bwd_data_pack_weights(const cvt_geometry *geo, const struct cvt_brgemm_config *cfg,
                               const void *weight, void *packed, int num_threads);
/* Per-thread bytes, or with *shared set the whole workspace for num_threads threads
 * (the gemm cut, whose im2col of grad_output the threads share). */
size_t cvt_bwd_data_workspace_bytes(const cvt_geometry *geo,
                                    const struct cvt_brgemm_config *cfg, int num_threads,
                                    bool *shared);
void cvt_bwd_data_run(const cvt_exec *e, const void *grad_output, void *grad_input);

/* src/cpu/backward_weight.c: grad_weight as GEMMs over positions, on slabs of input and
 * grad_output packed channels-last, accumulated tap by tap in a fixed order. The
 * workspace is one block shared by the threads. */
const struct cvt_brgemm_config *cvt_bwd_weight_pick_kernel(
    const cvt_geometry *geo, const struct cvt_brgemm_config *tiles, size_t count);
size_t cvt_bwd_weight_workspace_bytes(const cvt_geometry *geo,
                                      const struct cvt_brgemm_config *cfg, int num_threads);
void cvt_bwd_weight_run(const cvt_exec *e, const void *input, const void *grad_output,
                        void *grad_weight, void *grad_bias);

#endif /* CONVT3D_INTERNAL_H */
