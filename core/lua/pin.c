/* Loading a module as the run pins it (engine/pins.h, DESIGN §14): the
 * stdlib's loader (preload.c) and the team modules' go through
 * sl_pin_load, so a resumed run loads the text it loaded before.
 * summit.c.pin.source(name, path, text) is the same for Lua loaders. */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "engine/runtime.h"
#include "lua/bindings.h"

/* The text module name must load (the pinned one on a resume); raises on
 * a store error. *owned (caller frees) holds it when it is not text. */
static const char *pinned_text(lua_State *L, const char *name,
                               const char *path, const char *text,
                               char **owned) {
  runtime_t *rt = runtime_get(L);
  if (!rt) return text;
  int rc = pins_source(rt, name, path, &text, owned);
  if (rc == -2)
    luaL_error(L, "module %s: its pinned source is missing from the state "
                  "database", name);
  else if (rc)
    luaL_error(L, "module %s: %s", name, store_errmsg(rt->store));
  return text;
}

int sl_pin_load(lua_State *L, const char *name, const char *path,
                const char *text, const char *chunk, const char *bc,
                size_t bc_size) {
  char *owned = NULL;
  const char *load = pinned_text(L, name, path, text, &owned);
  int rc;
  if (bc && (load == text || !strcmp(load, text)))
    rc = luaL_loadbuffer(L, bc, bc_size, name);  /* the same code, parsed */
  else
    rc = luaL_loadbuffer(L, load, strlen(load), chunk);
  free(owned);
  return rc;
}

/* source(name, path, text) -> the text to load for module name */
static int l_source(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  const char *path = luaL_optstring(L, 2, NULL);
  const char *text = luaL_checkstring(L, 3);
  char *owned = NULL;
  text = pinned_text(L, name, path, text, &owned);
  lua_pushstring(L, text);
  free(owned);
  return 1;
}

/* pinned(name) -> text, path of the module as the run pinned it, or nil */
static int l_pinned(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  runtime_t *rt = runtime_get(L);
  char *text = NULL, *path = NULL;
  int rc = rt ? pins_pinned(rt, name, &text, &path) : 1;
  if (rc == -2)
    return luaL_error(L, "module %s: its pinned source is missing from the "
                         "state database", name);
  if (rc == -1)
    return luaL_error(L, "module %s: %s", name, store_errmsg(rt->store));
  if (rc == 1) return 0;
  lua_pushstring(L, text);
  lua_pushstring(L, path);
  free(text);
  free(path);
  return 2;
}

int luaopen_summit_c_pin(lua_State *L) {
  static const luaL_Reg fns[] = {{"source", l_source}, {"pinned", l_pinned},
                                 {NULL, NULL}};
  lua_newtable(L);
  luaL_register(L, NULL, fns);
  return 1;
}
