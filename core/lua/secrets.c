/* summit.c.secrets: the run's secret values for the engine's Lua
 * (lua/summit/secrets.lua, runbook.lua, api.lua); the matching itself is
 * engine/secrets.c. */
#include <lauxlib.h>

#include <stdlib.h>

#include "engine/secrets.h"
#include "lua/bindings.h"

/* add(name, value) -> true, or nil and why (too short to redact). */
static int l_add(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  size_t len;
  const char *v = luaL_checklstring(L, 2, &len);
  if (secrets_add(name, v, len) != 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "a secret must be at least %d bytes long (shorter "
                       "values cannot be redacted by value)", SECRETS_MIN_LEN);
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* redact(s) -> s with every secret value replaced by [secret:NAME]. */
static int l_redact(lua_State *L) {
  size_t len, out;
  const char *s = luaL_checklstring(L, 1, &len);
  char *r = secrets_redact(s, len, &out);
  if (!r) {
    lua_settop(L, 1);
    return 1;
  }
  lua_pushlstring(L, r, out);
  free(r);
  return 1;
}

static int l_count(lua_State *L) {
  lua_pushinteger(L, secrets_count());
  return 1;
}

static const luaL_Reg funcs[] = {
  {"add", l_add}, {"redact", l_redact}, {"count", l_count}, {NULL, NULL}
};

int luaopen_summit_c_secrets(lua_State *L) {
  lua_newtable(L);
  luaL_register(L, NULL, funcs);
  return 1;
}
