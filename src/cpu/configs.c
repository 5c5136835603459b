/* Which micro-kernels each instruction set uses, per dtype: the one table to edit when a
 * kernel is added. Tiles are chosen so that the accumulators fill the register file:
 * up to 24 of 32 zmm (AVX-512), 12 of 16 ymm (AVX2). The plan picks among an ISA's
 * tiles per problem (cvt_phase_pick_kernel); the packing follows the tile's mr_max. */
#include "configs.h"

/* name, tile (mr_max x nr), lanes per FMA along channels and along positions, and the
 * instruction set (the suffix of its packing kernels) */
#define F32(name, mr, nr, vm, vn, isa)                                                   \
  {#name, mr, nr, vm, vn, {.f32 = cvt_##name}, NULL, {NULL}, NULL,                       \
   {.f32 = cvt_f32_phase_row_##isa}, {.f32 = cvt_f32_phase_cols_##isa}, NULL, NULL, NULL, \
   NULL, NULL, NULL}
#define F64(name, mr, nr, vm, vn, isa)                                                   \
  {#name, mr, nr, vm, vn, {.f64 = cvt_##name}, NULL, {NULL}, NULL,                       \
   {.f64 = cvt_f64_phase_row_##isa}, {.f64 = cvt_f64_phase_cols_##isa}, NULL, NULL, NULL, \
   NULL, NULL, NULL}
/* an AVX-512 6xN tile: with its stacked-rows entry, the fused width-2 tiles, the
 * dot-product tiles, the streaming copy and the pointwise tile */
#define F32R(name, rows, mr, nr, vm, vn)                                                 \
  {#name, mr, nr, vm, vn, {.f32 = cvt_##name}, cvt_##rows,                               \
   {cvt_f32_brgemm_w2_6x16_avx512, cvt_f32_brgemm_w2_6x32_avx512}, cvt_f32_dot_avx512,   \
   {.f32 = cvt_f32_phase_row_avx512}, {.f32 = cvt_f32_phase_cols_avx512}, NULL, NULL,       \
   cvt_f32_stream_rows_avx512, NULL, NULL, cvt_f32_pointwise_avx512}
/* an AVX-512 64xN tile: with its entries reading B across rows and writing C
 * channels-last, the streaming copy and the transpose back from channels-last */
#define F32C(name, mr, nr, vm, vn)                                                       \
  {#name "_avx512", mr, nr, vm, vn, {.f32 = cvt_##name##_avx512}, NULL, {NULL}, NULL,     \
   {.f32 = cvt_f32_phase_row_avx512}, {.f32 = cvt_f32_phase_cols_avx512},               \
   cvt_##name##_bt_avx512, cvt_##name##_cl_avx512, cvt_f32_stream_rows_avx512,       \
   cvt_f32_cl_rows_avx512, NULL, NULL}

/* an AVX-512 32x12 tile: the plain entry, the streaming copy, and its siblings of 1..12
 * positions, with which the phase algorithm applies exact width taps */
#define F32N(name, mr, nr, vm, vn)                                                       \
  {#name "_avx512", mr, nr, vm, vn, {.f32 = cvt_##name##_avx512}, NULL, {NULL}, NULL,     \
   {.f32 = cvt_f32_phase_row_avx512}, {.f32 = cvt_f32_phase_cols_avx512}, NULL, NULL,    \
   cvt_f32_stream_rows_avx512, NULL, f32_32xnp_avx512, NULL}

static const cvt_f32_brgemm_fn f32_32xnp_avx512[] = {
    cvt_f32_brgemm_32x1_avx512,  cvt_f32_brgemm_32x2_avx512,  cvt_f32_brgemm_32x3_avx512,
    cvt_f32_brgemm_32x4_avx512,  cvt_f32_brgemm_32x5_avx512,  cvt_f32_brgemm_32x6_avx512,
    cvt_f32_brgemm_32x7_avx512,  cvt_f32_brgemm_32x8_avx512,  cvt_f32_brgemm_32x9_avx512,
    cvt_f32_brgemm_32x10_avx512, cvt_f32_brgemm_32x11_avx512, cvt_f32_brgemm_32x12_avx512};

static const cvt_brgemm_config f32_scalar[] = {
    F32(f32_brgemm_4x16_scalar, 4, 16, 1, 4, scalar)};
static const cvt_brgemm_config f32_avx2[] = {F32(f32_brgemm_4x24_avx2, 4, 24, 1, 8, avx2)};
static const cvt_brgemm_config f32_avx512[] = {
    /* positions in the lanes: wide planes */
    F32R(f32_brgemm_6x16_avx512, f32_brgemm_6x16_rows_avx512, 6, 16, 1, 16),
    F32R(f32_brgemm_6x32_avx512, f32_brgemm_6x32_rows_avx512, 6, 32, 1, 16),
    F32R(f32_brgemm_6x48_avx512, f32_brgemm_6x48_rows_avx512, 6, 48, 1, 16),
    F32R(f32_brgemm_6x64_avx512, f32_brgemm_6x64_rows_avx512, 6, 64, 1, 16),
    /* channels in the lanes: planes with few positions */
    F32C(f32_brgemm_64x1, 64, 1, 16, 1),
    F32C(f32_brgemm_64x2, 64, 2, 16, 1),
    F32C(f32_brgemm_64x3, 64, 3, 16, 1),
    F32C(f32_brgemm_64x4, 64, 4, 16, 1),
    F32C(f32_brgemm_64x5, 64, 5, 16, 1),
    F32C(f32_brgemm_64x6, 64, 6, 16, 1),
    F32N(f32_brgemm_32x12, 32, 12, 16, 1)};
static const cvt_brgemm_config f64_scalar[] = {F64(f64_brgemm_4x8_scalar, 4, 8, 1, 2, scalar)};
static const cvt_brgemm_config f64_avx2[] = {F64(f64_brgemm_4x12_avx2, 4, 12, 1, 4, avx2)};
static const cvt_brgemm_config f64_avx512[] = {
    F64(f64_brgemm_6x32_avx512, 6, 32, 1, 8, avx512)};

#define TILES(array) {(array), sizeof(array) / sizeof((array)[0])}
static const struct {
  const cvt_brgemm_config *tiles;
  size_t count;
} table[2][CVT_ISA_COUNT] = {
    {TILES(f32_scalar), TILES(f32_avx2), TILES(f32_avx512)},
    {TILES(f64_scalar), TILES(f64_avx2), TILES(f64_avx512)},
};

const cvt_brgemm_config *cvt_brgemm_configs(convt3d_dtype dtype, cvt_isa isa,
                                            size_t *count) {
  const size_t d = dtype == CONVT3D_F32 ? 0 : 1;
  *count = table[d][isa].count;
  return table[d][isa].tiles;
}
