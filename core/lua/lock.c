/* summit.c.lock: named locks held by the run, for engine.lua's `lock`.
 *
 * A lock is a row in the store naming the run that holds it; a run that is
 * alive (running with a live lease, suspended, needing attention) keeps
 * it. Waiting polls the store, so a lock freed by another process (or by
 * its holder's death) is noticed without any channel between them. */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/runtime.h"
#include "lua/audit.h"
#include "lua/bindings.h"

#define POLL_MS 250

typedef struct {
  uv_timer_t timer;
  task_t *task;
  runtime_t *rt;
  char *name;
  char host[256];
  int64_t since_ms;
} waiter;

/* lock.acquired / lock.released. The lock row is committed by the store
 * at once; the record rides the run's next commit (the body's first
 * entry), so a crash in between loses it only with the run's progress,
 * and the resumed run, taking the lock again, records that. */
static int audit_lock(runtime_t *rt, const char *action, const char *name,
                      int64_t waited_ms) {
  cJSON *d = cJSON_CreateObject();
  cJSON_AddStringToObject(d, "name", name);
  if (waited_ms > 0) cJSON_AddNumberToObject(d, "waited_ms", (double)waited_ms);
  return audit_append(rt, NULL, action, d);
}

static void waiter_closed(uv_handle_t *h) {
  waiter *w = h->data;
  free(w->name);
  free(w);
}

static void waiter_cancel(void *data) {
  waiter *w = data;
  uv_timer_stop(&w->timer);
  uv_close((uv_handle_t *)&w->timer, waiter_closed);
}

static void poll_lock(uv_timer_t *tm) {
  waiter *w = tm->data;
  char *holder = NULL;
  int rc = store_lock_acquire(w->rt->store, w->name, w->rt->run_id, w->host,
                              runtime_now_ms(), &holder);
  free(holder);
  if (rc == STORE_BUSY) return;  /* keep polling */
  if (rc == STORE_OK &&
      audit_lock(w->rt, "lock.acquired", w->name,
                 runtime_now_ms() - w->since_ms) != STORE_OK)
    rc = STORE_ERR;
  task_t *t = w->task;
  lua_State *co = task_thread(t);
  uv_timer_stop(tm);
  uv_close((uv_handle_t *)tm, waiter_closed);
  if (rc == STORE_OK) {
    lua_pushboolean(co, 1);
    sched_wake(t, 1);
  } else {
    lua_pushnil(co);
    lua_pushstring(co, "ESTORE");
    lua_pushstring(co, store_errmsg(w->rt->store));
    sched_wake(t, 3);
  }
}

/* try(name) -> true, or false and the holder's run id. */
static int l_try(lua_State *L) {
  runtime_t *rt = runtime_get(L);
  const char *name = luaL_checkstring(L, 1);
  char host[256] = "", *holder = NULL;
  gethostname(host, sizeof host - 1);
  int rc = store_lock_acquire(rt->store, name, rt->run_id, host,
                              runtime_now_ms(), &holder);
  if (rc == STORE_OK) {
    if (audit_lock(rt, "lock.acquired", name, 0) != STORE_OK)
      return luaL_error(L, "taking lock '%s': %s", name,
                        store_errmsg(rt->store));
    lua_pushboolean(L, 1);
    return 1;
  }
  if (rc == STORE_BUSY) {
    lua_pushboolean(L, 0);
    lua_pushstring(L, holder);
    free(holder);
    return 2;
  }
  return luaL_error(L, "taking lock '%s': %s", name, store_errmsg(rt->store));
}

/* wait(name [, deadline_ms]) -> true once the run holds the lock; nil,
 * code, message if the wait was interrupted. */
static int l_wait(lua_State *L) {
  runtime_t *rt = runtime_get(L);
  const char *name = luaL_checkstring(L, 1);
  int64_t deadline = (int64_t)luaL_optnumber(L, 2, 0);  /* before allocating */
  task_t *t =
      sl_current_task(L, "lock can only be used inside a running runbook");
  waiter *w = calloc(1, sizeof *w);
  if (!w || !(w->name = strdup(name))) {
    free(w);
    return luaL_error(L, "out of memory");
  }
  w->task = t;
  w->rt = rt;
  w->since_ms = runtime_now_ms();
  gethostname(w->host, sizeof w->host - 1);
  uv_timer_init(rt->loop, &w->timer);
  w->timer.data = w;
  uv_timer_start(&w->timer, poll_lock, POLL_MS, POLL_MS);
  task_wait(t, WAIT_ACTIVE, waiter_cancel, w, 0);
  task_deadline(t, deadline);
  lua_settop(L, 0);
  return lua_yield(L, 0);
}

/* release(name) */
static int l_release(lua_State *L) {
  runtime_t *rt = runtime_get(L);
  const char *name = luaL_checkstring(L, 1);
  if (store_lock_release(rt->store, name, rt->run_id) != STORE_OK ||
      audit_lock(rt, "lock.released", name, 0) != STORE_OK)
    return luaL_error(L, "releasing lock '%s': %s", name,
                      store_errmsg(rt->store));
  return 0;
}

static const luaL_Reg funcs[] = {
  {"try", l_try},
  {"wait", l_wait},
  {"release", l_release},
  {NULL, NULL}
};

int luaopen_summit_c_lock(lua_State *L) {
  lua_newtable(L);
  luaL_register(L, NULL, funcs);
  return 1;
}
