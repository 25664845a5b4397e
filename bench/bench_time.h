/* The monotonic clock of the bench programs (bench_commit, bench_pgcommit),
 * in milliseconds. Include first: it asks for POSIX 2008 (clock_gettime). */
#ifndef SUMMIT_BENCH_TIME_H
#define SUMMIT_BENCH_TIME_H
#define _POSIX_C_SOURCE 200809L
#include <time.h>

static inline double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

#endif
