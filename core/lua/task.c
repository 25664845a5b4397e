/* summit.c.task: tasks, timers, time and randomness for the engine's Lua.
 *
 * A task's handle in Lua is its coroutine. Waiting primitives follow the
 * cosocket pattern: start the work, register a cancel hook with task_wait,
 * return lua_yield; the callback pushes results and calls sched_wake. */
#include <lauxlib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/duration.h"
#include "engine/runtime.h"
#include "engine/testmode.h"
#include "lua/bindings.h"

task_t *sl_current_task(lua_State *L, const char *msg) {
  runtime_t *rt = runtime_get(L);
  task_t *t = rt->sched ? sched_current(rt->sched) : NULL;
  if (!t || task_thread(t) != L) luaL_error(L, "%s", msg);
  return t;
}

static task_t *current(lua_State *L) {
  return sl_current_task(L, "this primitive can only be used inside a "
                            "running runbook");
}

/* spawn(fn) -> handle: a new task running fn, child of the caller. */
static int l_spawn(lua_State *L) {
  runtime_t *rt = runtime_get(L);
  luaL_checktype(L, 1, LUA_TFUNCTION);
  task_t *self = current(L);
  lua_settop(L, 1);
  sched_spawn(rt->sched, L, self);
  return 1;
}

/* self() -> the handle of the running task. */
static int l_self(lua_State *L) {
  lua_pushthread(L);
  return 1;
}

/* suspend(): waits until another task calls wake(handle, ...); returns the
 * values given to wake. */
static int l_suspend(lua_State *L) {
  task_t *t = current(L);
  task_wait(t, WAIT_TASKS, NULL, NULL, 0);
  return lua_yield(L, 0);
}

/* wake(handle, ...): makes a suspended task ready; a handle whose task has
 * finished or been cancelled is ignored. */
static int l_wake(lua_State *L) {
  runtime_t *rt = runtime_get(L);
  luaL_checktype(L, 1, LUA_TTHREAD);
  lua_State *co = lua_tothread(L, 1);
  task_t *t = sched_task_of(rt->sched, co);
  if (!t || co == L) return 0;
  int n = lua_gettop(L) - 1;
  lua_xmove(L, co, n);
  sched_wake(t, n);
  return 0;
}

/* cancel(handle): cancels a task and its children (no-op when finished). */
static int l_cancel(lua_State *L) {
  runtime_t *rt = runtime_get(L);
  luaL_checktype(L, 1, LUA_TTHREAD);
  lua_State *co = lua_tothread(L, 1);
  task_t *t = sched_task_of(rt->sched, co);
  if (t && co != L) sched_cancel(rt->sched, t);
  return 0;
}

/* ---- timers -------------------------------------------------------- */

typedef struct {
  uv_timer_t timer;
  task_t *task;
} sleeper;

static void sleeper_closed(uv_handle_t *h) { free(h->data); }

static void sleeper_fired(uv_timer_t *tm) {
  sleeper *sl = tm->data;
  task_t *t = sl->task;
  uv_close((uv_handle_t *)tm, sleeper_closed);
  sched_wake(t, 0);
}

static void sleeper_cancel(void *data) {
  sleeper *sl = data;
  uv_timer_stop(&sl->timer);
  uv_close((uv_handle_t *)&sl->timer, sleeper_closed);
}

/* sleep_until(wake_ms [, deadline_ms [, active]]): a durable wait until
 * the wall-clock time wake_ms. The run may suspend on it (--detach); the
 * journal holds the wake time. With active true the wait is part of an
 * effect in flight (a notification's retry backoff): the run does not
 * suspend on it. Returns nothing, or nil, code, message when interrupted
 * (deadline, cancellation). */
static int l_sleep_until(lua_State *L) {
  runtime_t *rt = runtime_get(L);
  double wake = luaL_checknumber(L, 1);
  int64_t deadline = (int64_t)luaL_optnumber(L, 2, 0);
  int active = lua_toboolean(L, 3);
  task_t *t = current(L);
  int64_t now = runtime_now_ms();
  sleeper *sl = malloc(sizeof *sl);
  if (!sl) return luaL_error(L, "out of memory");
  sl->task = t;
  uv_timer_init(rt->loop, &sl->timer);
  sl->timer.data = sl;
  uint64_t delay = wake > (double)now ? (uint64_t)(wake - (double)now) : 0;
  /* The delay is from the wall clock now; libuv counts from its cached
   * loop time, which is stale after a burst of steps that never waited. */
  uv_update_time(rt->loop);
  testmode_timer_start(&sl->timer, sleeper_fired, delay, 0);
  task_wait(t, active ? WAIT_ACTIVE : WAIT_DURABLE, sleeper_cancel, sl,
            active ? 0 : (int64_t)wake);
  task_deadline(t, deadline);
  lua_settop(L, 0);
  return lua_yield(L, 0);
}

/* ---- time, durations, randomness, control -------------------------- */

/* now_ms() -> wall-clock milliseconds (not journaled: engine.lua does). */
static int l_now_ms(lua_State *L) {
  lua_pushnumber(L, (lua_Number)runtime_now_ms());
  return 1;
}

/* duration_ms(d) -> milliseconds of a duration (number = seconds). */
static int l_duration_ms(lua_State *L) {
  if (lua_type(L, 1) == LUA_TNUMBER) {
    double s = lua_tonumber(L, 1);
    if (!(s >= 0) || isinf(s))
      return luaL_argerror(L, 1, "duration must be a non-negative number");
    lua_pushnumber(L, s * 1000.0);
    return 1;
  }
  const char *s = luaL_checkstring(L, 1);
  double ms;
  char err[160];
  if (duration_parse(s, &ms, err, sizeof err) != 0)
    return luaL_argerror(L, 1, err);
  lua_pushnumber(L, ms);
  return 1;
}

/* time_scale() -> the run's --time-scale (durations are divided by it). */
static int l_time_scale(lua_State *L) {
  lua_pushnumber(L, runtime_get(L)->time_scale);
  return 1;
}

/* test_scenario() -> summit test's scenario knobs (JSON) to lay over a
 * simulated cluster's own, or nothing outside summit test. */
static int l_test_scenario(lua_State *L) {
  if (!testmode.on || !testmode.scenario) return 0;
  lua_pushstring(L, testmode.scenario);
  return 1;
}

/* virtual_clock() -> true under summit test's virtual clock. */
static int l_virtual_clock(lua_State *L) {
  lua_pushboolean(L, testmode.on);
  return 1;
}

/* random_u32() -> a random integer from the OS (journaled by engine.lua). */
static int l_random_u32(lua_State *L) {
  uint32_t v;
  if (uv_random(NULL, NULL, &v, sizeof v, 0, NULL) != 0)
    return luaL_error(L, "no randomness available");
  lua_pushnumber(L, (lua_Number)v);
  return 1;
}

/* halt(outcome): stops the whole run at once, beyond the reach of pcall
 * (divergence, needs_attention). The outcome table is kept for the engine;
 * the calling coroutine never resumes. */
static int l_halt(lua_State *L) {
  runtime_t *rt = runtime_get(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  task_t *t = current(L);
  lua_pushvalue(L, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, "summit.halt");
  rt->halted = 1;
  sched_stop(rt->sched);
  task_wait(t, WAIT_TASKS, NULL, NULL, 0);
  return lua_yield(L, 0);
}

/* cancelling() -> nil, "cancelling" (unwinding after summit cancel) or
 * "undoing" (running the undo functions). */
static int l_cancelling(lua_State *L) {
  runtime_t *rt = runtime_get(L);
  if (rt->cancel_state == CANCEL_NONE) return 0;
  lua_pushstring(L, rt->cancel_state == CANCEL_UNWINDING ? "cancelling"
                                                         : "undoing");
  lua_pushboolean(L, rt->cancel_rollback);
  return 2;
}

/* set_deadline(ms|nil): the innermost step timeout of the running task
 * (absolute wall-clock ms), for Lua that computes without waiting: the
 * watchdog interrupts it with ETIMEDOUT past that time. */
static int l_set_deadline(lua_State *L) {
  runtime_t *rt = runtime_get(L);
  task_t *t = rt->sched ? sched_current(rt->sched) : NULL;
  if (t && task_thread(t) == L)
    task_set_run_deadline(t, (int64_t)luaL_optnumber(L, 1, 0));
  return 0;
}

/* stopping() -> true once the run is being interrupted (a signal): what
 * is in flight stays as it is, for summit resume. */
static int l_stopping(lua_State *L) {
  runtime_t *rt = runtime_get(L);
  lua_pushboolean(L, rt->sched && sched_stopped(rt->sched) && !rt->halted);
  return 1;
}

/* memory() -> bytes the state holds, its cap (0: none), and whether a
 * request was refused for the cap (then "not enough memory" means it). */
static int l_memory(lua_State *L) {
  runtime_t *rt = runtime_get(L);
  lua_pushnumber(L, (lua_Number)rt->mem.used);
  lua_pushnumber(L, (lua_Number)rt->mem.cap);
  lua_pushboolean(L, rt->mem.refused);
  return 3;
}

/* begin_undo(): the undo phase starts; new entries may run again. */
static int l_begin_undo(lua_State *L) {
  runtime_t *rt = runtime_get(L);
  if (rt->cancel_state != CANCEL_NONE) rt->cancel_state = CANCEL_UNDOING;
  return 0;
}

/* state_dir() -> the state directory of the run (sim state lives there). */
static int l_state_dir(lua_State *L) {
  runtime_t *rt = runtime_get(L);
  if (!rt->state_dir) return 0;
  lua_pushstring(L, rt->state_dir);
  return 1;
}

/* stdlib(name) -> true if a runbook may require name. */
static int l_stdlib(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  lua_getfield(L, LUA_REGISTRYINDEX, "summit_stdlib");
  lua_getfield(L, -1, name);
  return 1;
}

static const luaL_Reg funcs[] = {
  {"stdlib", l_stdlib},
  {"state_dir", l_state_dir},
  {"cancelling", l_cancelling},
  {"begin_undo", l_begin_undo},
  {"set_deadline", l_set_deadline},
  {"stopping", l_stopping},
  {"memory", l_memory},
  {"spawn", l_spawn},
  {"self", l_self},
  {"suspend", l_suspend},
  {"wake", l_wake},
  {"cancel", l_cancel},
  {"sleep_until", l_sleep_until},
  {"now_ms", l_now_ms},
  {"duration_ms", l_duration_ms},
  {"time_scale", l_time_scale},
  {"test_scenario", l_test_scenario},
  {"virtual_clock", l_virtual_clock},
  {"random_u32", l_random_u32},
  {"halt", l_halt},
  {NULL, NULL}
};

int luaopen_summit_c_task(lua_State *L) {
  lua_newtable(L);
  luaL_register(L, NULL, funcs);
  return 1;
}
