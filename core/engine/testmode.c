/* summit test's virtual clock, gates and kills (see testmode.h). */
#include "engine/testmode.h"

#include <poll.h>

testmode_t testmode;

/* The callbacks of timers that measure the run's time: the clock jumps
 * only to timers running one of these. Function pointers never dangle, as
 * a list of the timers themselves would once a timer is freed. */
#define MAX_VIRTUAL 16
static uv_timer_cb virtual_cbs[MAX_VIRTUAL];
static int n_virtual;

static int is_virtual(uv_timer_cb cb) {
  for (int i = 0; i < n_virtual; i++)
    if (virtual_cbs[i] == cb) return 1;
  return 0;
}

void testmode_timer_start(uv_timer_t *t, uv_timer_cb cb, uint64_t delay_ms,
                          uint64_t repeat_ms) {
  if (testmode.on && !is_virtual(cb) && n_virtual < MAX_VIRTUAL)
    virtual_cbs[n_virtual++] = cb;
  uv_timer_start(t, cb, delay_ms, repeat_ms);
}

typedef struct {
  int processes;     /* child processes running */
  int found;         /* a virtual timer is active */
  uint64_t min_due;  /* the soonest of them, in ms from now */
  uint64_t shift;    /* walk 2: bring every virtual timer this much closer */
} walk_t;

static void look(uv_handle_t *h, void *arg) {
  walk_t *w = arg;
  if (!uv_is_active(h) || uv_is_closing(h)) return;
  if (h->type == UV_PROCESS) w->processes++;
  if (h->type != UV_TIMER || !is_virtual(((uv_timer_t *)h)->timer_cb)) return;
  uint64_t due = uv_timer_get_due_in((uv_timer_t *)h);
  if (!w->found || due < w->min_due) w->min_due = due;
  w->found = 1;
}

/* uv_timer_start on an active timer moves it: same callback and repeat,
 * due `shift` ms sooner. */
static void shift(uv_handle_t *h, void *arg) {
  walk_t *w = arg;
  if (h->type != UV_TIMER || !uv_is_active(h) || uv_is_closing(h)) return;
  uv_timer_t *t = (uv_timer_t *)h;
  if (!is_virtual(t->timer_cb)) return;
  uint64_t due = uv_timer_get_due_in(t);
  uv_timer_start(t, t->timer_cb, due > w->shift ? due - w->shift : 0,
                 uv_timer_get_repeat(t));
}

/* Something is ready now: a file descriptor of the loop (the level-
 * triggered epoll set is itself readable), or a callback due at once. */
static int loop_busy(uv_loop_t *loop) {
  struct pollfd p = {.fd = uv_backend_fd(loop), .events = POLLIN};
  return uv_backend_timeout(loop) == 0 || poll(&p, 1, 0) > 0;
}

int testmode_turn(uv_loop_t *loop) {
  uv_update_time(loop);
  walk_t w = {0};
  uv_walk(loop, look, &w);
  if (w.processes) return 0;   /* real work: wait for it in real time */
  if (loop_busy(loop)) {
    uv_run(loop, UV_RUN_NOWAIT);
    return 1;
  }
  if (!w.found) return 0;
  w.shift = w.min_due;
  testmode.offset_ms += (int64_t)w.min_due;
  uv_walk(loop, shift, &w);
  uv_run(loop, UV_RUN_NOWAIT);
  return 1;
}

int testmode_record_written(void) {
  return testmode.kill_at > 0 && ++testmode.records == testmode.kill_at;
}
