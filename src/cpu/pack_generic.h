/* The packing kernels in portable C (contract in ukernel.h), for both element types. A
 * file per instruction set includes this with CVT_ISA_SUFFIX defined (scalar, avx2,
 * avx512) and is compiled with that set's flags, so that the compiler vectorises the
 * strided gathers with its own permutes (built for baseline x86-64, packing grad_output's
 * rows took a third of grad_input's time at kernel = stride = 2, three times what the
 * AVX-512 build takes). A file that writes its own float32 phase_cols (a transpose the
 * compiler does not vectorise) defines CVT_OWN_F32_PHASE_COLS: this one is then
 * phase_cols_f32_portable, for the strides it leaves; likewise CVT_OWN_F32_PHASE_ROW and
 * phase_row_f32_portable. */
#include <string.h>

#include "arith.h"
#include "ukernel.h"

#define CVT_CAT_(a, b) a##b
#define CVT_CAT(a, b) CVT_CAT_(a, b)

/* NOLINTBEGIN(bugprone-macro-parentheses): T is a type */
#define CVT_PHASE_ROW(T, name)                                                           \
  CVT_PHASE_ROW_DECL(T, name) {                                                          \
    int64_t lo, hi;                                                                      \
    phase_row_range(n, s, r, qmin, len, &lo, &hi);                                       \
    memset(dst, 0, (size_t)lo * sizeof *dst);                                            \
    if (s == 1) {                                                                        \
      memcpy(dst + lo, src + lo + qmin, (size_t)(hi - lo) * sizeof *dst);                \
    } else if (s == 2) { /* a constant stride: vectorised as a deinterleave */           \
      for (int64_t j = lo; j < hi; j++) dst[j] = src[(j + qmin) * 2 + r];                \
    } else { /* indexed, not a stepped pointer: a huge stride must not step past */      \
      for (int64_t j = lo; j < hi; j++) dst[j] = src[(j + qmin) * s + r];                \
    }                                                                                    \
    memset(dst + hi, 0, (size_t)(len - hi) * sizeof *dst);                               \
  }
#define CVT_PHASE_COLS(T, name)                                                          \
  CVT_PHASE_COLS_DECL(T, name) {                                                         \
    for (int64_t c = 0; c < nch; c++) { /* each channel reads its row in order */        \
      const T *row = src + c * lds + r;                                                  \
      for (int64_t j = lo; j < hi; j++) dst[j * ldd + c] = row[(j + qmin) * s];          \
    }                                                                                    \
  }
/* NOLINTEND(bugprone-macro-parentheses) */

#ifdef CVT_OWN_F32_PHASE_COLS
static CVT_PHASE_COLS(float, phase_cols_f32_portable)
#else
CVT_PHASE_COLS(float, CVT_CAT(cvt_f32_phase_cols_, CVT_ISA_SUFFIX))
#endif
CVT_PHASE_COLS(double, CVT_CAT(cvt_f64_phase_cols_, CVT_ISA_SUFFIX))
#ifdef CVT_OWN_F32_PHASE_ROW
static CVT_PHASE_ROW(float, phase_row_f32_portable)
#else
CVT_PHASE_ROW(float, CVT_CAT(cvt_f32_phase_row_, CVT_ISA_SUFFIX))
#endif
CVT_PHASE_ROW(double, CVT_CAT(cvt_f64_phase_row_, CVT_ISA_SUFFIX))
