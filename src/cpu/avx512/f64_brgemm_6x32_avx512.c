/* cvt_f64_brgemm_6x32_avx512: the portable brgemm tile (../brgemm_generic.h) for double, 6 channels by
 * 32 positions, compiled for avx512 by this file's flags (see CMakeLists.txt). */
#include "../ukernel.h"

#define CVT_T double
#define CVT_MR 6
#define CVT_NR 32
#define CVT_KERNEL cvt_f64_brgemm_6x32_avx512
#include "../brgemm_generic.h"
