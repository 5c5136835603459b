/* Body of the phase algorithm for one element type. phase.c includes this file once per
 * dtype with CVT_T (element type), CVT_FN, CVT_PACK and CVT_SCATTER (this dtype's
 * function names) and CVT_BRGEMM (the member of the config's kernel union) defined.
 *
 * Tasks (group, channel chunk, slice band, height band) are split statically across
 * threads; a task's outputs are written by that task only, and how each output is summed
 * (the input-channel blocks and the order of the taps) depends on the problem and the
 * micro-kernel, never on the thread count: results are bit-identical for any number of
 * threads. */

/* Packs input channels [ci0, ci0 + kc) of the task's input planes, zero-padded: packed
 * plane q, row r, column c holds x[plane q, ih = jh0 + h.emin + r, iw = w.emin + c]. */
static void CVT_PACK(const CVT_T *x, const phase_task *t, const phase_dims *d, int64_t ci0,
                     int64_t kc, CVT_T *planes) {
  const int64_t ih0 = t->jh0 + d->h.emin, iw0 = d->w.emin;
  const int64_t a = iw0 < 0 ? -iw0 : 0;          /* first column inside the input */
  const int64_t b = min64(d->in_w - iw0, d->wp); /* one past the last */
  const int64_t plane = d->plane;
  const int64_t line = 64 / (int64_t)sizeof(CVT_T);
  for (int64_t q = 0; q < t->nplanes; q++)
    for (int64_t ci = 0; ci < kc; ci++) {
      const CVT_T *src = x + t->x_plane[q] + (ci0 + ci) * d->x_channel;
      /* The next channel's rows (a volume on), prefetched row by row while this one's
       * are copied: the hardware prefetchers would start on them only after the jump. */
      const CVT_T *next = ci + 1 < kc           ? src + d->x_channel
                          : q + 1 < t->nplanes ? x + t->x_plane[q + 1] + ci0 * d->x_channel
                                               : NULL;
      CVT_T *dst = planes + (q * kc + ci) * plane;
      for (int64_t r = 0; r < d->prow; r++, dst += d->wp) {
        const int64_t ih = ih0 + r;
        if (ih < 0 || ih >= d->in_h || b <= a) {
          memset(dst, 0, (size_t)d->wp * sizeof *dst);
          continue;
        }
        if (a > 0) memset(dst, 0, (size_t)a * sizeof *dst);
        const int64_t at = ih * d->in_w + iw0 + a;
        memcpy(dst + a, src + at, (size_t)(b - a) * sizeof *dst);
        if (b < d->wp) memset(dst + b, 0, (size_t)(d->wp - b) * sizeof *dst);
        for (int64_t i = 0; next && i < b - a; i += line) __builtin_prefetch(next + at + i, 0, 2);
      }
      /* the gap to the next plane, which tiles that run past this one read */
      memset(dst, 0, (size_t)(plane - d->prow * d->wp) * sizeof *dst);
    }
  /* The last tiles of the last plane run up to PHASE_SLACK positions past it: keep those
   * (dropped) lanes reading defined values. */
  memset(planes + t->nplanes * kc * plane, 0, PHASE_SLACK * sizeof *planes);
}

/* Writes one slice's accumulated tiles, channels cc0 .. cc0 + ccn - 1 of the task, to
 * its rows. cbuf holds, per channel, height phase and width phase, the band's positions
 * r*wp + jw; output (oh, ow) = (jh*sH + ch, jw*sW + cw). */
static void CVT_SCATTER(const cvt_exec *e, const phase_dims *d, const phase_task *t,
                        const CVT_T *cbuf, int64_t cc0, int64_t ccn, CVT_T *y_slice) {
  const cvt_geometry *g = e->geo;
  const int64_t sh = g->stride[1], sw = g->stride[2], oh_n = g->out[1], ow_n = g->out[2];
  const int64_t hp = d->h.phases, wph = d->w.phases;
  for (int64_t co = 0; co < ccn; co++)
    for (int64_t ch = 0; ch < hp; ch++) {
#if CVT_ROWS
      if (d->stream) { /* width stride 1 (phase.c): the band's rows in one streamed copy */
        if (t->jh0 > (oh_n - 1 - ch) / sh) continue; /* no row of this phase */
        const int64_t rows = min64(d->bh, (oh_n - 1 - ch) / sh - t->jh0 + 1);
        CVT_T *dst = y_slice + (cc0 + co) * d->y_channel + (t->jh0 * sh + ch) * ow_n;
        e->brgemm->f32_stream(cbuf + co * d->cstride + ch * wph * d->ldc, d->cpitch, rows,
                              ow_n, dst, sh * ow_n);
        continue;
      }
#endif
      for (int64_t r = 0; r < d->bh; r++) {
        if (t->jh0 + r > (oh_n - 1 - ch) / sh) break; /* oh past the plane (no overflow) */
        const int64_t oh = (t->jh0 + r) * sh + ch;
        CVT_T *dst = y_slice + (cc0 + co) * d->y_channel + oh * ow_n;
        const CVT_T *src = cbuf + co * d->cstride + ch * wph * d->ldc + r * d->cpitch;
        if (sw == 1) {
          memcpy(dst, src, (size_t)ow_n * sizeof *dst);
        } else if (sw == 2 && wph == 2) { /* interleave the two phases; vectorises */
          const CVT_T *src1 = src + d->ldc;
          for (int64_t jw = 0; jw < ow_n / 2; jw++) {
            dst[2 * jw] = src[jw];
            dst[2 * jw + 1] = src1[jw];
          }
          if (ow_n % 2) dst[ow_n - 1] = src[ow_n / 2];
        } else {
          for (int64_t cw = 0; cw < wph; cw++) /* wph <= ow_n: cw < ow_n */
            for (int64_t jw = 0; jw <= (ow_n - 1 - cw) / sw; jw++) /* no ow past ow_n */
              dst[cw + jw * sw] = src[cw * d->ldc + jw];
        }
      }
    }
}

#if CVT_ROWS
/* Where a fused tile's outputs go, as offsets from its run's first output row: vector v's
 * part h (ukernel.h's cvt_w2_out). */
typedef struct w2_tile {
  int64_t at[4][2];
  uint16_t mask[4][2];
} w2_tile;

/* The tile of n <= 32 positions that starts at row r, column c of a run of packed rows
 * of w >= 8 positions (no padding: phase.c's fused_w2), row r, column j going to output
 * offset r*row_stride + 2*j (its odd phase one further). A vector's 8 positions lie in
 * one row or end one and start the next; positions past n are not stored. */
static void w2_targets(int64_t row_stride, int64_t w, int64_t r, int64_t c, int64_t n,
                       w2_tile *t) {
  for (int64_t v = 0; v < 4; v++, c += 8) {
    if (c >= w) c -= w, r++; /* c < w + 8 <= 2w */
    const int64_t count = min64(n - 8 * v, 8);
    for (int64_t h = 0; h < 2; h++) {
      const int64_t cs = c - h * w; /* the column of lane 0 in row r + h */
      const int64_t lo = max64(cs, 0), hi = min64(cs + count, w);
      t->at[v][h] = 0, t->mask[v][h] = 0;
      if (hi <= lo) continue; /* also count <= 0 */
      t->at[v][h] = (r + h) * row_stride + 2 * lo;
      t->mask[v][h] = (uint16_t)((1u << (2 * (hi - cs))) - (1u << (2 * (lo - cs))));
    }
  }
}

/* The task for kernel = stride = 2 along the width (d->fused_w2): for each block of
 * channels and slice, the fused tiles compute both width phases from one B and write the
 * output directly, from the bias: no tile buffer, no scatter. The band's rows whose every
 * height tap reads an input row that exists (all of them for kernel = stride = 2) lie
 * one after another in the packed plane, so they are tiled as one sequence of positions,
 * and tiles cross rows instead of ending each row with a partial one (rows of 40: 32 + 8
 * positions per row before, 40 in whole tiles as a run). Other rows, and rows under 8
 * positions, are tiled one at a time, with the taps that exist. a_ptrs holds the even
 * phase's weights in its first half and the odd's in its second. Each output's terms
 * are summed in the same order however the rows are tiled. */
static void CVT_FUSED_W2(const cvt_exec *e, const CVT_T *x, CVT_T *y, const phase_dims *d,
                         const phase_task *t, CVT_T *planes, const CVT_T **a_ptrs,
                         const CVT_T **b_ptrs) {
  const cvt_geometry *g = e->geo;
  const cvt_brgemm_config *cfg = e->brgemm;
  const CVT_T *bias = e->bias;
  const int64_t plane = d->plane, w = d->w.jmax, ow_n = g->out[2], sh = g->stride[1];
  const int64_t half = d->max_batch; /* a_ptrs has room for 2 * max_batch: see layout */
  const int64_t nrows = min64(d->bh, d->h.jmax - t->jh0);
  /* Band rows [ra, rb): every height phase's output row exists and each of its taps
   * reads an input row; a run to tile as one when rows are 8 positions or more. */
  int64_t ra = 0, rb = nrows;
  for (int64_t ch = 0; ch < d->h.phases; ch++) {
    phase_tap th[PHASE_MAX_TAPS];
    const int64_t nth = phase_taps(ch, g->k[1], g->stride[1], g->pad[1], g->dil[1], th);
    for (int64_t a = 0; a < nth; a++) {
      ra = max64(ra, -th[a].e - t->jh0);
      rb = min64(rb, d->in_h - th[a].e - t->jh0);
    }
    rb = min64(rb, (g->out[1] - 1 - ch) / sh + 1 - t->jh0);
  }
  if (w < 8 || rb < ra) rb = ra;
  if (t->nplanes > 0) CVT_PACK(x, t, d, 0, g->cin_g, planes);
  for (int64_t co0 = 0; co0 < t->con; co0 += d->mr) {
    const int64_t mr = min64(d->mr, t->con - co0);
    const CVT_T *w_block = (const CVT_T *)e->weight +
                           phase_weight_block_offset(g, t->group, t->co0 + co0);
    const CVT_T *b_block = bias ? bias + t->group * g->cout_g + t->co0 + co0 : NULL;
    for (int64_t i = 0; i < t->slices; i++) {
      CVT_T *y_block = y + slice_y(g, t, i) + co0 * d->y_channel;
      const int64_t *q = t->pair_q + i * d->max_pairs;
      const int64_t *tap_d = t->pair_tap + i * d->max_pairs;
      /* rows r .. r1 - 1 as one run of packed positions, in tiles of 32 */
      for (int64_t r = 0, r1; r < nrows; r = r1) {
        r1 = r >= ra && r < rb ? rb : r + 1;
        const int64_t jh = t->jh0 + r, end = (r1 - r) * w;
        /* tile at p: row tr of the run, column tc */
        for (int64_t p = 0, tr = 0, tc = 0; p < end; p += 32) {
          const int64_t n = min64(32, end - p); /* the run's last tile may be partial */
          w2_tile tt;
          w2_targets(sh * ow_n, w, tr, tc, n, &tt);
          for (tc += 32; tc >= w; tc -= w) tr++;
          for (int64_t ch = 0; ch < d->h.phases; ch++) {
            if (jh > (g->out[1] - 1 - ch) / sh) break; /* oh past the plane */
            CVT_T *y_row = y_block + (jh * sh + ch) * ow_n; /* oh < out: exact */
            phase_tap th[PHASE_MAX_TAPS];
            const int64_t nth =
                phase_taps(ch, g->k[1], g->stride[1], g->pad[1], g->dil[1], th);
            size_t batch = 0;
            for (int64_t pr = 0; pr < t->npairs[i]; pr++)
              for (int64_t a = 0; a < nth; a++) {
                const int64_t ih = jh + th[a].e; /* in a run: so for every row of it */
                if (ih < 0 || ih >= d->in_h) continue;
                const int64_t tap = tap_d[pr] + th[a].k * g->k[2]; /* kw = 0; kw = 1 next */
                a_ptrs[batch] = w_block + tap * g->cin_g * mr;
                a_ptrs[half + (int64_t)batch] = w_block + (tap + 1) * g->cin_g * mr;
                /* plane position of row r, shifted for the tap, then p on */
                b_ptrs[batch] = planes + q[pr] * g->cin_g * plane +
                                (r + th[a].e - d->h.emin) * w + p;
                batch++;
              }
            cvt_w2_out out[4];
            for (int64_t v = 0; v < 4; v++)
              for (int64_t h = 0; h < 2; h++) {
                out[v].mask[h] = tt.mask[v][h];
                out[v].dst[h] = tt.mask[v][h] ? y_row + tt.at[v][h] : NULL;
              }
            cfg->f32_w2[n > 16]((size_t)mr, batch, (size_t)g->cin_g, a_ptrs, a_ptrs + half,
                                b_ptrs, (size_t)plane, b_block, out, (size_t)d->y_channel,
                                d->stream);
          }
        }
      }
    }
  }
  if (d->stream) CVT_STREAM_FENCE(); /* the streamed rows are visible when the task ends */
}
#endif

#if CVT_ROWS
/* One row-by-row tile with exact width taps (d->exact_w): its positions j0 .. j0 + nr - 1
 * of width phase cw, the batch holding width tap b's terms at [b*per_b, (b + 1)*per_b).
 * Tap b reaches the positions that exist and whose input column does, a run [lo, hi) of
 * the tile; consecutive taps with the same run are one call of the (hi - lo)-wide tile on
 * B and C shifted by lo, so no multiply-add reads the width padding or falls past the
 * row. Each C element's terms are summed run by run in ascending kw, a fixed order. */
static void CVT_EXACT_TILE(const cvt_exec *e, const phase_dims *d, const phase_tap *tw,
                           int64_t ntw, int64_t cw, int64_t j0, size_t mr, size_t kc,
                           size_t per_b, const CVT_T **a_ptrs, const CVT_T **b_ptrs,
                           CVT_T *c) {
  const cvt_geometry *g = e->geo;
  const int64_t end = min64(d->nr, (g->out[2] - 1 - cw) / g->stride[2] + 1 - j0);
  int64_t lo = 0, hi = 0;
  for (int64_t b = 0, run = 0; b <= ntw; b++) {
    /* tap b's run (none past the last tap), compared with the open run's */
    const int64_t first = b < ntw ? j0 + tw[b].e : 0; /* input column of position j0 */
    const int64_t blo = b < ntw ? max64(0, -first) : 0;
    const int64_t bhi = b < ntw ? min64(end, d->in_w - first) : 0;
    if (b > 0 && b < ntw && blo == lo && bhi == hi) continue; /* the same run goes on */
    if (b > 0 && hi > lo) {
      const size_t s = (size_t)run * per_b, n = (size_t)(b - run) * per_b;
      for (size_t k = s; k < s + n; k++) b_ptrs[k] += lo;
      e->brgemm->f32_np[hi - lo - 1](mr, n, kc, a_ptrs + s, b_ptrs + s, (size_t)d->plane,
                                     c + lo, (size_t)d->cstride);
      for (size_t k = s; k < s + n; k++) b_ptrs[k] -= lo;
    }
    run = b, lo = blo, hi = bhi;
  }
}
#endif

static void CVT_FN(const cvt_exec *e, const CVT_T *x, CVT_T *y) {
  const cvt_geometry *g = e->geo;
  const phase_dims d = phase_dims_of(g, e->brgemm, e->num_threads);
  const int64_t tasks = g->groups * d.cchunks * d.sbands * d.bands;
  const int64_t hp = d.h.phases, wph = d.w.phases;
  const int64_t plane = d.plane;
  const int64_t c_stride = d.cstride; /* between output channels in cbuf */
  const CVT_T *w_packed = e->weight, *bias = e->bias;

#pragma omp parallel num_threads(e->num_threads)
  {
    const int tid = cvt_thread_num();
    phase_workspace ws;
    workspace_layout(&d, (char *)e->workspace + (size_t)tid * e->workspace_per_thread, &ws);
    CVT_T *planes = ws.planes, *cbuf = ws.cbuf;
    const CVT_T **a_ptrs = (const CVT_T **)ws.a_ptrs, **b_ptrs = (const CVT_T **)ws.b_ptrs;
    phase_task t;
    t.x_plane = ws.x_plane;
    t.npairs = ws.npairs;
    t.pair_q = ws.pair_q;
    t.pair_tap = ws.pair_tap;
    t.qmap = ws.qmap;

#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; task++) {
      phase_task_setup(g, &d, task, &t);

#if CVT_ROWS
      if (d.fused_w2) {
        CVT_FUSED_W2(e, x, y, &d, &t, planes, a_ptrs, b_ptrs);
        continue;
      }
#endif
      const bool blocked = d.kc < g->cin_g; /* then each chunk repacks per block */
      if (!blocked && t.nplanes > 0) CVT_PACK(x, &t, &d, 0, g->cin_g, planes);
      for (int64_t cc0 = 0; cc0 < t.con; cc0 += d.cc) {
        const int64_t ccn = min64(d.cc, t.con - cc0);
        /* Every tile starts from the bias (or 0): slices and phases that no tap reaches
         * keep it. */
        for (int64_t i = 0; i < t.slices; i++)
          for (int64_t co = 0; co < ccn; co++) {
            const CVT_T v = bias ? bias[t.group * g->cout_g + t.co0 + cc0 + co] : (CVT_T)0;
            CVT_T *c = cbuf + i * d.slice_elems + co * c_stride;
            for (int64_t k = 0; k < c_stride; k++) c[k] = v;
          }
        for (int64_t ci0 = 0; ci0 < g->cin_g && t.nplanes > 0; ci0 += d.kc) {
          const int64_t kc = min64(d.kc, g->cin_g - ci0);
          if (blocked) CVT_PACK(x, &t, &d, ci0, kc, planes);
          for (int64_t co0 = 0; co0 < ccn; co0 += d.mr) {
            const int64_t mr = min64(d.mr, ccn - co0);
            const CVT_T *w_block =
                w_packed + phase_weight_block_offset(g, t.group, t.co0 + cc0 + co0);
            for (int64_t ch = 0; ch < hp; ch++) {
              phase_tap th[PHASE_MAX_TAPS];
              const int64_t nth =
                  phase_taps(ch, g->k[1], g->stride[1], g->pad[1], g->dil[1], th);
              for (int64_t cw = 0; cw < wph; cw++) {
                phase_tap tw[PHASE_MAX_TAPS];
                const int64_t ntw =
                    phase_taps(cw, g->k[2], g->stride[2], g->pad[2], g->dil[2], tw);
                for (int64_t i = 0; i < t.slices; i++) {
                  CVT_T *c = cbuf + i * d.slice_elems + co0 * c_stride +
                             (ch * wph + cw) * d.ldc;
                  /* Flattened tiles take every height tap; row-by-row tiles only those
                   * whose input row exists, row by row (rows = 1 band-wide "row"). */
                  const int64_t rows = d.tiles_per_row ? d.bh : 1;
                  for (int64_t r = 0; r < rows; r++) {
                    const int64_t jh = t.jh0 + r;
                    if (jh >= d.h.jmax) break; /* rows past the plane */
                    size_t batch = 0;
                    const int64_t *q = t.pair_q + i * d.max_pairs;
                    const int64_t *tap_d = t.pair_tap + i * d.max_pairs;
                    /* The batch in (kd, kh, kw) order; with exact width taps in (kw, kd,
                     * kh) order instead, so that each width tap's terms are a run. */
                    const int64_t outer = d.exact_w ? ntw : 1, inner = d.exact_w ? 1 : ntw;
                    for (int64_t o = 0; o < outer; o++)
                      for (int64_t p = 0; p < t.npairs[i]; p++)
                        for (int64_t a = 0; a < nth; a++) {
                          const int64_t ih = jh + th[a].e;
                          if (d.tiles_per_row && (ih < 0 || ih >= d.in_h)) continue;
                          for (int64_t b = o; b < o + inner; b++) {
                            const int64_t tap = tap_d[p] + th[a].k * g->k[2] + tw[b].k;
                            a_ptrs[batch] = w_block + (tap * g->cin_g + ci0) * mr;
                            b_ptrs[batch] = planes + q[p] * kc * plane +
                                            (th[a].e - d.h.emin) * d.wp +
                                            (tw[b].e - d.w.emin);
                            batch++;
                          }
                        }
                    if (batch == 0) continue; /* no tap reaches: bias only */
                    const int64_t first = d.tiles_per_row ? r * d.tiles_per_row : 0;
                    const int64_t last = d.tiles_per_row ? first + d.tiles_per_row : d.tiles;
                    int64_t at = 0; /* b_ptrs point at position `at` of the plane */
                    for (int64_t tile = first; tile < last; tile++) {
                      const int64_t start = tile_start(&d, tile);
                      if (t.jh0 + start / d.wp >= d.h.jmax) break; /* rows past the plane */
                      for (size_t k = 0; k < batch; k++) b_ptrs[k] += start - at;
                      at = start;
#if CVT_ROWS
                      if (d.exact_w) {
                        const int64_t j0 = tile % d.tiles_per_row * d.nr;
                        CVT_EXACT_TILE(e, &d, tw, ntw, cw, j0, (size_t)mr, (size_t)kc,
                                       batch / (size_t)ntw, a_ptrs, b_ptrs,
                                       c + tile_out(&d, tile));
                        continue;
                      }
                      if (d.rpt) {
                        e->brgemm->f32_rows((size_t)mr, batch, (size_t)kc, a_ptrs, b_ptrs,
                                            (size_t)plane, c + tile_out(&d, tile),
                                            (size_t)c_stride, (size_t)(d.w.jmax / 16),
                                            (size_t)d.wp, (size_t)d.cpitch);
                        continue;
                      }
#endif
                      e->brgemm->fn.CVT_BRGEMM((size_t)mr, batch, (size_t)kc, a_ptrs, b_ptrs,
                                               (size_t)plane, c + tile_out(&d, tile),
                                               (size_t)c_stride);
                    }
                  }
                }
              }
            }
          }
        }
        for (int64_t i = 0; i < t.slices; i++)
          CVT_SCATTER(e, &d, &t, cbuf + i * d.slice_elems, cc0, ccn, y + slice_y(g, &t, i));
      }
      if (d.stream) CVT_STREAM_FENCE(); /* the streamed rows are visible when the task ends */
    }
  }
}
