/* The calling thread's number in the enclosing OpenMP team: which slice of a plan's
 * workspace is its own. */
#ifndef CONVT3D_CPU_THREADS_H
#define CONVT3D_CPU_THREADS_H

#ifdef _OPENMP
#include <omp.h>
#endif

/* 0 outside a parallel region, and without OpenMP. */
static inline int cvt_thread_num(void) {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

#endif
