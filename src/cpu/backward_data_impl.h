/* Body of the backward-data pass for one element type. backward_data.c includes this
 * file once per dtype with CVT_T (element type), CVT_FN and CVT_PACK_ROW (this dtype's
 * functions) and CVT_BRGEMM (the member of the config's kernel union) defined. */

/* Packs one width phase of one grad_output row: dst[j] = src[(j + qmin)*sW + r] where
 * that column exists, 0 elsewhere, for j < len. */
static void CVT_PACK_ROW(const CVT_T *src, int64_t oW, int64_t sw, int64_t r, int64_t qmin,
                         int64_t len, CVT_T *dst) {
  /* column (j + qmin)*sw + r lies in [0, oW) for j in [lo, hi) */
  const int64_t lo = min64(len, max64(0, -qmin));
  const int64_t hi = oW - 1 - r < 0 ? lo : max64(lo, min64(len, (oW - 1 - r) / sw - qmin + 1));
  memset(dst, 0, (size_t)lo * sizeof *dst);
  if (sw == 1) {
    memcpy(dst + lo, src + lo + qmin, (size_t)(hi - lo) * sizeof *dst);
  } else {
    const CVT_T *s = src + (lo + qmin) * sw + r;
    for (int64_t j = lo; j < hi; j++, s += sw) dst[j] = *s;
  }
  memset(dst + hi, 0, (size_t)(len - hi) * sizeof *dst);
}

static void CVT_FN(const cvt_exec *e, const void *grad_output, void *grad_input) {
  const cvt_geometry *g = e->geo;
  const cvt_brgemm_config *cfg = e->brgemm;
  const bwd_data_dims d = dims_of(g, cfg);
  const CVT_T *gy = grad_output, *w_packed = e->weight, *bias = e->bias;
  CVT_T *gx = grad_input;
  const int64_t D = g->in[0], H = g->in[1], W = g->in[2];
  const int64_t oD = g->out[0], oH = g->out[1], oW = g->out[2];
  const int64_t kH = g->k[1], kW = g->k[2];
  const int64_t x_channel = D * H * W, y_channel = oD * oH * oW;
  const int64_t tasks = g->n * g->groups * D * H;
  const int64_t ldb = d.slots * d.len; /* between grad_output channels in the pack */

#pragma omp parallel num_threads(e->num_threads) if (e->num_threads > 1)
  {
    int tid = 0;
#ifdef _OPENMP
    tid = omp_get_thread_num();
#endif
    bwd_data_ws ws;
    ws_layout(g, cfg, (char *)e->workspace + (size_t)tid * e->workspace_per_thread, &ws);
    bwd_width wd = {0};
    wd.slot = ws.slot;
    wd.shift = ws.shift;
    wd.phase = ws.phase;
    width_of(g, d.nr, &wd);
    CVT_T *pack = ws.pack, *tile = ws.tile;
    const CVT_T **a_ptrs = (const CVT_T **)ws.a_ptrs, **b_ptrs = (const CVT_T **)ws.b_ptrs;

#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; task++) {
      const int64_t ih = task % H, id = task / H % D, grp = task / H / D % g->groups;
      const int64_t n = task / H / D / g->groups;
      CVT_T *gx_rows = gx + ((n * g->cin + grp * g->cin_g) * D + id) * H * W + ih * W;
      for (int64_t ci = 0; ci < g->cin_g; ci++) {
        const CVT_T v = bias ? bias[grp * g->cin_g + ci] : (CVT_T)0;
        CVT_T *row = gx_rows + ci * x_channel;
        for (int64_t iw = 0; iw < W; iw++) row[iw] = v;
      }
      /* The (kd, kh) taps whose grad_output row exists. */
      int64_t pairs = 0;
      for (int64_t kd = 0; kd < g->k[0]; kd++) {
        const int64_t od = id * g->stride[0] - g->pad[0] + kd * g->dil[0];
        if (od < 0 || od >= oD) continue;
        for (int64_t kh = 0; kh < kH; kh++) {
          const int64_t oh = ih * g->stride[1] - g->pad[1] + kh * g->dil[1];
          if (oh < 0 || oh >= oH) continue;
          ws.pair_row[pairs] = (od * oH + oh) * oW;
          ws.pair_tap[pairs] = (kd * kH + kh) * kW;
          pairs++;
        }
      }
      if (pairs == 0 || wd.live == 0) continue; /* no tap reaches: bias only */

      for (int64_t co0 = 0; co0 < g->cout_g; co0 += d.kc) {
        const int64_t kc = min64(d.kc, g->cout_g - co0);
        const CVT_T *gy_chunk = gy + (n * g->cout + grp * g->cout_g + co0) * y_channel;
        for (int64_t p = 0; p < pairs; p++)
          for (int64_t co = 0; co < kc; co++)
            for (int64_t s = 0; s < wd.slots; s++)
              CVT_PACK_ROW(gy_chunk + co * y_channel + ws.pair_row[p], oW, g->stride[2],
                           wd.phase[s], wd.qmin, d.len,
                           pack + ((p * kc + co) * d.slots + s) * d.len);
        for (int64_t b = 0; b < d.blocks; b++) {
          const int64_t ci0 = b * d.mr_max, mr = min64(d.mr_max, g->cin_g - ci0);
          const CVT_T *a_block = w_packed + block_offset(g, d.mr_max, grp, b);
          size_t batch = 0;
          for (int64_t p = 0; p < pairs; p++)
            for (int64_t kw = 0; kw < kW; kw++) {
              if (wd.slot[kw] < 0) continue;
              a_ptrs[batch] = a_block + ((ws.pair_tap[p] + kw) * g->cout_g + co0) * mr;
              b_ptrs[batch] = pack + (p * kc * d.slots + wd.slot[kw]) * d.len + wd.shift[kw];
              batch++;
            }
          CVT_T *c = gx_rows + ci0 * x_channel;
          for (int64_t iw0 = 0; iw0 < W; iw0 += d.nr) {
            if (iw0 > 0)
              for (size_t k = 0; k < batch; k++) b_ptrs[k] += d.nr;
            if (iw0 + d.nr <= W) {
              e->brgemm->fn.CVT_BRGEMM((size_t)mr, batch, (size_t)kc, a_ptrs, b_ptrs,
                                       (size_t)ldb, c + iw0, (size_t)x_channel);
              continue;
            }
            /* The row's last tile: on a copy, whose extra lanes are dropped. */
            const int64_t valid = W - iw0;
            for (int64_t m = 0; m < mr; m++) {
              memcpy(tile + m * d.nr, c + m * x_channel + iw0, (size_t)valid * sizeof *tile);
              memset(tile + m * d.nr + valid, 0, (size_t)(d.nr - valid) * sizeof *tile);
            }
            e->brgemm->fn.CVT_BRGEMM((size_t)mr, batch, (size_t)kc, a_ptrs, b_ptrs,
                                     (size_t)ldb, tile, (size_t)d.nr);
            for (int64_t m = 0; m < mr; m++)
              memcpy(c + m * x_channel + iw0, tile + m * d.nr, (size_t)valid * sizeof *tile);
          }
        }
      }
    }
  }
}
