/* Environment locks (see envlocks.h). */
#include "engine/envlocks.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "engine/loader.h"
#include "engine/report.h"

int envlocks_names(lua_State *L, const char *env_name) {
  loader_push_runbook_fn(L, "environments");
  lua_pushvalue(L, -3);
  lua_pushvalue(L, -3);
  if (env_name) lua_pushstring(L, env_name);
  else lua_pushnil(L);
  lua_call(L, 3, 2);                         /* names|nil err */
  if (lua_isnil(L, -2)) {
    engine_errf("%s", lua_tostring(L, -1));
    return EXIT_USAGE;
  }
  return 0;
}

/* wait.started, once, while lock name is held by run holder. */
static void emit_lock_wait(ctx_t *c, const char *name, const char *holder) {
  cJSON *f = cJSON_CreateObject();
  cJSON_AddStringToObject(f, "kind", "lock");
  cJSON_AddStringToObject(f, "name", name);
  cJSON_AddStringToObject(f, "holder", holder);
  events_emit(&c->ev, "wait.started", f);
  cJSON_Delete(f);
}

/* Takes lock name ("env:NAME") for run id: 0 or an exit code. */
static int take_one(ctx_t *c, const engine_opts *o, const char *id,
                    const char *name) {
  for (int said = 0;;) {
    char *holder = NULL;
    int rc = store_lock_acquire(c->rt.store, name, id, c->host,
                                runtime_now_ms(), &holder);
    if (rc == STORE_OK) {
      /* Rides the run's next commit (run.resumed's, or the first
       * entry's). */
      cJSON *d = cJSON_CreateObject();
      cJSON_AddStringToObject(d, "name", name);
      ctx_audit(c, id, "lock.acquired", d);
      return 0;
    }
    if (rc != STORE_BUSY) {
      engine_errf("taking lock %s: %s", name, store_errmsg(c->rt.store));
      return EXIT_FAILED;
    }
    if (!o->wait_lock) {
      engine_errf("environment %s is locked by run %s (see: summit status "
                  "%s); wait for it with --wait-lock", name + 4, holder,
                  holder);
      free(holder);
      return EXIT_BUSY;
    }
    if (!said++) emit_lock_wait(c, name, holder);
    free(holder);
    /* Nothing runs yet: the run has not started, so a plain pause is
     * all this process has to do. */
    uv_sleep(250);
    if (store_lease_renew(c->rt.store, id, getpid(), runtime_now_ms(),
                          c->ttl_ms) == STORE_FENCED)
      return ctx_report_fenced(c);
  }
}

int envlocks_take(ctx_t *c, const engine_opts *o, const char *id,
                  const char *env_name) {
  lua_State *L = c->rt.L;
  if (envlocks_names(L, env_name)) {
    lua_pop(L, 2);
    return EXIT_USAGE;
  }
  int code = 0, n = (int)lua_objlen(L, -2);
  for (int i = 1; i <= n && !code; i++) {
    lua_rawgeti(L, -2, i);
    char name[512];
    snprintf(name, sizeof name, "env:%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    code = take_one(c, o, id, name);
  }
  lua_pop(L, 2);
  return code;
}
