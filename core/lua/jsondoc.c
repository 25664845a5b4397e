/* Lossless JSON documents on cJSON (see jsondoc.h).
 *
 * decode(text) -> value | nil, message
 *   null -> json.null; every array gets the marker metatable (also the
 *   empty ones, which is the point).
 * encode(value [, sorted]) -> text (raises, naming the path, on a value
 *   JSON cannot hold)
 *   A table with the marker is an array of its elements 1..#t; any other
 *   table whose keys are exactly 1..n (n > 0) is an array too; every other
 *   table is an object. sorted: object keys in byte order, the canonical
 *   form used for hashing pod templates and for stable state files.
 * array([t]) -> t with the marker (a new table when t is nil)
 * is_array(v) -> true if v carries the marker
 * null -> the sentinel, equal to summit.json's json.null */
#include "lua/jsondoc.h"

#include <cJSON.h>
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 100

static const char ARRAY_KEY = 0;  /* its address keys the marker metatable */

/* Pushes the marker metatable, made on first use. */
static void push_array_mt(lua_State *L) {
  lua_pushlightuserdata(L, (void *)&ARRAY_KEY);
  lua_rawget(L, LUA_REGISTRYINDEX);
  if (lua_istable(L, -1)) return;
  lua_pop(L, 1);
  lua_newtable(L);
  lua_pushstring(L, "json.array");
  lua_setfield(L, -2, "__name");                 /* mt.__name */
  lua_pushlightuserdata(L, (void *)&ARRAY_KEY);
  lua_pushvalue(L, -2);
  lua_rawset(L, LUA_REGISTRYINDEX);              /* registry[&KEY] = mt */
}

static int has_array_mt(lua_State *L, int idx) {
  if (!lua_getmetatable(L, idx)) return 0;
  push_array_mt(L);
  int eq = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return eq;
}

/* ---- decoding ---- */

/* Pushes the Lua value of j; mt_idx is the absolute index of the marker. */
static void push_doc(lua_State *L, const cJSON *j, int mt_idx) {
  luaL_checkstack(L, 4, "json");
  if (cJSON_IsNull(j)) {
    lua_pushlightuserdata(L, NULL);
  } else if (cJSON_IsBool(j)) {
    lua_pushboolean(L, cJSON_IsTrue(j));
  } else if (cJSON_IsNumber(j)) {
    lua_pushnumber(L, j->valuedouble);
  } else if (cJSON_IsString(j)) {
    lua_pushstring(L, j->valuestring);
  } else if (cJSON_IsArray(j)) {
    lua_createtable(L, cJSON_GetArraySize(j), 0);
    int i = 1;
    for (const cJSON *e = j->child; e; e = e->next, i++) {
      push_doc(L, e, mt_idx);
      lua_rawseti(L, -2, i);
    }
    lua_pushvalue(L, mt_idx);
    lua_setmetatable(L, -2);                     /* the array marker */
  } else {
    lua_newtable(L);
    for (const cJSON *e = j->child; e; e = e->next) {
      lua_pushstring(L, e->string);
      push_doc(L, e, mt_idx);
      lua_rawset(L, -3);
    }
  }
}

/* decode(text) -> value | nil, message */
static int l_decode(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  const char *end = NULL;
  cJSON *j = cJSON_ParseWithLengthOpts(s, len, &end, 0);
  if (!j) {
    const char *at = cJSON_GetErrorPtr();
    long off = at && at >= s && at <= s + len ? (long)(at - s) : -1;
    lua_pushnil(L);
    lua_pushfstring(L, "invalid JSON at byte %d", (int)off);
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
  push_array_mt(L);
  int mt_idx = lua_gettop(L);
  push_doc(L, j, mt_idx);
  cJSON_Delete(j);
  return 1;
}

/* ---- encoding ---- */

typedef struct {
  char err[600];
  char path[256];
  int sorted;
} enc;

static cJSON *to_doc(lua_State *L, int idx, enc *c, int depth);

static cJSON *enc_fail(enc *c, const char *what) {
  snprintf(c->err, sizeof c->err, "%s at %s", what,
           c->path[0] ? c->path : "the top level");
  return NULL;
}

/* Appends ".k" or "[i]" to the path; returns the length to restore. */
static size_t path_key(enc *c, const char *k) {
  size_t n = strlen(c->path);
  snprintf(c->path + n, sizeof c->path - n, ".%s", k);
  return n;
}

static size_t path_index(enc *c, int i) {
  size_t n = strlen(c->path);
  snprintf(c->path + n, sizeof c->path - n, "[%d]", i);
  return n;
}

/* n if the keys of the table at idx are exactly 1..n, else -1 (0: empty). */
static int seq_len(lua_State *L, int idx) {
  int n = 0;
  double max = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TNUMBER) {
      lua_pop(L, 1);
      return -1;
    }
    double k = lua_tonumber(L, -1);
    if (k < 1 || k != floor(k)) {
      lua_pop(L, 1);
      return -1;
    }
    if (k > max) max = k;
    n++;
  }
  return max == n ? n : -1;
}

static cJSON *array_doc(lua_State *L, int idx, int n, enc *c, int depth) {
  cJSON *a = cJSON_CreateArray();
  for (int i = 1; i <= n; i++) {
    lua_rawgeti(L, idx, i);
    size_t mark = path_index(c, i);
    cJSON *v = to_doc(L, lua_gettop(L), c, depth + 1);
    lua_pop(L, 1);
    if (!v) {
      cJSON_Delete(a);
      return NULL;
    }
    c->path[mark] = '\0';
    cJSON_AddItemToArray(a, v);
  }
  return a;
}

static int cmp_keys(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* An object; with c->sorted the keys are added in byte order. */
static cJSON *object_doc(lua_State *L, int idx, enc *c, int depth) {
  int n = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    int kt = lua_type(L, -1);
    if (kt != LUA_TSTRING && kt != LUA_TNUMBER) {
      lua_pop(L, 1);
      return enc_fail(c, "a table key that is neither a string nor a number");
    }
    n++;
  }
  /* Key copies, so number keys can be formatted without confusing
   * lua_next and sorted without touching the table. */
  char **keys = calloc((size_t)n + 1, sizeof *keys);
  if (!keys) return enc_fail(c, "out of memory");
  int k = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (k == n) continue;
    char buf[64];
    const char *s;
    if (lua_type(L, -1) == LUA_TNUMBER) {
      snprintf(buf, sizeof buf, "%.14g", lua_tonumber(L, -1));
      s = buf;
    } else {
      s = lua_tostring(L, -1);
    }
    keys[k++] = strdup(s);
  }
  cJSON *o = cJSON_CreateObject();
  if (c->sorted) qsort(keys, (size_t)k, sizeof *keys, cmp_keys);
  for (int i = 0; i < k && o; i++) {
    if (!keys[i]) {
      cJSON_Delete(o);
      o = enc_fail(c, "out of memory");
      break;
    }
    lua_pushstring(L, keys[i]);
    lua_rawget(L, idx);
    if (lua_isnil(L, -1)) {   /* a number key: look it up as a number */
      lua_pop(L, 1);
      lua_pushnumber(L, strtod(keys[i], NULL));
      lua_rawget(L, idx);
    }
    size_t mark = path_key(c, keys[i]);
    cJSON *v = to_doc(L, lua_gettop(L), c, depth + 1);
    lua_pop(L, 1);
    if (!v) {
      cJSON_Delete(o);
      o = NULL;
      break;
    }
    c->path[mark] = '\0';
    cJSON_AddItemToObject(o, keys[i], v);
  }
  for (int i = 0; i < k; i++) free(keys[i]);
  free(keys);
  return o;
}

static cJSON *to_doc(lua_State *L, int idx, enc *c, int depth) {
  switch (lua_type(L, idx)) {
  case LUA_TNIL: return cJSON_CreateNull();
  case LUA_TBOOLEAN: return cJSON_CreateBool(lua_toboolean(L, idx));
  case LUA_TNUMBER: {
    double d = lua_tonumber(L, idx);
    if (isnan(d) || isinf(d)) return enc_fail(c, "a NaN or infinite number");
    return cJSON_CreateNumber(d);
  }
  case LUA_TSTRING: {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    if (strlen(s) != len) return enc_fail(c, "a string with a NUL byte");
    return cJSON_CreateString(s);
  }
  case LUA_TTABLE: {
    if (depth > MAX_DEPTH)
      return enc_fail(c, "a table nested too deep (a cycle?)");
    luaL_checkstack(L, 6, "json");
    if (has_array_mt(L, idx))
      return array_doc(L, idx, (int)lua_objlen(L, idx), c, depth);
    int n = seq_len(L, idx);
    if (n > 0) return array_doc(L, idx, n, c, depth);
    return object_doc(L, idx, c, depth);
  }
  case LUA_TLIGHTUSERDATA:
    if (lua_touserdata(L, idx) == NULL) return cJSON_CreateNull();
    /* fallthrough */
  default: {
    char what[64];
    snprintf(what, sizeof what, "a %s", luaL_typename(L, idx));
    return enc_fail(c, what);
  }
  }
}

/* encode(value [, sorted]) -> text */
static int l_encode(lua_State *L) {
  luaL_checkany(L, 1);
  enc *c = calloc(1, sizeof *c);
  if (!c) return luaL_error(L, "out of memory");
  c->sorted = lua_toboolean(L, 2);
  lua_settop(L, 1);
  cJSON *j = to_doc(L, 1, c, 0);
  if (!j) {
    lua_pushfstring(L, "json encode: cannot encode %s", c->err);
    free(c);
    return lua_error(L);
  }
  free(c);
  char *s = cJSON_PrintUnformatted(j);
  cJSON_Delete(j);
  if (!s) return luaL_error(L, "json encode: out of memory");
  lua_pushstring(L, s);
  free(s);
  return 1;
}

/* array([t]) -> t marked as an array */
static int l_array(lua_State *L) {
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  } else {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
  }
  push_array_mt(L);
  lua_setmetatable(L, 1);
  return 1;
}

/* is_array(v) -> boolean */
static int l_is_array(lua_State *L) {
  lua_pushboolean(L, lua_istable(L, 1) && has_array_mt(L, 1));
  return 1;
}

static const luaL_Reg funcs[] = {
  {"decode", l_decode},
  {"encode", l_encode},
  {"array", l_array},
  {"is_array", l_is_array},
  {NULL, NULL}
};

void sl_push_jsondoc(lua_State *L) {
  lua_newtable(L);
  luaL_register(L, NULL, funcs);
  lua_pushlightuserdata(L, NULL);
  lua_setfield(L, -2, "null");                   /* json.null */
}
