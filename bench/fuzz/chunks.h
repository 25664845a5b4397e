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

/* Feeds s[0..n) to feed(ud, piece, len) in chunks of 1 to most bytes cut
 * by fuzz_chunk from seed, until all is fed or feed returns non-zero.
 * Returns feed's last result (0 when all went in). */
static inline int fuzz_feed_chunks(unsigned seed, size_t most, const char *s,
                                   size_t n,
                                   int (*feed)(void *ud, const char *p,
                                               size_t len),
                                   void *ud) {
  int rc = 0;
  for (size_t off = 0; off < n && rc == 0;) {
    size_t chunk = fuzz_chunk(&seed, most, n - off);
    rc = feed(ud, s + off, chunk);
    off += chunk;
  }
  return rc;
}

#endif
