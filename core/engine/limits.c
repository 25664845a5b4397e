/* summit.lua's limits (see limits.h). */
#include "engine/limits.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/lalloc.h"
#include "engine/watchdog.h"

#define MIN_CAP ((size_t)16 << 20)  /* less cannot even load the engine */

int limits_apply(runtime_t *rt) {
  lua_State *L = rt->L;
  int rc = 0;
  char err[200];
  lua_getglobal(L, "require");
  lua_pushliteral(L, "summit.config");
  lua_call(L, 1, 1);                         /* config */
  lua_getfield(L, -1, "path");
  const char *path = lua_isstring(L, -1) ? lua_tostring(L, -1) : "summit.lua";
  lua_getfield(L, -2, "current");
  if (!lua_istable(L, -1)) goto done;
  lua_getfield(L, -1, "limits");
  if (!lua_istable(L, -1)) {
    lua_pop(L, 1);
    goto done;
  }
  lua_getfield(L, -1, "memory");
  const char *env = getenv("SUMMIT_LUA_MEMORY");
  if (!lua_isnil(L, -1) && !(env && *env)) {
    size_t cap = 0;
    if (lua_type(L, -1) == LUA_TNUMBER) {
      double v = lua_tonumber(L, -1);
      if (v >= 0 && v < 9e18) cap = (size_t)v;
      else rc = -1, snprintf(err, sizeof err, "not a size in bytes");
    } else if (lalloc_parse_size(lua_tostring(L, -1), &cap, err, sizeof err)) {
      rc = -1;
    }
    if (!rc && cap && cap < MIN_CAP) {
      rc = -1;
      snprintf(err, sizeof err, "at least 16MiB (or 0 for no cap)");
    }
    if (rc) fprintf(stderr, "summit: %s: limits.memory: %s\n", path, err);
    else rt->mem.cap = cap;
  }
  lua_pop(L, 1);
  lua_getfield(L, -1, "load");
  env = getenv("SUMMIT_LOAD_TIMEOUT");
  if (!lua_isnil(L, -1) && !(env && *env)) {
    int bad = 0;
    if (lua_type(L, -1) == LUA_TNUMBER) {
      double s = lua_tonumber(L, -1);
      if (s > 0 && s < 1e9) rt->wd.load_budget_ms = (int64_t)(s * 1000);
      else bad = 1, snprintf(err, sizeof err, "not a positive number of seconds");
    } else {
      bad = watchdog_set_load_budget(&rt->wd, lua_tostring(L, -1), err,
                                     sizeof err) != 0;
    }
    if (bad) {
      fprintf(stderr, "summit: %s: limits.load: %s\n", path, err);
      rc = -1;
    }
  }
  lua_pop(L, 2);                             /* config path current */
done:
  lua_pop(L, 3);
  return rc;
}
