/* Allocation failures (built only with CONVT3D_FAULT_INJECTION): each public call that
 * allocates is run with its 1st, 2nd, ... allocation made to fail, until a run makes no
 * more allocations than the failure point. Every failing run must return
 * CONVT3D_ERR_OUT_OF_MEMORY with a message, leave the caller's outputs untouched (files
 * included: an existing output file keeps its bytes and no temporary file is left), and
 * leak nothing: the sanitizer build, where CI enables this test, ends with LeakSanitizer,
 * which fails the test on any leaked block. */
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "convt3d.h"

/* src/alloc.c, exported by fault-injection builds only. */
long long convt3d_test_fail_allocation(long long after);

enum { OUT_N = 4096 };
static float x[OUT_N], w[OUT_N], b[64], out[4][OUT_N];
static const float SENTINEL = 12345.0f;
static int failure_points;

static void fill_sentinel(void) {
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < OUT_N; j++) out[i][j] = SENTINEL;
}

static bool untouched(void) {
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < OUT_N; j++)
      if (out[i][j] != SENTINEL) return false;
  return true;
}

static convt3d_problem problem(void) {
  convt3d_problem p;
  convt3d_problem_init(&p, CONVT3D_F32);
  p.input = (convt3d_shape){5, {2, 4, 3, 3, 3}};
  p.weight = (convt3d_shape){5, {4, 3, 2, 2, 2}};
  p.has_bias = 1;
  p.bias = (convt3d_shape){1, {3}};
  for (int a = 0; a < 3; a++) p.stride[a] = 2; /* output (2, 3, 6, 6, 6): 1296 elements */
  return p;
}

/* The operations; each returns the status of its one public call (plans are created and
 * destroyed inside, so a failure anywhere in between is seen). */
typedef convt3d_status (*op_fn)(convt3d_algorithm algo);

/* One forward plan of p, created and executed into out[0]. */
static convt3d_status forward_of(const convt3d_problem *p, convt3d_algorithm algo,
                                 int threads) {
  convt3d_plan_options opt = {algo, threads, CONVT3D_ISA_AUTO};
  convt3d_plan *plan = NULL;
  convt3d_status s = convt3d_plan_create(p, w, b, &opt, &plan);
  if (s == CONVT3D_OK) s = convt3d_plan_execute(plan, x, out[0]);
  convt3d_plan_destroy(plan);
  return s;
}

static convt3d_status op_forward(convt3d_algorithm algo) {
  convt3d_problem p = problem();
  return forward_of(&p, algo, 1);
}

/* The Winograd algorithm needs width kernel 3 and stride 1: depth and width kernel 3,
 * output (2, 3, 7, 6, 5). */
static convt3d_status op_forward_winograd(convt3d_algorithm algo) {
  convt3d_problem p = problem();
  p.weight.dims[2] = 3;
  p.weight.dims[4] = 3;
  p.stride[2] = 1;
  return forward_of(&p, algo, 2);
}

static convt3d_status op_backward(convt3d_algorithm algo) {
  convt3d_problem p = problem();
  convt3d_plan_options opt = {algo, 1, CONVT3D_ISA_AUTO};
  convt3d_plan *data = NULL, *weight = NULL;
  /* grad_output comes from w's storage: any values do. */
  convt3d_status s = convt3d_plan_create_backward_data(&p, w, &opt, &data);
  if (s == CONVT3D_OK) s = convt3d_plan_create_backward_weight(&p, &opt, &weight);
  if (s == CONVT3D_OK) s = convt3d_plan_execute(data, w, out[0]);
  if (s == CONVT3D_OK) s = convt3d_plan_execute_backward_weight(weight, x, w, out[1], out[2]);
  convt3d_plan_destroy(data);
  convt3d_plan_destroy(weight);
  return s;
}

static convt3d_status op_conv3d(convt3d_algorithm algo) {
  (void)algo;
  convt3d_problem p = problem();
  p.input = (convt3d_shape){5, {2, 3, 6, 6, 6}};
  p.weight = (convt3d_shape){5, {4, 3, 2, 2, 2}};
  p.bias = (convt3d_shape){1, {4}};
  return convt3d_conv3d(&p, x, w, b, out[0]);
}

static convt3d_status op_forward_once(convt3d_algorithm algo) {
  (void)algo;
  convt3d_problem p = problem();
  return convt3d_forward(&p, x, w, b, out[0]);
}

static convt3d_status op_backward_data_once(convt3d_algorithm algo) {
  (void)algo;
  convt3d_problem p = problem();
  return convt3d_backward_data(&p, w, w, out[0]);
}

static convt3d_status op_backward_weight_once(convt3d_algorithm algo) {
  (void)algo;
  convt3d_problem p = problem();
  return convt3d_backward_weight(&p, x, w, out[0], out[1]);
}

static void run_op(const char *name, op_fn op, convt3d_algorithm algo) {
  for (long long k = 0; k < 100; k++) {
    fill_sentinel();
    const long long before = convt3d_test_fail_allocation(k);
    const convt3d_status s = op(algo);
    const long long made = convt3d_test_fail_allocation(-1) - before;
    if (made <= k) { /* the failure point was never reached: a clean run */
      CHECKF(s == CONVT3D_OK, "%s: clean run failed: %s", name, convt3d_last_error());
      CHECKF(k > 0, "%s allocates nothing", name);
      return;
    }
    failure_points++;
    CHECKF(s == CONVT3D_ERR_OUT_OF_MEMORY && strstr(convt3d_last_error(), "allocate"),
           "%s, allocation %lld failing: status %d, message '%s'", name, k + 1, (int)s,
           convt3d_last_error());
    CHECKF(untouched(), "%s, allocation %lld failing: an output was written", name, k + 1);
  }
  CHECKF(false, "%s: still failing after 100 allocations", name);
}

/* --------------------------------------------------------------------- npy */

static char dir[64];

static int count_entries(void) {
  DIR *d = opendir(dir);
  int n = 0;
  for (struct dirent *e; d && (e = readdir(d));) n += e->d_name[0] != '.';
  if (d) closedir(d);
  return n;
}

static void test_npy(void) {
  char path[128], existing[128];
  snprintf(path, sizeof path, "%s/a.npy", dir);
  snprintf(existing, sizeof existing, "%s/old.npy", dir);
  convt3d_array a = {CONVT3D_F32, 2, {16, 8}, x};
  convt3d_array old = {CONVT3D_F32, 1, {3}, b};
  CHECK(convt3d_npy_write(path, &a) == CONVT3D_OK);
  CHECK(convt3d_npy_write(existing, &old) == CONVT3D_OK);
  FILE *f = fopen(existing, "rb");
  char before[256] = {0}, after[256] = {0};
  size_t before_n = f ? fread(before, 1, sizeof before, f) : 0;
  if (f) fclose(f);
  for (long long k = 0;; k++) {
    convt3d_array r = {CONVT3D_F32, 0, {0}, NULL};
    const long long start = convt3d_test_fail_allocation(k);
    convt3d_status s = convt3d_npy_read(path, &r);
    const long long made = convt3d_test_fail_allocation(-1) - start;
    if (made <= k) {
      CHECK(s == CONVT3D_OK && r.ndim == 2 && memcmp(r.data, x, sizeof(float) * 128) == 0);
      convt3d_array_free(&r);
      break;
    }
    failure_points++;
    CHECKF(s == CONVT3D_ERR_OUT_OF_MEMORY && r.data == NULL && r.ndim == 0,
           "npy_read, allocation %lld failing: status %d", k + 1, (int)s);
  }
  for (long long k = 0;; k++) {
    const int entries = count_entries();
    const long long start = convt3d_test_fail_allocation(k);
    convt3d_status s = convt3d_npy_write(existing, &a);
    const long long made = convt3d_test_fail_allocation(-1) - start;
    if (made <= k) {
      CHECK(s == CONVT3D_OK);
      break;
    }
    failure_points++;
    f = fopen(existing, "rb");
    size_t after_n = f ? fread(after, 1, sizeof after, f) : 0;
    if (f) fclose(f);
    CHECKF(s == CONVT3D_ERR_OUT_OF_MEMORY && after_n == before_n &&
               memcmp(before, after, before_n) == 0 && count_entries() == entries,
           "npy_write, allocation %lld failing: status %d, old file %s, %d entries now "
           "(%d before)", k + 1, (int)s, after_n == before_n ? "kept" : "changed",
           count_entries(), entries);
  }
  unlink(path);
  unlink(existing);
}

int main(void) {
  for (int i = 0; i < OUT_N; i++) x[i] = (float)(i % 7) - 3, w[i] = (float)(i % 5) - 2;
  for (int i = 0; i < 64; i++) b[i] = (float)i;
  static const struct {
    const char *name;
    op_fn op;
    convt3d_algorithm algo;
  } ops[] = {
      {"forward, phase", op_forward, CONVT3D_ALGO_PHASE},
      {"forward, tap_gemm", op_forward, CONVT3D_ALGO_TAP_GEMM},
      {"forward, winograd", op_forward_winograd, CONVT3D_ALGO_WINOGRAD},
      {"forward, direct", op_forward, CONVT3D_ALGO_DIRECT},
      {"forward, reference", op_forward, CONVT3D_ALGO_REFERENCE},
      {"backward, fast", op_backward, CONVT3D_ALGO_AUTO},
      {"backward, reference", op_backward, CONVT3D_ALGO_REFERENCE},
      {"conv3d", op_conv3d, CONVT3D_ALGO_AUTO},
      {"convt3d_forward", op_forward_once, CONVT3D_ALGO_AUTO},
      {"convt3d_backward_data", op_backward_data_once, CONVT3D_ALGO_AUTO},
      {"convt3d_backward_weight", op_backward_weight_once, CONVT3D_ALGO_AUTO},
  };
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) run_op(ops[i].name, ops[i].op, ops[i].algo);
  snprintf(dir, sizeof dir, "/tmp/convt3d_faults_XXXXXX");
  CHECK(mkdtemp(dir) != NULL);
  test_npy();
  rmdir(dir);
  printf("test_faults: %d allocation failures injected\n", failure_points);
  return check_summary("test_faults");
}
