/* Body of the direct algorithm for one element type. direct.c includes this file once per
 * dtype, with CVT_T (the element type) and CVT_DIRECT (the function's name) defined. */

/* Work unit: one output plane y[n, oc, od, :, :]. A unit is written by one thread only,
 * so there are no write conflicts, and every output element receives its terms in the
 * same fixed order, (ci, kd, kh, kw) lexicographic after the bias, whatever the thread
 * count: results are bit-identical across thread counts and runs.
 *
 * Within a unit the depth axis is gathered (only the kd taps whose input plane id exists
 * are visited) and the height/width axes are scattered from each contributing input row,
 * restricted to the input ranges whose outputs land inside the plane. No multiplication
 * by an inserted zero or a cropped tap ever happens. */
static void CVT_DIRECT(const cvt_geometry *g, const CVT_T *x, const CVT_T *w,
                       const CVT_T *bias, CVT_T *y, int num_threads) {
  const int64_t D = g->in[0], H = g->in[1], W = g->in[2];
  const int64_t oD = g->out[0], oH = g->out[1], oW = g->out[2];
  const int64_t kD = g->k[0], kH = g->k[1], kW = g->k[2];
  const int64_t sD = g->stride[0], sH = g->stride[1], sW = g->stride[2];
  const int64_t pD = g->pad[0], pH = g->pad[1], pW = g->pad[2];
  const int64_t dD = g->dil[0], dH = g->dil[1], dW = g->dil[2];
  const int64_t plane = oH * oW;
  const int64_t units = g->n * g->cout * oD;
  (void)num_threads; /* unused without OpenMP */

#pragma omp parallel for schedule(static) num_threads(num_threads) if (num_threads > 1)
  for (int64_t u = 0; u < units; u++) {
    const int64_t od = u % oD, oc = (u / oD) % g->cout, n = u / oD / g->cout;
    const int64_t grp = oc / g->cout_g, co = oc % g->cout_g;
    CVT_T *yp = y + u * plane; /* u * plane == ((n*Cout + oc)*oD + od)*oH*oW */
    const CVT_T b = g->has_bias ? bias[oc] : (CVT_T)0;
    for (int64_t i = 0; i < plane; i++) yp[i] = b;

    for (int64_t ci = 0; ci < g->cin_g; ci++) {
      const int64_t ic = grp * g->cin_g + ci;
      for (int64_t kd = 0; kd < kD; kd++) {
        const int64_t t = od + pD - kd * dD; /* = id * sD for the input plane id */
        if (t < 0 || t % sD != 0 || t / sD >= D) continue;
        const int64_t id = t / sD;
        const CVT_T *xp = x + ((n * g->cin + ic) * D + id) * H * W;
        const CVT_T *wp = w + ((ic * g->cout_g + co) * kD + kd) * kH * kW;
        for (int64_t kh = 0; kh < kH; kh++) {
          const axis_range rh = input_range(H, oH, sH, pH, kh * dH);
          for (int64_t ih = rh.lo; ih < rh.hi; ih++) {
            const CVT_T *xr = xp + ih * W;
            CVT_T *yr = yp + (ih * sH - pH + kh * dH) * oW;
            for (int64_t kw = 0; kw < kW; kw++) {
              const CVT_T wv = wp[kh * kW + kw];
              const axis_range rw = input_range(W, oW, sW, pW, kw * dW);
              const int64_t off = kw * dW - pW; /* input iw lands on yr[iw*sW + off] */
              if (sW == 1)
                for (int64_t iw = rw.lo; iw < rw.hi; iw++) yr[iw + off] += xr[iw] * wv;
              else
                for (int64_t iw = rw.lo; iw < rw.hi; iw++) yr[iw * sW + off] += xr[iw] * wv;
            }
          }
        }
      }
    }
  }
}
