/* The packing kernels (../pack_generic.h), compiled with this instruction set's flags
 * (see CMakeLists.txt). */
#define CVT_ISA_SUFFIX avx512
#include "../pack_generic.h"
