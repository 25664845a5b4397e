#ifndef SUMMIT_ENGINE_TESTMODE_H
#define SUMMIT_ENGINE_TESTMODE_H
/* What `summit test` changes in the engine (docs/testing.md), all in one
 * place and all off unless summit test turns it on: a normal run reads the
 * wall clock, waits its timers out and is never killed by these.
 *
 *  - A virtual clock: runtime_now_ms() is the wall clock plus an offset,
 *    and when the loop has nothing to do but wait for a timer of the run or
 *    of the simulated cluster (sleeps, step timeouts, canary intervals, the
 *    sim's controller), the offset jumps to that timer: time is skipped,
 *    not scaled. Timers that watch real work (HTTP, processes, the lease)
 *    keep real time, and nothing jumps while a process runs.
 *  - Gates: with the clock on, a detached run still suspends when every
 *    task waits and one waits at an approval gate, but never for a sleep.
 *  - A kill: right after the run's journal record number kill_at is
 *    written (and committed), the run stops as if SIGKILLed: nothing more
 *    runs and no outcome is recorded (the lease is left to lapse). */
#include <stdint.h>
#include <uv.h>

/* Exit code of a run killed by kill_at (128 + SIGKILL, as a shell says). */
#define TESTMODE_EXIT_KILLED 137

typedef struct {
  int on;             /* the virtual clock runs */
  int64_t offset_ms;  /* virtual time = wall clock + offset_ms */
  int gates;          /* tasks waiting at an approval gate now */
  long kill_at;       /* kill after this journal record of the run (0: no) */
  long records;       /* the run's journal records, counted from setup */
  int killed;         /* the run was killed (kill_at reached) */
  const char *scenario;  /* JSON knobs laid over sim clusters' scenarios */
} testmode_t;

extern testmode_t testmode;

/* uv_timer_start for a timer that measures the run's time (a sleep, a
 * timeout, the sim's clock): under the virtual clock it is one the clock
 * may jump to. */
void testmode_timer_start(uv_timer_t *t, uv_timer_cb cb, uint64_t delay_ms,
                          uint64_t repeat_ms);

/* One turn of a loop under the virtual clock, for a scheduler with no
 * task ready: 0 when the caller should block on the loop as usual (a
 * process runs, or no timer of the run is pending), 1 after it ran what
 * was ready or jumped the clock to the next timer of the run and fired it.
 * Only called while testmode.on. */
int testmode_turn(uv_loop_t *loop);

/* A journal record of the run was written: 1 if the run is to be killed
 * now (kill_at reached). */
int testmode_record_written(void);

#endif
