/* Lossless JSON documents (see jsondoc.h): the simulated API server's view
 * of core/lua/json.c, which does the converting.
 *
 * decode(text) -> value | nil, message
 *   null -> json.null; every array gets the marker metatable (also the
 *   empty ones, which is the point). Only blanks may follow the value.
 * encode(value [, sorted]) -> text (raises, naming the path, on a value
 *   JSON cannot hold)
 *   A table with the marker is an array of its elements 1..#t; any other
 *   table whose keys are exactly 1..n (n > 0) is an array too; every other
 *   table is an object. Object keys are always in byte order (the
 *   canonical form used for hashing pod templates and for stable state
 *   files), so `sorted` is accepted and changes nothing.
 * array([t]) -> t with the marker (a new table when t is nil)
 * is_array(v) -> true if v carries the marker
 * null -> the sentinel, equal to summit.json's json.null */
#include "lua/jsondoc.h"

#include <cJSON.h>
#include <lauxlib.h>

#include "lua/bindings.h"

/* decode(text) -> value | nil, message */
static int l_decode(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  const char *end = NULL;
  cJSON *j = cJSON_ParseWithLengthOpts(s, len, &end, 0);
  if (!j) {
    lua_pushnil(L);
    lua_pushfstring(L, "invalid JSON at byte %d",
                    sl_json_error_offset(s, len));
    return 2;
  }
  /* Only blanks may follow the value. */
  while (end && end < s + len &&
         (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
    end++;
  if (end && end < s + len) {
    cJSON_Delete(j);
    lua_pushnil(L);
    lua_pushfstring(L, "invalid JSON at byte %d: trailing data",
                    (int)(end - s));
    return 2;
  }
  sl_push_json_doc(L, j);
  cJSON_Delete(j);
  return 1;
}

/* encode(value [, sorted]) -> text */
static int l_encode(lua_State *L) {
  return sl_push_encoded(L, 1, "json encode");
}

static const luaL_Reg funcs[] = {
  {"decode", l_decode},
  {"encode", l_encode},
  {"array", sl_json_array},
  {"is_array", sl_json_is_array},
  {NULL, NULL}
};

void sl_push_jsondoc(lua_State *L) {
  lua_newtable(L);
  luaL_register(L, NULL, funcs);
  lua_pushlightuserdata(L, NULL);
  lua_setfield(L, -2, "null");                   /* json.null */
}
