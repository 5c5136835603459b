/* A complete convt3d program: one nnU-Net-style upsampling layer (kernel 2, stride 2),
 * run through a plan, then a rejected call to show the error model.
 * Build against an installed convt3d:
 *   cmake -S examples -B build-ex -DCMAKE_PREFIX_PATH=/usr/local && cmake --build build-ex
 * or: cc forward.c $(pkg-config --cflags --libs convt3d) -o forward */
#include <stdio.h>
#include <stdlib.h>

#include <convt3d.h>

int main(void) {
  /* x: (N=1, Cin=4, 3, 3, 3); w: (Cin=4, Cout=2, 2, 2, 2); stride 2 doubles each axis. */
  convt3d_problem p;
  convt3d_problem_init(&p, CONVT3D_F32);
  p.input = (convt3d_shape){5, {1, 4, 3, 3, 3}};
  p.weight = (convt3d_shape){5, {4, 2, 2, 2, 2}};
  p.has_bias = 1;
  p.bias = (convt3d_shape){1, {2}};
  for (int a = 0; a < 3; a++) p.stride[a] = 2;

  convt3d_shape out;
  if (convt3d_output_shape(&p, &out) != CONVT3D_OK) {
    fprintf(stderr, "%s\n", convt3d_last_error());
    return 1;
  }
  float x[4 * 27], w[4 * 2 * 8], b[2] = {0.5f, -0.5f};
  for (int i = 0; i < 4 * 27; i++) x[i] = 1.0f;
  for (int i = 0; i < 4 * 2 * 8; i++) w[i] = 0.25f;
  size_t ny = 1;
  for (int i = 0; i < out.ndim; i++) ny *= (size_t)out.dims[i];
  float *y = malloc(ny * sizeof *y);
  if (!y) return 1;

  convt3d_plan *plan;
  convt3d_status s = convt3d_plan_create(&p, w, b, NULL, &plan);
  if (s == CONVT3D_OK) s = convt3d_plan_execute(plan, x, y);
  if (s != CONVT3D_OK) {
    fprintf(stderr, "convt3d: %s: %s\n", convt3d_status_string(s), convt3d_last_error());
    convt3d_plan_destroy(plan);
    free(y);
    return 1;
  }
  convt3d_plan_info info;
  convt3d_plan_get_info(plan, &info);
  convt3d_plan_destroy(plan);
  /* Each output gets one tap from each of the 4 input channels: 4 * 0.25 + bias. */
  printf("convt3d %s: output (%lld, %lld, %lld, %lld, %lld), y[0] = %g, y[last] = %g, "
         "algorithm %s\n",
         convt3d_version_string(), (long long)out.dims[0], (long long)out.dims[1],
         (long long)out.dims[2], (long long)out.dims[3], (long long)out.dims[4], y[0],
         y[ny - 1], convt3d_algorithm_name(info.algorithm));
  free(y);

  /* A call PyTorch would reject: 3 groups do not divide 4 input channels. */
  p.groups = 3;
  s = convt3d_output_shape(&p, &out);
  printf("groups = 3: %s: %s\n", convt3d_status_string(s), convt3d_last_error());
  return s == CONVT3D_ERR_INVALID_ARGUMENT && y != NULL ? 0 : 1;
}
