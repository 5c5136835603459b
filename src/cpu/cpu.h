/* CPU feature detection and the choice of instruction set. */
#ifndef CONVT3D_CPU_H
#define CONVT3D_CPU_H

#include "../internal.h"

/* Instruction sets with kernels, in increasing order: a CPU that runs one runs all below. */
typedef enum cvt_isa {
  CVT_ISA_SCALAR = 0, /* portable C, baseline x86-64 or any other target */
  CVT_ISA_AVX2 = 1,   /* AVX2 + FMA (Haswell, Zen 1 and later) */
  CVT_ISA_AVX512 = 2, /* AVX-512 F/BW/DQ/VL (Skylake-X, Zen 4 and later) */
  CVT_ISA_COUNT
} cvt_isa;

/* The best instruction set this CPU and operating system support (CPUID + XGETBV, so a
 * kernel that disabled AVX-512 state saving gets AVX2). Detected once. */
cvt_isa cvt_cpu_isa(void);

/* The instruction set new plans use: cvt_cpu_isa(), capped by the CONVT3D_ISA environment
 * variable ("avx512", "avx2" or "scalar"; read at every call, so tests can change it).
 * An unknown value is ignored. Never above what the CPU supports. */
cvt_isa cvt_isa_for_plans(void);

/* "avx512", "avx2", "scalar". */
const char *cvt_isa_name(cvt_isa isa);

#endif
