/* Unit tests of summit.c.server (core/lua/server.c, jsondoc.c) and of the
 * simulated cluster's Lua modules, in a host (engine/host.h) as
 * `summit sim serve` makes one. HTTP requests come from a small libuv
 * client in this file, on the same loop.
 *
 * Covered: a request answered by a Lua handler (request table: method,
 * path, decoded query, headers, body); a handler that raises (500) and one
 * that drops its exchange (answered 500 by __gc); a stream whose client
 * leaves (on_close runs, later writes are no-ops); timers (one-shot,
 * repeating, stop); every registry reference released (handler, timer
 * and on_close functions become garbage); lossless JSON (null, empty
 * arrays, sorted keys); the patch, selector and store modules; sim.exec
 * and sim.start/stop. Each test ends with host_free() == 0: every handle
 * closed. */
#include <criterion/criterion.h>

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/host.h"

static host_t H;
static lua_State *L;

static void setup(void) {
  cr_assert_eq(host_init(&H, 1, "/tmp"), 0);
  L = H.rt.L;
}

static void teardown(void) {
  for (int i = 0; i < 20; i++) uv_run(&H.loop, UV_RUN_NOWAIT);
  cr_assert_eq(host_open_handles(&H), 0, "every handle must be closed");
  cr_assert_eq(host_free(&H), 0, "the loop must close");
}

/* Runs Lua code; a failure (an assert) fails the test with its message. */
static void lua(const char *code) {
  lua_pushcfunction(L, host_traceback);
  int rc = luaL_loadbuffer(L, code, strlen(code), "=test");
  if (rc == 0) rc = lua_pcall(L, 0, 0, -2);
  if (rc != 0) cr_assert_fail("Lua: %s", lua_tostring(L, -1));
  lua_settop(L, 0);
}

static int lua_int(const char *global) {
  lua_getglobal(L, global);
  int v = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  return v;
}

/* ---- a tiny HTTP client on the loop --------------------------------- */

typedef struct {
  uv_tcp_t tcp;
  uv_connect_t creq;
  uv_write_t wreq;
  const char *request;
  char resp[65536];
  size_t len;
  int hangup_after;   /* close once this many bytes arrived (0: at EOF) */
  int done;
} client;

static void c_closed(uv_handle_t *h) { ((client *)h->data)->done = 1; }

static void c_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  client *c = h->data;
  (void)hint;
  b->base = c->resp + c->len;
  b->len = sizeof c->resp - c->len - 1;
}

static void c_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  client *c = s->data;
  (void)b;
  if (n > 0) {
    c->len += (size_t)n;
    c->resp[c->len] = '\0';
    if (c->hangup_after && c->len >= (size_t)c->hangup_after)
      uv_close((uv_handle_t *)s, c_closed);
  } else if (n < 0) {
    uv_close((uv_handle_t *)s, c_closed);
  }
}

static void c_written(uv_write_t *w, int status) {
  client *c = w->data;
  cr_assert_eq(status, 0);
  uv_read_start((uv_stream_t *)&c->tcp, c_alloc, c_read);
}

static void c_connected(uv_connect_t *r, int status) {
  client *c = r->data;
  cr_assert_eq(status, 0, "connect: %s", uv_strerror(status));
  uv_buf_t b = uv_buf_init((char *)c->request, (unsigned)strlen(c->request));
  c->wreq.data = c;
  uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, c_written);
}

/* Sends request to 127.0.0.1:port and runs the loop until the answer is
 * read (or the client hung up after hangup_after bytes). */
static void http(client *c, int port, const char *request, int hangup_after) {
  memset(c, 0, sizeof *c);
  c->request = request;
  c->hangup_after = hangup_after;
  uv_tcp_init(&H.loop, &c->tcp);
  c->tcp.data = c->creq.data = c;
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", port, &a);
  uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&a, c_connected);
  for (int i = 0; i < 100000 && !c->done; i++) uv_run(&H.loop, UV_RUN_ONCE);
  cr_assert(c->done, "no answer");
}

static int lua_truthy(const char *global) {
  lua_getglobal(L, global);
  int v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

/* Runs the loop until Lua's global `done` is true. */
static void run_until_done(void) {
  for (int i = 0; i < 100000 && !lua_truthy("done"); i++) uv_run(&H.loop, UV_RUN_ONCE);
  cr_assert(lua_truthy("done"), "the loop ran dry before done");
}

/* ---- summit.c.server ------------------------------------------------- */

TestSuite(server, .init = setup, .fini = teardown, .timeout = 30);

Test(server, request_table_and_respond) {
  lua("S = require('summit.c.server')\n"
      "seen = {}\n"
      "srv = S.listen('127.0.0.1', 0, function(req, x)\n"
      "  seen = req\n"
      "  assert(x:open())\n"
      "  assert(x:respond(201, { ['Content-Type'] = 'text/plain', ['X-A'] = 'b' }, 'hi ' .. req.body))\n"
      "  assert(not x:open())\n"
      "  assert(x:respond(200, {}, 'again') == false, 'a second answer is refused')\n"
      "end)\n"
      "port = srv:port()");
  client c;
  http(&c, lua_int("port"),
       "POST /a%20b/c?x=1&y=a+b%2Fc&x=2&flag HTTP/1.1\r\nHost: t\r\n"
       "X-Multi: 1\r\nX-Multi: 2\r\nContent-Length: 4\r\n"
       "Connection: close\r\n\r\nbody", 0);
  cr_assert(strstr(c.resp, "HTTP/1.1 201 Created\r\n"), "%s", c.resp);
  cr_assert(strstr(c.resp, "X-A: b\r\n"));
  cr_assert(strstr(c.resp, "\r\n\r\nhi body"));
  lua("assert(seen.method == 'POST')\n"
      "assert(seen.path == '/a b/c', seen.path)\n"
      "assert(seen.raw_query == 'x=1&y=a+b%2Fc&x=2&flag')\n"
      "assert(seen.query.x == '2', 'a repeated key keeps the last value')\n"
      "assert(seen.query.y == 'a b/c' and seen.query.flag == '')\n"
      "assert(seen.headers['x-multi'] == '1, 2' and seen.headers.host == 't')\n"
      "assert(seen.body == 'body')\n"
      "srv:close()");
}

Test(server, errors_and_dropped_exchanges_answer_500) {
  lua("S = require('summit.c.server')\n"
      "srv = S.listen('127.0.0.1', 0, function(req, x)\n"
      "  if req.path == '/raise' then error('boom') end\n"
      "  -- /drop: neither answered nor kept\n"
      "end)\n"
      "port = srv:port()");
  client c;
  http(&c, lua_int("port"), "GET /raise HTTP/1.1\r\nConnection: close\r\n\r\n", 0);
  cr_assert(strstr(c.resp, "HTTP/1.1 500 "), "%s", c.resp);
  /* The dropped exchange is answered when the collector finds it. */
  lua("dropped_port = port");
  client d;
  memset(&d, 0, sizeof d);
  d.request = "GET /drop HTTP/1.1\r\nConnection: close\r\n\r\n";
  uv_tcp_init(&H.loop, &d.tcp);
  d.tcp.data = d.creq.data = &d;
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", lua_int("port"), &a);
  uv_tcp_connect(&d.creq, &d.tcp, (const struct sockaddr *)&a, c_connected);
  for (int i = 0; i < 100000 && !d.done; i++) {
    uv_run(&H.loop, UV_RUN_NOWAIT);
    lua("collectgarbage()");
  }
  cr_assert(strstr(d.resp, "HTTP/1.1 500 "), "%s", d.resp);
  cr_assert(strstr(d.resp, "did not answer"));
  lua("srv:close()");
}

Test(server, stream_client_leaves_on_close_runs) {
  lua("S = require('summit.c.server')\n"
      "closed, writes_after = 0, nil\n"
      "srv = S.listen('127.0.0.1', 0, function(req, x)\n"
      "  keep = x\n"
      "  assert(x:stream_start(200, { ['Content-Type'] = 'application/json' }))\n"
      "  assert(x:write('first\\n'))\n"
      "  x:on_close(function()\n"
      "    closed = closed + 1\n"
      "    done = true\n"
      "  end)\n"
      "end)\n"
      "port = srv:port()");
  client c;
  http(&c, lua_int("port"), "GET /watch HTTP/1.1\r\nHost: t\r\n\r\n", 60);
  cr_assert(strstr(c.resp, "Transfer-Encoding: chunked"), "%s", c.resp);
  run_until_done();
  lua("assert(closed == 1)\n"
      "assert(not keep:open())\n"
      "assert(keep:write('late') == false, 'writes after on_close are no-ops')\n"
      "keep:finish(); keep:finish()\n"
      "assert(keep:respond(200, {}, 'x') == false)\n"
      "local ran = false\n"
      "keep:on_close(function() ran = true end)\n"
      "assert(ran, 'on_close on a closed exchange runs at once')\n"
      "srv:close()");
}

Test(server, references_are_released) {
  lua("S = require('summit.c.server')\n"
      "weak = setmetatable({}, { __mode = 'k' })\n"
      "do\n"
      "  local h = function(req, x) x:respond(200, {}, 'ok') end\n"
      "  weak[h] = 'handler'\n"
      "  srv = S.listen('127.0.0.1', 0, h)\n"
      "  local f1 = function() fired = (fired or 0) + 1 end\n"
      "  weak[f1] = 'one-shot'\n"
      "  S.timer(1, f1)\n"
      "  local n = 0\n"
      "  local f2\n"
      "  f2 = function() n = n + 1; if n == 3 then rep:stop(); done = true end end\n"
      "  weak[f2] = 'repeating'\n"
      "  rep = S.timer(1, f2, 1)\n"
      "  local f3 = function() error('never') end\n"
      "  weak[f3] = 'stopped'\n"
      "  S.timer(100000, f3):stop()\n"
      "end\n"
      "port = srv:port()");
  client c;
  http(&c, lua_int("port"), "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 0);
  cr_assert(strstr(c.resp, "HTTP/1.1 200 OK"));
  run_until_done();
  lua("srv:close()");
  for (int i = 0; i < 10; i++) uv_run(&H.loop, UV_RUN_NOWAIT);
  lua("rep = nil; srv = nil\n"
      "collectgarbage(); collectgarbage()\n"
      "assert(fired == 1)\n"
      "for f, what in pairs(weak) do error(what .. ' function still referenced') end");
}

/* ---- JSON documents -------------------------------------------------- */

TestSuite(jsondoc, .init = setup, .fini = teardown, .timeout = 30);

Test(jsondoc, nulls_and_empty_arrays_round_trip) {
  lua("local J = require('summit.c.server').json\n"
      "local v = assert(J.decode('{\"a\":null,\"b\":[],\"c\":{},\"d\":[1,{\"e\":[]}]}'))\n"
      "assert(v.a == J.null)\n"
      "assert(J.is_array(v.b) and #v.b == 0 and not J.is_array(v.c))\n"
      "assert(J.encode(v, true) == '{\"a\":null,\"b\":[],\"c\":{},\"d\":[1,{\"e\":[]}]}', J.encode(v, true))\n"
      "assert(J.encode(J.array()) == '[]' and J.encode({}) == '{}')\n"
      "assert(J.encode({z = 1, a = {y = 2, b = 3}}, true) == '{\"a\":{\"b\":3,\"y\":2},\"z\":1}')\n"
      "local bad, err = J.decode('{\"a\":')\n"
      "assert(bad == nil and err:match('invalid JSON'))\n"
      "assert(J.decode('[1] x') == nil, 'trailing data')\n"
      "assert(not pcall(J.encode, { f = print }))");
}

/* ---- the sim's Lua modules ------------------------------------------- */

TestSuite(simlua, .init = setup, .fini = teardown, .timeout = 30);

Test(simlua, strategic_merge_patch) {
  lua("local P = require('summit.sim.patch')\n"
      "local U = require('summit.sim.util')\n"
      "local doc = U.decode([[{\"spec\":{\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxSurge\":1}},\n"
      "  \"finalizers\":[\"a\",\"b\"],\n"
      "  \"containers\":[{\"name\":\"a\",\"env\":[{\"name\":\"X\",\"value\":\"1\"}]},{\"name\":\"b\"}]}}]])\n"
      "local r = assert(P.strategic(doc, U.decode([[{\"spec\":{\n"
      "  \"$retainKeys\":[\"strategy\",\"containers\",\"finalizers\"],\n"
      "  \"strategy\":{\"$retainKeys\":[\"type\"],\"type\":\"Recreate\"},\n"
      "  \"$deleteFromPrimitiveList/finalizers\":[\"a\"],\n"
      "  \"containers\":[{\"name\":\"b\",\"$patch\":\"delete\"},{\"name\":\"a\",\"env\":[{\"$patch\":\"replace\"},{\"name\":\"Y\",\"value\":\"2\"}]}]}}]]), 'Deployment'))\n"
      "assert(U.canonical(r) == U.canonical(U.decode([[{\"spec\":{\"strategy\":{\"type\":\"Recreate\"},\"finalizers\":[\"b\"],\n"
      "  \"containers\":[{\"name\":\"a\",\"env\":[{\"name\":\"Y\",\"value\":\"2\"}]}]}}]])), U.canonical(r))\n"
      "assert(#doc.spec.containers == 2, 'the input is not modified')\n"
      "local j = assert(P.json(U.decode('{\"a\":{\"b\":[1,2]},\"c\":1}'), U.decode(\n"
      "  '[{\"op\":\"move\",\"from\":\"/c\",\"path\":\"/a/d\"},{\"op\":\"copy\",\"from\":\"/a/b\",\"path\":\"/e\"},'..\n"
      "  '{\"op\":\"add\",\"path\":\"/a/b/-\",\"value\":3},{\"op\":\"remove\",\"path\":\"/a/b/0\"},{\"op\":\"add\",\"path\":\"/x~1y\",\"value\":null}]')))\n"
      "assert(U.canonical(j) == '{\"a\":{\"b\":[2,3],\"d\":1},\"e\":[1,2],\"x/y\":null}', U.canonical(j))\n"
      "assert(P.json({}, U.decode('[{\"op\":\"remove\",\"path\":\"/nope\"}]')) == nil)\n"
      "local m = assert(P.merge(U.decode('{\"a\":{\"b\":1,\"c\":2},\"l\":[1]}'), U.decode('{\"a\":{\"b\":null,\"d\":3},\"l\":[]}')))\n"
      "assert(U.canonical(m) == '{\"a\":{\"c\":2,\"d\":3},\"l\":[]}', U.canonical(m))");
}

Test(simlua, field_managers_and_unknown_fields) {
  lua("local A = require('summit.sim.apply')\n"
      "local O = require('summit.sim.openapi')\n"
      "local R = require('summit.sim.resources')\n"
      "local U = require('summit.sim.util')\n"
      "local P = require('summit.sim.patch')\n"
      "local function merge(o, c) return assert(P.strategic(o, c, 'Deployment')) end\n"
      "local function dep(r, img, env)\n"
      "  local c = { name = 'web', image = img, env = env and U.A(env) }\n"
      "  return { apiVersion = 'apps/v1', kind = 'Deployment', metadata = { name = 'web' },\n"
      "           spec = { replicas = r, template = { spec = { containers = U.A({ c }) } } } }\n"
      "end\n"
      "local function managers(obj)\n"
      "  local out = {}\n"
      "  for _, e in ipairs(obj.metadata.managedFields) do out[#out + 1] = e.manager .. '/' .. e.operation end\n"
      "  return table.concat(out, ',')\n"
      "end\n"
      /* a apply creates; b applies the same values: shared, no conflict */
      "local o, mf = A.apply(nil, dep(2, 'v1', { { name = 'X', value = '1' } }), 'a', false, 'apps/v1', merge)\n"
      "o.metadata.managedFields = mf\n"
      "local o2, mf2 = A.apply(o, dep(2, 'v1'), 'b', false, 'apps/v1', merge)\n"
      "assert(o2 and managers({ metadata = { managedFields = mf2 } }) == 'a/Apply,b/Apply')\n"
      /* b changes both: two conflicts with a, in order */
      "local none, conflicts = A.apply(o, dep(3, 'v2'), 'b', false, 'apps/v1', merge)\n"
      "assert(none == nil and #conflicts == 2, U.encode(conflicts or {}))\n"
      "local msg = A.conflict_message(conflicts)\n"
      "assert(msg == 'Apply failed with 2 conflicts: conflicts with \"a\" using apps/v1:\\n'\n"
      "  .. '- .spec.replicas\\n- .spec.template.spec.containers[name=\"web\"].image', msg)\n"
      /* an Update takes the fields it changes from the Apply entry */
      "local scaled = U.copy(o); scaled.spec.replicas = 5\n"
      "scaled.metadata.managedFields = A.record_update(o, scaled, 'kubectl-scale', 'apps/v1')\n"
      "assert(managers(scaled) == 'a/Apply,kubectl-scale/Update', managers(scaled))\n"
      "assert(scaled.metadata.managedFields[1].fieldsV1['f:spec']['f:replicas'] == nil)\n"
      "assert(scaled.metadata.managedFields[2].fieldsV1['f:spec']['f:replicas'])\n"
      /* a drops env from its configuration: the item and the list go */
      "local o3 = A.apply(o, dep(2, 'v1'), 'a', false, 'apps/v1', merge)\n"
      "assert(o3.spec.template.spec.containers[1].env == nil, U.encode(o3))\n"
      "assert(o3.spec.template.spec.containers[1].image == 'v1')\n"
      /* unknown fields, with list indexes; preserve-unknown parts accept anything */
      "local bad = dep(1, 'v1'); bad.spec.replicaz = 1; bad.spec.template.spec.containers[1].imagee = 'x'\n"
      "bad.spec.template.spec.containers[1].resources = { anything = { goes = 1 } }; bad.status = { x = 1 }\n"
      "local errs = O.unknown_fields(R.find('apps', 'deployments'), bad)\n"
      "assert(table.concat(errs, ';') == 'unknown field \"spec.replicaz\";'\n"
      "  .. 'unknown field \"spec.template.spec.containers[0].imagee\"', table.concat(errs, ';'))\n"
      "assert(#O.unknown_fields(R.find('', 'configmaps'), { data = { a = 'b' }, metadata = { labels = { x = 'y' } } }) == 0)");
}

Test(simlua, selectors) {
  lua("local SEL = require('summit.sim.selector')\n"
      "local r = assert(SEL.parse_labels('app=web, tier in (a, b),!gone,track!=green,env'))\n"
      "assert(SEL.match_labels(r, {app='web', tier='b', track='blue', env='x'}))\n"
      "assert(not SEL.match_labels(r, {app='web', tier='c', env='x'}))\n"
      "assert(not SEL.match_labels(r, {app='web', tier='a', env='x', gone='1'}))\n"
      "assert(not SEL.match_labels(r, {app='web', tier='a', track='green', env='x'}))\n"
      "assert(SEL.parse_labels('a in (x') == nil)\n"
      "local f = assert(SEL.parse_fields('involvedObject.name=web,type!=Warning'))\n"
      "assert(SEL.match_fields(f, {involvedObject={name='web'}, type='Normal'}))\n"
      "assert(not SEL.match_fields(f, {involvedObject={name='web'}, type='Warning'}))\n"
      "assert(SEL.label_selector_string({matchLabels={b='2', a='1'}, matchExpressions={{key='k', operator='In', values={'y','x'}}}}) == 'a=1,b=2,k in (x,y)')");
}

Test(simlua, watch_history_expires) {
  lua("local U = require('summit.sim.util')\n"
      "local st = require('summit.sim.store').new{ rng = U.rng(1), history_max = 3 }\n"
      "for i = 1, 5 do st:create('configmaps', {metadata = {name = 'c' .. i, namespace = 'n'}}) end\n"
      "assert(st.rv == 5 and st.compacted_rv == 2)\n"
      "local w, why, compacted = st:watch{ res = 'configmaps', match = function() return true end, since = 1, send = function() end }\n"
      "assert(w == nil and why == 'expired' and compacted == 2)\n"
      "local got = {}\n"
      "w = assert(st:watch{ res = 'configmaps', ns = 'n', match = function(o) return o.metadata.name ~= 'c4' end, since = 2,\n"
      "  send = function(t, o) got[#got + 1] = t .. ' ' .. o.metadata.name end })\n"
      "assert(table.concat(got, ',') == 'ADDED c3,ADDED c5', table.concat(got, ','))\n"
      "local o = U.copy(st:get('configmaps', 'n', 'c5')); o.metadata.labels = {x = '1'}\n"
      "local _, changed = st:update('configmaps', o)\n"
      "assert(changed and got[3] == 'MODIFIED c5')\n"
      "local _, again = st:update('configmaps', U.copy(o))\n"
      "assert(not again and #got == 3, 'an update that changes nothing is no event')\n"
      "st:delete('configmaps', 'n', 'c5')\n"
      "assert(got[4] == 'DELETED c5')\n"
      "st:unwatch(w)\n"
      "st:close()");
}

Test(simlua, exec_and_start_stop) {
  lua("local sim = require('summit.sim')\n"
      "s = sim.start{ name = 't', port = 0, time_scale = 10, scenario = {\n"
      "  deployments = { { name = 'web', namespace = 'ns', image = 'registry/web:v1', replicas = 2 } },\n"
      "  exec = { { match = { 'npx', 'tsx', 'scripts/migrate.ts' }, stdout = 'migrated 3\\n' },\n"
      "           { match = { 'sh', '-c' }, prefix = true, deployment = 'web', stderr = 'no\\n', exit_code = 2 } } } }\n"
      "assert(s.url:match('^http://127%.0%.0%.1:%d+$'), s.url)\n"
      "local r = assert(sim.exec('t', 'ns', 'deployment/web', { 'npx', 'tsx', 'scripts/migrate.ts' }))\n"
      "assert(r.stdout == 'migrated 3\\n' and r.exit_code == 0 and r.pod:match('^web%-'), r.pod)\n"
      "r = assert(s.exec('ns', 'pod/' .. r.pod, { 'sh', '-c', 'exit 2' }))\n"
      "assert(r.exit_code == 2 and r.stderr == 'no\\n')\n"
      "r = assert(sim.exec('t', 'ns', 'deployment/web', { 'ls' }))\n"
      "assert(r.exit_code == 127 and r.stderr:match('command not found'))\n"
      "local none, err = sim.exec('t', 'ns', 'nope', { 'ls' })\n"
      "assert(none == nil and err.code == 'NotFound', tostring(err))\n"
      "none, err = sim.exec('other', 'ns', 'deployment/web', { 'ls' })\n"
      "assert(none == nil and err.code == 'ENOSIM')\n"
      "assert(not pcall(sim.start, { name = 't' }), 'one sim per name')\n"
      "s.stop(); s.stop()\n"
      "assert(sim.get('t') == nil)");
  for (int i = 0; i < 20; i++) uv_run(&H.loop, UV_RUN_NOWAIT);
}

/* Scripted exec commands with state (when/set in the ConfigMap sim-exec)
 * and a delayed answer, in-process; the WebSocket path is exercised by
 * tests/integration/test_migration.sh with kubectl. */
Test(simlua, exec_with_state) {
  lua("local sim = require('summit.sim')\n"
      "local scn = require('summit.sim.scenario')\n"
      "assert(not pcall(scn.new, { exec = { { match = { 'a' }, when = 'x' } } }), 'when must be a table')\n"
      "assert(not pcall(scn.new, { exec = { { match = { 'a' }, delay_seconds = -1 } } }), 'delay >= 0')\n"
      "s = sim.start{ name = 'st', port = 0, time_scale = 10, scenario = {\n"
      "  deployments = { { name = 'web', namespace = 'ns', image = 'registry/web:v1', replicas = 1 } },\n"
      "  exec = { { match = { 'up' }, when = { ['break'] = 'true' }, set = { dirty = 'true' }, exit_code = 1 },\n"
      "           { match = { 'up' }, set = { schema = 42 }, delay_seconds = 5 },\n"
      "           { match = { 'down' }, set = { schema = '41', dirty = false } },\n"
      "           { match = { 'status' }, when = { dirty = 'true' }, exit_code = 1 },\n"
      "           { match = { 'status' }, when = { schema = '42' }, stdout = '42' },\n"
      "           { match = { 'status' }, stdout = 'none' } } } }\n"
      "local function run(a) return assert(sim.exec('st', 'ns', 'deployment/web', { a })) end\n"
      "assert(run('status').stdout == 'none', 'no ConfigMap: every key is absent')\n"
      "local r = run('up')\n"
      "assert(r.exit_code == 0 and r.delay_seconds == 5)\n"
      "assert(run('status').stdout == '42')\n"
      "local cm = s.sim.store:get('configmaps', 'ns', 'sim-exec')\n"
      "assert(cm and cm.data.schema == '42' and cm.metadata.uid, 'the state ConfigMap is created')\n"
      "cm = require('summit.sim.util').copy(cm)\n"
      "cm.data['break'] = 'true'\n"
      "s.sim.store:update('configmaps', cm)\n"
      "assert(run('up').exit_code == 1, 'when: break=true picks the failing entry')\n"
      "assert(run('status').exit_code == 1, 'dirty')\n"
      "run('down')\n"
      "cm = s.sim.store:get('configmaps', 'ns', 'sim-exec')\n"
      "assert(cm.data.schema == '41' and cm.data.dirty == nil, 'set: false removes a key')\n"
      "s.stop()");
  for (int i = 0; i < 20; i++) uv_run(&H.loop, UV_RUN_NOWAIT);
}

/* The sim's code runs without the JIT: the LuaJIT we link has the pairs()
 * bug of LuaJIT issue #827 (a blacklisted pairs() loop is despecialized
 * while it runs and the traversal ends early or yields a bogus key), which
 * made U.copy now and then return a pod without its metadata in the
 * controller's sync. Hot sim code (copies, patches, hashes, the store, the
 * controller's sync over many changes) must start no trace in a
 * summit/sim module, and every copy must be exact. */
Test(simlua, sim_code_runs_without_the_jit) {
  lua("local jutil = require('jit.util')\n"
      "local traced = {}\n"
      "local function on_trace(what, tr, func)\n"
      "  if what ~= 'start' or type(func) ~= 'function' then return end\n"
      "  local src = jutil.funcinfo(func).source or ''\n"
      "  if src:match('^@summit/sim') then traced[#traced + 1] = src .. ':' .. tostring(jutil.funcinfo(func).linedefined) end\n"
      "end\n"
      "jit.attach(on_trace, 'trace')\n"
      "local ok, err = pcall(function()\n"
      "  local U = require('summit.sim.util')\n"
      "  local P = require('summit.sim.patch')\n"
      "  local sim = require('summit.sim')\n"
      "  local s = sim.start{ name = 'nojit', port = 0, time_scale = 1000, scenario = {\n"
      "    bad_images = { 'registry/web:bad*' }, rollout_seconds_per_pod = 1,\n"
      "    deployments = { { name = 'web', namespace = 'ns', image = 'registry/web:v1', replicas = 3 } } } }\n"
      "  local st, ctl = s.sim.store, s.sim.controller\n"
      "  local doc = U.decode('{\"a\":{\"b\":[1,{\"c\":null}],\"d\":{}},\"e\":[],\"f\":\"x\",\"g\":{\"h\":{\"i\":[{\"j\":1}]}}}')\n"
      "  local want = U.canonical(doc)\n"
      "  for i = 1, 400 do\n"
      "    assert(U.canonical(U.copy(doc)) == want, 'an inexact copy')\n"
      "    U.strip_nulls(U.copy(doc))\n"
      "    U.template_hash(doc)\n"
      "    assert(P.strategic(doc, { g = { h = { k = i } } }, 'Deployment'))\n"
      "    if i % 40 == 0 then\n"
      "      local d = U.copy(st:get('deployments', 'ns', 'web'))\n"
      "      d.spec.template.spec.containers[1].image = 'registry/web:' .. (i % 80 == 0 and 'v' or 'bad') .. i\n"
      "      st:update('deployments', d)\n"
      "    end\n"
      "    ctl.busy = true\n"
      "    ctl:sync_all()\n"
      "    for _, p in ipairs(st:list('pods', 'ns')) do\n"
      "      local c = U.copy(p)\n"
      "      assert(c.metadata and c.spec and c.status, 'a pod copied without a field')\n"
      "    end\n"
      "  end\n"
      "  s.stop()\n"
      "end)\n"
      "jit.attach(on_trace)\n"
      "assert(ok, tostring(err))\n"
      "assert(#traced == 0, #traced .. ' traces started in sim code: ' .. table.concat(traced, ', ', 1, math.min(#traced, 8)))");
  for (int i = 0; i < 20; i++) uv_run(&H.loop, UV_RUN_NOWAIT);
}
