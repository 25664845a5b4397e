/* summit.c.crypto: the digests request signing needs (AWS SigV4 of the
 * CloudWatch metrics provider, lua/summit/sigv4.lua), from OpenSSL:
 *   sha256(data) -> 64 hex digits
 *   hmac_sha256(key, data [, "hex"]) -> the 32-byte MAC (raw), or hex */
#include <lauxlib.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>

#include "lua/bindings.h"

static void push_hex(lua_State *L, const unsigned char *md, unsigned n) {
  char hex[2 * EVP_MAX_MD_SIZE + 1];
  for (unsigned i = 0; i < n; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
  lua_pushlstring(L, hex, 2 * n);
}

static int l_sha256(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  if (!EVP_Digest(s, len, md, &n, EVP_sha256(), NULL))
    return luaL_error(L, "sha256: OpenSSL failed");
  push_hex(L, md, n);
  return 1;
}

static int l_hmac_sha256(lua_State *L) {
  size_t klen, dlen;
  const char *key = luaL_checklstring(L, 1, &klen);
  const char *data = luaL_checklstring(L, 2, &dlen);
  const char *enc = luaL_optstring(L, 3, "raw");
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  if (!HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)data, dlen, md, &n))
    return luaL_error(L, "hmac_sha256: OpenSSL failed");
  if (enc[0] == 'h') push_hex(L, md, n);
  else lua_pushlstring(L, (const char *)md, n);
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
