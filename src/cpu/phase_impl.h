/* Body of the phase algorithm for one element type. phase.c includes this file once per
 * dtype with CVT_T (element type), CVT_FN (the driver's name) and CVT_BRGEMM (the member
 * of the config's kernel union) defined.
 *
 * Work unit: one output row y[n, group g, all Cout_g channels, od, oh, :]. Rows are split
 * statically across threads; a row is written by exactly one thread, and how a row is
 * computed does not depend on the thread count, so results are bit-identical for any
 * number of threads.
 *
 * Within a row (od, oh):
 *   - depth and height are gathered: only the taps (kd, kh) whose input plane/row
 *     (id, ih) exists are visited (the "pairs");
 *   - width is split by phase: the outputs ow = j*sW + cW of phase cW receive exactly the
 *     taps kw with kw*dW = cW + pW (mod sW), from input iw = j + e(kw);
 *   - the input rows of the pairs are packed once per strip of NR positions j, zero-filled
 *     outside the input, so each (pair, kw) is just an offset into the packed rows, and
 *     one brgemm call per (channel block, phase) reduces over every (pair, kw, ci).
 * No multiplication by a stride-inserted zero or a cropped tap is ever issued; the only
 * waste is the zero-filled lanes at the edges of a row. */

static void CVT_PACK_ROWS(const CVT_T *x, const phase_row *r, const phase_dims *d,
                          int64_t ci0, int64_t kc, int64_t lo, CVT_T *bp) {
  /* Packed row for (pair p, channel ci) holds input positions lo .. lo + wp - 1. */
  const int64_t a = lo < 0 ? -lo : 0;                   /* first in-range column */
  const int64_t b = d->w - lo < d->wp ? d->w - lo : d->wp; /* one past the last */
  for (int64_t p = 0; p < r->npairs; p++)
    for (int64_t ci = 0; ci < kc; ci++) {
      const CVT_T *src = x + r->x_row[p] + (ci0 + ci) * d->x_channel;
      CVT_T *dst = bp + (p * kc + ci) * d->ldb;
      if (b <= a) {
        memset(dst, 0, (size_t)d->wp * sizeof *dst);
        continue;
      }
      if (a > 0) memset(dst, 0, (size_t)a * sizeof *dst);
      memcpy(dst + a, src + lo + a, (size_t)(b - a) * sizeof *dst);
      if (b < d->wp) memset(dst + b, 0, (size_t)(d->wp - b) * sizeof *dst);
    }
}

/* Accumulates the tile of phase cw, channels [co0, co0 + mr), positions j0 .. j0+nr-1
 * into cbuf (mr rows of nr), starting from the bias. Phases with no position in the
 * strip, or no tap, are left at the bias: the scatter writes only existing positions. */
static void CVT_TILE(const cvt_exec *e, const CVT_T *x, const phase_row *r,
                     const phase_dims *d, const CVT_T *w_block, const CVT_T *bias,
                     int64_t co0, int64_t mr, int64_t j0, int64_t cw, int64_t lo, CVT_T *bp,
                     CVT_T *cbuf, const CVT_T **a_ptrs, const CVT_T **b_ptrs) {
  const cvt_geometry *g = e->geo;
  for (int64_t m = 0; m < mr; m++) {
    const CVT_T v = bias ? bias[r->group * g->cout_g + co0 + m] : (CVT_T)0;
    for (int64_t jj = 0; jj < d->nr; jj++) cbuf[m * d->nr + jj] = v;
  }
  if (phase_positions(g, d, j0, cw) <= 0) return;
  phase_tap taps_w[PHASE_MAX_TAPS];
  const int64_t ntw = phase_taps(cw, g->k[2], g->stride[2], g->pad[2], g->dil[2], taps_w);
  for (int64_t ci0 = 0; ci0 < g->cin_g && ntw > 0; ci0 += d->kc) {
    const int64_t kc = g->cin_g - ci0 < d->kc ? g->cin_g - ci0 : d->kc;
    if (d->kc < g->cin_g) CVT_PACK_ROWS(x, r, d, ci0, kc, lo, bp);
    size_t batch = 0;
    for (int64_t p = 0; p < r->npairs; p++)
      for (int64_t t = 0; t < ntw; t++) {
        const int64_t tap = r->tap_dh[p] + taps_w[t].k;
        a_ptrs[batch] = w_block + (tap * g->cin_g + ci0) * mr;
        b_ptrs[batch] = bp + p * kc * d->ldb + (taps_w[t].e - d->emin);
        batch++;
      }
    e->brgemm->fn.CVT_BRGEMM((size_t)mr, batch, (size_t)kc, a_ptrs, b_ptrs, (size_t)d->ldb,
                             cbuf, (size_t)d->nr);
  }
}

/* Writes the tiles of all sW phases (cbuf[phase][m][jj]) to the output positions
 * j0*sW .. (j0 + nr)*sW - 1 of each channel row, in order. */
static void CVT_SCATTER_ALL(const cvt_geometry *g, const phase_dims *d, CVT_T *y_row,
                            int64_t co0, int64_t mr, int64_t j0, const CVT_T *cbuf) {
  const int64_t sw = g->stride[2], first = j0 * sw;
  const int64_t n_out = g->out[2] - first < d->nr * sw ? g->out[2] - first : d->nr * sw;
  const int64_t tile = d->mr * d->nr; /* distance between phases in cbuf */
  for (int64_t m = 0; m < mr; m++) {
    CVT_T *dst = y_row + (co0 + m) * d->y_channel + first;
    const CVT_T *src = cbuf + m * d->nr;
    int64_t o = 0;
    if (sw == 2) /* the common case, written so the compiler vectorises the interleave */
      for (int64_t jj = 0; jj < n_out / 2; jj++, o += 2) {
        dst[o] = src[jj];
        dst[o + 1] = src[tile + jj];
      }
    for (; o < n_out; o++) dst[o] = src[(o % sw) * tile + o / sw];
  }
}

static void CVT_FN(const cvt_exec *e, const CVT_T *x, CVT_T *y) {
  const cvt_geometry *g = e->geo;
  const cvt_brgemm_config *cfg = e->brgemm;
  const phase_dims d = phase_dims_of(g, cfg);
  const int64_t rows = g->n * g->groups * g->out[0] * g->out[1];
  const CVT_T *w_packed = e->weight, *bias = e->bias;

#pragma omp parallel num_threads(e->num_threads)
  {
    int tid = 0;
#ifdef _OPENMP
    tid = omp_get_thread_num();
#endif
    phase_workspace ws = phase_workspace_of(&d, (char *)e->workspace +
                                                    (size_t)tid * e->workspace_per_thread);
    CVT_T *bp = ws.bpack, *cbuf = ws.cbuf;
    const CVT_T **a_ptrs = (const CVT_T **)ws.a_ptrs, **b_ptrs = (const CVT_T **)ws.b_ptrs;
    phase_row r;
    r.x_row = ws.x_row;
    r.tap_dh = ws.tap_dh;

#pragma omp for schedule(static)
    for (int64_t row = 0; row < rows; row++) {
      phase_row_setup(g, &d, row, &r);
      CVT_T *y_row = y + r.y_row; /* channel co of the group at y_row + co * y_channel */

      if (r.npairs == 0) { /* no tap reaches this row: bias (or 0) everywhere */
        for (int64_t co = 0; co < g->cout_g; co++) {
          const CVT_T v = bias ? bias[r.group * g->cout_g + co] : (CVT_T)0;
          CVT_T *dst = y_row + co * d.y_channel;
          for (int64_t ow = 0; ow < g->out[2]; ow++) dst[ow] = v;
        }
        continue;
      }

      for (int64_t j0 = 0; j0 < d.jmax; j0 += d.nr) {
        const int64_t lo = j0 + d.emin; /* input position of packed column 0 */
        if (d.kc == g->cin_g) CVT_PACK_ROWS(x, &r, &d, 0, d.kc, lo, bp);
        for (int64_t co0 = 0; co0 < g->cout_g; co0 += d.mr) {
          const int64_t mr = g->cout_g - co0 < d.mr ? g->cout_g - co0 : d.mr;
          const CVT_T *w_block = w_packed + phase_weight_block_offset(g, &d, r.group, co0);
          for (int64_t cw0 = 0; cw0 < d.phases_w; cw0 += d.pgroup) {
            for (int64_t i = 0; i < d.pgroup; i++)
              CVT_TILE(e, x, &r, &d, w_block, bias, co0, mr, j0, cw0 + i, lo, bp,
                       cbuf + i * d.mr * d.nr, a_ptrs, b_ptrs);
            if (d.pgroup > 1) {
              CVT_SCATTER_ALL(g, &d, y_row, co0, mr, j0, cbuf);
              continue;
            }
            /* One phase: its positions ow = (j0 + jj)*sW + cw0 are sW apart. */
            const int64_t nj = phase_positions(g, &d, j0, cw0);
            for (int64_t m = 0; m < mr && nj > 0; m++) {
              CVT_T *dst = y_row + (co0 + m) * d.y_channel + j0 * g->stride[2] + cw0;
              const CVT_T *src = cbuf + m * d.nr;
              if (g->stride[2] == 1)
                memcpy(dst, src, (size_t)nj * sizeof *dst);
              else
                for (int64_t jj = 0; jj < nj; jj++) dst[jj * g->stride[2]] = src[jj];
            }
          }
        }
      }
    }
  }
}
