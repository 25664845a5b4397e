/* summit.c.http: HTTP requests for engine.lua's `http` (over io/http). */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "engine/runtime.h"
#include "io/http.h"
#include "io/lines.h"
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
  lua_pushinteger(co, r->attempts);
  lua_setfield(co, -2, "attempts");
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

/* Streams (watches, followed logs) hold their connection for minutes: on
 * a client of their own, with no per-host cap, so they never keep a
 * request from its turn (nor does a cap keep a watch waiting). */
static http_client *stream_client(runtime_t *rt) {
  if (!rt->http_streams) {
    rt->http_streams = http_client_new(rt->loop);
    http_client_limits(rt->http_streams, 0, 0);
  }
  return rt->http_streams;
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

/* Fills o from the options table at index t (the strings stay owned by
 * it). Pushes the headers table and the header vector (a userdata), which
 * must stay on the stack until the request has started. */
static void read_opts(lua_State *L, int t, http_opts *o) {
  o->method = opt_str(L, t, "method", NULL);
  o->url = opt_str(L, t, "url", NULL);
  if (!o->url) luaL_argerror(L, t, "url is required");
  o->body = opt_str(L, t, "body", &o->body_len);
  o->timeout_ms = (uint64_t)opt_num(L, t, "timeout_ms");
  o->retry = opt_bool(L, t, "retry");
  o->idempotent = opt_bool(L, t, "idempotent");
  o->connect_timeout_ms = (uint64_t)opt_num(L, t, "connect_timeout_ms");
  o->follow_redirects = opt_bool(L, t, "follow_redirects");
  o->max_redirects = (long)opt_num(L, t, "max_redirects");
  o->max_response = (size_t)opt_num(L, t, "max_response");
  o->insecure = opt_bool(L, t, "insecure");
  o->ca_file = opt_str(L, t, "ca_file", NULL);
  o->ca_blob = opt_str(L, t, "ca", &o->ca_blob_len);
  o->client_cert = opt_str(L, t, "cert", NULL);
  o->client_key = opt_str(L, t, "key", NULL);
  o->client_cert_blob = opt_str(L, t, "cert_pem", &o->client_cert_blob_len);
  o->client_key_blob = opt_str(L, t, "key_pem", &o->client_key_blob_len);
  o->unix_socket = opt_str(L, t, "unix_socket", NULL);

  lua_getfield(L, t, "headers");
  int ht = lua_gettop(L);
  size_t n = 0;
  if (lua_istable(L, ht)) {
    lua_pushnil(L);
    while (lua_next(L, ht)) {
      n++;
      lua_pop(L, 1);
    }
  }
  http_header *hs = lua_newuserdata(L, sizeof *hs * (n ? n : 1));
  size_t i = 0;
  if (n) {
    lua_pushnil(L);
    while (lua_next(L, ht)) {
      if (lua_type(L, -2) != LUA_TSTRING || !lua_isstring(L, -1))
        luaL_argerror(L, t, "headers must map names to strings");
      hs[i].name = lua_tostring(L, -2);
      hs[i].value = lua_tostring(L, -1);
      i++;
      lua_pop(L, 1);
    }
  }
  o->headers = hs;
  o->n_headers = n;
}

/* request{method, url, headers = {name = value}, body, timeout_ms,
 * connect_timeout_ms, follow_redirects, max_redirects, max_response,
 * insecure, ca_file, ca, cert, key, unix_socket, deadline_ms, retry,
 * idempotent, max_per_host, max_total}
 * -> {status, headers, body, duration_ms, url, attempts}, or nil, code,
 * message. max_per_host and max_total set the caps of the run's client
 * (io/http.h) for this and later requests. */
static int l_request(lua_State *L) {
  runtime_t *rt = runtime_get(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  task_t *t =
      sl_current_task(L, "http can only be used inside a running runbook");

  http_opts o = {0};
  read_opts(L, 1, &o);                         /* 2: headers, 3: vector */
  http_client *hc = client(rt);
  /* The caps of summit.lua's http = { max_per_host, max_total }. */
  lua_getfield(L, 1, "max_per_host");
  lua_getfield(L, 1, "max_total");
  if (hc && (!lua_isnil(L, -2) || !lua_isnil(L, -1)))
    http_client_limits(hc, lua_isnil(L, -2) ? HTTP_DEFAULT_MAX_PER_HOST
                                            : (long)lua_tonumber(L, -2),
                       (long)lua_tonumber(L, -1));
  lua_pop(L, 2);

  waiter *w = malloc(sizeof *w);
  if (!w) return luaL_error(L, "out of memory");
  w->task = t;
  char err[256] = "";
  w->req = hc ? http_start(hc, &o, http_done, w, err, sizeof err) : NULL;
  if (!w->req) {
    free(w);
    lua_pushnil(L);
    lua_pushstring(L, "EINVAL");
    lua_pushstring(L, err[0] ? err
                      : hc ? "cannot start the request" : http_client_error());
    return 3;
  }
  task_wait(t, WAIT_ACTIVE, http_cancel_wait, w, 0);
  task_deadline(t, (int64_t)opt_num(L, 1, "deadline_ms"));
  lua_settop(L, 0);
  return lua_yield(L, 0);
}

/* ---- streams: a response read line by line (watches) ---------------- */

#define STREAM_MT "summit.http.stream"

typedef struct line {
  struct line *next;
  size_t len;
  char text[];
} line;

typedef struct {
  http_req *req;        /* NULL once done or closed */
  lines_t lines;
  line *head, *tail;
  int done, error;
  long status;
  char errmsg[256];
  task_t *waiter;       /* a coroutine blocked in next() */
} stream_t;

static int enqueue(void *ud, const char *text, size_t len) {
  stream_t *st = ud;
  line *l = malloc(sizeof *l + len + 1);
  if (!l) return 1;
  l->next = NULL;
  l->len = len;
  memcpy(l->text, text, len + 1);
  if (st->tail) st->tail->next = l;
  else st->head = l;
  st->tail = l;
  return 0;
}

/* Pushes onto L the next line, or the end of the stream; returns how many
 * values, or 0 when nothing is ready yet. */
static int push_next(lua_State *L, stream_t *st) {
  if (st->head) {
    line *l = st->head;
    st->head = l->next;
    if (!st->head) st->tail = NULL;
    lua_pushlstring(L, l->text, l->len);
    free(l);
    return 1;
  }
  if (!st->done) return 0;
  lua_pushnil(L);
  if (st->error) {
    lua_pushstring(L, http_error_code(st->error));
    lua_pushstring(L, st->errmsg);
    return 3;
  }
  size_t n;
  const char *tail = lines_tail(&st->lines, &n);
  lua_pushliteral(L, "EOF");
  lua_pushinteger(L, (lua_Integer)st->status);
  lua_pushlstring(L, tail, n);
  return 4;
}

/* Hands the waiting coroutine its next line, or the end of the stream. */
static void deliver(stream_t *st) {
  task_t *t = st->waiter;
  if (!t) return;
  int n = push_next(task_thread(t), st);
  if (n) {
    st->waiter = NULL;
    sched_wake(t, n);
  }
}

static void stream_data(void *ud, const char *data, size_t len) {
  stream_t *st = ud;
  int rc = lines_feed(&st->lines, data, len, enqueue, st);
  if (rc != 0 && st->req) {
    /* A line beyond the cap, or no memory: stop the transfer. */
    http_cancel(st->req);
    st->req = NULL;
    st->done = 1;
    st->error = HTTP_ETOOLARGE;
    snprintf(st->errmsg, sizeof st->errmsg, "a streamed line is too long");
  }
  deliver(st);
}

static void stream_done(void *ud, const http_result *r) {
  stream_t *st = ud;
  st->req = NULL;
  st->done = 1;
  st->status = r->status;
  st->error = r->error;
  if (r->error) snprintf(st->errmsg, sizeof st->errmsg, "%s", r->errmsg);
  deliver(st);
}

static void stream_unwait(void *data) {
  stream_t *st = data;
  st->waiter = NULL;
}

/* stream{...same options as request...} -> a stream, or nil, code, msg.
 * The request starts at once; read it with stream:next(). */
static int l_stream(lua_State *L) {
  lua_settop(L, 1);
  lua_pushnil(L);                              /* 2: room for headers */
  stream_t *st = lua_newuserdata(L, sizeof *st);   /* 3 */
  memset(st, 0, sizeof *st);
  lines_init(&st->lines, 0);
  luaL_getmetatable(L, STREAM_MT);
  lua_setmetatable(L, -2);
  lua_replace(L, 2);                           /* 2: stream */
  lua_settop(L, 2);

  runtime_t *rt = runtime_get(L);
  http_opts o = {0};
  read_opts(L, 1, &o);                         /* 3: headers, 4: vector */
  o.on_data = stream_data;
  o.data_ud = st;
  char err[256] = "";
  http_client *hc = stream_client(rt);
  st->req = hc ? http_start(hc, &o, stream_done, st, err, sizeof err) : NULL;
  if (!st->req) {
    lua_pushnil(L);
    lua_pushstring(L, "EINVAL");
    lua_pushstring(L, err[0] ? err
                      : hc ? "cannot start the request" : http_client_error());
    return 3;
  }
  lua_settop(L, 2);
  return 1;
}

/* stream:next([deadline_ms]) -> line; at the end: nil, "EOF", status,
 * unterminated tail; on failure: nil, code, message. */
static int l_stream_next(lua_State *L) {
  stream_t *st = luaL_checkudata(L, 1, STREAM_MT);
  task_t *t =
      sl_current_task(L, "stream:next() only inside a running runbook");
  if (st->waiter) return luaL_error(L, "stream:next() is already waiting");
  int n = push_next(L, st);
  if (n) return n;
  st->waiter = t;
  task_wait(t, WAIT_ACTIVE, stream_unwait, st, 0);
  task_deadline(t, (int64_t)luaL_optnumber(L, 2, 0));
  lua_settop(L, 0);
  return lua_yield(L, 0);
}

static void stream_release(stream_t *st) {
  if (st->req) http_cancel(st->req);
  st->req = NULL;
  st->done = 1;
  while (st->head) {
    line *l = st->head;
    st->head = l->next;
    free(l);
  }
  st->tail = NULL;
  lines_free(&st->lines);
}

/* stream:close(): aborts the transfer and drops what was not read. */
static int l_stream_close(lua_State *L) {
  stream_t *st = luaL_checkudata(L, 1, STREAM_MT);
  stream_release(st);
  return 0;
}

static const luaL_Reg stream_methods[] = {
  {"next", l_stream_next},
  {"close", l_stream_close},
  {NULL, NULL}
};

/* ---- raw connections: bytes both ways (WebSocket exec) ---------------
 *
 * raw{url, ...TLS options as request...} -> conn, or nil, code, message.
 * libcurl connects (io/http's http_raw_open); nothing is sent for us.
 *   conn:send(bytes) -> true | nil, "ECLOSED" (queued, never blocks)
 *   conn:next([deadline_ms]) -> bytes as they arrive; at the peer's end:
 *     nil, "EOF"; on failure (connecting included): nil, code, message
 *   conn:close(); also by __gc. */

#define RAW_MT "summit.http.raw"

typedef struct chunk {
  struct chunk *next;
  size_t len;
  char data[];
} chunk;

typedef struct {
  http_raw *raw;        /* NULL once closed */
  chunk *head, *tail;
  int ended, error;
  char errmsg[256];
  task_t *waiter;       /* a coroutine blocked in next() */
} rawconn_t;

static int raw_push_next(lua_State *L, rawconn_t *st) {
  if (st->head) {
    chunk *k = st->head;
    st->head = k->next;
    if (!st->head) st->tail = NULL;
    lua_pushlstring(L, k->data, k->len);
    free(k);
    return 1;
  }
  if (!st->ended) return 0;
  lua_pushnil(L);
  if (!st->error) {
    lua_pushliteral(L, "EOF");
    return 2;
  }
  lua_pushstring(L, http_error_code(st->error));
  lua_pushstring(L, st->errmsg);
  return 3;
}

static void raw_deliver(rawconn_t *st) {
  task_t *t = st->waiter;
  if (!t) return;
  int n = raw_push_next(task_thread(t), st);
  if (n) {
    st->waiter = NULL;
    sched_wake(t, n);
  }
}

static void raw_data(void *ud, const char *data, size_t len) {
  rawconn_t *st = ud;
  chunk *k = malloc(sizeof *k + len);
  if (!k) {
    st->ended = 1;
    st->error = HTTP_EOTHER;
    snprintf(st->errmsg, sizeof st->errmsg, "out of memory");
  } else {
    k->next = NULL;
    k->len = len;
    memcpy(k->data, data, len);
    if (st->tail) st->tail->next = k;
    else st->head = k;
    st->tail = k;
  }
  raw_deliver(st);
}

static void raw_end_cb(void *ud, int error, const char *msg) {
  rawconn_t *st = ud;
  st->ended = 1;
  st->error = error;
  snprintf(st->errmsg, sizeof st->errmsg, "%s", msg ? msg : "");
  raw_deliver(st);
}

static void raw_unwait(void *data) {
  rawconn_t *st = data;
  st->waiter = NULL;
}

static int l_raw(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  rawconn_t *st = lua_newuserdata(L, sizeof *st);    /* 2 */
  memset(st, 0, sizeof *st);
  luaL_getmetatable(L, RAW_MT);
  lua_setmetatable(L, -2);
  runtime_t *rt = runtime_get(L);
  http_opts o = {0};
  read_opts(L, 1, &o);                         /* 3: headers, 4: vector */
  static const http_raw_cbs cbs = {NULL, raw_data, raw_end_cb};
  char err[256] = "";
  st->raw = http_raw_open(rt->loop, &o, &cbs, st, err, sizeof err);
  if (!st->raw) {
    lua_pushnil(L);
    lua_pushstring(L, "EINVAL");
    lua_pushstring(L, err[0] ? err : "cannot start the connection");
    return 3;
  }
  lua_settop(L, 2);
  return 1;
}

static int l_raw_send(lua_State *L) {
  rawconn_t *st = luaL_checkudata(L, 1, RAW_MT);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  if (!st->raw || st->ended || http_raw_send(st->raw, data, len) < 0) {
    lua_pushnil(L);
    lua_pushliteral(L, "ECLOSED");
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int l_raw_next(lua_State *L) {
  rawconn_t *st = luaL_checkudata(L, 1, RAW_MT);
  task_t *t = sl_current_task(L, "conn:next() only inside a running runbook");
  if (st->waiter) return luaL_error(L, "conn:next() is already waiting");
  if (!st->raw && !st->head) {
    lua_pushnil(L);
    lua_pushliteral(L, "ECLOSED");
    return 2;
  }
  int n = raw_push_next(L, st);
  if (n) return n;
  st->waiter = t;
  task_wait(t, WAIT_ACTIVE, raw_unwait, st, 0);
  task_deadline(t, (int64_t)luaL_optnumber(L, 2, 0));
  lua_settop(L, 0);
  return lua_yield(L, 0);
}

static int l_raw_close(lua_State *L) {
  rawconn_t *st = luaL_checkudata(L, 1, RAW_MT);
  if (st->raw) http_raw_close(st->raw);
  st->raw = NULL;
  st->ended = 1;
  while (st->head) {
    chunk *k = st->head;
    st->head = k->next;
    free(k);
  }
  st->tail = NULL;
  return 0;
}

static const luaL_Reg raw_methods[] = {
  {"send", l_raw_send},
  {"next", l_raw_next},
  {"close", l_raw_close},
  {NULL, NULL}
};

static const luaL_Reg funcs[] = {
  {"request", l_request},
  {"stream", l_stream},
  {"raw", l_raw},
  {NULL, NULL}
};

int luaopen_summit_c_http(lua_State *L) {
  if (luaL_newmetatable(L, STREAM_MT)) {
    lua_newtable(L);
    luaL_register(L, NULL, stream_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_stream_close);
    lua_setfield(L, -2, "__gc");          /* an unread stream is aborted */
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, RAW_MT)) {
    lua_newtable(L);
    luaL_register(L, NULL, raw_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_raw_close);
    lua_setfield(L, -2, "__gc");          /* a dropped connection is closed */
  }
  lua_pop(L, 1);
  lua_newtable(L);
  luaL_register(L, NULL, funcs);
  return 1;
}
