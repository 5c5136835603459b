/* A convt3d_problem from its sizes, in PyTorch's argument order, for the C tests. */
#ifndef CONVT3D_TESTS_PROBLEM_H
#define CONVT3D_TESTS_PROBLEM_H

#include <stdint.h>

#include "convt3d.h"

/* float32; unbatched when n < 0; bias (cout_g * groups) when bias is non-zero. */
static inline convt3d_problem make(int64_t n, int64_t cin, int64_t cout_g, int64_t groups,
                                   const int64_t in[3], const int64_t k[3],
                                   const int64_t s[3], const int64_t p[3],
                                   const int64_t op[3], const int64_t d[3], int bias) {
  convt3d_problem pr;
  convt3d_problem_init(&pr, CONVT3D_F32);
  if (n < 0)
    pr.input = (convt3d_shape){4, {cin, in[0], in[1], in[2]}};
  else
    pr.input = (convt3d_shape){5, {n, cin, in[0], in[1], in[2]}};
  pr.weight = (convt3d_shape){5, {cin, cout_g, k[0], k[1], k[2]}};
  pr.groups = groups;
  pr.has_bias = bias;
  pr.bias = (convt3d_shape){1, {cout_g * groups}};
  for (int a = 0; a < 3; a++) {
    pr.stride[a] = s[a];
    pr.padding[a] = p[a];
    pr.output_padding[a] = op[a];
    pr.dilation[a] = d[a];
  }
  return pr;
}

#endif
