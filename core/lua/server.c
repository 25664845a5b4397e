/* summit.c.server: the HTTP server (io/server.h) and loop timers for
 * callback-style Lua, such as the simulated Kubernetes API server.
 *
 * Unlike the runbook primitives these never yield: a request handler or a
 * timer callback is a plain function called with lua_pcall on the
 * runtime's main lua_State from the loop. An error in it is logged to
 * stderr (and a request is answered 500 if it was not answered yet).
 *
 *   listen(host, port, handler [, limits]) -> server | raises
 *     limits: {header_timeout_ms, body_timeout_ms, idle_timeout_ms,
 *     max_header_bytes, max_body_bytes, max_connections}, each optional
 *     (io/server.h http_server_opts; absent or 0: the default)
 *     handler(req, x): req = {method, path, query = {k = v}, raw_query,
 *     headers = {lower-case name = value}, body, peer}
 *     server:port(), server:close()
 *   x:respond(status, headers, body) -> true | false (already finished)
 *   x:stream_start(status, headers); x:write(data) -> ok; x:finish()
 *   x:on_close(fn): fn() runs once if the client goes away before the
 *     exchange is finished; afterwards every method of x is a no-op.
 *   x:open() -> true while the exchange may still be answered
 *   timer(ms, fn [, repeat_ms [, wall]]) -> timer; timer:stop()
 *   json: see jsondoc.h
 *
 * Ownership. The server and a running timer pin their userdata with a
 * registry reference, so dropping the Lua value does not stop them; close()
 * and stop() (or a one-shot timer firing) release every reference. An
 * exchange userdata is not pinned: if Lua drops it unanswered, its __gc
 * answers 500 (or ends the stream), so the C exchange never leaks; in turn
 * the C side only calls back into the userdata while the exchange is open,
 * which is while the userdata is alive. Everything must be closed before
 * the loop is closed: the embedder stops servers and timers, runs the loop
 * until their handles are closed, and only then calls lua_close. */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/host.h"
#include "engine/runtime.h"
#include "engine/testmode.h"
#include "io/server.h"
#include "lua/bindings.h"
#include "lua/jsondoc.h"

#define SERVER_MT "summit.server"
#define EXCHANGE_MT "summit.server.exchange"
#define TIMER_MT "summit.server.timer"
#define MAX_RESP_HEADERS 64

/* Logs a failed callback; the error is on top of L (popped). */
static void log_error(lua_State *L, const char *what) {
  const char *msg = lua_tostring(L, -1);
  fprintf(stderr, "summit: %s failed: %s\n", what, msg ? msg : "(error)");
  lua_pop(L, 1);
}

/* ---- exchanges ---- */

typedef struct {
  http_exchange *x;   /* NULL once finished or closed */
  lua_State *L;       /* the main state, for on_close */
  int close_ref;      /* Lua on_close function, or LUA_NOREF */
  int streaming;
  int dead;           /* the client went away (on_close ran) */
} lexchange;

static void unref(lua_State *L, int *ref) {
  if (*ref != LUA_NOREF && *ref != LUA_REFNIL)
    luaL_unref(L, LUA_REGISTRYINDEX, *ref);
  *ref = LUA_NOREF;
}

/* io/server's on_close: the connection died with the exchange open. x is
 * valid during this call only; the Lua callback runs here. */
static void ex_closed(void *ud) {
  lexchange *e = ud;
  lua_State *L = e->L;
  e->x = NULL;
  e->dead = 1;
  if (e->close_ref == LUA_NOREF) return;
  int top = lua_gettop(L);
  lua_pushcfunction(L, host_traceback);
  lua_rawgeti(L, LUA_REGISTRYINDEX, e->close_ref);  /* the Lua on_close */
  unref(L, &e->close_ref);
  if (lua_pcall(L, 0, 0, top + 1) != 0) log_error(L, "an on_close callback");
  lua_settop(L, top);
}

static lexchange *check_ex(lua_State *L) {
  return luaL_checkudata(L, 1, EXCHANGE_MT);
}

/* Collects the headers table at idx into names/values (strings owned by
 * Lua: they are keys and values of that table, which stays on the
 * stack). Returns the count. */
static size_t headers_of(lua_State *L, int idx, const char **names,
                         const char **values) {
  size_t n = 0;
  if (lua_isnoneornil(L, idx)) return 0;
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    /* Strings only: the pointers stay valid because the table holds
     * them (a number converted on the stack would not be held). */
    if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
      luaL_argerror(L, idx, "headers must map names to strings");
    if (n == MAX_RESP_HEADERS) luaL_argerror(L, idx, "too many headers");
    names[n] = lua_tostring(L, -2);
    values[n] = lua_tostring(L, -1);
    n++;
    lua_pop(L, 1);
  }
  return n;
}

/* x:respond(status, headers, body) -> true, or false if x was finished */
static int l_ex_respond(lua_State *L) {
  lexchange *e = check_ex(L);
  int status = (int)luaL_checkinteger(L, 2);
  size_t blen = 0;
  const char *body = luaL_optlstring(L, 4, "", &blen);
  const char *names[MAX_RESP_HEADERS], *values[MAX_RESP_HEADERS];
  size_t n = headers_of(L, 3, names, values);
  if (!e->x || e->streaming) {
    lua_pushboolean(L, 0);
    return 1;
  }
  http_exchange *x = e->x;
  e->x = NULL;   /* finished: on_close will not come */
  unref(L, &e->close_ref);
  http_respond(x, status, names, values, n, body, blen);
  lua_pushboolean(L, 1);
  return 1;
}

/* x:stream_start(status, headers) -> true, or false if x was finished */
static int l_ex_stream_start(lua_State *L) {
  lexchange *e = check_ex(L);
  int status = (int)luaL_checkinteger(L, 2);
  const char *names[MAX_RESP_HEADERS], *values[MAX_RESP_HEADERS];
  size_t n = headers_of(L, 3, names, values);
  if (!e->x || e->streaming) {
    lua_pushboolean(L, 0);
    return 1;
  }
  e->streaming = 1;
  http_stream_start(e->x, status, names, values, n);
  lua_pushboolean(L, 1);
  return 1;
}

/* x:write(data) -> true, or false when the client has gone (or x was
 * finished) */
static int l_ex_write(lua_State *L) {
  lexchange *e = check_ex(L);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  if (!e->x) {
    lua_pushboolean(L, 0);
    return 1;
  }
  if (!e->streaming) {
    e->streaming = 1;
    http_stream_start(e->x, 200, NULL, NULL, 0);
  }
  lua_pushboolean(L, len == 0 || http_stream_write(e->x, data, len) == 0);
  return 1;
}

/* x:finish(): ends the stream (a 200 with an empty body if none was
 * started). */
static int l_ex_finish(lua_State *L) {
  lexchange *e = check_ex(L);
  if (!e->x) return 0;
  http_exchange *x = e->x;
  e->x = NULL;
  unref(L, &e->close_ref);
  http_stream_end(x);
  return 0;
}

/* x:on_close(fn): replaces any earlier one; runs at once if the client is
 * already gone; ignored once x is finished. */
static int l_ex_on_close(lua_State *L) {
  lexchange *e = check_ex(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  if (e->dead) {
    lua_pushvalue(L, 2);
    lua_call(L, 0, 0);
    return 0;
  }
  if (!e->x) return 0;
  unref(L, &e->close_ref);
  lua_pushvalue(L, 2);
  e->close_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

/* x:open() -> true while x can still be answered */
static int l_ex_open(lua_State *L) {
  lexchange *e = check_ex(L);
  lua_pushboolean(L, e->x != NULL);
  return 1;
}

/* An exchange Lua dropped unanswered is answered here, so the C side
 * never keeps it (nor calls back into this memory). */
static int l_ex_gc(lua_State *L) {
  lexchange *e = check_ex(L);
  unref(L, &e->close_ref);
  if (!e->x) return 0;
  http_exchange *x = e->x;
  e->x = NULL;
  if (e->streaming) {
    http_stream_end(x);
  } else {
    static const char msg[] = "the request handler did not answer\n";
    const char *n[] = {"Content-Type"}, *v[] = {"text/plain"};
    http_respond(x, 500, n, v, 1, msg, sizeof msg - 1);
  }
  return 0;
}

/* ---- protocol upgrades (WebSocket) ----
 *
 * x:upgrade(headers, on_data [, on_close]) -> true | false: sends 101
 *   Switching Protocols with headers (the caller computes
 *   Sec-WebSocket-Accept); afterwards on_data(bytes) gets every byte the
 *   client sends and on_close() runs once if the client goes away first.
 *   false if the request asked for no upgrade or x was already answered.
 * x:send(bytes) -> true | false (gone); x:close(): a graceful close.
 * Once upgraded, x is finished for respond/write (x:open() is false). The
 * upgrade state is its own userdata, pinned by a registry reference while
 * the connection is open and found from x through x's environment table;
 * io/server calls back with it, never with the exchange userdata. */

#define UPGRADE_KEY "summit.server.upgrade"

typedef struct {
  http_exchange *x;   /* NULL once closed, by either side */
  lua_State *L;       /* the main state */
  lexchange *owner;
  int data_ref, close_ref, self_ref;
} lupgrade;

static void up_release(lupgrade *u) {
  unref(u->L, &u->data_ref);
  unref(u->L, &u->close_ref);
  unref(u->L, &u->self_ref);   /* last: u may be collected from here on */
}

/* io/server's on_data: the Lua on_data(bytes), protected. u is not used
 * after the call (on_data may close, and u be collected). */
static void up_data(void *ud, const char *data, size_t len) {
  lupgrade *u = ud;
  lua_State *L = u->L;
  if (!u->x || u->data_ref == LUA_NOREF) return;
  int top = lua_gettop(L);
  lua_pushcfunction(L, host_traceback);
  lua_rawgeti(L, LUA_REGISTRYINDEX, u->data_ref);  /* the Lua on_data */
  lua_pushlstring(L, data, len);
  if (lua_pcall(L, 1, 0, top + 1) != 0) log_error(L, "an on_data callback");
  lua_settop(L, top);
}

/* io/server's on_close for an upgraded exchange: the client went away. */
static void up_closed(void *ud) {
  lupgrade *u = ud;
  lua_State *L = u->L;
  int top = lua_gettop(L);
  u->x = NULL;
  lua_pushcfunction(L, host_traceback);
  if (u->close_ref != LUA_NOREF)
    lua_rawgeti(L, LUA_REGISTRYINDEX, u->close_ref);  /* the Lua on_close */
  else
    lua_pushnil(L);
  up_release(u);
  if (lua_isfunction(L, -1) && lua_pcall(L, 0, 0, top + 1) != 0)
    log_error(L, "an on_close callback");
  lua_settop(L, top);
}

static lupgrade *up_of(lua_State *L, lexchange *e) {
  lua_getfenv(L, 1);
  lupgrade *u = NULL;
  if (lua_istable(L, -1)) {
    lua_getfield(L, -1, UPGRADE_KEY);
    u = lua_touserdata(L, -1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return u && u->owner == e ? u : NULL;
}

/* x:upgrade(headers, on_data [, on_close]) -> true | false */
static int l_ex_upgrade(lua_State *L) {
  lexchange *e = check_ex(L);
  const char *names[MAX_RESP_HEADERS], *values[MAX_RESP_HEADERS];
  size_t n = headers_of(L, 2, names, values);
  luaL_checktype(L, 3, LUA_TFUNCTION);
  if (!lua_isnoneornil(L, 4)) luaL_checktype(L, 4, LUA_TFUNCTION);
  lua_settop(L, 4);
  if (!e->x || e->streaming) {
    lua_pushboolean(L, 0);
    return 1;
  }
  lupgrade *u = lua_newuserdata(L, sizeof *u);     /* 5: the state */
  u->x = NULL;
  u->L = e->L;
  u->owner = e;
  u->data_ref = u->close_ref = u->self_ref = LUA_NOREF;
  if (http_upgrade(e->x, names, values, n, up_data, up_closed, u) < 0) {
    lua_pushboolean(L, 0);   /* x unchanged: still to be answered */
    return 1;
  }
  u->x = e->x;
  e->x = NULL;   /* io/server now calls back with u, never with e */
  unref(L, &e->close_ref);
  lua_pushvalue(L, 3);
  u->data_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  if (!lua_isnil(L, 4)) {
    lua_pushvalue(L, 4);
    u->close_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  lua_pushvalue(L, 5);
  u->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);    /* pinned while open */
  lua_newtable(L);
  lua_pushvalue(L, 5);
  lua_setfield(L, -2, UPGRADE_KEY);                /* env[KEY] = u */
  lua_setfenv(L, 1);                               /* x's environment */
  lua_pushboolean(L, 1);
  return 1;
}

/* x:send(bytes) -> true, or false when the client has gone */
static int l_ex_send(lua_State *L) {
  lexchange *e = check_ex(L);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  lupgrade *u = up_of(L, e);
  lua_pushboolean(L, u && u->x && http_upgraded_write(u->x, data, len) == 0);
  return 1;
}

/* x:close(): sends what was written, then closes the connection. */
static int l_ex_close(lua_State *L) {
  lexchange *e = check_ex(L);
  lupgrade *u = up_of(L, e);
  if (!u || !u->x) return 0;
  http_exchange *x = u->x;
  u->x = NULL;
  up_release(u);
  http_upgraded_close(x);
  return 0;
}

static const luaL_Reg ex_methods[] = {
  {"respond", l_ex_respond},
  {"stream_start", l_ex_stream_start},
  {"write", l_ex_write},
  {"finish", l_ex_finish},
  {"on_close", l_ex_on_close},
  {"open", l_ex_open},
  {"upgrade", l_ex_upgrade},
  {"send", l_ex_send},
  {"close", l_ex_close},
  {NULL, NULL}
};

/* ---- servers ---- */

typedef struct {
  http_server *srv;   /* NULL once closed */
  lua_State *L;       /* the main state: handlers run on it */
  int handler_ref;
  int self_ref;       /* pins this userdata while listening */
  int port;
} lserver;

static int hexval(int ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

/* Pushes s[0..n) form-decoded: %XX escapes and '+' as a space. A bad
 * escape is kept as it is. */
static void push_decoded(lua_State *L, const char *s, size_t n) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (size_t i = 0; i < n; i++) {
    int hi, lo;
    if (s[i] == '+') {
      luaL_addchar(&b, ' ');
    } else if (s[i] == '%' && i + 2 < n &&
               (hi = hexval((unsigned char)s[i + 1])) >= 0 &&
               (lo = hexval((unsigned char)s[i + 2])) >= 0) {
      luaL_addchar(&b, (char)(hi * 16 + lo));
      i += 2;
    } else {
      luaL_addchar(&b, s[i]);
    }
  }
  luaL_pushresult(&b);
}

/* Pushes {k = v} of a query string; a repeated key keeps its last value,
 * a key without '=' gets "". */
static void push_query(lua_State *L, const char *q) {
  lua_newtable(L);
  while (*q) {
    const char *amp = strchr(q, '&');
    size_t len = amp ? (size_t)(amp - q) : strlen(q);
    if (len > 0) {
      const char *eq = memchr(q, '=', len);
      size_t klen = eq ? (size_t)(eq - q) : len;
      push_decoded(L, q, klen);
      if (eq) push_decoded(L, eq + 1, len - klen - 1);
      else lua_pushliteral(L, "");
      lua_rawset(L, -3);                         /* query[k] = v */
    }
    q += len;
    if (*q == '&') q++;
  }
}

/* Pushes the request table of r. */
static void push_request(lua_State *L, const http_request *r) {
  lua_createtable(L, 0, 8);
  lua_pushstring(L, r->method);
  lua_setfield(L, -2, "method");
  lua_pushstring(L, r->path);
  lua_setfield(L, -2, "path");
  lua_pushstring(L, r->query);
  lua_setfield(L, -2, "raw_query");
  push_query(L, r->query);
  lua_setfield(L, -2, "query");
  lua_pushstring(L, r->url);
  lua_setfield(L, -2, "url");
  lua_pushstring(L, r->peer ? r->peer : "");
  lua_setfield(L, -2, "peer");
  lua_newtable(L);
  for (size_t i = 0; i < r->n_headers; i++) {
    lua_getfield(L, -1, r->header_names[i]);
    if (lua_isstring(L, -1)) {
      /* A repeated header: values joined as HTTP allows. */
      lua_pushliteral(L, ", ");
      lua_pushstring(L, r->header_values[i]);
      lua_concat(L, 3);
    } else {
      lua_pop(L, 1);
      lua_pushstring(L, r->header_values[i]);
    }
    lua_setfield(L, -2, r->header_names[i]);     /* headers[name] = value */
  }
  lua_setfield(L, -2, "headers");
  lua_pushlstring(L, r->body ? r->body : "", r->body_len);
  lua_setfield(L, -2, "body");
}

typedef struct {
  lserver *s;
  http_exchange *x;
  const http_request *r;
  lexchange *e;       /* out: the exchange userdata made */
} dispatch_args;

/* Runs protected: makes the exchange userdata and the request table, then
 * calls the handler. */
static int l_dispatch(lua_State *L) {
  dispatch_args *a = lua_touserdata(L, 1);
  lua_rawgeti(L, LUA_REGISTRYINDEX, a->s->handler_ref);   /* 2: handler */
  push_request(L, a->r);                                  /* 3: req */
  lexchange *e = lua_newuserdata(L, sizeof *e);           /* 4: x */
  e->x = a->x;
  e->L = a->s->L;
  e->close_ref = LUA_NOREF;
  e->streaming = 0;
  e->dead = 0;
  luaL_getmetatable(L, EXCHANGE_MT);
  lua_setmetatable(L, -2);
  a->e = e;
  /* From here the userdata answers for the exchange. */
  http_exchange_on_close(a->x, ex_closed, e);
  lua_call(L, 2, 0);
  return 0;
}

static void on_request(void *ud, http_exchange *x, const http_request *r) {
  lserver *s = ud;
  lua_State *L = s->L;
  int top = lua_gettop(L);
  dispatch_args a = {s, x, r, NULL};
  lua_pushcfunction(L, host_traceback);
  lua_pushcfunction(L, l_dispatch);
  lua_pushlightuserdata(L, &a);
  if (lua_pcall(L, 1, 0, top + 1) != 0) {
    log_error(L, "a request handler");
    /* Nothing has allocated since the error, so the exchange userdata has
     * not been collected yet. */
    lexchange *e = a.e;
    http_exchange *open = e ? e->x : x;
    if (e) {
      e->x = NULL;
      unref(L, &e->close_ref);
    }
    if (open && e && e->streaming) {
      http_stream_end(open);
    } else if (open) {
      static const char msg[] = "internal error in the request handler\n";
      const char *n[] = {"Content-Type"}, *v[] = {"text/plain"};
      http_respond(open, 500, n, v, 1, msg, sizeof msg - 1);
    }
  }
  lua_settop(L, top);
}

static lserver *check_server(lua_State *L) {
  return luaL_checkudata(L, 1, SERVER_MT);
}

/* limits.name as a count >= 0 (absent: 0, the default); raises on
 * anything else. */
static lua_Integer limit_field(lua_State *L, int idx, const char *name,
                               lua_Integer max) {
  lua_getfield(L, idx, name);
  lua_Integer v = 0;
  if (!lua_isnil(L, -1)) {
    lua_Number n = lua_tonumber(L, -1);
    if (!lua_isnumber(L, -1) || n != (lua_Number)(lua_Integer)n || n < 0 ||
        n > (lua_Number)max)
      return luaL_error(L, "listen: limits.%s must be a whole number from 0 to %d",
                        name, (int)max);
    v = (lua_Integer)n;
  }
  lua_pop(L, 1);
  return v;
}

/* listen(host, port, handler [, limits]) -> server */
static int l_listen(lua_State *L) {
  runtime_t *rt = runtime_get(L);
  const char *host = luaL_checkstring(L, 1);
  lua_Integer port = luaL_checkinteger(L, 2);
  luaL_checktype(L, 3, LUA_TFUNCTION);
  if (port < 0 || port > 65535) return luaL_argerror(L, 2, "port out of range");
  http_server_opts o;
  memset(&o, 0, sizeof o);
  if (!lua_isnoneornil(L, 4)) {
    luaL_checktype(L, 4, LUA_TTABLE);
    const lua_Integer big = 0x7fffffff;
    o.header_timeout_ms = (uint32_t)limit_field(L, 4, "header_timeout_ms", big);
    o.body_timeout_ms = (uint32_t)limit_field(L, 4, "body_timeout_ms", big);
    o.idle_timeout_ms = (uint32_t)limit_field(L, 4, "idle_timeout_ms", big);
    o.max_header_bytes = (size_t)limit_field(L, 4, "max_header_bytes", big);
    o.max_body_bytes = (size_t)limit_field(L, 4, "max_body_bytes", big);
    o.max_connections = (uint32_t)limit_field(L, 4, "max_connections", big);
  }
  if (!rt || !rt->loop) return luaL_error(L, "listen: no event loop");
  lserver *s = lua_newuserdata(L, sizeof *s);
  memset(s, 0, sizeof *s);
  s->handler_ref = s->self_ref = LUA_NOREF;
  s->L = rt->L ? rt->L : L;
  luaL_getmetatable(L, SERVER_MT);
  lua_setmetatable(L, -2);
  char err[256];
  s->srv = http_server_start(rt->loop, host, (int)port, &o, on_request, s,
                             err, sizeof err);
  if (!s->srv) return luaL_error(L, "listen: %s", err);
  s->port = http_server_port(s->srv);
  lua_pushvalue(L, 3);
  s->handler_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushvalue(L, -1);
  s->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 1;
}

/* server:port() -> the port bound */
static int l_server_port(lua_State *L) {
  lua_pushinteger(L, check_server(L)->port);
  return 1;
}

/* server:close(): stops listening and closes every connection (open
 * exchanges hear of it through their on_close, from the loop). */
static int l_server_close(lua_State *L) {
  lserver *s = check_server(L);
  if (!s->srv) return 0;
  http_server *srv = s->srv;
  s->srv = NULL;
  http_server_stop(srv);
  unref(L, &s->handler_ref);
  unref(L, &s->self_ref);
  return 0;
}

static const luaL_Reg server_methods[] = {
  {"port", l_server_port},
  {"close", l_server_close},
  {NULL, NULL}
};

/* ---- timers ---- */

typedef struct {
  uv_timer_t t;
  lua_State *L;
  int fn_ref;
  int self_ref;       /* pins this userdata until the handle is closed */
  int open;           /* the handle is not closing */
} ltimer;

static void timer_closed(uv_handle_t *h) {
  ltimer *t = h->data;
  unref(t->L, &t->fn_ref);
  unref(t->L, &t->self_ref);   /* the userdata may be collected now */
}

static void timer_close(ltimer *t) {
  if (!t->open) return;
  t->open = 0;
  uv_timer_stop(&t->t);
  uv_close((uv_handle_t *)&t->t, timer_closed);
}

static void timer_fired(uv_timer_t *h) {
  ltimer *t = h->data;
  lua_State *L = t->L;
  if (uv_timer_get_repeat(h) == 0) timer_close(t);   /* one shot */
  if (t->fn_ref == LUA_NOREF) return;
  int top = lua_gettop(L);
  lua_pushcfunction(L, host_traceback);
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->fn_ref);
  if (lua_pcall(L, 0, 0, top + 1) != 0) log_error(L, "a timer callback");
  lua_settop(L, top);
}

/* The same for a timer on the wall clock (wall = true): one that paces
 * real work, such as writing the sim's state, and that summit test's
 * virtual clock never jumps to (engine/testmode.h). */
static void wall_timer_fired(uv_timer_t *h) { timer_fired(h); }

/* timer(ms, fn [, repeat_ms [, wall]]) -> timer: fn() after ms, then every
 * repeat_ms if given (0: once). */
static int l_timer(lua_State *L) {
  runtime_t *rt = runtime_get(L);
  double ms = luaL_checknumber(L, 1);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  double rep = luaL_optnumber(L, 3, 0);
  int wall = lua_toboolean(L, 4);
  lua_settop(L, 3);
  if (!(ms >= 0)) return luaL_argerror(L, 1, "must be >= 0");
  if (!(rep >= 0)) return luaL_argerror(L, 3, "must be >= 0");
  if (!rt || !rt->loop) return luaL_error(L, "timer: no event loop");
  ltimer *t = lua_newuserdata(L, sizeof *t);
  memset(t, 0, sizeof *t);
  t->L = rt->L ? rt->L : L;
  luaL_getmetatable(L, TIMER_MT);
  lua_setmetatable(L, -2);
  uv_timer_init(rt->loop, &t->t);
  t->t.data = t;
  t->open = 1;
  lua_pushvalue(L, 2);
  t->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushvalue(L, -1);
  t->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  if (wall)
    uv_timer_start(&t->t, wall_timer_fired, (uint64_t)ms, (uint64_t)rep);
  else   /* on the run's clock: summit test's virtual clock may jump to it */
    testmode_timer_start(&t->t, timer_fired, (uint64_t)ms, (uint64_t)rep);
  return 1;
}

/* timer:stop(): the callback will not run again. */
static int l_timer_stop(lua_State *L) {
  ltimer *t = luaL_checkudata(L, 1, TIMER_MT);
  timer_close(t);
  return 0;
}

static const luaL_Reg timer_methods[] = {
  {"stop", l_timer_stop},
  {NULL, NULL}
};

/* ---- module ---- */

static const luaL_Reg funcs[] = {
  {"listen", l_listen},
  {"timer", l_timer},
  {NULL, NULL}
};

static void new_class(lua_State *L, const char *name, const luaL_Reg *m,
                      lua_CFunction gc) {
  if (luaL_newmetatable(L, name)) {
    lua_newtable(L);
    luaL_register(L, NULL, m);
    lua_setfield(L, -2, "__index");              /* mt.__index = methods */
    if (gc) {
      lua_pushcfunction(L, gc);
      lua_setfield(L, -2, "__gc");
    }
  }
  lua_pop(L, 1);
}

int luaopen_summit_c_server(lua_State *L) {
  new_class(L, EXCHANGE_MT, ex_methods, l_ex_gc);
  /* Servers and timers have no __gc: they are pinned until closed, and
   * at lua_close their handles are already closed (see the top). */
  new_class(L, SERVER_MT, server_methods, NULL);
  new_class(L, TIMER_MT, timer_methods, NULL);
  lua_newtable(L);
  luaL_register(L, NULL, funcs);
  sl_push_jsondoc(L);
  lua_setfield(L, -2, "json");                   /* module.json */
  return 1;
}
