/* cvt_f64_brgemm_4x12_avx2: the portable brgemm tile (../brgemm_generic.h) for double, 4 channels by
 * 12 positions, compiled for avx2 by this file's flags (see CMakeLists.txt). */
#include "../ukernel.h"

#define CVT_T double
#define CVT_MR 4
#define CVT_NR 12
#define CVT_KERNEL cvt_f64_brgemm_4x12_avx2
#include "../brgemm_generic.h"
