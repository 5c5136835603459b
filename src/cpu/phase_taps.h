/* The forward pass's stride phases along one axis, shared by the phase and tap-GEMM
 * algorithms (docs/algorithm.md).
 *
 * With stride s, padding p and dilation d, input i reaches output o = i*s - p + k*d
 * through tap k. Writing o = j*s + c (phase c = o mod s), o receives exactly the taps k
 * with k*d = c + p (mod s), each from input i = j + e(k), e(k) = (c + p - k*d) / s. */
#ifndef CONVT3D_CPU_PHASE_TAPS_H
#define CONVT3D_CPU_PHASE_TAPS_H

#include <stdint.h>

#include "../internal.h"
#include "arith.h"

/* Bound on the kernel's taps per axis for the algorithms that list them: beyond it they
 * decline (the direct algorithm takes over). Far beyond any real layer. */
#define PHASE_MAX_TAPS 1024

typedef struct phase_tap {
  int64_t k; /* kernel index along the axis */
  int64_t e; /* input offset: i = j + e */
} phase_tap;

/* The taps of one axis that reach phase c, in ascending k; returns how many (at most
 * ksize, which is <= PHASE_MAX_TAPS where out is used). */
static inline int64_t phase_taps(int64_t c, int64_t ksize, int64_t s, int64_t pad,
                                 int64_t dil, phase_tap *out) {
  int64_t n = 0;
  for (int64_t k = 0; k < ksize; k++) {
    const int64_t t = c + pad - k * dil; /* bounded by out + 2*pad: exact (api.c) */
    if (t % s == 0) out[n++] = (phase_tap){k, t / s};
  }
  return n;
}

static inline int64_t gcd64(int64_t a, int64_t b) {
  while (b) {
    int64_t t = a % b;
    a = b, b = t;
  }
  return a;
}

/* At most how many taps of an axis reach one phase: taps k and k + s/gcd(s, dil) are the
 * nearest that share a phase. */
static inline int64_t max_taps_per_phase(int64_t ksize, int64_t s, int64_t dil) {
  const int64_t period = s / gcd64(s, dil);
  return ceil_div(ksize, period);
}

/* One in-plane axis (height or width) split into phases. */
typedef struct phase_axis {
  int64_t phases;     /* phases that have outputs: min(s, out) */
  int64_t jmax;       /* positions j of the largest phase: ceil(out / s) */
  int64_t emin, emax; /* bounds on the input offsets e over all phases and taps */
} phase_axis;

/* Axis ax of a validated geometry (0 depth, 1 height, 2 width). */
static inline phase_axis phase_axis_of(const cvt_geometry *g, int ax) {
  const int64_t s = g->stride[ax], out = g->out[ax];
  phase_axis a;
  a.phases = min64(s, out);
  a.jmax = ceil_div(out, s);
  /* e = (c + pad - k*dil) / s over c in [0, phases) and the taps k that reach phase c:
   * exact, so that packed planes carry no column or row that no tap reads (kernel =
   * stride = 2: e = 0 in both phases, no padding at all). Beyond PHASE_MAX_TAPS (the
   * algorithms decline), and where no tap reaches any phase, a bound over every k. */
  a.emin = floor_div(g->pad[ax] - (g->k[ax] - 1) * g->dil[ax], s);
  a.emax = floor_div(a.phases - 1 + g->pad[ax], s);
  if (g->k[ax] <= PHASE_MAX_TAPS) {
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (int64_t k = 0; k < g->k[ax]; k++) { /* tap k reaches phase c = (k*dil - pad) mod s */
      const int64_t x = k * g->dil[ax] - g->pad[ax], r = x % s, c = r < 0 ? r + s : r;
      /* e = (c - x) / s, exact; as -floor(x / s), since c - x can exceed int64 when the
       * stride is near its limit (the fuzzer: stride 2^63 - 1, padding 2) */
      const int64_t e = -floor_div(x, s);
      if (c < a.phases) lo = min64(lo, e), hi = max64(hi, e);
    }
    if (lo <= hi) a.emin = lo, a.emax = hi;
  }
  return a;
}

#endif
