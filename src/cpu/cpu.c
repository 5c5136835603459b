/* CPU feature detection: CPUID for what the processor has, XGETBV for what the operating
 * system saves on a context switch. Both are needed: a CPU with AVX-512 under an OS that
 * does not enable the ZMM state would fault on the first AVX-512 instruction. */
#include "cpu.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static uint64_t xgetbv0(void) {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return ((uint64_t)edx << 32) | eax;
}

static cvt_isa detect(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return CVT_ISA_SCALAR;
  const bool osxsave = c & bit_OSXSAVE, fma = c & bit_FMA, avx = c & bit_AVX;
  if (!osxsave || !avx) return CVT_ISA_SCALAR;
  const uint64_t xcr0 = xgetbv0();
  const bool ymm_state = (xcr0 & 0x6) == 0x6;            /* SSE + AVX state */
  const bool zmm_state = (xcr0 & 0xE6) == 0xE6;          /* + opmask, ZMM_Hi256, Hi16_ZMM */
  if (!ymm_state || __get_cpuid_max(0, NULL) < 7) return CVT_ISA_SCALAR;
  __cpuid_count(7, 0, a, b, c, d);
  const bool avx2 = b & bit_AVX2;
  const bool avx512 = (b & bit_AVX512F) && (b & bit_AVX512BW) && (b & bit_AVX512DQ) &&
                      (b & bit_AVX512VL);
  if (avx512 && fma && zmm_state) return CVT_ISA_AVX512;
  if (avx2 && fma) return CVT_ISA_AVX2;
  return CVT_ISA_SCALAR;
}
#else
static cvt_isa detect(void) { return CVT_ISA_SCALAR; }
#endif

cvt_isa cvt_cpu_isa(void) {
  /* Detection is idempotent, so racing first calls may both detect; -1: not yet. */
  static _Atomic int detected = -1;
  int isa = atomic_load_explicit(&detected, memory_order_relaxed);
  if (isa < 0) {
    isa = (int)detect();
    atomic_store_explicit(&detected, isa, memory_order_relaxed);
  }
  return (cvt_isa)isa;
}

const char *cvt_isa_name(cvt_isa isa) {
  switch (isa) {
  case CVT_ISA_AVX512: return "avx512";
  case CVT_ISA_AVX2: return "avx2";
  case CVT_ISA_SCALAR: return "scalar";
  case CVT_ISA_COUNT: break;
  }
  return "unknown";
}

cvt_isa cvt_isa_for_plans(void) {
  cvt_isa isa = cvt_cpu_isa();
  const char *cap = getenv("CONVT3D_ISA");
  if (cap)
    for (int i = 0; i < CVT_ISA_COUNT; i++)
      if (!strcmp(cap, cvt_isa_name((cvt_isa)i)) && i < (int)isa) isa = (cvt_isa)i;
  return isa;
}
