/* A Lua host without a run (see host.h). */
#include "engine/host.h"

#include <lauxlib.h>
#include <lualib.h>
#include <luajit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua/bindings.h"

/* As luaL_newstate's: an error outside any protected call ends the
 * process (LuaJIT exits when this returns). */
static int panic(lua_State *L) {
  const char *msg = lua_tostring(L, -1);
  fprintf(stderr, "summit: PANIC: unprotected error in call to Lua API (%s)\n",
          msg ? msg : "?");
  fflush(stderr);
  return 0;
}

int host_init_parts(runtime_t *rt, events_t *ev, uv_loop_t *loop,
                    double time_scale, const char *state_dir) {
  memset(rt, 0, sizeof *rt);
  if (uv_loop_init(loop) != 0) return -1;
  events_init(ev, stdout, 0);
  ev->quiet = 1;
  rt->mem.cap = LALLOC_DEFAULT_CAP;
  const char *cap = getenv("SUMMIT_LUA_MEMORY");
  char err[160];
  if (cap && *cap && lalloc_parse_size(cap, &rt->mem.cap, err, sizeof err))
    fprintf(stderr, "summit: SUMMIT_LUA_MEMORY: %s (the cap stays at 1 GiB)\n",
            err);
  lua_State *L = lua_newstate(lalloc, &rt->mem);
  if (!L) {
    uv_loop_close(loop);
    return -1;
  }
  lua_atpanic(L, panic);
  luaL_openlibs(L);
  /* The string metatable is shared by the whole state and its __index is
   * the engine's own `string`: getmetatable("") must not hand it to a
   * runbook or summit.lua (Lua's getmetatable answers __metatable). */
  lua_pushliteral(L, "");
  lua_getmetatable(L, -1);                     /* "" mt */
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");          /* mt.__metatable = false */
  lua_pop(L, 2);
  /* The interpreter only. The LuaJIT we link (Debian's 2.1.0-beta3 snapshot
   * of 2022-03-20) has LuaJIT issue #827: when a trace starting at a
   * running pairs() loop is blacklisted, the rest of that traversal can end
   * early or yield a bogus key, silently (the sim saw pods copied without
   * their metadata). Summit's hot paths are C (SQLite, cJSON, libuv,
   * libcurl); the step machinery costs about the same interpreted (see
   * docs/performance.md), and a journal that skips a key is not a trade. */
  luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF);
  sl_open_modules(L);
  rt->L = L;
  rt->loop = loop;
  rt->ev = ev;
  rt->state_dir = state_dir;
  rt->time_scale = time_scale > 0 ? time_scale : 1;
  rt->log_fd = -1;
  rt->sched = sched_new(L, loop);
  runtime_attach(L, rt);
  watchdog_install(L, &rt->wd);
  return 0;
}

int host_init(host_t *h, double time_scale, const char *state_dir) {
  memset(h, 0, sizeof *h);
  return host_init_parts(&h->rt, &h->ev, &h->loop, time_scale, state_dir);
}

static void count_open(uv_handle_t *handle, void *arg) {
  if (!uv_is_closing(handle)) (*(int *)arg)++;
}

int host_open_handles(host_t *h) {
  int n = 0;
  uv_walk(&h->loop, count_open, &n);
  return n;
}

static void close_walk(uv_handle_t *handle, void *arg) {
  (void)arg;
  if (!uv_is_closing(handle)) uv_close(handle, NULL);
}

int host_free(host_t *h) {
  if (h->rt.sched) sched_free(h->rt.sched);
  h->rt.sched = NULL;
  /* Whatever the embedder left open: let pending closes finish, close
   * the rest (a leak of their memory, reported by LSan, is a bug there). */
  uv_run(&h->loop, UV_RUN_NOWAIT);
  uv_walk(&h->loop, close_walk, NULL);
  while (uv_run(&h->loop, UV_RUN_NOWAIT)) {}
  if (h->rt.L) lua_close(h->rt.L);
  h->rt.L = NULL;
  return uv_loop_close(&h->loop);
}

/* The error at index 1 as a string (an error table through its
 * __tostring), or NULL. */
static const char *error_text(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (!msg) {
    lua_getglobal(L, "tostring");
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    msg = lua_tostring(L, -1);
  }
  return msg;
}

int host_traceback(lua_State *L) {
  const char *msg = error_text(L);
  luaL_traceback(L, L, msg ? msg : "(error)", 1);
  return 1;
}

int host_error_message(lua_State *L) {
  const char *msg = error_text(L);
  lua_pushstring(L, msg ? msg : "(error)");
  return 1;
}

typedef struct {
  host_step step;
  void *ud;
  int code;
} protected_t;

static int run_step(lua_State *L) {
  protected_t *p = lua_touserdata(L, lua_upvalueindex(1));
  p->code = p->step(L, p->ud);
  return lua_gettop(L);
}

int host_protect(lua_State *L, host_step step, void *ud, int nargs, int *code) {
  protected_t p = {step, ud, 0};
  int base = lua_gettop(L) - nargs;
  lua_pushcfunction(L, host_traceback);
  lua_insert(L, base + 1);
  lua_pushlightuserdata(L, &p);
  lua_pushcclosure(L, run_step, 1);
  lua_insert(L, base + 2);                   /* tb step args */
  int rc = lua_pcall(L, nargs, LUA_MULTRET, base + 1);
  lua_remove(L, base + 1);
  *code = rc ? 0 : p.code;
  return rc;
}
