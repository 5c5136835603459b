/* The oracle: conv_transpose3d and its gradients computed straight from their definitions.
 *
 * Deliberately naive. Each output element is gathered from the inputs that reach it:
 *   y[n, g*Cout_g + co, o] = bias + sum over ci, kd, kh, kw of x[n, g*Cin_g + ci, i] *
 *   w[g*Cin_g + ci, co, kd, kh, kw]   where o = i*stride - padding + k*dilation per axis,
 * that is, input index i = (o + padding - k*dilation) / stride whenever that division is
 * exact and i lies in the input. Accumulation is in double for both dtypes, so for float32
 * problems the only rounding is the final conversion. Never optimise this file: every
 * fast path is tested against it. */
#include "../internal.h"

/* Input index along one axis reached from output index o by kernel tap k, or -1. */
static int64_t source_index(int64_t o, int64_t k, int64_t axis_in, int64_t stride,
                            int64_t pad, int64_t dil) {
  int64_t t = o + pad - k * dil;
  if (t < 0 || t % stride != 0) return -1;
  t /= stride;
  return t < axis_in ? t : -1;
}

static double load(convt3d_dtype dt, const void *p, int64_t i) {
  return dt == CONVT3D_F32 ? (double)((const float *)p)[i] : ((const double *)p)[i];
}

static void store(convt3d_dtype dt, void *p, int64_t i, double v) {
  if (dt == CONVT3D_F32) ((float *)p)[i] = (float)v;
  else ((double *)p)[i] = v;
}

void cvt_reference_forward(const cvt_exec *e, const void *x, void *y) {
  /* The oracle stays serial: its order of operations is obvious. */
  const cvt_geometry *g = e->geo;
  const void *w = e->weight, *bias = e->bias;
  const int64_t D = g->in[0], H = g->in[1], W = g->in[2];
  const int64_t oD = g->out[0], oH = g->out[1], oW = g->out[2];
  const int64_t kD = g->k[0], kH = g->k[1], kW = g->k[2];
  for (int64_t n = 0; n < g->n; n++)
    for (int64_t grp = 0; grp < g->groups; grp++)
      for (int64_t co = 0; co < g->cout_g; co++) {
        const int64_t oc = grp * g->cout_g + co;
        for (int64_t od = 0; od < oD; od++)
          for (int64_t oh = 0; oh < oH; oh++)
            for (int64_t ow = 0; ow < oW; ow++) {
              double acc = g->has_bias ? load(g->dtype, bias, oc) : 0.0;
              for (int64_t ci = 0; ci < g->cin_g; ci++) {
                const int64_t ic = grp * g->cin_g + ci;
                for (int64_t kd = 0; kd < kD; kd++) {
                  int64_t id = source_index(od, kd, D, g->stride[0], g->pad[0], g->dil[0]);
                  if (id < 0) continue;
                  for (int64_t kh = 0; kh < kH; kh++) {
                    int64_t ih = source_index(oh, kh, H, g->stride[1], g->pad[1], g->dil[1]);
                    if (ih < 0) continue;
                    for (int64_t kw = 0; kw < kW; kw++) {
                      int64_t iw =
                          source_index(ow, kw, W, g->stride[2], g->pad[2], g->dil[2]);
                      if (iw < 0) continue;
                      int64_t xi = (((n * g->cin + ic) * D + id) * H + ih) * W + iw;
                      int64_t wi = (((ic * g->cout_g + co) * kD + kd) * kH + kh) * kW + kw;
                      acc += load(g->dtype, x, xi) * load(g->dtype, w, wi);
                    }
                  }
                }
              }
              store(g->dtype, y, (((n * g->cout + oc) * oD + od) * oH + oh) * oW + ow, acc);
            }
      }
}

/* grad_input: for each input position, every tap that carried it to an output position
 * inside the output, gathered from grad_output; plus conv3d's bias when given. */
void cvt_reference_backward_data(const cvt_exec *e, const void *gy, void *gx) {
  const cvt_geometry *g = e->geo;
  const void *w = e->weight, *bias = e->bias;
  const int64_t D = g->in[0], H = g->in[1], W = g->in[2];
  const int64_t oD = g->out[0], oH = g->out[1], oW = g->out[2];
  const int64_t kD = g->k[0], kH = g->k[1], kW = g->k[2];
  for (int64_t n = 0; n < g->n; n++)
    for (int64_t ic = 0; ic < g->cin; ic++) {
      const int64_t grp = ic / g->cin_g;
      for (int64_t id = 0; id < D; id++)
        for (int64_t ih = 0; ih < H; ih++)
          for (int64_t iw = 0; iw < W; iw++) {
            double acc = bias ? load(g->dtype, bias, ic) : 0.0;
            for (int64_t co = 0; co < g->cout_g; co++) {
              const int64_t oc = grp * g->cout_g + co;
              for (int64_t kd = 0; kd < kD; kd++) {
                const int64_t od = id * g->stride[0] - g->pad[0] + kd * g->dil[0];
                if (od < 0 || od >= oD) continue;
                for (int64_t kh = 0; kh < kH; kh++) {
                  const int64_t oh = ih * g->stride[1] - g->pad[1] + kh * g->dil[1];
                  if (oh < 0 || oh >= oH) continue;
                  for (int64_t kw = 0; kw < kW; kw++) {
                    const int64_t ow = iw * g->stride[2] - g->pad[2] + kw * g->dil[2];
                    if (ow < 0 || ow >= oW) continue;
                    const int64_t yi = (((n * g->cout + oc) * oD + od) * oH + oh) * oW + ow;
                    const int64_t wi = (((ic * g->cout_g + co) * kD + kd) * kH + kh) * kW + kw;
                    acc += load(g->dtype, gy, yi) * load(g->dtype, w, wi);
                  }
                }
              }
            }
            store(g->dtype, gx, (((n * g->cin + ic) * D + id) * H + ih) * W + iw, acc);
          }
    }
}

/* grad_weight: for each weight element, the products of every input with the
 * grad_output element its tap carried it to; grad_bias: grad_output summed per channel. */
void cvt_reference_backward_weight(const cvt_exec *e, const void *x, const void *gy,
                                   void *gw, void *gb) {
  const cvt_geometry *g = e->geo;
  const int64_t D = g->in[0], H = g->in[1], W = g->in[2];
  const int64_t oD = g->out[0], oH = g->out[1], oW = g->out[2];
  const int64_t kD = g->k[0], kH = g->k[1], kW = g->k[2];
  for (int64_t ic = 0; ic < g->cin; ic++) {
    const int64_t grp = ic / g->cin_g;
    for (int64_t co = 0; co < g->cout_g; co++) {
      const int64_t oc = grp * g->cout_g + co;
      for (int64_t kd = 0; kd < kD; kd++)
        for (int64_t kh = 0; kh < kH; kh++)
          for (int64_t kw = 0; kw < kW; kw++) {
            double acc = 0.0;
            for (int64_t n = 0; n < g->n; n++)
              for (int64_t id = 0; id < D; id++) {
                const int64_t od = id * g->stride[0] - g->pad[0] + kd * g->dil[0];
                if (od < 0 || od >= oD) continue;
                for (int64_t ih = 0; ih < H; ih++) {
                  const int64_t oh = ih * g->stride[1] - g->pad[1] + kh * g->dil[1];
                  if (oh < 0 || oh >= oH) continue;
                  for (int64_t iw = 0; iw < W; iw++) {
                    const int64_t ow = iw * g->stride[2] - g->pad[2] + kw * g->dil[2];
                    if (ow < 0 || ow >= oW) continue;
                    const int64_t xi = (((n * g->cin + ic) * D + id) * H + ih) * W + iw;
                    const int64_t yi = (((n * g->cout + oc) * oD + od) * oH + oh) * oW + ow;
                    acc += load(g->dtype, x, xi) * load(g->dtype, gy, yi);
                  }
                }
              }
            store(g->dtype, gw, (((ic * g->cout_g + co) * kD + kd) * kH + kh) * kW + kw, acc);
          }
    }
  }
  if (!gb) return;
  const int64_t plane = oD * oH * oW;
  for (int64_t oc = 0; oc < g->cout; oc++) {
    double acc = 0.0;
    for (int64_t n = 0; n < g->n; n++)
      for (int64_t i = 0; i < plane; i++) acc += load(g->dtype, gy, (n * g->cout + oc) * plane + i);
    store(g->dtype, gb, oc, acc);
  }
}
