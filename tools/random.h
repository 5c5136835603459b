/* The tools' random numbers: splitmix64, tiny and well mixed, so that the demo's and the
 * bench's data are the same on every machine and every run. */
#ifndef CONVT3D_TOOLS_RANDOM_H
#define CONVT3D_TOOLS_RANDOM_H

#include <stdint.h>

static inline uint64_t next_u64(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

#endif
