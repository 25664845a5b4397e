/* summit.c.journal: the run's journal for the engine's Lua (engine.lua).
 *
 * Results are encoded to JSON here, in C, so a step result costs one
 * conversion and one prepared INSERT. Every text of a row (arguments,
 * results, errors, notes) and its arguments' hash pass through
 * engine/secrets.c first: secret values never reach the journal
 * (docs/secrets.md). */
#include <lauxlib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "engine/keys.h"
#include "io/sha256.h"
#include "engine/runtime.h"
#include "engine/secrets.h"
#include "engine/testmode.h"
#include "lua/audit.h"
#include "lua/bindings.h"

static runtime_t *rt_store(lua_State *L) {
  runtime_t *rt = runtime_get(L);
  if (!rt->store || !rt->run_id)
    luaL_error(L, "steps and other journaled calls run only while the "
                  "runbook runs (inside run = function(p) ... end), not "
                  "at the top level of the file");
  return rt;
}

static void set_str(lua_State *L, const char *k, const char *v) {
  if (!v) return;
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

static int load_row(void *ud, const store_entry *e) {
  lua_State *L = ud;
  testmode.records++;   /* summit test's kill_at counts the run's records */
  lua_getfield(L, -1, e->key);          /* entries entries[key] */
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_createtable(L, 0, 10);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, e->key);        /* entries[key] = row */
  }
  /* Later rows of a key override its state; fields they lack (a completed
   * row has no args) keep the values of earlier rows. nocall: no started
   * row of the key was kept, so the journal does not know the call's
   * arguments (a failure recorded after the transaction that held its
   * started row was lost with the database connection). */
  int started = !strcmp(e->state, "started");
  lua_getfield(L, -1, "state");         /* nil: the key's first row */
  int first = lua_isnil(L, -1);
  lua_pop(L, 1);
  if (first || started) {
    lua_pushboolean(L, !started);
    lua_setfield(L, -2, "nocall");
  }
  set_str(L, "state", e->state);
  lua_pushnumber(L, (lua_Number)e->id);
  lua_setfield(L, -2, "seq");
  lua_pushinteger(L, (lua_Integer)e->attempt);
  lua_setfield(L, -2, "attempt");
  set_str(L, "kind", e->kind);
  set_str(L, "name", e->name);
  set_str(L, "hash", e->args_hash);
  set_str(L, "args", e->args);
  set_str(L, "result", e->result);
  set_str(L, "error", e->error);
  set_str(L, "site", e->site);
  lua_pop(L, 1);
  return 0;
}

/* load() -> { [key] = {state, seq, attempt, kind, name, hash, args,
 * result, error, site} }: the newest state of every entry of the run (seq
 * is the id of that newest row). */
static int l_load(lua_State *L) {
  runtime_t *rt = rt_store(L);
  lua_newtable(L);
  testmode.records = 0;
  if (store_journal_each(rt->store, rt->run_id, load_row, L) != STORE_OK)
    return luaL_error(L, "reading the journal: %s", store_errmsg(rt->store));
  return 1;
}

/* Entries whose outcomes go to the audit trail: steps and effects (exec,
 * http, cluster, git, ...), not reads of the clock or of randomness,
 * sleeps, scopes, nor what writes records of its own (docs/audit.md). */
static int audited(const char *kind) {
  static const char *const NOT[] = {"now", "random", "sleep", "parallel",
                                    "lock", "audit", "approval", NULL};
  for (int i = 0; NOT[i]; i++)
    if (!strcmp(kind, NOT[i])) return 0;
  return 1;
}

/* "<kind>.<outcome>" for entry e, in the transaction of e's row: kind,
 * name, key, attempt, and for a failure the error's code and message
 * (the table at err, or nothing) -- never args or results. */
static void audit_outcome(lua_State *L, runtime_t *rt, const store_entry *e,
                          const char *outcome, int err) {
  if (!audited(e->kind)) return;
  char action[160];
  snprintf(action, sizeof action, "%s.%s", e->kind, outcome);
  cJSON *d = audit_entry_detail(e->kind, e->name, e->key,
                                (long long)e->attempt, outcome);
  if (err) {
    const char *code = NULL, *msg = NULL;
    if (lua_istable(L, err)) {
      lua_getfield(L, err, "code");
      lua_getfield(L, err, "message");
      code = lua_tostring(L, -2);
      msg = lua_tostring(L, -1);
    }
    audit_add_error(d, code, msg);
    if (lua_istable(L, err)) lua_pop(L, 2);
  }
  if (e->note) cJSON_AddStringToObject(d, "note", e->note);
  if (audit_append(rt, NULL, action, d) != STORE_OK)
    luaL_error(L, "writing the audit trail: %s", store_errmsg(rt->store));
}

static int append(lua_State *L, store_entry *e, int durable) {
  runtime_t *rt = rt_store(L);
  e->ts_ms = runtime_now_ms();
  if (store_journal_append(rt->store, rt->run_id, e, durable) != STORE_OK)
    return luaL_error(L, "writing the journal: %s", store_errmsg(rt->store));
  return 0;
}

/* summit test's kill (engine/testmode.h): once the record just written is
 * number kill_at, it is committed and the run stops here as if SIGKILLed:
 * the calling task never resumes and nothing after it runs. */
static int killed_here(lua_State *L, runtime_t *rt) {
  if (!testmode_record_written()) return 0;
  store_flush(rt->store);
  testmode.killed = 1;
  sched_stop(rt->sched);
  task_wait(sl_current_task(L, "journal"), WAIT_TASKS, NULL, NULL, 0);
  return 1;
}

static const char *redacted(lua_State *L, int idx);

static void head(lua_State *L, store_entry *e) {
  e->key = luaL_checkstring(L, 1);
  e->attempt = luaL_checkinteger(L, 2);
  e->kind = luaL_checkstring(L, 3);
  e->name = redacted(L, 4);   /* a step named after a secret */
}

/* A redacted copy of the string at idx (nil: NULL), kept on the stack
 * so that an error raised later frees it. */
static const char *redacted(lua_State *L, int idx) {
  size_t len, out;
  const char *s = luaL_optlstring(L, idx, NULL, &len);
  char *r = s ? secrets_redact(s, len, &out) : NULL;
  if (!r) return s;
  lua_pushlstring(L, r, out);
  free(r);
  lua_replace(L, idx);
  return lua_tostring(L, idx);
}

/* Makes everything written so far durable before the caller goes on.
 * When other tasks are ready in this loop turn (the branches of a
 * parallel) the calling task waits instead for the commit the scheduler
 * makes once they have all run (sched.h): one fsync for the rows of
 * every entry that starts together (DESIGN §10, group commit). Returns
 * as the primitive's results: nothing, or nil, code, message when the
 * wait was interrupted (a cancel) -- the rows are committed regardless. */
static int group_commit(lua_State *L) {
  runtime_t *rt = rt_store(L);
  task_t *t = rt->sched ? sched_current(rt->sched) : NULL;
  /* Not from where a yield cannot cross (a step called from a sort
   * comparator or a gsub callback): that one commits on its own. */
  if (t && task_thread(t) == L && sched_others_ready(rt->sched) &&
      lua_isyieldable(L)) {
    task_wait(t, WAIT_COMMIT, NULL, NULL, 0);
    lua_settop(L, 0);
    return lua_yield(L, 0);
  }
  if (store_flush(rt->store) != STORE_OK)
    return luaL_error(L, "writing the journal: %s", store_errmsg(rt->store));
  return 0;
}

/* start(key, attempt, kind, name, hash, args, site, note, durable): with
 * durable, the row is committed (with every task starting in this turn)
 * before start returns; see group_commit for what it returns. */
static int l_start(lua_State *L) {
  store_entry e = {.state = "started"};
  lua_settop(L, 9);
  head(L, &e);
  e.args_hash = luaL_optstring(L, 5, NULL);
  e.args = redacted(L, 6);
  e.site = luaL_optstring(L, 7, NULL);
  e.note = redacted(L, 8);
  append(L, &e, 0);
  if (killed_here(L, rt_store(L))) return lua_yield(L, 0);
  return lua_toboolean(L, 9) ? group_commit(L) : 0;
}

/* sync(): commits what is written (group_commit). */
static int l_sync(lua_State *L) { return group_commit(L); }

/* commits() -> how many commits the run's store connection has made:
 * a step asks whether its rows were committed while it ran. */
static int l_commits(lua_State *L) {
  lua_pushnumber(L, (lua_Number)store_commits(rt_store(L)->store));
  return 1;
}

/* complete(key, attempt, kind, name, results, first, last) -> the row's
 * sequence number (orders completions) and the results as stored, or
 * nil and what cannot be serialised (nothing is written then). The
 * results are results[first..last], stored as a JSON array. */
static int l_complete(lua_State *L) {
  store_entry e = {.state = "completed"};
  head(L, &e);
  luaL_checktype(L, 5, LUA_TTABLE);
  int first = luaL_checkint(L, 6), last = luaL_checkint(L, 7);
  char err[512];
  cJSON *arr = cJSON_CreateArray();
  for (int i = first; i <= last; i++) {
    lua_rawgeti(L, 5, i);
    cJSON *v = sl_to_json(L, -1, err, sizeof err);
    lua_pop(L, 1);
    if (!v) {
      cJSON_Delete(arr);
      lua_pushnil(L);
      lua_pushfstring(L, "%s (result %d)", err, i - first + 1);
      return 2;
    }
    cJSON_AddItemToArray(arr, v);
  }
  secrets_redact_json(arr);
  char *text = cJSON_PrintUnformatted(arr);
  if (!text) {
    cJSON_Delete(arr);
    return luaL_error(L, "out of memory");
  }
  e.result = text;
  runtime_t *rt = rt_store(L);
  e.ts_ms = runtime_now_ms();
  int rc = store_journal_append(rt->store, rt->run_id, &e, 0);
  free(text);
  if (rc != STORE_OK) {
    cJSON_Delete(arr);
    return luaL_error(L, "writing the journal: %s", store_errmsg(rt->store));
  }
  if (killed_here(L, rt)) {
    cJSON_Delete(arr);
    return lua_yield(L, 0);
  }
  /* The caller gets what the journal holds, so a first run and a replay
   * see the same values (no holes, no metatables, string keys). */
  int n = cJSON_GetArraySize(arr);
  luaL_checkstack(L, n + 1, "too many results");
  lua_pushnumber(L, (lua_Number)store_last_id(rt->store));
  for (const cJSON *v = arr->child; v; v = v->next) sl_push_json(L, v);
  cJSON_Delete(arr);
  /* After arr is freed: an error raised here leaks nothing. */
  audit_outcome(L, rt, &e, "completed", 0);
  return n + 1;
}

/* fail(key, attempt, kind, name, error): the error as JSON (a table that
 * cannot be encoded is stored as its tostring). */
static int l_fail(lua_State *L) {
  store_entry e = {.state = "failed"};
  head(L, &e);
  char err[256];
  cJSON *tree = sl_to_json(L, 5, err, sizeof err);
  char *text = NULL;
  if (tree) {
    secrets_redact_json(tree);
    text = cJSON_PrintUnformatted(tree);
    cJSON_Delete(tree);
  }
  if (!text) {
    lua_getglobal(L, "tostring");
    lua_pushvalue(L, 5);
    lua_call(L, 1, 1);
    cJSON *s = cJSON_CreateString(lua_tostring(L, -1));
    secrets_redact_json(s);
    text = cJSON_PrintUnformatted(s);
    cJSON_Delete(s);
    lua_pop(L, 1);
  }
  e.error = text;
  runtime_t *rt = rt_store(L);
  e.ts_ms = runtime_now_ms();
  int rc = store_journal_append(rt->store, rt->run_id, &e, 0);
  free(text);
  if (rc != STORE_OK)
    return luaL_error(L, "writing the journal: %s", store_errmsg(rt->store));
  if (killed_here(L, rt)) return lua_yield(L, 0);
  audit_outcome(L, rt, &e, "failed", 5);
  return 0;
}

/* sm_sha256(text) -> 64 hex digits: what the journal keeps of a secret
 * output. */
static int l_sha256(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  unsigned char md[32];
  char hex[65];
  sm_sha256(s, len, md);
  sha256_hex(md, hex);
  lua_pushlstring(L, hex, 64);
  return 1;
}

/* skip(key, attempt, kind, name, note): an operator skipped the entry. */
static int l_skip(lua_State *L) {
  store_entry e = {.state = "skipped", .result = "[]"};
  head(L, &e);
  e.note = luaL_optstring(L, 5, NULL);
  runtime_t *rt = rt_store(L);
  /* The record rides the skipped row's commit. */
  e.ts_ms = runtime_now_ms();
  if (store_journal_append(rt->store, rt->run_id, &e, 0) != STORE_OK)
    return luaL_error(L, "writing the journal: %s", store_errmsg(rt->store));
  audit_outcome(L, rt, &e, "skipped", 0);
  if (store_flush(rt->store) != STORE_OK)
    return luaL_error(L, "writing the journal: %s", store_errmsg(rt->store));
  return 0;
}

/* results(text) -> the values of a stored JSON array, unpacked. */
static int l_results(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  cJSON *j = cJSON_ParseWithLength(s, len);
  if (!cJSON_IsArray(j)) {
    cJSON_Delete(j);
    return luaL_error(L, "corrupt journal result: %s", s);
  }
  int n = cJSON_GetArraySize(j);
  luaL_checkstack(L, n, "too many results");
  for (const cJSON *e = j->child; e; e = e->next) sl_push_json(L, e);
  cJSON_Delete(j);
  return n;
}

/* hash(text) -> 16 hex digits (FNV-1a 64): compares a call's arguments
 * with the journal's without storing them twice. */
static int l_hash(lua_State *L) {
  size_t len;
  luaL_checkstring(L, 1);
  /* Of the redacted text: a secret given again with another value on a
   * resume is the same call, and the hash says nothing of the value. */
  const unsigned char *s = (const unsigned char *)redacted(L, 1);
  lua_tolstring(L, 1, &len);
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < len; i++) {
    h ^= s[i];
    h *= 0x100000001b3ULL;
  }
  char hex[17];
  snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
  lua_pushstring(L, hex);
  return 1;
}

/* child(prefix, n) -> the key of the n-th entry under prefix. */
static int l_child(lua_State *L) {
  char buf[1024];
  const char *prefix = luaL_checkstring(L, 1);
  if (key_child(buf, sizeof buf, prefix, (long)luaL_checkinteger(L, 2)) < 0)
    return luaL_error(L, "journal key too long under '%s'", prefix);
  lua_pushstring(L, buf);
  return 1;
}

/* branch(key, name) -> the prefix of a parallel branch, or nil if the name
 * cannot be part of a key. */
static int l_branch(lua_State *L) {
  char buf[1024];
  if (key_branch(buf, sizeof buf, luaL_checkstring(L, 1),
                 luaL_checkstring(L, 2)) < 0)
    return 0;
  lua_pushstring(L, buf);
  return 1;
}

static void push_key(void *ud, const char *k) {
  lua_State *L = ud;
  lua_pushstring(L, k);
  lua_rawseti(L, -2, (int)lua_objlen(L, -2) + 1);
}

/* ancestors(key) -> { outermost, ..., key }, or nil if malformed. */
static int l_ancestors(lua_State *L) {
  const char *key = luaL_checkstring(L, 1);
  lua_newtable(L);
  if (key_ancestors(key, push_key, L) < 0) return 0;
  return 1;
}

/* split(key) -> prefix, n */
static int l_split(lua_State *L) {
  const char *key = luaL_checkstring(L, 1);
  char prefix[1024];
  long n;
  if (key_split(key, prefix, sizeof prefix, &n) < 0) return 0;
  lua_pushstring(L, prefix);
  lua_pushinteger(L, n);
  return 2;
}

static const luaL_Reg funcs[] = {
  {"child", l_child},     {"branch", l_branch}, {"ancestors", l_ancestors},
  {"split", l_split},
  {"load", l_load},       {"start", l_start}, {"complete", l_complete},
  {"fail", l_fail},       {"skip", l_skip},   {"results", l_results},
  {"hash", l_hash},       {"sha256", l_sha256},   {"sync", l_sync},
  {"commits", l_commits},
  {NULL, NULL}
};

int luaopen_summit_c_journal(lua_State *L) {
  lua_newtable(L);
  luaL_register(L, NULL, funcs);
  return 1;
}
