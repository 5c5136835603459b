/* The oneDNN side of `convt3d bench`: oneDNN's deconvolution forward on the same problem,
 * through its C API (dnnl.h) so the tool stays in C. Built only when CMake finds oneDNN;
 * linked into the CLI, never into the library.
 *
 * Two setups, as a user of oneDNN would write them (see ALGORITHMS.md 1.3, 1.4, 1.6):
 * - ANY: src, weights and dst descriptors use format_tag::any, so oneDNN picks its fastest
 *   layout (nCdhw16c + blocked weights on AVX-512). The NCDHW input and the weights are
 *   reordered into it here, once: execute() times the deconvolution alone.
 * - PLAIN: src/dst ncdhw and weights in PyTorch's (Cin, Cout/g, k...) order, which is
 *   iodhw (giodhw with groups) for oneDNN, whose deconvolution weights are logically
 *   (OC, IC, k...). oneDNN 2.6 then runs GEMM + col2im.
 * The output is read back through a reorder to NCDHW so bench.c can verify it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dnnl.h>
#include <dnnl_debug.h>

#include "bench.h"

struct bench_onednn {
  dnnl_primitive_t deconv;
  dnnl_memory_t src, wei, bias, dst;
  dnnl_memory_desc_t dst_md; /* dst's layout as oneDNN chose it */
  const char *impl;          /* owned by the primitive descriptor, kept alive below */
  dnnl_primitive_desc_t pd;
};

/* One CPU engine and stream serve every problem; creating them costs milliseconds. */
static dnnl_engine_t engine;
static dnnl_stream_t stream;

const char *bench_onednn_version(void) {
  static char buf[32];
  const dnnl_version_t *v = dnnl_version();
  snprintf(buf, sizeof buf, "%d.%d.%d", v->major, v->minor, v->patch);
  return buf;
}

void bench_onednn_shutdown(void) {
  if (stream) dnnl_stream_destroy(stream);
  if (engine) dnnl_engine_destroy(engine);
  stream = NULL;
  engine = NULL;
}

/* Runs a reorder from `from` into `to` (both memory objects) and waits for it. */
static dnnl_status_t reorder(dnnl_memory_t from, dnnl_memory_t to) {
  const dnnl_memory_desc_t *fmd, *tmd;
  dnnl_primitive_desc_t rpd = NULL;
  dnnl_primitive_t r = NULL;
  dnnl_status_t s;
  if ((s = dnnl_memory_get_memory_desc(from, &fmd)) != dnnl_success ||
      (s = dnnl_memory_get_memory_desc(to, &tmd)) != dnnl_success ||
      (s = dnnl_reorder_primitive_desc_create(&rpd, fmd, engine, tmd, engine, NULL)) !=
          dnnl_success ||
      (s = dnnl_primitive_create(&r, rpd)) != dnnl_success)
    goto done;
  dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
  if ((s = dnnl_primitive_execute(r, stream, 2, args)) == dnnl_success)
    s = dnnl_stream_wait(stream);
done:
  dnnl_primitive_destroy(r);
  dnnl_primitive_desc_destroy(rpd);
  return s;
}

/* A memory object in the layout the primitive asks for (`what`), holding the user's data
 * given in `user_tag`: the user buffer itself when the layouts agree, else a reordered
 * copy owned by oneDNN. */
static dnnl_status_t memory_for(dnnl_primitive_desc_t pd, dnnl_query_t what, int index, int ndims,
                                const dnnl_dims_t dims, dnnl_format_tag_t user_tag,
                                const float *data, dnnl_memory_t *out) {
  const dnnl_memory_desc_t *want = dnnl_primitive_desc_query_md(pd, what, index);
  dnnl_memory_desc_t user_md;
  dnnl_memory_t user = NULL;
  dnnl_status_t s;
  *out = NULL;
  if (!want) return dnnl_runtime_error;
  if ((s = dnnl_memory_desc_init_by_tag(&user_md, ndims, dims, dnnl_f32, user_tag)) != dnnl_success)
    return s;
  /* oneDNN only reads src, weights and bias, so handing it the const buffer is safe. */
  if (dnnl_memory_desc_equal(&user_md, want))
    return dnnl_memory_create(out, want, engine, (void *)data);
  if ((s = dnnl_memory_create(&user, &user_md, engine, (void *)data)) != dnnl_success ||
      (s = dnnl_memory_create(out, want, engine, DNNL_MEMORY_ALLOCATE)) != dnnl_success ||
      (s = reorder(user, *out)) != dnnl_success) {
    dnnl_memory_destroy(*out);
    *out = NULL;
  }
  dnnl_memory_destroy(user);
  return s;
}

bench_onednn *bench_onednn_create(const convt3d_problem *p, bench_onednn_layout layout,
                                  const float *x, const float *w, const float *b, char *why,
                                  size_t why_size) {
  const char *step = "engine";
  dnnl_status_t s = dnnl_success;
  bench_onednn *o = calloc(1, sizeof *o);
  if (!o) {
    snprintf(why, why_size, "out of memory");
    return NULL;
  }
  if (!engine &&
      ((s = dnnl_engine_create(&engine, dnnl_cpu, 0)) != dnnl_success ||
       (s = dnnl_stream_create(&stream, engine, dnnl_stream_default_flags)) != dnnl_success))
    goto fail;

  const int64_t g = p->groups, cin = p->weight.dims[0], cout_g = p->weight.dims[1];
  convt3d_shape out;
  if (convt3d_output_shape(p, &out) != CONVT3D_OK) {
    snprintf(why, why_size, "%s", convt3d_last_error());
    free(o);
    return NULL;
  }
  dnnl_dims_t src_dims = {p->input.dims[0], cin, p->input.dims[2], p->input.dims[3],
                          p->input.dims[4]};
  dnnl_dims_t dst_dims = {out.dims[0], out.dims[1], out.dims[2], out.dims[3], out.dims[4]};
  dnnl_dims_t bias_dims = {g * cout_g};
  /* Logical weight dims are ([G,] OC/G, IC/G, k...); the plain tags put IC first in
   * memory, matching PyTorch's (Cin, Cout/g, k...). */
  dnnl_dims_t wei_dims;
  int wei_ndims = g > 1 ? 6 : 5, lead = 0;
  if (g > 1) wei_dims[lead++] = g;
  wei_dims[lead++] = cout_g;
  wei_dims[lead++] = cin / g;
  for (int a = 0; a < 3; a++)
    wei_dims[lead + a] = p->weight.dims[2 + a];
  const dnnl_format_tag_t wei_tag = g > 1 ? dnnl_giodhw : dnnl_iodhw;

  /* oneDNN counts dilation from 0 and pads the high side separately: PyTorch's
   * output_padding is padding taken back on the high side. */
  dnnl_dims_t strides, dilates, pad_l, pad_r;
  for (int a = 0; a < 3; a++) {
    strides[a] = p->stride[a];
    dilates[a] = p->dilation[a] - 1;
    pad_l[a] = p->padding[a];
    pad_r[a] = p->padding[a] - p->output_padding[a];
  }

  const int any = layout == BENCH_ONEDNN_ANY;
  dnnl_memory_desc_t src_md, wei_md, bias_md, dst_md;
  dnnl_deconvolution_desc_t dd;
  step = "descriptor";
  if ((s = dnnl_memory_desc_init_by_tag(&src_md, 5, src_dims, dnnl_f32,
                                        any ? dnnl_format_tag_any : dnnl_ncdhw)) ||
      (s = dnnl_memory_desc_init_by_tag(&wei_md, wei_ndims, wei_dims, dnnl_f32,
                                        any ? dnnl_format_tag_any : wei_tag)) ||
      (s = dnnl_memory_desc_init_by_tag(&bias_md, 1, bias_dims, dnnl_f32, dnnl_x)) ||
      (s = dnnl_memory_desc_init_by_tag(&dst_md, 5, dst_dims, dnnl_f32,
                                        any ? dnnl_format_tag_any : dnnl_ncdhw)) ||
      (s = dnnl_dilated_deconvolution_forward_desc_init(
           &dd, dnnl_forward_inference, dnnl_deconvolution_direct, &src_md, &wei_md,
           b ? &bias_md : NULL, &dst_md, strides, dilates, pad_l, pad_r)))
    goto fail;
  step = "primitive descriptor";
  if ((s = dnnl_primitive_desc_create(&o->pd, &dd, NULL, engine, NULL))) goto fail;
  if (dnnl_primitive_desc_query(o->pd, dnnl_query_impl_info_str, 0, &o->impl) != dnnl_success)
    o->impl = "?";
  step = "primitive";
  if ((s = dnnl_primitive_create(&o->deconv, o->pd))) goto fail;
  step = "memory";
  /* Bias is the primitive's second weights tensor (index 1). */
  if ((s = memory_for(o->pd, dnnl_query_src_md, 0, 5, src_dims, dnnl_ncdhw, x, &o->src)) ||
      (s = memory_for(o->pd, dnnl_query_weights_md, 0, wei_ndims, wei_dims, wei_tag, w, &o->wei)) ||
      (b && (s = memory_for(o->pd, dnnl_query_weights_md, 1, 1, bias_dims, dnnl_x, b, &o->bias))))
    goto fail;
  o->dst_md = *dnnl_primitive_desc_query_md(o->pd, dnnl_query_dst_md, 0);
  if ((s = dnnl_memory_create(&o->dst, &o->dst_md, engine, DNNL_MEMORY_ALLOCATE))) goto fail;
  return o;

fail:
  snprintf(why, why_size, "oneDNN %s: %s", step, dnnl_status2str(s));
  bench_onednn_destroy(o);
  return NULL;
}

int bench_onednn_execute(bench_onednn *o) {
  dnnl_exec_arg_t args[4] = {
      {DNNL_ARG_SRC, o->src}, {DNNL_ARG_WEIGHTS, o->wei}, {DNNL_ARG_DST, o->dst}};
  int n = 3;
  if (o->bias) args[n++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, o->bias};
  if (dnnl_primitive_execute(o->deconv, stream, n, args) != dnnl_success) return -1;
  return dnnl_stream_wait(stream) == dnnl_success ? 0 : -1;
}

int bench_onednn_output(bench_onednn *o, float *y) {
  dnnl_memory_desc_t md;
  dnnl_memory_t user = NULL;
  if (dnnl_memory_desc_init_by_tag(&md, 5, o->dst_md.dims, dnnl_f32, dnnl_ncdhw) ||
      dnnl_memory_create(&user, &md, engine, y))
    return -1;
  int rc = reorder(o->dst, user) == dnnl_success ? 0 : -1;
  dnnl_memory_destroy(user);
  return rc;
}

const char *bench_onednn_impl(const bench_onednn *o) { return o->impl; }

void bench_onednn_destroy(bench_onednn *o) {
  if (!o) return;
  dnnl_primitive_destroy(o->deconv);
  dnnl_memory_destroy(o->src);
  dnnl_memory_destroy(o->wei);
  dnnl_memory_destroy(o->bias);
  dnnl_memory_destroy(o->dst);
  dnnl_primitive_desc_destroy(o->pd);
  free(o);
}
