/* grad_input of conv_transpose3d (equivalently conv3d's forward pass) on the brgemm
 * micro-kernels.
 *
 *     gx[n, ci, i] = sum over co, kd, kh, kw of w[ci, co, k] * gy[n, co, i*s - p + k*dil]
 *
 * Work unit: one row of grad_input, gx[n, group block, id, ih, 0 .. W). The depth and
 * height taps whose grad_output row (od, oh) exists select rows of grad_output; along the
 * width, tap kw reads gy columns iw*sW + t (t = kw*dW - pW), a stride-sW gather. Writing
 * t = q*sW + r (0 <= r < sW), that column is (iw + q)*sW + r: position iw + q of the
 * row's width phase r. So each selected row is packed once per width phase it is read
 * in, zero-filled outside grad_output, and every tap becomes a contiguous,
 * bounds-free run of the packed row: the micro-kernel's B operand, with the weights of
 * that tap, packed [co][ci], as its A operand; the taps form the batch. Rows of W
 * positions are cut into tiles of the kernel's nr; the last tile of a row runs on a copy.
 *
 * Each grad_input element is written by one task and summed in a fixed order (bias or 0,
 * then grad_output channel chunks, taps, channels), so results do not depend on the
 * thread count. */
#include <string.h>

#include "../internal.h"
#include "arith.h"
#include "stream.h"
#include "taps.h"
#include "threads.h"
#include "ukernel.h"

/* Bytes of packed grad_output a task aims for; chunks of channels keep it there. */
#define BWD_DATA_PACK_BUDGET (INT64_C(256) * 1024)

/* The channels-in-lanes tiles (64xN) on rows load a whole vector of weights per N FMAs,
 * so a channel block's weight panels must come from L2: VideoGPT's convt1 (240 -> 240,
 * kernel 4, rows of 18) read 1.2 MiB of them per row, shared cache to core, and the
 * 64x6 tile ran at 0.4x of its speed from L2 (microbenchmark, 64 taps: 0.43 TSC cycles
 * per vector FMA with 144-576 KiB of panels, 1.0 with 1.1 MiB). There the rows of a
 * band go BWD_DATA_PACK_ROWS at a time (about: the band split evenly) through each
 * channel block in turn, on one pack of the grad_output rows they read (each packed
 * once, however many read it), in chunks of grad_output channels that keep the block's
 * panels within BWD_DATA_PANEL_BUDGET and the pack within BWD_DATA_PACK_ROWS_BUDGET, and
 * bands keep only BWD_DATA_ROW_TASKS_WIDE tasks, so that they hold such packs of rows.
 * VideoGPT convt1 at 1 thread 112 -> 78-85 ms, at 2 66 -> 55; TATS up2 (64x5) 62 -> 52
 * at 2 (best of alternated processes).
 * The positions-in-lanes tiles (6xN) take packs of rows too, for the pack's sake: it reads
 * each grad_output channel's rows of the pack in turn, one contiguous run of up to 2 x 8
 * rows at kernel = stride = 2, which the hardware prefetchers follow, where a row at a
 * time read 2-4 rows of every channel, a volume apart, and waited on nearly every line
 * (nnU-Net up4: the pack 35% of the time, beside the kernel's 39%; 12% beside 50% now).
 * Against one row at a time and 4 rows for the 64xN tiles, both builds alternated in one
 * process (medians of 15 executes, 1 / 2 threads) and in separate ones (best of two
 * medians of 7): nnU-Net up4 0.74-0.85x / 0.68-0.79x the time, up5 0.75-0.91x /
 * 0.74-0.96x, benchdnn fwks 56x56x40 0.79-0.91x / 0.79-0.89x, fwks 64to32 0.93-0.96x /
 * 0.87-1.00x, SwinUNETR decoder1 0.62-0.95x / 0.65-0.78x; VideoGPT convt1 (64x6) 0.83-0.93x
 * / 0.88-0.89x, TATS up2 (64x5) 0.98x / 0.92-0.97x; no other shape of the suite moved
 * beyond the noise. 16 rows: up4 1.3x the time of 8 (the pack's chunks of channels
 * shrink); 8 rather than 4: up5 0.84x, VideoGPT convt1 0.92-0.95x, the rest 0.95-0.99x. */
#define BWD_DATA_PACK_ROWS 8
#define BWD_DATA_PANEL_BUDGET (INT64_C(256) * 1024)
#define BWD_DATA_PACK_ROWS_BUDGET (INT64_C(512) * 1024)
#define BWD_DATA_ROW_TASKS_WIDE 16

/* grad_output rows ahead, in the order it packs them, that the row cut's pack prefetches
 * (nnU-Net up4 at 1 thread: the pack's time 86-137 -> 63-68 M cycles at 8, against 80-91
 * at 4 and 70-85 at 16, when it packed a row at a time, channel by channel). Counted
 * within each row only, the first 8 channels of every row went unprefetched: counted
 * across rows, nnU-Net up5 0.88x the time at 1 and 2 threads, SwinUNETR decoder1 0.90x,
 * up4 0.97x at 1 (alternated in one process; 4 and 16 rows were 3-4% slower than 8).
 * Measured again with packs of rows read channel by channel: 16 rows took nnU-Net up4
 * 1.22x the time of 8 and VideoGPT convt1 1.06x, 4 rows 1.02-1.08x (but benchdnn fwks
 * 56x56x40, 0.90x).
 * The plane cut packs a channel's plane (its rows of a kd, read per height and width
 * phase) at a time, and prefetches the next channel's, up to BWD_DATA_PLANE_PREFETCH
 * bytes of it: each plane lies a volume after the last, and the pack waited on nearly
 * every line (30% of nnU-Net up2's time, its masked loads three quarters of that). The
 * two builds alternated in one process (medians of 15 executes, two runs, 1 / 2
 * threads): nnU-Net up2 0.79-0.81x / 0.79x the time, benchdnn fwks 14x14x10 0.86-0.87x /
 * 0.86x, V-Net 0.76-0.85x / 0.88x, 3D-GAN l4 0.94x / 0.91x, ResidualUNet3D up3
 * 0.91-0.93x / 0.90x; the rest of the suite unmoved. Two channels ahead measured
 * the same; four, 1-2% slower. (The rows-ahead prefetch of the row cut gained 0-3%
 * here.) */
#define BWD_DATA_PREFETCH 8
#define BWD_DATA_PLANE_PREFETCH (INT64_C(4) * 1024)

/* The row cut packs, per live kd p, grad_output channel co and row j, in that order
 * (each channel's rows one run of grad_output, rows ascending): (p, co, j) steps to the
 * next. */
static inline void pack_order_next(int64_t *p, int64_t *j, int64_t *co, int64_t rows,
                                   int64_t channels) {
  if (++*j < rows) return;
  *j = 0;
  if (++*co < channels) return;
  *co = 0;
  ++*p;
}

/* Two ways to cut the work, both on the same packed operands:
 * - rows: a task is a band of grad_input rows (n, group, id, ih0 ..), taken row by row;
 *   for each row the live (kd, kh) select grad_output rows, packed per width phase; tiles
 *   run along the row. For rows longer than 16 positions (use_planes).
 * - planes: a task is one grad_input plane (n, group, id); the grad_output planes the live
 *   kd select are packed per height and width phase, zero-filled, lenh x lenw, so that
 *   every tap is one offset into them and the plane's rows can be flattened: tiles of nr
 *   positions run across rows (computing lenw - W padding columns per row, dropped), in a
 *   buffer holding the group's whole plane, copied out at the end (or, past
 *   BWD_DATA_PLANE_TILE_OUT_BYTES, tile by tile on one tile's copy). For short rows, where
 *   row tiles would waste most lanes or be bound by their loads. */
typedef struct bwd_data_dims {
  bool gemm;                     /* the gemm cut (below; else planes or rows) */
  int64_t P, ptiles, ldy, chunk; /* gemm: positions, their tiles, Y's row stride, taps per
                                    chunk of the reduction */
  bool planes;                   /* the plane cut (else rows) */
  int64_t W, nr, mr_max, blocks; /* blocks of mr_max channels per group */
  int64_t kc;                    /* grad_output channels per packed chunk */
  int64_t groups_of_rows;        /* rows: kD * hrows; planes: kD (planes) */
  int64_t prows;                 /* rows: rows of a band that share a pack (1, or about
                                    BWD_DATA_PACK_ROWS for the 64xN tiles) */
  int64_t hrows;                 /* rows: grad_output rows they reach per kd, at most */
  int64_t hslots, wslots;        /* packed phases per axis (upper bounds; rows: hslots 1) */
  int64_t slots;                 /* hslots * wslots */
  int64_t pitch;                 /* elements of one packed phase row / plane, + slack */
  int64_t ldb;                   /* between grad_output channels in the pack: slots * pitch,
                                    unaliased (arith.h; the micro-kernel's B rows) */
  int64_t lenw;                  /* the packed row length (both cuts) */
  int64_t positions, ppad;       /* planes: H * lenw positions, rounded up to nr */
  int64_t ldp;                   /* planes: between channels of the plane buffer: ppad,
                                    unaliased (arith.h) */
  bool rowbuf;                   /* rows: the rows are summed in a buffer, then copied out */
  bool tile_out;                 /* one chunk of grad_output channels, and for rows no
                                    buffer: each tile is summed on a copy set to the bias,
                                    then stored (grad_input is written once, never zeroed;
                                    planes then need no plane buffer) */
  bool stream;                   /* rows: the copies out to grad_input are streamed */
  bool cl;                       /* rows: the buffer is channels-last (the 64xN tiles:
                                    their f32_cl entry, then one transpose at the copy) */
  int64_t ldq;                   /* rows, cl: between positions of the buffer */
  bool inplace;                  /* rows: grad_output's rows are read in place (below) */
  bool taps_k;                   /* rows: the live taps join the reduction (below) */
  int64_t ldw;                   /* rows: W rounded up to whole tiles (a row of the buffer,
                                    and of the taps_k copy) */
  int64_t band;                  /* rows: grad_input rows per task (1 without a buffer) */
  int64_t ldr;                   /* rows: between channels of the buffer: band * ldw,
                                    unaliased */
  int64_t pack_elems;            /* the whole pack: groups_of_rows * kc * ldb */
} bwd_data_dims;

/* With few grad_output channels, a call of the row cut reduces over kc = Cout/groups
 * channels per tap, 1-3 on the output layers (3D-GAN l5, VideoGPT's head), and every
 * batch entry costs its pointer loads and loop for a few FMAs. There the row's live
 * taps join the reduction instead: each (pair, kw, co) run of the pack is copied to a
 * row of its own, so the rows of consecutive taps follow one another as the packed
 * weights' panels do, and one batch entry covers a run of consecutive taps (all of them
 * inside the volume, or the live kh of one kd): kc = taps x channels. The copy is one
 * memcpy of a tile-rounded row per (tap, channel), shared by all the row's channel
 * blocks. */
#define BWD_DATA_TAPS_K_MAX_CHANNELS 4
#define BWD_DATA_TAPS_K_BUDGET (INT64_C(128) * 1024)

/* Along a width of stride 1 and no padding, every tap's column iw + kw*dW lies inside its
 * grad_output row (which is (kW - 1)*dW + W long, or longer), so the packed row would be
 * a plain copy. Where the row's tiles are all whole and one chunk holds every grad_output
 * channel (inplace), the calls read grad_output's rows where they are, in place of the
 * pack: MedNeXt's pointwise head (rows of 4096, 13 channels) 0.98x the time at 1 thread,
 * 0.89x at 2 (alternated in one process, medians of 15 rounds). */

/* The plane buffer a task may hold (group channels x positions). */
#define BWD_DATA_PLANE_BUDGET (INT64_C(1024) * 1024)

/* A plane buffer larger than L1 costs two passes over L2 besides the calls: set to the
 * bias, then copied out. With one chunk of grad_output channels a plane then goes tile by
 * tile through one tile-sized copy instead (tile_out), set, summed and copied out while
 * in L1: 3D-GAN l5 (64 channels, a 300 KB buffer) 7.3-7.8 -> 6.2-6.6 ms at 1 thread,
 * 5.0 -> 3.6 at 2. Depthwise planes (a few KB) gained nothing and may have lost 0-5%
 * at 2 threads (MedNeXt up0, up1): they keep the buffer. */
#define BWD_DATA_PLANE_TILE_OUT_BYTES (INT64_C(64) * 1024)

/* The row buffer a task holds when rows are summed apart from grad_input (group channels
 * x a band of rows): grad_input's own channels lie D*H*W apart, which for power-of-two
 * volumes puts a tile's rows in one L1 set; the buffer's lie an unaliased stride apart.
 * Above this, one row's buffer included, tiles accumulate in grad_input directly. A task
 * takes as many rows of its plane as the buffer holds, so that copying it out writes each
 * channel's band as one contiguous run: row by row, the writes to grad_input were 64-128
 * short runs a power of two apart, all in the same L2 set, and took 30% of 3D-GAN l5's
 * time. Bands keep at least BWD_DATA_ROW_TASKS tasks for the threads. */
#define BWD_DATA_ROW_BUDGET (INT64_C(256) * 1024)

/* Past that budget the calls sum straight into grad_input. With one chunk of grad_output
 * channels each tile is then summed on a copy set to the bias, and stored (tile_out):
 * setting grad_input first and adding every call to it moved it three times, which on
 * MedNeXt's pointwise head (13 -> 32 channels, 268 MB of grad_input, rows of 4096) was
 * most of the time. Over CVT_STREAM_BYTES of grad_input these stores, and the row
 * buffer's copies out, are non-temporal where a row starts on a 64-byte line (PyTorch's
 * tensors do; copied otherwise): MedNeXt's head 61-70 -> 41-46 ms at 1 thread, 36 -> 25
 * at 2; nnU-Net up5 (134 MB) 198 -> 175 and 103 -> 92 (best of alternated processes). */
#define BWD_DATA_ROW_TASKS 64

/* Rows of up to one vector of positions (or up to four, with the few grad_output channels
 * of BWD_DATA_TAPS_K_MAX_CHANNELS) are cut by planes when the tile puts positions in the
 * lanes, the plane holds enough positions to fill tiles (measured: from 64 positions on,
 * planes beat rows with the channels in the lanes by 1.2-1.8x; at 9-36 the latter win by
 * up to 3x), and the group's plane buffer fits its budget. A row of 16 takes the 6x16 row
 * tile, bound by its loads (a B vector and six broadcasts per six FMAs), where planes run
 * wide tiles across rows: ResidualUNet3D up3 129 -> 91 ms, V-Net 7.6 -> 5.5, 3D-GAN l4
 * 122 -> 102 (1 thread). Past 16, planes lost 7-10% on rows of 32-56 (nnU-Net up4, TATS,
 * benchdnn fwks 56x56x40) and tied at 18 (VideoGPT), but won with 1-3 grad_output
 * channels: 3D-GAN l5 (rows of 32) 13.1 -> 7.9 ms, VideoGPT's head (34) 15.4 -> 14.0. */
#define BWD_DATA_PLANE_MIN_POSITIONS 48
#define BWD_DATA_PLANE_MAX_W 16
#define BWD_DATA_PLANE_MAX_W_FEW_CHANNELS 64
#define BWD_DATA_PLANE_MIN_K 128
static double taps_per_call(const cvt_geometry *g);
static bool use_planes(const cvt_geometry *g, const cvt_brgemm_config *cfg) {
  const int64_t max_w = g->cout_g <= BWD_DATA_TAPS_K_MAX_CHANNELS
                            ? BWD_DATA_PLANE_MAX_W_FEW_CHANNELS
                            : BWD_DATA_PLANE_MAX_W;
  /* Rows whose last vector is mostly empty (row tiles filling under 80% of their lanes),
   * with few taps per call (kernel 4 stride 2 keeps the 64xN row tiles: 1.25-1.43x the
   * time as planes) and deep reductions: a call's k, grad_output channels x taps, from
   * BWD_DATA_PLANE_MIN_K (with 16-32 of them, planes took 1.13-1.55x the time). */
  const int64_t W = g->in[2];
  const bool short_tail = W <= BWD_DATA_PLANE_MAX_W_FEW_CHANNELS &&
                          5 * W < 4 * ceil_div(W, 16) * 16 && taps_per_call(g) < 8 &&
                          (double)g->cout_g * taps_per_call(g) >= BWD_DATA_PLANE_MIN_K;
  if (cfg->vec_m > 1 || (W > max_w && !short_tail)) return false;
  bwd_axis w = {0};
  axis_of(g, 2, &w);
  const int64_t positions = g->in[1] * w.len;
  if (positions < BWD_DATA_PLANE_MIN_POSITIONS) return false;
  const int64_t ppad = ceil_div(positions, (int64_t)cfg->nr) * (int64_t)cfg->nr;
  return g->cin_g * ppad * (int64_t)g->esize <= BWD_DATA_PLANE_BUDGET;
}

/* The gemm cut, for small volumes: the input positions (n, id, ih, iw) number at most
 * twice the input channels per group, the deep decoder layers on 1^3..8^3 inputs whose
 * rows and planes are too short to fill a tile. grad_input is then one GEMM per group,
 *
 *     gx[ci][(n, i)] = sum over (tap, co) of w[ci][co][tap] * Y[(tap, co)][(n, i)],
 *     Y[(tap, co)][(n, i)] = gy[n, co, i*s - p + tap*dil], or 0 outside grad_output,
 *
 * A the plan's packed weights ([co][mr] panels per tap, as the other cuts), B = Y (an
 * im2col of grad_output: a row per (tap, co), the positions contiguous, built once per
 * execute and shared by the threads), one micro-kernel call per block of ci, tile of
 * positions and chunk of taps (Y's chunk stays in L2 while the ci blocks pass). The sums
 * go to a [ci][position] buffer, then out to grad_input. Y holds at most twice the
 * weight's elements; taps outside grad_output cost multiply-adds with its zeros. */
#define BWD_DATA_GEMM_RATIO 2
/* A vector's worth of positions, the least for the positions-in-lanes tiles (3D-GAN l1's
 * 2 took 2.5x the row cut's time on them); fewer take the channels-in-lanes tiles. */
#define BWD_DATA_GEMM_MIN_POSITIONS 16
#define BWD_DATA_GEMM_CHUNK_BUDGET (INT64_C(256) * 1024)
/* Y is built a block of grad_output channels at a time, tap by tap within it, each row of
 * positions for all the block's channels in turn: the block's channels then come from L1
 * for every tap, and a row's bounds are found once for them (on 3D-GAN l1's rows of one
 * position, found channel by channel, they were 40% of the time). With the taps outermost
 * every tap read all of grad_output, from L2 or beyond; with a channel's taps in turn its
 * rows are written a tap's Y apart, often in one L1 set. Against the
 * former (tap outermost, a bounds test per element), alternated in one process, medians
 * of two runs of 11-15 rounds, 1 / 2 threads: nnU-Net lung up1 0.90x the time / 0.86-
 * 0.94x, nnU-Net up1 0.88-0.91x / 0.91-0.94x, benchdnn fwks 7x7x5 0.92x / 0.88-0.90x,
 * unet3d deconv8 0.92-0.95x / 0.90-0.98x, UNETR's projection 0.95x / 0.94x, 3D-GAN l2
 * 0.93-1.00x / 0.94-1.03x (shapes off this path moved by up to 5% in the same runs;
 * blocks of 4 and 8 channels: 0.91-1.06x). */
#define BWD_DATA_GEMM_Y_CHANNELS 16
/* Fewer than BWD_DATA_GEMM_MIN_POSITIONS (3D-GAN l1: 2, 1-voxel inputs in a batch) take the
 * channels-in-lanes tiles instead, 64 channels by up to 6 positions: the row cut ran one
 * task per sample there, each streaming all the weights (26 MB on 3D-GAN l1), where the
 * gemm cut's calls cover every sample's position at once and stream them once. 3D-GAN l1,
 * alternated in one process, medians of 41 rounds: 0.85-0.88x the time at 1 thread,
 * 1.03-1.05x at 2 (its 200 channels make 4 blocks, 128 and 72 channels a thread). */
static bool use_gemm(const cvt_geometry *g, const cvt_brgemm_config *cfg) {
  const int64_t positions = g->n * g->in[0] * g->in[1] * g->in[2];
  if (positions > BWD_DATA_GEMM_RATIO * g->cin_g) return false;
  return cfg->vec_m == 1 ? positions >= BWD_DATA_GEMM_MIN_POSITIONS
                         : positions < BWD_DATA_GEMM_MIN_POSITIONS;
}

static bwd_data_dims dims_of(const cvt_geometry *g, const cvt_brgemm_config *cfg) {
  bwd_data_dims d = {0};
  d.gemm = use_gemm(g, cfg);
  d.P = g->n * g->in[0] * g->in[1] * g->in[2];
  d.ptiles = ceil_div(d.P, (int64_t)cfg->nr);
  d.ldy = unaliased_stride(d.ptiles * (int64_t)cfg->nr, g->esize);
  d.chunk = max64(1, BWD_DATA_GEMM_CHUNK_BUDGET / (g->cout_g * d.ldy * (int64_t)g->esize));
  bwd_axis h = {0}, w = {0};
  axis_of(g, 1, &h);
  axis_of(g, 2, &w);
  d.planes = use_planes(g, cfg);
  d.W = g->in[2];
  d.nr = (int64_t)cfg->nr;
  d.mr_max = (int64_t)cfg->mr_max;
  d.blocks = ceil_div(g->cin_g, d.mr_max);
  d.lenw = w.len;
  d.wslots = w.slots;
  d.hslots = d.planes ? h.slots : 1;
  d.slots = d.hslots * d.wslots;
  if (d.planes) {
    d.groups_of_rows = g->k[0];
    /* the last tiles (dropped lanes) read up to lenw + nr past the plane */
    d.pitch = h.len * w.len + w.len + d.nr;
    d.positions = g->in[1] * w.len;
    d.ppad = ceil_div(d.positions, d.nr) * d.nr;
    d.ldp = unaliased_stride(d.ppad, g->esize);
    d.rowbuf = false;
    d.ldr = 0;
  } else {
    d.pitch = w.len + d.nr; /* a row's last tile runs up to nr - 1 past it */
    d.positions = d.ppad = d.ldp = 0;
    d.ldw = ceil_div(d.W, d.nr) * d.nr;
    const int64_t es = (int64_t)g->esize, planes = g->n * g->groups * g->in[0];
    const int64_t min_tasks = cfg->vec_m > 1 ? BWD_DATA_ROW_TASKS_WIDE : BWD_DATA_ROW_TASKS;
    d.rowbuf = g->cin_g * unaliased_stride(d.ldw, g->esize) * es <= BWD_DATA_ROW_BUDGET;
    d.band = 1;
    while (d.rowbuf && d.band < g->in[1] &&
           planes * ceil_div(g->in[1], d.band + 1) >= min_tasks &&
           g->cin_g * unaliased_stride((d.band + 1) * d.ldw, g->esize) * es <=
               BWD_DATA_ROW_BUDGET)
      d.band++;
    d.prows = 1;
    if (d.band > 1) { /* bands balanced, and packs of rows within them */
      d.band = ceil_div(g->in[1], ceil_div(g->in[1], d.band));
      d.prows = ceil_div(d.band, ceil_div(d.band, BWD_DATA_PACK_ROWS));
    }
    d.ldr = unaliased_stride(d.band * d.ldw, g->esize);
    d.cl = d.rowbuf && cfg->f32_cl && g->dtype == CONVT3D_F32;
    d.ldq = ceil_div(g->cin_g, 16) * 16;
    d.taps_k = g->cout_g <= BWD_DATA_TAPS_K_MAX_CHANNELS &&
               g->k[0] * g->k[1] * g->k[2] * g->cout_g * d.ldw * es <= BWD_DATA_TAPS_K_BUDGET;
    /* at most the rows a pack's taps name, the span they lie in, and grad_output's */
    const int64_t span = (d.prows - 1) * g->stride[1] + (g->k[1] - 1) * g->dil[1] + 1;
    d.hrows = min64(min64(g->out[1], d.prows * g->k[1]), span);
    d.groups_of_rows = g->k[0] * d.hrows;
  }
  d.ldb = unaliased_stride(d.slots * d.pitch, g->esize);
  const int64_t es = (int64_t)g->esize, taps = g->k[0] * g->k[1] * g->k[2];
  const int64_t kc_pack = (d.prows > 1 ? BWD_DATA_PACK_ROWS_BUDGET : BWD_DATA_PACK_BUDGET) /
                          (d.groups_of_rows * d.ldb * es);
  const int64_t kc_panel =
      d.prows > 1 ? BWD_DATA_PANEL_BUDGET / (taps * d.mr_max * es) : INT64_MAX;
  /* Rows read in place need no pack, so the pack's budget does not chunk their channels
   * (a pointwise layer with 16 channels on rows of 4096 took chunks of 15 and 1, so it
   * was packed, and grad_input was set, then read and written by both chunks: 64 -> 16
   * channels at 64^3, 0.81x / 0.83x the time at 1 / 2 threads, alternated in one
   * process); only the B panel a call reads, all the channels' runs of a tile, stays
   * within BWD_DATA_PACK_BUDGET. */
  d.inplace = !d.planes && !d.gemm && g->stride[2] == 1 && g->pad[2] == 0 &&
              d.W % d.nr == 0 && g->cout_g * d.nr * es <= BWD_DATA_PACK_BUDGET;
  d.kc = d.taps_k || d.inplace ? g->cout_g /* taps_k: the panels of consecutive taps are
                                              then contiguous */
                               : min64(g->cout_g, max64(1, min64(kc_pack, kc_panel)));
  d.tile_out = d.kc == g->cout_g &&
               (d.planes ? g->cin_g * d.ldp * es > BWD_DATA_PLANE_TILE_OUT_BYTES : !d.rowbuf);
  d.stream = !d.planes && (d.tile_out || (d.rowbuf && !d.cl)) && cfg->f32_stream &&
             g->dtype == CONVT3D_F32 &&
             g->n * g->cin * g->in[0] * g->in[1] * g->in[2] * es > CVT_STREAM_BYTES;
  d.pack_elems = d.inplace ? 0 : d.groups_of_rows * d.kc * d.ldb;
  return d;
}

/* Cycles, roughly, of one grad_input plane of a group per tile: every k step of a call
 * costs its vector FMAs plus half its loads (A and B vectors or broadcasts); every call
 * also loads and stores its C tile once, which for the channels-in-lanes tiles is a
 * scalar add per element, each a plane apart (STORE_SCATTER cycles, measured: with the
 * few taps of kernel = stride = 2 it doubles the time; with the 32-64 taps of kernel 4 it
 * vanishes), or into a channels-last row buffer a vector load and store per vector. A
 * call covers kc channels of the live taps of a row (about k/s per axis). */
#define STORE_SCATTER 8.0
static double tile_cost(const cvt_geometry *g, const cvt_brgemm_config *c) {
  const double H = (double)g->in[1], mr_max = (double)c->mr_max, nr = (double)c->nr;
  const double blocks = (double)ceil_div(g->cin_g, (int64_t)c->mr_max);
  const double ksteps = taps_per_call(g) * (double)g->cout_g; /* per call, all chunks */
  double tiles, per_k, per_call;
  if (c->vec_m > 1) { /* channels in lanes, along rows */
    const double vecs = mr_max / (double)c->vec_m;
    tiles = H * (double)ceil_div(g->in[2], (int64_t)c->nr);
    per_k = vecs * nr + 0.5 * (vecs + nr);
    per_call = dims_of(g, c).cl ? 2 * vecs * nr : STORE_SCATTER * mr_max * nr;
  } else { /* positions in lanes: flattened across rows when cut by planes */
    const double vecs = nr / (double)c->vec_n;
    if (use_planes(g, c)) {
      bwd_axis w = {0};
      axis_of(g, 2, &w);
      tiles = (double)ceil_div(g->in[1] * w.len, (int64_t)c->nr);
    } else {
      tiles = H * (double)ceil_div(g->in[2], (int64_t)c->nr);
    }
    per_k = vecs * mr_max + 0.5 * (vecs + mr_max);
    per_call = 2 * vecs * mr_max;
  }
  return blocks * tiles * (ksteps * per_k + per_call);
}

/* The average live taps per row and call: about k/s per axis. */
static double taps_per_call(const cvt_geometry *g) {
  double taps = 1;
  for (int ax = 0; ax < 3; ax++) {
    const double per_phase = (double)g->k[ax] / (double)g->stride[ax];
    taps *= per_phase > 1 ? per_phase : 1;
  }
  return taps;
}

/* Which tiles may compete, from measurements of the bench suite (convt3d bench --pass
 * bwd_d with CONVT3D_KERNEL): short rows go by planes when use_planes allows (nnU-Net up2,
 * benchdnn fwks 14x14x10, unet3d deconv8: 1.1-1.8x faster than the channels-in-lanes
 * tiles along rows); other short rows may take any tile (3D-GAN l1/l2, SwinUNETR
 * decoder5: the channels-in-lanes tiles win by 1.3-3x); rows of 16 or more take the
 * channels-in-lanes tiles only where a call has 8 or more taps to amortise their
 * scattered stores over (kernel 4 stride 2: 1.2-1.6x faster there; 2-3x slower with the
 * 1-3 taps of kernel 2 or 3 at stride 2). The cost model ranks what remains. */
const cvt_brgemm_config *cvt_bwd_data_pick_kernel(const cvt_geometry *g,
                                                  const cvt_brgemm_config *tiles,
                                                  size_t count) {
  for (size_t i = 0; i < count; i++) /* kernel 1, few channels: in place (pointwise.c) */
    if (cvt_pointwise_bwd_data_applies(g, &tiles[i])) return &tiles[i];
  /* the gemm cut: the tile with the fewest cycles per k step over all channels and
   * positions, the wider on a tie. A k step of an mr x nv-vector tile issues mr*nv FMAs
   * and nv + mr loads (B vectors, A broadcasts), two of each per cycle: the one-vector
   * tiles are bound by their loads (benchdnn unet3d deconv8, 648 positions: 6x16 51.5 ms,
   * 6x48 41.5; nnU-Net lung 3.0 against 2.3); a channels-in-lanes tile's k step, mv
   * vectors of channels by nr positions, issues mv*nr FMAs and mv + nr loads. */
  const int64_t positions = g->n * g->in[0] * g->in[1] * g->in[2];
  const cvt_brgemm_config *gemm = NULL;
  int64_t gemm_cost = 0;
  for (size_t i = 0; i < count; i++) {
    if (!use_gemm(g, &tiles[i])) continue;
    const int64_t mr = (int64_t)tiles[i].mr_max, nr = (int64_t)tiles[i].nr;
    const int64_t rows = mr / (int64_t)tiles[i].vec_m, cols = nr / (int64_t)tiles[i].vec_n;
    const int64_t cost = ceil_div(g->cin_g, mr) * ceil_div(positions, nr) *
                         max64(rows * cols, rows + cols);
    if (!gemm || cost <= gemm_cost) gemm = &tiles[i], gemm_cost = cost;
  }
  if (gemm) return gemm;
  bool planes = false;
  for (size_t i = 0; i < count; i++) planes |= use_planes(g, &tiles[i]);
  const bool channel_tiles = !planes && (g->in[2] < 16 || taps_per_call(g) >= 8);
  const cvt_brgemm_config *best = NULL;
  double best_cost = 0;
  for (size_t i = 0; i < count; i++) {
    if (planes && !use_planes(g, &tiles[i])) continue;
    if (!planes && tiles[i].vec_m > 1 && !channel_tiles) continue;
    const double c = tile_cost(g, &tiles[i]);
    if (!best || c < best_cost) best = &tiles[i], best_cost = c;
  }
  return best ? best : &tiles[0];
}

/* Packed weights: per group and block of mr_max channels ci (mr in the last), per tap, the
 * [co][mr] panel (the micro-kernel's A: row k = grad_output channel co). */
static int64_t block_offset(const cvt_geometry *g, int64_t mr_max, int64_t grp, int64_t b) {
  const int64_t taps = g->k[0] * g->k[1] * g->k[2];
  return (grp * g->cin_g + b * mr_max) * taps * g->cout_g;
}

size_t cvt_bwd_data_packed_weight_bytes(const cvt_geometry *g, const cvt_brgemm_config *cfg) {
  /* the kernels may read a vector past a panel's last row */
  return ((size_t)g->weight_numel + cfg->mr_max) * g->esize;
}

/* NOLINTBEGIN(bugprone-macro-parentheses): T is a type */
#define PACK_BLOCK(T)                                                                     \
  for (int64_t tap = 0; tap < taps; tap++) {                                            \
    T *dst = (T *)packed + off + tap * g->cout_g * mr;                                   \
    for (int64_t co = 0; co < g->cout_g; co++)                                           \
      for (int64_t m = 0; m < mr; m++)                                                   \
        *dst++ = ((const T *)weight)[((grp * g->cin_g + ci0 + m) * g->cout_g + co) * taps + \
                                     tap];                                               \
  }
/* NOLINTEND(bugprone-macro-parentheses) */

void cvt_bwd_data_pack_weights(const cvt_geometry *g, const cvt_brgemm_config *cfg,
                               const void *weight, void *packed, int num_threads) {
  const int64_t taps = g->k[0] * g->k[1] * g->k[2], mr_max = (int64_t)cfg->mr_max;
  const int64_t blocks = ceil_div(g->cin_g, mr_max);
  memset((char *)packed + (size_t)g->weight_numel * g->esize, 0, cfg->mr_max * g->esize);
  if (cvt_pointwise_bwd_data_applies(g, cfg)) {
    cvt_pointwise_bwd_data_pack_weights(g, weight, packed);
    return;
  }
  (void)num_threads; /* unused without OpenMP */
#pragma omp parallel for schedule(static) num_threads(num_threads) if (num_threads > 1)
  for (int64_t gb = 0; gb < g->groups * blocks; gb++) {
    const int64_t grp = gb / blocks, b = gb % blocks, ci0 = b * mr_max;
    const int64_t mr = min64(g->cin_g - ci0, mr_max);
    const int64_t off = block_offset(g, mr_max, grp, b);
    if (g->dtype == CONVT3D_F32) {
      PACK_BLOCK(float)
    } else {
      PACK_BLOCK(double)
    }
  }
}
#undef PACK_BLOCK

/* Per-thread workspace: the pack, the tap tables of both axes, the batch's pointers, the
 * copy of a row's last tile (rows) or the group's plane (planes). */
typedef struct bwd_data_ws {
  void *pack;                          /* pack_elems elements */
  int64_t *hslot, *hshift, *hphase;    /* the height taps (bwd_axis) */
  int64_t *wslot, *wshift, *wphase;    /* the width taps */
  int64_t *pair_row, *pair_tap;        /* rows: per live (kd, kh) of a row, where its row
                                          lies in the pack (or grad_output) and its tap */
  int64_t *kd_row, *kd_tap;            /* per live kd of a band (rows) or a plane (planes),
                                          its grad_output offset and tap */
  int64_t *hrow;                       /* rows: the grad_output rows oh a pack's rows read,
                                          ascending */
  int64_t *hidx;                       /* rows: per (row of the pack, kh), its index in hrow,
                                          or -1 outside grad_output */
  const void **a_ptrs, **b_ptrs;       /* taps entries each */
  void *tile;                          /* planes: cin_g * ldp; rows: cin_g * ldr with a row
                                          buffer, else mr_max * nr (a last tile's copy) */
  void *taps;                          /* taps_k: taps * cout_g rows of ldw */
  void *stage;                         /* cl: 16 channels' runs of band * W, transposed
                                          back from the tile, then copied out */
} bwd_data_ws;

static size_t ws_layout(const cvt_geometry *g, const cvt_brgemm_config *cfg, char *base,
                        bwd_data_ws *ws) {
  const bwd_data_dims d = dims_of(g, cfg);
  const int64_t taps = g->k[0] * g->k[1] * g->k[2], kh = g->k[1], kw = g->k[2];
  const size_t es = g->esize, i8 = sizeof(int64_t);
  size_t at = 0;
#define TAKE(field, bytes)                                                               \
  do {                                                                                   \
    if (ws) ws->field = (void *)(base + at);                                             \
    at += align64(bytes);                                                                \
  } while (0)
  TAKE(pack, (size_t)d.pack_elems * es);
  TAKE(hslot, (size_t)kh * i8);
  TAKE(hshift, (size_t)kh * i8);
  TAKE(hphase, (size_t)kh * i8);
  TAKE(wslot, (size_t)kw * i8);
  TAKE(wshift, (size_t)kw * i8);
  TAKE(wphase, (size_t)kw * i8);
  TAKE(pair_row, (size_t)(g->k[0] * kh) * i8);
  TAKE(pair_tap, (size_t)(g->k[0] * kh) * i8);
  TAKE(kd_row, (size_t)g->k[0] * i8);
  TAKE(kd_tap, (size_t)g->k[0] * i8);
  TAKE(hrow, (size_t)d.hrows * i8);
  TAKE(hidx, (size_t)(d.prows * kh) * i8);
  TAKE(a_ptrs, (size_t)taps * sizeof(void *));
  TAKE(b_ptrs, (size_t)taps * sizeof(void *));
  TAKE(tile, (size_t)(d.tile_out ? d.mr_max * d.nr
                      : d.planes   ? g->cin_g * d.ldp
                      : d.cl       ? d.band * d.ldw * d.ldq
                      : d.rowbuf   ? g->cin_g * d.ldr
                                   : d.mr_max * d.nr) *
                 es);
  TAKE(taps, d.taps_k ? (size_t)(taps * g->cout_g * d.ldw) * es : 0);
  TAKE(stage, d.cl ? (size_t)(16 * d.band * g->in[2]) * es : 0);
#undef TAKE
  return at;
}

/* The gemm cut's workspace, shared: Y, the [ci][position] sums (whole tiles: the calls
 * write them in place), and per thread the batch's pointers. */
typedef struct bwd_data_gemm_ws {
  void *y;             /* groups * taps * cout_g * ldy elements */
  void *sums;          /* cin * ldy elements */
  size_t thread_bytes; /* per thread, from `threads` on */
  char *threads;       /* a_ptrs, b_ptrs: chunk entries each */
} bwd_data_gemm_ws;

static size_t gemm_ws_layout(const cvt_geometry *g, const cvt_brgemm_config *cfg,
                             int num_threads, char *base, bwd_data_gemm_ws *ws) {
  const bwd_data_dims d = dims_of(g, cfg);
  const int64_t taps = g->k[0] * g->k[1] * g->k[2];
  const size_t y = align64((size_t)(g->groups * taps * g->cout_g * d.ldy) * g->esize);
  const size_t sums = align64((size_t)(g->cin * d.ldy) * g->esize);
  /* 128 bytes between threads' slices: no line (or prefetched pair) written by two */
  const size_t per = (2 * (size_t)d.chunk * sizeof(void *) + 127) & ~(size_t)127;
  if (ws) {
    ws->y = base, ws->sums = base + y, ws->thread_bytes = per;
    ws->threads = base + align64(y + sums + 64);
  }
  return align64(y + sums + 64) + per * (size_t)num_threads;
}

size_t cvt_bwd_data_workspace_bytes(const cvt_geometry *g, const cvt_brgemm_config *cfg,
                                    int num_threads, bool *shared) {
  *shared = false;
  if (cvt_pointwise_bwd_data_applies(g, cfg)) return 0;
  *shared = use_gemm(g, cfg);
  return *shared ? gemm_ws_layout(g, cfg, num_threads, NULL, NULL) : ws_layout(g, cfg, NULL, NULL);
}

/* Rows of n elements, src lds apart, out to grad_input ldd apart: streamed where d says
 * (float32 on AVX-512 only), else copied. */
static void copy_rows_f32(const cvt_exec *e, const bwd_data_dims *d, const float *src,
                          int64_t lds, int64_t rows, int64_t n, float *dst, int64_t ldd) {
  if (d->stream) {
    e->brgemm->f32_stream(src, lds, rows, n, dst, ldd);
    return;
  }
  for (int64_t i = 0; i < rows; i++) memcpy(dst + i * ldd, src + i * lds, (size_t)n * sizeof *dst);
}
static void copy_rows_f64(const cvt_exec *e, const bwd_data_dims *d, const double *src,
                          int64_t lds, int64_t rows, int64_t n, double *dst, int64_t ldd) {
  (void)e, (void)d;
  for (int64_t i = 0; i < rows; i++) memcpy(dst + i * ldd, src + i * lds, (size_t)n * sizeof *dst);
}

#define CVT_T float
#define CVT_FN bwd_data_f32
#define CVT_ROWS bwd_data_rows_f32
#define CVT_ROW bwd_data_row_f32
#define CVT_PLANES bwd_data_planes_f32
#define CVT_PHASE_ROW_FN cvt_f32_phase_row_fn
#define CVT_GEMM bwd_data_gemm_f32
#define CVT_BRGEMM f32
#define CVT_BRGEMM_FN cvt_f32_brgemm_fn
#define CVT_CL_FN(cfg) ((cfg)->f32_cl)
#define CVT_CL_ROWS(e, ...) ((e)->brgemm->f32_cl_rows(__VA_ARGS__))
#define CVT_COPY_ROWS copy_rows_f32
#define CVT_SET_ROWS set_rows_f32
#include "backward_data_impl.h"
#undef CVT_T
#undef CVT_FN
#undef CVT_ROWS
#undef CVT_ROW
#undef CVT_PLANES
#undef CVT_PHASE_ROW_FN
#undef CVT_GEMM
#undef CVT_BRGEMM
#undef CVT_BRGEMM_FN
#undef CVT_CL_FN
#undef CVT_CL_ROWS
#undef CVT_COPY_ROWS
#undef CVT_SET_ROWS

#define CVT_T double
#define CVT_FN bwd_data_f64
#define CVT_ROWS bwd_data_rows_f64
#define CVT_ROW bwd_data_row_f64
#define CVT_PLANES bwd_data_planes_f64
#define CVT_PHASE_ROW_FN cvt_f64_phase_row_fn
#define CVT_GEMM bwd_data_gemm_f64
#define CVT_BRGEMM f64
#define CVT_BRGEMM_FN cvt_f64_brgemm_fn
#define CVT_CL_FN(cfg) ((cvt_f64_brgemm_fn)NULL) /* float32 only */
#define CVT_CL_ROWS(e, ...) ((void)(e))              /* float32 only: d->cl never set */
#define CVT_COPY_ROWS copy_rows_f64
#define CVT_SET_ROWS set_rows_f64
#include "backward_data_impl.h"
#undef CVT_T
#undef CVT_FN
#undef CVT_ROWS
#undef CVT_ROW
#undef CVT_PLANES
#undef CVT_PHASE_ROW_FN
#undef CVT_GEMM
#undef CVT_BRGEMM
#undef CVT_BRGEMM_FN
#undef CVT_CL_FN
#undef CVT_CL_ROWS
#undef CVT_COPY_ROWS
#undef CVT_SET_ROWS

void cvt_bwd_data_run(const cvt_exec *e, const void *grad_output, void *grad_input) {
  if (cvt_pointwise_bwd_data_applies(e->geo, e->brgemm))
    cvt_pointwise_bwd_data(e, grad_output, grad_input);
  else if (e->geo->dtype == CONVT3D_F32)
    bwd_data_f32(e, grad_output, grad_input);
  else
    bwd_data_f64(e, grad_output, grad_input);
}
