/* convt3d bench: the problem's geometry and the verification of every result before it is
 * timed: the exact value in double at sampled elements of y, grad_input or grad_weight
 * (and grad_bias), within a bound derived from the number of terms each sums. */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "random.h"

/* ----------------------------------------------------------------- the problem */

geom bench_geom_of(const convt3d_problem *p) {
  geom g = {.n = p->input.dims[0], .cin = p->input.dims[1], .groups = p->groups};
  g.cout_g = p->weight.dims[1];
  g.cout = g.cout_g * g.groups;
  g.cin_g = g.cin / g.groups;
  convt3d_shape out;
  convt3d_output_shape(p, &out); /* read_suite checked the problem */
  g.nx = (size_t)(g.n * g.cin);
  g.ny = (size_t)(g.n * g.cout);
  g.nw = (size_t)(g.cin * g.cout_g);
  for (int a = 0; a < 3; a++) {
    g.in[a] = p->input.dims[2 + a];
    g.k[a] = p->weight.dims[2 + a];
    g.s[a] = p->stride[a];
    g.pad[a] = p->padding[a];
    g.dil[a] = p->dilation[a];
    g.out[a] = out.dims[2 + a];
    g.nx *= (size_t)g.in[a];
    g.ny *= (size_t)g.out[a];
    g.nw *= (size_t)g.k[a];
  }
  return g;
}

static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && a < 0); }

/* Tap k of axis a carries input position i to output position i*s - p + k*dl: the
 * inputs whose tap k lands inside the output are lo..hi (none when hi < lo). */
static void landing(const geom *g, int a, int64_t k, int64_t *lo, int64_t *hi) {
  const int64_t off = k * g->dil[a] - g->pad[a];
  *lo = -floor_div(off, g->s[a]); /* ceil(-off / s): the first i with i*s + off >= 0 */
  *hi = floor_div(g->out[a] - 1 - off, g->s[a]);
  if (*lo < 0) *lo = 0;
  if (*hi > g->in[a] - 1) *hi = g->in[a] - 1;
}

/* Effective FLOPs: 2 * N * Cin * Cout/groups * (input/tap pairs that land inside the
 * output), the pairs counted exactly per axis. The backward passes compute the same
 * products (paired differently), so the same count serves them. */
double bench_effective_flops(const geom *g) {
  double pairs = 1;
  for (int a = 0; a < 3; a++) {
    int64_t count = 0, lo, hi;
    for (int64_t k = 0; k < g->k[a]; k++) {
      landing(g, a, k, &lo, &hi);
      if (hi >= lo) count += hi - lo + 1;
    }
    pairs *= (double)count;
  }
  return 2.0 * (double)g->n * (double)g->cin * (double)g->cout_g * pairs;
}

double bench_nominal_flops(const geom *g) {
  double f = 2.0 * (double)g->n * (double)g->cin * (double)g->cout_g;
  for (int a = 0; a < 3; a++)
    f *= (double)(g->k[a] * g->in[a]);
  return f;
}

/* Uniform data in [-1, 1) (tools/random.h) keeps sums of any length far from overflow
 * and gives no implementation an easy case (no zeros, no integers). */

void bench_fill_uniform(float *v, size_t n, uint64_t seed) {
  for (size_t i = 0; i < n; i++)
    v[i] = (float)((double)(next_u64(&seed) >> 40) * 0x1p-23 - 1);
}

/* --------------------------------------------------------------- verification */

/* Elements of a pass's result buffer (see bench_pass): y, grad_input, or grad_weight
 * followed by grad_bias. */
size_t bench_result_size(const geom *g, bench_pass pass) {
  return pass == BENCH_PASS_FWD     ? g->ny
         : pass == BENCH_PASS_BWD_D ? g->nx
                                    : g->nw + (size_t)g->cout;
}

/* The 5-D box of a pass's result (grad_bias aside) into ext, and the result's name. */
static const char *result_box(const geom *g, bench_pass pass, int64_t ext[5]) {
  const int64_t *sp = pass == BENCH_PASS_FWD ? g->out : pass == BENCH_PASS_BWD_D ? g->in : g->k;
  ext[0] = pass == BENCH_PASS_BWD_W ? g->cin : g->n;
  ext[1] = pass == BENCH_PASS_FWD ? g->cout : pass == BENCH_PASS_BWD_D ? g->cin : g->cout_g;
  for (int a = 0; a < 3; a++)
    ext[2 + a] = sp[a];
  return pass == BENCH_PASS_FWD ? "y" : pass == BENCH_PASS_BWD_D ? "grad_input" : "grad_weight";
}

/* The bound on |float32 result - exact| of any evaluation order of a sum of n products
 * whose magnitudes add up to mag: gamma(n) * mag, gamma(n) = n*u/(1 - n*u), u = 2^-24
 * (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., sections 3.1, 3.3). */
static double error_bound(double n, double mag) {
  const double nu = n * 0x1p-24;
  return nu < 1 ? nu / (1 - nu) * mag : INFINITY;
}

/* sum += a[ia] * w[iw] over c < nc channels and the tap lists tp (per axis, pairs of
 * (kernel index, position in a)), a's channel c at a0 + c*astride with spatial extents
 * asp, w's at w0 + c*wstride: the shared inner loop of the forward and backward-data
 * references. mag accumulates the magnitudes. */
static void dot_taps(const float *a, size_t a0, size_t astride, const int64_t asp[3],
                     const float *w, size_t w0, size_t wstride, const int64_t ksp[3], int64_t nc,
                     int64_t *const tp[3], const int cnt[3], double *sum, double *mag) {
  for (int64_t c = 0; c < nc; c++)
    for (int64_t jd = 0; jd < cnt[0]; jd++)
      for (int64_t jh = 0; jh < cnt[1]; jh++)
        for (int64_t jw = 0; jw < cnt[2]; jw++) {
          const double av = a[a0 + (size_t)c * astride +
                              (size_t)((tp[0][2 * jd + 1] * asp[1] + tp[1][2 * jh + 1]) * asp[2] +
                                       tp[2][2 * jw + 1])];
          const double wv =
              w[w0 + (size_t)c * wstride +
                (size_t)((tp[0][2 * jd] * ksp[1] + tp[1][2 * jh]) * ksp[2] + tp[2][2 * jw])];
          *sum += av * wv;
          *mag += fabs(av * wv);
        }
}

/* Exact value of element i of a pass's result, and its error bound (error_bound over the
 * terms of that element's sum; double: float products are exact in double, and a double
 * sum of K of them is off by ~K*2^-53, negligible beside the float bound):
 *   FWD    y[n,oc,o]    = b[oc] + sum over ci < Cin/groups and the taps k with
 *                         o = i*s - p + k*dl of x[n,ic,i] * w[ic,co,k]      (K + 1 terms)
 *   BWD_D  dx[n,ic,i]   = sum over co < Cout/groups and the taps k with o inside the
 *                         output of dy[n,oc,o] * w[ic,co,k]
 *   BWD_W  dw[ic,co,k]  = sum over n and the inputs i whose tap k lands at o inside the
 *                         output of x[n,ic,i] * dy[n,oc,o]
 *          db[oc]       = sum over n and every output position of dy[n,oc,o]
 * with ic = g*Cin_g + ci, oc = g*Cout_g + co in group g. taps: scratch for 2*(kD+kH+kW). */
static void exact_at(const geom *g, bench_pass pass, const data *d, size_t i, int64_t *taps,
                     double *exact, double *tol) {
  double sum = 0, mag = 0, terms = 1;
  int64_t e[5], at[3], t = (int64_t)i;
  const size_t vin = g->nx / (size_t)(g->n * g->cin), vout = g->ny / (size_t)(g->n * g->cout);
  result_box(g, pass, e);
  if (pass == BENCH_PASS_BWD_W && i >= g->nw) { /* grad_bias */
    const int64_t oc = (int64_t)(i - g->nw);
    for (int64_t n = 0; n < g->n; n++)
      for (size_t j = 0; j < vout; j++) {
        const double v = d->dy[(size_t)(n * g->cout + oc) * vout + j];
        sum += v, mag += fabs(v);
      }
    *exact = sum;
    *tol = error_bound((double)g->n * (double)vout, mag);
    return;
  }
  for (int a = 2; a >= 0; a--)
    at[a] = t % e[2 + a], t /= e[2 + a];
  const int64_t c1 = t % e[1], c0 = t / e[1];
  if (pass == BENCH_PASS_BWD_W) {
    const int64_t ic = c0, oc = ic / g->cin_g * g->cout_g + c1;
    int64_t lo[3], hi[3];
    for (int a = 0; a < 3; a++) {
      landing(g, a, at[a], &lo[a], &hi[a]);
      terms *= (double)(hi[a] >= lo[a] ? hi[a] - lo[a] + 1 : 0);
    }
    for (int64_t n = 0; n < g->n; n++) {
      const float *xc = d->x + (size_t)(n * g->cin + ic) * vin;
      const float *dyc = d->dy + (size_t)(n * g->cout + oc) * vout;
      for (int64_t id = lo[0]; id <= hi[0]; id++)
        for (int64_t ih = lo[1]; ih <= hi[1]; ih++) {
          const int64_t od = id * g->s[0] - g->pad[0] + at[0] * g->dil[0];
          const int64_t oh = ih * g->s[1] - g->pad[1] + at[1] * g->dil[1];
          for (int64_t iw = lo[2]; iw <= hi[2]; iw++) {
            const int64_t ow = iw * g->s[2] - g->pad[2] + at[2] * g->dil[2];
            const double v = (double)xc[(id * g->in[1] + ih) * g->in[2] + iw] *
                             dyc[(od * g->out[1] + oh) * g->out[2] + ow];
            sum += v, mag += fabs(v);
          }
        }
    }
    *exact = sum;
    *tol = error_bound((double)g->n * terms, mag);
    return;
  }
  /* FWD and BWD_D: per axis, the (k, position) pairs of the taps that reach `at`; taps
   * holds the three lists. */
  int cnt[3] = {0, 0, 0};
  int64_t *tp[3] = {taps, taps + 2 * g->k[0], taps + 2 * (g->k[0] + g->k[1])};
  for (int a = 0; a < 3; a++)
    for (int64_t k = 0; k < g->k[a]; k++) {
      int64_t pos;
      bool ok;
      if (pass == BENCH_PASS_FWD) { /* the input i with i*s - p + k*dl = at */
        const int64_t q = at[a] + g->pad[a] - k * g->dil[a];
        pos = q / g->s[a];
        ok = q >= 0 && q % g->s[a] == 0 && pos < g->in[a];
      } else { /* the output position o that input `at` reaches */
        pos = at[a] * g->s[a] - g->pad[a] + k * g->dil[a];
        ok = pos >= 0 && pos < g->out[a];
      }
      if (ok) tp[a][2 * (size_t)cnt[a]] = k, tp[a][2 * (size_t)cnt[a] + 1] = pos, cnt[a]++;
    }
  const size_t kvol = (size_t)(g->k[0] * g->k[1] * g->k[2]);
  if (pass == BENCH_PASS_FWD) {
    const int64_t oc = c1, grp = oc / g->cout_g, ic0 = grp * g->cin_g;
    sum = d->b[oc], mag = fabs((double)d->b[oc]);
    dot_taps(d->x, (size_t)(c0 * g->cin + ic0) * vin, vin, g->in, d->w,
             ((size_t)ic0 * (size_t)g->cout_g + (size_t)(oc % g->cout_g)) * kvol,
             (size_t)g->cout_g * kvol, g->k, g->cin_g, tp, cnt, &sum, &mag);
    terms = (double)(g->cin_g * g->k[0] * g->k[1] * g->k[2] + 1);
  } else {
    const int64_t ic = c1, oc0 = ic / g->cin_g * g->cout_g;
    dot_taps(d->dy, (size_t)(c0 * g->cout + oc0) * vout, vout, g->out, d->w,
             (size_t)ic * (size_t)g->cout_g * kvol, kvol, g->k, g->cout_g, tp, cnt, &sum, &mag);
    terms = (double)(g->cout_g * g->k[0] * g->k[1] * g->k[2]);
  }
  *exact = sum;
  *tol = error_bound(terms, mag);
}

/* Picks the elements to check: all of them for small results, otherwise the 32 corners
 * of the result's 5-D box, where boundary and tail bugs live, plus uniform samples. For
 * BWD_W, fewer where each element sums many terms, and grad_bias's first and last
 * elements plus uniform ones. */
int bench_pick_samples(const geom *g, bench_pass pass, const data *d, samples *sm) {
  int64_t *taps = malloc(2 * (size_t)(g->k[0] + g->k[1] + g->k[2]) * sizeof *taps), e[5];
  if (!taps) return -1;
  size_t box = pass == BENCH_PASS_BWD_W ? g->nw : bench_result_size(g, pass);
  int want = SAMPLES, bias_want = 0;
  if (pass == BENCH_PASS_BWD_W) {
    const double per_weight = (double)g->nx / (double)g->cin; /* an upper bound */
    const double per_bias = (double)g->ny / (double)g->cout;
    want =
        (int)fmin(SAMPLES - MAX_BIAS_SAMPLES, fmax(MIN_WEIGHT_SAMPLES, SAMPLE_TERMS / per_weight));
    bias_want = (int)fmin(MAX_BIAS_SAMPLES, fmax(2, SAMPLE_TERMS / 4 / per_bias)); /* 1/4 */
  }
  result_box(g, pass, e);
  sm->count = 0;
  uint64_t seed = 0x5eed;
  if (box <= (size_t)want) {
    for (size_t i = 0; i < box; i++)
      sm->idx[sm->count++] = i;
  } else {
    for (int c = 0; c < 32; c++) {
      size_t i = 0;
      for (int a = 0; a < 5; a++)
        i = i * (size_t)e[a] + (size_t)((c >> a & 1) * (e[a] - 1));
      sm->idx[sm->count++] = i;
    }
    while (sm->count < want)
      sm->idx[sm->count++] = next_u64(&seed) % box;
  }
  if (bias_want >= g->cout) {
    for (int64_t oc = 0; oc < g->cout; oc++)
      sm->idx[sm->count++] = g->nw + (size_t)oc;
  } else if (bias_want) {
    sm->idx[sm->count++] = g->nw;
    sm->idx[sm->count++] = g->nw + (size_t)g->cout - 1;
    for (int j = 2; j < bias_want; j++)
      sm->idx[sm->count++] = g->nw + next_u64(&seed) % (size_t)g->cout;
  }
  for (int j = 0; j < sm->count; j++)
    exact_at(g, pass, d, sm->idx[j], taps, &sm->exact[j], &sm->tol[j]);
  free(taps);
  return 0;
}

/* Checks a result at the samples. Returns true when all are within bound; *worst gets
 * the largest |error| / bound seen (how much of the budget is used: a number to watch).
 * On failure prints the shape, the first bad element and how many are bad. */
bool bench_verify(const bench_shape *s, bench_pass pass, const char *who, int threads,
                   const geom *g, const samples *sm, const float *y, double *worst) {
  int bad = 0, first = -1;
  *worst = 0;
  for (int j = 0; j < sm->count; j++) {
    const double err = fabs((double)y[sm->idx[j]] - sm->exact[j]);
    if (!(err <= sm->tol[j])) { /* also catches NaN */
      if (!bad++) first = j;
      *worst = INFINITY;
    } else if (sm->tol[j] > 0 && err / sm->tol[j] > *worst) {
      *worst = err / sm->tol[j];
    }
  }
  if (!bad) return true;
  char desc[256], where[128];
  convt3d_problem_describe(&s->p, desc, sizeof desc);
  size_t i = sm->idx[first];
  int64_t e[5], at[5];
  const char *name = result_box(g, pass, e);
  if (pass == BENCH_PASS_BWD_W && i >= g->nw) {
    snprintf(where, sizeof where, "grad_bias[%zu]", i - g->nw);
  } else {
    for (int a = 4; a >= 0; a--)
      at[a] = (int64_t)(i % (size_t)e[a]), i /= (size_t)e[a];
    snprintf(where, sizeof where, "%s[%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 "]",
             name, at[0], at[1], at[2], at[3], at[4]);
  }
  i = sm->idx[first];
  fprintf(stderr,
          "convt3d bench: VERIFICATION FAILED: %s, %s, pass %s, %d thread%s (%s)\n"
          "  %s = %.9g, exact %.9g, |error| %.3g > bound %.3g; %d of %d sampled elements "
          "wrong\n",
          who, s->name, bench_pass_name[pass], threads, threads == 1 ? "" : "s", desc, where,
          (double)y[i], sm->exact[first], fabs((double)y[i] - sm->exact[first]), sm->tol[first],
          bad, sm->count);
  return false;
}

