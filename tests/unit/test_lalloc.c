/* Unit tests for core/engine/lalloc.c: the capped Lua allocator and the
 * sizes limits.memory accepts. */
#include <criterion/criterion.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <string.h>

#include "engine/lalloc.h"

static size_t size_of(const char *s) {
  size_t n = 12345;
  char err[160] = "";
  cr_assert_eq(lalloc_parse_size(s, &n, err, sizeof err), 0,
               "'%s' should parse: %s", s, err);
  return n;
}

Test(lalloc, sizes) {
  cr_assert_eq(size_of("1024"), 1024);
  cr_assert_eq(size_of("512MiB"), (size_t)512 << 20);
  cr_assert_eq(size_of("2 GiB"), (size_t)2 << 30);
  cr_assert_eq(size_of("1gb"), (size_t)1000000000);
  cr_assert_eq(size_of("64KB"), 64000);
  cr_assert_eq(size_of("0"), 0);
  const char *bad[] = {"", "lots", "-1MB", "12 parsecs", "1e30GB", NULL};
  for (int i = 0; bad[i]; i++) {
    size_t n = 7;
    char err[160] = "";
    cr_assert_eq(lalloc_parse_size(bad[i], &n, err, sizeof err), -1,
                 "'%s' should be refused", bad[i]);
    cr_assert_neq(err[0], '\0');
    cr_assert_eq(n, 7, "the size is left alone on error");
  }
}

Test(lalloc, format) {
  char b[32];
  cr_assert_str_eq(lalloc_format((size_t)1 << 30, b, sizeof b), "1 GiB");
  cr_assert_str_eq(lalloc_format((size_t)64 << 20, b, sizeof b), "64 MiB");
  cr_assert_str_eq(lalloc_format(100, b, sizeof b), "100 bytes");
}

/* A real LuaJIT state on the allocator: a request past the cap is a
 * catchable "not enough memory", what is held is counted, and the state
 * goes on working after it. */
Test(lalloc, cap_refuses_and_state_survives) {
  lalloc_t a = {.cap = (size_t)32 << 20};
  lua_State *L = lua_newstate(lalloc, &a);
  cr_assert_not_null(L, "LuaJIT accepts a custom allocator (GC64)");
  luaL_openlibs(L);
  cr_assert_gt(a.used, 0);
  cr_assert_eq(luaL_dostring(L, "local ok, e = pcall(string.rep, 'x', 1e8)\n"
                                "assert(not ok and e == 'not enough memory')\n"
                                "return #string.rep('y', 1000)"),
               0, "%s", lua_tostring(L, -1));
  cr_assert_eq(lua_tointeger(L, -1), 1000);
  cr_assert(a.refused, "the refusal is recorded");
  cr_assert_leq(a.used, a.cap);
  lua_close(L);
  cr_assert_eq(a.used, 0, "everything is given back at lua_close");
}
