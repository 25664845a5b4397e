/* Which store a command opens (DESIGN §11, docs/team.md): $SUMMIT_STORE,
 * else `store =` in summit.lua, else state.db in the state directory.
 *
 * Commands such as status, resume and approve open the store before they
 * load any configuration, so summit.lua's `store` is read here on its
 * own: in a Lua state of its own, by summit.config's own evaluation (the
 * same sandbox), and only when SUMMIT_STORE is not set. A command that has
 * loaded the configuration already passes its Lua state instead. */
#include "engine/storecfg.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/file.h"
#include "lua/bindings.h"
#include "store/store.h"

/* Calls summit.config.store_of(path, src) in L: 1 with the store (or nil)
 * pushed, 0 with the error message pushed. */
static int store_of(lua_State *L, const char *path, const char *src) {
  lua_getglobal(L, "require");
  lua_pushstring(L, "summit.config");
  if (lua_pcall(L, 1, 1, 0) != 0) return 0;
  lua_getfield(L, -1, "store_of");
  lua_remove(L, -2);
  lua_pushstring(L, path);
  lua_pushstring(L, src);
  return lua_pcall(L, 2, 1, 0) == 0;
}

/* When L has loaded a configuration (summit.config.current), pushes its
 * `store` (nil when none) and returns 1; else pushes nothing, returns 0. */
static int loaded_store(lua_State *L) {
  int top = lua_gettop(L);
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "loaded");
  lua_getfield(L, -1, "summit.config");
  if (!lua_istable(L, -1)) {
    lua_settop(L, top);
    return 0;
  }
  lua_getfield(L, -1, "current");
  if (!lua_istable(L, -1)) {
    lua_settop(L, top);
    return 0;
  }
  lua_getfield(L, -1, "store");
  lua_replace(L, top + 1);
  lua_settop(L, top + 1);
  return 1;
}

int engine_store_target(const char *state_dir, const char *config_path,
                        lua_State *loaded, char *out, size_t n, char *err,
                        size_t errlen) {
  const char *env = getenv("SUMMIT_STORE");
  if (env && *env) {
    snprintf(out, n, "%s", env);
    return 0;
  }
  if (!config_path && !loaded) {
    store_target(state_dir, out, n);
    return 0;
  }
  int ok = 1;
  lua_State *L = loaded && loaded_store(loaded) ? loaded : NULL;
  if (!L) {
    if (!config_path) {
      store_target(state_dir, out, n);
      return 0;
    }
    size_t len = 0;
    char *src = io_read_file(config_path, &len);
    if (!src) {  /* no readable summit.lua: the commands say so themselves */
      store_target(state_dir, out, n);
      return 0;
    }
    L = luaL_newstate();
    if (!L) {
      free(src);
      snprintf(err, errlen, "out of memory");
      return -1;
    }
    luaL_openlibs(L);
    sl_open_modules(L);
    ok = store_of(L, config_path, src);
    free(src);
  }
  if (!ok) {
    snprintf(err, errlen, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1)
                                                     : "reading summit.lua");
  } else if (lua_isstring(L, -1)) {
    snprintf(out, n, "%s", lua_tostring(L, -1));
  } else {
    store_target(state_dir, out, n);
  }
  if (L == loaded) lua_pop(L, 1);
  else lua_close(L);
  return ok ? 0 : -1;
}
