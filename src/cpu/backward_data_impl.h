/* Body of the backward-data pass for one element type. backward_data.c includes this
 * file once per dtype with CVT_T (element type), CVT_FN, CVT_ROWS, CVT_ROW, CVT_PLANES and
 * CVT_GEMM (this dtype's functions), CVT_PHASE_ROW_FN (its packing kernel's type) and
 * CVT_BRGEMM (the member of the config's kernel unions), CVT_BRGEMM_FN (its kernel type),
 * CVT_CL_FN and CVT_CL_ROWS (the channels-last entry of a config and its transpose back,
 * float32 only), CVT_COPY_ROWS (its copy out to grad_input, streamed where bwd_data_dims
 * says) and CVT_SET_ROWS defined. */

/* Rows of n elements, ld apart, row m set to bias[m], or to zero without a bias. */
static void CVT_SET_ROWS(CVT_T *dst, int64_t ld, int64_t rows, int64_t n, const CVT_T *bias) {
  for (int64_t m = 0; m < rows; m++) {
    CVT_T *row = dst + m * ld;
    if (!bias) {
      memset(row, 0, (size_t)n * sizeof *row);
      continue;
    }
    for (int64_t i = 0; i < n; i++) row[i] = bias[m];
  }
}

/* The calls of row r of a pack's rows for grad_output channels co0 .. co0 + kc and the
 * channel blocks b0 .. b1, summed into rows (the row's channels ldc apart, its positions
 * ldp). src holds the rows read, ldb apart from channel to channel: the pack (live kd p,
 * grad_output row hrow[i] at pack row p * hrows + i), or with d->inplace the chunk's
 * grad_output itself. */
static void CVT_ROW(const cvt_exec *e, const bwd_data_dims *d, const bwd_data_ws *ws,
                    const bwd_axis *wd, const CVT_T *src, int64_t ldb, CVT_T *rows,
                    int64_t ldc, int64_t ldp, int64_t grp, int64_t kds, int64_t r,
                    int64_t co0, int64_t kc, int64_t b0, int64_t b1) {
  const cvt_geometry *g = e->geo;
  const int64_t W = g->in[2], kH = g->k[1], kW = g->k[2];
  const int64_t x_channel = g->in[0] * g->in[1] * W, oW = g->out[2];
  const CVT_T *bias = e->bias;
  CVT_T *tile = ws->tile, *taps = ws->taps;
  const CVT_T **a_ptrs = (const CVT_T **)ws->a_ptrs, **b_ptrs = (const CVT_T **)ws->b_ptrs;
  /* The row's (kd, kh) taps whose grad_output row exists, and where it lies in src. */
  int64_t pairs = 0;
  for (int64_t p = 0; p < kds; p++)
    for (int64_t kh = 0; kh < kH; kh++) {
      const int64_t i = ws->hidx[r * kH + kh];
      if (i < 0) continue;
      ws->pair_row[pairs] =
          d->inplace ? ws->kd_row[p] + ws->hrow[i] * oW : (p * d->hrows + i) * kc * ldb;
      ws->pair_tap[pairs] = ws->kd_tap[p] + kh * kW;
      pairs++;
    }
  if (pairs == 0) return;
  /* taps_k: every (pair, kw, co) run copied to its row, in the packed weights' order;
   * a batch entry is then a run of pairs with consecutive taps (the product of the live
   * kd and kh ranges: all pairs, or the kh of each kd), whose rows are contiguous. */
  int64_t run = 1;
  if (d->taps_k) {
    for (int64_t p = 0; p < pairs; p++)
      for (int64_t kw = 0; kw < kW; kw++)
        for (int64_t co = 0; co < kc; co++) {
          CVT_T *dst = taps + ((p * kW + kw) * kc + co) * d->ldw;
          if (wd->slot[kw] < 0)
            memset(dst, 0, (size_t)d->ldw * sizeof *dst);
          else
            memcpy(dst,
                   src + ws->pair_row[p] + co * ldb + wd->slot[kw] * d->pitch + wd->shift[kw],
                   (size_t)d->ldw * sizeof *dst);
        }
    while (run < pairs && ws->pair_tap[run] == ws->pair_tap[run - 1] + kW) run++;
    for (int64_t p = 1; p < pairs; p++) /* uniform runs, else one pair per entry */
      if ((p % run == 0) == (ws->pair_tap[p] == ws->pair_tap[p - 1] + kW)) run = 1;
  }
  const CVT_BRGEMM_FN call = d->cl ? CVT_CL_FN(e->brgemm) : e->brgemm->fn.CVT_BRGEMM;
  const int64_t k_call = d->taps_k ? run * kW * kc : kc; /* per batch entry */
  const int64_t ld_call = d->taps_k ? d->ldw : ldb;     /* between its B rows */
  for (int64_t b = b0; b < b1; b++) {
    const int64_t ci0 = b * d->mr_max, mr = min64(d->mr_max, g->cin_g - ci0);
    const CVT_T *a_block = (const CVT_T *)e->weight + block_offset(g, d->mr_max, grp, b);
    size_t batch = 0;
    for (int64_t p = 0; d->taps_k && p < pairs; p += run) {
      a_ptrs[batch] = a_block + ws->pair_tap[p] * g->cout_g * mr;
      b_ptrs[batch] = taps + p * kW * kc * d->ldw;
      batch++;
    }
    for (int64_t p = 0; !d->taps_k && p < pairs; p++)
      for (int64_t kw = 0; kw < kW; kw++) {
        if (wd->slot[kw] < 0) continue;
        a_ptrs[batch] = a_block + ((ws->pair_tap[p] + kw) * g->cout_g + co0) * mr;
        b_ptrs[batch] = src + ws->pair_row[p] + wd->slot[kw] * d->pitch + wd->shift[kw];
        batch++;
      }
    CVT_T *c = rows + ci0 * ldc;
    for (int64_t iw0 = 0; iw0 < W; iw0 += d->nr) {
      if (iw0 > 0)
        for (size_t k = 0; k < batch; k++) b_ptrs[k] += d->nr;
      if (d->rowbuf || (!d->tile_out && iw0 + d->nr <= W)) {
        call((size_t)mr, batch, (size_t)k_call, a_ptrs, b_ptrs, (size_t)ld_call,
             c + iw0 * ldp, (size_t)(d->cl ? ldp : ldc));
        continue;
      }
      /* On a copy: with tile_out every tile, set to the bias; else the row's last tile,
       * its sums so far copied in. The extra lanes of a last tile are dropped. */
      const int64_t valid = min64(d->nr, W - iw0);
      if (d->tile_out)
        CVT_SET_ROWS(tile, d->nr, mr, d->nr, bias ? bias + grp * g->cin_g + ci0 : NULL);
      for (int64_t m = 0; !d->tile_out && m < mr; m++) {
        CVT_T *at = tile + m * d->nr;
        memcpy(at, c + m * x_channel + iw0, (size_t)valid * sizeof *tile);
        memset(at + valid, 0, (size_t)(d->nr - valid) * sizeof *tile);
      }
      e->brgemm->fn.CVT_BRGEMM((size_t)mr, batch, (size_t)k_call, a_ptrs, b_ptrs,
                               (size_t)ld_call, tile, (size_t)d->nr);
      CVT_COPY_ROWS(e, d, tile, d->nr, mr, valid, c + iw0, x_channel);
    }
  }
}

/* One band of grad_input rows (n, group, id, ih0 .. ih0 + band): see backward_data.c.
 * The band's rows go prows at a time (bwd_data_dims). Per chunk of grad_output channels
 * the grad_output rows they read are packed once per live kd, then the calls run channel
 * block by channel block, each over the prows rows, so that a block's weight panels are
 * read from L2 by all of them. With taps_k each row goes through all blocks in turn, on
 * its copy of the taps. */
static void CVT_ROWS(const cvt_exec *e, const bwd_data_dims *d, const bwd_data_ws *ws,
                     const bwd_axis *wd, const CVT_T *gy, CVT_T *gx, int64_t task) {
  const cvt_geometry *g = e->geo;
  const CVT_T *bias = e->bias;
  const CVT_PHASE_ROW_FN pack_row = e->brgemm->phase_row.CVT_BRGEMM;
  const int64_t D = g->in[0], H = g->in[1], W = g->in[2], x_channel = D * H * W;
  const int64_t oD = g->out[0], oH = g->out[1], oW = g->out[2], y_channel = oD * oH * oW;
  const int64_t kH = g->k[1], hrows = d->hrows;
  CVT_T *tile = ws->tile, *pack = ws->pack;
  const int64_t bands = ceil_div(H, d->band);
  const int64_t ih0 = task % bands * d->band, nrows = min64(d->band, H - ih0);
  const int64_t id = task / bands % D, grp = task / bands / D % g->groups;
  const int64_t n = task / bands / D / g->groups;
  CVT_T *gx_band = gx + ((n * g->cin + grp * g->cin_g) * D + id) * H * W + ih0 * W;
  /* The band's sums: in the row buffer (rows ldw positions apart, every tile whole;
   * channels ldr apart, or with d->cl channels-last, positions ldq apart) or, a band of
   * one row, in grad_input */
  const int64_t ldc = d->cl ? 1 : d->rowbuf ? d->ldr : x_channel, ldp = d->cl ? d->ldq : 1;
  const int64_t filled = d->rowbuf ? nrows * d->ldw : W;
  for (int64_t i = 0; d->cl && i < filled; i++) { /* position by position */
    CVT_T *at = tile + i * ldp;
    if (bias)
      memcpy(at, bias + grp * g->cin_g, (size_t)g->cin_g * sizeof *at);
    else
      memset(at, 0, (size_t)g->cin_g * sizeof *at);
  }
  if (!d->cl && !d->tile_out)
    CVT_SET_ROWS(d->rowbuf ? tile : gx_band, ldc, g->cin_g, filled,
                 bias ? bias + grp * g->cin_g : NULL);
  int64_t kds = 0; /* the live kd */
  for (int64_t kd = 0; kd < g->k[0]; kd++) {
    const int64_t od = id * g->stride[0] - g->pad[0] + kd * g->dil[0];
    if (od < 0 || od >= oD) continue;
    ws->kd_row[kds] = od * oH * oW;
    ws->kd_tap[kds] = kd * kH * g->k[2];
    kds++;
  }
  for (int64_t r0 = 0; kds > 0 && wd->live > 0 && r0 < nrows; r0 += d->prows) {
    /* Rows r0 .. r0 + pr share a pack: the grad_output rows they read (hrow, ascending),
     * each packed once however many of them read it. */
    const int64_t pr = min64(d->prows, nrows - r0);
    int64_t nh = 0;
    for (int64_t r = 0; r < pr; r++)
      for (int64_t kh = 0; kh < kH; kh++) {
        const int64_t oh = (ih0 + r0 + r) * g->stride[1] - g->pad[1] + kh * g->dil[1];
        if (oh < 0 || oh >= oH) continue;
        int64_t i = nh;
        while (i > 0 && ws->hrow[i - 1] > oh) i--;
        if (i > 0 && ws->hrow[i - 1] == oh) continue;
        memmove(ws->hrow + i + 1, ws->hrow + i, (size_t)(nh - i) * sizeof *ws->hrow);
        ws->hrow[i] = oh;
        nh++;
      }
    for (int64_t r = 0; r < pr; r++)
      for (int64_t kh = 0; kh < kH; kh++) {
        const int64_t oh = (ih0 + r0 + r) * g->stride[1] - g->pad[1] + kh * g->dil[1];
        ws->hidx[r * kH + kh] = oh >= 0 && oh < oH ? sorted_index(ws->hrow, nh, oh) : -1;
      }
    for (int64_t co0 = 0; co0 < g->cout_g; co0 += d->kc) {
      const int64_t kc = min64(d->kc, g->cout_g - co0);
      const CVT_T *gy_chunk = gy + (n * g->cout + grp * g->cout_g + co0) * y_channel;
      /* Each grad_output row lies on a page of its own (channels a volume apart): the
       * lines of the row packed BWD_DATA_PREFETCH rows later (ap, aj, ac) are prefetched.
       * The packed rows' slack (a last tile's lanes past the row, dropped) keeps whatever
       * it holds: zeros or an earlier chunk's values (bwd_data_f32/f64 zero the pack
       * once). */
      int64_t ap = 0, aj = 0, ac = 0;
      for (int64_t t = 0; t < BWD_DATA_PREFETCH; t++) pack_order_next(&ap, &aj, &ac, nh, kc);
      for (int64_t p = 0; !d->inplace && p < kds; p++)
        for (int64_t co = 0; co < kc; co++)
          for (int64_t j = 0; j < nh; j++) {
            const CVT_T *src = gy_chunk + co * y_channel + ws->kd_row[p] + ws->hrow[j] * oW;
            if (ap < kds) {
              const CVT_T *ahead = gy_chunk + ac * y_channel + ws->kd_row[ap] + ws->hrow[aj] * oW;
              for (int64_t i = 0; i < oW; i += 64 / (int64_t)sizeof *src)
                __builtin_prefetch(ahead + i);
              pack_order_next(&ap, &aj, &ac, nh, kc);
            }
            for (int64_t s = 0; s < wd->slots; s++)
              pack_row(src, oW, g->stride[2], wd->phase[s], wd->qmin, d->lenw,
                       pack + ((p * hrows + j) * kc + co) * d->ldb + s * d->pitch);
          }
      for (int64_t b = 0; b < (d->taps_k ? 1 : d->blocks); b++)
        for (int64_t r = 0; r < pr; r++)
          CVT_ROW(e, d, ws, wd, d->inplace ? gy_chunk : pack, d->inplace ? y_channel : d->ldb,
                  d->rowbuf ? tile + (r0 + r) * d->ldw * ldp : gx_band, ldc, ldp, grp, kds, r,
                  co0, kc, d->taps_k ? 0 : b, d->taps_k ? d->blocks : b + 1);
    }
  }
  if (!d->rowbuf) return;
  if (d->cl) { /* transposed back 16 channels at a time into runs of the band, copied out
                  from there (1.1 ms of VideoGPT's head's 9 less than transposing straight
                  into grad_input, where each run is written in 16-lane pieces) */
    CVT_T *stage = ws->stage;
    const int64_t run = nrows * W;
    for (int64_t ci0 = 0; ci0 < g->cin_g; ci0 += 16) {
      const int64_t nc = min64(16, g->cin_g - ci0);
      CVT_CL_ROWS(e, tile + ci0, d->ldq, nc, W, d->ldw, run, stage, run);
      CVT_COPY_ROWS(e, d, stage, run, nc, run, gx_band + ci0 * x_channel, x_channel);
    }
    return;
  }
  for (int64_t ci = 0; ci < g->cin_g; ci++) { /* each channel's band: one run */
    CVT_T *dst = gx_band + ci * x_channel;
    const CVT_T *src = tile + ci * d->ldr;
    if (d->ldw == W)
      CVT_COPY_ROWS(e, d, src, 0, 1, nrows * W, dst, 0);
    else
      CVT_COPY_ROWS(e, d, src, d->ldw, nrows, W, dst, W);
  }
}

/* One grad_input plane (n, group, id): see backward_data.c. */
static void CVT_PLANES(const cvt_exec *e, const bwd_data_dims *d, const bwd_data_ws *ws,
                       const bwd_axis *hd, const bwd_axis *wd, const CVT_T *gy, CVT_T *gx,
                       int64_t task) {
  const cvt_geometry *g = e->geo;
  const CVT_T *w_packed = e->weight, *bias = e->bias;
  const CVT_PHASE_ROW_FN pack_row = e->brgemm->phase_row.CVT_BRGEMM;
  const int64_t D = g->in[0], H = g->in[1], W = g->in[2];
  const int64_t oD = g->out[0], oH = g->out[1], oW = g->out[2];
  const int64_t kH = g->k[1], kW = g->k[2], lenw = d->lenw;
  const int64_t x_channel = D * H * W, y_channel = oD * oH * oW;
  const int64_t ldb = d->ldb; /* between grad_output channels in the pack */
  CVT_T *pack = ws->pack, *cbuf = ws->tile;
  const CVT_T **a_ptrs = (const CVT_T **)ws->a_ptrs, **b_ptrs = (const CVT_T **)ws->b_ptrs;
  const int64_t id = task % D, grp = task / D % g->groups, n = task / D / g->groups;
  CVT_T *gx_plane = gx + ((n * g->cin + grp * g->cin_g) * D + id) * H * W;
  const CVT_T *grp_bias = bias ? bias + grp * g->cin_g : NULL;
  /* The kd taps whose grad_output plane exists. */
  int64_t planes = 0;
  for (int64_t kd = 0; kd < g->k[0]; kd++) {
    const int64_t od = id * g->stride[0] - g->pad[0] + kd * g->dil[0];
    if (od < 0 || od >= oD) continue;
    ws->kd_row[planes] = od * oH * oW;
    ws->kd_tap[planes] = kd * kH * kW;
    planes++;
  }
  const bool reached = planes > 0 && hd->live > 0 && wd->live > 0;
  if (d->tile_out && !reached) { /* no tap lands: the bias alone */
    CVT_SET_ROWS(gx_plane, x_channel, g->cin_g, H * W, grp_bias);
    return;
  }
  if (!d->tile_out) CVT_SET_ROWS(cbuf, d->ldp, g->cin_g, d->ppad, grp_bias);
  for (int64_t co0 = 0; reached && co0 < g->cout_g; co0 += d->kc) {
    const int64_t kc = min64(d->kc, g->cout_g - co0);
    const CVT_T *gy_chunk = gy + (n * g->cout + grp * g->cout_g + co0) * y_channel;
    for (int64_t p = 0; p < planes; p++)
      for (int64_t co = 0; co < kc; co++) {
        if (co + 1 < kc) { /* the next channel's plane, or its first lines */
          const CVT_T *next = gy_chunk + (co + 1) * y_channel + ws->kd_row[p];
          const int64_t span = min64(oH * oW, BWD_DATA_PLANE_PREFETCH / (int64_t)sizeof *next);
          for (int64_t i = 0; i < span; i += 64 / (int64_t)sizeof *next)
            __builtin_prefetch(next + i);
        }
        for (int64_t sh = 0; sh < hd->slots; sh++)
          for (int64_t sw = 0; sw < wd->slots; sw++) {
            CVT_T *dst = pack + (p * kc + co) * ldb + (sh * d->wslots + sw) * d->pitch;
            const CVT_T *src = gy_chunk + co * y_channel + ws->kd_row[p];
            for (int64_t jh = 0; jh < hd->len; jh++, dst += lenw) {
              const int64_t oh = (jh + hd->qmin) * g->stride[1] + hd->phase[sh];
              if (oh < 0 || oh >= oH)
                memset(dst, 0, (size_t)lenw * sizeof *dst);
              else
                pack_row(src + oh * oW, oW, g->stride[2], wd->phase[sw], wd->qmin, lenw, dst);
            }
            memset(dst, 0, (size_t)(lenw + d->nr) * sizeof *dst); /* the last tiles' overrun */
          }
      }
    for (int64_t b = 0; b < d->blocks; b++) {
      const int64_t ci0 = b * d->mr_max, mr = min64(d->mr_max, g->cin_g - ci0);
      const CVT_T *a_block = w_packed + block_offset(g, d->mr_max, grp, b);
      size_t batch = 0;
      for (int64_t p = 0; p < planes; p++)
        for (int64_t kh = 0; kh < kH; kh++) {
          if (hd->slot[kh] < 0) continue;
          for (int64_t kw = 0; kw < kW; kw++) {
            if (wd->slot[kw] < 0) continue;
            a_ptrs[batch] = a_block + ((ws->kd_tap[p] + kh * kW + kw) * g->cout_g + co0) * mr;
            b_ptrs[batch] = pack + p * kc * ldb +
                            (hd->slot[kh] * d->wslots + wd->slot[kw]) * d->pitch +
                            hd->shift[kh] * lenw + wd->shift[kw];
            batch++;
          }
        }
      for (int64_t t0 = 0; t0 < d->positions; t0 += d->nr) {
        if (t0 > 0)
          for (size_t k = 0; k < batch; k++) b_ptrs[k] += d->nr;
        if (!d->tile_out) {
          e->brgemm->fn.CVT_BRGEMM((size_t)mr, batch, (size_t)kc, a_ptrs, b_ptrs,
                                   (size_t)ldb, cbuf + ci0 * d->ldp + t0, (size_t)d->ldp);
          continue;
        }
        CVT_SET_ROWS(cbuf, d->nr, mr, d->nr, grp_bias ? grp_bias + ci0 : NULL);
        e->brgemm->fn.CVT_BRGEMM((size_t)mr, batch, (size_t)kc, a_ptrs, b_ptrs, (size_t)ldb,
                                 cbuf, (size_t)d->nr);
        /* Out to grad_input: the tile's positions t0 .. t0 + nr, row by row (row ih at
         * ih * lenw), but for the padding columns. */
        const int64_t t1 = min64(t0 + d->nr, d->positions);
        for (int64_t m = 0; m < mr; m++)
          for (int64_t ih = t0 / lenw; ih * lenw < t1; ih++) {
            const int64_t from = max64(t0, ih * lenw), to = min64(t1, ih * lenw + W);
            if (from < to)
              memcpy(gx_plane + (ci0 + m) * x_channel + ih * W + (from - ih * lenw),
                     cbuf + m * d->nr + (from - t0), (size_t)(to - from) * sizeof *gx);
          }
      }
    }
  }
  if (d->tile_out) return;
  /* Out to grad_input: row ih of the plane is at ih * lenw in the buffer. */
  for (int64_t ci = 0; ci < g->cin_g; ci++)
    for (int64_t ih = 0; ih < H; ih++)
      memcpy(gx_plane + ci * x_channel + ih * W, cbuf + ci * d->ldp + ih * lenw,
             (size_t)W * sizeof *gx);
}

/* The gemm cut (backward_data.c): Y built by all threads, then the calls, each thread
 * keeping its (block, tile) items from chunk to chunk of taps, then out to grad_input. */
static void CVT_GEMM(const cvt_exec *e, const bwd_data_dims *d, const CVT_T *gy,
                     CVT_T *gx) {
  const cvt_geometry *g = e->geo;
  const CVT_T *w_packed = e->weight, *bias = e->bias;
  const int64_t D = g->in[0], H = g->in[1], W = g->in[2];
  const int64_t oD = g->out[0], oH = g->out[1], oW = g->out[2];
  const int64_t kH = g->k[1], kW = g->k[2], taps = g->k[0] * kH * kW;
  const int64_t cin_g = g->cin_g, cout_g = g->cout_g, groups = g->groups;
  const int64_t x_channel = D * H * W, y_channel = oD * oH * oW;
  const int64_t nr = d->nr, mr_max = d->mr_max, ldy = d->ldy;
  bwd_data_gemm_ws ws;
  gemm_ws_layout(g, e->brgemm, e->num_threads, e->workspace, &ws);
  CVT_T *y = ws.y, *sums = ws.sums;

#pragma omp parallel num_threads(e->num_threads) if (e->num_threads > 1)
  {
    const int tid = cvt_thread_num();
    char *mine = ws.threads + (size_t)tid * ws.thread_bytes;
    const CVT_T **a_ptrs = (const CVT_T **)mine, **b_ptrs = a_ptrs + d->chunk;

    /* Y: row (group, tap, co), zero past the positions. An item is a tap of a block of
       BWD_DATA_GEMM_Y_CHANNELS grad_output channels (backward_data.c). */
    const int64_t cblocks = ceil_div(cout_g, BWD_DATA_GEMM_Y_CHANNELS);
#pragma omp for schedule(static)
    for (int64_t it = 0; it < groups * cblocks * taps; it++) {
      const int64_t tap = it % taps, cb = it / taps % cblocks, grp = it / taps / cblocks;
      const int64_t kd = tap / (kH * kW), kh = tap / kW % kH, kw = tap % kW;
      const int64_t co0 = cb * BWD_DATA_GEMM_Y_CHANNELS;
      const int64_t co1 = min64(cout_g, co0 + BWD_DATA_GEMM_Y_CHANNELS);
      /* along the width, column iw reads ow = (iw + q)*sW + r: live for [lo, hi) */
      const int64_t sw = g->stride[2], t = kw * g->dil[2] - g->pad[2];
      const int64_t q = floor_div(t, sw), r = t - q * sw;
      int64_t lo, hi;
      phase_row_range(oW, sw, r, q, W, &lo, &hi);
      CVT_T *y_block = y + ((grp * taps + tap) * cout_g + co0) * ldy;
      for (int64_t co = co0; co < co1; co++) /* the last tile's slack: a few lines */
        for (int64_t j = d->P; j < ldy; j++) y_block[(co - co0) * ldy + j] = 0;
      /* row by row of the positions, the block's channels in turn: a row's bounds once
         for all of them (rows of 1-5 elements on the small volumes this cut takes) */
      int64_t at = 0; /* the row's first position */
      for (int64_t n = 0; n < g->n; n++)
        for (int64_t id = 0; id < D; id++)
          for (int64_t ih = 0; ih < H; ih++, at += W) {
            const int64_t od = id * g->stride[0] - g->pad[0] + kd * g->dil[0];
            const int64_t oh = ih * g->stride[1] - g->pad[1] + kh * g->dil[1];
            /* no pointer into a row that is not read (it may lie past grad_output) */
            const bool live = od >= 0 && od < oD && oh >= 0 && oh < oH && lo < hi;
            const int64_t from = live ? lo : W, to = live ? hi : W;
            const CVT_T *row = gy + (n * g->cout + grp * cout_g + co0) * y_channel +
                               (live ? (od * oH + oh) * oW + r : 0);
            for (int64_t co = 0; co < co1 - co0; co++) {
              CVT_T *dst = y_block + co * ldy + at;
              const CVT_T *src = row + co * y_channel;
              for (int64_t iw = 0; iw < from; iw++) dst[iw] = 0;
              for (int64_t iw = from; iw < to; iw++) dst[iw] = src[(iw + q) * sw];
              for (int64_t iw = to; iw < W; iw++) dst[iw] = 0;
            }
          }
    }
    /* The sums, chunk by chunk of taps; an item is (group, ci block, position tile). */
    const int64_t items = groups * d->blocks * d->ptiles;
    for (int64_t t0 = 0; t0 < taps; t0 += d->chunk) {
      const int64_t tn = min64(d->chunk, taps - t0);
#pragma omp for schedule(static) nowait
      for (int64_t item = 0; item < items; item++) {
        const int64_t j0 = item % d->ptiles * nr, b = item / d->ptiles % d->blocks;
        const int64_t grp = item / d->ptiles / d->blocks;
        const int64_t ci0 = b * mr_max, mr = min64(mr_max, cin_g - ci0);
        CVT_T *c = sums + (grp * cin_g + ci0) * ldy + j0;
        if (t0 == 0)
          for (int64_t m = 0; m < mr; m++)
            for (int64_t j = 0; j < nr; j++)
              c[m * ldy + j] = bias ? bias[grp * cin_g + ci0 + m] : (CVT_T)0;
        const CVT_T *a = w_packed + block_offset(g, mr_max, grp, b);
        for (int64_t t = 0; t < tn; t++) {
          a_ptrs[t] = a + (t0 + t) * cout_g * mr;
          b_ptrs[t] = y + ((grp * taps + t0 + t) * cout_g) * ldy + j0;
        }
        e->brgemm->fn.CVT_BRGEMM((size_t)mr, (size_t)tn, (size_t)cout_g, a_ptrs, b_ptrs,
                                 (size_t)ldy, c, (size_t)ldy);
      }
    }
#pragma omp barrier
    /* Out to grad_input: each (n, channel) a run of D*H*W positions. */
#pragma omp for schedule(static)
    for (int64_t it = 0; it < g->n * g->cin; it++) {
      const int64_t n = it / g->cin, ci = it % g->cin;
      memcpy(gx + it * x_channel, sums + ci * ldy + n * x_channel,
             (size_t)x_channel * sizeof *gx);
    }
  }
}

static void CVT_FN(const cvt_exec *e, const void *grad_output, void *grad_input) {
  const cvt_geometry *g = e->geo;
  const bwd_data_dims d = dims_of(g, e->brgemm);
  if (d.gemm) {
    CVT_GEMM(e, &d, grad_output, grad_input);
    return;
  }
  const int64_t tasks =
      g->n * g->groups * g->in[0] * (d.planes ? 1 : ceil_div(g->in[1], d.band));

#pragma omp parallel num_threads(e->num_threads) if (e->num_threads > 1)
  {
    const int tid = cvt_thread_num();
    bwd_data_ws ws;
    ws_layout(g, e->brgemm, (char *)e->workspace + (size_t)tid * e->workspace_per_thread,
              &ws);
    bwd_axis hd = {0}, wd = {0};
    hd.slot = ws.hslot, hd.shift = ws.hshift, hd.phase = ws.hphase;
    wd.slot = ws.wslot, wd.shift = ws.wshift, wd.phase = ws.wphase;
    axis_of(g, 1, &hd);
    axis_of(g, 2, &wd);
    if (!d.planes) /* the rows' slack, once (the plane cut zeroes its own) */
      memset(ws.pack, 0, (size_t)d.pack_elems * sizeof(CVT_T));

#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; task++) {
      if (d.planes)
        CVT_PLANES(e, &d, &ws, &hd, &wd, grad_output, grad_input, task);
      else
        CVT_ROWS(e, &d, &ws, &wd, grad_output, grad_input, task);
    }
    if (d.stream) CVT_STREAM_FENCE(); /* this thread's streamed rows, before the barrier */
  }
}
