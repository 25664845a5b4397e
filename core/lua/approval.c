/* summit.c.approval: approval gates for lua/summit/approval.lua
 * (docs/approvals.md).
 *
 * The Lua side validates the call and builds the request; this side keeps
 * the gate's row in the store, waits, and decides with the policy of
 * engine/approval.c. Waiting polls the approvals table (decisions arrive
 * from `summit approve` in other processes), like the lock wait does. A
 * signed gate's signatures are checked again here with ssh-keygen, on the
 * loop, because the database is not trusted: a decision row written by
 * hand must not open a gate. */
#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/approval.h"
#include "engine/runtime.h"
#include "engine/secrets.h"
#include "engine/testmode.h"
#include "io/proc.h"
#include "lua/audit.h"
#include "lua/bindings.h"

#define POLL_MS 250

static runtime_t *rt_run(lua_State *L) {
  runtime_t *rt = runtime_get(L);
  if (!rt->store || !rt->run_id)
    luaL_error(L, "approval gates work only while the runbook runs");
  return rt;
}

/* info() -> { run, started_by, source_sha256 } of the running run. */
static int l_info(lua_State *L) {
  runtime_t *rt = rt_run(L);
  store_run r;
  if (store_run_get(rt->store, rt->run_id, &r) != STORE_OK)
    return luaL_error(L, "reading run %s: %s", rt->run_id,
                      store_errmsg(rt->store));
  lua_createtable(L, 0, 3);
  lua_pushstring(L, r.id);
  lua_setfield(L, -2, "run");
  lua_pushstring(L, r.started_by ? r.started_by : "");
  lua_setfield(L, -2, "started_by");
  lua_pushstring(L, r.source_sha256 ? r.source_sha256 : "");
  lua_setfield(L, -2, "source_sha256");
  store_run_free(&r);
  return 1;
}

/* abspath(path, base_file) -> the absolute path of path, relative paths
 * being relative to base_file's directory ("~/" is $HOME), and whether it
 * is a readable file. */
static int l_abspath(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  const char *base = luaL_optstring(L, 2, NULL);
  char out[PATH_MAX * 4], cwd[PATH_MAX] = ".";
  if (path[0] == '/') {
    snprintf(out, sizeof out, "%s", path);
  } else if (path[0] == '~' && path[1] == '/') {
    const char *home = getenv("HOME");
    snprintf(out, sizeof out, "%s%s", home ? home : "", path + 1);
  } else {
    char dir[PATH_MAX * 2 + 8] = "";
    if (base && base[0] == '/') {
      snprintf(dir, sizeof dir, "%s", base);
    } else {
      if (!getcwd(cwd, sizeof cwd)) snprintf(cwd, sizeof cwd, ".");
      if (base) snprintf(dir, sizeof dir, "%s/%s", cwd, base);
      else snprintf(dir, sizeof dir, "%s/x", cwd);
    }
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    snprintf(out, sizeof out, "%s/%s", dir, path);
  }
  lua_pushstring(L, out);
  lua_pushboolean(L, access(out, R_OK) == 0);
  return 2;
}

typedef struct {
  const char *key;
  int found;
  int64_t deadline;
} find_wait;

static int find_one(void *ud, const store_wait *w) {
  find_wait *f = ud;
  if (strcmp(w->wait_key, f->key) != 0) return 0;
  f->found = 1;
  f->deadline = w->deadline_ms;
  return 1;
}

/* open(key, attempt, gate, request_json, deadline_ms|nil) -> opened,
 * deadline_ms|nil, needs: makes the gate's row (a resumed run finds its
 * own and keeps it) and records approval.requested when new. The deadline
 * returned is the row's: nil once a "pause" gate went overdue. needs: what
 * the gate needs, in words. */
static int l_open(lua_State *L) {
  runtime_t *rt = rt_run(L);
  store_wait w = {
    .run_id = rt->run_id,
    .wait_key = luaL_checkstring(L, 1),
    .attempt = luaL_checkinteger(L, 2),
    .gate = luaL_checkstring(L, 3),
    .request = luaL_checkstring(L, 4),
    .deadline_ms = (int64_t)luaL_optnumber(L, 5, 0),
    .since_ms = runtime_now_ms(),
  };
  /* A reason or bind built from a secret is stored, shown to approvers
   * and recorded: without the value (docs/secrets.md). The redacted copy
   * lives on the stack, so an error below frees it. */
  size_t rlen, olen;
  const char *req = lua_tolstring(L, 4, &rlen);
  char *red = secrets_redact(req, rlen, &olen);
  if (red) {
    lua_pushlstring(L, red, olen);
    free(red);
    lua_replace(L, 4);
    w.request = lua_tostring(L, 4);
  }
  char err[300], needs[512];
  appr_policy *pol = approval_policy_new(w.request, err, sizeof err);
  if (!pol) return luaL_error(L, "%s", err);
  approval_describe(pol, needs, sizeof needs);
  approval_policy_free(pol);
  int opened = 0;
  if (store_wait_open(rt->store, &w, &opened) != STORE_OK)
    return luaL_error(L, "opening gate '%s': %s", w.gate,
                      store_errmsg(rt->store));
  int64_t deadline = w.deadline_ms;
  if (opened) {
    /* The record names the policy; the approvers map is summit.lua's. */
    cJSON *req = cJSON_Parse(w.request);
    cJSON_DeleteItemFromObject(req, "approvers");
    if (audit_append(rt, NULL, "approval.requested", req) != STORE_OK)
      return luaL_error(L, "recording approval.requested: %s",
                        store_errmsg(rt->store));
  } else {
    find_wait f = {.key = w.wait_key};
    if (store_wait_list(rt->store, rt->run_id, find_one, &f) < 0)
      return luaL_error(L, "reading gate '%s': %s", w.gate,
                        store_errmsg(rt->store));
    deadline = f.deadline;
  }
  lua_pushboolean(L, opened);
  if (deadline) lua_pushnumber(L, (lua_Number)deadline);
  else lua_pushnil(L);
  lua_pushstring(L, needs);
  return 3;
}

/* The table at idx as JSON for an audit record ({} if none). */
static cJSON *detail_of(lua_State *L, int idx) {
  if (lua_isnoneornil(L, idx)) return cJSON_CreateObject();
  char err[256];
  cJSON *j = sl_to_json(L, idx, err, sizeof err);
  if (!j) luaL_error(L, "audit detail: %s", err);
  return j;
}

/* overdue(key, detail): a "pause" gate passed its deadline: it stays open
 * without one; recorded as approval.overdue. */
static int l_overdue(lua_State *L) {
  runtime_t *rt = rt_run(L);
  const char *key = luaL_checkstring(L, 1);
  cJSON *detail = detail_of(L, 2);
  int rc = store_wait_set_deadline(rt->store, rt->run_id, key, 0);
  if (rc == STORE_OK) rc = audit_append(rt, NULL, "approval.overdue", detail);
  else cJSON_Delete(detail);
  if (rc != STORE_OK)
    return luaL_error(L, "recording the overdue gate: %s",
                      store_errmsg(rt->store));
  return 0;
}

/* close(key [, action, detail]): the gate is decided (or abandoned): its
 * row goes, and action is recorded. Not committed here: it shares the
 * commit of the entry's journal row that follows. */
static int l_close(lua_State *L) {
  runtime_t *rt = rt_run(L);
  const char *key = luaL_checkstring(L, 1);
  const char *action = luaL_optstring(L, 2, NULL);
  if (store_wait_close(rt->store, rt->run_id, key) != STORE_OK)
    return luaL_error(L, "closing the gate: %s", store_errmsg(rt->store));
  if (action && audit_append(rt, NULL, action, detail_of(L, 3)) != STORE_OK)
    return luaL_error(L, "recording %s: %s", action, store_errmsg(rt->store));
  return 0;
}

/* ---- waiting ---------------------------------------------------------- */

typedef struct waiter waiter;

typedef struct {
  waiter *w;
  int64_t id, ts_ms;
  char *actor, *decision, *bind, *comment, *signature;
  appr_sig sig;
  char *sig_error;
  proc_t *proc;            /* its signature check, while in flight */
  char sig_path[512];
  int noted;               /* its verdict was logged */
} dec;

struct waiter {
  uv_timer_t timer;
  runtime_t *rt;
  task_t *task;            /* NULL once woken or cancelled */
  appr_policy *pol;
  char *key;
  int64_t attempt, last_id, deadline, scope_deadline;
  dec **d;
  int n, cap;
  int verifying;           /* signature checks in flight */
  int at_gate;             /* counted in testmode.gates (summit test) */
  cJSON *started;          /* wait.started, emitted once the task waits */
  int waited;              /* ... and it was */
  int fresh;               /* decisions arrived since the last judgement */
  proc_t *start_proc;      /* the check of the run's start signature */
  char start_path[512];
  char *starter;           /* the started_by that signature covers */
};

static void dec_free(dec *d) {
  if (!d) return;
  free(d->actor);
  free(d->decision);
  free(d->bind);
  free(d->comment);
  free(d->signature);
  free(d->sig_error);
  free(d);
}

static void waiter_closed(uv_handle_t *h) {
  waiter *w = h->data;
  for (int i = 0; i < w->n; i++) dec_free(w->d[i]);
  free(w->d);
  approval_policy_free(w->pol);
  cJSON_Delete(w->started);
  free(w->starter);
  free(w->key);
  free(w);
}

static void waiter_close(waiter *w) {
  w->task = NULL;
  if (w->at_gate) testmode.gates--;
  w->at_gate = 0;
  for (int i = 0; i < w->n; i++) {
    dec *d = w->d[i];
    if (d->proc) {
      proc_abandon(d->proc);
      d->proc = NULL;
      unlink(d->sig_path);
    }
  }
  if (w->start_proc) {
    proc_abandon(w->start_proc);
    w->start_proc = NULL;
    unlink(w->start_path);
  }
  uv_timer_stop(&w->timer);
  uv_close((uv_handle_t *)&w->timer, waiter_closed);
}

static void waiter_cancel(void *data) { waiter_close(data); }

static int take(void *ud, const store_approval *a) {
  waiter *w = ud;
  if (w->n == w->cap) {
    int cap = w->cap ? w->cap * 2 : 8;
    dec **nd = realloc(w->d, (size_t)cap * sizeof *nd);
    if (!nd) return -1;
    w->d = nd;
    w->cap = cap;
  }
  dec *d = calloc(1, sizeof *d);
  if (!d) return -1;
  d->w = w;
  d->id = a->id;
  d->ts_ms = a->ts_ms;
  d->actor = strdup(a->actor);
  d->decision = strdup(a->decision);
  d->bind = a->bind ? strdup(a->bind) : NULL;
  d->comment = a->comment ? strdup(a->comment) : NULL;
  d->signature = a->signature ? strdup(a->signature) : NULL;
  d->sig = a->signature ? APPR_SIG_UNCHECKED : APPR_SIG_NONE;
  w->d[w->n++] = d;
  if (a->id > w->last_id) w->last_id = a->id;
  w->fresh = 1;
  return 0;
}

static void arm(waiter *w);
static void try_finish(waiter *w);

static void verified(void *ud, const proc_result *r) {
  dec *d = ud;
  waiter *w = d->w;
  d->proc = NULL;
  unlink(d->sig_path);
  if (!r->spawn_error && r->exit_code == 0) {
    d->sig = APPR_SIG_VALID;
  } else {
    d->sig = APPR_SIG_BAD;
    const char *why = r->spawn_error ? uv_strerror(r->spawn_error)
                      : r->err && *r->err ? r->err : "ssh-keygen refused it";
    d->sig_error = strdup(why);
    size_t n = d->sig_error ? strlen(d->sig_error) : 0;
    while (n && (d->sig_error[n - 1] == '\n' || d->sig_error[n - 1] == '\r'))
      d->sig_error[--n] = '\0';
  }
  w->verifying--;
  w->fresh = 1;
  if (w->verifying == 0 && w->task) {
    arm(w);
    try_finish(w);
  }
}

/* Starts ssh-keygen -Y verify for d's signature over the message of its
 * decision, for d's actor, against the request's allowed signers. */
static void verify(waiter *w, dec *d) {
  const cJSON *as = cJSON_GetObjectItemCaseSensitive(approval_request(w->pol),
                                                     "allowed_signers");
  if (!cJSON_IsString(as)) {
    d->sig = APPR_SIG_BAD;
    d->sig_error = strdup("summit.lua names no allowed_signers file");
    return;
  }
  if (!approval_principal_is_name(d->actor)) {
    /* A pattern matches any key listed under it: not an identity. */
    d->sig = APPR_SIG_BAD;
    d->sig_error = strdup("the decision's actor is a pattern, not a name");
    return;
  }
  if (approval_sig_file(d->signature, d->sig_path, sizeof d->sig_path) != 0) {
    d->sig = APPR_SIG_BAD;
    char msg[300];
    snprintf(msg, sizeof msg, "cannot write the signature to a file: %s",
             strerror(errno));
    d->sig_error = strdup(msg);
    return;
  }
  char *msg = approval_message(w->pol, d->decision);
  const char *argv[12];
  approval_verify_argv(argv, as->valuestring, d->actor, d->sig_path);
  proc_opts o = {.argv = argv, .input = msg, .input_len = msg ? strlen(msg) : 0,
                 .timeout_ms = 30000, .log_fd = -1, .capture_cap = 4096};
  d->proc = msg ? proc_start(w->rt->loop, &o, verified, d) : NULL;
  free(msg);
  if (!d->proc) {
    unlink(d->sig_path);
    d->sig = APPR_SIG_BAD;
    d->sig_error = strdup("cannot start ssh-keygen");
    return;
  }
  w->verifying++;
}

static void start_verified(void *ud, const proc_result *r) {
  waiter *w = ud;
  w->start_proc = NULL;
  unlink(w->start_path);
  if (!r->spawn_error && r->exit_code == 0) {
    approval_set_starter(w->pol, APPR_SIG_VALID, w->starter, NULL);
  } else {
    char why[300];
    snprintf(why, sizeof why, "%s", r->spawn_error ? uv_strerror(r->spawn_error)
             : r->err && *r->err ? r->err : "ssh-keygen refused it");
    size_t n = strlen(why);
    while (n && (why[n - 1] == '\n' || why[n - 1] == '\r')) why[--n] = '\0';
    approval_set_starter(w->pol, APPR_SIG_BAD, w->starter, why);
  }
  w->verifying--;
  w->fresh = 1;
  if (w->verifying == 0 && w->task) {
    arm(w);
    try_finish(w);
  }
}

/* A signed gate that forbids self-approval must know who started the run:
 * checks the run's start signature (summit run --sign) again, from the
 * run record, since the database is not trusted. Without one the starter
 * stays unknown (approval_set_starter). */
static void check_start(waiter *w) {
  store_run r;
  if (store_run_get(w->rt->store, w->rt->run_id, &r) != STORE_OK) {
    approval_set_starter(w->pol, APPR_SIG_BAD, NULL,
                         "the run's record cannot be read");
    return;
  }
  const cJSON *as = cJSON_GetObjectItemCaseSensitive(approval_request(w->pol),
                                                     "allowed_signers");
  char *msg = r.start_sig && r.started_by
                  ? approval_start_message(r.id, r.source_sha256, r.params,
                                           r.started_by)
                  : NULL;
  if (!r.start_sig || !r.started_by) {
    /* Unsigned: unknown (the default). */
  } else if (!cJSON_IsString(as)) {
    approval_set_starter(w->pol, APPR_SIG_BAD, r.started_by,
                         "summit.lua names no allowed_signers file");
  } else if (!msg || approval_sig_file(r.start_sig, w->start_path,
                                       sizeof w->start_path) != 0) {
    approval_set_starter(w->pol, APPR_SIG_BAD, r.started_by,
                         "cannot write the start signature to a file");
  } else {
    const char *argv[12];
    approval_start_verify_argv(argv, as->valuestring, r.started_by,
                               w->start_path);
    proc_opts o = {.argv = argv, .input = msg, .input_len = strlen(msg),
                   .timeout_ms = 30000, .log_fd = -1, .capture_cap = 4096};
    w->starter = strdup(r.started_by);
    w->start_proc = w->starter ? proc_start(w->rt->loop, &o, start_verified, w)
                               : NULL;
    if (w->start_proc) {
      w->verifying++;
    } else {
      unlink(w->start_path);
      approval_set_starter(w->pol, APPR_SIG_BAD, r.started_by,
                           "cannot start ssh-keygen");
    }
  }
  free(msg);
  store_run_free(&r);
}

/* Reads the decisions recorded since the last look; starts the signature
 * checks of a signed gate. */
static int load(waiter *w) {
  int from = w->n;
  if (store_approval_list(w->rt->store, w->rt->run_id, w->key, w->attempt,
                          w->last_id, take, w) != STORE_OK)
    return -1;
  if (approval_signed(w->pol))
    for (int i = from; i < w->n; i++)
      if (w->d[i]->signature) verify(w, w->d[i]);
  return 0;
}

static void push_time(lua_State *L, const char *field, int64_t ms) {
  char ts[40];
  events_rfc3339(ms, ts, sizeof ts);
  lua_pushstring(L, ts);
  lua_setfield(L, -2, field);
}

static void set_str(lua_State *L, const char *k, const char *v) {
  if (!v) return;
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

/* Logs, once each, what the judgement j of the n decisions so far says
 * about a decision: a refused one also goes to the audit trail. */
static void note_verdicts(waiter *w, const appr_judgement *j, int n,
                          const appr_outcome *o) {
  const char *gate = approval_gate(w->pol);
  char line[1024];
  for (int i = 0; i < n; i++) {
    dec *d = w->d[i];
    if (d->noted || j[i].verdict == APPR_AFTER) continue;
    d->noted = 1;
    if (j[i].verdict == APPR_REFUSED) {
      /* The CLI refuses these before they are recorded: one that got in
       * anyway (a forged row, a signature that no longer verifies) is
       * worth a record of its own. */
      snprintf(line, sizeof line, "gate '%s': the %s of %s does not count: "
               "%s", gate, d->decision, d->actor, j[i].reason);
      events_log(w->rt->ev, "warn", line);
      cJSON *det = cJSON_CreateObject();
      cJSON_AddStringToObject(det, "gate", gate);
      cJSON_AddStringToObject(det, "key", w->key);
      cJSON_AddNumberToObject(det, "attempt", (double)w->attempt);
      cJSON_AddStringToObject(det, "decision", d->decision);
      cJSON_AddStringToObject(det, "approver", d->actor);
      cJSON_AddStringToObject(det, "by", "run");
      cJSON_AddStringToObject(det, "reason", j[i].reason);
      if (audit_append(w->rt, NULL, "approval.refused", det) != STORE_OK)
        events_log(w->rt->ev, "warn", store_errmsg(w->rt->store));
    } else if (!w->task) {
      /* Judged before any waiting (a resumed run): nothing new to say. */
    } else if (j[i].verdict == APPR_COUNTED && o->state == APPR_WAITING) {
      snprintf(line, sizeof line, "gate '%s': approved by %s (%d of %d); "
               "still needs %s", gate, d->actor, o->have, o->need, o->needs);
      events_log(w->rt->ev, "info", line);
    } else if (j[i].verdict == APPR_DUPLICATE) {
      snprintf(line, sizeof line, "gate '%s': %s", gate, j[i].reason);
      events_log(w->rt->ev, "info", line);
    }
  }
}

/* Pushes the approver table of decision d: actor, comment, ts, signed (when
 * its signature verified) and the roles the policy gives the actor. */
static void push_approver(waiter *w, lua_State *L, const dec *d) {
  lua_createtable(L, 0, 5);
  set_str(L, "actor", d->actor);
  set_str(L, "comment", d->comment);
  push_time(L, "ts", d->ts_ms);
  if (d->sig == APPR_SIG_VALID) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "signed");
  }
  lua_newtable(L);
  const cJSON *it, *roles = approval_roles_of(w->pol, d->actor);
  int r = 0;
  cJSON_ArrayForEach(it, roles) if (cJSON_IsString(it)) {
    lua_pushstring(L, it->valuestring);
    lua_rawseti(L, -2, ++r);
  }
  lua_setfield(L, -2, "roles");
}

/* Pushes the outcome table of a decided gate (o; j judged the n
 * decisions): state, have, need, needs, waited, approvers and, for a
 * rejection, who rejected it. */
static void push_outcome(waiter *w, lua_State *L, const appr_judgement *j,
                         int n, const appr_outcome *o) {
  lua_createtable(L, 0, 8);
  lua_pushstring(L, o->state == APPR_APPROVED   ? "approved"
                    : o->state == APPR_REJECTED ? "rejected"
                                                : "timeout");
  lua_setfield(L, -2, "state");
  lua_pushinteger(L, o->have);
  lua_setfield(L, -2, "have");
  lua_pushinteger(L, o->need);
  lua_setfield(L, -2, "need");
  set_str(L, "needs", o->state == APPR_WAITING ? o->needs : NULL);
  lua_pushboolean(L, w->waited);
  lua_setfield(L, -2, "waited");
  lua_newtable(L);                    /* outcome approvers */
  int k = 0;
  for (int i = 0; i < n && o->state == APPR_APPROVED; i++) {
    if (j[i].verdict != APPR_COUNTED) continue;
    push_approver(w, L, w->d[i]);
    lua_rawseti(L, -2, ++k);          /* approvers[k] = {...} */
  }
  lua_setfield(L, -2, "approvers");
  if (o->state == APPR_REJECTED) {
    dec *d = w->d[o->decided_by];
    set_str(L, "by", d->actor);
    set_str(L, "comment", d->comment);
  }
}

/* Judges what is known; when the gate is decided (or its deadline has
 * passed) pushes the outcome table onto L and returns 1. */
static int decide(waiter *w, lua_State *L) {
  int n = w->n;
  appr_decision *ad = calloc((size_t)n + 1, sizeof *ad);
  appr_judgement *j = calloc((size_t)n + 1, sizeof *j);
  if (!ad || !j) {
    free(ad);
    free(j);
    return 0;
  }
  for (int i = 0; i < n; i++) {
    dec *d = w->d[i];
    ad[i] = (appr_decision){.actor = d->actor, .decision = d->decision,
                            .bind = d->bind, .comment = d->comment,
                            .ts_ms = d->ts_ms, .sig = d->sig,
                            .sig_error = d->sig_error};
  }
  appr_outcome o;
  approval_judge(w->pol, ad, n, j, &o);
  w->fresh = 0;
  note_verdicts(w, j, n, &o);
  int64_t now = runtime_now_ms();
  int done = o.state != APPR_WAITING || (w->deadline && now >= w->deadline);
  if (done) push_outcome(w, L, j, n, &o);
  free(ad);
  free(j);
  return done;
}

/* Wakes the task if the gate is decided. */
static void try_finish(waiter *w) {
  task_t *t = w->task;
  if (!t || w->verifying) return;
  if (!decide(w, task_thread(t))) return;
  waiter_close(w);
  sched_wake(t, 1);
}

/* Registers the task's wait: active while signatures are being checked
 * (the run must not suspend with a process in flight), durable otherwise,
 * waking at the deadline (0: none). */
static void arm(waiter *w) {
  if (!w->verifying && w->started) {
    events_emit(w->rt->ev, "wait.started", w->started);
    cJSON_Delete(w->started);
    w->started = NULL;
    w->waited = 1;
  }
  /* summit test suspends a run whose tasks all wait, one of them here. */
  if (!w->verifying && !w->at_gate) testmode.gates++;
  else if (w->verifying && w->at_gate) testmode.gates--;
  w->at_gate = !w->verifying;
  task_wait(w->task, w->verifying ? WAIT_ACTIVE : WAIT_DURABLE, waiter_cancel,
            w, w->deadline);
  task_deadline(w->task, w->scope_deadline);
}

static void poll_cb(uv_timer_t *tm) {
  waiter *w = tm->data;
  if (!w->task || w->verifying) return;
  if (load(w) != 0) {
    events_log(w->rt->ev, "warn", store_errmsg(w->rt->store));
    return;
  }
  if (w->verifying) {
    arm(w);
    return;
  }
  if (w->fresh || (w->deadline && runtime_now_ms() >= w->deadline))
    try_finish(w);
}

/* wait(key, request_json, deadline_ms|nil, scope_deadline_ms|nil,
 * started|nil) -> outcome: waits until the gate is decided or its deadline
 * passes. started: the fields of the wait.started event, emitted only if
 * the task has to wait (a gate already decided asks nobody).
 * outcome = { state = "approved"|"rejected"|"timeout", have, need, needs,
 * approvers = { {actor, comment, ts, roles, signed}... }, by, comment,
 * waited }.
 * Returns nil, code, message when the wait is interrupted (cancel, an
 * enclosing step's timeout). */
static int l_wait(lua_State *L) {
  runtime_t *rt = rt_run(L);
  const char *key = luaL_checkstring(L, 1);
  const char *request = luaL_checkstring(L, 2);
  int64_t deadline = (int64_t)luaL_optnumber(L, 3, 0);
  int64_t scope_deadline = (int64_t)luaL_optnumber(L, 4, 0);
  task_t *t = sl_current_task(L, "approval.require can only wait inside a "
                                 "running runbook");
  char err[300];
  appr_policy *pol = approval_policy_new(request, err, sizeof err);
  if (!pol) return luaL_error(L, "%s", err);
  const cJSON *att = cJSON_GetObjectItemCaseSensitive(approval_request(pol),
                                                      "attempt");
  waiter *w = calloc(1, sizeof *w);
  if (!w || !(w->key = strdup(key))) {
    free(w);
    approval_policy_free(pol);
    return luaL_error(L, "out of memory");
  }
  w->rt = rt;
  w->pol = pol;
  w->attempt = cJSON_IsNumber(att) ? (int64_t)att->valuedouble : 1;
  w->deadline = deadline;
  w->scope_deadline = scope_deadline;
  if (lua_istable(L, 5)) {
    char cerr[256];
    w->started = sl_to_json(L, 5, cerr, sizeof cerr);
  }
  uv_timer_init(rt->loop, &w->timer);
  w->timer.data = w;
  if (approval_signed(pol) && !approval_allow_self(pol)) check_start(w);
  if (load(w) != 0) {
    char msg[1100];
    snprintf(msg, sizeof msg, "reading the approvals of gate '%s': %s",
             approval_gate(pol), store_errmsg(rt->store));
    waiter_close(w);
    return luaL_error(L, "%s", msg);
  }
  if (!w->verifying && decide(w, L)) {
    waiter_close(w);
    return 1;
  }
  w->task = t;
  uv_update_time(rt->loop);
  uv_timer_start(&w->timer, poll_cb, POLL_MS, POLL_MS);
  arm(w);
  lua_settop(L, 0);
  return lua_yield(L, 0);
}

static const luaL_Reg funcs[] = {
  {"info", l_info},
  {"abspath", l_abspath},
  {"open", l_open},
  {"wait", l_wait},
  {"overdue", l_overdue},
  {"close", l_close},
  {NULL, NULL}
};

int luaopen_summit_c_approval(lua_State *L) {
  lua_newtable(L);
  luaL_register(L, NULL, funcs);
  return 1;
}
