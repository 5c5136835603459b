/* Argument checks, shape inference and the small public helpers.
 *
 * Every rule PyTorch 1.13 applies to F.conv_transpose3d is checked here, once, in
 * cvt_validate(); the implementations behind a plan trust what it established. The rules,
 * their order and the PyTorch quirks we deliberately do not reproduce are listed in
 * docs/semantics.md. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define STR_(x) #x
#define STR(x) STR_(x)

static const char *const axis_name[3] = {"depth", "height", "width"};

const char *convt3d_version_string(void) {
  return STR(CONVT3D_VERSION_MAJOR) "." STR(CONVT3D_VERSION_MINOR) "." STR(
      CONVT3D_VERSION_PATCH);
}

int convt3d_version(void) { return CONVT3D_VERSION; }

size_t convt3d_dtype_size(convt3d_dtype dtype) {
  switch (dtype) {
  case CONVT3D_F32: return sizeof(float);
  case CONVT3D_F64: return sizeof(double);
  }
  return 0;
}

void convt3d_problem_init(convt3d_problem *problem, convt3d_dtype dtype) {
  if (!problem) return;
  memset(problem, 0, sizeof *problem);
  problem->dtype = dtype;
  for (int a = 0; a < 3; a++) {
    problem->stride[a] = 1;
    problem->dilation[a] = 1;
  }
  problem->groups = 1;
}

/* Formats a shape as PyTorch prints sizes: "[2, 16, 8, 8, 8]". */
static const char *shape_str(const convt3d_shape *s, char *buf, size_t size) {
  size_t used = 0;
  int n = s->ndim < 0 ? 0 : s->ndim > 5 ? 5 : s->ndim;
  used += (size_t)snprintf(buf, size, "[");
  for (int i = 0; i < n && used < size; i++)
    used += (size_t)snprintf(buf + used, size - used, "%s%" PRId64, i ? ", " : "", s->dims[i]);
  if (used < size) snprintf(buf + used, size - used, s->ndim > 5 ? ", ...]" : "]");
  return buf;
}

/* Formats three per-axis values as "(a, b, c)". */
static const char *triple_str(const int64_t v[3], char *buf, size_t size) {
  snprintf(buf, size, "(%" PRId64 ", %" PRId64 ", %" PRId64 ")", v[0], v[1], v[2]);
  return buf;
}

/* The output size of one axis, computed exactly: 128-bit intermediates cannot overflow
 * for any int64 operands (each product is below 2^127), so the sign of the true result
 * decides between "too small" (PyTorch's rejection) and "too large" (ours). */
static __int128 exact_out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t op,
                               int64_t dl) {
  return ((__int128)in - 1) * s - 2 * (__int128)p + (__int128)dl * ((__int128)k - 1) + op + 1;
}

/* cvt_validate runs these stages in PyTorch's order. PyTorch checks the ranks, groups,
 * padding, output_padding and stride, then the channels and bias, and only then (in the
 * kernel's own shape check) the input extent, dilation, output_padding against
 * stride/dilation, the kernel, and the output size: keeping its order gives a problem
 * with several faults the message PyTorch would give. Each stage fills in what it
 * established of the geometry. */

/* dtype, ranks and signs of the dimensions: nothing else can be read before these. The
 * weight's layout and the operation's name differ between conv_transpose3d and conv3d. */
static const char TRANSPOSED_WEIGHT[] = "(Cin, Cout/groups, kD, kH, kW)";
static const char CONV3D_WEIGHT[] = "(Cout, Cin/groups, kD, kH, kW)";
static convt3d_status check_ranks(const convt3d_problem *pr, const char *fn,
                                  const char *weight_layout, const char *op) {
  char a[96];
  if (pr->dtype != CONVT3D_F32 && pr->dtype != CONVT3D_F64)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                    "%s: dtype = %d is not CONVT3D_F32 (1) or CONVT3D_F64 (2)", fn,
                    (int)pr->dtype);
  if (pr->input.ndim != 4 && pr->input.ndim != 5)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                    "%s: expected 4-D (unbatched) or 5-D (batched) input%s, but got a %d-D "
                    "input of size %s",
                    fn, op, pr->input.ndim, shape_str(&pr->input, a, sizeof a));
  if (pr->weight.ndim != 5)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                    "%s: expected a 5-D weight %s, but got a %d-D weight of size %s", fn,
                    weight_layout, pr->weight.ndim, shape_str(&pr->weight, a, sizeof a));
  for (int i = 0; i < pr->input.ndim; i++)
    if (pr->input.dims[i] < 0)
      return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                      "%s: input size %s has a negative dimension", fn,
                      shape_str(&pr->input, a, sizeof a));
  for (int i = 0; i < 5; i++)
    if (pr->weight.dims[i] < 0)
      return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                      "%s: weight size %s has a negative dimension", fn,
                      shape_str(&pr->weight, a, sizeof a));
  return CONVT3D_OK;
}

/* groups, padding, output_padding, stride. */
static convt3d_status check_parameters(const convt3d_problem *pr, unsigned flags,
                                       const char *fn) {
  char a[96];
  if (pr->groups < 1)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                    "%s: groups = %" PRId64 " is not positive; groups must be >= 1", fn,
                    pr->groups);
  for (int ax = 0; ax < 3; ax++)
    if (pr->padding[ax] < 0)
      return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                      "%s: padding %s is negative in %s; padding must be >= 0", fn,
                      triple_str(pr->padding, a, sizeof a), axis_name[ax]);
  if (!(flags & CVT_VALIDATE_NO_OUTPUT_SIZE))
    for (int ax = 0; ax < 3; ax++)
      if (pr->output_padding[ax] < 0)
        return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                        "%s: output_padding %s is negative in %s; output_padding must be "
                        ">= 0",
                        fn, triple_str(pr->output_padding, a, sizeof a), axis_name[ax]);
  for (int ax = 0; ax < 3; ax++)
    if (pr->stride[ax] < 1)
      return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                      "%s: stride %s is not positive in %s; stride must be >= 1", fn,
                      triple_str(pr->stride, a, sizeof a), axis_name[ax]);
  return CONVT3D_OK;
}

/* Channels against groups and the weight, and the bias; fills the channel counts. */
static convt3d_status check_channels(const convt3d_problem *pr, const char *fn,
                                     cvt_geometry *g) {
  char a[96], b[96];
  const int64_t *w = pr->weight.dims;
  g->batched = pr->input.ndim == 5;
  g->n = g->batched ? pr->input.dims[0] : 1;
  g->cin = g->batched ? pr->input.dims[1] : pr->input.dims[0];
  g->groups = pr->groups;
  if (w[0] < pr->groups || w[0] % pr->groups != 0)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                    "%s: groups = %" PRId64 " does not divide the weight's %" PRId64
                    " input channels (weight of size %s); weight.size(0) must be a positive "
                    "multiple of groups",
                    fn, pr->groups, w[0], shape_str(&pr->weight, a, sizeof a));
  if (g->cin != w[0])
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                    "%s: input of size %s has %" PRId64 " channels, but the weight of size "
                    "%s expects %" PRId64 " (weight.size(0))",
                    fn, shape_str(&pr->input, a, sizeof a), g->cin,
                    shape_str(&pr->weight, b, sizeof b), w[0]);
  if (!cvt_mul(w[1], pr->groups, &g->cout))
    return cvt_fail(CONVT3D_ERR_TOO_LARGE,
                    "%s: Cout = weight.size(1) * groups = %" PRId64 " * %" PRId64
                    " overflows int64",
                    fn, w[1], pr->groups);
  if (pr->has_bias && (pr->bias.ndim != 1 || pr->bias.dims[0] != g->cout))
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                    "%s: expected a 1-D bias of %" PRId64 " elements (Cout = weight.size(1) "
                    "* groups), but got a bias of size %s",
                    fn, g->cout, shape_str(&pr->bias, a, sizeof a));
  g->has_bias = pr->has_bias != 0;
  g->cin_g = g->cin / pr->groups;
  g->cout_g = w[1];
  return CONVT3D_OK;
}

/* The kernel's own checks: input extent, dilation, output_padding against stride and
 * dilation, the weight's extent. Fills the per-axis parameters. */
static convt3d_status check_kernel_shape(const convt3d_problem *pr, unsigned flags,
                                         const char *fn, cvt_geometry *g) {
  char a[96], b[96];
  const int64_t *in_dims = pr->input.dims + (g->batched ? 2 : 1), *w = pr->weight.dims;
  for (int ax = 0; ax < 3; ax++)
    if (in_dims[ax] < 1)
      return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                      "%s: input of size %s is empty in %s; only the batch may be empty", fn,
                      shape_str(&pr->input, a, sizeof a), axis_name[ax]);
  for (int ax = 0; ax < 3; ax++)
    if (pr->dilation[ax] < 1)
      return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                      "%s: dilation %s is not positive in %s; dilation must be >= 1", fn,
                      triple_str(pr->dilation, a, sizeof a), axis_name[ax]);
  if (!(flags & CVT_VALIDATE_NO_OUTPUT_SIZE))
    for (int ax = 0; ax < 3; ax++)
      if (pr->output_padding[ax] >= pr->stride[ax] &&
          pr->output_padding[ax] >= pr->dilation[ax])
        return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                        "%s: output_padding %s must be smaller than either stride %s or "
                        "dilation (%" PRId64 ", %" PRId64 ", %" PRId64 ") in %s",
                        fn, triple_str(pr->output_padding, a, sizeof a),
                        triple_str(pr->stride, b, sizeof b), pr->dilation[0],
                        pr->dilation[1], pr->dilation[2], axis_name[ax]);
  for (int i = 1; i < 5; i++)
    if (w[i] < 1)
      return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                      "%s: weight of size %s is empty in dimension %d; Cout/groups and "
                      "every kernel size must be >= 1",
                      fn, shape_str(&pr->weight, a, sizeof a), i);
  for (int ax = 0; ax < 3; ax++) {
    g->in[ax] = in_dims[ax];
    g->k[ax] = w[2 + ax];
    g->stride[ax] = pr->stride[ax];
    g->pad[ax] = pr->padding[ax];
    g->out_pad[ax] = pr->output_padding[ax];
    g->dil[ax] = pr->dilation[ax];
  }
  return CONVT3D_OK;
}

/* The output size of each axis: at least 1 (PyTorch), and with its padding addressable
 * (ours: kernels form coordinates on the uncropped output line, out + 2*padding long;
 * requiring it to fit in int64 keeps every index they evaluate, i*stride, k*dilation,
 * o + padding, exact). */
static convt3d_status output_sizes(const char *fn, cvt_geometry *g) {
  char a[96], b[96], c[96], k[96], o[96];
  __int128 exact[3];
  for (int ax = 0; ax < 3; ax++)
    exact[ax] = exact_out_size(g->in[ax], g->k[ax], g->stride[ax], g->pad[ax],
                               g->out_pad[ax], g->dil[ax]);
  for (int ax = 0; ax < 3; ax++)
    if (exact[ax] < 1) {
      if (exact[ax] < INT64_MIN) snprintf(o, sizeof o, "below -2^63 in %s", axis_name[ax]);
      else snprintf(o, sizeof o, "%" PRId64 " in %s", (int64_t)exact[ax], axis_name[ax]);
      return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                      "%s: input size %s per channel gives an output size of %s; it must "
                      "be >= 1 (out = (in - 1)*stride - 2*padding + dilation*(k - 1) + "
                      "output_padding + 1, with stride %s, padding %s, kernel %s)",
                      fn, triple_str(g->in, a, sizeof a), o, triple_str(g->stride, b, sizeof b),
                      triple_str(g->pad, c, sizeof c), triple_str(g->k, k, sizeof k));
    }
  for (int ax = 0; ax < 3; ax++) {
    if (exact[ax] + 2 * (__int128)g->pad[ax] > INT64_MAX)
      return cvt_fail(CONVT3D_ERR_TOO_LARGE,
                      "%s: the output size plus twice the padding in %s exceeds 2^63 - 1 "
                      "(stride %s, dilation %s)",
                      fn, axis_name[ax], triple_str(g->stride, a, sizeof a),
                      triple_str(g->dil, b, sizeof b));
    g->out[ax] = (int64_t)exact[ax];
  }
  return CONVT3D_OK;
}

/* Element counts of every tensor, and their byte sizes, must be addressable. */
static convt3d_status check_sizes(const convt3d_problem *pr, const char *fn,
                                  cvt_geometry *g) {
  char a[96], b[96], c[96];
  g->esize = convt3d_dtype_size(pr->dtype);
  const int64_t es = (int64_t)g->esize;
  int64_t in = g->n, w = 1, out = g->n, bytes;
  bool ok = cvt_mul(in, g->cin, &in) && cvt_mul(out, g->cout, &out);
  for (int i = 0; i < 5; i++) ok = ok && cvt_mul(w, pr->weight.dims[i], &w);
  for (int ax = 0; ax < 3; ax++)
    ok = ok && cvt_mul(in, g->in[ax], &in) && cvt_mul(out, g->out[ax], &out);
  ok = ok && cvt_mul(in, es, &bytes) && (uint64_t)bytes <= SIZE_MAX &&
       cvt_mul(w, es, &bytes) && (uint64_t)bytes <= SIZE_MAX && cvt_mul(out, es, &bytes) &&
       (uint64_t)bytes <= SIZE_MAX;
  if (!ok)
    return cvt_fail(CONVT3D_ERR_TOO_LARGE,
                    "%s: a tensor of this problem (input %s, weight %s, output size %s) has "
                    "more bytes than size_t or int64 can count",
                    fn, shape_str(&pr->input, a, sizeof a), shape_str(&pr->weight, b, sizeof b),
                    triple_str(g->out, c, sizeof c));
  g->input_numel = in;
  g->weight_numel = w;
  g->output_numel = out;
  return CONVT3D_OK;
}

convt3d_status cvt_validate(const convt3d_problem *pr, unsigned flags, const char *fn,
                            cvt_geometry *geo) {
  if (!pr) return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "%s: problem is NULL", fn);
  cvt_geometry g;
  memset(&g, 0, sizeof g);
  g.dtype = pr->dtype;
  /* Without an output size (choosing output_padding from one), the output stays 1 per
   * axis for the size checks. */
  for (int ax = 0; ax < 3; ax++) g.out[ax] = 1;
  convt3d_status s;
  if ((s = check_ranks(pr, fn, TRANSPOSED_WEIGHT, "")) != CONVT3D_OK ||
      (s = check_parameters(pr, flags, fn)) != CONVT3D_OK ||
      (s = check_channels(pr, fn, &g)) != CONVT3D_OK ||
      (s = check_kernel_shape(pr, flags, fn, &g)) != CONVT3D_OK ||
      (!(flags & CVT_VALIDATE_NO_OUTPUT_SIZE) && (s = output_sizes(fn, &g)) != CONVT3D_OK) ||
      (s = check_sizes(pr, fn, &g)) != CONVT3D_OK)
    return s;
  if (geo) *geo = g;
  return CONVT3D_OK;
}

/* ------------------------------------------------------------------- conv3d */

/* F.conv3d's rules (PyTorch 1.13, checked with the installed torch): ranks, then groups,
 * stride, padding and dilation, then the weight against groups and the input's channels,
 * the bias, and the kernel against the padded input. Unlike conv_transpose3d, torch
 * applies all of them to an empty batch too. Torch answers an input with zero channels
 * (weight.size(1) == 0) with an output of zero channels, whatever the weight says; that
 * shape is not conv3d's, so it is rejected here (docs/semantics.md). The problem is then
 * restated as the transposed convolution whose backward-data pass it is. */
static convt3d_status check_conv3d(const convt3d_problem *pr, const char *fn,
                                   cvt_geometry *g) {
  char a[96], b[96], c[96], d[96];
  convt3d_status s = check_ranks(pr, fn, CONV3D_WEIGHT, " to conv3d");
  if (s != CONVT3D_OK) return s;
  if (pr->groups < 1)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                    "%s: groups = %" PRId64 " is not positive; groups must be >= 1", fn,
                    pr->groups);
  for (int ax = 0; ax < 3; ax++) {
    if (pr->stride[ax] < 1)
      return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                      "%s: stride %s is not positive in %s; stride must be >= 1", fn,
                      triple_str(pr->stride, a, sizeof a), axis_name[ax]);
    if (pr->padding[ax] < 0)
      return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                      "%s: padding %s is negative in %s; padding must be >= 0", fn,
                      triple_str(pr->padding, a, sizeof a), axis_name[ax]);
    if (pr->dilation[ax] < 1)
      return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                      "%s: dilation %s is not positive in %s; dilation must be >= 1", fn,
                      triple_str(pr->dilation, a, sizeof a), axis_name[ax]);
    if (pr->output_padding[ax] != 0)
      return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                      "%s: output_padding %s is not zero in %s; conv3d has no "
                      "output_padding", fn, triple_str(pr->output_padding, a, sizeof a),
                      axis_name[ax]);
  }
  const int64_t *w = pr->weight.dims;
  const bool batched = pr->input.ndim == 5;
  const int64_t cin = pr->input.dims[batched ? 1 : 0];
  const int64_t *in_dims = pr->input.dims + (batched ? 2 : 1);
  if (w[0] < pr->groups || w[0] % pr->groups != 0)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                    "%s: groups = %" PRId64 " does not divide the weight's %" PRId64
                    " output channels (weight of size %s); weight.size(0) must be a positive "
                    "multiple of groups",
                    fn, pr->groups, w[0], shape_str(&pr->weight, a, sizeof a));
  int64_t cin_w;
  if (!cvt_mul(w[1], pr->groups, &cin_w) || cin_w != cin)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                    "%s: input of size %s has %" PRId64 " channels, but the weight of size "
                    "%s with groups = %" PRId64 " expects weight.size(1) * groups",
                    fn, shape_str(&pr->input, a, sizeof a), cin,
                    shape_str(&pr->weight, b, sizeof b), pr->groups);
  if (w[1] == 0)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                    "%s: input of size %s has no channels (torch returns an output of zero "
                    "channels for it; convt3d does not)",
                    fn, shape_str(&pr->input, a, sizeof a));
  for (int i = 2; i < 5; i++)
    if (w[i] < 1)
      return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                      "%s: weight of size %s has an empty kernel; every kernel size must be "
                      ">= 1", fn, shape_str(&pr->weight, a, sizeof a));
  if (pr->has_bias && (pr->bias.ndim != 1 || pr->bias.dims[0] != w[0]))
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                    "%s: expected a 1-D bias of %" PRId64 " elements (Cout = weight.size(0)), "
                    "but got a bias of size %s",
                    fn, w[0], shape_str(&pr->bias, a, sizeof a));
  for (int ax = 0; ax < 3; ax++)
    if (in_dims[ax] < 1)
      return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                      "%s: input of size %s is empty in %s; only the batch may be empty", fn,
                      shape_str(&pr->input, a, sizeof a), axis_name[ax]);
  /* The padded input must hold the dilated kernel; 128-bit, so nothing can wrap. */
  __int128 span[3], padded[3];
  for (int ax = 0; ax < 3; ax++) {
    padded[ax] = (__int128)in_dims[ax] + 2 * (__int128)pr->padding[ax];
    span[ax] = (__int128)pr->dilation[ax] * (w[2 + ax] - 1) + 1;
  }
  for (int ax = 0; ax < 3; ax++)
    if (padded[ax] < span[ax]) {
      int64_t k[3] = {w[2], w[3], w[4]};
      return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                      "%s: the padded input (size %s plus twice the padding %s) is smaller "
                      "than the dilated kernel (kernel %s, dilation %s) in %s",
                      fn, shape_str(&pr->input, a, sizeof a),
                      triple_str(pr->padding, b, sizeof b), triple_str(k, c, sizeof c),
                      triple_str(pr->dilation, d, sizeof d), axis_name[ax]);
    }
  /* The same layer as a transposed convolution: its input is conv3d's output, its
   * output conv3d's input, its weight conv3d's weight read as (Cin_T, Cout_T/groups). */
  memset(g, 0, sizeof *g);
  g->dtype = pr->dtype;
  g->esize = convt3d_dtype_size(pr->dtype);
  g->batched = batched;
  g->has_bias = false; /* conv3d's bias, if any, is added by the backward-data pass */
  g->n = batched ? pr->input.dims[0] : 1;
  g->groups = pr->groups;
  g->cin = w[0];
  g->cin_g = w[0] / pr->groups;
  g->cout = cin;
  g->cout_g = w[1];
  for (int ax = 0; ax < 3; ax++) {
    if (padded[ax] > INT64_MAX)
      return cvt_fail(CONVT3D_ERR_TOO_LARGE,
                      "%s: the input size plus twice the padding in %s exceeds 2^63 - 1 "
                      "(padding %s)", fn, axis_name[ax], triple_str(pr->padding, a, sizeof a));
    const int64_t out = (int64_t)((padded[ax] - span[ax]) / pr->stride[ax]) + 1;
    g->in[ax] = out;
    g->out[ax] = in_dims[ax];
    g->k[ax] = w[2 + ax];
    g->stride[ax] = pr->stride[ax];
    g->pad[ax] = pr->padding[ax];
    g->dil[ax] = pr->dilation[ax];
    g->out_pad[ax] = (int64_t)(padded[ax] - span[ax] - (__int128)(out - 1) * pr->stride[ax]);
  }
  /* Element counts: input_numel is conv3d's output, output_numel conv3d's input. */
  const int64_t es = (int64_t)g->esize;
  int64_t y = 1, x = 1, wn = 1, bytes;
  bool ok = cvt_mul(g->n, g->cin, &y) && cvt_mul(g->n, g->cout, &x);
  for (int i = 0; i < 5; i++) ok = ok && cvt_mul(wn, w[i], &wn);
  for (int ax = 0; ax < 3; ax++)
    ok = ok && cvt_mul(y, g->in[ax], &y) && cvt_mul(x, g->out[ax], &x);
  ok = ok && cvt_mul(y, es, &bytes) && (uint64_t)bytes <= SIZE_MAX && cvt_mul(wn, es, &bytes) &&
       (uint64_t)bytes <= SIZE_MAX && cvt_mul(x, es, &bytes) && (uint64_t)bytes <= SIZE_MAX;
  if (!ok)
    return cvt_fail(CONVT3D_ERR_TOO_LARGE,
                    "%s: a tensor of this problem (input %s, weight %s, output size %s) has "
                    "more bytes than size_t or int64 can count",
                    fn, shape_str(&pr->input, a, sizeof a), shape_str(&pr->weight, b, sizeof b),
                    triple_str(g->in, c, sizeof c));
  g->input_numel = y;
  g->weight_numel = wn;
  g->output_numel = x;
  return CONVT3D_OK;
}

convt3d_status cvt_validate_conv3d(const convt3d_problem *problem, const char *fn,
                                   cvt_geometry *geo) {
  if (!problem) return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "%s: problem is NULL", fn);
  cvt_geometry g = {0};
  convt3d_status s = check_conv3d(problem, fn, &g);
  if (s == CONVT3D_OK && geo) *geo = g;
  return s;
}

/* (N, channels, D, H, W), or without N for unbatched input. */
static convt3d_shape shape_of(const cvt_geometry *geo, int64_t channels,
                              const int64_t spatial[3]) {
  convt3d_shape r = {0, {0}};
  if (geo->batched) r.dims[r.ndim++] = geo->n;
  r.dims[r.ndim++] = channels;
  for (int ax = 0; ax < 3; ax++) r.dims[r.ndim++] = spatial[ax];
  return r;
}

convt3d_shape cvt_input_shape(const cvt_geometry *geo) {
  return shape_of(geo, geo->cin, geo->in);
}

convt3d_status convt3d_conv3d_output_shape(const convt3d_problem *problem,
                                           convt3d_shape *out) {
  static const char fn[] = "convt3d_conv3d_output_shape";
  cvt_geometry geo = {0};
  convt3d_status s = cvt_validate_conv3d(problem, fn, &geo);
  if (s != CONVT3D_OK) return s;
  if (!out) return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "%s: out is NULL", fn);
  *out = cvt_input_shape(&geo); /* conv3d's output is the transposed problem's input */
  return CONVT3D_OK;
}

convt3d_status convt3d_problem_check(const convt3d_problem *problem) {
  return cvt_validate(problem, 0, "convt3d_problem_check", NULL);
}

convt3d_status convt3d_output_shape(const convt3d_problem *problem, convt3d_shape *out) {
  cvt_geometry geo = {0};
  convt3d_status s = cvt_validate(problem, 0, "convt3d_output_shape", &geo);
  if (s != CONVT3D_OK) return s;
  if (!out)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "convt3d_output_shape: out is NULL");
  *out = cvt_output_shape(&geo);
  return CONVT3D_OK;
}

convt3d_shape cvt_output_shape(const cvt_geometry *geo) {
  return shape_of(geo, geo->cout, geo->out);
}

convt3d_status convt3d_output_padding_for_size(const convt3d_problem *problem,
                                               const int64_t output_size[3],
                                               int64_t output_padding[3]) {
  static const char fn[] = "convt3d_output_padding_for_size";
  cvt_geometry geo = {0};
  convt3d_status s = cvt_validate(problem, CVT_VALIDATE_NO_OUTPUT_SIZE, fn, &geo);
  if (s != CONVT3D_OK) return s;
  if (!output_size || !output_padding)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "%s: output_size or output_padding is NULL",
                    fn);
  /* As nn.ConvTranspose3d._output_padding: the valid range per axis is
   * [min, min + stride - 1], min being the size with output_padding 0. */
  __int128 lo[3], hi[3];
  bool in_range = true;
  for (int ax = 0; ax < 3; ax++) {
    lo[ax] = exact_out_size(geo.in[ax], geo.k[ax], geo.stride[ax], geo.pad[ax], 0, geo.dil[ax]);
    hi[ax] = lo[ax] + geo.stride[ax] - 1;
    in_range = in_range && output_size[ax] >= lo[ax] && output_size[ax] <= hi[ax];
  }
  if (!in_range) {
    /* The bounds fit in int64 whenever a requested int64 size can lie between them; the
     * long double print is exact below 2^64 and only rounds for absurd strides. */
    char req[96];
    triple_str(output_size, req, sizeof req);
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                    "%s: requested an output size of %s, but valid sizes range from (%.0Lf, "
                    "%.0Lf, %.0Lf) to (%.0Lf, %.0Lf, %.0Lf) (for an input of size (%" PRId64
                    ", %" PRId64 ", %" PRId64 "))",
                    fn, req, (long double)lo[0], (long double)lo[1], (long double)lo[2],
                    (long double)hi[0], (long double)hi[1], (long double)hi[2], geo.in[0],
                    geo.in[1], geo.in[2]);
  }
  for (int ax = 0; ax < 3; ax++) output_padding[ax] = (int64_t)(output_size[ax] - lo[ax]);
  return CONVT3D_OK;
}

int convt3d_problem_describe(const convt3d_problem *p, char *buf, size_t size) {
  if (!p) return snprintf(buf, size, "(null)");
  /* benchdnn-style: every field named, no spaces, so it pastes into a shell or a CSV. */
  const char *dt = p->dtype == CONVT3D_F32 ? "f32" : p->dtype == CONVT3D_F64 ? "f64" : "f??";
  if ((p->input.ndim != 4 && p->input.ndim != 5) || p->weight.ndim != 5)
    return snprintf(buf, size, "%s_rank%d-input_rank%d-weight", dt, p->input.ndim,
                    p->weight.ndim);
  const bool batched = p->input.ndim == 5;
  const int64_t *x = p->input.dims + (batched ? 2 : 1), *w = p->weight.dims;
  const int64_t *s = p->stride, *pd = p->padding, *op = p->output_padding, *d = p->dilation;
  char mb[32] = "nb"; /* "no batch dimension": unbatched input */
  int64_t oc = -1;     /* printed as -1 when weight.size(1) * groups overflows */
  if (!cvt_mul(w[1], p->groups, &oc)) oc = -1;
  if (batched) snprintf(mb, sizeof mb, "mb%" PRId64, p->input.dims[0]);
  return snprintf(buf, size,
                  "%s_%s_ic%" PRId64 "_oc%" PRId64 "_g%" PRId64 "_i%" PRId64 "x%" PRId64
                  "x%" PRId64 "_k%" PRId64 "x%" PRId64 "x%" PRId64 "_s%" PRId64 "x%" PRId64
                  "x%" PRId64 "_p%" PRId64 "x%" PRId64 "x%" PRId64 "_op%" PRId64 "x%" PRId64
                  "x%" PRId64 "_d%" PRId64 "x%" PRId64 "x%" PRId64 "_%s",
                  dt, mb, p->input.dims[batched ? 1 : 0], oc, p->groups, x[0],
                  x[1], x[2], w[2], w[3], w[4], s[0], s[1], s[2], pd[0], pd[1], pd[2], op[0],
                  op[1], op[2], d[0], d[1], d[2], p->has_bias ? "bias" : "nobias");
}

/* Reads one "<prefix><int>" field; *s advances past it and the following '_' or NUL. */
static bool parse_int_field(const char **s, const char *prefix, int64_t *v) {
  const size_t n = strlen(prefix);
  if (strncmp(*s, prefix, n) != 0) return false;
  const char *p = *s + n;
  char *end;
  errno = 0;
  const long long r = strtoll(p, &end, 10);
  if (end == p || errno || (*end != '_' && *end != '\0')) return false;
  *v = (int64_t)r;
  *s = *end ? end + 1 : end;
  return true;
}

/* Reads one "<prefix><a>x<b>x<c>" field. */
static bool parse_triple_field(const char **s, const char *prefix, int64_t v[3]) {
  const size_t n = strlen(prefix);
  if (strncmp(*s, prefix, n) != 0) return false;
  const char *p = *s + n;
  for (int i = 0; i < 3; i++) {
    char *end;
    errno = 0;
    const long long r = strtoll(p, &end, 10);
    const char want = i < 2 ? 'x' : '_';
    if (end == p || errno || (*end != want && !(i == 2 && *end == '\0'))) return false;
    v[i] = (int64_t)r;
    p = *end ? end + 1 : end;
  }
  *s = p;
  return true;
}

convt3d_status convt3d_problem_parse(const char *descriptor, convt3d_problem *problem) {
  static const char fn[] = "convt3d_problem_parse";
  if (!descriptor || !problem)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "%s: descriptor or problem is NULL", fn);
  convt3d_problem p;
  const char *s = descriptor;
  const char *field = "dtype (f32_ or f64_)";
  int64_t mb = 0, ic = 0, oc = 0, g = 0, in[3], k[3];
  bool batched = true;
#define EXPECT(ok, what)                                                                  \
  do {                                                                                    \
    field = (what);                                                                       \
    if (!(ok)) goto bad;                                                                  \
  } while (0)
  EXPECT(!strncmp(s, "f32_", 4) || !strncmp(s, "f64_", 4), "dtype (f32_ or f64_)");
  convt3d_problem_init(&p, s[1] == '3' ? CONVT3D_F32 : CONVT3D_F64);
  s += 4;
  if (!strncmp(s, "nb_", 3)) batched = false, s += 3;
  else EXPECT(parse_int_field(&s, "mb", &mb), "batch (mb<N>_ or nb_)");
  EXPECT(parse_int_field(&s, "ic", &ic), "ic<Cin>_");
  EXPECT(parse_int_field(&s, "oc", &oc), "oc<Cout>_");
  EXPECT(parse_int_field(&s, "g", &g), "g<groups>_");
  EXPECT(parse_triple_field(&s, "i", in), "i<D>x<H>x<W>_");
  EXPECT(parse_triple_field(&s, "k", k), "k<kD>x<kH>x<kW>_");
  EXPECT(parse_triple_field(&s, "s", p.stride), "s<stride>_");
  EXPECT(parse_triple_field(&s, "p", p.padding), "p<padding>_");
  EXPECT(parse_triple_field(&s, "op", p.output_padding), "op<output_padding>_");
  EXPECT(parse_triple_field(&s, "d", p.dilation), "d<dilation>_");
  EXPECT(!strcmp(s, "bias") || !strcmp(s, "nobias"), "bias or nobias, at the end");
#undef EXPECT
  p.has_bias = !strcmp(s, "bias");
  if (g < 1 || oc % g != 0)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                    "%s: output channels oc%" PRId64 " are not a multiple of groups g%" PRId64
                    " in '%s'", fn, oc, g, descriptor);
  if (batched) p.input = (convt3d_shape){5, {mb, ic, in[0], in[1], in[2]}};
  else p.input = (convt3d_shape){4, {ic, in[0], in[1], in[2]}};
  p.weight = (convt3d_shape){5, {ic, oc / g, k[0], k[1], k[2]}};
  p.bias = (convt3d_shape){1, {oc}};
  p.groups = g;
  *problem = p;
  return CONVT3D_OK;
bad:
  return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT,
                  "%s: cannot read '%s': expected %s at '%.40s'", fn, descriptor, field, s);
}
