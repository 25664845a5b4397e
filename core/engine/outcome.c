/* The outcome of an execution: classified, then recorded (see
 * outcome.h). */
#include "engine/outcome.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/execute.h"
#include "engine/report.h"
#include "engine/secrets.h"
#include "io/term.h"
#include "lua/audit.h"
#include "lua/bindings.h"

/* SCHED_DONE: the root task's result says how the run ended. */
static void classify_done(ctx_t *c, outcome_t *oc) {
  lua_State *L = c->rt.L;
  static const char *const KNOWN[] = {"succeeded", "failed", "cancelled",
                                      "rolled_back", NULL};
  sched_push_root_result(c->rt.sched, L);    /* outcome */
  lua_getfield(L, -1, "status");
  const char *rs = lua_tostring(L, -1);
  for (int i = 0; KNOWN[i]; i++)
    if (rs && !strcmp(rs, KNOWN[i])) oc->status = KNOWN[i];
  lua_pop(L, 1);
  if (!strcmp(oc->status, "succeeded")) {
    char errbuf[512];
    oc->code = EXIT_OK;
    lua_getfield(L, -1, "result");   /* engine.lua kept it only if encodable */
    oc->result = sl_encode(L, -1, errbuf, sizeof errbuf);
    lua_pop(L, 1);
    secrets_redact_owned(&oc->result);
  }
  else if (!strcmp(oc->status, "failed")) oc->code = EXIT_FAILED;
  else if (c->rt.cancel_state != CANCEL_NONE) oc->code = EXIT_CANCELLED;
  else oc->code = EXIT_FAILED;  /* rolled back after a failure */
  if (oc->code != EXIT_OK) {
    char errbuf[4096];
    lua_getfield(L, -1, "error");
    oc->error = sl_encode(L, -1, errbuf, sizeof errbuf);
    lua_getglobal(L, "tostring");
    lua_pushvalue(L, -2);
    lua_call(L, 1, 1);
    cJSON_AddStringToObject(oc->event, "error", lua_tostring(L, -1));
    lua_pop(L, 2);
    lua_getfield(L, -1, "key");
    if (lua_isstring(L, -1) && !strcmp(oc->status, "failed"))
      snprintf(oc->failed_key, sizeof oc->failed_key, "%s",
               lua_tostring(L, -1));
    lua_pop(L, 1);
    lua_getfield(L, -1, "undone");
    if (lua_isnumber(L, -1))
      cJSON_AddNumberToObject(oc->event, "undone", lua_tonumber(L, -1));
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* Needs attention (halt() kept why, on top of L): an on_exhausted =
 * "pause" step failed on its last retry, or an idempotent = false step
 * was cut off while its effect was in flight. */
static void classify_attention(ctx_t *c, outcome_t *oc, int exhausted) {
  lua_State *L = c->rt.L;
  char errbuf[4096];
  oc->status = "needs_attention";
  oc->code = EXIT_ATTENTION;
  oc->final = 0;
  lua_getfield(L, -1, "name");
  if (exhausted) {
    lua_getfield(L, -2, "error");
    lua_getfield(L, -1, "message");
    snprintf(errbuf, sizeof errbuf,
             "step '%s' [%s] failed on its last retry (%s) and pauses for "
             "a human (on_exhausted = \"pause\"): summit resume %s "
             "--retry | --skip",
             lua_tostring(L, -3), oc->failed_key,
             lua_isstring(L, -1) ? lua_tostring(L, -1) : "?", c->rt.run_id);
    lua_pop(L, 3);
    cJSON_AddStringToObject(oc->event, "error", errbuf);
    lua_getfield(L, -1, "error");
    oc->error = sl_encode(L, -1, errbuf, sizeof errbuf);
    lua_pop(L, 1);
    return;
  }
  lua_getfield(L, -2, "site");
  snprintf(errbuf, sizeof errbuf,
           "step '%s' at %s is idempotent = false and was cut off "
           "while an effect was in flight; check what it did",
           lua_tostring(L, -2),
           lua_isstring(L, -1) ? lua_tostring(L, -1) : "?");
  lua_pop(L, 2);
  oc->error = run_error_json("ENEEDSATTENTION", errbuf);
  size_t used = strlen(errbuf);
  snprintf(errbuf + used, sizeof errbuf - used,
           "; then: summit resume %s --retry | --skip", c->rt.run_id);
  cJSON_AddStringToObject(oc->event, "error", errbuf);
}

/* Prints the divergence report kept by halt() (table on top of L). */
static void report_divergence(lua_State *L, const char *run_id) {
  lua_getfield(L, -1, "key");
  lua_getfield(L, -2, "why");
  engine_errf("run %s diverges from its journal at key %s: %s", run_id,
              lua_tostring(L, -2), lua_tostring(L, -1));
  lua_pop(L, 2);
  const char *sides[] = {"journal", "code"};
  const char *label[] = {"the journal holds", "the code asks for"};
  for (int i = 0; i < 2; i++) {
    lua_getfield(L, -1, sides[i]);
    if (!lua_istable(L, -1)) {
      lua_pop(L, 1);
      continue;
    }
    lua_getfield(L, -1, "kind");
    lua_getfield(L, -2, "name");
    lua_getfield(L, -3, "site");
    lua_getfield(L, -4, "hash");
    if (lua_isnil(L, -4))
      fprintf(stderr, "  %-18s nothing more here (at %s)\n", label[i],
              lua_isstring(L, -2) ? term_str(lua_tostring(L, -2)) : "?");
    else
      fprintf(stderr, "  %-18s %s '%s' (arguments %s) at %s\n", label[i],
              term_str(lua_tostring(L, -4)), term_str(lua_tostring(L, -3)),
              lua_isstring(L, -1) ? term_str(lua_tostring(L, -1)) : "-",
              lua_isstring(L, -2) ? term_str(lua_tostring(L, -2)) : "?");
    lua_pop(L, 4);
    /* The module line that made the call, when a module (stdlib, team)
     * made it for the runbook line above. */
    lua_getfield(L, -1, "module_site");
    if (lua_isstring(L, -1))
      fprintf(stderr, "  %-18s in %s\n", "", term_str(lua_tostring(L, -1)));
    lua_pop(L, 2);
  }
}

/* Divergence: nothing new was executed; the run keeps its state so it
 * can be resumed with the code it was pinned to. */
static void classify_diverged(ctx_t *c, const store_run *prev,
                              outcome_t *oc) {
  report_divergence(c->rt.L, c->rt.run_id);
  oc->status = prev ? prev->status : "running";
  oc->code = EXIT_USAGE;
  oc->final = 0;
  oc->failed_key[0] = '\0';
  if (prev) {
    if (prev->failed_key)
      snprintf(oc->failed_key, sizeof oc->failed_key, "%s", prev->failed_key);
    if (prev->error) oc->error = strdup(prev->error);
    oc->wake = prev->wake_ms;
  }
  cJSON_AddStringToObject(oc->event, "error", "diverged from the journal");
}

/* SCHED_STOPPED by halt(): needs attention, or diverged. */
static void classify_halted(ctx_t *c, const store_run *prev, outcome_t *oc) {
  lua_State *L = c->rt.L;
  lua_getfield(L, LUA_REGISTRYINDEX, "summit.halt");
  lua_getfield(L, -1, "status");
  int attention = lua_isstring(L, -1) &&
                  !strcmp(lua_tostring(L, -1), "needs_attention");
  lua_pop(L, 1);
  lua_getfield(L, -1, "key");
  snprintf(oc->failed_key, sizeof oc->failed_key, "%s",
           lua_isstring(L, -1) ? lua_tostring(L, -1) : "");
  lua_pop(L, 1);
  lua_getfield(L, -1, "exhausted");
  int exhausted = lua_toboolean(L, -1);
  lua_pop(L, 1);
  if (attention) classify_attention(c, oc, exhausted);
  else classify_diverged(c, prev, oc);
  lua_pop(L, 1);
}

void outcome_classify(ctx_t *c, sched_outcome out, int64_t wake,
                      const store_run *prev, outcome_t *oc) {
  memset(oc, 0, sizeof *oc);
  oc->status = "failed";
  oc->code = EXIT_FAILED;
  oc->final = 1;
  oc->wake = wake;
  oc->event = cJSON_CreateObject();
  if (out == SCHED_DONE) {
    classify_done(c, oc);
  } else if (out == SCHED_SUSPENDED) {
    oc->status = "suspended";
    oc->code = EXIT_SUSPENDED;
    oc->final = 0;
    if (wake) {  /* none when only approval gates without deadlines wait */
      char until[40];
      events_rfc3339(wake, until, sizeof until);
      cJSON_AddStringToObject(oc->event, "until", until);
    }
  } else if (out == SCHED_STOPPED && c->rt.halted) {
    classify_halted(c, prev, oc);
  } else if (out == SCHED_STOPPED) {
    oc->status = "interrupted";
    oc->code = EXIT_INTERRUPTED;
    oc->final = 0;
    cJSON_AddStringToObject(oc->event, "error",
                            c->interrupted == SIGTERM ? "terminated (SIGTERM)"
                                                      : "interrupted (SIGINT)");
  } else {
    char msg[4096];
    snprintf(msg, sizeof msg, "%s", sched_errmsg(c->rt.sched));
    oc->error = run_error_json("EINTERNAL", msg);
    cJSON_AddStringToObject(oc->event, "error", msg);
  }
}

/* Adds the code and message of a stored error (JSON text) to detail. */
static void audit_error(cJSON *detail, const char *error) {
  cJSON *e = error ? cJSON_Parse(error) : NULL;
  if (!e) return;
  const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code"),
              *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
  audit_add_error(detail, cJSON_IsString(code) ? code->valuestring : NULL,
                  cJSON_IsString(msg) ? msg->valuestring : NULL);
  cJSON_Delete(e);
}

/* A run that waits by design (suspended, needs attention) keeps its
 * locks; any other outcome gives them back. */
static int keeps_locks(const char *status) {
  return !strcmp(status, "suspended") || !strcmp(status, "needs_attention");
}

/* The outcome's audit record (with lock.released for the locks given
 * back), in the outcome's commit. */
static void audit_outcome(ctx_t *c, sched_outcome out, const outcome_t *oc,
                          int64_t duration_ms) {
  cJSON *ad = cJSON_CreateObject();
  const char *action = "run.finished";
  if (out == SCHED_SUSPENDED) {
    action = "run.suspended";
    if (oc->wake) {
      char until[40];
      events_rfc3339(oc->wake, until, sizeof until);
      cJSON_AddStringToObject(ad, "until", until);
    }
  } else if (oc->code == EXIT_INTERRUPTED) {
    action = "run.interrupted";
  } else if (oc->code == EXIT_USAGE) {
    action = "run.diverged";   /* nothing new ran; the run keeps its state */
  } else if (!strcmp(oc->status, "needs_attention")) {
    action = "run.needs_attention";
  }
  cJSON_AddStringToObject(ad, "status", oc->status);
  if (oc->failed_key[0]) cJSON_AddStringToObject(ad, "key", oc->failed_key);
  if (oc->code != EXIT_USAGE) audit_error(ad, oc->error);
  cJSON_AddNumberToObject(ad, "duration_ms", (double)duration_ms);
  if (!keeps_locks(oc->status)) ctx_audit_release_locks(c, c->rt.run_id);
  ctx_audit(c, c->rt.run_id, action, ad);
}

/* Whether a stored error (JSON text) is a Lua error in the runbook's own
 * code (ERUNBOOK: a typo, a nil index, a bad argument) rather than what a
 * primitive met (ETIMEDOUT, EAPI, EEXIT...): resuming the pinned source
 * would only fail the same way. */
static int failed_in_code(const char *error) {
  cJSON *e = error ? cJSON_Parse(error) : NULL;
  const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
  int r = cJSON_IsString(code) && !strcmp(code->valuestring, "ERUNBOOK");
  cJSON_Delete(e);
  return r;
}

/* run.finished or run.suspended, with a hint to resume a run that can:
 * with --upgrade (which loads the fixed file) when its code failed. */
static void emit_outcome(ctx_t *c, sched_outcome out, outcome_t *oc,
                         int64_t duration_ms) {
  cJSON_AddStringToObject(oc->event, "status", oc->status);
  cJSON_AddNumberToObject(oc->event, "duration_ms", (double)duration_ms);
  cJSON *result = oc->result ? cJSON_Parse(oc->result) : NULL;
  if (result) cJSON_AddItemToObject(oc->event, "result", result);
  if (oc->code == EXIT_INTERRUPTED || !strcmp(oc->status, "failed")) {
    char hint[240];
    if (oc->code != EXIT_INTERRUPTED && failed_in_code(oc->error))
      snprintf(hint, sizeof hint, "the runbook's code failed: fix it, then "
               "resume with: summit resume %s --upgrade", c->rt.run_id);
    else
      snprintf(hint, sizeof hint, "resume with: summit resume %s",
               c->rt.run_id);
    cJSON_AddStringToObject(oc->event, "hint", hint);
  }
  events_emit(&c->ev, out == SCHED_SUSPENDED ? "run.suspended"
                                             : "run.finished", oc->event);
}

/* Writes the outcome, gives back locks and lease and commits it all.
 * Returns the exit code, or -1 when the commit was fenced. */
static int store_outcome(ctx_t *c, sched_outcome out, outcome_t *oc,
                         int64_t now, int64_t t0) {
  store_t *st = c->rt.store;
  const char *id = c->rt.run_id;
  int code = oc->code;
  if (!strcmp(oc->status, "succeeded") &&
      execute_pin_upgrade(c) != STORE_OK && !store_fenced(st)) {
    engine_errf("pinning the upgraded source: %s", store_errmsg(st));
    code = EXIT_FAILED;
  }
  audit_outcome(c, out, oc, now - t0);
  secrets_redact_owned(&oc->error);
  if (store_run_set_status(st, id, oc->status, oc->error,
                           oc->failed_key[0] ? oc->failed_key : NULL,
                           oc->wake, oc->final, now) != STORE_OK &&
      !store_fenced(st)) {
    engine_errf("recording the outcome of run %s: %s", id, store_errmsg(st));
    code = EXIT_FAILED;
  }
  if (oc->result && store_run_set_result(st, id, oc->result) != STORE_OK &&
      !store_fenced(st)) {
    engine_errf("recording the result of run %s: %s", id, store_errmsg(st));
    code = EXIT_FAILED;
  }
  if (!keeps_locks(oc->status)) store_lock_release(st, NULL, id);
  store_lease_release(st, id, getpid());
  if (store_flush(st) != STORE_OK) {
    /* A refused commit: the run is another owner's. */
    if (store_fenced(st)) return -1;
    engine_errf("recording the outcome of run %s: %s", id, store_errmsg(st));
    code = EXIT_FAILED;
  }
  return code;
}

int outcome_record(ctx_t *c, sched_outcome out, outcome_t *oc, int64_t t0) {
  int64_t now = runtime_now_ms();
  int code = store_outcome(c, out, oc, now, t0);
  if (code < 0) code = ctx_report_fenced(c);
  else emit_outcome(c, out, oc, now - t0);
  free(oc->error);
  free(oc->result);
  cJSON_Delete(oc->event);
  return code;
}
