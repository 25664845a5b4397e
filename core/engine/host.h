#ifndef SUMMIT_ENGINE_HOST_H
#define SUMMIT_ENGINE_HOST_H
/* A Lua host without a run: one lua_State (standard libraries and the
 * embedded modules preloaded, not sandboxed), one uv loop, and the
 * runtime_t that binds them, set up as the run engine sets up a run (see
 * runctx.c ctx_open) for commands that serve rather than run a runbook
 * (summit sim serve). */
#include "engine/events.h"
#include "engine/runtime.h"

typedef struct host {
  runtime_t rt;
  events_t ev;
  uv_loop_t loop;
} host_t;

/* Initialises h (its memory is the caller's). Returns 0, or -1 when the
 * loop or the state cannot be made (nothing is left to free). */
int host_init(host_t *h, double time_scale, const char *state_dir);

/* The same for a runtime, events and loop that live elsewhere (the run
 * engine's context): the loop, a lua_State with the standard libraries and
 * the embedded modules, the scheduler, events quiet until the caller says
 * otherwise. */
int host_init_parts(runtime_t *rt, events_t *ev, uv_loop_t *loop,
                    double time_scale, const char *state_dir);

/* How many handles of the loop are still open (not closing): 0 once the
 * embedder has closed everything it started. */
int host_open_handles(host_t *h);

/* Closes what is still open on the loop, then the Lua state, then the
 * loop. Returns uv_loop_close's result (0: the loop could be closed). */
int host_free(host_t *h);

/* Message handler for lua_pcall: the error as a string with a traceback
 * (an error table is shown through tostring). */
int host_traceback(lua_State *L);

/* Message handler for lua_pcall: the error as a string alone, as a user's
 * runbook error is reported by its message (file:line). */
int host_error_message(lua_State *L);

/* A step of C code that drives Lua: it may lua_call freely and returns an
 * exit code (0: done). */
typedef int (*host_step)(lua_State *L, void *ud);

/* The one protected entry from C into Lua: runs step(L, ud) under
 * lua_pcall with host_traceback, with the top nargs values of L as its
 * stack (indices 1..nargs); what it leaves on its stack replaces them.
 * Returns 0 and sets *code to the step's result, or returns the
 * lua_pcall error with the message (and traceback) pushed in place of the
 * nargs values. A Lua error in the step is then an error, not a panic
 * that ends the process. */
int host_protect(lua_State *L, host_step step, void *ud, int nargs, int *code);

#endif
