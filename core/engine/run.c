/* The run lifecycle's commands (see engine.h): summit run, resume and
 * validate. Each makes its context (runctx.h), loads the configuration,
 * the runbook and its params through one protected entry (loader.h),
 * takes the run's lease and environment locks, then executes it
 * (execute.h), whose outcome is recorded in outcome.c. summit cancel is
 * cancel.c. */
#include "engine/engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/approval.h"
#include "engine/envlocks.h"
#include "engine/execute.h"
#include "engine/loader.h"
#include "engine/params.h"
#include "engine/pins.h"
#include "engine/report.h"
#include "engine/runctx.h"
#include "engine/start_sig.h"
#include "engine/worktree.h"
#include "io/file.h"
#include "lua/audit.h"
#include "lua/bindings.h"

/* Adds key = value to o, when there is a value. */
static void add_string(cJSON *o, const char *key, const char *value) {
  if (value) cJSON_AddStringToObject(o, key, value);
}

static void emit_started(ctx_t *c, const char *event, cJSON *f) {
  events_emit(&c->ev, event, f);
  cJSON_Delete(f);
}

/* ---- summit run ---------------------------------------------------- */

/* A new run while it starts. The strings are malloc'd (freed by
 * new_run_free). */
typedef struct {
  ctx_t *c;
  const engine_opts *o;
  char *src;
  size_t len;
  char id[16], sha[65];
  char *params_json, *start_sig, *name, *version;
} new_run_t;

static void new_run_free(new_run_t *s) {
  free(s->src);
  free(s->params_json);
  free(s->start_sig);
  free(s->name);
  free(s->version);
}

/* summit run --sign KEY: the start signed by the person it claims, checked
 * against summit.lua's allowed_signers before anything is recorded. Sets
 * s->start_sig; EXIT_USAGE after saying why not. */
static int sign_start(lua_State *L, new_run_t *s) {
  const engine_opts *o = s->o;
  loader_require(L, "summit.approval");
  lua_getfield(L, -1, "signers");
  lua_remove(L, -2);
  lua_call(L, 0, 2);                         /* path|nil why */
  if (lua_isnil(L, -2)) {
    engine_errf("--sign: %s", lua_tostring(L, -1));
    lua_pop(L, 2);
    return EXIT_USAGE;
  }
  char allowed[4200], why[1200] = "";
  snprintf(allowed, sizeof allowed, "%s", lua_tostring(L, -2));
  lua_pop(L, 2);
  char *msg = approval_start_message(s->id, s->sha, s->params_json, o->user);
  s->start_sig = msg ? start_sig_make(&s->c->loop, o->sign_key, allowed,
                                      o->user, msg, why, sizeof why)
                     : NULL;
  free(msg);
  if (!s->start_sig) {
    engine_errf("--sign %s: %s", o->sign_key, why);
    return EXIT_USAGE;
  }
  return 0;
}

static char *field_dup(lua_State *L, int idx, const char *key) {
  lua_getfield(L, idx, key);
  char *v = lua_isstring(L, -1) ? strdup(lua_tostring(L, -1)) : NULL;
  lua_pop(L, 1);
  return v;
}

/* summit submit: a secret param given with -p is never stored, so no
 * worker could read it again (docs/workers.md). def at idx. EXIT_USAGE
 * naming the first one, or 0. */
static int submit_secret_given(lua_State *L, int def, const engine_opts *o) {
  for (const char *const *kv = o->params; kv && *kv; kv++) {
    const char *eq = strchr(*kv, '=');
    if (!eq) continue;
    lua_getfield(L, def, "params");
    lua_pushlstring(L, *kv, (size_t)(eq - *kv));
    lua_gettable(L, -2);
    int secret = 0;
    if (lua_istable(L, -1)) {
      lua_getfield(L, -1, "secret");
      secret = lua_toboolean(L, -1);
      lua_pop(L, 1);
    }
    lua_pop(L, 2);
    if (secret) {
      engine_errf("-p %.*s: a secret param given with -p is never stored, "
                  "so no worker could read it; give it to the workers "
                  "through the param's env or file (docs/workers.md)",
                  (int)(eq - *kv), *kv);
      return EXIT_USAGE;
    }
  }
  return 0;
}

/* Protected step: the configuration, the runbook and its params (left on
 * the stack: def params), its environments checked, the store opened, the
 * params sealed and the start signed; nothing is recorded yet. */
static int prepare_run(lua_State *L, void *ud) {
  new_run_t *s = ud;
  const engine_opts *o = s->o;
  int code = loader_config(&s->c->rt, o->config_path, o->env);
  if (!code) code = loader_runbook(L, o->file, s->src, s->len, 0);
  if (!code && o->submit) code = submit_secret_given(L, lua_gettop(L), o);
  if (!code) code = params_resolve(L, lua_gettop(L), o);
  if (!code) {
    /* An environment declaration that cannot be met is a usage error
     * found before any run is recorded. */
    code = envlocks_names(L, o->env);
    lua_pop(L, 2);
  }
  if (!code) code = ctx_open_store(s->c, o, 1);
  if (code) return code;
  engine_new_run_id(s->id);
  pins_sha256_hex(s->src, s->len, s->sha);
  if (!(s->params_json = params_seal(L, 1, 2))) return EXIT_USAGE;
  if (o->sign_key && (code = sign_start(L, s))) return code;
  s->name = field_dup(L, 1, "name");
  s->version = field_dup(L, 1, "version");
  return 0;
}

/* The run's row, committed with its run.started record (run.queued for
 * summit submit: the row has no owner until a worker takes it). */
static int record_run(new_run_t *s, int64_t t0) {
  ctx_t *c = s->c;
  const engine_opts *o = s->o;
  store_run r = {
    .id = s->id, .name = s->name, .version = s->version,
    .source_path = (char *)o->file, .source_sha256 = s->sha,
    .source = s->src, .params = s->params_json, .env = (char *)o->env,
    .status = "running", .started_by = (char *)o->user,
    .rerun_of = (char *)o->rerun_of, .created_ms = t0, .updated_ms = t0,
    .config_path = (char *)o->config_path,
    /* A new run is ours from its first row: no lease round trip. */
    .owner_pid = getpid(), .owner_host = c->host, .heartbeat_ms = t0,
    .lease_expires_ms = t0 + c->ttl_ms, .start_sig = s->start_sig,
  };
  if (o->submit) {
    r.status = "queued";
    r.run_on = (char *)o->run_on;
    r.owner_pid = r.heartbeat_ms = r.lease_expires_ms = 0;
    r.owner_host = NULL;
  }
  /* run.started is committed with the run's row and its pinned modules
   * (store_run_create joins the transaction the record opened; the
   * store_flush below commits all three). Params are left out: they may
   * hold secrets that no key name gives away. */
  cJSON *ad = cJSON_CreateObject();
  cJSON_AddStringToObject(ad, "runbook", r.name);
  add_string(ad, "version", r.version);
  cJSON_AddStringToObject(ad, "file", o->file);
  cJSON_AddStringToObject(ad, "sha256", s->sha);
  add_string(ad, "env", o->env);
  add_string(ad, "rerun_of", o->rerun_of);
  add_string(ad, "schedule", o->schedule);
  /* The starter a signed gate may trust (the actor is the claim). */
  add_string(ad, "signed_by", s->start_sig ? o->user : NULL);
  if (o->submit)
    cJSON_AddItemToObject(ad, "on", o->run_on ? cJSON_Parse(o->run_on)
                                              : cJSON_CreateObject());
  ctx_audit(c, s->id, o->submit ? "run.queued" : "run.started", ad);
  if (store_run_create(c->rt.store, &r) != STORE_OK) {
    engine_errf("%s", store_errmsg(c->rt.store));
    return EXIT_FAILED;
  }
  c->rt.run_id = s->id;
  c->ev.run_id = s->id;
  /* The modules the runbook required while loading, with the row. */
  if (pins_commit(&c->rt) != STORE_OK || store_flush(c->rt.store) != STORE_OK) {
    engine_errf("%s", store_errmsg(c->rt.store));
    return EXIT_FAILED;
  }
  return 0;
}

/* Protected step (stack: def params, kept): the environment locks. */
static int take_locks(lua_State *L, void *ud) {
  new_run_t *s = ud;
  (void)L;
  return envlocks_take(s->c, s->o, s->id, s->o->env);
}

/* After the row exists: the schedule's fire claimed and the environment
 * locks taken; a run that gets neither is kept as never started. */
static int claim_start(new_run_t *s) {
  ctx_t *c = s->c;
  /* A schedule's fire has one run (the store's unique index says so even
   * if two daemons raced); a second one stops here, as never started. */
  if (s->o->schedule &&
      store_schedule_run_started(c->rt.store, s->o->schedule,
                                 s->o->fire_ms, s->id) != STORE_OK) {
    engine_errf("%s", store_errmsg(c->rt.store));
    ctx_never_started(c, s->id, "the fire already has a run");
    return EXIT_BUSY;
  }
  int code = loader_protect(c->rt.L, take_locks, s, 2);
  if (code)
    ctx_never_started(c, s->id, "an environment it needs is locked by "
                                "another run");
  return code;
}

int engine_run(const engine_opts *o) {
  ctx_t c;
  int64_t t0 = runtime_now_ms();
  int code = ctx_open(&c, o, 1);
  if (code) return code;
  new_run_t s = {.c = &c, .o = o};
  /* A rerun brings the pinned text; file then only names it. */
  s.src = o->source ? strdup(o->source) : io_read_file(o->file, &s.len);
  if (!s.src) {
    engine_errf("cannot read runbook %s: %s", o->file, strerror(errno));
    ctx_free(&c);
    return EXIT_USAGE;
  }
  if (o->source) s.len = strlen(s.src);
  worktree_t *wt = o->source ? NULL : worktree_probe(&c.loop, o->file);
  pins_start(&c.rt);
  code = loader_protect(c.rt.L, prepare_run, &s, 0);
  if (!code) code = record_run(&s, t0);
  if (code) goto done;
  worktree_bind(wt, c.rt.store, s.id);
  wt = NULL;
  if (o->submit) {
    /* Queued: a worker takes it from here (docs/workers.md). */
    printf("%s\n", s.id);
    goto done;
  }
  if ((code = claim_start(&s))) goto done;
  ctx_open_log(&c, o, s.id);
  cJSON *f = cJSON_CreateObject();
  cJSON_AddStringToObject(f, "runbook", s.name);
  add_string(f, "version", s.version);
  cJSON_AddStringToObject(f, "file", o->file);
  emit_started(&c, "run.started", f);
  code = execute_run(&c, o, NULL, t0);
done:
  worktree_drop(wt);
  new_run_free(&s);
  ctx_free(&c);
  return code;
}

/* ---- summit resume --------------------------------------------------- */

/* Opens the store and reads the run to resume into *r: 0, or an exit
 * code after saying why it cannot be resumed. */
static int read_resumable(ctx_t *c, const engine_opts *o, store_run *r) {
  int code = ctx_open_store(c, o, 0);
  if (code) return code;
  int rc = store_run_get(c->rt.store, o->run_id, r);
  if (rc == STORE_NOTFOUND) {
    engine_errf("no run %s in %s", o->run_id, o->state_dir);
    return EXIT_USAGE;
  }
  if (rc != STORE_OK) {
    engine_errf("reading run %s: %s", o->run_id, store_errmsg(c->rt.store));
    return EXIT_FAILED;
  }
  if (run_has_finished(r->status)) {
    engine_errf("run %s has finished (%s); there is nothing to resume",
                r->id, r->status);
    return EXIT_USAGE;
  }
  /* --retry may also be given up front for a crashed run (it approves
   * re-running whatever was cut off); --skip needs to know what to skip. */
  if (o->decision && !strcmp(o->decision, "skip") &&
      strcmp(r->status, "needs_attention") != 0) {
    engine_errf("--skip applies to a run that needs attention; run %s is %s",
                r->id, r->status);
    return EXIT_USAGE;
  }
  return 0;
}

/* A run that needs attention resumes only with a decision: says why it
 * stopped (retries ran out, or an effect of an idempotent = false step
 * was cut off) and how to decide; EXIT_ATTENTION. */
static int needs_decision(ctx_t *c, const store_run *r) {
  cJSON *e = r->error ? cJSON_Parse(r->error) : NULL;
  const cJSON *m = cJSON_GetObjectItem(e, "message");
  engine_errf("run %s needs attention at %s: %s; decide with: summit resume "
              "%s --retry | --skip", r->id, r->failed_key ? r->failed_key : "?",
              cJSON_IsString(m) ? m->valuestring
                                : "an effect of a step marked idempotent = "
                                  "false was cut off",
              r->id);
  cJSON_Delete(e);
  store_lease_release(c->rt.store, r->id, getpid());
  return EXIT_ATTENTION;
}

typedef struct {
  ctx_t *c;
  const engine_opts *o;
  const store_run *r;
} resume_t;

/* resume --upgrade: the runbook's file as it is now replaces the pinned
 * source (pinned once it replays cleanly). */
static int read_upgrade(ctx_t *c, const store_run *r, size_t *len) {
  c->upgrade_source = io_read_file(r->source_path, len);
  if (!c->upgrade_source) {
    engine_errf("--upgrade: cannot read %s: %s", r->source_path,
                strerror(errno));
    return EXIT_USAGE;
  }
  c->upgrade_path = strdup(r->source_path);
  pins_sha256_hex(c->upgrade_source, *len, c->upgrade_sha);
  return 0;
}

/* Protected step: the run's configuration, its source (or --upgrade's),
 * its params (the secret ones read again) and its environment locks.
 * Leaves def params. */
static int prepare_resume(lua_State *L, void *ud) {
  resume_t *s = ud;
  ctx_t *c = s->c;
  const store_run *r = s->r;
  const char *cfg = s->o->config_path ? s->o->config_path : r->config_path;
  int code = loader_config(&c->rt, cfg, r->env);
  size_t len = strlen(r->source);
  if (!code && s->o->upgrade) code = read_upgrade(c, r, &len);
  if (!code)
    code = loader_runbook(L, r->source_path,
                          c->upgrade_source ? c->upgrade_source : r->source,
                          len, 0);
  if (code) return code;
  if (c->upgrade_source) c->upgrade_version = field_dup(L, 1, "version");
  if (!sl_decode(L, r->params, strlen(r->params))) {
    engine_errf("run %s: corrupt params in the state database", r->id);
    return EXIT_FAILED;
  }
  if ((code = params_resumed(L, 1, s->o, r->id))) return code;
  return envlocks_take(c, s->o, r->id, r->env);
}

/* run.resumed: audited, the run running again (committed), emitted. A
 * queued run's first start, by the worker that took it, is its
 * run.started instead (from = queued, docs/workers.md). */
static void record_resumed(ctx_t *c, const engine_opts *o,
                           const store_run *r, int64_t t0) {
  int queued = !strcmp(r->status, "queued");
  const char *event = queued ? "run.started" : "run.resumed";
  cJSON *ad = cJSON_CreateObject();
  if (queued) {
    cJSON_AddStringToObject(ad, "runbook", r->name);
    add_string(ad, "version", r->version);
    cJSON_AddStringToObject(ad, "file", r->source_path);
    cJSON_AddStringToObject(ad, "sha256", r->source_sha256);
    add_string(ad, "env", r->env);
    cJSON_AddStringToObject(ad, "host", c->host);
  }
  cJSON_AddStringToObject(ad, "from", r->status);
  add_string(ad, "key", r->failed_key);
  add_string(ad, "upgrade", o->upgrade ? c->upgrade_sha : NULL);
  add_string(ad, "decision", o->decision);
  add_string(ad, "cancel", o->cancel);
  ctx_audit(c, r->id, event, ad);
  store_run_set_status(c->rt.store, r->id, "running", NULL, NULL, 0, 0, t0);
  store_flush(c->rt.store);
  cJSON *f = cJSON_CreateObject();
  cJSON_AddStringToObject(f, "runbook", r->name);
  if (queued) {
    add_string(f, "version", r->version);
    cJSON_AddStringToObject(f, "file", r->source_path);
  }
  cJSON_AddStringToObject(f, "from", r->status);
  if (o->upgrade) cJSON_AddBoolToObject(f, "upgrade", 1);
  emit_started(c, event, f);
}

int engine_resume(const engine_opts *o) {
  ctx_t c;
  int64_t t0 = runtime_now_ms();
  int code = ctx_open(&c, o, 1);
  if (code) return code;
  store_run r = {0};
  if ((code = read_resumable(&c, o, &r)) || (code = ctx_acquire(&c, r.id)) ||
      (code = ctx_reread_unfinished(&c, o->run_id, &r, "resume")))
    goto done;
  c.rt.run_id = r.id;
  c.ev.run_id = r.id;
  if (!strcmp(r.status, "needs_attention") && !o->decision) {
    code = needs_decision(&c, &r);
    goto done;
  }
  resume_t s = {&c, o, &r};
  if (pins_resume(&c.rt, o->upgrade) != 0) {
    engine_errf("reading the modules run %s pinned: %s", r.id,
                store_errmsg(c.rt.store));
    code = EXIT_FAILED;
  }
  if (code || (code = loader_protect(c.rt.L, prepare_resume, &s, 0))) {
    store_lease_release(c.rt.store, r.id, getpid());
    store_flush(c.rt.store);
    goto done;
  }
  if (o->cancel) {
    c.rt.cancel_state = CANCEL_UNWINDING;
    c.rt.cancel_rollback = !strcmp(o->cancel, "rollback");
  }
  ctx_open_log(&c, o, r.id);
  record_resumed(&c, o, &r, t0);
  code = execute_run(&c, o, &r, t0);
done:
  store_run_free(&r);
  ctx_free(&c);
  return code;
}

/* ---- summit validate ------------------------------------------------- */

typedef struct {
  ctx_t *c;
  const engine_opts *o;
  const char *src;
  size_t len;
} validate_t;

/* The version rule (docs/runbooks.md): not semver is an error, none a
 * warning (counted in *warnings). def on top of L. */
static int check_version(lua_State *L, const char *file, int *warnings) {
  loader_require(L, "summit.catalog");
  lua_getfield(L, -1, "version_problem");
  lua_pushvalue(L, -3);
  lua_call(L, 1, 2);                         /* def cat level msg */
  int code = 0;
  if (lua_isstring(L, -2)) {
    int is_error = !strcmp(lua_tostring(L, -2), "error");
    engine_errf("%s%s: %s", is_error ? "" : "warning: ", file,
                lua_tostring(L, -1));
    if (is_error) code = EXIT_USAGE;
    else (*warnings)++;
  }
  lua_pop(L, 3);
  return code;
}

/* The replay traps of the source (summit.check.traps, docs/authoring.md),
 * each printed as a warning; returns how many. */
static int check_traps(lua_State *L, const validate_t *v) {
  loader_require(L, "summit.check");
  lua_getfield(L, -1, "traps");
  lua_pushlstring(L, v->src, v->len);
  lua_pushstring(L, v->o->file);
  lua_call(L, 2, 1);                         /* check problems */
  int n = lua_istable(L, -1) ? (int)lua_objlen(L, -1) : 0;
  for (int i = 1; i <= n; i++) {
    lua_rawgeti(L, -1, i);
    engine_errf("warning: %s", lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  lua_pop(L, 2);
  return n;
}

/* Protected step: loads, checks and describes the runbook. */
static int validate(lua_State *L, void *ud) {
  validate_t *v = ud;
  const engine_opts *o = v->o;
  int warnings = 0;
  int code = loader_config(&v->c->rt, o->config_path, NULL);
  if (!code) code = loader_runbook(L, o->file, v->src, v->len, 1);
  if (!code) code = check_version(L, o->file, &warnings);
  if (code) return code;
  warnings += check_traps(L, v);
  if (o->strict && warnings) {
    engine_errf("%s: %d warning%s, and --strict makes them errors", o->file,
                warnings, warnings == 1 ? "" : "s");
    return EXIT_USAGE;
  }
  lua_getfield(L, -1, "name");
  lua_getfield(L, -2, "version");
  lua_getfield(L, -3, "params");
  int nparams = 0;
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    nparams++;
    lua_pop(L, 1);
  }
  if (o->json) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "valid", 1);
    cJSON_AddStringToObject(j, "file", o->file);
    cJSON_AddStringToObject(j, "name", lua_tostring(L, -3));
    cJSON_AddNumberToObject(j, "params", nparams);
    char *text = cJSON_PrintUnformatted(j);
    if (text) printf("%s\n", text);
    free(text);
    cJSON_Delete(j);
  } else {
    printf("%s: runbook '%s' %s is valid (%d params)\n", o->file,
           lua_tostring(L, -3), lua_isstring(L, -2) ? lua_tostring(L, -2) : "",
           nparams);
  }
  lua_settop(L, 0);
  return 0;
}

int engine_validate(const engine_opts *o) {
  ctx_t c;
  validate_t v = {.c = &c, .o = o};
  char *src = io_read_file(o->file, &v.len);
  if (!src) {
    engine_errf("cannot read runbook %s: %s", o->file, strerror(errno));
    return EXIT_USAGE;
  }
  v.src = src;
  int code = ctx_open(&c, o, 0);
  if (!code) {
    code = loader_protect(c.rt.L, validate, &v, 0);
    ctx_free(&c);
  }
  free(src);
  return code;
}
