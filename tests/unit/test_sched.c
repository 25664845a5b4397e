/* Unit tests for core/engine/sched.c, driven directly from C: small C
 * primitives registered as Lua globals follow the cosocket pattern
 * (task_wait + lua_yield; a uv timer pushes the result and sched_wake()s
 * the task). Covered: FIFO order of ready tasks, spawn of children,
 * cancellation (hook exactly once, descendants too), suspension with
 * detach (earliest wake), deadlock, sched_stop, the root's result, errors,
 * yields outside primitives, interrupts and deadlines. Each test closes
 * the loop and checks uv_loop_close() == 0. */
#include <criterion/criterion.h>

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <uv.h>

#include "engine/sched.h"

static lua_State *L;
static uv_loop_t loop;
static sched_t *S;
static int cancels;      /* cancel hooks called */
static int completions;  /* timers that fired and woke their task */
static int before_waits;
static int finished;

/* ---- primitives -------------------------------------------------------- */

typedef struct {
  uv_timer_t tm;
  task_t *task;
  char value[64];
  int cancelled;
} waiter;

static void waiter_closed(uv_handle_t *h) { free(h->data); }

static void waiter_fired(uv_timer_t *tm) {
  waiter *w = tm->data;
  cr_assert_not(w->cancelled, "a cancelled wait must not complete");
  completions++;
  task_t *t = w->task;
  lua_pushstring(task_thread(t), w->value);
  uv_close((uv_handle_t *)tm, waiter_closed);
  sched_wake(t, 1);
}

static void waiter_cancel(void *data) {
  waiter *w = data;
  cr_assert_not(w->cancelled, "cancel hook called twice");
  w->cancelled = 1;
  cancels++;
  uv_timer_stop(&w->tm);
  uv_close((uv_handle_t *)&w->tm, waiter_closed);
}

static task_t *self(lua_State *co) {
  task_t *t = sched_current(S);
  cr_assert_not_null(t, "a primitive runs inside sched_run");
  cr_assert_eq(task_thread(t), co, "sched_current is the calling coroutine");
  cr_assert_eq(sched_task_of(S, co), t);
  cr_assert_eq(task_sched(t), S);
  return t;
}

/* wait(ms [, value [, kind [, wake_ms [, deadline_in_ms]]]]) -> value:
 * a timer; kind "active" (default) or "durable". */
static int l_wait(lua_State *co) {
  task_t *t = self(co);
  int ms = luaL_checkint(co, 1);
  const char *v = luaL_optstring(co, 2, "");
  const char *kind = luaL_optstring(co, 3, "active");
  int64_t wake = (int64_t)luaL_optnumber(co, 4, 0);
  int64_t deadline_in = (int64_t)luaL_optnumber(co, 5, 0);
  waiter *w = calloc(1, sizeof *w);
  cr_assert_not_null(w);
  w->task = t;
  snprintf(w->value, sizeof w->value, "%s", v);
  cr_assert_eq(uv_timer_init(&loop, &w->tm), 0);
  w->tm.data = w;
  uv_timer_start(&w->tm, waiter_fired, (uint64_t)ms, 0);
  task_wait(t, strcmp(kind, "durable") ? WAIT_ACTIVE : WAIT_DURABLE,
            waiter_cancel, w, wake);
  if (deadline_in) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    int64_t now = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
    task_deadline(t, now + deadline_in);  /* absolute wall-clock ms */
  }
  return lua_yield(co, 0);
}

/* park(): waits until another task wakes it (WAIT_TASKS, no hook). */
static int l_park(lua_State *co) {
  task_wait(self(co), WAIT_TASKS, NULL, NULL, 0);
  return lua_yield(co, 0);
}

/* wake(handle, ...): the values become the results of park(). */
static int l_wake(lua_State *co) {
  luaL_checktype(co, 1, LUA_TTHREAD);
  lua_State *other = lua_tothread(co, 1);
  task_t *t = sched_task_of(S, other);
  cr_assert_not_null(t, "wake of a live task");
  int n = lua_gettop(co) - 1;
  lua_xmove(co, other, n);
  sched_wake(t, n);
  return 0;
}

static int l_spawn(lua_State *co) {
  luaL_checktype(co, 1, LUA_TFUNCTION);
  task_t *parent = self(co);
  lua_settop(co, 1);
  task_t *t = sched_spawn(S, co, parent);
  cr_assert_not_null(t);
  cr_assert(lua_isthread(co, -1));
  cr_assert_eq(lua_tothread(co, -1), task_thread(t));
  return 1;
}

static int l_cancel(lua_State *co) {
  task_t *t = sched_task_of(S, lua_tothread(co, 1));
  if (t) sched_cancel(S, t);
  return 0;
}

static int l_is_task(lua_State *co) {
  luaL_checktype(co, 1, LUA_TTHREAD);
  lua_pushboolean(co, sched_task_of(S, lua_tothread(co, 1)) != NULL);
  return 1;
}

static int l_stop(lua_State *co) {
  sched_stop(S);
  return 0;
}

static int l_interrupt(lua_State *co) {
  task_t *t = sched_task_of(S, lua_tothread(co, 1));
  cr_assert_not_null(t);
  sched_interrupt(t, luaL_checkstring(co, 2), luaL_checkstring(co, 3));
  return 0;
}

static int l_interrupt_all(lua_State *co) {
  sched_interrupt_all(S, luaL_checkstring(co, 1), luaL_checkstring(co, 2));
  return 0;
}

/* fired() -> how many timers have fired and woken their task so far */
static int l_fired(lua_State *co) {
  lua_pushinteger(co, completions);
  return 1;
}

/* tick(ms): like wait, on one timer that stays open after it fires (as
 * io/http.c's timer for curl does): a handle closed in its callback would
 * itself keep the loop's next poll from blocking. */
static uv_timer_t tick_tm;
static task_t *tick_task;

static void tick_fired(uv_timer_t *tm) {
  completions++;
  task_t *t = tick_task;
  tick_task = NULL;
  sched_wake(t, 0);
}

static void tick_cancel(void *data) {
  uv_timer_stop(&tick_tm);
  tick_task = NULL;
}

static int l_tick(lua_State *co) {
  cr_assert_null(tick_task, "one tick at a time");
  tick_task = self(co);
  uv_timer_start(&tick_tm, tick_fired, (uint64_t)luaL_checkint(co, 1), 0);
  task_wait(tick_task, WAIT_ACTIVE, tick_cancel, NULL, 0);
  return lua_yield(co, 0);
}

static void count_before_wait(void *ud) { ++*(int *)ud; }

/* commit() -> the number of before_waits (commits) made when it returns:
 * the group-commit pattern of core/lua/journal.c. With other tasks ready
 * the task waits (WAIT_COMMIT) for the commit that ends the turn; alone,
 * it "commits" at once (counted as a before_wait too). */
static int l_commit(lua_State *co) {
  task_t *t = self(co);
  if (sched_others_ready(S)) {
    task_wait(t, WAIT_COMMIT, NULL, NULL, 0);
    return lua_yield(co, 0);
  }
  before_waits++;
  return 0;
}

static int l_commits(lua_State *co) {
  lua_pushinteger(co, before_waits);
  return 1;
}

/* ---- fixture ----------------------------------------------------------- */

static void setup(void) {
  cancels = completions = before_waits = finished = 0;
  L = luaL_newstate();
  cr_assert_not_null(L);
  luaL_openlibs(L);
  cr_assert_eq(uv_loop_init(&loop), 0);
  cr_assert_eq(uv_timer_init(&loop, &tick_tm), 0);
  tick_task = NULL;
  S = sched_new(L, &loop);
  cr_assert_not_null(S);
  cr_assert_eq(sched_loop(S), &loop);
  cr_assert_null(sched_current(S));
  sched_set_before_wait(S, count_before_wait, &before_waits);
  static const luaL_Reg fns[] = {
    {"wait", l_wait},     {"park", l_park},       {"wake", l_wake},
    {"spawn", l_spawn},   {"cancel", l_cancel},   {"is_task", l_is_task},
    {"stop", l_stop},     {"interrupt", l_interrupt},
    {"interrupt_all", l_interrupt_all}, {"fired", l_fired},
    {"tick", l_tick}, {"commit", l_commit}, {"commits", l_commits},
    {NULL, NULL}};
  for (const luaL_Reg *f = fns; f->name; f++) {
    lua_pushcfunction(L, f->func);
    lua_setglobal(L, f->name);
  }
  cr_assert_eq(luaL_dostring(L, "order = {} "
                                "function rec(x) order[#order + 1] = "
                                "tostring(x) end"),
               0);
}

/* Frees the scheduler (cancelling what is left), lets cancelled handles
 * close, closes Lua and checks the loop has nothing left. */
static void finish(void) {
  sched_free(S);
  S = NULL;
  uv_close((uv_handle_t *)&tick_tm, NULL);
  while (uv_run(&loop, UV_RUN_NOWAIT)) {}
  lua_close(L);
  L = NULL;
  cr_assert_eq(uv_loop_close(&loop), 0, "a handle was left on the loop");
  finished = 1;
}

static void teardown(void) {
  if (finished) return;
  /* A failed assertion got here first: release what we can. */
  if (S) sched_free(S);
  if (!uv_is_closing((uv_handle_t *)&tick_tm))
    uv_close((uv_handle_t *)&tick_tm, NULL);
  while (uv_run(&loop, UV_RUN_NOWAIT)) {}
  if (L) lua_close(L);
  uv_loop_close(&loop);
}

TestSuite(sched, .init = setup, .fini = teardown, .timeout = 30);

/* Makes the chunk the root task. */
static task_t *root(const char *code) {
  cr_assert_eq(luaL_loadstring(L, code), 0, "%s", lua_tostring(L, -1));
  int top = lua_gettop(L);
  task_t *t = sched_spawn(S, L, NULL);
  cr_assert_not_null(t);
  cr_assert_eq(lua_gettop(L), top, "spawn pops the function, pushes co");
  cr_assert(lua_isthread(L, -1));
  lua_pop(L, 1);
  return t;
}

static sched_outcome run(int detach, int64_t *wake) {
  int64_t w = -1;
  sched_outcome out = sched_run(S, detach, wake ? wake : &w);
  cr_assert_null(sched_current(S), "no current task outside sched_run");
  return out;
}

/* The root's result as a string (pops it). */
static const char *result(void) {
  static char buf[1024];
  sched_push_root_result(S, L);
  const char *s = lua_tostring(L, -1);
  snprintf(buf, sizeof buf, "%s", s ? s : lua_isnil(L, -1) ? "<nil>" : "?");
  lua_pop(L, 1);
  return buf;
}

static const char *order(void) {
  static char buf[1024];
  cr_assert_eq(luaL_dostring(L, "return table.concat(order, ',')"), 0);
  snprintf(buf, sizeof buf, "%s", lua_tostring(L, -1));
  lua_pop(L, 1);
  return buf;
}

/* ---- basics ------------------------------------------------------------ */

Test(sched, root_result) {
  root("local v = wait(1, 'x') return v .. '!', 'second'");
  cr_assert_eq(run(0, NULL), SCHED_DONE);
  cr_assert_str_eq(result(), "x!", "the root's first result");
  cr_assert_eq(completions, 1);
  cr_assert_gt(before_waits, 0, "before_wait runs before the loop waits");
  finish();
}

Test(sched, root_result_table_and_nil) {
  root("return {status = 'succeeded', n = 3}");
  cr_assert_eq(run(0, NULL), SCHED_DONE);
  sched_push_root_result(S, L);
  cr_assert(lua_istable(L, -1));
  lua_getfield(L, -1, "status");
  cr_assert_str_eq(lua_tostring(L, -1), "succeeded");
  lua_pop(L, 2);
  cr_assert_eq(before_waits, 0, "nothing waited");
  finish();
}

Test(sched, root_returns_nothing) {
  root("wait(1)");
  cr_assert_eq(run(0, NULL), SCHED_DONE);
  cr_assert_str_eq(result(), "<nil>");
  finish();
}

Test(sched, many_sequential_waits) {
  root("local n = 0 for i = 1, 200 do "
       "  if wait(0, tostring(i)) == tostring(i) then n = n + 1 end "
       "end return n");
  cr_assert_eq(run(0, NULL), SCHED_DONE);
  cr_assert_str_eq(result(), "200");
  cr_assert_eq(completions, 200);
  finish();
}

/* A timer callback runs before the loop's poll in the same uv_run turn. A
 * task it wakes must run right after that turn, not once the poll has
 * waited for the next event (here a child's 1.5 s timer, which would have
 * fired, and been counted, by the time the root ran again). */
Test(sched, task_woken_by_a_timer_runs_before_the_next_event) {
  root("spawn(function() wait(1500, 'late') end) "
       "tick(0) return fired()");
  cr_assert_eq(run(0, NULL), SCHED_DONE);
  cr_assert_str_eq(result(), "1",
                   "the root ran again only after the child's timer fired");
  finish();
}

Test(sched, yield_across_pcall) {
  root("local ok, v = pcall(wait, 1, 'val') "
       "local ok2, e = pcall(function() wait(1) error('inner', 0) end) "
       "return tostring(ok) .. ':' .. v .. ',' .. tostring(ok2) .. ':' .. e");
  cr_assert_eq(run(0, NULL), SCHED_DONE);
  cr_assert_str_eq(result(), "true:val,false:inner");
  finish();
}

/* ---- group commit ------------------------------------------------------- */

/* 100 branches that each commit before their "effect": one commit covers
 * them all, and no branch goes on before it (each records the number of
 * commits made when it carries on). */
Test(sched, group_commit_one_commit_for_a_turn) {
  root("local hs = {} "
       "for i = 1, 100 do hs[i] = spawn(function() "
       "  commit() rec(commits()) "
       "end) end "
       "wait(1)");
  cr_assert_eq(run(0, NULL), SCHED_DONE);
  /* The last branch to run finds nobody ready and commits itself (1);
   * the 99 before it waited and went on after the scheduler's commit
   * (2), not one commit each. */
  cr_assert_eq(luaL_dostring(L, "local n = {} for _, v in ipairs(order) do "
                                "  n[v] = (n[v] or 0) + 1 end "
                                "return (n['0'] or 0) .. ',' .. (n['1'] or 0)"
                                " .. ',' .. (n['2'] or 0) .. ',' .. #order"),
               0);
  cr_assert_str_eq(lua_tostring(L, -1), "0,1,99,100");
  lua_pop(L, 1);
  finish();
}

/* Woken in the order they waited (oldest task first), and a commit wait
 * can be interrupted (a cancel) like any other. */
Test(sched, group_commit_order_and_interrupt) {
  root("local hs = {} "
       "for i = 1, 3 do hs[i] = spawn(function() "
       "  local r, code = commit() rec(i .. ':' .. tostring(code)) "
       "end) end "
       "hs[4] = spawn(function() interrupt(hs[2], 'ECANCELED', 'x') end) "
       "wait(1)");
  cr_assert_eq(run(0, NULL), SCHED_DONE);
  cr_assert_str_eq(order(), "2:ECANCELED,1:nil,3:nil");
  finish();
}

/* ---- ordering and children -------------------------------------------- */

Test(sched, fifo_order_of_ready_tasks) {
  root("local hs = {} "
       "for i = 1, 3 do hs[i] = spawn(function() "
       "  rec('start' .. i) local v = park() rec('woke' .. i .. ':' .. v) "
       "end) end "
       "rec('root') "
       "wait(1) "
       "wake(hs[3], 'c') wake(hs[1], 'a') wake(hs[2], 'b') "
       "rec('root-woke-all') "
       "wait(1) "
       "return 'done'");
  cr_assert_eq(run(0, NULL), SCHED_DONE);
  cr_assert_str_eq(result(), "done");
  cr_assert_str_eq(order(), "root,start1,start2,start3,root-woke-all,"
                            "woke3:c,woke1:a,woke2:b");
  finish();
}

Test(sched, spawned_children_run_and_finish) {
  root("local me = coroutine.running() "
       "local left = 3 "
       "local hs = {} "
       "for i = 1, 3 do hs[i] = spawn(function() "
       "  wait(4 - i, 'x') rec('child' .. i) left = left - 1 "
       "  if left == 0 then wake(me, 'all') end "
       "end) end "
       "for i = 1, 3 do assert(is_task(hs[i])) end "
       "local v = park() "
       "for i = 1, 3 do assert(not is_task(hs[i]), 'finished child') end "
       "return v");
  cr_assert_eq(run(0, NULL), SCHED_DONE);
  cr_assert_str_eq(result(), "all");
  cr_assert_str_eq(order(), "child3,child2,child1", "timers 1, 2, 3 ms");
  cr_assert_eq(completions, 3);
  finish();
}

Test(sched, grandchildren) {
  root("local me = coroutine.running() "
       "spawn(function() "
       "  spawn(function() wait(1) rec('grandchild') wake(me, 'gc') end) "
       "  rec('child') "
       "end) "
       "return park()");
  cr_assert_eq(run(0, NULL), SCHED_DONE);
  cr_assert_str_eq(result(), "gc");
  cr_assert_str_eq(order(), "child,grandchild");
  finish();
}

Test(sched, root_done_leaves_children_to_free) {
  /* The run ends when the root returns; sched_free cancels the rest. */
  root("spawn(function() wait(10000, 'never') rec('child') end) "
       "spawn(function() park() end) "
       "wait(1) return 'r'");
  cr_assert_eq(run(0, NULL), SCHED_DONE);
  cr_assert_str_eq(result(), "r");
  cr_assert_eq(cancels, 0);
  finish();
  cr_assert_eq(cancels, 1, "the remaining timer wait is cancelled once");
  cr_assert_eq(completions, 1);
}

/* ---- cancellation ----------------------------------------------------- */

Test(sched, cancel_calls_hook_once_and_cancels_descendants) {
  root("local a = spawn(function() "
       "  gc = spawn(function() wait(10000, 'never') rec('gc-done') end) "
       "  wait(10000, 'never') rec('child-done') "
       "end) "
       "spawn(function() wait(5, 'x') rec('sibling') end) "
       "wait(1) "
       "assert(is_task(a) and is_task(gc)) "
       "cancel(a) "
       "rec(is_task(a) and 'a-alive' or 'a-gone') "
       "rec(is_task(gc) and 'gc-alive' or 'gc-gone') "
       "cancel(a) "  /* again: a no-op */
       "wait(20) "
       "return 'ok'");
  cr_assert_eq(run(0, NULL), SCHED_DONE);
  cr_assert_str_eq(result(), "ok");
  cr_assert_eq(cancels, 2, "child and grandchild hooks, once each");
  cr_assert_str_eq(order(), "a-gone,gc-gone,sibling");
  cr_assert_eq(completions, 3, "root's two waits and the sibling's");
  finish();
  cr_assert_eq(cancels, 2, "sched_free does not cancel them again");
}

Test(sched, cancel_ready_task_never_runs) {
  root("local h = spawn(function() local v = park() rec('ran:' .. v) end) "
       "wait(1) "
       "wake(h, 'v') "
       "cancel(h) "
       "wait(1) "
       "return #order");
  cr_assert_eq(run(0, NULL), SCHED_DONE);
  cr_assert_str_eq(result(), "0");
  cr_assert_eq(cancels, 0, "a parked task has no hook");
  finish();
}

Test(sched, cancel_parked_parent_cancels_waiting_children) {
  root("local p = spawn(function() "
       "  for i = 1, 3 do spawn(function() wait(10000) end) end "
       "  park() "
       "end) "
       "wait(1) cancel(p) return 'x'");
  cr_assert_eq(run(0, NULL), SCHED_DONE);
  cr_assert_eq(cancels, 3);
  finish();
  cr_assert_eq(cancels, 3);
}

Test(sched, sched_free_cancels_everything_once) {
  root("for i = 1, 4 do spawn(function() "
       "  spawn(function() wait(10000) end) wait(10000) "
       "end) end "
       "wait(10000)");
  sched_stop(S);
  /* Stopped before it ran: nothing started. */
  cr_assert_eq(run(0, NULL), SCHED_STOPPED);
  cr_assert_eq(completions + cancels, 0);
  finish();
  cr_assert_eq(cancels, 0);
}

Test(sched, sched_free_cancels_a_tree) {
  root("for i = 1, 4 do spawn(function() "
       "  spawn(function() wait(10000) end) wait(10000) "
       "end) end "
       "spawn(function() wait(1) stop() end) "
       "wait(10000)");
  cr_assert_eq(run(0, NULL), SCHED_STOPPED);
  cr_assert_eq(cancels, 0);
  finish();
  cr_assert_eq(cancels, 9, "root + 4 children + 4 grandchildren");
  cr_assert_eq(completions, 1, "only the stopper's wait");
}

/* ---- suspension, deadlock, stop ---------------------------------------- */

Test(sched, suspends_on_durable_waits_with_earliest_wake) {
  root("spawn(function() wait(60000, '', 'durable', 5000) end) "
       "spawn(function() wait(60000, '', 'durable', 3000) end) "
       "spawn(function() wait(20, 'a') rec('active-done') "
       "  wait(60000, '', 'durable', 4000) end) "
       "park()");
  int64_t wake = -1;
  cr_assert_eq(run(1, &wake), SCHED_SUSPENDED);
  cr_assert_str_eq(order(), "active-done",
                   "an active wait keeps the run going");
  cr_assert_eq(wake, 3000, "the earliest durable wake");
  cr_assert_gt(before_waits, 0);
  cr_assert_eq(cancels, 0);
  finish();
  cr_assert_eq(cancels, 3, "the three durable waits are cancelled once");
}

Test(sched, durable_wait_without_detach_waits) {
  root("local me = coroutine.running() "
       "spawn(function() local v = wait(20, 'slept', 'durable', 42) "
       "  rec(v) wake(me, 'w') end) "
       "return park()");
  cr_assert_eq(run(0, NULL), SCHED_DONE);
  cr_assert_str_eq(result(), "w");
  cr_assert_str_eq(order(), "slept");
  finish();
}

Test(sched, resume_after_suspension) {
  /* A suspended scheduler can be run again (the engine does not, but the
   * state must stay consistent): without detach it waits the timer out. */
  root("local v = wait(20, 'late', 'durable', 777) return v");
  int64_t wake = 0;
  cr_assert_eq(run(1, &wake), SCHED_SUSPENDED);
  cr_assert_eq(wake, 777);
  cr_assert_eq(run(0, NULL), SCHED_DONE);
  cr_assert_str_eq(result(), "late");
  finish();
  cr_assert_eq(cancels, 0);
}

Test(sched, detach_with_nothing_durable_is_a_deadlock) {
  root("park()");
  cr_assert_eq(run(1, NULL), SCHED_ERROR);
  cr_assert_not_null(strstr(sched_errmsg(S), "deadlock"), "%s",
                     sched_errmsg(S));
  finish();
}

Test(sched, deadlock_detected) {
  root("local h = spawn(function() park() end) park()");
  cr_assert_eq(run(0, NULL), SCHED_ERROR);
  cr_assert_not_null(strstr(sched_errmsg(S), "deadlock"), "%s",
                     sched_errmsg(S));
  finish();
}

Test(sched, stop_from_a_task) {
  root("spawn(function() wait(5) stop() rec('after-stop') wait(10000) end) "
       "wait(10000) rec('root-done')");
  cr_assert_eq(run(0, NULL), SCHED_STOPPED);
  cr_assert_str_eq(order(), "after-stop",
                   "the task that stops runs to its next yield");
  finish();
  cr_assert_eq(cancels, 2);
}

static void stop_cb(uv_timer_t *t) {
  sched_stop(S);
  uv_close((uv_handle_t *)t, NULL);
}

Test(sched, stop_from_the_loop) {
  /* As a signal handler does: sched_stop from a loop callback. */
  uv_timer_t tm;
  uv_timer_init(&loop, &tm);
  uv_timer_start(&tm, stop_cb, 10, 0);
  root("wait(10000) rec('no')");
  uint64_t t0 = uv_hrtime();
  cr_assert_eq(run(0, NULL), SCHED_STOPPED);
  cr_assert_lt(uv_hrtime() - t0, 5000000000ULL);
  cr_assert_str_eq(order(), "");
  finish();
  cr_assert_eq(cancels, 1);
}

Test(sched, stop_wins_over_ready_tasks) {
  root("spawn(function() rec('child') end) stop() rec('root') wait(10000)");
  cr_assert_eq(run(0, NULL), SCHED_STOPPED);
  cr_assert_str_eq(order(), "root", "the ready child does not run");
  finish();
}

/* ---- errors ------------------------------------------------------------- */

Test(sched, error_in_root) {
  root("wait(1) error('boom at the root')");
  cr_assert_eq(run(0, NULL), SCHED_ERROR);
  cr_assert_not_null(strstr(sched_errmsg(S), "boom at the root"), "%s",
                     sched_errmsg(S));
  finish();
}

Test(sched, error_in_child) {
  root("spawn(function() wait(2) error('child failed', 0) end) "
       "wait(10000)");
  cr_assert_eq(run(0, NULL), SCHED_ERROR);
  cr_assert_str_eq(sched_errmsg(S), "child failed");
  finish();
  cr_assert_eq(cancels, 1, "the root's wait is cancelled by sched_free");
}

Test(sched, error_object_not_a_string) {
  root("error({code = 'E'})");
  cr_assert_eq(run(0, NULL), SCHED_ERROR);
  cr_assert_str_eq(sched_errmsg(S), "(error object is not a string)");
  finish();
}

Test(sched, yield_outside_a_primitive) {
  root("rec('before') coroutine.yield('sneaky') rec('after')");
  cr_assert_eq(run(0, NULL), SCHED_ERROR);
  cr_assert_not_null(strstr(sched_errmsg(S), "yielded outside"), "%s",
                     sched_errmsg(S));
  cr_assert_str_eq(order(), "before");
  finish();
}

Test(sched, long_error_message_truncated) {
  root("error(string.rep('x', 10000), 0)");
  cr_assert_eq(run(0, NULL), SCHED_ERROR);
  size_t n = strlen(sched_errmsg(S));
  cr_assert(n > 1000 && n < 10000, "%zu", n);
  finish();
}

/* ---- interrupts and deadlines -------------------------------------------- */

Test(sched, interrupt_resumes_with_code_and_message) {
  root("local h = spawn(function() "
       "  local v, code, msg = wait(10000, 'never') "
       "  rec(tostring(v) .. '|' .. code .. '|' .. msg) "
       "end) "
       "wait(1) interrupt(h, 'ECANCELED', 'stop it') wait(1) "
       "return 'ok'");
  cr_assert_eq(run(0, NULL), SCHED_DONE);
  cr_assert_str_eq(order(), "nil|ECANCELED|stop it");
  cr_assert_eq(cancels, 1, "the wait's hook ran once");
  cr_assert_eq(completions, 2, "only the root's waits completed");
  finish();
  cr_assert_eq(cancels, 1);
}

Test(sched, interrupt_all_skips_task_waits) {
  root("local me = coroutine.running() "
       "local p = spawn(function() local v = park() rec('parked:' .. v) "
       "  wake(me, 'ok') end) "
       "for i = 1, 2 do spawn(function() "
       "  local v, code = wait(10000) rec('active:' .. code) end) end "
       "spawn(function() "
       "  local v, code = wait(10000, '', 'durable', 99) rec('durable:' .. code) "
       "end) "
       "spawn(function() wait(1) interrupt_all('EINTR', 'cancel') "
       "  rec('interrupter') wait(1) wake(p, 'later') end) "
       "return park()");
  cr_assert_eq(run(0, NULL), SCHED_DONE);
  cr_assert_str_eq(result(), "ok");
  /* The interrupted tasks resume in an unspecified order among
   * themselves, after the interrupter yields and before the parked one. */
  cr_assert_eq(luaL_dostring(L, "local mid = {order[2], order[3], order[4]} "
                                "table.sort(mid) "
                                "return order[1] .. ';' .. "
                                "table.concat(mid, ',') .. ';' .. order[5] "
                                ".. ';' .. #order"),
               0);
  cr_assert_str_eq(lua_tostring(L, -1), "interrupter;active:EINTR,"
                                        "active:EINTR,durable:EINTR;"
                                        "parked:later;5");
  lua_pop(L, 1);
  cr_assert_eq(cancels, 3, "two active and one durable wait");
  cr_assert_eq(completions, 2, "only the interrupter's two wait(1)");
  finish();
}

Test(sched, deadline_interrupts_with_etimedout) {
  root("local v, code, msg = wait(10000, 'never', 'active', 0, 20) "
       "return tostring(v) .. '|' .. code .. '|' .. msg");
  uint64_t t0 = uv_hrtime();
  cr_assert_eq(run(0, NULL), SCHED_DONE);
  cr_assert_lt(uv_hrtime() - t0, 5000000000ULL);
  cr_assert_str_eq(result(), "nil|ETIMEDOUT|the step's timeout expired");
  cr_assert_eq(cancels, 1);
  cr_assert_eq(completions, 0);
  finish();
}

Test(sched, deadline_not_reached) {
  root("local a = wait(5, 'fast', 'active', 0, 100000) "
       "local b = wait(5, 'again') return a .. b");
  cr_assert_eq(run(0, NULL), SCHED_DONE);
  cr_assert_str_eq(result(), "fastagain");
  cr_assert_eq(cancels, 0);
  finish();  /* the deadline timer must have been closed */
}

/* ---- wake semantics ------------------------------------------------------ */

/* A task woken twice resumes with the first wake's values (sched.h). */
Test(sched, second_wake_keeps_first_values) {
  root("local h = spawn(function() local v = park() rec(v) end) "
       "wait(1) wake(h, 'first') wake(h, 'second') wait(1) return 'x'");
  cr_assert_eq(run(0, NULL), SCHED_DONE);
  cr_assert_str_eq(order(), "first");
  finish();
}

Test(sched, woken_task_runs_once) {
  root("local h = spawn(function() local v = park() rec('ran') end) "
       "wait(1) wake(h, 'a') wake(h, 'b') wait(1) return 'x'");
  cr_assert_eq(run(0, NULL), SCHED_DONE);
  cr_assert_str_eq(order(), "ran", "a double wake resumes the task once");
  finish();
}

/* sched_cancel of an ancestor of the running task (a child cancelling the
 * root) would free the running coroutine under its own feet: the
 * scheduler refuses it, and both tasks go on. */
Test(sched, child_cancelling_its_root_is_refused) {
  root("ROOT = coroutine.running() "
       "spawn(function() wait(1) cancel(ROOT) rec('after-cancel') end) "
       "wait(50) return 'root-done'");
  cr_assert_eq(run(0, NULL), SCHED_DONE);
  cr_assert_str_eq(result(), "root-done");
  cr_assert_str_eq(order(), "after-cancel", "the child went on");
  finish();
}
