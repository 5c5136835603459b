/* Body of the backward-weight pass for one element type. backward_weight.c includes this
 * file once per dtype with CVT_T (element type), CVT_FN (this dtype's function) and
 * CVT_BRGEMM (the member of the config's kernel union) defined. */

/* The gemm formulation's Y for a slab of input rows r0 .. r0 + nrows: group grp, row rr,
 * position iw at ypack + ((grp * slab + rr) * W + iw) * ldy, holding column co * taps + tap
 * (zero past cols), as in backward_weight.c: a group's rows follow one another, so the
 * slab's positions are one run of K. One task per (row, group, grad_output channel). */
static void CVT_GEMM_PACK_Y(const cvt_exec *e, const bwd_weight_dims *d, const CVT_T *gy,
                            CVT_T *ypack, int64_t r0, int64_t nrows) {
  const cvt_geometry *g = e->geo;
  const int64_t D = g->in[0], H = g->in[1], W = g->in[2];
  const int64_t oD = g->out[0], oH = g->out[1], oW = g->out[2];
  const int64_t kD = g->k[0], kH = g->k[1], kW = g->k[2];
  const int64_t cout_g = g->cout_g, groups = g->groups, y_channel = oD * oH * oW;
  const int64_t sw = g->stride[2], dw = g->dil[2];
#pragma omp for schedule(static)
  for (int64_t it = 0; it < nrows * groups * cout_g; it++) {
    const int64_t rr = it / (groups * cout_g), grp = it / cout_g % groups;
    const int64_t co = it % cout_g;
    const int64_t row = r0 + rr, n = row / H / D;
    const CVT_T *src = gy + (n * g->cout + grp * cout_g + co) * y_channel;
    CVT_T *dst = ypack + (grp * d->slab + rr) * W * d->ldy + co * d->taps;
    for (int64_t kd = 0; kd < kD; kd++)
      for (int64_t kh = 0; kh < kH; kh++) {
        int64_t at;
        CVT_T *out = dst + (kd * kH + kh) * kW;
        if (!row_reaches(g, row, kd, kh, &at)) {
          for (int64_t iw = 0; iw < W; iw++, out += d->ldy)
            for (int64_t kw = 0; kw < kW; kw++) out[kw] = (CVT_T)0;
          continue;
        }
        const CVT_T *yrow = src + at * oW;
        for (int64_t iw = 0; iw < W; iw++, out += d->ldy) {
          const int64_t ow0 = iw * sw - g->pad[2];
          if (ow0 >= 0 && ow0 + (kW - 1) * dw < oW) { /* every tap inside the row */
            const CVT_T *in = yrow + ow0;
            for (int64_t kw = 0; kw < kW; kw++) out[kw] = in[kw * dw];
            continue;
          }
          for (int64_t kw = 0; kw < kW; kw++) {
            const int64_t ow = ow0 + kw * dw;
            out[kw] = ow >= 0 && ow < oW ? yrow[ow] : (CVT_T)0;
          }
        }
      }
    if (co == cout_g - 1) /* the columns past cols, read by the last tile */
      for (int64_t iw = 0; iw < W; iw++)
        memset(dst - co * d->taps + iw * d->ldy + d->cols, 0,
               (size_t)(d->ctiles * d->nr - d->cols) * sizeof *dst);
  }
}

/* The gemm formulation's micro-kernel calls for one slab: each task a block of ci by a
 * tile of (co, tap) columns of grad_weight (the ci blocks of a tile consecutive, so its
 * Y stays in cache), started from zero on the first slab, one call whose reduction runs
 * over all the slab's positions (x packed block by block, rows in order: [block][row]
 * [iw][mr]). A tile that would run past the row's cols runs on the thread's tile buffer. */
static void CVT_GEMM_TILES(const cvt_exec *e, const bwd_weight_dims *d, const CVT_T *xpack,
                           const CVT_T *ypack, CVT_T *gw, CVT_T *tile, int64_t nrows,
                           bool first) {
  const cvt_geometry *g = e->geo;
  const int64_t W = g->in[2], cin_g = g->cin_g, groups = g->groups;
#pragma omp for schedule(static)
  for (int64_t item = 0; item < groups * d->ctiles * d->blocks; item++) {
    const int64_t b = item % d->blocks, j0 = item / d->blocks % d->ctiles * d->nr;
    const int64_t grp = item / d->blocks / d->ctiles;
    const int64_t ci0 = b * d->mr_max, mr = min64(d->mr_max, cin_g - ci0);
    const int64_t nc = min64(d->nr, d->cols - j0);
    const CVT_T *a = xpack + (grp * cin_g + ci0) * d->slab * W;
    const CVT_T *b_rows = ypack + grp * d->slab * W * d->ldy + j0;
    CVT_T *c = gw + (grp * cin_g + ci0) * d->cols + j0;
    int64_t ldc = d->cols;
    if (nc < d->nr) { /* the partial tile: through the buffer */
      for (int64_t m = 0; m < mr; m++)
        for (int64_t j = 0; j < d->nr; j++)
          tile[m * d->nr + j] = first || j >= nc ? (CVT_T)0 : c[m * ldc + j];
      c = tile, ldc = d->nr;
    } else if (first) {
      for (int64_t m = 0; m < mr; m++) memset(c + m * ldc, 0, (size_t)d->nr * sizeof *c);
    }
    e->brgemm->fn.CVT_BRGEMM((size_t)mr, 1, (size_t)(nrows * W), &a, &b_rows, (size_t)d->ldy,
                             c, (size_t)ldc);
    if (c == tile)
      for (int64_t m = 0; m < mr; m++)
        memcpy(gw + (grp * cin_g + ci0 + m) * d->cols + j0, tile + m * d->nr,
               (size_t)nc * sizeof *tile);
  }
}

#if CVT_IS_F32
/* The dot formulation's copy of a slab's rows into its buffers (see CVT_DOT_SLAB). */
static void CVT_DOT_COPY(const cvt_exec *e, const bwd_weight_dims *d, const CVT_T *x,
                         const CVT_T *gy, CVT_T *xbuf, CVT_T *gbuf, int64_t r0,
                         int64_t nrows) {
  const cvt_geometry *g = e->geo;
  const int64_t D = g->in[0], H = g->in[1], W = g->in[2];
  const int64_t oW = g->out[2], kH = g->k[1], slab = d->slab;
  const int64_t x_channel = D * H * W, y_channel = g->out[0] * g->out[1] * oW;
  const int64_t nph = d->dot_phases ? 2 : 1, len = d->dot_len; /* rows per pair, length */
  /* Tasks of DOT_COPY_ROWS rows of one channel, divisions only per task (a task per row
   * took one memcpy of a row and five divisions: on MedNeXt's head, rows of 128, the
   * copies ran at half the core's read bandwidth). */
  const int64_t row_blocks = ceil_div(nrows, DOT_COPY_ROWS);
#pragma omp for schedule(static)
  for (int64_t it = 0; it < row_blocks * g->cin; it++) { /* a channel's rows in order */
    const int64_t c = it / row_blocks, rr0 = it % row_blocks * DOT_COPY_ROWS;
    const int64_t rr1 = min64(nrows, rr0 + DOT_COPY_ROWS);
    for (int64_t rr = rr0, run; rr < rr1; rr += run) { /* runs of one sample's rows */
      const int64_t row = r0 + rr, in_n = row % (D * H);
      run = min64(rr1 - rr, D * H - in_n);
      memcpy(xbuf + c * d->dot_ldx + rr * W, x + (row / (D * H) * g->cin + c) * x_channel +
                                                 in_n * W,
             (size_t)(run * W) * sizeof *xbuf);
    }
  }
#pragma omp for schedule(static)
  for (int64_t it = 0; it < row_blocks * d->pairs * g->cout; it++) {
    const int64_t rr0 = it % row_blocks * DOT_COPY_ROWS, pair = it / row_blocks % d->pairs;
    const int64_t c = it / row_blocks / d->pairs, kd = pair / kH, kh = pair % kH;
    const int64_t rr1 = min64(nrows, rr0 + DOT_COPY_ROWS);
    row_walk w = walk_from(g, r0 + rr0);
    for (int64_t rr = rr0; rr < rr1; rr++, walk_next(g, &w)) {
      int64_t at;
      CVT_T *dst = gbuf + c * d->dot_ldg + (pair * nph * slab + rr) * len;
      if (!reaches(g, w.id, w.ih, kd, kh, &at)) {
        if (d->dot_pairs) /* read beside live pairs */
          for (int64_t r = 0; r < nph; r++)
            memset(dst + r * slab * len, 0, (size_t)len * sizeof *gbuf);
        continue; /* else never read */
      }
      const CVT_T *src = gy + (w.n * g->cout + c) * y_channel + at * oW;
      if (!d->dot_phases) {
        memcpy(dst, src, (size_t)oW * sizeof *gbuf);
        continue;
      }
      for (int64_t r = 0; r < 2; r++)
        e->brgemm->phase_row.CVT_BRGEMM(src, oW, 2, r, 0, len, dst + r * slab * len);
    }
  }
}
#endif

/* The dot formulation for one slab of input rows r0 .. r0 + nrows. First the rows are
 * copied into the slab's buffers (unless dot_direct: then the tiles read them in place),
 * a channel's rows in order: input [c][row][iw],
 * grad_output [co][(kd, kh)][row][ow] (the row (od, oh) that (kd, kh) reaches from the
 * input row, when it exists; with dot_phases [co][(kd, kh)][phase][row][j], element
 * 2j + phase). Then each task is a block of input channels, a block of grad_output
 * channels and a (kd, kh) (dot_pairs: one channel and a block of pairs), and a width tap
 * (stride 2 without dot_phases: the pair of taps at offsets 2q, 2q + 1), its batch the
 * slab's rows that reach grad_output. The tasks of one block of input channels are
 * consecutive, so that its rows stay in L2. Each grad_weight element is summed by one
 * task, slab after slab. */
static void CVT_DOT_SLAB(const cvt_exec *e, const bwd_weight_dims *d, const CVT_T *x,
                         const CVT_T *gy, CVT_T *gw, CVT_T *xbuf, CVT_T *gbuf,
                         const CVT_T **a_ptrs, const CVT_T **b_ptrs, int64_t r0,
                         int64_t nrows) {
#if CVT_IS_F32
  const cvt_geometry *g = e->geo;
  const int64_t D = g->in[0], H = g->in[1], W = g->in[2];
  const int64_t oD = g->out[0], oH = g->out[1], oW = g->out[2];
  const int64_t kH = g->k[1], kW = g->k[2], sw = g->stride[2];
  const int64_t cin_g = g->cin_g, cout_g = g->cout_g, groups = g->groups;
  const int64_t x_channel = D * H * W, y_channel = oD * oH * oW;
  const int64_t ldc = cout_g * d->taps, slab = d->slab;
  const int64_t nph = d->dot_phases ? 2 : 1, len = d->dot_len; /* rows per pair, length */
  if (!d->dot_direct) CVT_DOT_COPY(e, d, x, gy, xbuf, gbuf, r0, nrows);
  /* A tile's columns j: grad_output channels co0 + j of one (kd, kh), or (dot_pairs) the
   * pairs p0 + j of one channel, their rows nph * slab * len apart in gbuf and their sums
   * kW apart in grad_weight. */
  const int64_t ldb = d->dot_pairs    ? nph * slab * len
                      : d->dot_direct ? y_channel
                                      : d->dot_ldg;
  const int64_t lda = d->dot_direct ? x_channel : d->dot_ldx;
  const int64_t cs = d->dot_pairs ? kW : d->taps;
  const size_t s_tile = d->dot_phases ? 1 : (size_t)sw;
  const int64_t items = groups * d->dot_cb * d->dot_pb * d->dot_wg * d->dot_jb;
#pragma omp for schedule(static)
  for (int64_t item = 0; item < items; item++) {
    const int64_t jb = item % d->dot_jb, wg = item / d->dot_jb % d->dot_wg;
    const int64_t pb = item / d->dot_jb / d->dot_wg % d->dot_pb;
    const int64_t cb = item / d->dot_jb / d->dot_wg / d->dot_pb % d->dot_cb;
    const int64_t grp = item / d->dot_jb / d->dot_wg / d->dot_pb / d->dot_cb;
    const int64_t ci0 = cb * d->dot_mr, mr = min64(d->dot_mr, cin_g - ci0);
    int64_t co0 = jb, p0 = pb, nr, np = 1;
    if (d->dot_pairs)
      p0 = pb * d->dot_nr, np = nr = min64(d->dot_nr, d->pairs - p0);
    else
      co0 = jb * d->dot_nr, nr = min64(d->dot_nr, cout_g - co0);
    /* The width: input columns lo .. hi, grad_output elements from off, nel of them. */
    int64_t lo, hi, off, nel, kw0, kw1, r = 0;
    if (d->dot_phases) { /* tap kw reads phase r of the row from offset q: 2q + r = kw - pW */
      kw0 = wg, kw1 = -1;
      const int64_t t = kw0 - g->pad[2], q = floor_div(t, 2);
      r = t - 2 * q;
      lo = max64(0, -q), hi = min64(W, (oW - r + 1) / 2 - q);
      off = lo + q, nel = hi - lo;
    } else if (sw == 1) {
      kw0 = wg, kw1 = -1;
      const int64_t t = kw0 * g->dil[2] - g->pad[2];
      lo = max64(0, -t), hi = min64(W, oW - t);
      off = lo + t, nel = hi - lo;
    } else { /* taps 2q + r - pW... of offset q: kw = 2q + pW + r, r = 0, 1 */
      const int64_t q = d->dot_q0 + wg;
      kw0 = 2 * q + g->pad[2], kw1 = kw0 + 1;
      lo = max64(0, -q), hi = min64(W, ceil_div(oW, 2) - q);
      off = 2 * (lo + q), nel = oW - off;
    }
    if (hi <= lo) continue;
    size_t batch = 0; /* the rows that reach a grad_output row for one of the pairs */
    row_walk w = walk_from(g, r0);
    for (int64_t rr = 0; rr < nrows; rr++, walk_next(g, &w)) {
      bool live = false;
      int64_t at = 0;
      for (int64_t p = p0; p < p0 + np && !live; p++)
        live = reaches(g, w.id, w.ih, p / kH, p % kH, &at);
      if (!live) continue;
      if (d->dot_direct) { /* one pair (np = 1): its row at */
        a_ptrs[batch] = x + (w.n * g->cin + grp * cin_g + ci0) * x_channel +
                        (w.id * H + w.ih) * W + lo;
        b_ptrs[batch++] =
            gy + (w.n * g->cout + grp * cout_g + co0) * y_channel + at * oW + off;
        continue;
      }
      a_ptrs[batch] = xbuf + (grp * cin_g + ci0) * d->dot_ldx + rr * W + lo;
      b_ptrs[batch] =
          gbuf + (grp * cout_g + co0) * d->dot_ldg + ((p0 * nph + r) * slab + rr) * len + off;
      batch++;
    }
    if (batch == 0) continue;
    CVT_T *c = gw + ((grp * cin_g + ci0) * cout_g + co0) * d->taps + p0 * kW;
    e->brgemm->f32_dot(s_tile, (size_t)d->dot_nr, (size_t)mr, (size_t)nr, batch,
                       (size_t)(hi - lo), (size_t)nel, a_ptrs, (size_t)lda, b_ptrs,
                       (size_t)ldb, kw0 >= 0 && kw0 < kW ? c + kw0 : NULL,
                       kw1 >= 0 && kw1 < kW ? c + kw1 : NULL, (size_t)ldc, (size_t)cs);
  }
#else
  (void)e, (void)d, (void)x, (void)gy, (void)gw, (void)xbuf, (void)gbuf, (void)a_ptrs,
      (void)b_ptrs, (void)r0, (void)nrows;
#endif
}

static void CVT_FN(const cvt_exec *e, const void *input, const void *grad_output,
                   void *grad_weight, void *grad_bias) {
  const cvt_geometry *g = e->geo;
  const bwd_weight_dims d = dims_of(g, e->brgemm);
  const CVT_T *x = input, *gy = grad_output;
  CVT_T *gw = grad_weight, *gb = grad_bias;
  bwd_weight_ws ws;
  ws_layout(g, &d, e->num_threads, e->workspace, &ws);
  CVT_T *acc = ws.acc, *xpack = ws.xpack, *ypack = ws.ypack;
  const int64_t D = g->in[0], H = g->in[1], W = g->in[2];
  const int64_t oD = g->out[0], oH = g->out[1], oW = g->out[2];
  const int64_t kH = g->k[1], kW = g->k[2], sw = g->stride[2];
  const int64_t x_channel = D * H * W, y_channel = oD * oH * oW;
  const int64_t cin_g = g->cin_g, cout_g = g->cout_g, groups = g->groups;
  const int64_t ctiles = d.ctiles;
  const int64_t items = groups * d.taps * d.blocks * ctiles;
  const int64_t acc_rows = groups * d.taps * cin_g; /* of cpad elements */
  /* the packed grad_output rows, y_unit elements apart: every group's [ow][co] (whole)
   * or [phase][j][co] */
  const int64_t y_unit = d.y_row / d.pairs;
  int64_t *slots = ws.slots, *keys = ws.keys, nkeys = 0; /* shared */

#pragma omp parallel num_threads(e->num_threads) if (e->num_threads > 1)
  {
    const int tid = cvt_thread_num();
    const CVT_T **a_ptrs = (const CVT_T **)ws.ptrs + (size_t)tid * ptr_slice(&d);
    const CVT_T **b_ptrs = a_ptrs + (ptr_slice(&d) ? d.slab : 0); /* none for gemm */

    if (d.dot) { /* sums straight into grad_weight */
#pragma omp for schedule(static)
      for (int64_t ic = 0; ic < g->cin; ic++)
        memset(gw + ic * cout_g * d.taps, 0, (size_t)(cout_g * d.taps) * sizeof *gw);
      for (int64_t r0 = 0; r0 < d.rows; r0 += d.slab)
        CVT_DOT_SLAB(e, &d, x, gy, gw, xpack, ypack, a_ptrs, b_ptrs, r0,
                     min64(d.slab, d.rows - r0));
    } else if (!d.gemm) {
#pragma omp for schedule(static)
      for (int64_t r = 0; r < acc_rows; r++)
        memset(acc + r * d.cpad, 0, (size_t)d.cpad * sizeof *acc);
    }

    for (int64_t r0 = 0; r0 < d.rows && !d.dot; r0 += d.slab) {
      const int64_t nrows = min64(d.slab, d.rows - r0);
      /* x rows, channels-last per block of mr_max input channels: [iw][mr], a row's blocks
       * together ([row][block]; gemm: [block][row], see CVT_GEMM_TILES). A block's rows
       * are read in order, so that its channels' reads run on, rows ascending: the
       * hardware prefetchers follow them (row by row, each row's blocks in turn, every
       * channel's row was a page apart from the last read and waited on its line:
       * alternated in one process, nnU-Net up4 0.94x the time and V-Net 0.90x at 1 thread,
       * the rest of the suite and 2 threads within 2% either way). */
#pragma omp for schedule(static)
      for (int64_t it = 0; it < nrows * groups * d.blocks; it++) {
        const int64_t rr = it % nrows, grp = it / nrows / d.blocks;
        const int64_t ci0 = it / nrows % d.blocks * d.mr_max, mr = min64(d.mr_max, cin_g - ci0);
        const int64_t row = r0 + rr, ih = row % H, id = row / H % D, n = row / H / D;
        const CVT_T *src = x + ((n * g->cin + grp * cin_g + ci0) * D + id) * H * W + ih * W;
        CVT_T *dst = d.gemm ? xpack + ((grp * cin_g + ci0) * d.slab + rr * mr) * W
                            : xpack + rr * d.x_row + (grp * cin_g + ci0) * W;
        for (int64_t m = 0; m < mr; m++)
          for (int64_t iw = 0; iw < W; iw++) dst[iw * mr + m] = src[m * x_channel + iw];
        if (!d.gemm && it / nrows == groups * d.blocks - 1) /* the row's slack */
          memset(xpack + rr * d.x_row + groups * cin_g * W, 0,
                 (size_t)d.mr_max * sizeof *xpack);
        if (d.gemm && it == 0) /* the slab's slack, past its last block */
          memset(xpack + groups * cin_g * W * d.slab, 0, (size_t)d.mr_max * sizeof *xpack);
      }
      if (d.gemm) {
        CVT_GEMM_PACK_Y(e, &d, gy, ypack, r0, nrows);
        CVT_GEMM_TILES(e, &d, xpack, ypack, gw,
                       (CVT_T *)ws.tile + (size_t)tid * (size_t)(d.mr_max * d.nr), nrows,
                       r0 == 0);
        continue;
      }
      /* The grad_output rows the slab reaches, each packed once (with kernel 3 stride 1,
       * a row is reached from 9 input rows), in their order in memory, channels-last and
       * zero-padded to cpad: per group [ow][co], or [phase][j][co]. */
      if (!d.direct) {
#pragma omp single
        nkeys = slab_keys(g, &d, r0, nrows, slots, keys);
#pragma omp for schedule(static)
        for (int64_t it = 0; it < nkeys * groups; it++) {
          const int64_t u = it / groups, grp = it % groups;
          const int64_t n = keys[u] / (oD * oH), at = keys[u] % (oD * oH);
          const CVT_T *src = gy + (n * g->cout + grp * cout_g) * y_channel + at * oW;
          if (d.whole) { /* [ow][co] */
            CVT_T *dst = ypack + u * y_unit + grp * oW * d.cpad;
            if (d.cpad > cout_g) /* the last tile's columns past cout_g */
              for (int64_t ow = 0; ow < oW; ow++)
                memset(dst + ow * d.cpad + cout_g, 0,
                       (size_t)(d.cpad - cout_g) * sizeof *dst);
            e->brgemm->phase_cols.CVT_BRGEMM(src, y_channel, cout_g, 1, 0, 0, 0, oW, dst,
                                             d.cpad);
            continue;
          }
          CVT_T *dst = ypack + u * y_unit + grp * d.slots * d.len * d.cpad;
          for (int64_t s = 0; s < d.slots; s++, dst += d.len * d.cpad) {
            const int64_t r = slot_phase(g, s);
            int64_t lo, hi; /* positions j whose column (j + qmin)*sW + r exists */
            phase_row_range(oW, sw, r, d.qmin, d.len, &lo, &hi);
            memset(dst, 0, (size_t)(d.len * d.cpad) * sizeof *dst);
            e->brgemm->phase_cols.CVT_BRGEMM(src, y_channel, cout_g, sw, r, d.qmin, lo, hi,
                                             dst, d.cpad);
          }
        }
      }
      /* Each tile of the accumulator: one tap, a block of ci, a tile of co. */
#pragma omp for schedule(static)
      for (int64_t item = 0; item < items; item++) {
        const int64_t co0 = item % ctiles * d.nr, b = item / ctiles % d.blocks;
        const int64_t tap = item / ctiles / d.blocks % d.taps;
        const int64_t grp = item / ctiles / d.blocks / d.taps;
        const int64_t kd = tap / (kH * kW), kh = tap / kW % kH, kw = tap % kW;
        const int64_t ci0 = b * d.mr_max, mr = min64(d.mr_max, cin_g - ci0);
        /* Input columns whose output column iw*sW + t exists. */
        const int64_t t = kw * g->dil[2] - g->pad[2];
        const int64_t lo = t >= 0 ? 0 : ceil_div(-t, sw);
        const int64_t hi = oW - 1 - t < 0 ? 0 : min64(W, (oW - 1 - t) / sw + 1);
        if (hi <= lo) continue;
        const int64_t q = floor_div(t, sw), slot = tap_slot(g, kw);
        const int64_t pair = kd * kH + kh;
        size_t batch = 0;
        row_walk w = walk_from(g, r0);
        for (int64_t rr = 0; rr < nrows; rr++, walk_next(g, &w)) {
          int64_t at = 0;
          if (d.direct ? !reaches(g, w.id, w.ih, kd, kh, &at) : slots[rr * d.pairs + pair] < 0)
            continue;
          a_ptrs[batch] = xpack + rr * d.x_row + (grp * cin_g + ci0) * W + lo * mr;
#if CVT_IS_F32
          if (d.direct) { /* channel co0's row, at the tap's first position */
            b_ptrs[batch++] = gy + (w.n * g->cout + grp * cout_g + co0) * y_channel +
                              at * oW + lo * sw + t;
            continue;
          }
#endif
          b_ptrs[batch] =
              ypack + slots[rr * d.pairs + pair] * y_unit + co0 +
              (d.whole ? (grp * oW + lo * sw + t) * d.cpad
                       : ((grp * d.slots + slot) * d.len + lo + q - d.qmin) * d.cpad);
          batch++;
        }
        if (batch == 0) continue;
#if CVT_IS_F32
        if (d.direct) {
          e->brgemm->f32_bt((size_t)mr, (size_t)min64(d.nr, cout_g - co0), batch,
                            (size_t)(hi - lo), a_ptrs, b_ptrs, (size_t)sw, (size_t)y_channel,
                            acc + ((grp * d.taps + tap) * cin_g + ci0) * d.cpad + co0,
                            (size_t)d.cpad);
          continue;
        }
#endif
        e->brgemm->fn.CVT_BRGEMM((size_t)mr, batch, (size_t)(hi - lo), a_ptrs, b_ptrs,
                                 (size_t)(d.whole ? sw * d.cpad : d.cpad),
                                 acc + ((grp * d.taps + tap) * cin_g + ci0) * d.cpad + co0,
                                 (size_t)d.cpad);
      }
    }

    /* Back to PyTorch's layout: gw[ci][co][tap]. */
    if (!d.gemm && !d.dot) {
#pragma omp for schedule(static)
      for (int64_t ic = 0; ic < g->cin; ic++) {
        const int64_t grp = ic / cin_g, ci = ic % cin_g;
        CVT_T *dst = gw + ic * cout_g * d.taps;
        for (int64_t tap = 0; tap < d.taps; tap++) {
          const CVT_T *src = acc + ((grp * d.taps + tap) * cin_g + ci) * d.cpad;
          for (int64_t co = 0; co < cout_g; co++) dst[co * d.taps + tap] = src[co];
        }
      }
    }
    /* grad_bias: per channel, samples in order, each plane summed in 8 interleaved
     * partial sums combined in a fixed order. */
    if (gb) {
#pragma omp for schedule(static)
      for (int64_t oc = 0; oc < g->cout; oc++) {
        double total = 0.0;
        for (int64_t n = 0; n < g->n; n++) {
          const CVT_T *p = gy + (n * g->cout + oc) * y_channel;
          double part[8] = {0};
          int64_t i = 0;
          for (; i + 8 <= y_channel; i += 8)
            for (int k = 0; k < 8; k++) part[k] += (double)p[i + k];
          for (; i < y_channel; i++) part[0] += (double)p[i];
          total += ((part[0] + part[1]) + (part[2] + part[3])) +
                   ((part[4] + part[5]) + (part[6] + part[7]));
        }
        gb[oc] = (CVT_T)total;
      }
    }
  }
}
