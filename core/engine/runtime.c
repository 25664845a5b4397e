/* The per-run runtime's registry slot, the clock and run ids (see
 * runtime.h and engine.h). */
#include <sys/time.h>

#include "engine/engine.h"
#include "engine/runtime.h"
#include "engine/testmode.h"

static const char RT_KEY = 0;  /* its address keys the registry */

void runtime_attach(lua_State *L, runtime_t *rt) {
  lua_pushlightuserdata(L, (void *)&RT_KEY);
  lua_pushlightuserdata(L, rt);
  lua_rawset(L, LUA_REGISTRYINDEX);
}

runtime_t *runtime_get(lua_State *L) {
  lua_pushlightuserdata(L, (void *)&RT_KEY);
  lua_rawget(L, LUA_REGISTRYINDEX);
  runtime_t *rt = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return rt;
}

int64_t runtime_now_ms(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  /* summit test's virtual clock runs ahead of the wall clock (0 else). */
  return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000 + testmode.offset_ms;
}

void engine_new_run_id(char out[16]) {
  static const char B32[] = "0123456789abcdefghjkmnpqrstvwxyz";
  struct timeval tv;
  gettimeofday(&tv, NULL);
  uint64_t us = (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec;
  uint32_t rnd = 0;
  uv_random(NULL, NULL, &rnd, sizeof rnd, 0, NULL);
  /* 11 characters of microseconds (good until the year 2527) keep ids in
   * creation order even for runs started in the same millisecond. */
  for (int i = 10; i >= 0; i--, us >>= 5) out[i] = B32[us & 31];
  for (int i = 11; i < 14; i++, rnd >>= 5) out[i] = B32[rnd & 31];
  out[14] = '\0';
}
