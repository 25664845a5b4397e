/* Executing a loaded run under the scheduler (see execute.h). */
#include "engine/execute.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/host.h"
#include "engine/loader.h"
#include "engine/outcome.h"
#include "engine/report.h"
#include "engine/testmode.h"

#define CANCEL_POLL_MS 250

static void on_heartbeat(uv_timer_t *t) {
  ctx_t *c = t->data;
  /* A lost lease fences the store, whose hook stops the scheduler; any
   * other error (the database locked for long) is retried next beat. */
  if (store_lease_renew(c->rt.store, c->rt.run_id, getpid(), runtime_now_ms(),
                        c->ttl_ms) == STORE_ERR)
    engine_errf("renewing the lease of run %s: %s", c->rt.run_id,
                store_errmsg(c->rt.store));
}

/* summit cancel from another process writes a request into the store;
 * the executor looks for it a few times a second. */
static void on_cancel_poll(uv_timer_t *t) {
  ctx_t *c = t->data;
  char *mode = NULL;
  if (c->rt.cancel_state != CANCEL_NONE ||
      store_run_cancel_requested(c->rt.store, c->rt.run_id, &mode) !=
          STORE_OK ||
      !mode)
    return;
  c->rt.cancel_state = CANCEL_UNWINDING;
  c->rt.cancel_rollback = !strcmp(mode, "rollback");
  free(mode);
  sched_interrupt_all(c->rt.sched, "ECANCELED", "the run was cancelled");
}

static void on_signal(void *ud, int signum) {
  ctx_t *c = ud;
  c->interrupted = signum;
  sched_stop(c->rt.sched);
}

/* While Lua computes without yielding the loop's timers cannot fire: the
 * watchdog calls this instead, a few times a second, so a CPU-bound step
 * still sees summit cancel. The lease is deliberately not renewed here: a
 * step that computes past the lease loses the run (DESIGN §11 fencing). */
static void on_busy(void *ud) {
  ctx_t *c = ud;
  /* What is written waits for the next commit (a step's started row
   * waits for its first effect or its end): commit it now, so the write
   * lock is not held for as long as Lua computes. */
  store_flush(c->rt.store);
  on_cancel_poll(&c->cancel_poll);
}

static void flush_before_wait(void *ud) {
  ctx_t *c = ud;
  store_flush(c->rt.store);
}

int execute_pin_upgrade(ctx_t *c) {
  if (c->upgrade_pinned || !c->upgrade_source) return STORE_OK;
  int rc = store_run_pin_source(c->rt.store, c->rt.run_id, c->upgrade_path,
                                c->upgrade_source, c->upgrade_sha,
                                c->upgrade_version);
  /* The modules move with the runbook: those loaded now replace the pins. */
  if (rc == STORE_OK) rc = pins_commit(&c->rt);
  if (rc == STORE_OK) c->upgrade_pinned = 1;
  return rc;
}

/* on_first_new for resume --upgrade: the new source replayed the journal
 * without diverging, so the run is pinned to it from now on. */
static int l_pin_upgrade(lua_State *L) {
  ctx_t *c = lua_touserdata(L, lua_upvalueindex(1));
  if (execute_pin_upgrade(c) != STORE_OK)
    return luaL_error(L, "pinning the upgraded source: %s",
                      store_errmsg(c->rt.store));
  return 0;
}

static void set_string(lua_State *L, const char *key, const char *value) {
  lua_pushstring(L, value);
  lua_setfield(L, -2, key);
}

/* Pushes engine.setup's options: failed_key, decision, on_first_new. */
static void push_setup(ctx_t *c, const store_run *r, const engine_opts *o) {
  lua_State *L = c->rt.L;
  lua_newtable(L);
  if (r && r->failed_key && !strcmp(r->status, "failed"))
    set_string(L, "failed_key", r->failed_key);
  if (r && o->decision) {
    lua_newtable(L);
    if (r->failed_key && !strcmp(r->status, "needs_attention"))
      set_string(L, "key", r->failed_key);
    set_string(L, "action", o->decision);
    set_string(L, "by", o->user);
    lua_setfield(L, -2, "decision");
  }
  if (c->upgrade_source) {
    lua_pushlightuserdata(L, c);
    lua_pushcclosure(L, l_pin_upgrade, 1);
    lua_setfield(L, -2, "on_first_new");
  }
}

typedef struct {
  ctx_t *c;
  const engine_opts *o;
  const store_run *prev;
} start_t;

/* Protected step (stack: def params): engine.setup(options), then
 * engine.main(def, params) spawned as the run's root task. */
static int start_main(lua_State *L, void *ud) {
  start_t *s = ud;
  loader_require(L, "summit.engine");        /* def params E */
  lua_getfield(L, -1, "setup");
  lua_pushcfunction(L, host_error_message);
  lua_insert(L, -2);
  push_setup(s->c, s->prev, s->o);           /* def params E h setup opts */
  if (lua_pcall(L, 1, 0, -3) != 0) {
    engine_errf("%s", lua_tostring(L, -1));
    return EXIT_FAILED;
  }
  lua_pop(L, 1);                             /* def params E */
  if (luaL_loadstring(L, "local E, def, p = ...\n"
                         "return function() return E.main(def, p) end") != 0)
    return EXIT_FAILED;
  lua_insert(L, 1);                          /* chunk def params E */
  lua_insert(L, 2);                          /* chunk E def params */
  lua_call(L, 3, 1);                         /* main function */
  sched_spawn(s->c->rt.sched, L, NULL);
  lua_pop(L, 1);
  return 0;
}

/* Runs the loop until the run ends, suspends (*wake: when it wakes, 0 for
 * none) or stops, renewing the lease and watching for a cancel. */
static sched_outcome run_loop(ctx_t *c, int detach, int64_t *wake) {
  sched_set_before_wait(c->rt.sched, flush_before_wait, c);
  uv_timer_init(&c->loop, &c->heartbeat);
  c->heartbeat.data = c;
  uv_timer_start(&c->heartbeat, on_heartbeat, (uint64_t)c->ttl_ms / 3,
                 (uint64_t)c->ttl_ms / 3);
  uv_timer_init(&c->loop, &c->cancel_poll);
  c->cancel_poll.data = c;
  uv_timer_start(&c->cancel_poll, on_cancel_poll, CANCEL_POLL_MS,
                 CANCEL_POLL_MS);
  watchdog_signals_start(&c->loop, &c->sigwake, on_signal, c);
  c->rt.wd.poll = on_busy;
  c->rt.wd.poll_ud = c;
  c->rt.wd.next_poll_ms = runtime_now_ms() + WATCHDOG_POLL_MS;

  *wake = 0;
  sched_outcome out = sched_run(c->rt.sched, detach, wake);
  if (out != SCHED_SUSPENDED) *wake = 0;

  uv_timer_stop(&c->heartbeat);
  uv_timer_stop(&c->cancel_poll);
  watchdog_signals_stop();
  c->rt.wd.poll = NULL;
  return out;
}

/* Stops what is still in flight (a cancelled sibling, an interrupted
 * process): a fresh scheduler replaces the run's. */
static void stop_tasks(ctx_t *c) {
  sched_free(c->rt.sched);
  c->rt.sched = sched_new(c->rt.L, &c->loop);
}

int execute_run(ctx_t *c, const engine_opts *o, const store_run *prev,
                int64_t t0) {
  start_t s = {c, o, prev};
  int code = loader_protect(c->rt.L, start_main, &s, 2);
  if (code) return code;
  int64_t wake = 0;
  sched_outcome out = run_loop(c, o->detach, &wake);
  if (testmode.killed) {
    /* summit test's kill (testmode.h): as after a SIGKILL, nothing is
     * recorded; the journal and the lease stay as they are. */
    stop_tasks(c);
    return TESTMODE_EXIT_KILLED;
  }
  if (store_fenced(c->rt.store)) {
    /* Whatever the run looked like from here, it is another process's
     * now: stop what is in flight and write nothing. */
    stop_tasks(c);
    return ctx_report_fenced(c);
  }
  outcome_t oc;
  outcome_classify(c, out, wake, prev, &oc);
  stop_tasks(c);
  return outcome_record(c, out, &oc, t0);
}
