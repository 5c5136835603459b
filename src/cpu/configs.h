/* The per-ISA kernel table. */
#ifndef CONVT3D_CONFIGS_H
#define CONVT3D_CONFIGS_H

#include "cpu.h"
#include "ukernel.h"

/* The brgemm micro-kernels for dtype on isa: *count tiles (never empty for a valid dtype
 * and isa). */
const cvt_brgemm_config *cvt_brgemm_configs(convt3d_dtype dtype, cvt_isa isa, size_t *count);

#endif
