/* Non-temporal stores: which outputs get them, and the fence that orders them. */
#ifndef CONVT3D_CPU_STREAM_H
#define CONVT3D_CPU_STREAM_H

#include <stdatomic.h>
#include <stdint.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

/* Outputs larger than this are written with non-temporal stores where a kernel can: no
 * cache holds them anyway, and streaming skips reading each line before overwriting it
 * (forward, nnU-Net up5, 537 MB: 159 -> 119 ms at 1 thread; grad_input, MedNeXt's head,
 * 268 MB: see backward_data.c). Smaller outputs stay in the cache for whatever reads them
 * next. */
#define CVT_STREAM_BYTES (INT64_C(64) << 20)

/* Orders non-temporal stores (weakly ordered) before what follows: SFENCE where there is
 * one (they exist only in the AVX-512 kernels), else a full fence. A task that streamed
 * issues it before it ends. */
#if defined(__SSE__)
#define CVT_STREAM_FENCE() _mm_sfence()
#else
#define CVT_STREAM_FENCE() atomic_thread_fence(memory_order_seq_cst)
#endif

#endif
