/* cvt_f32_brgemm_4x24_avx2: the portable brgemm tile (../brgemm_generic.h) for float, 4 channels by
 * 24 positions, compiled for avx2 by this file's flags (see CMakeLists.txt). */
#include "../ukernel.h"

#define CVT_T float
#define CVT_MR 4
#define CVT_NR 24
#define CVT_KERNEL cvt_f32_brgemm_4x24_avx2
#include "../brgemm_generic.h"
