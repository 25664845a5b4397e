#ifndef SUMMIT_ENGINE_RUNTIME_H
#define SUMMIT_ENGINE_RUNTIME_H
/* The per-run context shared by the engine and the Lua bindings: one per
 * lua_State, found from any coroutine through the registry. */
#include <lua.h>
#include <stdint.h>
#include <uv.h>

#include "engine/events.h"
#include "engine/lalloc.h"
#include "engine/pins.h"
#include "engine/sched.h"
#include "engine/watchdog.h"
#include "store/store.h"

typedef struct runtime {
  lua_State *L;
  uv_loop_t *loop;
  sched_t *sched;
  store_t *store;       /* NULL while validating (no run) */
  events_t *ev;
  const char *run_id;
  const char *state_dir;
  const char *user;     /* who started or resumed the run (audit actor) */
  double time_scale;    /* --time-scale: durations are divided by it */
  int log_fd;           /* the run's output log, or -1 */
  int halted;           /* summit.c.task.halt() was called */
  int cancel_state;     /* CANCEL_*: summit cancel was asked for */
  int cancel_rollback;  /* ... with --rollback */
  struct http_client *http;  /* made on the first request */
  struct http_client *http_streams;  /* watches: held open, so uncapped */
  lalloc_t mem;         /* the state's allocator and its cap */
  watchdog_t wd;        /* runaway Lua: step timeouts, cancel, load budget */
  pins_t pins;          /* the module sources the run pinned (pins.h) */
} runtime_t;

enum { CANCEL_NONE, CANCEL_UNWINDING, CANCEL_UNDOING };

/* Stores rt in L's registry. */
void runtime_attach(lua_State *L, runtime_t *rt);
/* The runtime of L (any coroutine of the run's state). */
runtime_t *runtime_get(lua_State *L);

/* Wall-clock milliseconds since the epoch. */
int64_t runtime_now_ms(void);

#endif
