/* summit.c.http: HTTP requests for engine.lua's `http` (over io/http). */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "engine/runtime.h"
#include "io/http.h"
#include "lua/bindings.h"

typedef struct {
  task_t *task;
  http_req *req;
} waiter;

static void push_result(lua_State *co, const http_result *r) {
  lua_createtable(co, 0, 6);
  lua_pushinteger(co, (lua_Integer)r->status);
  lua_setfield(co, -2, "status");
  lua_createtable(co, 0, (int)r->n_headers);
  for (size_t i = 0; i < r->n_headers; i++) {
    /* Repeated headers are joined, as RFC 9110 allows for most. */
    lua_getfield(co, -1, r->headers[i].name);
    if (lua_isstring(co, -1)) {
      lua_pushstring(co, ", ");
      lua_pushstring(co, r->headers[i].value);
      lua_concat(co, 3);
    } else {
      lua_pop(co, 1);
      lua_pushstring(co, r->headers[i].value);
    }
    lua_setfield(co, -2, r->headers[i].name);
  }
  lua_setfield(co, -2, "headers");
  lua_pushlstring(co, r->body ? r->body : "", r->body_len);
  lua_setfield(co, -2, "body");
  lua_pushnumber(co, r->duration_ms);
  lua_setfield(co, -2, "duration_ms");
  if (r->effective_url) {
    lua_pushstring(co, r->effective_url);
    lua_setfield(co, -2, "url");
  }
}

static void http_done(void *ud, const http_result *r) {
  waiter *w = ud;
  lua_State *co = task_thread(w->task);
  if (r->error) {
    lua_pushnil(co);
    lua_pushstring(co, http_error_code(r->error));
    lua_pushstring(co, r->errmsg);
    sched_wake(w->task, 3);
  } else {
    push_result(co, r);
    sched_wake(w->task, 1);
  }
  free(w);
}

static void http_cancel_wait(void *data) {
  waiter *w = data;
  http_cancel(w->req);
  free(w);
}

static http_client *client(runtime_t *rt) {
  if (!rt->http) rt->http = http_client_new(rt->loop);
  return rt->http;
}

static const char *opt_str(lua_State *L, int t, const char *k, size_t *len) {
  lua_getfield(L, t, k);
  const char *v = lua_isstring(L, -1) ? lua_tolstring(L, -1, len) : NULL;
  lua_pop(L, 1); /* the string stays referenced by the options table */
  return v;
}

static double opt_num(lua_State *L, int t, const char *k) {
  lua_getfield(L, t, k);
  double v = lua_tonumber(L, -1);
  lua_pop(L, 1);
  return v;
}

static int opt_bool(lua_State *L, int t, const char *k) {
  lua_getfield(L, t, k);
  int v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

/* request{method, url, headers = {name = value}, body, timeout_ms,
 * connect_timeout_ms, follow_redirects, max_redirects, max_response,
 * insecure, ca_file, ca, cert, key, unix_socket, deadline_ms}
 * -> {status, headers, body, duration_ms, url}, or nil, code, message. */
static int l_request(lua_State *L) {
  runtime_t *rt = runtime_get(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  task_t *t = sched_current(rt->sched);
  if (!t || task_thread(t) != L)
    return luaL_error(L, "http can only be used inside a running runbook");

  http_opts o = {0};
  o.method = opt_str(L, 1, "method", NULL);
  o.url = opt_str(L, 1, "url", NULL);
  if (!o.url) return luaL_argerror(L, 1, "url is required");
  o.body = opt_str(L, 1, "body", &o.body_len);
  o.timeout_ms = (uint64_t)opt_num(L, 1, "timeout_ms");
  o.connect_timeout_ms = (uint64_t)opt_num(L, 1, "connect_timeout_ms");
  o.follow_redirects = opt_bool(L, 1, "follow_redirects");
  o.max_redirects = (long)opt_num(L, 1, "max_redirects");
  o.max_response = (size_t)opt_num(L, 1, "max_response");
  o.insecure = opt_bool(L, 1, "insecure");
  o.ca_file = opt_str(L, 1, "ca_file", NULL);
  o.ca_blob = opt_str(L, 1, "ca", &o.ca_blob_len);
  o.client_cert = opt_str(L, 1, "cert", NULL);
  o.client_key = opt_str(L, 1, "key", NULL);
  o.unix_socket = opt_str(L, 1, "unix_socket", NULL);

  lua_getfield(L, 1, "headers");               /* 2 */
  size_t n = 0;
  if (lua_istable(L, 2)) {
    lua_pushnil(L);
    while (lua_next(L, 2)) {
      n++;
      lua_pop(L, 1);
    }
  }
  http_header *hs = lua_newuserdata(L, sizeof *hs * (n ? n : 1)); /* 3 */
  size_t i = 0;
  if (n) {
    lua_pushnil(L);
    while (lua_next(L, 2)) {
      if (lua_type(L, -2) != LUA_TSTRING || !lua_isstring(L, -1))
        return luaL_argerror(L, 1, "headers must map names to strings");
      hs[i].name = lua_tostring(L, -2);
      hs[i].value = lua_tostring(L, -1);
      i++;
      lua_pop(L, 1);
    }
  }
  o.headers = hs;
  o.n_headers = n;

  waiter *w = malloc(sizeof *w);
  if (!w) return luaL_error(L, "out of memory");
  w->task = t;
  char err[256] = "";
  http_client *hc = client(rt);
  w->req = hc ? http_start(hc, &o, http_done, w, err, sizeof err) : NULL;
  if (!w->req) {
    free(w);
    lua_pushnil(L);
    lua_pushstring(L, "EINVAL");
    lua_pushstring(L, err[0] ? err : "cannot start the request");
    return 3;
  }
  task_wait(t, WAIT_ACTIVE, http_cancel_wait, w, 0);
  task_deadline(t, (int64_t)opt_num(L, 1, "deadline_ms"));
  lua_settop(L, 0);
  return lua_yield(L, 0);
}

static const luaL_Reg funcs[] = {
  {"request", l_request},
  {NULL, NULL}
};

int luaopen_summit_c_http(lua_State *L) {
  lua_newtable(L);
  luaL_register(L, NULL, funcs);
  return 1;
}
