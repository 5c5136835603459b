/* The taps of one in-plane axis in the backward passes, which read grad_output at
 * strided positions: input index i and tap k read output index i*s + t, t = k*dil - pad.
 * Writing t = q*s + r (0 <= r < s), that is position i + q of the output row's phase r,
 * so rows packed per phase turn every tap into a contiguous run (docs/algorithm.md). */
#ifndef CONVT3D_CPU_TAPS_H
#define CONVT3D_CPU_TAPS_H

#include <stdbool.h>
#include <stdint.h>

#include "../internal.h"
#include "arith.h"

/* The taps of one in-plane axis (height or width): which reach grad_output at all, and
 * where each one reads in the packed phase rows. */
typedef struct bwd_axis {
  int64_t qmin;          /* smallest q over the live taps */
  int64_t len;           /* packed length: the input's extent + the taps' spread */
  int64_t slots;         /* phases packed (an upper bound when sizing) */
  int64_t live;          /* live taps */
  int64_t *slot, *shift; /* per tap: packed phase (-1: dead tap) and offset q - qmin */
  int64_t *phase;        /* per slot: its phase r */
} bwd_axis;

/* Describes the taps of axis ax (1 height, 2 width). With a->slot, a->shift and a->phase
 * pointing at k[ax] entries each, fills them; with them NULL, only sizes: a->slots is then
 * an upper bound. Tap k reads output index i*s + t, t = k*dil - pad = q*s + r: position
 * i + q of phase r. */
static inline void axis_of(const cvt_geometry *g, int ax, bwd_axis *a) {
  const int64_t s = g->stride[ax], in = g->in[ax], out = g->out[ax];
  const bool fill = a->slot && a->shift && a->phase; /* else only sizes */
  int64_t qmin = INT64_MAX, qmax = INT64_MIN;
  a->live = 0;
  a->slots = fill ? 0 : min64(s, g->k[ax]);
  for (int64_t k = 0; k < g->k[ax]; k++) {
    const int64_t t = k * g->dil[ax] - g->pad[ax];
    /* live when some i in [0, in) lands in [0, out): i*s + t spans [t, (in-1)*s + t] */
    const bool live = t < out && t >= -((in - 1) * s); /* (in-1)*s <= out + 2*pad: exact */
    if (fill) a->slot[k] = -1;
    if (!live) continue;
    const int64_t q = floor_div(t, s), r = t - q * s;
    qmin = min64(qmin, q);
    qmax = max64(qmax, q);
    a->live++;
    if (!fill) continue;
    int64_t slot = 0;
    while (slot < a->slots && a->phase[slot] != r) slot++;
    if (slot == a->slots) a->phase[a->slots++] = r;
    a->slot[k] = slot;
  }
  a->qmin = a->live ? qmin : 0;
  a->len = in + (a->live ? qmax - qmin : 0);
  if (fill)
    for (int64_t k = 0; k < g->k[ax]; k++)
      if (a->slot[k] >= 0) a->shift[k] = floor_div(k * g->dil[ax] - g->pad[ax], s) - a->qmin;
}

#endif
