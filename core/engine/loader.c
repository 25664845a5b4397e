/* Loading summit.lua and runbooks, and the protected entry the commands
 * start through (see loader.h). */
#include "engine/loader.h"

#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/limits.h"
#include "engine/report.h"
#include "io/file.h"
#include "lua/bindings.h"

int loader_protect(lua_State *L, host_step step, void *ud, int nargs) {
  int base = lua_gettop(L) - nargs, code = 0;
  if (host_protect(L, step, ud, nargs, &code) != 0) {
    /* The traceback's tabs would be shown escaped (io/term.h). */
    engine_errf("%s", luaL_gsub(L, lua_tostring(L, -1), "\t", "  "));
    /* A raise in the middle of loading a file leaves its budget armed. */
    watchdog_load_end(&runtime_get(L)->wd);
    code = EXIT_USAGE;
  }
  if (code) lua_settop(L, base);
  return code;
}

void loader_require(lua_State *L, const char *name) {
  lua_getglobal(L, "require");
  lua_pushstring(L, name);
  lua_call(L, 1, 1);
}

void loader_push_runbook_fn(lua_State *L, const char *name) {
  loader_require(L, "summit.runbook");
  lua_getfield(L, -1, name);
  lua_remove(L, -2);
}

int loader_config(runtime_t *rt, const char *path, const char *env_name) {
  lua_State *L = rt->L;
  loader_require(L, "summit.config");
  if (path) {
    size_t len = 0;
    char *src = io_read_file(path, &len);
    if (!src) {
      engine_errf("cannot read configuration %s: %s", path, strerror(errno));
      lua_pop(L, 1);
      return EXIT_USAGE;
    }
    lua_getfield(L, -1, "open");
    lua_pushstring(L, path);
    lua_pushlstring(L, src, len);
    free(src);
  } else {
    lua_getfield(L, -1, "select");
  }
  if (env_name) lua_pushstring(L, env_name);
  else lua_pushnil(L);
  /* summit.config runs the file under its own pcall. */
  if (path) watchdog_load_begin(&rt->wd, path);
  lua_call(L, path ? 3 : 1, 2);              /* config ok problems */
  watchdog_load_end(&rt->wd);
  if (!lua_toboolean(L, -2)) {
    engine_errf_list(L);
    lua_pop(L, 2);
    return EXIT_USAGE;
  }
  lua_pop(L, 3);
  return limits_apply(rt) != 0 ? EXIT_USAGE : 0;
}

/* summit.check.globals(chunk, env), then summit.misspelt.steps(chunk) (a
 * literal step{} table's misspelt options), for the chunk on top of L:
 * LOAD_OK, or LOAD_CHECK with their problems pushed in place of the chunk. */
static int check_globals(lua_State *L) {
  loader_require(L, "summit.check");
  lua_getfield(L, -1, "globals");
  lua_remove(L, -2);
  lua_pushvalue(L, -2);
  lua_getfenv(L, -1);
  lua_call(L, 2, 1);                         /* chunk problems */
  loader_require(L, "summit.misspelt");
  lua_getfield(L, -1, "steps");
  lua_remove(L, -2);
  lua_pushvalue(L, -3);
  lua_call(L, 1, 1);                         /* chunk problems more */
  for (int i = 1, n = (int)lua_objlen(L, -2); i <= (int)lua_objlen(L, -1); i++) {
    lua_rawgeti(L, -1, i);
    lua_rawseti(L, -3, n + i);
  }
  lua_pop(L, 1);                             /* chunk problems */
  if (lua_objlen(L, -1) == 0) {
    lua_pop(L, 1);
    return LOAD_OK;
  }
  lua_remove(L, -2);
  return LOAD_CHECK;
}

/* summit.runbook.loading = the value on top of L (set) or nil: the chunk
 * runbook{} reads the line of a misspelt key from, as `return
 * runbook{...}` is a tail call that leaves no frame naming it. */
static void set_loading(lua_State *L, int set) {
  int top = lua_gettop(L);
  loader_require(L, "summit.runbook");
  if (set) lua_pushvalue(L, top);
  else lua_pushnil(L);
  lua_setfield(L, -2, "loading");
  lua_pop(L, 1);
}

int loader_eval(lua_State *L, const char *path, const char *src, size_t len,
                int static_check) {
  char chunk[4200];
  snprintf(chunk, sizeof chunk, "@%s", path);
  if (luaL_loadbuffer(L, src, len, chunk) != 0) return LOAD_SYNTAX;
  sl_push_sandbox(L);
  lua_setfenv(L, -2);                        /* chunk */
  if (static_check && check_globals(L) != LOAD_OK) return LOAD_CHECK;
  lua_pushcfunction(L, host_error_message);
  lua_insert(L, -2);                         /* handler chunk */
  /* An endless top level is an error, not a hang (watchdog.h). */
  watchdog_t *wd = &runtime_get(L)->wd;
  set_loading(L, 1);
  watchdog_load_begin(wd, path);
  int rc = lua_pcall(L, 0, 1, -2);
  watchdog_load_end(wd);
  set_loading(L, 0);
  lua_remove(L, -2);                         /* def|message */
  if (rc != 0) return LOAD_RAISED;
  loader_push_runbook_fn(L, "is");
  lua_pushvalue(L, -2);
  lua_call(L, 1, 1);
  int ok = lua_toboolean(L, -1);
  lua_pop(L, 1);
  if (ok) return LOAD_OK;
  lua_pushstring(L, luaL_typename(L, -1));
  lua_remove(L, -2);
  return LOAD_NOT_RUNBOOK;
}

int loader_runbook(lua_State *L, const char *path, const char *src,
                   size_t len, int static_check) {
  int r = loader_eval(L, path, src, len, static_check);
  if (r == LOAD_OK) return 0;
  if (r == LOAD_CHECK) {
    engine_errf_list(L);
    return EXIT_USAGE;
  }
  if (r == LOAD_SYNTAX)
    engine_errf("%s", lua_tostring(L, -1));
  else if (r == LOAD_RAISED)
    engine_errf("%s: %s", path, lua_tostring(L, -1));
  else
    engine_errf("%s: the file must return runbook{...} (it returned a %s)",
                path, lua_tostring(L, -1));
  lua_pop(L, 1);
  return EXIT_USAGE;
}
