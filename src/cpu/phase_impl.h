/* Body of the phase algorithm for one element type. phase.c includes this file once per
 * dtype with CVT_T (element type), CVT_FN, CVT_PACK and CVT_SCATTER (this dtype's
 * function names) and CVT_BRGEMM (the member of the config's kernel union) defined.
 *
 * Tasks (n, group, od, band) are split statically across threads; a task's outputs are
 * written by that task only, and how a task is computed (bands, blocks, chunks, the order
 * of every sum) depends on the problem and the micro-kernel, never on the thread count:
 * results are bit-identical for any number of threads. */

/* Packs input channels [ci0, ci0 + kc) of the task's depth pairs as zero-padded planes:
 * plane row r, column c holds x[.., ih = jh0 + h.emin + r, iw = w.emin + c]. */
static void CVT_PACK(const CVT_T *x, const phase_task *t, const phase_dims *d, int64_t ci0,
                     int64_t kc, CVT_T *planes) {
  const int64_t ih0 = t->jh0 + d->h.emin, iw0 = d->w.emin;
  const int64_t a = iw0 < 0 ? -iw0 : 0;          /* first column inside the input */
  const int64_t b = min64(d->in_w - iw0, d->wp); /* one past the last */
  const int64_t plane = d->prow * d->wp;
  for (int64_t p = 0; p < t->npairs; p++)
    for (int64_t ci = 0; ci < kc; ci++) {
      const CVT_T *src = x + t->x_plane[p] + (ci0 + ci) * d->x_channel;
      CVT_T *dst = planes + (p * kc + ci) * plane;
      for (int64_t r = 0; r < d->prow; r++, dst += d->wp) {
        const int64_t ih = ih0 + r;
        if (ih < 0 || ih >= d->in_h || b <= a) {
          memset(dst, 0, (size_t)d->wp * sizeof *dst);
          continue;
        }
        if (a > 0) memset(dst, 0, (size_t)a * sizeof *dst);
        memcpy(dst + a, src + ih * d->in_w + iw0 + a, (size_t)(b - a) * sizeof *dst);
        if (b < d->wp) memset(dst + b, 0, (size_t)(d->wp - b) * sizeof *dst);
      }
    }
  /* The last tile of the last plane runs up to nr - 1 positions past it: keep those
   * (dropped) lanes reading defined values. */
  memset(planes + t->npairs * kc * plane, 0, (size_t)d->nr * sizeof *planes);
}

/* Writes the accumulated tiles of output channels [cc0, cc0 + ccn) to the task's rows.
 * cbuf holds, per channel, height phase and width phase, the band's positions r*wp + jw;
 * output (oh, ow) = (jh*sH + ch, jw*sW + cw). */
static void CVT_SCATTER(const cvt_geometry *g, const phase_dims *d, const phase_task *t,
                        const CVT_T *cbuf, int64_t cc0, int64_t ccn, CVT_T *y) {
  const int64_t sh = g->stride[1], sw = g->stride[2], oh_n = g->out[1], ow_n = g->out[2];
  const int64_t hp = d->h.phases, wph = d->w.phases;
  for (int64_t co = 0; co < ccn; co++)
    for (int64_t ch = 0; ch < hp; ch++)
      for (int64_t r = 0; r < d->bh; r++) {
        const int64_t oh = (t->jh0 + r) * sh + ch;
        if (oh >= oh_n) break;
        CVT_T *dst = y + t->y_plane + (cc0 + co) * d->y_channel + oh * ow_n;
        const CVT_T *src = cbuf + ((co * hp + ch) * wph) * d->ldc + r * d->wp;
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
          for (int64_t cw = 0; cw < wph; cw++)
            for (int64_t jw = 0, ow = cw; ow < ow_n; jw++, ow += sw)
              dst[ow] = src[cw * d->ldc + jw];
        }
      }
}

static void CVT_FN(const cvt_exec *e, const CVT_T *x, CVT_T *y) {
  const cvt_geometry *g = e->geo;
  const phase_dims d = phase_dims_of(g, e->brgemm);
  const int64_t tasks = g->n * g->groups * g->out[0] * d.bands;
  const int64_t hp = d.h.phases, wph = d.w.phases;
  const int64_t plane = d.prow * d.wp;
  const int64_t c_stride = hp * wph * d.ldc; /* between output channels in cbuf */
  const CVT_T *w_packed = e->weight, *bias = e->bias;

#pragma omp parallel num_threads(e->num_threads)
  {
    int tid = 0;
#ifdef _OPENMP
    tid = omp_get_thread_num();
#endif
    phase_workspace ws;
    workspace_layout(&d, (char *)e->workspace + (size_t)tid * e->workspace_per_thread, &ws);
    CVT_T *planes = ws.planes, *cbuf = ws.cbuf;
    const CVT_T **a_ptrs = (const CVT_T **)ws.a_ptrs, **b_ptrs = (const CVT_T **)ws.b_ptrs;
    phase_task t;
    t.x_plane = ws.x_plane;
    t.tap_d = ws.tap_d;

#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; task++) {
      phase_task_setup(g, &d, task, &t);

      if (t.npairs == 0) { /* no depth tap reaches this plane: bias (or 0) everywhere */
        const int64_t oh0 = t.jh0 * g->stride[1];
        const int64_t oh1 = min64(g->out[1], (t.jh0 + d.bh) * g->stride[1]);
        for (int64_t co = 0; co < g->cout_g; co++) {
          const CVT_T v = bias ? bias[t.group * g->cout_g + co] : (CVT_T)0;
          CVT_T *dst = y + t.y_plane + co * d.y_channel;
          for (int64_t i = oh0 * g->out[2]; i < oh1 * g->out[2]; i++) dst[i] = v;
        }
        continue;
      }

      const bool blocked = d.kc < g->cin_g;
      if (!blocked) CVT_PACK(x, &t, &d, 0, g->cin_g, planes);
      for (int64_t cc0 = 0; cc0 < g->cout_g; cc0 += d.cc) {
        const int64_t ccn = min64(d.cc, g->cout_g - cc0);
        for (int64_t ci0 = 0; ci0 < g->cin_g; ci0 += d.kc) {
          const int64_t kc = min64(d.kc, g->cin_g - ci0);
          if (blocked) CVT_PACK(x, &t, &d, ci0, kc, planes);
          for (int64_t co0 = cc0; co0 < cc0 + ccn; co0 += d.mr) {
            const int64_t mr = min64(d.mr, g->cout_g - co0);
            const CVT_T *w_block = w_packed + phase_weight_block_offset(g, t.group, co0);
            for (int64_t ch = 0; ch < hp; ch++) {
              phase_tap th[PHASE_MAX_TAPS];
              const int64_t nth =
                  phase_taps(ch, g->k[1], g->stride[1], g->pad[1], g->dil[1], th);
              for (int64_t cw = 0; cw < wph; cw++) {
                CVT_T *c = cbuf + ((co0 - cc0) * hp * wph + ch * wph + cw) * d.ldc;
                if (ci0 == 0) /* start from the bias */
                  for (int64_t m = 0; m < mr; m++) {
                    const CVT_T v = bias ? bias[t.group * g->cout_g + co0 + m] : (CVT_T)0;
                    for (int64_t i = 0; i < d.ldc; i++) c[m * c_stride + i] = v;
                  }
                phase_tap tw[PHASE_MAX_TAPS];
                const int64_t ntw =
                    phase_taps(cw, g->k[2], g->stride[2], g->pad[2], g->dil[2], tw);
                size_t batch = 0;
                for (int64_t p = 0; p < t.npairs; p++)
                  for (int64_t a = 0; a < nth; a++)
                    for (int64_t b = 0; b < ntw; b++) {
                      const int64_t tap = t.tap_d[p] + th[a].k * g->k[2] + tw[b].k;
                      a_ptrs[batch] = w_block + (tap * g->cin_g + ci0) * mr;
                      b_ptrs[batch] = planes + p * kc * plane + (th[a].e - d.h.emin) * d.wp +
                                      (tw[b].e - d.w.emin);
                      batch++;
                    }
                if (batch == 0) continue; /* no tap reaches this phase: bias only */
                int64_t at = 0; /* b_ptrs point at position `at` of the plane */
                for (int64_t tile = 0; tile < d.tiles; tile++) {
                  const int64_t start = tile_start(&d, tile);
                  if (t.jh0 + start / d.wp >= d.h.jmax) break; /* rows past the plane */
                  for (size_t i = 0; i < batch; i++) b_ptrs[i] += start - at;
                  at = start;
                  e->brgemm->fn.CVT_BRGEMM((size_t)mr, batch, (size_t)kc, a_ptrs, b_ptrs,
                                           (size_t)plane, c + start, (size_t)c_stride);
                }
              }
            }
          }
        }
        CVT_SCATTER(g, &d, &t, cbuf, cc0, ccn, y);
      }
    }
  }
}
