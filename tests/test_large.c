/* Tensors of more than 2^31 elements: 64-bit addressing everywhere. An input of 650^3
 * voxels upsampled by kernel = stride = 2 gives an output of 1300^3 = 2,197,000,000
 * elements (8.8 GB of float32), past the int32 range where PyTorch's col2vol once
 * overflowed. Every output element is checked against its closed form
 * y[o] = x[o/2] * w[o%2] + b per axis (one input voxel per output), so an index that
 * wrapped anywhere shows up. The test needs about 10 GB of memory; where it cannot get
 * it, it reports a skip (exit 77) rather than fail, and ctest runs it only in the
 * Release build. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "convt3d.h"

int main(void) {
  enum { IN = 650 };
  const int64_t OUT = 2 * IN;
  convt3d_problem p;
  convt3d_problem_init(&p, CONVT3D_F32);
  p.input = (convt3d_shape){5, {1, 1, IN, IN, IN}};
  p.weight = (convt3d_shape){5, {1, 1, 2, 2, 2}};
  p.has_bias = 1;
  p.bias = (convt3d_shape){1, {1}};
  for (int a = 0; a < 3; a++) p.stride[a] = 2;
  convt3d_shape out;
  CHECK(convt3d_output_shape(&p, &out) == CONVT3D_OK && out.dims[2] == OUT &&
        out.dims[3] == OUT && out.dims[4] == OUT);
  const size_t nx = (size_t)IN * IN * IN, ny = (size_t)OUT * OUT * OUT;
  CHECK(ny > ((size_t)1 << 31));
  float *x = malloc(nx * sizeof *x), *y = malloc(ny * sizeof *y);
  if (!x || !y) {
    printf("test_large: cannot allocate %.1f GB, skipped\n", (double)(nx + ny) * 4e-9);
    free(x), free(y);
    return 77;
  }
  /* Small integers: x[i] in 1..7, w in 1..8, b = 0.5: every result exact in float32. */
  for (size_t i = 0; i < nx; i++) x[i] = (float)(1 + i % 7);
  const float w[8] = {1, 2, 3, 4, 5, 6, 7, 8}, b = 0.5f;
  CHECK(convt3d_forward(&p, x, w, &b, y) == CONVT3D_OK);
  size_t bad = 0, first_bad = 0;
  for (int64_t od = 0; od < OUT; od++)
    for (int64_t oh = 0; oh < OUT; oh++) {
      const float *row = y + ((size_t)od * OUT + (size_t)oh) * OUT;
      const float *xr = x + ((size_t)(od / 2) * IN + (size_t)(oh / 2)) * IN;
      const float *wr = w + (od % 2) * 4 + (oh % 2) * 2;
      for (int64_t ow = 0; ow < OUT; ow++)
        if (row[ow] != xr[ow / 2] * wr[ow % 2] + b && bad++ == 0)
          first_bad = (size_t)(row + ow - y);
    }
  CHECKF(bad == 0, "%zu of %zu outputs wrong, the first at element %zu", bad, ny, first_bad);
  free(x), free(y);
  return check_summary("test_large");
}
