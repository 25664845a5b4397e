/* summit.c.exec: child processes for engine.lua's `exec` (over io/proc). */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "engine/runtime.h"
#include "engine/secrets.h"
#include "io/proc.h"
#include "lua/bindings.h"

extern char **environ;

typedef struct {
  task_t *task;
  proc_t *proc;
} waiter;

/* Pushes captured output as text: a NUL byte (which no JSON string can
 * carry) becomes U+FFFD, so binary output cannot fail a finished step. */
static void push_output(lua_State *co, const char *buf, size_t len) {
  if (!buf || !memchr(buf, '\0', len)) {
    lua_pushlstring(co, buf ? buf : "", len);
    return;
  }
  luaL_Buffer b;
  luaL_buffinit(co, &b);
  for (size_t i = 0; i < len; i++) {
    if (buf[i]) luaL_addchar(&b, buf[i]);
    else luaL_addstring(&b, "\xef\xbf\xbd");
  }
  luaL_pushresult(&b);
}

static void exec_done(void *ud, const proc_result *r) {
  waiter *w = ud;
  lua_State *co = task_thread(w->task);
  if (r->spawn_error) {
    lua_pushnil(co);
    lua_pushstring(co, uv_err_name(r->spawn_error));
    lua_pushstring(co, uv_strerror(r->spawn_error));
    sched_wake(w->task, 3);
    free(w);
    return;
  }
  lua_createtable(co, 0, 10);
  lua_pushnumber(co, (lua_Number)r->exit_code);
  lua_setfield(co, -2, "code");
  push_output(co, r->out, r->out_len);
  lua_setfield(co, -2, "stdout");
  push_output(co, r->err, r->err_len);
  lua_setfield(co, -2, "stderr");
  if (r->term_signal) {
    lua_pushinteger(co, r->term_signal);
    lua_setfield(co, -2, "signal");
  }
  if (r->timed_out) {
    lua_pushboolean(co, 1);
    lua_setfield(co, -2, "timed_out");
  }
  if (r->out_truncated || r->err_truncated) {
    lua_pushboolean(co, 1);
    lua_setfield(co, -2, "truncated");
  }
  lua_pushnumber(co, r->duration_ms);
  lua_setfield(co, -2, "duration_ms");
  sched_wake(w->task, 1);
  free(w);
}

static void exec_cancel(void *data) {
  waiter *w = data;
  proc_abandon(w->proc);
  free(w);
}

/* Collects the strings of the array at idx into a NULL-terminated vector
 * whose strings stay owned by Lua (they are on the stack). */
static const char **argv_of(lua_State *L, int idx) {
  int n = (int)lua_objlen(L, idx);
  if (n < 1) luaL_argerror(L, idx, "argv must be a non-empty table of strings");
  const char **v = lua_newuserdata(L, sizeof(char *) * (n + 1));
  for (int i = 1; i <= n; i++) {
    lua_rawgeti(L, idx, i);
    if (!lua_isstring(L, -1)) {
      lua_pop(L, 1);
      luaL_argerror(L, idx, lua_pushfstring(L, "argv[%d] is not a string", i));
    }
    v[i - 1] = lua_tostring(L, -1);
    lua_rawseti(L, idx, i); /* keep a number's string form alive */
  }
  v[n] = NULL;
  return v;
}

/* The inherited environment with opts.env applied (false removes). The
 * vector and its strings live in a userdata and Lua strings on the stack. */
static const char **env_of(lua_State *L, int idx) {
  int n = 0, extra = 0;
  for (char **e = environ; *e; e++) n++;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    extra++;
    lua_pop(L, 1);
  }
  const char **v = lua_newuserdata(L, sizeof(char *) * (n + extra + 1));
  int k = 0;
  for (char **e = environ; *e; e++) {
    const char *eq = strchr(*e, '=');
    if (eq) {
      lua_pushlstring(L, *e, (size_t)(eq - *e));
      lua_rawget(L, idx);
      int overridden = !lua_isnil(L, -1);
      lua_pop(L, 1);
      if (overridden) continue;
    }
    v[k++] = *e;
  }
  lua_newtable(L); /* keeps the "K=V" strings alive */
  int kept = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) != LUA_TSTRING)
      luaL_argerror(L, 2, "env keys must be strings");
    if (lua_toboolean(L, -1)) {
      lua_pushfstring(L, "%s=%s", lua_tostring(L, -2),
                      luaL_checkstring(L, -1));
      v[k++] = lua_tostring(L, -1);
      lua_rawseti(L, -4, ++kept);
    }
    lua_pop(L, 1);
  }
  v[k] = NULL;
  return v;
}

/* run(argv, opts) -> {code, stdout, stderr, signal?, timed_out?,
 * truncated?, duration_ms} or nil, errname, message when it cannot start
 * or was interrupted (ETIMEDOUT at deadline_ms, ECANCELED).
 * opts: cwd, env, input, timeout_ms, kill_grace_ms, max_output, label,
 * deadline_ms, secret_output (keep the output out of the run's log). */
static int l_run(lua_State *L) {
  runtime_t *rt = runtime_get(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  if (lua_isnoneornil(L, 2)) lua_newtable(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  task_t *t =
      sl_current_task(L, "exec can only be used inside a running runbook");

  proc_opts o = {.log_fd = rt->log_fd};
  o.argv = argv_of(L, 1);                        /* 3: argv vector */
  lua_getfield(L, 2, "cwd");                     /* 4 */
  o.cwd = lua_tostring(L, -1);
  lua_getfield(L, 2, "input");                   /* 5 */
  o.input = lua_tolstring(L, -1, &o.input_len);
  lua_getfield(L, 2, "timeout_ms");              /* 6 */
  o.timeout_ms = (uint64_t)lua_tonumber(L, -1);
  lua_getfield(L, 2, "kill_grace_ms");           /* 7 */
  o.kill_grace_ms = (uint64_t)lua_tonumber(L, -1);
  lua_getfield(L, 2, "max_output");              /* 8 */
  o.capture_cap = (size_t)lua_tonumber(L, -1);
  lua_getfield(L, 2, "label");                   /* 9 */
  o.log_label = lua_tostring(L, -1);
  lua_getfield(L, 2, "env");                     /* 10 */
  if (lua_istable(L, -1)) o.env = env_of(L, 10);
  lua_getfield(L, 2, "secret_output");
  if (lua_toboolean(L, -1)) o.log_fd = -1;       /* credentials: no log */
  if (secrets_count() > 0) o.log_filter = secrets_redact;
  lua_pop(L, 1);

  waiter *w = malloc(sizeof *w);
  if (!w) return luaL_error(L, "out of memory");
  w->task = t;
  w->proc = proc_start(rt->loop, &o, exec_done, w);
  if (!w->proc) {
    free(w);
    return luaL_error(L, "out of memory starting a process");
  }
  task_wait(t, WAIT_ACTIVE, exec_cancel, w, 0);
  lua_getfield(L, 2, "deadline_ms");
  task_deadline(t, (int64_t)lua_tonumber(L, -1));
  lua_settop(L, 0);
  return lua_yield(L, 0);
}

static const luaL_Reg funcs[] = {
  {"run", l_run},
  {NULL, NULL}
};

int luaopen_summit_c_exec(lua_State *L) {
  lua_newtable(L);
  luaL_register(L, NULL, funcs);
  return 1;
}
