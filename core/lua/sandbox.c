/* The runbook sandbox: an allow-list environment (Redis scripting style).
 *
 * A runbook sees only the names listed here plus the summit API. Reading an
 * unknown global or assigning a new one raises an error naming it and the
 * runbook line, which catches typos before they reach production. */
#include <lauxlib.h>
#include <string.h>

#include "lua/bindings.h"

/* Base functions copied from the real globals. */
static const char *const BASE[] = {
  "assert", "error", "ipairs", "next", "pairs", "pcall", "select",
  "tonumber", "tostring", "type", "unpack", "xpcall", "rawequal", "rawget",
  "rawset", "_VERSION", NULL
};
/* getmetatable and setmetatable are summit.sandbox's: they show and
 * replace only metatables the sandbox set itself. */

/* Libraries copied whole (a shallow copy, so a runbook cannot patch ours). */
static const char *const LIBS[] = {"string", "table", "bit", NULL};

/* Functions of math and os that are deterministic; math.random and
 * os.time come from the journaled versions in summit.api. */
static const char *const MATH[] = {
  "abs", "ceil", "floor", "fmod", "huge", "max", "min", "modf", "pi",
  "pow", "sqrt", "exp", "log", "log10", "sin", "cos", "tan", "asin",
  "acos", "atan", "atan2", "deg", "rad", "frexp", "ldexp", "sinh", "cosh",
  "tanh", NULL
};
static const char *const OS[] = {"date", "difftime", "clock", NULL};

static int env_index(lua_State *L) {
  const char *k = lua_tostring(L, 2);
  luaL_where(L, 2);
  return luaL_error(L, "%sunknown global '%s' (not defined, or not allowed "
                    "in a runbook)", lua_tostring(L, -1), k ? k : "?");
}

static int env_newindex(lua_State *L) {
  const char *k = lua_tostring(L, 2);
  luaL_where(L, 2);
  return luaL_error(L, "%sassignment to undeclared global '%s' (declare it "
                    "with 'local')", lua_tostring(L, -1), k ? k : "?");
}

static void copy_fields(lua_State *L, const char *lib, const char *const *names) {
  lua_getglobal(L, lib);
  lua_newtable(L);
  for (const char *const *n = names; *n; n++) {
    lua_getfield(L, -2, *n);
    lua_setfield(L, -2, *n);
  }
  lua_remove(L, -2);
}

static void copy_lib(lua_State *L, const char *lib) {
  lua_getglobal(L, lib);
  lua_newtable(L);
  lua_pushnil(L);
  while (lua_next(L, -3)) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, -4);
  }
  lua_remove(L, -2);
}

void sl_push_sandbox(lua_State *L) {
  lua_newtable(L);                                   /* env */
  for (const char *const *n = BASE; *n; n++) {
    lua_getglobal(L, *n);
    lua_setfield(L, -2, *n);
  }
  for (const char *const *n = LIBS; *n; n++) {
    copy_lib(L, *n);
    lua_setfield(L, -2, *n);
  }
  lua_getfield(L, -1, "string");
  lua_pushnil(L);
  lua_setfield(L, -2, "dump");        /* no bytecode of engine functions */
  lua_pop(L, 1);
  copy_fields(L, "math", MATH);
  lua_setfield(L, -2, "math");
  copy_fields(L, "os", OS);
  lua_setfield(L, -2, "os");

  /* The summit API: its fields become globals, and it may fill math.random
   * and os.time with journaled versions (api.install). */
  lua_getglobal(L, "require");
  lua_pushstring(L, "summit.api");
  lua_call(L, 1, 1);                                 /* env api */
  lua_getfield(L, -1, "install");
  lua_pushvalue(L, -3);
  lua_call(L, 1, 0);                                 /* api.install(env) */
  lua_pop(L, 1);

  lua_pushvalue(L, -1);
  lua_setfield(L, -2, "_G");                         /* env._G = env */
  lua_newtable(L);                                   /* env mt */
  lua_pushcfunction(L, env_index);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, env_newindex);
  lua_setfield(L, -2, "__newindex");
  lua_pushliteral(L, "summit sandbox");
  lua_setfield(L, -2, "__metatable");                /* locked */
  lua_setmetatable(L, -2);
}
