/* Lua <-> JSON conversion on cJSON, and the `json` module of runbooks.
 *
 * A table whose keys are exactly 1..n (n > 0) is an array; any other table
 * is an object, whose keys must be strings (numbers are written as their
 * decimal text, like most Lua JSON libraries), written in key order so the
 * same value always encodes to the same text. Functions, userdata,
 * threads, NaN, infinities and cycles cannot be represented and are errors
 * that name the path where they were found. A table marked with
 * json.array is an array even when empty; decoding marks every empty
 * array (and, for the sim's documents, every array), so [] comes back as
 * []. */
#include "lua/bindings.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

/* ---- the array marker (json.array) ---- */

static const char ARRAY_KEY = 0;  /* its address keys the marker metatable */

void sl_push_array_mt(lua_State *L) {
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

int sl_json_array(lua_State *L) {
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  } else {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
  }
  sl_push_array_mt(L);
  lua_setmetatable(L, 1);
  return 1;
}

int sl_json_is_array(lua_State *L) {
  lua_pushboolean(L, lua_istable(L, 1) && sl_is_array(L, 1));
  return 1;
}

int sl_is_array(lua_State *L, int idx) {
  if (!lua_getmetatable(L, idx)) return 0;
  sl_push_array_mt(L);
  int eq = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return eq;
}

typedef struct {
  char *err;
  size_t errlen;
  char path[256];
} conv;

static cJSON *to_json(lua_State *L, int idx, conv *c, int depth);

/* Appends ".k" or "[i]" to the path, returns the old length to restore. */
static size_t path_push(conv *c, lua_State *L, int kidx) {
  size_t n = strlen(c->path);
  if (lua_type(L, kidx) == LUA_TNUMBER)
    snprintf(c->path + n, sizeof c->path - n, "[%.14g]", lua_tonumber(L, kidx));
  else
    snprintf(c->path + n, sizeof c->path - n, ".%s", lua_tostring(L, kidx));
  return n;
}

static cJSON *conv_fail(conv *c, const char *what) {
  snprintf(c->err, c->errlen, "%s at %s", what,
           c->path[0] ? c->path : "the top level");
  return NULL;
}

/* Returns n if the table at idx is a sequence 1..n, else -1 (0: empty). */
static int array_len(lua_State *L, int idx) {
  int n = 0, max = 0;
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
    if (k > max) max = (int)k;
    n++;
  }
  return max == n ? n : -1;
}

typedef struct {
  char *key;
  cJSON *value;
} member;

static int member_cmp(const void *a, const void *b) {
  return strcmp(((const member *)a)->key, ((const member *)b)->key);
}

static void free_members(member *m, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(m[i].key);
    cJSON_Delete(m[i].value);
  }
  free(m);
}

static cJSON *table_to_json(lua_State *L, int idx, conv *c, int depth) {
  if (depth > MAX_DEPTH) return conv_fail(c, "a table nested too deep (a cycle?)");
  luaL_checkstack(L, 4, "json");
  /* A marked table is an array even when empty (a Go client rejects {}
   * where it expects a list); otherwise keys exactly 1..n make one. */
  int marked = sl_is_array(L, idx);
  int n = marked ? (int)lua_objlen(L, idx) : array_len(L, idx);
  if (n > 0 || marked) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 1; i <= n; i++) {
      lua_rawgeti(L, idx, i);
      lua_pushinteger(L, i);
      size_t mark = path_push(c, L, -1);
      lua_pop(L, 1);
      cJSON *v = to_json(L, lua_gettop(L), c, depth + 1);
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
  /* Members are written in key order: Lua's traversal order differs from
   * one process to the next, and journal identities and hashes must not. */
  size_t n_items = 0, cap = 8;
  member *items = malloc(cap * sizeof *items);
  if (!items) return conv_fail(c, "no memory");
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int kt = lua_type(L, -2);
    if (kt != LUA_TSTRING && kt != LUA_TNUMBER) {
      lua_pop(L, 2);
      free_members(items, n_items);
      return conv_fail(c, "a table key that is neither a string nor a number");
    }
    /* Copy the key: lua_tostring on a number key would confuse lua_next. */
    lua_pushvalue(L, -2);
    const char *k = lua_tostring(L, -1);
    size_t mark = path_push(c, L, -3);
    cJSON *v = to_json(L, lua_gettop(L) - 1, c, depth + 1);
    if (!v) {
      lua_pop(L, 3);
      free_members(items, n_items);
      return NULL;
    }
    c->path[mark] = '\0';
    if (n_items == cap) {
      member *more = realloc(items, (cap *= 2) * sizeof *items);
      if (!more) {
        cJSON_Delete(v);
        lua_pop(L, 3);
        free_members(items, n_items);
        return conv_fail(c, "no memory");
      }
      items = more;
    }
    items[n_items].key = strdup(k);
    items[n_items].value = v;
    n_items++;
    lua_pop(L, 2);
  }
  qsort(items, n_items, sizeof *items, member_cmp);
  cJSON *o = cJSON_CreateObject();
  for (size_t i = 0; i < n_items; i++) {
    cJSON_AddItemToObject(o, items[i].key, items[i].value);
    free(items[i].key);
  }
  free(items);
  return o;
}

static cJSON *to_json(lua_State *L, int idx, conv *c, int depth) {
  switch (lua_type(L, idx)) {
  case LUA_TNIL: return cJSON_CreateNull();
  case LUA_TBOOLEAN: return cJSON_CreateBool(lua_toboolean(L, idx));
  case LUA_TNUMBER: {
    double d = lua_tonumber(L, idx);
    if (isnan(d) || isinf(d)) return conv_fail(c, "a NaN or infinite number");
    /* cJSON prints 15 significant digits and accepts "close enough"; a
     * number that needs more (0.1 + 0.2) is written with 17, so a replay
     * returns exactly the number the first run saw. */
    char buf[40];
    snprintf(buf, sizeof buf, "%.15g", d);
    if (strtod(buf, NULL) == d) return cJSON_CreateNumber(d);
    snprintf(buf, sizeof buf, "%.17g", d);
    return cJSON_CreateRaw(buf);
  }
  case LUA_TSTRING: {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    if (strlen(s) != len) return conv_fail(c, "a string with a NUL byte");
    return cJSON_CreateString(s);
  }
  case LUA_TTABLE: return table_to_json(L, idx, c, depth);
  case LUA_TLIGHTUSERDATA:
    if (lua_touserdata(L, idx) == NULL) return cJSON_CreateNull(); /* json.null */
    /* fallthrough */
  default: {
    char what[64];
    snprintf(what, sizeof what, "a %s", luaL_typename(L, idx));
    return conv_fail(c, what);
  }
  }
}

cJSON *sl_to_json(lua_State *L, int idx, char *err, size_t errlen) {
  conv c = {.err = err, .errlen = errlen};
  if (idx < 0) idx = lua_gettop(L) + idx + 1;
  return to_json(L, idx, &c, 0);
}

/* doc: null -> lightuserdata NULL (json.null) and arrays marked, so the
 * value encodes back to the same document. */
static void push_json(lua_State *L, const cJSON *j, int doc) {
  luaL_checkstack(L, 4, "json");
  if (cJSON_IsNull(j) || !j) {
    if (doc) lua_pushlightuserdata(L, NULL);
    else lua_pushnil(L);
  }
  else if (cJSON_IsBool(j)) lua_pushboolean(L, cJSON_IsTrue(j));
  else if (cJSON_IsNumber(j)) lua_pushnumber(L, j->valuedouble);
  else if (cJSON_IsRaw(j)) lua_pushnumber(L, strtod(j->valuestring, NULL));
  else if (cJSON_IsString(j)) lua_pushstring(L, j->valuestring);
  else if (cJSON_IsArray(j)) {
    lua_createtable(L, cJSON_GetArraySize(j), 0);
    int i = 1;
    for (const cJSON *e = j->child; e; e = e->next, i++) {
      push_json(L, e, doc);
      lua_rawseti(L, -2, i);
    }
    /* A document marks every array; any decode marks an empty one, so []
     * read back (a step's result on replay, json.decode) stays []. */
    if (doc || i == 1) {
      sl_push_array_mt(L);
      lua_setmetatable(L, -2);                   /* the array marker */
    }
  } else {
    lua_newtable(L);
    for (const cJSON *e = j->child; e; e = e->next) {
      push_json(L, e, doc);
      lua_setfield(L, -2, e->string);
    }
  }
}

void sl_push_json(lua_State *L, const cJSON *j) { push_json(L, j, 0); }

void sl_push_json_doc(lua_State *L, const cJSON *j) { push_json(L, j, 1); }

char *sl_encode(lua_State *L, int idx, char *err, size_t errlen) {
  cJSON *j = sl_to_json(L, idx, err, errlen);
  if (!j) return NULL;
  char *s = cJSON_PrintUnformatted(j);
  cJSON_Delete(j);
  if (!s) snprintf(err, errlen, "out of memory");
  return s;
}

int sl_decode(lua_State *L, const char *text, size_t len) {
  cJSON *j = cJSON_ParseWithLength(text, len);
  if (!j) return 0;
  sl_push_json(L, j);
  cJSON_Delete(j);
  return 1;
}

int sl_push_encoded(lua_State *L, int idx, const char *fname) {
  char err[512];
  luaL_checkany(L, idx);
  char *s = sl_encode(L, idx, err, sizeof err);
  if (!s) return luaL_error(L, "%s: cannot encode %s", fname, err);
  lua_pushstring(L, s);
  free(s);
  return 1;
}

int sl_json_error_offset(const char *text, size_t len) {
  const char *at = cJSON_GetErrorPtr();
  return at && at >= text && at <= text + len ? (int)(at - text) : -1;
}

/* json.encode(value) -> string; raises naming what cannot be encoded. */
static int l_encode(lua_State *L) { return sl_push_encoded(L, 1, "json.encode"); }

/* json.decode(text) -> value; raises with the position of bad input. */
static int l_decode(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  if (!sl_decode(L, s, len))
    return luaL_error(L, "json.decode: invalid JSON at byte %d",
                      sl_json_error_offset(s, len));
  return 1;
}

static const luaL_Reg json_funcs[] = {
  {"encode", l_encode},
  {"decode", l_decode},
  {"array", sl_json_array},
  {"is_array", sl_json_is_array},
  {NULL, NULL}
};

int luaopen_summit_json(lua_State *L) {
  lua_newtable(L);
  luaL_register(L, NULL, json_funcs);
  lua_pushlightuserdata(L, NULL);
  lua_setfield(L, -2, "null");  /* json.null encodes as null */
  return 1;
}
