/* The direct algorithm: the first fast path, portable C with OpenMP threads.
 * See direct_impl.h for the loop structure and its invariants. */
#include "../internal.h"
#include "arith.h"

/* Inputs i in [lo, hi) of one axis whose output o = i*stride - pad + tap lands in
 * [0, out), for the tap offset tap = k*dilation. cvt_validate guarantees that
 * out + 2*pad fits in int64, which bounds every term here. */
typedef struct axis_range {
  int64_t lo, hi;
} axis_range;

static axis_range input_range(int64_t in, int64_t out, int64_t stride, int64_t pad,
                              int64_t tap) {
  /* 0 <= i*stride - pad + tap  <=>  i >= ceil((pad - tap) / stride) */
  int64_t lo = -floor_div(tap - pad, stride);
  /* i*stride - pad + tap <= out - 1  <=>  i <= floor((out - 1 + pad - tap) / stride) */
  int64_t hi = floor_div(out - 1 + pad - tap, stride) + 1;
  axis_range r = {lo < 0 ? 0 : lo, hi > in ? in : hi};
  if (r.hi < r.lo) r.hi = r.lo;
  return r;
}

#define CVT_T float
#define CVT_DIRECT direct_f32
#include "direct_impl.h"
#undef CVT_T
#undef CVT_DIRECT

#define CVT_T double
#define CVT_DIRECT direct_f64
#include "direct_impl.h"
#undef CVT_T
#undef CVT_DIRECT

void cvt_direct_forward(const cvt_exec *e, const void *input, void *output) {
  if (e->geo->dtype == CONVT3D_F32)
    direct_f32(e->geo, input, e->weight, e->bias, output, e->num_threads);
  else
    direct_f64(e->geo, input, e->weight, e->bias, output, e->num_threads);
}
