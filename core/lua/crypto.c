/* summit.c.crypto: the digests request signing needs (AWS SigV4 of the
 * CloudWatch metrics provider, lua/summit/sigv4.lua), from io/sha256.c
 * (summit links no libcrypto: docs/performance.md):
 *   sm_sha256(data) -> 64 hex digits
 *   sm_hmac_sha256(key, data [, "hex"]) -> the 32-byte MAC (raw), or hex */
#include <lauxlib.h>

#include "io/sha256.h"
#include "lua/bindings.h"

static void push_hex(lua_State *L, const unsigned char md[32]) {
  char hex[65];
  sha256_hex(md, hex);
  lua_pushlstring(L, hex, 64);
}

static int l_sha256(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  unsigned char md[32];
  sm_sha256(s, len, md);
  push_hex(L, md);
  return 1;
}

static int l_hmac_sha256(lua_State *L) {
  size_t klen, dlen;
  const char *key = luaL_checklstring(L, 1, &klen);
  const char *data = luaL_checklstring(L, 2, &dlen);
  const char *enc = luaL_optstring(L, 3, "raw");
  unsigned char md[32];
  sm_hmac_sha256(key, klen, data, dlen, md);
  if (enc[0] == 'h') push_hex(L, md);
  else lua_pushlstring(L, (const char *)md, 32);
  return 1;
}

static const luaL_Reg funcs[] = {
  {"sha256", l_sha256}, {"hmac_sha256", l_hmac_sha256}, {NULL, NULL}
};

int luaopen_summit_c_crypto(lua_State *L) {
  lua_newtable(L);
  luaL_register(L, NULL, funcs);
  return 1;
}
