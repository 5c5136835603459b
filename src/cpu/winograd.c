/* Winograd's minimal filtering along the width, for float32 layers whose width axis has
 * kernel 3 and stride 1, any dilation (benchdnn's unet3d deconv8: 512 -> 256, kernel 3,
 * 8x9x9 -> 10x11x11), or kernel 4 or 3 and stride 2 without dilation (3D-GAN, VideoGPT,
 * TATS; ResidualUNet3D). The formulas below are written for the width; the tiles run
 * along the depth instead where that spares memory traffic (wino_axis), with the same
 * formulas on the depth axis and (H, W) as the middle problem's plane.
 *
 * Kernel 3, stride 1: F(4, 3). Along such an axis the layer is a correlation of the
 * zero-padded input row with the flipped taps: for outputs ow = 4t + i (i < 4) of tile t,
 *
 *     y[4t + i] = sum over j < 3 of d_t[i + j] * g[j],   d_t[l] = x[4t + pW - 2 + l],
 *                                                       g[j] = w[2 - j]  (kw = 2 - j),
 *
 * with x zero outside [0, W). With width dilation dW the taps read columns dW apart, and
 * so do a tile's outputs: the row's columns of each residue c mod dW form a dilation-1
 * row of their own, tiled apart (tile_start): outputs ow = c + dW*(4t + i) read d_t[l] =
 * x[c + dW*(4t + l - 2) + pW]. F(4, 3) computes the tile's 4 outputs from 6 products
 * instead of 12 (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016):
 *
 *     y_t = A^T [ (G g) . (B^T d_t) ],   A^T 4x6, G 6x3, B^T 6x6, interpolation points
 *                                        0, 1, -1, 2, -2 and infinity.
 *
 * Kernel 4, stride 2: two F(4, 2). Output ow = 2j + b (phase b) receives the two taps
 * kw = c_b and c_b + 2, c_b = (b + pW) mod 2, from inputs j + e_b and j + e_b - 1,
 * e_b = (b + pW - c_b) / 2. So each phase is a 2-tap correlation along j, and a tile of 8
 * outputs ow = 8t + 2i + b (i < 4) is two F(4, 2), one per phase:
 *
 *     y[8t + 2i + b] = d_tb[i] * w[c_b + 2] + d_tb[i + 1] * w[c_b],
 *                      d_tb[l] = x[4t + e_b - 1 + l],
 *
 * 5 products per phase and tile instead of 8 (points 0, 1, -1, 2 and infinity).
 *
 * Kernel 3, stride 2: the phase with c_b = 0 has the taps 0 and 2, an F(4, 2) as above;
 * the other has the middle tap alone, y[8t + 2i + b] = x[4t + e_b + i] * w[1]: 4 points
 * whose V is the input and whose U the weight. 9 points per tile against 12 products.
 * The points are laid out phase by phase: q = (phase 0's points if b = 1) + ξ.
 *
 * Summed over the input channels and the depth and height taps, each point ξ (and each
 * phase b of kernel 4) is a transposed convolution of its own: U = (G g)_ξ for every (ci,
 * co, kd, kh), applied to V = (B^T d_t)_ξ for every (ci, d, h, t), with kernel 1 along the
 * tiles. So the middle step is this library's phase algorithm on a problem of P = 6 (or
 * 2 x 5 = 10, or 5 + 4 = 9) times the groups, with the tiles as samples and (D, H) as its
 * height and width:
 *
 *     input  (N*T, P*Cin, 1, D, H),   channel q*Cin + ci, sample n*T + t
 *     weight (P*Cin, Cout/groups, 1, kD, kH)
 *     output (N*T, P*Cout, 1, oD, oH), groups P*groups, D and H's stride, padding,
 *                                      output padding and dilation unchanged
 *
 * and the output transform y_t = A^T M_t (plus the bias) writes the tile's columns of
 * each output row. Per output row and channel pair, F(4, 3) does 6 multiply-adds per 4
 * outputs where the direct path does 3 per output whose input column exists (on
 * deconv8, 18 per row against 27: 1.5x fewer); the kernel 4 stride 2 form 10 per 8
 * outputs against 2 (VideoGPT's 32 outputs per row: 40 against 62, 1.55x fewer). The
 * middle problem's rows are the layer's own height rows, so it keeps the direct path's
 * tiles.
 *
 * Accuracy: B^T and A^T are small integers and G is applied once, at plan time, but the
 * transforms add terms that cancel in exact arithmetic: on random data the RMS error is
 * about 3x the direct summation's (docs/algorithm.md has the bounds and the measurements).
 * CONVT3D_WINOGRAD=0 in the environment, or an explicit algorithm, keeps a plan off this
 * path.
 *
 * Memory: the tiles are cut into chunks of slices (n, t) whose V and M fit in
 * WINO_BUFFER_BUDGET, each chunk transformed, multiplied and transformed back before the
 * next. Non-finite values: a transform mixes a tile's input columns, so one infinite
 * input would turn into NaN outputs that PyTorch computes as numbers. An input whose
 * transform is not finite (an infinity, a NaN, or an overflow in B^T d) is computed by the
 * direct algorithm instead, from the original weights the plan keeps for it. */
#include <string.h>

#include "../internal.h"
#include "arith.h"
#include "phase_taps.h"
#include "ukernel.h"

#define WINO_A 6 /* F(4, 3)'s points per tile */
#define WINO_B 5 /* F(4, 2)'s points per tile and phase */
#define WINO_ONE 4 /* a 1-tap phase's points per tile: its 4 outputs' products */

/* Bytes of transformed input V and products M per chunk of slices. deconv8's 3 slices
 * take 4.7 MB; the budget bounds the workspace whatever the batch or the width. */
#define WINO_BUFFER_BUDGET (INT64_C(8) << 20)

/* The transforms, written out (the zeros of B^T and A^T cost nothing):
 *
 *   B^T =  4  0 -5  0  1  0      G = 1/24 *  6  0  0      A^T = 1  1  1  1  1  0
 *          0 -4 -4  1  1  0                 -4 -4 -4            0  1 -1  2 -2  0
 *          0  4 -4 -1  1  0                 -4  4 -4            0  1  1  4  4  0
 *          0 -2 -1  2  1  0                  1  2  4            0  1 -1  8 -8  1
 *          0  2 -1 -2  1  0                  1 -2  4
 *          0  4  0 -5  0  1                  0  0 24
 *
 * G is kept times 24, and scaled by 1/24 after summing, so that weights that are multiples
 * of 24 transform exactly (the tests rely on it). */
static const int wino_g24[WINO_A][3] = {
    {6, 0, 0}, {-4, -4, -4}, {-4, 4, -4}, {1, 2, 4}, {1, -2, 4}, {0, 0, 24},
};

/* v = B^T d for one row's tile: d its 6 input columns, v[ξ*stride] point ξ's plane.
 * Returns the sum of v * 0, which is NaN when some v is not finite. */
static inline float transform_in(const float d[WINO_A], float *v, int64_t stride) {
  const float a = d[4] - 4 * d[2], b = d[3] - 4 * d[1];
  const float c = d[4] - d[2], e = 2 * (d[3] - d[1]);
  const float v0 = 4 * d[0] - 5 * d[2] + d[4], v5 = 4 * d[1] - 5 * d[3] + d[5];
  v[0] = v0;
  v[stride] = a + b;
  v[2 * stride] = a - b;
  v[3 * stride] = c + e;
  v[4 * stride] = c - e;
  v[5 * stride] = v5;
  return v0 * 0 + (a + b) * 0 + (a - b) * 0 + (c + e) * 0 + (c - e) * 0 + v5 * 0;
}

/* y = A^T m + bias for one row: m[ξ*stride] are the 6 points' products. */
static void transform_out(const float *m, int64_t stride, float bias, float y[4]) {
  const float p = m[stride] + m[2 * stride], q = m[stride] - m[2 * stride];
  const float r = m[3 * stride] + m[4 * stride], s = m[3 * stride] - m[4 * stride];
  y[0] = bias + (m[0] + p + r);
  y[1] = bias + (q + 2 * s);
  y[2] = bias + (p + 4 * r);
  y[3] = bias + (q + 8 * s + m[5 * stride]);
}

/* F(4, 2), points 0, 1, -1, 2 and infinity, with B^T's rows scaled to integers and G's by
 * the inverse (G kept times 6, like F(4, 3)'s times 24):
 *
 *   B^T =  2 -1 -2  1  0      G = 1/6 *  3  0      A^T = 1  1  1  1  0
 *          0  2  1 -1  0                 3  3            0  1 -1  2  0
 *          0 -2  3 -1  0                 1 -1            0  1  1  4  0
 *          0 -1  0  1  0                 1  2            0  1 -1  8  1
 *          0  2 -1 -2  1                 0  6
 */
static const int wino_g6[WINO_B][2] = {{3, 0}, {3, 3}, {1, -1}, {1, 2}, {0, 6}};

/* v = B^T d for F(4, 2): d the tile's 5 input columns. Returns the sum of v * 0. */
static inline float transform_in2(const float d[WINO_B], float *v, int64_t stride) {
  const float a = d[3] - d[1];
  const float v0 = 2 * (d[0] - d[2]) + a, v1 = 2 * d[1] + (d[2] - d[3]);
  const float v2 = 3 * d[2] - 2 * d[1] - d[3], v4 = (d[4] - d[2]) - 2 * a;
  v[0] = v0;
  v[stride] = v1;
  v[2 * stride] = v2;
  v[3 * stride] = a;
  v[4 * stride] = v4;
  return v0 * 0 + v1 * 0 + v2 * 0 + a * 0 + v4 * 0;
}

/* y = A^T m + bias for F(4, 2). */
static void transform_out2(const float *m, int64_t stride, float bias, float y[4]) {
  const float p = m[stride] + m[2 * stride], q = m[stride] - m[2 * stride];
  y[0] = bias + (m[0] + p + m[3 * stride]);
  y[1] = bias + (q + 2 * m[3 * stride]);
  y[2] = bias + (p + 4 * m[3 * stride]);
  y[3] = bias + (q + 8 * m[3 * stride] + m[4 * stride]);
}

/* Stride 2 along axis a, phase b: the lower tap c_b, the offset e_b (top of the file),
 * the phase's taps (2, or 1 for kernel 3's phase of the middle tap), its points (F(4,
 * 2)'s 5, or the 1-tap phase's 4), and the first of them: phase 0's points, then phase
 * 1's. */
static int64_t lower_tap(const cvt_geometry *g, int a, int b) { return (b + g->pad[a]) % 2; }
static int64_t phase_offset(const cvt_geometry *g, int a, int b) {
  return (b + g->pad[a] - lower_tap(g, a, b)) / 2;
}
static int64_t phase_width_taps(const cvt_geometry *g, int a, int b) {
  return (g->k[a] - lower_tap(g, a, b) + 1) / 2;
}
static int64_t phase_points(const cvt_geometry *g, int a, int b) {
  return phase_width_taps(g, a, b) == 2 ? WINO_B : WINO_ONE;
}
static int64_t phase_base(const cvt_geometry *g, int a, int b) {
  return b ? phase_points(g, a, 0) : 0;
}

/* Whether axis a takes one of the forms: kernel 3 stride 1, or kernel 3 or 4 stride 2
 * without dilation. */
static bool form_on(const cvt_geometry *g, int a) {
  const bool f43 = g->k[a] == 3 && g->stride[a] == 1;
  const bool f42 = (g->k[a] == 4 || g->k[a] == 3) && g->stride[a] == 2 && g->dil[a] == 1;
  return f43 || f42;
}

/* With the tiles along axis a (the width 2 or the depth 0): the other two axes in order
 * (the middle problem's height and width), and the input and output rows, their
 * positions. */
static int other_axis(int a, int i) { return a == 2 ? i : i + 1; }
static int64_t rows_in(const cvt_geometry *g, int a) {
  return g->in[other_axis(a, 0)] * g->in[other_axis(a, 1)];
}
static int64_t rows_out(const cvt_geometry *g, int a) {
  return g->out[other_axis(a, 0)] * g->out[other_axis(a, 1)];
}

/* Outputs per tile, and planes of V and M per tile: F(4, 3)'s 6 points, or the two
 * phases' (10 for kernel 4, 9 for kernel 3). */
static int64_t tile_outputs(const cvt_geometry *g, int a) { return g->stride[a] == 1 ? 4 : 8; }
static int64_t tile_points(const cvt_geometry *g, int a) {
  return g->stride[a] == 1 ? WINO_A : phase_points(g, a, 0) + phase_points(g, a, 1);
}
/* Tiles per output row. With dilation d (F(4, 3) only), a tile's 4 outputs are d apart:
 * the row's columns of each residue r mod d are tiled apart, ceil(ceil(oW/d) / 4) tiles
 * per residue, tile t = r * that + b starting at column r + 4*d*b. Only the residues
 * below oW have columns (a dilation beyond the row, with as much padding, is valid):
 * min(d, oW) residues, so at most 2 oW tiles. */
static int64_t residue_tiles(const cvt_geometry *g, int a) {
  return ceil_div(ceil_div(g->out[a], g->dil[a]), tile_outputs(g, a));
}
static int64_t wino_tiles(const cvt_geometry *g, int a) {
  return min64(g->dil[a], g->out[a]) * residue_tiles(g, a);
}
/* The first output column of tile t (its outputs are dW apart with F(4, 3)). */
static int64_t tile_start(const cvt_geometry *g, int a, int64_t t) {
  const int64_t per = residue_tiles(g, a);
  return t / per + t % per * tile_outputs(g, a) * g->dil[a];
}

/* Elements of V and of M per slice (n, t), and their bytes. */
static int64_t v_elems(const cvt_geometry *g, int a) {
  return tile_points(g, a) * g->cin * rows_in(g, a);
}
static int64_t m_elems(const cvt_geometry *g, int a) {
  return tile_points(g, a) * g->cout * rows_out(g, a);
}
static int64_t slice_bytes(const cvt_geometry *g, int a) {
  return (int64_t)sizeof(float) * (v_elems(g, a) + m_elems(g, a));
}

/* Slices per chunk: all of them in as few chunks as the budget allows, dealt evenly (6
 * slices where the budget holds 4: 3 + 3, not 4 + 2); 0 when the budget holds not one.
 * Per point, a slice's V and M hold at most the input's and the output's elements (each
 * below 2^61), so their sum is checked against the budget before it is multiplied; the
 * slices, n x at most 2 oW tiles, stay below 2^62 (n*oW <= the output's elements). */
static int64_t chunk_slices(const cvt_geometry *g, int a) {
  const int64_t per_point = g->cin * rows_in(g, a) + g->cout * rows_out(g, a);
  if (per_point > WINO_BUFFER_BUDGET) return 0;
  const int64_t per = slice_bytes(g, a), slices = g->n * wino_tiles(g, a);
  if (per > WINO_BUFFER_BUDGET) return 0;
  return ceil_div(slices, ceil_div(slices, WINO_BUFFER_BUDGET / per));
}

/* The axis the tiles run along: the width, or the depth where it takes a form too, with
 * no more points x tiles x output rows, and the width's chunks would not fit or would
 * split a sample's tiles. Along the width a tile writes a part of each output row it
 * reaches (8 columns with stride 2), so that chunks that share a row each read its lines
 * from memory again before writing them; along the depth a tile writes whole planes.
 * Measured (evicted caches, 1 / 2 threads): ResidualUNet3D up3 (256 -> 128, kernel 3
 * stride 2 on 16^3, one slice of 7 MB per chunk) 43.4 / 24.3 ms along the width, 39.6 /
 * 21.1 along the depth; 3D-GAN l4 (128 -> 64, kernel 4 stride 2 on 16^3, two slices of
 * a sample's 4 per chunk) 37.5 / 19.9 against 36.8 / 19.5. Where the width's chunks hold
 * whole samples it stays: deconv8 along the depth (12 tile rows of 121 positions against
 * 12 of 110) 20.9 / 11.0 against 19.8 / 10.0. */
static int wino_axis(const cvt_geometry *g) {
  if (!form_on(g, 2) || !form_on(g, 0) || chunk_slices(g, 0) == 0) return 2;
  const int64_t cs = chunk_slices(g, 2), tiles = wino_tiles(g, 2);
  /* cs <= n * tiles when cs > 0 (chunk_slices checked that product) */
  const bool splits = cs == 0 || (cs % tiles != 0 && cs < g->n * tiles);
  if (!splits) return 2;
  const int64_t work_d = tile_points(g, 0) * wino_tiles(g, 0) * rows_out(g, 0);
  return work_d <= tile_points(g, 2) * tiles * rows_out(g, 2) ? 0 : 2;
}

/* The middle problem for `slices` slices (see the top of the file), or with points = 1
 * one point's share of it: its groups are the middle problem's groups [ξ*groups,
 * (ξ + 1)*groups), whose packed weights are one contiguous run. */
static bool mid_geometry(const cvt_geometry *g, int64_t slices, int64_t points,
                         cvt_geometry *mid) {
  convt3d_problem p;
  memset(&p, 0, sizeof p);
  p.dtype = CONVT3D_F32;
  const int a = wino_axis(g), a0 = other_axis(a, 0), a1 = other_axis(a, 1);
  p.input = (convt3d_shape){5, {slices, points * g->cin, 1, g->in[a0], g->in[a1]}};
  p.weight = (convt3d_shape){5, {points * g->cin, g->cout_g, 1, g->k[a0], g->k[a1]}};
  p.groups = points * g->groups;
  p.stride[0] = p.dilation[0] = 1;
  for (int i = 0; i < 2; i++) {
    const int ax = other_axis(a, i);
    p.stride[i + 1] = g->stride[ax];
    p.padding[i + 1] = g->pad[ax];
    p.output_padding[i + 1] = g->out_pad[ax];
    p.dilation[i + 1] = g->dil[ax];
  }
  if (cvt_validate(&p, 0, "winograd", mid) != CONVT3D_OK) return false;
  mid->phase_tiles = true; /* the weights are packed for the phase tiles */
  return cvt_phase_supports(mid);
}

bool cvt_winograd_supports(const cvt_geometry *g) {
  cvt_geometry mid;
  const int a = wino_axis(g);
  /* rows_in > 1 (D*H along the width): layers of one input row per sample stay off it
   * (their one-voxel middle problem went to the voxel cut before phase_tiles kept the
   * cuts off middle problems; not measured since) */
  return g->dtype == CONVT3D_F32 && g->n >= 1 && g->cout_g >= 1 &&
         form_on(g, a) && rows_in(g, a) > 1 && chunk_slices(g, a) >= 1 &&
         mid_geometry(g, chunk_slices(g, a), tile_points(g, a), &mid);
}

/* Multiply-adds per output row and channel pair along the tiles' axis: the direct path's,
 * one per (output, tap) whose input column exists, and the tiles' (one per point). */
static int64_t direct_width_pairs(const cvt_geometry *g) {
  const int a = wino_axis(g);
  const int64_t s = g->stride[a], p = g->pad[a];
  int64_t pairs = 0;
  for (int64_t kw = 0; kw < g->k[a]; kw++) { /* ow = iw*s - p + kw*dW inside [0, oW) */
    const int64_t tap = kw * g->dil[a];
    const int64_t lo = max64(0, -floor_div(tap - p, s));
    const int64_t hi = min64(g->in[a] - 1, floor_div(g->out[a] - 1 + p - tap, s));
    pairs += max64(0, hi - lo + 1);
  }
  return pairs;
}

bool cvt_winograd_prefers(const cvt_geometry *g) {
  /* Channels enough, and a long enough reduction per point (input channels times the depth
   * and height taps of a phase), that the middle GEMMs are bound by multiply-adds rather
   * than by the transforms' memory passes; and at most 3/4 of the direct path's
   * multiply-adds: the transforms and the larger weights cost the rest. Measured (1 / 2
   * threads, Winograd against the phase algorithm): kernel 4 stride 2 at 64 -> 64
   * channels (a reduction of 256) 0.91x / 0.98x, 128 -> 128 (512) 1.23x / 1.25x; kernel
   * (1, 3, 3) at 64 -> 64 (192) 1.04x / 0.46x, 128 -> 128 (384) 1.26x / 0.86x.
   *
   * F(4, 3) (kernel 3 stride 1) pays with fewer channels too where each phase has 3 x 3
   * depth and height taps, a reduction of 9 per channel (2026-12-07, evicted caches,
   * padding 1, two or three alternated rounds; (1, 3, 3)'s 3 taps are left to the first
   * rule): 32 -> 32 on 16^3 1.29x / 1.48x, on 32^3 1.28x / 1.2x, on 48^3 1.43x / 1.30x,
   * on 64^3 1.5x / 1.08-1.16x, 4 groups of 32 on 16^3 1.33x / 1.33x, 48 -> 48 on 48^3
   * 1.58x / 1.37x; but 16 -> 16 on 32^3 0.95x / 0.85x (and 32 -> 16 1.22x / 1.01x: left
   * out). On the large volumes the tiles run along the depth (wino_axis); along the width
   * 32 -> 32 on 48^3 and 64^3 took 0.9-1.2x the phase algorithm's time. */
  const int a = wino_axis(g), a0 = other_axis(a, 0), a1 = other_axis(a, 1);
  const int64_t taps_dh = max_taps_per_phase(g->k[a0], g->stride[a0], g->dil[a0]) *
                          max_taps_per_phase(g->k[a1], g->stride[a1], g->dil[a1]);
  const int64_t channels = min64(g->cin_g, g->cout_g), reduction = g->cin_g * taps_dh;
  bool enough = channels >= 64 && reduction >= 512;
  if (g->stride[a] == 1 && taps_dh >= 9) /* F(4, 3) under 3 x 3 depth and height taps */
    enough |= channels >= 32;
  /* Kernel 3 stride 2 does 9 per 8 outputs where the direct path does at most 12, so it
   * is held to 4/5 of them (ResidualUNet3D up3's 36 against 47 per row of 32; 256 -> 128
   * on 16^3, 1.13x / 1.08x the phase algorithm; 512 -> 256 on 8^3, 18 against 23, 1.22x
   * / 1.27x; 320 -> 320 on 8^3, 2 samples, 1.32x / 1.22x; on 4^3 45 against 44 stays
   * off: 1024 -> 512 there is bound by reading its weights, which the middle problem
   * triples) */
  const int64_t num = g->stride[a] == 2 && g->k[a] == 3 ? 4 : 3, den = num + 1;
  int64_t tiled, direct; /* tiles <= 2 oW, pairs <= 4 iW: checked all the same */
  return enough && cvt_winograd_supports(g) &&
         cvt_mul(den * tile_points(g, a), wino_tiles(g, a), &tiled) &&
         cvt_mul(num, direct_width_pairs(g), &direct) && tiled <= direct;
}

const cvt_brgemm_config *cvt_winograd_pick_kernel(const cvt_geometry *g,
                                                  const cvt_brgemm_config *tiles,
                                                  size_t count) {
  cvt_geometry mid;
  const int a = wino_axis(g);
  if (!mid_geometry(g, chunk_slices(g, a), tile_points(g, a), &mid)) return NULL;
  return cvt_phase_pick_kernel(&mid, tiles, count);
}

/* Packed weights: the middle problem's, then the layer's own (PyTorch's layout) for the
 * direct fallback. */
static size_t mid_weight_bytes(const cvt_geometry *g, const cvt_brgemm_config *cfg) {
  cvt_geometry mid;
  const int a = wino_axis(g);
  mid_geometry(g, chunk_slices(g, a), tile_points(g, a), &mid);
  return align64(cvt_phase_packed_weight_bytes(&mid, cfg));
}

size_t cvt_winograd_packed_weight_bytes(const cvt_geometry *g, const cvt_brgemm_config *cfg) {
  return mid_weight_bytes(g, cfg) + (size_t)g->weight_numel * sizeof(float);
}

/* The middle weights U = G g, each point's packed as its share of the middle problem (a
 * contiguous run of it), all in one pass over the weights; then the layer's own. U is
 * summed in float32 with integer coefficients and multiplied by the float nearest 1/24
 * (F(4, 3)) or 1/6 (F(4, 2)): within 3 rounding errors of G g, and exact for weights that
 * are multiples of 24 (the sums are then integers 24j or 6j, and j times (1 + e), |e| <
 * 2^-24, rounds to j). */
void cvt_winograd_pack_weights(const cvt_geometry *g, const cvt_brgemm_config *cfg,
                               const void *weight, void *packed, int num_threads) {
  cvt_geometry share;
  mid_geometry(g, 1, 1, &share);
  float c[2 * WINO_B * 4] = {0}; /* point q's coefficient of w[kw]: c[q*kW + kw] */
  const int a = wino_axis(g), kw_n = (int)g->k[a];
  const bool outer = a == 0; /* the depth taps: the outermost of the weight's */
  if (g->stride[a] == 1) {
    for (int xi = 0; xi < WINO_A; xi++) /* g[j] = w[2 - j]: w[kw]'s is G's (2 - kw) */
      for (int kw = 0; kw < 3; kw++) c[xi * 3 + kw] = (float)wino_g24[xi][2 - kw];
    cvt_phase_pack_weights_combined(&share, cfg, weight, c, 3, outer, WINO_A, 1.0f / 24,
                                    packed, num_threads);
  } else {
    for (int b = 0; b < 2; b++) { /* phase b's point ξ is q = base_b + ξ */
      float *cb = c + phase_base(g, a, b) * kw_n;
      const int64_t lo = lower_tap(g, a, b);
      for (int xi = 0; xi < phase_points(g, a, b); xi++, cb += kw_n) {
        if (phase_width_taps(g, a, b) == 1) { /* the product w[c_b] d[ξ]; 6 w times 1/6 */
          cb[lo] = 6;
        } else { /* F(4, 2) with g = (w[c_b + 2], w[c_b]) */
          cb[lo + 2] = (float)wino_g6[xi][0];
          cb[lo] = (float)wino_g6[xi][1];
        }
      }
    }
    cvt_phase_pack_weights_combined(&share, cfg, weight, c, kw_n, outer, (int)tile_points(g, a),
                                    1.0f / 6, packed, num_threads);
  }
  memcpy((char *)packed + mid_weight_bytes(g, cfg), weight,
         (size_t)g->weight_numel * sizeof(float));
}

/* Per-thread bytes of the middle problem's phase workspace, for chunks of `slices`. */
static size_t mid_workspace_per_thread(const cvt_geometry *g, const cvt_brgemm_config *cfg,
                                       int64_t slices, int threads) {
  cvt_geometry mid;
  const int a = wino_axis(g);
  mid_geometry(g, slices, tile_points(g, a), &mid);
  return align64(cvt_phase_workspace_bytes(&mid, cfg, threads));
}

/* The phase workspace a chunk's threads share: every thread's slice, sized for a full
 * chunk and for the last, shorter one. */
static size_t phase_slice_bytes(const cvt_geometry *g, const cvt_brgemm_config *cfg,
                                int threads) {
  const int a = wino_axis(g);
  const int64_t cs = chunk_slices(g, a); /* >= 1: cvt_winograd_supports */
  const int64_t rest = g->n * wino_tiles(g, a) % cs; /* NOLINT(clang-analyzer-core.DivideZero) */
  size_t per = mid_workspace_per_thread(g, cfg, cs, threads);
  if (rest) {
    const size_t last = mid_workspace_per_thread(g, cfg, rest, threads);
    per = last > per ? last : per;
  }
  return per;
}

/* The workspace: V, then M, each on its own lines, then the phase workspace. */
static size_t v_bytes(const cvt_geometry *g) {
  const int a = wino_axis(g);
  return align64((size_t)(chunk_slices(g, a) * v_elems(g, a)) * sizeof(float));
}
static size_t m_bytes(const cvt_geometry *g) {
  const int a = wino_axis(g);
  return align64((size_t)(chunk_slices(g, a) * m_elems(g, a)) * sizeof(float));
}

size_t cvt_winograd_workspace_bytes(const cvt_geometry *g, const cvt_brgemm_config *cfg,
                                    int num_threads, size_t *phase_slice) {
  *phase_slice = phase_slice_bytes(g, cfg, num_threads);
  return v_bytes(g) + m_bytes(g) + *phase_slice * (size_t)num_threads;
}

/* One row's tile: its n input columns from x's row xr (iw columns, cs apart), c0 + l*step
 * for l < n, zero outside the row, into d. */
static inline const float *tile_columns(const float *xr, int64_t iw, int64_t cs, int64_t c0,
                                        int64_t step, int n, float *d) {
  if (cs == 1 && step == 1 && c0 >= 0 && c0 + n <= iw) return xr + c0; /* all exist */
  for (int l = 0; l < n; l++) {
    const int64_t c = c0 + l * step;
    d[l] = c >= 0 && c < iw ? xr[c * cs] : 0;
  }
  return d;
}

/* V for slices [s0, s0 + count): per (slice, ci), the input columns of every input row
 * (d, h) that each tile reads, transformed by B^T, into the planes V[slice][q*Cin + ci]
 * (q the point; with stride 2, phase b's points from phase_base). Along the depth the
 * "columns" are input planes and the rows their (h, w) positions. Returns false when a
 * transformed value is not finite. */
static bool input_transform(const cvt_geometry *g, const float *x, float *v, int64_t s0,
                            int64_t count, int num_threads) {
  const int a = wino_axis(g);
  const int64_t tiles = wino_tiles(g, a), rows = rows_in(g, a), iw = g->in[a];
  const int64_t plane = rows, point = g->cin * plane; /* V strides: q, then slice */
  const int64_t points = tile_points(g, a);
  const int64_t xcs = a == 2 ? 1 : rows, xrs = a == 2 ? iw : 1; /* x's column, row strides */
  float bad = 0; /* sums v * 0: NaN once any v is infinite or NaN */
  (void)num_threads; /* unused without OpenMP */
#pragma omp parallel for schedule(static) num_threads(num_threads) if (num_threads > 1) \
    reduction(+ : bad)
  for (int64_t sc = 0; sc < count * g->cin; sc++) {
    const int64_t s = s0 + sc / g->cin, ci = sc % g->cin, n = s / tiles, t = s % tiles;
    const float *xc = x + (n * g->cin + ci) * rows * iw;
    float *vc = v + (sc / g->cin) * points * point + ci * plane;
    float d[WINO_A];
    if (g->stride[a] == 1) { /* outputs c + i*dW read columns c + pW + (i + l - 2)*dW */
      const int64_t dw = g->dil[a], c0 = tile_start(g, a, t) + g->pad[a] - 2 * dw;
      for (int64_t r = 0; r < rows; r++)
        bad += transform_in(tile_columns(xc + r * xrs, iw, xcs, c0, dw, WINO_A, d), vc + r, point);
    } else {
      for (int b = 0; b < 2; b++) {
        float *vb = vc + phase_base(g, a, b) * point;
        if (phase_width_taps(g, a, b) == 2) { /* F(4, 2): columns 4t + e_b - 1 + l, l < 5 */
          const int64_t c0 = 4 * t + phase_offset(g, a, b) - 1;
          for (int64_t r = 0; r < rows; r++)
            bad += transform_in2(tile_columns(xc + r * xrs, iw, xcs, c0, 1, WINO_B, d), vb + r,
                                 point);
        } else { /* one tap: output 2i + b reads column 4t + e_b + i as it is */
          const int64_t c0 = 4 * t + phase_offset(g, a, b);
          for (int64_t r = 0; r < rows; r++) {
            const float *col = tile_columns(xc + r * xrs, iw, xcs, c0, 1, WINO_ONE, d);
            for (int l = 0; l < WINO_ONE; l++) {
              vb[l * point + r] = col[l];
              bad += col[l] * 0;
            }
          }
        }
      }
    }
  }
  return bad == 0;
}

/* Output rows per block of the output transform: each point's plane is read a vector
 * of rows at a time, and the block's columns written row by row. */
#define WINO_ROW_BLOCK 16

/* y for slices [s0, s0 + count): per (co, slice), the tile's columns of every output row
 * from the planes M[slice][q*Cout + co], plus the bias. A channel's slices are taken one
 * after another, so that the tiles that share an output line write it while it is in
 * cache. */
static void output_transform(const cvt_geometry *g, const float *m, const float *bias,
                             float *y, int64_t s0, int64_t count, int num_threads) {
  const int a = wino_axis(g);
  const int64_t tiles = wino_tiles(g, a), rows = rows_out(g, a), ow = g->out[a];
  const int64_t plane = rows, point = g->cout * plane, points = tile_points(g, a);
  const int64_t ycs = a == 2 ? 1 : rows, yrs = a == 2 ? ow : 1; /* y's column, row strides */
  (void)num_threads; /* unused without OpenMP */
#pragma omp parallel for schedule(static) num_threads(num_threads) if (num_threads > 1)
  for (int64_t cs = 0; cs < g->cout * count; cs++) {
    const int64_t co = cs / count, s = s0 + cs % count, n = s / tiles;
    /* the tile's columns c0 + i*step: F(4, 3)'s 4 outputs dW apart, F(4, 2)'s 8 in a row */
    const int64_t c0 = tile_start(g, a, s % tiles), step = g->stride[a] == 1 ? g->dil[a] : 1;
    /* none where a residue's last tile has no column (residues have ceil(oW/dW) or one
     * fewer columns, and as many tiles) */
    const int64_t width = c0 < ow ? min64(tile_outputs(g, a), (ow - 1 - c0) / step + 1) : 0;
    const float *mc = m + (cs % count) * points * point + co * plane;
    float *yc = y + (n * g->cout + co) * rows * ow + c0 * ycs;
    const float bias_co = bias ? bias[co] : 0;
    for (int64_t r0 = 0; r0 < rows; r0 += WINO_ROW_BLOCK) {
      const int64_t nr = min64(WINO_ROW_BLOCK, rows - r0);
      float t[8][WINO_ROW_BLOCK]; /* the block's tile columns, by column then row */
      if (g->stride[a] == 1) {
        for (int64_t r = 0; r < nr; r++) {
          float o[4];
          transform_out(mc + r0 + r, point, bias_co, o);
          for (int i = 0; i < 4; i++) t[i][r] = o[i];
        }
      } else { /* phase b's outputs are the tile's columns 2i + b */
        for (int b = 0; b < 2; b++) {
          const float *mb = mc + phase_base(g, a, b) * point + r0;
          if (phase_width_taps(g, a, b) == 2) {
            for (int64_t r = 0; r < nr; r++) {
              float o[4];
              transform_out2(mb + r, point, bias_co, o);
              for (int i = 0; i < 4; i++) t[2 * i + b][r] = o[i];
            }
          } else {
            for (int i = 0; i < WINO_ONE; i++)
              for (int64_t r = 0; r < nr; r++) t[2 * i + b][r] = bias_co + mb[i * point + r];
          }
        }
      }
      for (int64_t i = 0; i < width; i++)
        for (int64_t r = 0; r < nr; r++) yc[(r0 + r) * yrs + i * step * ycs] = t[i][r];
    }
  }
}

void cvt_winograd_forward(const cvt_exec *e, const void *input, void *output) {
  const cvt_geometry *g = e->geo;
  const int a = wino_axis(g);
  const int64_t cs = chunk_slices(g, a), slices = g->n * wino_tiles(g, a);
  float *v = e->workspace;
  float *m = v + v_bytes(g) / sizeof *v; /* v_bytes: whole lines */
  /* The middle problem of a full chunk, and of the last, shorter one if any. */
  cvt_geometry mid_full, mid_last;
  mid_geometry(g, cs, tile_points(g, a), &mid_full);
  /* cs >= 1: cvt_winograd_supports */
  const int64_t last = slices - (slices - 1) / cs * cs; /* NOLINT(clang-analyzer-core.DivideZero) */
  mid_geometry(g, last, tile_points(g, a), &mid_last);
  cvt_exec me = *e; /* e->workspace_per_thread: the phase workspace's slices (plan.c) */
  me.bias = NULL;
  me.workspace = (char *)e->workspace + v_bytes(g) + m_bytes(g);
  for (int64_t s0 = 0; s0 < slices; s0 += cs) {
    const int64_t count = min64(cs, slices - s0);
    me.geo = count == cs ? &mid_full : &mid_last;
    if (!input_transform(g, input, v, s0, count, e->num_threads)) {
      cvt_exec direct = *e;
      direct.weight = (const char *)e->weight + mid_weight_bytes(g, e->brgemm);
      cvt_direct_forward(&direct, input, output);
      return;
    }
    cvt_phase_forward(&me, v, m);
    output_transform(g, m, e->bias, output, s0, count, e->num_threads);
  }
}
