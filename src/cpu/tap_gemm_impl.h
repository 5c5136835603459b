/* Body of the tap-GEMM algorithm for one element type. tap_gemm.c includes this file once
 * per dtype with CVT_T (element type), CVT_FN (the driver's name) and CVT_BRGEMM (the
 * member of the config's kernel union) defined. */

/* S for one band: rows [r0, r0 + rows) of the input plane, positions P = (ih - r0)*W + iw,
 * summed over the slice's depth taps (the brgemm batch) and the input channels. Full tiles
 * read the input where it lies; the last, partial one reads a zero-padded copy. */
static void CVT_CAT(CVT_FN, _s)(const cvt_exec *e, const tg_dims *d, const tg_workspace *ws,
                                const CVT_T *x, int64_t group, int64_t npairs, int64_t r0,
                                int64_t rows) {
  const cvt_geometry *g = e->geo;
  const int64_t width = g->in[2], npos = rows * width;
  CVT_T *s = ws->s, *tail = ws->tail;
  const CVT_T **a_ptrs = (const CVT_T **)ws->a_ptrs, **b_ptrs = (const CVT_T **)ws->b_ptrs;
  for (int64_t m = 0; m < d->m; m++) memset(s + m * d->lds, 0, (size_t)npos * sizeof *s);
  for (int64_t ci0 = 0; ci0 < g->cin_g; ci0 += d->kc) {
    const int64_t kc = min64(d->kc, g->cin_g - ci0);
    for (int64_t p0 = 0; p0 < npos; p0 += d->nr) {
      const int64_t n = min64(d->nr, npos - p0);
      const bool copy = n < d->nr; /* full tiles read the input in place */
      for (int64_t p = 0; p < npairs; p++) {
        const CVT_T *src = x + ws->x_off[p] + ci0 * d->x_channel + r0 * width + p0;
        if (!copy) {
          b_ptrs[p] = src;
          continue;
        }
        CVT_T *dst = tail + p * kc * d->tld;
        b_ptrs[p] = dst;
        for (int64_t ci = 0; ci < kc; ci++, src += d->x_channel, dst += d->tld) {
          memcpy(dst, src, (size_t)n * sizeof *dst);
          memset(dst + n, 0, (size_t)(d->nr - n) * sizeof *dst);
        }
      }
      const size_t ldb = (size_t)(copy ? d->tld : d->x_channel);
      for (int64_t m0 = 0; m0 < d->m; m0 += d->mr) {
        const int64_t mr = min64(d->mr, d->m - m0);
        const CVT_T *w_block = (const CVT_T *)e->weight + tg_block_offset(g, group, m0);
        for (int64_t p = 0; p < npairs; p++)
          a_ptrs[p] = w_block + (ws->tap_d[p] * g->cin_g + ci0) * mr;
        e->brgemm->fn.CVT_BRGEMM((size_t)mr, (size_t)npairs, (size_t)kc, a_ptrs, b_ptrs, ldb,
                                 s + m0 * d->lds + p0, (size_t)d->lds);
      }
    }
  }
}

/* One output row (n, co, od, oh = j*sH + ch) of the band: bias, then every (kh, kw) tap of
 * the row's phases whose input row is in S, each over the positions whose input column
 * exists; the width phases are then interleaved into the row. */
static void CVT_CAT(CVT_FN, _row)(const cvt_geometry *g, const tg_dims *d,
                                  const tg_workspace *ws, const phase_tap *th, int64_t nth,
                                  int64_t co, int64_t j, int64_t r0, int64_t rows, CVT_T bias,
                                  CVT_T *y_row) {
  const int64_t width = g->in[2], sw = g->stride[2], ow_n = g->out[2];
  const CVT_T *s = ws->s;
  CVT_T *row = sw == 1 ? y_row : ws->row; /* stride 1: the row is its only phase */
  for (int64_t cw = 0; cw < d->w.phases; cw++) {
    CVT_T *r = row + cw * d->w.jmax;
    const int64_t jw_n = (ow_n - 1 - cw) / sw + 1; /* positions of phase cw */
    for (int64_t jw = 0; jw < jw_n; jw++) r[jw] = bias;
  }
  for (int64_t a = 0; a < nth; a++) {
    const int64_t ih = j + th[a].e - r0;
    if (ih < 0 || ih >= rows) continue; /* outside the input */
    for (int64_t cw = 0; cw < d->w.phases; cw++) {
      CVT_T *r = row + cw * d->w.jmax;
      const int64_t jw_n = (ow_n - 1 - cw) / sw + 1;
      const phase_tap *tw = ws->tw + cw * d->w_taps;
      for (int64_t b = 0; b < ws->ntw[cw]; b++) {
        const int64_t m = (th[a].k * g->k[2] + tw[b].k) * g->cout_g + co;
        const CVT_T *src = s + m * d->lds + ih * width;
        const int64_t e_w = tw[b].e; /* input column jw + e_w, kept in [0, W) */
        const int64_t lo = max64(0, -e_w), hi = min64(jw_n, width - e_w);
        for (int64_t jw = lo; jw < hi; jw++) r[jw] += src[jw + e_w];
      }
    }
  }
  if (sw == 1) return;
  if (sw == 2 && d->w.phases == 2) { /* interleave the two phases; vectorises */
    const CVT_T *r0p = row, *r1p = row + d->w.jmax;
    for (int64_t jw = 0; jw < ow_n / 2; jw++) {
      y_row[2 * jw] = r0p[jw];
      y_row[2 * jw + 1] = r1p[jw];
    }
    if (ow_n % 2) y_row[ow_n - 1] = r0p[ow_n / 2];
    return;
  }
  for (int64_t cw = 0; cw < d->w.phases; cw++) /* phases <= ow_n: cw < ow_n */
    for (int64_t jw = 0; jw <= (ow_n - 1 - cw) / sw; jw++) /* no ow past ow_n */
      y_row[cw + jw * sw] = row[cw * d->w.jmax + jw];
}

static void CVT_FN(const cvt_exec *e, const CVT_T *x, CVT_T *y) {
  const cvt_geometry *g = e->geo;
  const tg_dims d = tg_dims_of(g, e->brgemm);
  const int64_t slices = g->n * g->out[0];
  const int64_t tasks = g->groups * slices * d.bands;
  const int64_t od_n = g->out[0], oh_n = g->out[1], ow_n = g->out[2];
  const int64_t in_d = g->in[0], in_h = g->in[1];
  const CVT_T *bias = e->bias;

#pragma omp parallel num_threads(e->num_threads)
  {
    const int tid = cvt_thread_num();
    tg_workspace ws;
    tg_layout(&d, (char *)e->workspace + (size_t)tid * e->workspace_per_thread, &ws);
    for (int64_t cw = 0; cw < d.w.phases; cw++)
      ws.ntw[cw] = phase_taps(cw, g->k[2], g->stride[2], g->pad[2], g->dil[2],
                              ws.tw + cw * d.w_taps);

#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; task++) {
      const int64_t band = task % d.bands, slice = task / d.bands % slices;
      const int64_t group = task / d.bands / slices;
      const int64_t n = slice / od_n, od = slice % od_n;
      const int64_t jh0 = band * d.bh, jh1 = min64(d.h.jmax, jh0 + d.bh);
      /* The slice's depth taps whose input plane exists. */
      phase_tap td[PHASE_MAX_TAPS];
      const int64_t ntd =
          phase_taps(od % g->stride[0], g->k[0], g->stride[0], g->pad[0], g->dil[0], td);
      int64_t npairs = 0;
      for (int64_t a = 0; a < ntd; a++) {
        const int64_t id = od / g->stride[0] + td[a].e;
        if (id < 0 || id >= in_d) continue;
        ws.x_off[npairs] = ((n * g->cin + group * g->cin_g) * in_d + id) * in_h * g->in[2];
        ws.tap_d[npairs] = td[a].k;
        npairs++;
      }
      /* The input rows the band's output rows read, within the input. */
      const int64_t r0 = max64(0, jh0 + d.h.emin);
      const int64_t r1 = min64(in_h, jh1 - 1 + d.h.emax + 1);
      const int64_t rows = npairs > 0 && r1 > r0 ? r1 - r0 : 0;
      if (rows > 0) CVT_CAT(CVT_FN, _s)(e, &d, &ws, x, group, npairs, r0, rows);
      for (int64_t co = 0; co < g->cout_g; co++) {
        const int64_t c = group * g->cout_g + co;
        const CVT_T b = bias ? bias[c] : (CVT_T)0;
        CVT_T *y_plane = y + ((n * g->cout + c) * od_n + od) * oh_n * ow_n;
        for (int64_t ch = 0; ch < d.h.phases; ch++) {
          phase_tap th[PHASE_MAX_TAPS];
          const int64_t nth =
              rows > 0 ? phase_taps(ch, g->k[1], g->stride[1], g->pad[1], g->dil[1], th) : 0;
          for (int64_t j = jh0; j < jh1; j++) {
            if (j > (oh_n - 1 - ch) / g->stride[1]) break; /* oh past the plane */
            CVT_CAT(CVT_FN, _row)(g, &d, &ws, th, nth, co, j, r0, rows, b,
                                  y_plane + (j * g->stride[1] + ch) * ow_n);
          }
        }
      }
    }
  }
}
