/* convt3d against outputs stored from PyTorch, so that the comparison with PyTorch runs
 * where torch is missing. tests/fixtures/make_fixtures.py wrote, for each case named in
 * cases.txt, torch's input, weight, bias and output as .npy, and the float64 magnitudes
 * m = conv_transpose3d(|x|, |w|, |b|). Each case runs through the reference and through the
 * automatic choice, into an output filled with NaN beforehand (so an element left unwritten
 * fails), and every element must satisfy, with K = Cin/groups * kD*kH*kW:
 *   float32: |ours - torch| <= 2 * gamma(K+1) * m, gamma(n) = n*u / (1 - n*u), u = 2^-24
 *   float64: |ours - torch| <= 1e-10 * m
 * (torch_diff.py's docstring derives these). A missing, unreadable or garbled line or file
 * is a failed check with a message, never a crash.
 *
 * Usage: test_fixtures FIXTURES_DIR */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "convt3d.h"

/* One line of cases.txt: what the shapes of the arrays do not say. */
typedef struct fixture_case {
  char name[64];
  int64_t stride[3], padding[3], output_padding[3], dilation[3];
  int64_t groups;
  int has_bias;
} fixture_case;

/* ------------------------------------------------------------------ parsing */

/* Parses a decimal integer that fills all of tok (no sign games, no overflow). */
static int parse_int(const char *tok, int64_t *v) {
  if (!tok || !*tok) return 0;
  char *end;
  errno = 0;
  long long x = strtoll(tok, &end, 10);
  if (errno || *end) return 0;
  *v = (int64_t)x;
  return 1;
}

/* Parses "a,b,c" into v[3]. */
static int parse_triple(char *tok, int64_t v[3]) {
  char *parts[3] = {tok, NULL, NULL};
  for (int i = 1; i < 3; i++) {
    char *comma = parts[i - 1] ? strchr(parts[i - 1], ',') : NULL;
    if (!comma) return 0;
    *comma = '\0';
    parts[i] = comma + 1;
  }
  if (strchr(parts[2], ',')) return 0;
  for (int i = 0; i < 3; i++)
    if (!parse_int(parts[i], &v[i])) return 0;
  return 1;
}

/* A case name becomes part of a path: letters, digits, '_', '-' and '.' only. */
static int valid_name(const char *s) {
  if (!*s || *s == '.') return 0;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.') return 0;
  return 1;
}

/* Parses one non-comment line (modified in place) into *fc. */
static int parse_case(char *line, fixture_case *fc) {
  char *tok[8];
  int n = 0;
  for (char *t = strtok(line, " \t\r\n"); t; t = strtok(NULL, " \t\r\n")) {
    if (n == 8) return 0;
    tok[n++] = t;
  }
  if (n != 7 || strlen(tok[0]) >= sizeof fc->name || !valid_name(tok[0])) return 0;
  strcpy(fc->name, tok[0]);
  int64_t has_bias;
  if (!parse_triple(tok[1], fc->stride) || !parse_triple(tok[2], fc->padding) ||
      !parse_triple(tok[3], fc->output_padding) || !parse_triple(tok[4], fc->dilation) ||
      !parse_int(tok[5], &fc->groups) || !parse_int(tok[6], &has_bias) ||
      (has_bias != 0 && has_bias != 1))
    return 0;
  fc->has_bias = (int)has_bias;
  return 1;
}

/* ------------------------------------------------------------------ one case */

/* dir/name.suffix.npy into path; 0 (with a failed check) when it does not fit. */
static int fixture_path(char *path, size_t cap, const char *dir, const char *name,
                        const char *suffix) {
  int len = snprintf(path, cap, "%s/%s.%s.npy", dir, name, suffix);
  CHECKF(len > 0 && (size_t)len < cap, "%s: path of the .%s.npy file too long", name, suffix);
  return len > 0 && (size_t)len < cap;
}

static int load(const char *dir, const char *name, const char *suffix, convt3d_array *a) {
  char path[4096];
  if (!fixture_path(path, sizeof path, dir, name, suffix)) return 0;
  convt3d_status s = convt3d_npy_read(path, a);
  CHECKF(s == CONVT3D_OK, "%s: cannot read %s: %s: %s", name, path, convt3d_status_string(s),
         convt3d_last_error());
  return s == CONVT3D_OK;
}

static int same_shape(const convt3d_array *a, const convt3d_array *b) {
  if (a->ndim != b->ndim) return 0;
  for (int i = 0; i < a->ndim; i++)
    if (a->shape[i] != b->shape[i]) return 0;
  return 1;
}

/* Copies an array's shape into a convt3d_shape; 0 when its rank is over 5. */
static int to_shape(const convt3d_array *a, convt3d_shape *s) {
  if (a->ndim > 5) return 0;
  s->ndim = a->ndim;
  for (int i = 0; i < a->ndim; i++)
    s->dims[i] = a->shape[i];
  return 1;
}

static const char *dtype_name(convt3d_dtype dtype) {
  return dtype == CONVT3D_F32 ? "f32" : dtype == CONVT3D_F64 ? "f64" : "?";
}

static double element(convt3d_dtype dtype, const void *data, size_t i) {
  return dtype == CONVT3D_F32 ? (double)((const float *)data)[i] : ((const double *)data)[i];
}

/* Runs the problem with one algorithm and compares every element with torch's y within
 * factor * m. */
static void run_and_compare(const fixture_case *fc, const char *desc, const convt3d_problem *p,
                            const convt3d_array *x, const convt3d_array *w, const convt3d_array *b,
                            const convt3d_array *y, const convt3d_array *m, convt3d_algorithm algo,
                            double factor, void *out, size_t numel) {
  const char *algo_name = convt3d_algorithm_name(algo);
  for (size_t i = 0; i < numel; i++) {
    if (p->dtype == CONVT3D_F32)
      ((float *)out)[i] = NAN;
    else
      ((double *)out)[i] = NAN;
  }
  convt3d_plan_options opts = {algo, 0, CONVT3D_ISA_AUTO};
  convt3d_plan *plan = NULL;
  convt3d_status s = convt3d_plan_create(p, w->data, fc->has_bias ? b->data : NULL, &opts, &plan);
  if (s == CONVT3D_OK) s = convt3d_plan_execute(plan, x->data, out);
  convt3d_plan_destroy(plan);
  CHECKF(s == CONVT3D_OK, "%s [%s]: %s: %s (%s)", fc->name, algo_name, convt3d_status_string(s),
         convt3d_last_error(), desc);
  if (s != CONVT3D_OK) return;

  /* Invariant: `worst` is the element with the largest err/bound among those out of bound
   * (a NaN or any excess over a zero bound counts as infinitely bad). */
  size_t bad = 0, worst = 0;
  double worst_ratio = -1, max_err = 0;
  const double *mag = m->data;
  for (size_t i = 0; i < numel; i++) {
    double ours = element(p->dtype, out, i), theirs = element(p->dtype, y->data, i);
    double err = fabs(ours - theirs), bound = factor * mag[i];
    if ((isnan(err) ? INFINITY : err) > max_err) max_err = isnan(err) ? INFINITY : err;
    if (err <= bound) continue;
    bad++;
    double ratio = isnan(err) || bound <= 0 ? INFINITY : err / bound;
    if (ratio > worst_ratio) worst_ratio = ratio, worst = i;
  }
  CHECKF(bad == 0,
         "%s [%s]: %zu of %zu elements out of bound, max |ours - torch| %.3g; worst at "
         "element %zu: ours %.17g, torch %.17g, bound %.3g (%s)",
         fc->name, algo_name, bad, numel, max_err, worst, bad ? element(p->dtype, out, worst) : 0.0,
         bad ? element(p->dtype, y->data, worst) : 0.0, bad ? factor * mag[worst] : 0.0, desc);
}

static void run_case(const char *dir, const fixture_case *fc) {
  convt3d_array x = {0}, w = {0}, b = {0}, y = {0}, m = {0};
  void *out = NULL;
  if (!load(dir, fc->name, "x", &x) || !load(dir, fc->name, "w", &w) ||
      (fc->has_bias && !load(dir, fc->name, "b", &b)) || !load(dir, fc->name, "y", &y) ||
      !load(dir, fc->name, "m", &m))
    goto done;
  if (!fc->has_bias) { /* a bias file for a case without bias means cases.txt is stale */
    char path[4096];
    FILE *f = fixture_path(path, sizeof path, dir, fc->name, "b") ? fopen(path, "rb") : NULL;
    CHECKF(f == NULL, "%s: has_bias is 0 but %s exists", fc->name, path);
    if (f) {
      fclose(f);
      goto done;
    }
  }

  int ok = x.dtype == w.dtype && y.dtype == x.dtype && (!fc->has_bias || b.dtype == x.dtype) &&
           m.dtype == CONVT3D_F64;
  CHECKF(ok, "%s: dtypes x %s, w %s, b %s, y %s, m %s: want x, w, b, y alike and m f64", fc->name,
         dtype_name(x.dtype), dtype_name(w.dtype), fc->has_bias ? dtype_name(b.dtype) : "none",
         dtype_name(y.dtype), dtype_name(m.dtype));
  if (!ok) goto done;

  convt3d_problem p;
  convt3d_problem_init(&p, x.dtype);
  ok =
      to_shape(&x, &p.input) && to_shape(&w, &p.weight) && (!fc->has_bias || to_shape(&b, &p.bias));
  CHECKF(ok, "%s: an array of rank over 5 (x %d-D, w %d-D, b %d-D)", fc->name, x.ndim, w.ndim,
         b.ndim);
  if (!ok) goto done;
  p.has_bias = fc->has_bias;
  p.groups = fc->groups;
  for (int a = 0; a < 3; a++) {
    p.stride[a] = fc->stride[a];
    p.padding[a] = fc->padding[a];
    p.output_padding[a] = fc->output_padding[a];
    p.dilation[a] = fc->dilation[a];
  }
  char desc[256];
  convt3d_problem_describe(&p, desc, sizeof desc);

  convt3d_shape os;
  convt3d_status s = convt3d_output_shape(&p, &os);
  CHECKF(s == CONVT3D_OK, "%s: rejected: %s: %s (%s)", fc->name, convt3d_status_string(s),
         convt3d_last_error(), desc);
  if (s != CONVT3D_OK) goto done;
  ok = os.ndim == y.ndim && same_shape(&y, &m);
  for (int i = 0; ok && i < os.ndim; i++)
    ok = os.dims[i] == y.shape[i];
  CHECKF(ok,
         "%s: output shape %d-D (%lld, %lld, %lld, %lld, %lld), torch's %d-D (%lld, %lld, "
         "%lld, %lld, %lld), m %d-D (%s)",
         fc->name, os.ndim, (long long)os.dims[0], (long long)os.dims[1], (long long)os.dims[2],
         (long long)os.dims[3], (long long)(os.ndim > 4 ? os.dims[4] : 0), y.ndim,
         (long long)y.shape[0], (long long)y.shape[1], (long long)y.shape[2], (long long)y.shape[3],
         (long long)(y.ndim > 4 ? y.shape[4] : 0), m.ndim, desc);
  if (!ok) goto done;

  /* y was read whole into memory, so its element count and byte size fit in size_t. */
  size_t numel = 1;
  for (int i = 0; i < y.ndim; i++)
    numel *= (size_t)y.shape[i];
  out = malloc(numel * convt3d_dtype_size(p.dtype) + 1); /* + 1: never malloc(0) */
  CHECKF(out != NULL, "%s: out of memory for %zu elements", fc->name, numel);
  if (!out) goto done;

  double factor = 1e-10;
  if (p.dtype == CONVT3D_F32) {
    double k = (double)(w.shape[0] / fc->groups) * (double)(w.shape[2] * w.shape[3] * w.shape[4]);
    double u = ldexp(1.0, -24), nu = (k + 1) * u;
    factor = 2 * nu / (1 - nu);
  }
  static const convt3d_algorithm algos[] = {CONVT3D_ALGO_REFERENCE, CONVT3D_ALGO_AUTO};
  for (size_t i = 0; i < sizeof algos / sizeof algos[0]; i++)
    run_and_compare(fc, desc, &p, &x, &w, &b, &y, &m, algos[i], factor, out, numel);

done:
  free(out);
  convt3d_array_free(&x);
  convt3d_array_free(&w);
  convt3d_array_free(&b);
  convt3d_array_free(&y);
  convt3d_array_free(&m);
}

/* ----------------------------------------------------------------------- main */

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s FIXTURES_DIR\n", argv[0]);
    return 2;
  }
  const char *dir = argv[1];
  char path[4096];
  int len = snprintf(path, sizeof path, "%s/cases.txt", dir);
  errno = ENAMETOOLONG;
  FILE *f = len > 0 && (size_t)len < sizeof path ? fopen(path, "r") : NULL;
  CHECKF(f != NULL, "cannot open %s/cases.txt: %s", dir, strerror(errno));
  int cases = 0, lineno = 0;
  char line[1024];
  while (f && fgets(line, sizeof line, f)) {
    lineno++;
    size_t n = strlen(line);
    if (n == sizeof line - 1 && line[n - 1] != '\n') { /* over-long: report, skip the rest */
      CHECKF(0, "%s:%d: line too long", path, lineno);
      int c;
      while ((c = fgetc(f)) != EOF && c != '\n') {
      }
      continue;
    }
    char *s = line + strspn(line, " \t\r\n");
    if (*s == '#' || *s == '\0') continue;
    char copy[sizeof line];
    strcpy(copy, line);
    copy[strcspn(copy, "\r\n")] = '\0';
    fixture_case fc;
    int ok = parse_case(s, &fc);
    CHECKF(ok, "%s:%d: want 'name s,s,s p,p,p op,op,op d,d,d groups has_bias', got '%s'", path,
           lineno, copy);
    if (!ok) continue;
    cases++;
    run_case(dir, &fc);
  }
  if (f) {
    CHECKF(!ferror(f), "error reading %s", path);
    fclose(f);
    CHECKF(cases > 0, "%s holds no cases", path);
  }
  printf("test_fixtures: %d cases from %s\n", cases, dir);
  return check_summary("test_fixtures");
}
