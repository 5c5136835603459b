/* The phase algorithm: conv_transpose3d as batch-reduce GEMMs over exactly the taps that
 * reach each stride phase (docs/algorithm.md).
 *
 * Per axis, an output o = j*s + c (phase c = o mod s) receives the taps k with
 * k*dilation = c + padding (mod s), from input i = j + e(k), e(k) = (c + padding -
 * k*dilation) / s. No multiplication by a stride-inserted zero or a cropped tap is issued.
 *
 * Work unit (a "task"): one group, a chunk of its output channels, a band of output
 * slices (n, od) and a band of bh rows j of the height phases. Depth is gathered: per
 * slice, only the taps kd whose input plane id exists are visited (its "pairs"). Height
 * and width are handled as one flattened plane: the input planes are packed, zero-padded,
 * as rows of wp = (positions per width phase) + (spread of width offsets) columns, so that
 * for every (phase, tap) the B operand of the micro-kernel is the packed plane shifted by
 * (e_h - e_h,min)*wp + (e_w - e_w,min). Tiles of NR positions are cut flattened, row by
 * row or as stacked rows, whichever wastes least (phase_tiling).
 *
 * Weights are packed at plan time per group and block of mr channels as [tap][ci][mr],
 * tap = (kd*kH + kh)*kW + kw, so the A operand of every (tap, channel range) is
 * contiguous. */
#include <string.h>

#include "../internal.h"
#include "arith.h"
#include "phase_taps.h"
#include "stream.h"
#include "threads.h"
#include "ukernel.h"

/* Limits beyond which the phase algorithm declines (the direct one takes over), besides
 * PHASE_MAX_TAPS (phase_taps.h): the spread of input offsets across an axis's taps, which
 * sets the padding of packed planes, and the height x width phases (stride 32 x 32),
 * which set the size of a task's tiles. Both are far beyond any real layer. */
#define PHASE_MAX_SPREAD 1024
#define PHASE_MAX_PLANE_PHASES 1024

/* Bytes per thread of packed input planes (sets the band height and the input-channel
 * block), of output tiles being accumulated (sets the output-channel chunk), and of the
 * weights one micro-kernel call reads (caps the input-channel block). A task's working set
 * stays near the 1 MiB L2 of a Zen 4/5 core. The first two were measured (Zen 5, bench
 * ratios against oneDNN, two paired runs each): planes of 768 KiB beat 384 KiB by
 * 1.1-1.6x where the smaller budget made each output-channel chunk repack its planes per
 * input-channel block (benchdnn fwks 7x7x5, V-Net, VideoGPT, TATS), and 1280 KiB loses
 * 10-20% on the kernel 4 layers; tiles of 384 KiB beat 192 KiB by a median 6% (up to
 * 22%; fewer chunks, so fewer repacks: 3D-GAN l4, TATS, ResidualUNet3D up3, unet3d
 * deconv8), all but VideoGPT's kernel 4 layer at 1 thread (-2%, -6%). */
#define PHASE_PACK_BUDGET (INT64_C(768) * 1024)
#define PHASE_TILE_BUDGET (INT64_C(384) * 1024)
#define PHASE_WEIGHT_BUDGET (INT64_C(256) * 1024)

/* Positions per phase a task should cover, where the plane has them: each weight loaded
 * from L2 then feeds at least this many multiply-adds. */
#define PHASE_MIN_POSITIONS 256

/* Elements after the last packed plane, zeroed: tiles (up to 64 positions, or 32 for the
 * fused width-2 tiles) that start in the last plane may read that far past it. */
#define PHASE_SLACK 64

/* Output positions (all phases) a task should cover: slices of several depths, or of
 * several samples, are grouped until each weight loaded feeds this many. */
#define PHASE_TASK_POSITIONS 2048

/* Sizes shared by planning and execution, derived from the geometry and the
 * micro-kernel's tile; the split into tasks also from the thread count, which changes no
 * sum. */
typedef struct phase_dims {
  int64_t mr, nr;         /* the micro-kernel's tile */
  phase_axis h, w;
  int64_t wp;             /* packed plane row: w.jmax + width spread */
  int64_t bh, bands;      /* rows j of the height phases per task, and bands per plane */
  int64_t tiles;          /* tiles of nr positions per band (see phase_tiling) */
  int64_t tiles_per_row;  /* 0: tiles run across rows; else tiles per row */
  int64_t rpt;            /* stacked rows: rows per tile (vpr = jw / 16), or 0 */
  int64_t prow;           /* packed plane rows: the band, the height spread, the overrun */
  int64_t plane;          /* distance between packed planes: prow*wp, unaliased_stride */
  int64_t bs, sbands;     /* slices per task (a divisor or multiple of oD), and bands */
  int64_t max_planes;     /* bound on the input planes (n, id) a task packs */
  int64_t max_range;      /* bound on the input depths a band within a sample reaches */
  int64_t max_pairs;      /* bound on a slice's depth taps */
  int64_t max_batch;      /* bound on a brgemm call's batch */
  int64_t kc;             /* input channels per packed block */
  int64_t cc;             /* output channels per chunk of accumulated tiles (mr multiple) */
  int64_t ct, cchunks;    /* output channels per task (mr multiple), and tasks per group */
  int64_t ldc;            /* positions accumulated per channel and phase */
  int64_t cpitch;         /* distance between rows among the accumulated positions */
  int64_t cstride;        /* cbuf elements per channel: h.phases * w.phases * ldc, padded
                             by unaliased_stride (kernels that vectorise along channels
                             write C a channel apart per lane) */
  int64_t slice_elems;    /* cbuf elements per slice: cc * cstride */
  int64_t in_h, in_w;
  int64_t x_channel;      /* D*H*W: distance between input channels */
  int64_t y_channel;      /* oD*oH*oW: distance between output channels */
  size_t esize;
  bool exact_w;           /* row-by-row tiles apply each width tap only to the positions
                             whose input column exists (the tile's f32_np siblings) */
  bool fused_w2;          /* kernel = stride = 2 along the width: fused tiles (ukernel.h) */
  int stream;             /* the fused tiles, or the scatter of stride-1 rows, write
                             with non-temporal stores */
} phase_dims;

/* Packed plane rows for a band of bh rows: the band and the height spread of the taps,
 * plus one row that the width spread can reach into. Tiles of nr positions may run up
 * to nr - 1 positions past the band: those lanes read the next plane (or the zeroed
 * slack after the last one) and are dropped by the scatter. */
static int64_t plane_rows(const phase_axis *h, int64_t bh) {
  return bh + (h->emax - h->emin) + 1;
}

/* The band height: as many rows of the height phases as fit the packing budget with all
 * input channels, but never so few that a task has under PHASE_MIN_POSITIONS positions
 * per phase when the plane has them: each packed weight is read once per task, so short
 * bands make deep layers weight-bandwidth bound (then the input channels are blocked
 * instead). Balanced so that the plane's bands are equal but for rounding. */
static int64_t band_rows(const cvt_geometry *g, const phase_axis *h, int64_t pairs,
                         int64_t wp) {
  const int64_t row_bytes = pairs * g->cin_g * wp * (int64_t)g->esize;
  int64_t bh = PHASE_PACK_BUDGET / row_bytes - (h->emax - h->emin) - 1;
  const int64_t reuse_rows = ceil_div(PHASE_MIN_POSITIONS, wp);
  if (bh < reuse_rows) bh = reuse_rows;
  bh = bh > h->jmax ? h->jmax : bh;
  return ceil_div(h->jmax, ceil_div(h->jmax, bh));
}

/* How a band's positions are cut into tiles of nr: either flattened (tiles run across
 * row ends; the wp - jw.max padding columns per row are computed and dropped, and every
 * height tap is applied, reading zero rows where it falls outside the input) or row by
 * row (tiles stop at a row's last real column, and each row applies only the height taps
 * that reach the input: no multiply by a padding row). */
typedef struct phase_tiling {
  int64_t per_row; /* tiles per row, or 0 */
  int64_t rpt;     /* stacked rows: rows per tile, or 0 */
  int64_t count;   /* tiles per band */
  double cost;     /* lanes computed per band, weighted by the height taps applied */
} phase_tiling;

/* The share of (output row, height tap) pairs whose input row exists, over all height
 * phases: what row-by-row tiling saves over flattened tiling on small planes. */
static double height_tap_use(const cvt_geometry *g) {
  const int64_t s = g->stride[1], out = g->out[1];
  double valid = 0, all = 0;
  phase_tap taps[PHASE_MAX_TAPS];
  for (int64_t c = 0; c < min64(s, out); c++) {
    const int64_t n = phase_taps(c, g->k[1], s, g->pad[1], g->dil[1], taps);
    for (int64_t j = 0; j <= (out - 1 - c) / s; j++) /* j*s + c < out, no overflow */
      for (int64_t t = 0; t < n; t++) {
        all += 1;
        valid += j + taps[t].e >= 0 && j + taps[t].e < g->in[1];
      }
  }
  return all > 0 ? valid / all : 1.0;
}

/* Kernel = stride = 2 along the width, with no padding, dilation or output padding
 * there: the two width phases read the same input (the fused tiles, ukernel.h). */
static bool width_k2s2(const cvt_geometry *g) {
  return g->k[2] == 2 && g->stride[2] == 2 && g->pad[2] == 0 && g->dil[2] == 1 &&
         g->out_pad[2] == 0;
}

/* The cost of one vector FMA of a tile of a x b accumulators (a weight loads and b input
 * loads per input channel step: vectors or broadcasts): the FMA and its share of the
 * loads, scaled up below 8 accumulators, which cannot hide the FMA latency. */
static double fma_cost(int64_t a, int64_t b) {
  const double acc = (double)(a * b);
  return (1.0 + (double)(a + b) / acc) * (acc < 8 ? 8.0 / acc : 1.0);
}

/* With exact width taps (tiles with f32_np siblings), the cost of one row of each width
 * phase in row-by-row tiles of nr, in lanes of the whole a x nr tile per width tap: each
 * tap reaches a run of w positions of each tile (those that exist, whose input column
 * does), computed by the w-wide tile at its own cost. Flattened and whole-row tiles cost
 * nr lanes per tile and tap at the whole tile's rate. */
static double exact_row_lanes(const cvt_geometry *g, int64_t a, int64_t nr) {
  const int64_t s = g->stride[2], out = g->out[2];
  const int64_t tiles = ceil_div(ceil_div(out, s), nr); /* per row of any phase */
  double cost = 0, taps_all = 0;
  phase_tap taps[PHASE_MAX_TAPS];
  for (int64_t c = 0; c < min64(s, out); c++) {
    const int64_t n = phase_taps(c, g->k[2], s, g->pad[2], g->dil[2], taps);
    const int64_t positions = (out - 1 - c) / s + 1; /* j*s + c < out */
    taps_all += (double)n;
    for (int64_t t = 0; t < n; t++)
      for (int64_t j0 = 0; j0 < tiles * nr; j0 += nr) {
        /* j in [j0, j0 + nr) with j < positions and 0 <= j + e < in */
        const int64_t lo = max64(j0, -taps[t].e);
        const int64_t hi = min64(min64(j0 + nr, positions), g->in[2] - taps[t].e);
        if (hi > lo) cost += (double)(hi - lo) * fma_cost(a, hi - lo);
      }
  }
  return taps_all > 0 ? cost / (taps_all * fma_cost(a, nr)) : (double)(tiles * nr);
}

/* Weight loads per input channel step of a tile: vectors of channels, or broadcasts. */
static int64_t weight_loads(const cvt_geometry *g, const cvt_brgemm_config *cfg) {
  return ceil_div(min64((int64_t)cfg->mr_max, g->cout_g), (int64_t)cfg->vec_m);
}

/* The cost of a row of row-by-row tiles, in lanes: its tiles' nr each, or with exact
 * width taps exact_row_lanes. */
static double row_lanes(const cvt_geometry *g, const cvt_brgemm_config *cfg) {
  const int64_t nr = (int64_t)cfg->nr;
  if (cfg->f32_np) return exact_row_lanes(g, weight_loads(g, cfg), nr);
  return (double)(ceil_div(phase_axis_of(g, 2).jmax, nr) * nr);
}

/* A third way, for tiles with a stacked-rows entry (ukernel.h): rows of jw = a multiple
 * of 16 positions shorter than the tile, several rows per tile, no padding column. Row by
 * row, a row costs `lanes` (row_lanes). */
static phase_tiling tiling_of(int64_t bh, int64_t wp, int64_t jw, int64_t nr, double h_use,
                              double lanes, bool stackable) {
  const int64_t flat = ceil_div(bh * wp, nr), per_row = ceil_div(jw, nr);
  const double flat_cost = (double)(flat * nr), row_cost = (double)bh * lanes * h_use;
  phase_tiling best = {0, 0, flat, flat_cost}; /* flattened wins ties: fewer calls */
  if (row_cost < best.cost) best = (phase_tiling){per_row, 0, bh * per_row, row_cost};
  if (stackable && jw % 16 == 0 && jw < nr && (nr / 16) % (jw / 16) == 0) {
    const int64_t rpt = nr / jw, tiles = ceil_div(bh, rpt);
    const double cost = (double)(tiles * nr);
    if (cost < best.cost) best = (phase_tiling){0, rpt, tiles, cost};
  }
  return best;
}


/* Slice bands of bs slices each: whole samples when bs >= oD, else runs within one. */
static int64_t slice_bands(const cvt_geometry *g, int64_t bs) {
  return bs >= g->out[0] ? ceil_div(g->n, bs / g->out[0]) : g->n * ceil_div(g->out[0], bs);
}

/* Blocks of mr channels per task: all the group's, unless that makes fewer tasks than two
 * per thread; then halved until it does not. */
static int64_t task_blocks(int64_t blocks, int64_t spatial, int threads) {
  int64_t per_task = blocks;
  while (per_task > 1 && spatial * ceil_div(blocks, per_task) < 2 * (int64_t)threads)
    per_task = ceil_div(per_task, 2);
  return per_task;
}

/* The work of the busiest thread, in channel blocks x slices, for tasks of bs slices and
 * per_task channel blocks dealt as OpenMP's static schedule deals them (contiguous runs,
 * the first tasks % threads threads one task more), in phase_task_setup's order (height
 * bands innermost, then slice bands, channel chunks, groups). A height band counts as its
 * share of the slices. */
static double busiest_thread(const cvt_geometry *g, int64_t bs, int64_t per_task,
                             int64_t blocks, int64_t bands, int threads) {
  const int64_t sbands = slice_bands(g, bs), od_n = g->out[0];
  const int64_t cchunks = ceil_div(blocks, per_task);
  const int64_t tasks = g->groups * cchunks * sbands * bands;
  const int64_t q = tasks / threads, r = tasks % threads;
  double most = 0;
  for (int64_t t = 0, task = 0; t < threads; t++) {
    double work = 0;
    for (const int64_t end = task + q + (t < r); task < end; task++) {
      const int64_t sb = task / bands % sbands, cch = task / bands / sbands % cchunks;
      const int64_t nb = min64(per_task, blocks - cch * per_task);
      const int64_t ns = bs >= od_n ? min64(bs / od_n, g->n - sb * (bs / od_n)) * od_n
                                    : min64(bs, od_n - sb % ceil_div(od_n, bs) * bs);
      work += (double)(nb * ns) / (double)bands;
    }
    most = work > most ? work : most;
  }
  return most;
}

/* Slices and channel blocks per task. By default bs slices (the caller's) and
 * task_blocks. With several threads and few tasks (under 8 per thread) that do not deal
 * evenly (5 blocks of channels to 2 threads: 3 + 2), halvings of the slice bands and of
 * the channel chunks are tried too, up to 8 tasks per thread, and the split whose busiest
 * thread has the least work is taken (the default on ties; else the larger bands, which
 * read the weights fewer times). Each try deals fewer than 16 tasks per thread, so the
 * search stays a few hundred steps at 2 threads. No sum changes: a task's outputs are
 * summed as before. */
static void balanced_tasks(const cvt_geometry *g, int64_t bs, int64_t blocks, int64_t bands,
                           int threads, int64_t *bs_out, int64_t *per_task_out) {
  const int64_t many = 8 * (int64_t)threads;
  const int64_t per_task = task_blocks(blocks, g->groups * slice_bands(g, bs) * bands, threads);
  *bs_out = bs, *per_task_out = per_task;
  const int64_t tasks = g->groups * slice_bands(g, bs) * bands * ceil_div(blocks, per_task);
  if (threads < 2 || g->n * g->out[0] == 0 || tasks >= many) return;
  double best = busiest_thread(g, bs, per_task, blocks, bands, threads);
  const int64_t od_n = g->out[0];
  for (int64_t b = bs;; b = b > od_n ? ceil_div(b / od_n, 2) * od_n : ceil_div(b, 2)) {
    const int64_t spatial = g->groups * slice_bands(g, b) * bands;
    for (int64_t pt = task_blocks(blocks, spatial, threads);; pt = ceil_div(pt, 2)) {
      const double work = busiest_thread(g, b, pt, blocks, bands, threads);
      if (work < best) best = work, *bs_out = b, *per_task_out = pt;
      if (pt == 1 || spatial * ceil_div(blocks, pt) >= many) break;
    }
    if (b == 1 || spatial >= many) break;
  }
}

/* Input planes (n, id) that slices [s0, s0 + bs) of one band can read: whole samples
 * when a band holds whole samples, else the depth range its output depths reach. */
static int64_t depth_range(const cvt_geometry *g, const phase_axis *dax, int64_t bs) {
  return min64(g->in[0], bs / g->stride[0] + 2 + (dax->emax - dax->emin));
}

/* Input planes a band packs: every plane of its samples when it holds whole samples, else
 * only the planes its slices' depth taps read (at most max_pairs per slice). */
static int64_t planes_for_band(const cvt_geometry *g, const phase_axis *dax, int64_t bs,
                               int64_t max_pairs) {
  const int64_t od_n = g->out[0];
  if (bs >= od_n) return bs / od_n * g->in[0];
  return min64(depth_range(g, dax, bs), bs * max_pairs);
}

static phase_dims phase_dims_of(const cvt_geometry *g, const cvt_brgemm_config *cfg,
                                int threads) {
  phase_dims d;
  const int64_t esize = (int64_t)g->esize;
  d.esize = (size_t)esize;
  d.mr = (int64_t)cfg->mr_max;
  d.nr = (int64_t)cfg->nr;
  const phase_axis dax = phase_axis_of(g, 0);
  d.h = phase_axis_of(g, 1);
  d.w = phase_axis_of(g, 2);
  d.wp = d.w.jmax + (d.w.emax - d.w.emin);
  d.max_pairs = max_taps_per_phase(g->k[0], g->stride[0], g->dil[0]);
  const int64_t taps_hw = max_taps_per_phase(g->k[1], g->stride[1], g->dil[1]) *
                          max_taps_per_phase(g->k[2], g->stride[2], g->dil[2]);
  d.max_batch = d.max_pairs * taps_hw;
  d.bh = band_rows(g, &d.h, d.max_pairs, d.wp);
  d.bands = ceil_div(d.h.jmax, d.bh);
  const phase_tiling tl = tiling_of(d.bh, d.wp, d.w.jmax, d.nr, height_tap_use(g),
                                    row_lanes(g, cfg), cfg->f32_rows != NULL);
  d.exact_w = tl.per_row && cfg->f32_np;
  d.tiles_per_row = tl.per_row;
  d.rpt = tl.rpt;
  d.tiles = tl.count;
  /* Accumulated positions: flattened tiles keep the plane's layout (row r at r*wp);
   * row-by-row tiles give each row its whole tiles (row r at r*cpitch), since a row's
   * last tile may run past wp. */
  d.cpitch = tl.per_row ? tl.per_row * d.nr : tl.rpt ? d.w.jmax : d.wp;
  d.ldc = tl.per_row ? d.bh * d.cpitch : tl.rpt ? d.tiles * tl.rpt * d.cpitch : d.tiles * d.nr;
  /* stacked tiles may run up to rpt - 1 rows past the band */
  d.prow = plane_rows(&d.h, d.bh) + (tl.rpt ? tl.rpt - 1 : 0);
  d.plane = unaliased_stride(d.prow * d.wp, d.esize);

  /* Slices per task: enough that each weight loaded feeds PHASE_TASK_POSITIONS outputs
   * (deep layers on small volumes are otherwise bound by streaming their weights), as
   * far as one block of mr channels' tiles fits the tile budget. A band never splits a
   * sample unless it is within one. */
  d.cstride = unaliased_stride(d.h.phases * d.w.phases * d.ldc, d.esize);
  const int64_t per_slice = d.cstride; /* positions, all phases (and the padding) */
  const int64_t slices = g->n * g->out[0]; /* (n, od) output slices of the problem */
  int64_t bs = ceil_div(PHASE_TASK_POSITIONS, per_slice);
  bs = min64(bs, PHASE_TILE_BUDGET / (d.mr * per_slice * esize));
  bs = min64(bs, slices); /* no slices at all with an empty batch */
  const int64_t blocks = ceil_div(g->cout_g, d.mr);
  int64_t per_task;
  /* The fused kernel = stride = 2 tiles need every input channel in one block (their
   * tiles go straight to the output): fewer slices per task, down to one, rather than
   * a block (benchdnn fwks 14x14x10 with the 6x48 tile: 4 slices, 279 of 320 channels
   * per block, unfused, 17.2 ms at 1 thread; fewer slices, fused, 14.1 ms). */
  const bool w2 = cfg->f32_w2[0] && width_k2s2(g) && d.wp == d.w.jmax;
  for (;; bs = bs > g->out[0] ? bs / g->out[0] / 2 * g->out[0] : bs / 2) {
    if (bs < 1) bs = 1;
    if (bs > g->out[0]) bs = bs / g->out[0] * g->out[0];
    balanced_tasks(g, bs, blocks, d.bands, threads, &d.bs, &per_task);
    d.sbands = slice_bands(g, d.bs);
    d.max_planes = planes_for_band(g, &dax, d.bs, d.max_pairs);
    d.max_range = depth_range(g, &dax, d.bs);

    /* Input channels per packed block: the packing budget, and one call's weights (or,
     * when a task spans several depth phases, every depth tap's) kept in L2. */
    const int64_t per_channel_in = d.max_planes * d.plane * esize;
    const int64_t weight_taps = d.bs > 1 ? g->k[0] * taps_hw : d.max_batch;
    d.kc = min64(g->cin_g, PHASE_PACK_BUDGET / per_channel_in);
    d.kc = min64(d.kc, PHASE_WEIGHT_BUDGET / (weight_taps * d.mr * esize));
    if (d.kc < 1) d.kc = 1;
    if (!w2 || d.kc == g->cin_g || bs == 1) break;
  }

  /* Output channels per chunk of accumulated tiles: as many blocks as the tile budget
   * holds. A task takes every chunk of its group (one packing of its input serves them
   * all), unless there are fewer tasks than two per thread: then the group's channels
   * are split across tasks. Neither split changes any sum (each output's terms are
   * ordered by kc and the taps only), so results do not depend on the thread count. */
  int64_t per_chunk = PHASE_TILE_BUDGET / (d.bs * per_slice * d.mr * esize);
  per_chunk = per_chunk < 1 ? 1 : min64(per_chunk, blocks);
  d.cc = per_chunk * d.mr;
  d.ct = per_task * d.mr;
  d.cchunks = ceil_div(blocks, per_task);
  d.slice_elems = d.cc * per_slice;
  /* Kernel = stride = 2 along the width, no padding or dilation there, and no
   * input-channel blocking (tiles go straight to the output): the fused tiles apply.
   * Packed rows then have no padding (e = 0 in both width phases: wp = w.jmax = the
   * input's width). The last tile of a run of rows may be partial; it reads up to 31
   * positions past the run, into the next rows of the plane, or the next plane, or the
   * slack (PHASE_SLACK). */
  d.fused_w2 = w2 && d.kc == g->cin_g;
  /* Outputs no cache will hold go out with non-temporal stores: from the fused tiles, or
   * from the scatter where it copies whole rows (width stride 1) and the instruction set
   * has a streaming copy (MedNeXt's head, 109 MB). */
  const bool stream_rows = g->stride[2] == 1 && g->dtype == CONVT3D_F32 && cfg->f32_stream;
  d.stream = (d.fused_w2 || stream_rows) &&
             (size_t)g->output_numel * g->esize > (size_t)CVT_STREAM_BYTES;
  d.in_h = g->in[1];
  d.in_w = g->in[2];
  d.x_channel = g->in[0] * g->in[1] * g->in[2];
  d.y_channel = g->out[0] * g->out[1] * g->out[2];
  return d;
}

/* Position of the first lane of tile t in the band's packed plane, and among the
 * accumulated positions. */
static int64_t tile_start(const phase_dims *d, int64_t t) {
  if (d->rpt) return t * d->rpt * d->wp;
  if (!d->tiles_per_row) return t * d->nr;
  return t / d->tiles_per_row * d->wp + t % d->tiles_per_row * d->nr;
}
static int64_t tile_out(const phase_dims *d, int64_t t) {
  if (d->rpt) return t * d->rpt * d->cpitch;
  if (!d->tiles_per_row) return t * d->nr;
  return t / d->tiles_per_row * d->cpitch + t % d->tiles_per_row * d->nr;
}

const cvt_brgemm_config *cvt_phase_pick_kernel(const cvt_geometry *g,
                                               const cvt_brgemm_config *tiles, size_t count) {
  const cvt_brgemm_config *voxel = cvt_voxel_pick_kernel(g, tiles, count);
  if (voxel) return voxel; /* one input voxel: one GEMM (voxel.c) */
  const cvt_brgemm_config *pointwise = cvt_pointwise_pick_kernel(g, tiles, count);
  if (pointwise) return pointwise; /* kernel 1, few channels: in place (pointwise.c) */
  if (cvt_patch_prefers(g)) return cvt_patch_pick_kernel(g, tiles, count);
  /* The tile that issues the fewest vector FMAs for the plane's positions and the group's
   * channels, counting the lanes each wastes: positions past a row or a tile, channels
   * past the last block; weighted by the loads each FMA needs (fewer with more
   * accumulators), and scaled up for tiles with fewer than 8 accumulators, which cannot
   * hide the FMA latency. The first of equals wins. */
  const phase_axis h = phase_axis_of(g, 1), w = phase_axis_of(g, 2);
  const int64_t wp = w.jmax + (w.emax - w.emin);
  const int64_t bh = band_rows(g, &h, max_taps_per_phase(g->k[0], g->stride[0], g->dil[0]),
                               wp);
  const int64_t bands = ceil_div(h.jmax, bh);
  const double h_use = height_tap_use(g);
  bool fused = false; /* an instruction set with the fused tiles, and a layer for them */
  for (size_t i = 0; i < count; i++) fused |= tiles[i].f32_w2[0] && width_k2s2(g);
  const cvt_brgemm_config *best = &tiles[0];
  double best_cost = 0;
  for (size_t i = 0; i < count; i++) {
    const int64_t mr = (int64_t)tiles[i].mr_max, nr = (int64_t)tiles[i].nr;
    const int64_t vm = (int64_t)tiles[i].vec_m, vn = (int64_t)tiles[i].vec_n;
    /* Channel-vectorised tiles stream a whole weight panel per few positions; measured,
     * they only pay where rows are too short to fill one position vector, or, for the
     * fused kernel = stride = 2 tiles, which tile runs of rows, shorter than 8 (rows of
     * 9 and 10: the fused tiles 1.14-1.23x faster, 2026-12-07). */
    if (vm > 1 && (w.jmax >= 16 || (fused && w.jmax >= 8))) continue;
    const double positions = (double)bands * tiling_of(bh, wp, w.jmax, nr, h_use,
                                                       row_lanes(g, &tiles[i]),
                                                       tiles[i].f32_rows != NULL)
                                                 .cost;
    /* channel lanes: full blocks of mr, then the tail rounded up to the vector */
    const int64_t tail = g->cout_g % mr;
    const int64_t channels = g->cout_g / mr * mr + ceil_div(tail, vm) * vm;
    const double fmas = positions / (double)vn * ((double)channels / (double)vm);
    const double cost = fmas * fma_cost(weight_loads(g, &tiles[i]), nr / vn);
    if (best_cost == 0 || cost < best_cost) best = &tiles[i], best_cost = cost;
  }
  return best;
}

bool cvt_phase_supports(const cvt_geometry *g) {
  int64_t plane_phases = 1;
  for (int ax = 0; ax < 3; ax++) {
    if (g->k[ax] > PHASE_MAX_TAPS) return false;
    if (ax == 0) continue;
    const phase_axis a = phase_axis_of(g, ax);
    if (a.emax - a.emin > PHASE_MAX_SPREAD || a.phases > PHASE_MAX_PLANE_PHASES) return false;
    plane_phases *= a.phases; /* <= 2^20 */
  }
  /* A task's tiles hold every height x width phase of its rows: beyond this many, the
   * workspace would grow with the stride (stride 1000 would need gigabytes). */
  return plane_phases <= PHASE_MAX_PLANE_PHASES;
}


/* ------------------------------------------------------------------ workspace */

/* One thread's scratch, carved from its slice of the plan's workspace. */
typedef struct phase_workspace {
  void *planes;                  /* max_planes * kc * prow * wp + slack: packed input */
  void *cbuf;                    /* bs * slice_elems: the task's tiles being summed */
  const void **a_ptrs, **b_ptrs; /* 2 * max_batch and max_batch: one brgemm batch */
  int64_t *x_plane;              /* max_planes: input offsets of the packed planes */
  int64_t *npairs;               /* bs: depth taps of each slice whose plane exists */
  int64_t *pair_q, *pair_tap;    /* bs * max_pairs: their packed plane and kd*kH*kW */
  int64_t *qmap;                 /* max_range: packed plane of each input depth, or -1 */
} phase_workspace;

static size_t workspace_layout(const phase_dims *d, char *base, phase_workspace *ws) {
  const size_t sizes[] = {
      (size_t)(d->max_planes * d->kc * d->plane + PHASE_SLACK) * d->esize,
      (size_t)(d->bs * d->slice_elems) * d->esize,
      (size_t)(2 * d->max_batch) * sizeof(void *), /* two halves for the fused tiles */
      (size_t)d->max_batch * sizeof(void *),
      (size_t)d->max_planes * sizeof(int64_t),
      (size_t)d->bs * sizeof(int64_t),
      (size_t)(d->bs * d->max_pairs) * sizeof(int64_t),
      (size_t)(d->bs * d->max_pairs) * sizeof(int64_t),
      (size_t)d->max_range * sizeof(int64_t),
  };
  void **slots[] = {&ws->planes,           &ws->cbuf,           (void **)&ws->a_ptrs,
                    (void **)&ws->b_ptrs,  (void **)&ws->x_plane, (void **)&ws->npairs,
                    (void **)&ws->pair_q,  (void **)&ws->pair_tap, (void **)&ws->qmap};
  size_t off = 0;
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    if (base) *slots[i] = base + off;
    off += align64(sizes[i]);
  }
  return off;
}

size_t cvt_phase_workspace_bytes(const cvt_geometry *g, const cvt_brgemm_config *cfg,
                                 int threads) {
  if (cvt_voxel_applies(g, cfg)) return cvt_voxel_workspace_bytes(g, cfg);
  if (cvt_pointwise_applies(g, cfg)) return 0;
  if (cvt_patch_applies(g, cfg)) return cvt_patch_workspace_bytes(g, cfg);
  const phase_dims d = phase_dims_of(g, cfg, threads);
  phase_workspace unused;
  return workspace_layout(&d, NULL, &unused);
}

/* -------------------------------------------------------------------- weights */

size_t cvt_phase_packed_weight_bytes(const cvt_geometry *g, const cvt_brgemm_config *cfg) {
  if (cvt_voxel_applies(g, cfg)) return cvt_voxel_packed_weight_bytes(g);
  if (cvt_pointwise_applies(g, cfg)) return cvt_pointwise_packed_weight_bytes(g);
  if (cvt_patch_applies(g, cfg)) return cvt_patch_packed_weight_bytes(g);
  /* Blocks of mr channels tile Cout_g exactly; kernels that vectorise along channels may
   * read one vector (at most mr_max values) past the last block's last row. */
  return ((size_t)g->weight_numel + cfg->mr_max) * g->esize;
}

/* Element offset of the packed block of channels [co0, co0 + mr) of group grp: every
 * earlier block of the group is full (mr_max channels), and each holds taps*cin_g*mr. */
static int64_t phase_weight_block_offset(const cvt_geometry *g, int64_t grp, int64_t co0) {
  const int64_t per_channel = g->k[0] * g->k[1] * g->k[2] * g->cin_g;
  return (grp * g->cout_g + co0) * per_channel;
}

/* Packs one group's block of channels [co0, co0 + mr) in slices of PACK_CI input
 * channels: a slice's source rows (mr per input channel, taps contiguous) stay in L1 while
 * every tap's [ci][mr] panel is written in order. SRC(i) is weight element i. */
#define PACK_CI 32
/* NOLINTBEGIN(bugprone-macro-parentheses): T is a type, SRC a macro */
#define PACK_BLOCK(T, SRC)                                                                 \
  for (int64_t c0 = 0; c0 < g->cin_g; c0 += PACK_CI)                                     \
    for (int64_t tap = 0; tap < taps; tap++) {                                             \
      T *dst = (T *)packed + block + (tap * g->cin_g + c0) * mr;                          \
      for (int64_t ci = c0; ci < min64(c0 + PACK_CI, g->cin_g); ci++)                     \
        for (int64_t m = 0; m < mr; m++)                                                   \
          *dst++ = SRC(((grp * g->cin_g + ci) * g->cout_g + co0 + m) * taps + tap);        \
    }
/* NOLINTEND(bugprone-macro-parentheses) */
#define PLAIN_F32(i) ((const float *)weight)[i]
#define PLAIN_F64(i) ((const double *)weight)[i]

/* c[0]*s[0] + ... + c[nc-1]*s[nc-1], in that order, for the Winograd forms' nc = 3 and 4
 * taps, each packed by its own copy of the loops (PACK_BLOCK_COMBINED(3) and (4)): with a
 * loop over a variable nc, deconv8's plan took 19 ms at 1 thread in the bench instead of
 * 10-11. */
static inline float combine(const float *c, const float *s, int nc, int64_t step) {
  const float three = c[0] * s[0] + c[1] * s[step] + c[2] * s[2 * step];
  return nc == 3 ? three : three + c[3] * s[3 * step];
}

/* Copies of one block from weight (float32), nc values per packed element, each copy its
 * own combination of them (cvt_phase_pack_weights_combined), weight_numel elements apart:
 * PACK_BLOCK's loops per copy, over a slice of source rows that stays in L2 meanwhile. */
#define PACK_BLOCK_COMBINED(nc)                                                            \
  for (int64_t c0 = 0; c0 < g->cin_g; c0 += PACK_CI)                                     \
    for (int p = 0; p < copies; p++)                                                       \
      for (int64_t tap = 0; tap < taps; tap++) {                                           \
        float *dst = (float *)packed + p * g->weight_numel + block + (tap * g->cin_g + c0) * mr; \
        const float *cp = c + (int64_t)p * (nc);                                           \
        for (int64_t ci = c0; ci < min64(c0 + PACK_CI, g->cin_g); ci++)                   \
          for (int64_t m = 0; m < mr; m++) {                                               \
            const float *sv = (const float *)weight +                                      \
                              (nc) * taps * ((grp * g->cin_g + ci) * g->cout_g + co0 + m) +  \
                              tap * tap_step;                                              \
            *dst++ = combine(cp, sv, nc, step) * scale;                                    \
          }                                                                                \
      }

/* The packer of both entries below: weight as it is (c NULL), or `copies` float32
 * combinations of its values. The slack after the last copy is zeroed first (each copy's would
 * fall on the next copy, which then overwrites it). */
static void pack_weights(const cvt_geometry *g, const cvt_brgemm_config *cfg,
                         const void *weight, const float *c, int nc, bool outer, int copies,
                         float scale, void *packed, int num_threads) {
  const int64_t taps = g->k[0] * g->k[1] * g->k[2], mr_max = (int64_t)cfg->mr_max;
  /* the nc combined values: the innermost of each tap's (width), or the outermost taps */
  const int64_t tap_step = outer ? 1 : nc, step = outer ? taps : 1;
  const int64_t blocks = ceil_div(g->cout_g, mr_max);
  const size_t esize = g->esize;
  memset((char *)packed + (size_t)(copies * g->weight_numel) * esize, 0, cfg->mr_max * esize);
  (void)num_threads; /* unused without OpenMP */
#pragma omp parallel for schedule(static) num_threads(num_threads) if (num_threads > 1)
  for (int64_t gb = 0; gb < g->groups * blocks; gb++) {
    const int64_t grp = gb / blocks, co0 = gb % blocks * mr_max;
    const int64_t mr = min64(g->cout_g - co0, mr_max);
    const int64_t block = phase_weight_block_offset(g, grp, co0);
    if (c && nc == 3) {
      PACK_BLOCK_COMBINED(3) /* nc a constant in each: combine() written out */
    } else if (c) {
      PACK_BLOCK_COMBINED(4)
    } else if (g->dtype == CONVT3D_F32) {
      PACK_BLOCK(float, PLAIN_F32)
    } else {
      PACK_BLOCK(double, PLAIN_F64)
    }
  }
}

void cvt_phase_pack_weights(const cvt_geometry *g, const cvt_brgemm_config *cfg,
                            const void *weight, void *packed, int num_threads) {
  if (cvt_voxel_applies(g, cfg))
    cvt_voxel_pack_weights(g, weight, packed, num_threads);
  else if (cvt_pointwise_applies(g, cfg))
    cvt_pointwise_pack_weights(g, weight, packed);
  else if (cvt_patch_applies(g, cfg))
    cvt_patch_pack_weights(g, cfg, weight, packed, num_threads);
  else
    pack_weights(g, cfg, weight, NULL, 1, false, 1, 1, packed, num_threads);
}

void cvt_phase_pack_weights_combined(const cvt_geometry *g, const cvt_brgemm_config *cfg,
                                     const float *src, const float *c, int nc, bool outer,
                                     int copies, float scale, void *packed, int num_threads) {
  pack_weights(g, cfg, src, c, nc, outer, copies, scale, packed, num_threads);
}
#undef PACK_BLOCK_COMBINED
#undef PLAIN_F64
#undef PLAIN_F32
#undef PACK_BLOCK
#undef PACK_CI

/* ---------------------------------------------------------------------- tasks */

/* What one task reads and writes: a group, a band of output slices (n, od) (a run of
 * depths of one sample, or whole samples), a band of height rows, a chunk of channels. */
typedef struct phase_task {
  int64_t group;
  int64_t n0, od0;  /* first slice */
  int64_t slices;   /* slices in the band; slice i is (n0 + (od0 + i) / oD, (od0 + i) % oD) */
  int64_t jh0;      /* first row j of the height band (in every height phase) */
  int64_t co0, con; /* channels [co0, co0 + con) of the group */
  int64_t nplanes;  /* input planes packed: (n, id) with q = plane index */
  int64_t *x_plane; /* per plane: element offset of x[n, group*Cin_g, id, 0, 0] */
  int64_t *npairs, *pair_q, *pair_tap; /* per slice (max_pairs apart): its depth taps */
  int64_t *qmap;    /* scratch: packed plane of each input depth of the band */
} phase_task;

static void phase_task_setup(const cvt_geometry *g, const phase_dims *d, int64_t task,
                             phase_task *t) {
  const int64_t od_n = g->out[0], in_d = g->in[0];
  const int64_t hb = task % d->bands, sb = task / d->bands % d->sbands;
  const int64_t cch = task / d->bands / d->sbands % d->cchunks;
  t->group = task / d->bands / d->sbands / d->cchunks;
  t->jh0 = hb * d->bh;
  t->co0 = cch * d->ct;
  t->con = min64(d->ct, g->cout_g - t->co0);
  /* The band's slices, and the input planes they read, numbered q in packing order:
   * for whole samples every plane, q = (n - n0)*D + id; within one sample only the planes
   * some depth tap reads, numbered as first met. */
  const bool whole = d->bs >= od_n;
  int64_t id_lo = 0;
  if (whole) {
    const int64_t per = d->bs / od_n;
    t->n0 = sb * per, t->od0 = 0;
    t->slices = min64(per, g->n - t->n0) * od_n;
    t->nplanes = t->slices / od_n * in_d;
    for (int64_t q = 0; q < t->nplanes; q++)
      t->x_plane[q] = (((t->n0 + q / in_d) * g->cin + t->group * g->cin_g) * in_d + q % in_d) *
                      d->in_h * d->in_w;
  } else {
    const int64_t per_sample = ceil_div(od_n, d->bs);
    t->n0 = sb / per_sample, t->od0 = sb % per_sample * d->bs;
    t->slices = min64(d->bs, od_n - t->od0);
    t->nplanes = 0;
    id_lo = t->od0 / g->stride[0] + phase_axis_of(g, 0).emin;
    if (id_lo < 0) id_lo = 0; /* then every id read is in [id_lo, id_lo + max_range) */
    for (int64_t r = 0; r < d->max_range; r++) t->qmap[r] = -1;
  }
  for (int64_t i = 0; i < t->slices; i++) {
    const int64_t n = t->n0 + (t->od0 + i) / od_n, od = (t->od0 + i) % od_n;
    phase_tap td[PHASE_MAX_TAPS];
    const int64_t ntd =
        phase_taps(od % g->stride[0], g->k[0], g->stride[0], g->pad[0], g->dil[0], td);
    int64_t *q = t->pair_q + i * d->max_pairs, *tap = t->pair_tap + i * d->max_pairs;
    t->npairs[i] = 0;
    for (int64_t a = 0; a < ntd; a++) {
      const int64_t id = od / g->stride[0] + td[a].e;
      if (id < 0 || id >= in_d) continue; /* outside the input */
      int64_t qi;
      if (whole) {
        qi = (n - t->n0) * in_d + id;
      } else {
        int64_t *slot = &t->qmap[id - id_lo]; /* id - id_lo < max_range: depth_range() */
        if (*slot < 0) {
          *slot = t->nplanes;
          t->x_plane[t->nplanes++] =
              ((n * g->cin + t->group * g->cin_g) * in_d + id) * d->in_h * d->in_w;
        }
        qi = *slot;
      }
      q[t->npairs[i]] = qi;
      tap[t->npairs[i]] = td[a].k * g->k[1] * g->k[2];
      t->npairs[i]++;
    }
  }
}

/* Element offset of y[n, group*Cout_g + co0, od, 0, 0] for slice i of the task. */
static int64_t slice_y(const cvt_geometry *g, const phase_task *t, int64_t i) {
  const int64_t n = t->n0 + (t->od0 + i) / g->out[0], od = (t->od0 + i) % g->out[0];
  return ((n * g->cout + t->group * g->cout_g + t->co0) * g->out[0] + od) * g->out[1] *
         g->out[2];
}

/* --------------------------------------------------------------------- drivers */

#define CVT_T float
#define CVT_FN phase_f32
#define CVT_PACK pack_planes_f32
#define CVT_SCATTER scatter_f32
#define CVT_FUSED_W2 fused_w2_f32
#define CVT_EXACT_TILE exact_tile_f32
#define CVT_BRGEMM f32
#define CVT_ROWS 1
#include "phase_impl.h"
#undef CVT_ROWS
#undef CVT_T
#undef CVT_FN
#undef CVT_PACK
#undef CVT_FUSED_W2
#undef CVT_EXACT_TILE
#undef CVT_SCATTER
#undef CVT_BRGEMM

#define CVT_T double
#define CVT_FN phase_f64
#define CVT_PACK pack_planes_f64
#define CVT_SCATTER scatter_f64
#define CVT_BRGEMM f64
#define CVT_ROWS 0
#include "phase_impl.h"
#undef CVT_ROWS
#undef CVT_T
#undef CVT_FN
#undef CVT_PACK
#undef CVT_SCATTER
#undef CVT_BRGEMM

void cvt_phase_forward(const cvt_exec *e, const void *input, void *output) {
  if (cvt_voxel_applies(e->geo, e->brgemm))
    cvt_voxel_forward(e, input, output);
  else if (cvt_pointwise_applies(e->geo, e->brgemm))
    cvt_pointwise_forward(e, input, output);
  else if (cvt_patch_applies(e->geo, e->brgemm))
    cvt_patch_forward(e, input, output);
  else if (e->geo->dtype == CONVT3D_F32)
    phase_f32(e, input, output);
  else
    phase_f64(e, input, output);
}
