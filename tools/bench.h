/* convt3d bench: declarations shared by the benchmark's source files (tools/ only; the
 * library knows nothing of them).
 *
 *   bench.c          the `convt3d bench` command: timing, report
 *   bench_verify.c   the problem's geometry, and the verification of every result
 *   bench_suite.c    the suite file reader
 *   peak_avx512.c    FMA-peak loop, the only code built with -mavx512f
 *   peak_avx2.c      FMA-peak loop for AVX2+FMA machines, built with -mavx2 -mfma
 *   onednn.c         oneDNN's deconvolution, built only when oneDNN is found
 *                    (CONVT3D_HAVE_ONEDNN) */
#ifndef CONVT3D_TOOLS_BENCH_H
#define CONVT3D_TOOLS_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "convt3d.h"

/* `convt3d bench ARGS...` (argv excludes "bench"); returns the process exit status. */
int bench_main(int argc, char **argv);

/* ------------------------------------------------------------------------ suite */

enum { BENCH_NAME_MAX = 127 };

/* One line of a suite: a float32, batched problem with bias, checked valid and non-empty. */
typedef struct bench_shape {
  char name[BENCH_NAME_MAX + 1];
  convt3d_problem p;
} bench_shape;

/* Reads and checks a whole suite file. On success returns 0 and sets *shapes (free() it)
 * and *count >= 1. On failure prints a message naming the file and line to stderr and
 * returns the exit status: 1 the file cannot be read, 2 it is malformed or a problem is
 * invalid. */
int bench_read_suite(const char *path, bench_shape **shapes, int *count);

/* Parses one decimal integer, spaces around it allowed, nothing else. */
bool bench_parse_i64(const char *s, int64_t *v);

/* --------------------------------------------------------------------- FMA peak */

/* Each call runs `iters` iterations of BENCH_FMA_CHAINS independent vector FMAs and
 * returns a value that depends on every one of them, so none can be optimised away.
 * Call only when the CPU has the ISA (__builtin_cpu_supports). */
enum { BENCH_FMA_CHAINS = 12 };
float bench_fma_avx512(int64_t iters); /* 12 x 16 float FMAs = 384 FLOP per iteration */
float bench_fma_avx2(int64_t iters);   /* 12 x 8 float FMAs = 192 FLOP per iteration */

/* ----------------------------------------------------------------------- passes */

/* What one bench table times. For each, the buffers of one problem (PyTorch layouts):
 *   FWD    y = conv_transpose3d(x, w) + b                    reads x, w, b; writes y
 *   BWD_D  grad_input = conv3d(grad_output, w)               reads dy, w;   writes dx
 *   BWD_W  grad_weight, grad_bias from x and grad_output     reads x, dy;   writes dw, db
 * The bench keeps a pass's result in one flat buffer: y (NCDHW), dx (NCDHW), or dw in the
 * weight's (Cin, Cout/groups, k...) order followed by db's Cout elements. */
typedef enum bench_pass {
  BENCH_PASS_FWD = 0,
  BENCH_PASS_BWD_D = 1,
  BENCH_PASS_BWD_W = 2,
  BENCH_PASSES = 3
} bench_pass;

/* "fwd", "bwd_d", "bwd_w": the --pass values, indexed by bench_pass. */
extern const char *const bench_pass_name[BENCH_PASSES];

/* ------------------------------------------------------------ verification */

/* A suite problem unpacked: everything is >= 1 (read_suite checked it). */
typedef struct bench_geom {
  int64_t n, cin, cout, groups, cin_g, cout_g;
  int64_t in[3], k[3], s[3], pad[3], dil[3], out[3];
  size_t nx, nw, ny;
} geom;

geom bench_geom_of(const convt3d_problem *p);
/* Effective FLOPs (input/tap pairs that land in the output) and nominal FLOPs. */
double bench_effective_flops(const geom *g);
double bench_nominal_flops(const geom *g);
/* Uniform data in [-1, 1) from a seed. */
void bench_fill_uniform(float *v, size_t n, uint64_t seed);

/* One problem's buffers (PyTorch layouts); dy is grad_output, used by the backward passes. */
typedef struct bench_data {
  const float *x, *w, *b, *dy;
} data;

/* Elements of a pass's result buffer: y, grad_input, or grad_weight followed by grad_bias. */
size_t bench_result_size(const geom *g, bench_pass pass);

/* Sampled result elements checked per shape: enough to catch a wrong tile, a wrong tail
 * or a wrong phase with near certainty, cheap enough for 17-GFLOP shapes. An element of
 * grad_weight is a sum over the batch and every position: there, as many samples as
 * SAMPLE_TERMS terms allow, but at least MIN_WEIGHT_SAMPLES and MAX_BIAS_SAMPLES. */
enum { SAMPLES = 4096, MIN_WEIGHT_SAMPLES = 64, MAX_BIAS_SAMPLES = 64 };
#define SAMPLE_TERMS 268435456.0 /* 2^28 products in double: about 0.3 s */

/* The sampled result elements with their exact values and error bounds. */
typedef struct bench_samples {
  int count;
  size_t idx[SAMPLES];
  double exact[SAMPLES], tol[SAMPLES];
} samples;

/* Picks the elements to check and computes their exact values and bounds. 0, or -1 when
 * out of memory. */
int bench_pick_samples(const geom *g, bench_pass pass, const data *d, samples *sm);
/* Checks a result at the samples: true when all are within bound; *worst gets the largest
 * |error| / bound. On failure prints the shape, the first bad element and how many. */
bool bench_verify(const bench_shape *s, bench_pass pass, const char *who, int threads,
                  const geom *g, const samples *sm, const float *y, double *worst);

/* ----------------------------------------------------------------------- oneDNN */

#ifdef CONVT3D_HAVE_ONEDNN
/* One of oneDNN's deconvolution primitives (deconvolution_direct, f32) on one float32
 * batched problem, ready to execute on its own copies of the data: forward_inference for
 * FWD; backward_data or backward_weights (with diff_bias) for the backward passes, each
 * created with a forward_training primitive descriptor as its hint, as oneDNN requires. */
typedef struct bench_onednn bench_onednn;

typedef enum bench_onednn_layout {
  /* format_tag::any for every tensor: oneDNN picks its fastest (blocked) layout; the
   * inputs are reordered into it once, outside any timing. */
  BENCH_ONEDNN_ANY = 0,
  /* activations (and their gradients) ncdhw, weights (and grad_weight) in PyTorch's own
   * layout (iodhw / giodhw): what a caller that passes its tensors as they are gets. */
  BENCH_ONEDNN_PLAIN = 1,
} bench_onednn_layout;

/* Sets up the primitive of `pass` for problem p. x, w, b, dy: PyTorch layouts, those the
 * pass reads (the others may be NULL); for BWD_W, b != NULL asks for grad_bias too (its
 * values are not read). The buffers must stay alive until destroy (the plain layout reads
 * them in place). Uses omp_get_max_threads() threads, as oneDNN does. Returns NULL when
 * oneDNN declines or fails, with the reason in why. */
bench_onednn *bench_onednn_create(const convt3d_problem *p, bench_pass pass,
                                  bench_onednn_layout layout, const float *x, const float *w,
                                  const float *b, const float *dy, char *why, size_t why_size);
/* Runs the primitive only (no reorder). Returns 0 on success. */
int bench_onednn_execute(bench_onednn *o);
/* Copies the last result into out, laid out as the bench keeps that pass's result (see
 * bench_pass; a reorder from blocked layouts). 0 on success. */
int bench_onednn_output(bench_onednn *o, float *out);
/* oneDNN's name for the implementation it chose, e.g. "jit:avx512_core". */
const char *bench_onednn_impl(const bench_onednn *o);
void bench_onednn_destroy(bench_onednn *o);
/* "2.6.3", the version of the oneDNN library actually loaded. */
const char *bench_onednn_version(void);
/* Releases the engine and stream kept between problems. */
void bench_onednn_shutdown(void);
#endif

#endif /* CONVT3D_TOOLS_BENCH_H */
