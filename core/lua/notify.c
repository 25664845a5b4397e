/* summit.c.notify: what the notification code (lua/summit/notify.lua)
 * needs from the store that no other binding gives: the schedule of the
 * running run and how many of its runs failed in a row before this one. */
#include <lauxlib.h>
#include <stdint.h>
#include <stdlib.h>

#include "engine/runtime.h"
#include "lua/bindings.h"

/* schedule() -> { name, failures } for a run a schedule started, or nil
 * (no run, no schedule). failures: how many of the schedule's runs before
 * this one failed in a row (store_schedule_streak). */
static int l_schedule(lua_State *L) {
  runtime_t *rt = runtime_get(L);
  if (!rt->store || !rt->run_id) return 0;
  char *name = NULL;
  if (store_run_schedule(rt->store, rt->run_id, &name) != STORE_OK || !name) {
    free(name);
    return 0;
  }
  int64_t failures = 0;
  if (store_schedule_streak(rt->store, name, rt->run_id, &failures) !=
      STORE_OK) {
    lua_pushfstring(L, "reading the runs of schedule %s: %s", name,
                    store_errmsg(rt->store));
    free(name);
    return lua_error(L);
  }
  lua_createtable(L, 0, 2);
  lua_pushstring(L, name);
  lua_setfield(L, -2, "name");               /* t.name */
  lua_pushnumber(L, (lua_Number)failures);
  lua_setfield(L, -2, "failures");           /* t.failures */
  free(name);
  return 1;
}

static const luaL_Reg funcs[] = {
  {"schedule", l_schedule},
  {NULL, NULL}
};

int luaopen_summit_c_notify(lua_State *L) {
  lua_newtable(L);
  luaL_register(L, NULL, funcs);
  return 1;
}
