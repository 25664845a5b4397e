/* summit.c.out: the run's event stream and log lines, for engine.lua. */
#include <lauxlib.h>
#include <stdlib.h>

#include "engine/runtime.h"
#include "io/term.h"
#include "lua/bindings.h"

/* emit(event, fields): fields is a table of JSON-able values. */
static int l_emit(lua_State *L) {
  runtime_t *rt = runtime_get(L);
  const char *event = luaL_checkstring(L, 1);
  if (rt->ev->quiet) return 0;
  cJSON *fields = NULL;
  if (!lua_isnoneornil(L, 2)) {
    char err[256];
    fields = sl_to_json(L, 2, err, sizeof err);
    if (!fields) return luaL_error(L, "emit %s: %s", event, err);
  }
  events_emit(rt->ev, event, fields);
  cJSON_Delete(fields);
  return 0;
}

/* log(level, message) */
static int l_log(lua_State *L) {
  runtime_t *rt = runtime_get(L);
  events_log(rt->ev, luaL_checkstring(L, 1), luaL_checkstring(L, 2));
  return 0;
}

/* term(s) -> s with its control characters shown (io/term.h), for the
 * human output the engine's Lua prints itself (summit runbooks). */
static int l_term(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  char *e = term_escape(s, len, 0);
  if (!e) return luaL_error(L, "out of memory");
  lua_pushstring(L, e);
  free(e);
  return 1;
}

static const luaL_Reg funcs[] = {
  {"emit", l_emit},
  {"log", l_log},
  {"term", l_term},
  {NULL, NULL}
};

int luaopen_summit_c_out(lua_State *L) {
  lua_newtable(L);
  luaL_register(L, NULL, funcs);
  return 1;
}
