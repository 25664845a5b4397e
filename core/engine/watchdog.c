/* Runaway Lua: the instruction-count hook (see watchdog.h). */
#include "engine/watchdog.h"

#include <lauxlib.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "engine/duration.h"
#include "engine/lalloc.h"
#include "engine/runtime.h"
#include "lua/embedded.h"

/* ---- signals ------------------------------------------------------- */

/* Process-wide, as signals are: one run executes per process. */
static volatile sig_atomic_t pending;
static uv_async_t *wake_async;
static void (*sig_fn)(void *, int);
static void *sig_ud;
static struct sigaction old_int, old_term;

static void on_sig(int signum) {
  pending = signum;
  /* uv_async_send is async-signal-safe (libuv's documentation). */
  if (wake_async) uv_async_send(wake_async);
}

static void deliver(void) {
  int s = pending;
  if (!s) return;
  pending = 0;
  if (sig_fn) sig_fn(sig_ud, s);
}

static void on_async(uv_async_t *a) {
  (void)a;
  deliver();
}

int watchdog_signals_start(uv_loop_t *loop, uv_async_t *async,
                           void (*fn)(void *ud, int signum), void *ud) {
  if (uv_async_init(loop, async, on_async) != 0) return -1;
  wake_async = async;
  sig_fn = fn;
  sig_ud = ud;
  pending = 0;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sig;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  return 0;
}

void watchdog_signals_stop(void) {
  if (!wake_async) return;
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  uv_close((uv_handle_t *)wake_async, NULL);
  wake_async = NULL;
  sig_fn = NULL;
  sig_ud = NULL;
  pending = 0;
}

/* ---- the hook ------------------------------------------------------ */

/* True when the running function is the engine's own Lua (lua/summit/,
 * not the stdlib): it is never interrupted, so a journal entry it has
 * started is always completed or failed before the error goes on. */
static int engine_code(lua_State *L, lua_Debug *ar) {
  if (!lua_getinfo(L, "S", ar) || !ar->source) return 0;
  const char *src = ar->source;
  if (src[0] != '@') return 1;            /* a chunk the engine built */
  if (!strncmp(src, "@lua/summit/", 12)) return 1;  /* SUMMIT_LUA_DIR */
  if (strncmp(src, "@summit/", 8) != 0) return 0;
  for (int i = 0; summit_embedded_modules[i].name; i++) {
    const char *p = summit_embedded_modules[i].path;
    if (!strncmp(p, "lua/summit/", 11) && !strcmp(p + 4, src + 1)) return 1;
  }
  return 0;
}

static void hook(lua_State *L, lua_Debug *ar);

static void set_strict(lua_State *L, watchdog_t *w, int strict) {
  if (w->strict == strict) return;
  w->strict = strict;
  lua_sethook(L, hook, LUA_MASKCOUNT, strict ? 1 : WATCHDOG_COUNT);
}

static void hook(lua_State *L, lua_Debug *ar) {
  deliver();
  runtime_t *rt = runtime_get(L);
  if (!rt) return;
  watchdog_t *w = &rt->wd;
  int64_t now = runtime_now_ms();
  const char *code = NULL, *msg = NULL;
  task_t *t = rt->sched ? sched_current(rt->sched) : NULL;
  if (t && task_thread(t) == L) {
    if (w->poll && now >= w->next_poll_ms) {
      w->next_poll_ms = now + WATCHDOG_POLL_MS;
      w->poll(w->poll_ud);
      deliver();
    }
    int64_t d = task_run_deadline(t);
    if (sched_stopped(rt->sched)) {
      code = "EINTR";
      msg = "the run was interrupted";
    } else if (rt->cancel_state == CANCEL_UNWINDING) {
      code = "ECANCELED";
      msg = "the run was cancelled";
    } else if (d && now >= d) {
      code = "ETIMEDOUT";
      msg = "the step's timeout expired";
    }
  } else if (w->load_deadline_ms && now >= w->load_deadline_ms) {
    code = "";
  }
  lalloc_t *m = &rt->mem;
  if (m->over && !code) {
    /* A request was refused for the memory cap. The engine's own code
     * may run on the reserve; once back in it the garbage of what failed
     * is collected, at most every WATCHDOG_GC_MS. */
    if (m->used > m->cap && engine_code(L, ar) && now >= w->next_gc_ms) {
      w->next_gc_ms = now + WATCHDOG_GC_MS;
      lua_gc(L, LUA_GCCOLLECT, 0);
    }
    if (m->used <= m->cap) m->over = 0;
    else code = "ENOMEM";
  }
  if (!code) {
    set_strict(L, w, 0);
    return;
  }
  /* From now on every instruction is checked, so the first one back in
   * the runbook's code after a pcall raises again. */
  set_strict(L, w, 1);
  if (engine_code(L, ar)) return;
  if (!*code) {
    luaL_where(L, 0);                       /* file:line: of the loop */
    lua_pushfstring(L, "still running after %d ms of loading %s (an "
                    "endless loop at its top level?); the budget is "
                    "limits.load in summit.lua or SUMMIT_LOAD_TIMEOUT",
                    (int)w->load_budget_ms,
                    w->load_what ? w->load_what : "?");
    lua_concat(L, 2);
    lua_error(L);
  }
  /* The error a primitive gives: summit.errors.new(code, msg). */
  lua_getglobal(L, "require");
  lua_pushliteral(L, "summit.errors");
  lua_call(L, 1, 1);
  if (!strcmp(code, "ENOMEM")) {
    lua_getfield(L, -1, "out_of_memory");
    lua_call(L, 0, 1);
    lua_error(L);
  }
  lua_getfield(L, -1, "new");
  lua_pushstring(L, code);
  lua_pushstring(L, msg);
  lua_call(L, 2, 1);
  lua_error(L);
}

void watchdog_install(lua_State *L, watchdog_t *w) {
  memset(w, 0, sizeof *w);
  w->load_budget_ms = WATCHDOG_LOAD_MS;
  const char *env = getenv("SUMMIT_LOAD_TIMEOUT");
  char err[160];
  if (env && *env) watchdog_set_load_budget(w, env, err, sizeof err);
  lua_sethook(L, hook, LUA_MASKCOUNT, WATCHDOG_COUNT);
}

int watchdog_set_load_budget(watchdog_t *w, const char *text, char *err,
                             size_t errlen) {
  double ms;
  if (duration_parse(text, &ms, err, (unsigned)errlen) != 0) return -1;
  w->load_budget_ms = ms >= 1 ? (int64_t)ms : 1;
  return 0;
}

void watchdog_load_begin(watchdog_t *w, const char *what) {
  w->load_what = what;
  w->load_deadline_ms = runtime_now_ms() + w->load_budget_ms;
}

void watchdog_load_end(watchdog_t *w) {
  w->load_deadline_ms = 0;
  w->load_what = NULL;
}
