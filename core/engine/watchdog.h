#ifndef SUMMIT_ENGINE_WATCHDOG_H
#define SUMMIT_ENGINE_WATCHDOG_H
/* Runaway Lua (docs/authoring.md "Runaway Lua"): an instruction-count hook,
 * as Redis bounds its scripts, so Lua that never yields can still be
 * stopped. Every WATCHDOG_COUNT VM instructions the hook looks at the clock
 * and at what asks the run to stop:
 *
 *   - in a task (a coroutine the scheduler resumed): a signal (the run is
 *     interrupted), `summit cancel` (ECANCELED), the task's step timeout
 *     (ETIMEDOUT, as a wait cut by the timeout gives);
 *   - while loading code (a runbook's top level, summit.lua): the load
 *     budget (limits.load);
 *   - anywhere: the memory cap (lalloc.h), once a request was refused.
 *
 * Once one holds, the hook fires at every instruction and raises in every
 * frame that is not the engine's own Lua, so a runbook's pcall cannot
 * swallow it: control goes back to the engine, which keeps its journal
 * consistent because it is never interrupted itself. The JIT is off
 * (host.c), so every instruction is counted; a JIT trace would not be. */
#include <lua.h>
#include <stdint.h>
#include <uv.h>

#define WATCHDOG_COUNT 100000      /* instructions between two checks */
#define WATCHDOG_POLL_MS 250       /* poll() while Lua computes, at most */
#define WATCHDOG_LOAD_MS 5000      /* default budget of loading a file */
#define WATCHDOG_GC_MS 50          /* full collections when over the cap */

typedef struct watchdog {
  int64_t load_deadline_ms;   /* loading: interrupted past this (0: none) */
  const char *load_what;      /* the file being loaded, for the message */
  int64_t load_budget_ms;     /* limits.load / SUMMIT_LOAD_TIMEOUT */
  void (*poll)(void *ud);     /* the run's store checks (cancel, lease) */
  void *poll_ud;
  int64_t next_poll_ms;
  int64_t next_gc_ms;
  int strict;                 /* the hook fires at every instruction */
} watchdog_t;

/* Installs the hook on L (in LuaJIT one hook serves every coroutine of
 * the state) and sets the load budget from SUMMIT_LOAD_TIMEOUT, else the
 * default. */
void watchdog_install(lua_State *L, watchdog_t *w);

/* Bounds what runs until watchdog_load_end: Lua that is not the engine's
 * is interrupted with "WHAT: still running after N s" once the budget is
 * spent. Call only around a protected call (lua_pcall). */
void watchdog_load_begin(watchdog_t *w, const char *what);
void watchdog_load_end(watchdog_t *w);
/* Sets the load budget from a duration (limits.load); returns -1 when
 * text is not a duration (err says why). */
int watchdog_set_load_budget(watchdog_t *w, const char *text, char *err,
                             size_t errlen);

/* Routes SIGINT and SIGTERM to fn(ud, signum): at the loop's next turn
 * (through async, a handle of loop the caller owns and closes), or at the
 * hook's next check while Lua computes. A plain sigaction handler that only
 * sets a flag, since the loop cannot run while Lua computes. */
int watchdog_signals_start(uv_loop_t *loop, uv_async_t *async,
                           void (*fn)(void *ud, int signum), void *ud);
/* Gives SIGINT and SIGTERM back to their previous handlers and closes
 * async. */
void watchdog_signals_stop(void);

#endif
