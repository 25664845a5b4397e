/* Module registration: the C modules and the embedded Lua modules go into
 * package.preload, so `require` finds them with no file system access. */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua/bindings.h"
#include "lua/embedded.h"

static const luaL_Reg C_MODULES[] = {
  {"summit.json", luaopen_summit_json},
  {"summit.c.journal", luaopen_summit_c_journal},
  {"summit.c.task", luaopen_summit_c_task},
  {"summit.c.out", luaopen_summit_c_out},
  {"summit.c.exec", luaopen_summit_c_exec},
  {"summit.c.lock", luaopen_summit_c_lock},
  {"summit.c.http", luaopen_summit_c_http},
  {"summit.c.kube", luaopen_summit_c_kube},
  {"summit.c.server", luaopen_summit_c_server},
  {"summit.c.ws", luaopen_summit_c_ws},
  {"summit.c.approval", luaopen_summit_c_approval},
  {"summit.c.audit", luaopen_summit_c_audit},
  {"summit.c.notify", luaopen_summit_c_notify},
  {"summit.c.secrets", luaopen_summit_c_secrets},
  {"summit.c.pin", luaopen_summit_c_pin},
  {"summit.c.crypto", luaopen_summit_c_crypto},
  {NULL, NULL}
};

/* Developer mode ($SUMMIT_LUA_DIR): pushes the text of path in the source
 * tree, or raises. */
static const char *read_tree(lua_State *L, const char *dir, const char *rel) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, rel);
  FILE *f = fopen(path, "rb");
  if (!f) luaL_error(L, "SUMMIT_LUA_DIR: cannot open %s", path);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) luaL_addlstring(&b, buf, n);
  fclose(f);
  luaL_pushresult(&b);
  return lua_tostring(L, -1);
}

/* Loader of an embedded module: upvalue 1 is its index in the table. The
 * stdlib (what runbooks require) is embedded as source and loaded as the
 * run pins it (pin.c); the engine's own modules are bytecode, never
 * pinned: they are summit, not the run's code. */
static int load_embedded(lua_State *L) {
  const struct summit_embedded *m =
      &summit_embedded_modules[lua_tointeger(L, lua_upvalueindex(1))];
  const char *dir = getenv("SUMMIT_LUA_DIR");
  char chunk[4200];
  int rc;
  if (dir && *dir) {
    /* The source tree, chunk named by its real path. */
    const char *src = read_tree(L, dir, m->path);
    snprintf(chunk, sizeof chunk, "@%s", m->path);
    rc = m->text ? sl_pin_load(L, m->name, m->path, src, chunk, NULL, 0)
                 : luaL_loadbuffer(L, src, strlen(src), chunk);
  } else if (m->text) {
    /* Named as the bytecode is: "@stdlib/summit/x.lua", its path in the
     * tree (engine.lua tells the stdlib from the engine by it). */
    snprintf(chunk, sizeof chunk, "@%s", m->path);
    rc = sl_pin_load(L, m->name, m->path, m->code, chunk, m->bc, m->bc_size);
  } else {
    /* Bytecode keeps the chunk name it was compiled with (@summit/x.lua). */
    rc = luaL_loadbuffer(L, m->code, m->size, m->name);
  }
  if (rc != 0) return lua_error(L);
  lua_pushstring(L, m->name);
  lua_call(L, 1, 1);
  return 1;
}

void sl_open_modules(lua_State *L) {
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "preload");
  for (const luaL_Reg *m = C_MODULES; m->name; m++) {
    lua_pushcfunction(L, m->func);
    lua_setfield(L, -2, m->name);
  }
  for (int i = 0; summit_embedded_modules[i].name; i++) {
    lua_pushinteger(L, i);
    lua_pushcclosure(L, load_embedded, 1);
    lua_setfield(L, -2, summit_embedded_modules[i].name);
  }
  lua_pop(L, 2);
  /* The modules a runbook may require: the stdlib and json, nothing of
   * the engine (registry.summit_stdlib[name] = true). */
  lua_newtable(L);
  for (int i = 0; summit_embedded_modules[i].name; i++)
    if (summit_embedded_modules[i].text) {
      lua_pushboolean(L, 1);
      lua_setfield(L, -2, summit_embedded_modules[i].name);
    }
  lua_pushboolean(L, 1);
  lua_setfield(L, -2, "summit.json");
  lua_setfield(L, LUA_REGISTRYINDEX, "summit_stdlib");
}
