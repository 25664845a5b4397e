/* summit.c.ws: RFC 6455 framing (io/ws.h) for Lua, used by the simulated
 * API server's exec subresource and by the cluster client's exec.
 *
 *   accept(key) -> Sec-WebSocket-Accept for a Sec-WebSocket-Key
 *   frame(opcode, data [, masked]) -> the frame's bytes (a client masks
 *     every frame with a fresh random key)
 *   decoder([max [, masked]]) -> d: masked true: frames must be masked
 *     (server side), false: must not be (client side), nil: either
 *     d:feed(bytes) -> { {op, data}, ... } | nil, "EPROTO" | "ETOOBIG" |
 *       "ENOMEM" (sticky); fragments are joined, control frames included
 *   close_code(payload) -> the status code of a close frame (1005: none)
 *   key() -> a fresh random Sec-WebSocket-Key
 *   OP = { CONT, TEXT, BINARY, CLOSE, PING, PONG }
 *
 * The decoder's buffers belong to its userdata and are freed by __gc. */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "io/base64.h"
#include "io/ws.h"
#include "lua/bindings.h"

#define DECODER_MT "summit.ws.decoder"

/* accept(key) -> string */
static int l_accept(lua_State *L) {
  const char *key = luaL_checkstring(L, 1);
  char out[29];
  if (ws_accept(key, out) != 0) return luaL_error(L, "ws.accept: SHA-1 failed");
  lua_pushstring(L, out);
  return 1;
}

/* frame(opcode, data [, masked]) -> bytes */
static int l_frame(lua_State *L) {
  int op = (int)luaL_checkinteger(L, 1);
  size_t len;
  const char *data = luaL_optlstring(L, 2, "", &len);
  int masked = lua_toboolean(L, 3);
  uint8_t key[4];
  if (op < 0 || op > 0xf) luaL_argerror(L, 1, "opcode out of range");
  if (masked && ws_mask_key(key) != 0)
    return luaL_error(L, "ws.frame: no random bytes for the mask");
  uint8_t *out = malloc(len + WS_MAX_HEADER);
  if (!out) return luaL_error(L, "ws.frame: out of memory");
  size_t n = ws_encode(out, 1, op, data, len, masked ? key : NULL);
  lua_pushlstring(L, (const char *)out, n);
  free(out);
  return 1;
}

/* key() -> a fresh Sec-WebSocket-Key: base64 of 16 random bytes */
static int l_key(lua_State *L) {
  unsigned char raw[16];
  char out[25];
  if (uv_random(NULL, NULL, raw, sizeof raw, 0, NULL) != 0)
    return luaL_error(L, "ws.key: no random bytes");
  base64_encode(out, raw, sizeof raw);
  lua_pushstring(L, out);
  return 1;
}

static int l_close_code(lua_State *L) {
  size_t len;
  const char *p = luaL_optlstring(L, 1, "", &len);
  lua_pushinteger(L, ws_close_code(p, len));
  return 1;
}

typedef struct {
  ws_decoder d;
  lua_State *L;
  int n;              /* frames pushed into the result table */
} ldecoder;

/* decoder([max [, masked]]) -> d */
static int l_decoder(lua_State *L) {
  size_t max = (size_t)luaL_optinteger(L, 1, 0);
  int masked = lua_isnoneornil(L, 2) ? -1 : lua_toboolean(L, 2);
  ldecoder *d = lua_newuserdata(L, sizeof *d);
  ws_decoder_init(&d->d, max, masked);
  luaL_getmetatable(L, DECODER_MT);
  lua_setmetatable(L, -2);
  return 1;
}

/* Appends {op, data} to the table on top of the stack. */
static int on_frame(void *ud, int op, const char *data, size_t len) {
  ldecoder *d = ud;
  lua_State *L = d->L;
  lua_createtable(L, 2, 0);
  lua_pushinteger(L, op);
  lua_rawseti(L, -2, 1);                         /* f[1] = op */
  lua_pushlstring(L, data, len);
  lua_rawseti(L, -2, 2);                         /* f[2] = data */
  lua_rawseti(L, -2, ++d->n);                    /* frames[n] = f */
  return 0;
}

/* d:feed(bytes) -> frames | nil, err */
static int l_feed(lua_State *L) {
  ldecoder *d = luaL_checkudata(L, 1, DECODER_MT);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  lua_newtable(L);
  d->L = L;
  d->n = 0;
  int rc = ws_decode(&d->d, data, len, on_frame, d);
  if (rc == 0) return 1;
  lua_pushnil(L);
  lua_pushstring(L, rc == WS_ETOOBIG ? "ETOOBIG"
                    : rc == WS_ENOMEM ? "ENOMEM" : "EPROTO");
  return 2;
}

static int l_decoder_gc(lua_State *L) {
  ldecoder *d = luaL_checkudata(L, 1, DECODER_MT);
  ws_decoder_free(&d->d);
  return 0;
}

static const luaL_Reg decoder_methods[] = {
  {"feed", l_feed},
  {NULL, NULL}
};

static const luaL_Reg funcs[] = {
  {"accept", l_accept},
  {"frame", l_frame},
  {"decoder", l_decoder},
  {"close_code", l_close_code},
  {"key", l_key},
  {NULL, NULL}
};

int luaopen_summit_c_ws(lua_State *L) {
  if (luaL_newmetatable(L, DECODER_MT)) {
    lua_newtable(L);
    luaL_register(L, NULL, decoder_methods);
    lua_setfield(L, -2, "__index");              /* mt.__index = methods */
    lua_pushcfunction(L, l_decoder_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  lua_newtable(L);
  luaL_register(L, NULL, funcs);
  lua_newtable(L);
  static const struct { const char *k; int v; } ops[] = {
    {"CONT", WS_OP_CONT}, {"TEXT", WS_OP_TEXT}, {"BINARY", WS_OP_BINARY},
    {"CLOSE", WS_OP_CLOSE}, {"PING", WS_OP_PING}, {"PONG", WS_OP_PONG}};
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
    lua_pushinteger(L, ops[i].v);
    lua_setfield(L, -2, ops[i].k);
  }
  lua_setfield(L, -2, "OP");                     /* module.OP */
  return 1;
}
