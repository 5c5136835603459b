/* cvt_f32_brgemm_4x16_scalar: the portable brgemm tile (../brgemm_generic.h) for float, 4 channels by
 * 16 positions, compiled for scalar by this file's flags (see CMakeLists.txt). */
#include "../ukernel.h"

#define CVT_T float
#define CVT_MR 4
#define CVT_NR 16
#define CVT_KERNEL cvt_f32_brgemm_4x16_scalar
#include "../brgemm_generic.h"
