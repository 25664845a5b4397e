/* How the fuzz targets cut their input into the pieces a stream of reads
 * would deliver: pseudo-random lengths from a seed taken from the input,
 * so a crash replays exactly. Included by the fuzz_*.c that feed in parts
 * (and, through them, by tests/unit/test_fuzz_regress.c). */
#ifndef SUMMIT_FUZZ_CHUNKS_H
#define SUMMIT_FUZZ_CHUNKS_H

#include <stddef.h>

/* The next chunk: 1 to most bytes, and no more than the left still to feed.
 * Advances *seed (a linear congruential generator). */
static inline size_t fuzz_chunk(unsigned *seed, size_t most, size_t left) {
  *seed = *seed * 1103515245u + 12345u;
  size_t chunk = 1 + (*seed >> 16) % most;
  return chunk > left ? left : chunk;
}

#endif
