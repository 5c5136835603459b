/* cvt_f64_brgemm_4x8_scalar: the portable brgemm tile (../brgemm_generic.h) for double, 4 channels by
 * 8 positions, compiled for scalar by this file's flags (see CMakeLists.txt). */
#include "../ukernel.h"

#define CVT_T double
#define CVT_MR 4
#define CVT_NR 8
#define CVT_KERNEL cvt_f64_brgemm_4x8_scalar
#include "../brgemm_generic.h"
