/* The per-ISA kernel table. */
#ifndef CONVT3D_CONFIGS_H
#define CONVT3D_CONFIGS_H

#include "cpu.h"
#include "ukernel.h"

/* The brgemm micro-kernel for dtype on isa, for rows of row_length positions per phase
 * (never NULL for a valid dtype and isa). */
const cvt_brgemm_config *cvt_brgemm_config_for(convt3d_dtype dtype, cvt_isa isa,
                                               int64_t row_length);

#endif
