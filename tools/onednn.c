/* The oneDNN side of `convt3d bench`: oneDNN's deconvolution on the same problem, forward
 * or backward, through its C API (dnnl.h) so the tool stays in C. Built only when CMake
 * finds oneDNN; linked into the CLI, never into the library.
 *
 * Two setups, as a user of oneDNN would write them (see ALGORITHMS.md 1.3, 1.4, 1.6):
 * - ANY: every memory descriptor uses format_tag::any, so oneDNN picks its fastest layout
 *   (nCdhw16c + blocked weights on AVX-512). The pass's inputs are reordered into it here,
 *   once: execute() times the primitive alone.
 * - PLAIN: activations ncdhw and weights in PyTorch's (Cin, Cout/g, k...) order, which is
 *   iodhw (giodhw with groups) for oneDNN, whose deconvolution weights are logically
 *   (OC, IC, k...). oneDNN 2.6 then runs GEMM + col2im (or im2col for the backward passes).
 * The backward primitives take a forward_training primitive descriptor of the same
 * problem and layouts as their hint. The result is read back through a reorder into the
 * bench's layout (NCDHW; grad_weight in PyTorch's order) so bench.c can verify it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dnnl.h>
#include <dnnl_debug.h>

#include "bench.h"

enum { MAX_ARGS = 4 }; /* FWD: src, weights, bias, dst; BWD_W: src, diff_dst, dw, db */

struct bench_onednn {
  dnnl_primitive_t prim;
  dnnl_primitive_desc_t pd, hint; /* hint: the backward passes' forward pd, else NULL */
  dnnl_exec_arg_t args[MAX_ARGS];
  int nargs;
  /* The result: args[result] (dst, diff_src or diff_weights), in the user's layout
   * result_md; for BWD_W, diff_bias follows at args[result + 1] when has_bias. */
  int result, has_bias;
  dnnl_memory_desc_t result_md;
  const char *impl; /* owned by the primitive descriptor, kept alive below */
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

/* A memory object in the layout the primitive asks for (`what`, `index`), holding the
 * user's data laid out as user_md: the user buffer itself when the layouts agree, else a
 * reordered copy owned by oneDNN. */
static dnnl_status_t memory_for(dnnl_primitive_desc_t pd, dnnl_query_t what, int index,
                                const dnnl_memory_desc_t *user_md, const float *data,
                                dnnl_memory_t *out) {
  const dnnl_memory_desc_t *want = dnnl_primitive_desc_query_md(pd, what, index);
  dnnl_memory_t user = NULL;
  dnnl_status_t s;
  *out = NULL;
  if (!want) return dnnl_runtime_error;
  /* oneDNN only reads the inputs, so handing it the const buffer is safe. */
  if (dnnl_memory_desc_equal(user_md, want))
    return dnnl_memory_create(out, want, engine, (void *)data);
  if ((s = dnnl_memory_create(&user, user_md, engine, (void *)data)) != dnnl_success ||
      (s = dnnl_memory_create(out, want, engine, DNNL_MEMORY_ALLOCATE)) != dnnl_success ||
      (s = reorder(user, *out)) != dnnl_success) {
    dnnl_memory_destroy(*out);
    *out = NULL;
  }
  dnnl_memory_destroy(user);
  return s;
}

/* Adds an argument: the user's `data` (layout user_md) for an input, in the layout the
 * primitive wants (what, index), or, with data NULL, a fresh memory object for a result. */
static dnnl_status_t add_arg(bench_onednn *o, int arg, dnnl_query_t what, int index,
                             const dnnl_memory_desc_t *user_md, const float *data) {
  dnnl_memory_t m = NULL;
  dnnl_status_t s = data ? memory_for(o->pd, what, index, user_md, data, &m)
                         : dnnl_memory_create(&m, dnnl_primitive_desc_query_md(o->pd, what, index),
                                              engine, DNNL_MEMORY_ALLOCATE);
  if (s == dnnl_success) o->args[o->nargs++] = (dnnl_exec_arg_t){arg, m};
  return s;
}

bench_onednn *bench_onednn_create(const convt3d_problem *p, bench_pass pass,
                                  bench_onednn_layout layout, const float *x, const float *w,
                                  const float *b, const float *dy, char *why, size_t why_size) {
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

  /* The user's layouts (those of the bench's buffers), and the primitive's: the same, or
   * format_tag::any. */
  const int any = layout == BENCH_ONEDNN_ANY;
  const bool bias = b != NULL;
  dnnl_memory_desc_t src_u, wei_u, bias_md, dst_u, src_md, wei_md, dst_md;
  dnnl_deconvolution_desc_t fd, bd;
  step = "descriptor";
  if ((s = dnnl_memory_desc_init_by_tag(&src_u, 5, src_dims, dnnl_f32, dnnl_ncdhw)) ||
      (s = dnnl_memory_desc_init_by_tag(&wei_u, wei_ndims, wei_dims, dnnl_f32, wei_tag)) ||
      (s = dnnl_memory_desc_init_by_tag(&bias_md, 1, bias_dims, dnnl_f32, dnnl_x)) ||
      (s = dnnl_memory_desc_init_by_tag(&dst_u, 5, dst_dims, dnnl_f32, dnnl_ncdhw)) ||
      (s = dnnl_memory_desc_init_by_tag(&src_md, 5, src_dims, dnnl_f32,
                                        any ? dnnl_format_tag_any : dnnl_ncdhw)) ||
      (s = dnnl_memory_desc_init_by_tag(&wei_md, wei_ndims, wei_dims, dnnl_f32,
                                        any ? dnnl_format_tag_any : wei_tag)) ||
      (s = dnnl_memory_desc_init_by_tag(&dst_md, 5, dst_dims, dnnl_f32,
                                        any ? dnnl_format_tag_any : dnnl_ncdhw)) ||
      (s = dnnl_dilated_deconvolution_forward_desc_init(
           &fd, pass == BENCH_PASS_FWD ? dnnl_forward_inference : dnnl_forward_training,
           dnnl_deconvolution_direct, &src_md, &wei_md, bias ? &bias_md : NULL, &dst_md, strides,
           dilates, pad_l, pad_r)) ||
      (pass == BENCH_PASS_BWD_D && (s = dnnl_dilated_deconvolution_backward_data_desc_init(
                                        &bd, dnnl_deconvolution_direct, &src_md, &wei_md, &dst_md,
                                        strides, dilates, pad_l, pad_r))) ||
      (pass == BENCH_PASS_BWD_W &&
       (s = dnnl_dilated_deconvolution_backward_weights_desc_init(
            &bd, dnnl_deconvolution_direct, &src_md, &wei_md, bias ? &bias_md : NULL, &dst_md,
            strides, dilates, pad_l, pad_r))))
    goto fail;
  step = "primitive descriptor";
  if (pass == BENCH_PASS_FWD) {
    if ((s = dnnl_primitive_desc_create(&o->pd, &fd, NULL, engine, NULL))) goto fail;
  } else if ((s = dnnl_primitive_desc_create(&o->hint, &fd, NULL, engine, NULL)) ||
             (s = dnnl_primitive_desc_create(&o->pd, &bd, NULL, engine, o->hint))) {
    goto fail;
  }
  if (dnnl_primitive_desc_query(o->pd, dnnl_query_impl_info_str, 0, &o->impl) != dnnl_success)
    o->impl = "?";
  step = "primitive";
  if ((s = dnnl_primitive_create(&o->prim, o->pd))) goto fail;
  step = "memory";
  /* Inputs first, then the result (and diff_bias right after it). Bias and diff_bias are
   * the second weights tensor (index 1). */
  switch (pass) {
  case BENCH_PASS_FWD:
    if ((s = add_arg(o, DNNL_ARG_SRC, dnnl_query_src_md, 0, &src_u, x)) ||
        (s = add_arg(o, DNNL_ARG_WEIGHTS, dnnl_query_weights_md, 0, &wei_u, w)) ||
        (bias && (s = add_arg(o, DNNL_ARG_BIAS, dnnl_query_weights_md, 1, &bias_md, b))))
      goto fail;
    o->result = o->nargs, o->result_md = dst_u;
    s = add_arg(o, DNNL_ARG_DST, dnnl_query_dst_md, 0, NULL, NULL);
    break;
  case BENCH_PASS_BWD_D:
    if ((s = add_arg(o, DNNL_ARG_DIFF_DST, dnnl_query_diff_dst_md, 0, &dst_u, dy)) ||
        (s = add_arg(o, DNNL_ARG_WEIGHTS, dnnl_query_weights_md, 0, &wei_u, w)))
      goto fail;
    o->result = o->nargs, o->result_md = src_u;
    s = add_arg(o, DNNL_ARG_DIFF_SRC, dnnl_query_diff_src_md, 0, NULL, NULL);
    break;
  default:
    if ((s = add_arg(o, DNNL_ARG_SRC, dnnl_query_src_md, 0, &src_u, x)) ||
        (s = add_arg(o, DNNL_ARG_DIFF_DST, dnnl_query_diff_dst_md, 0, &dst_u, dy)))
      goto fail;
    o->result = o->nargs, o->result_md = wei_u, o->has_bias = bias;
    if (!(s = add_arg(o, DNNL_ARG_DIFF_WEIGHTS, dnnl_query_diff_weights_md, 0, NULL, NULL)) && bias)
      s = add_arg(o, DNNL_ARG_DIFF_BIAS, dnnl_query_diff_weights_md, 1, NULL, NULL);
    break;
  }
  if (s) goto fail;
  return o;

fail:
  snprintf(why, why_size, "oneDNN %s: %s", step, dnnl_status2str(s));
  bench_onednn_destroy(o);
  return NULL;
}

int bench_onednn_execute(bench_onednn *o) {
  if (dnnl_primitive_execute(o->prim, stream, o->nargs, o->args) != dnnl_success) return -1;
  return dnnl_stream_wait(stream) == dnnl_success ? 0 : -1;
}

/* Reorders memory m into the user buffer `to`, laid out as md. */
static int read_back(dnnl_memory_t m, const dnnl_memory_desc_t *md, float *to) {
  dnnl_memory_t user = NULL;
  if (dnnl_memory_create(&user, md, engine, to)) return -1;
  int rc = reorder(m, user) == dnnl_success ? 0 : -1;
  dnnl_memory_destroy(user);
  return rc;
}

int bench_onednn_output(bench_onednn *o, float *out) {
  if (read_back(o->args[o->result].memory, &o->result_md, out)) return -1;
  if (!o->has_bias) return 0;
  /* diff_bias follows grad_weight in the bench's buffer. */
  const dnnl_memory_desc_t *bmd;
  if (dnnl_memory_get_memory_desc(o->args[o->result + 1].memory, &bmd)) return -1;
  return read_back(o->args[o->result + 1].memory, bmd,
                   out + dnnl_memory_desc_get_size(&o->result_md) / sizeof *out);
}

const char *bench_onednn_impl(const bench_onednn *o) { return o->impl; }

void bench_onednn_destroy(bench_onednn *o) {
  if (!o) return;
  dnnl_primitive_destroy(o->prim);
  for (int i = 0; i < o->nargs; i++)
    dnnl_memory_destroy(o->args[i].memory);
  dnnl_primitive_desc_destroy(o->pd);
  dnnl_primitive_desc_destroy(o->hint);
  free(o);
}
