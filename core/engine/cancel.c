/* summit cancel RUN [--rollback] (docs/cli.md): a live owner is asked to
 * stop at its next wait point and watched; a run with no live owner (or
 * one that stopped renewing its lease) is cancelled here, or, with
 * --rollback, resumed here to run its undos. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "engine/report.h"
#include "engine/runctx.h"
#include "lua/audit.h"

/* run.cancel_requested, in the commit of what follows it. */
static void audit_request(ctx_t *c, const store_run *r, const char *mode) {
  cJSON *ad = cJSON_CreateObject();
  cJSON_AddStringToObject(ad, "mode", mode);
  cJSON_AddStringToObject(ad, "status", r->status);
  ctx_audit(c, r->id, "run.cancel_requested", ad);
}

/* Watches a live owner stop, for up to 30 s. Returns 1 when it stopped
 * renewing its lease instead (stopped, paused, dead: it never answers). */
static int owner_lapsed(ctx_t *c, const store_run *r) {
  for (int i = 0; i < 120; i++) {
    uv_sleep(250);
    store_run next = {0};
    if (store_run_get(c->rt.store, r->id, &next) != STORE_OK) return 0;
    int done = strcmp(next.status, "running") != 0;
    if (done) printf("run %s is %s\n", r->id, next.status);
    int lapsed = !done && !store_run_alive(next.status, next.owner_pid,
                                           next.owner_host,
                                           next.lease_expires_ms, c->host,
                                           runtime_now_ms());
    store_run_free(&next);
    if (done || lapsed) return lapsed;
  }
  return 0;
}

/* A live executor: asks it, then watches it stop. Returns 0 once it has,
 * or -1 when it lapsed and the cancel is to take the run over (fencing
 * keeps that owner from undoing it, docs/journal.md); or an exit code. */
static int ask_owner(ctx_t *c, const store_run *r, int rollback) {
  const char *mode = rollback ? "rollback" : "cancel";
  /* The record shares the request's commit. */
  audit_request(c, r, mode);
  if (store_run_request_cancel(c->rt.store, r->id, mode) != STORE_OK) {
    engine_errf("requesting the cancel: %s", store_errmsg(c->rt.store));
    return EXIT_FAILED;
  }
  printf("cancel requested: run %s (pid %lld) stops at its next wait point\n",
         r->id, (long long)r->owner_pid);
  fflush(stdout);
  if (!owner_lapsed(c, r)) return EXIT_OK;
  printf("run %s: pid %lld stopped renewing its lease; cancelling the run "
         "here\n", r->id, (long long)r->owner_pid);
  return -1;
}

/* No process runs it: this one takes the lease, for a cancel done here. */
static int take_over(ctx_t *c, const store_run *r, int64_t now) {
  int64_t holder = 0;
  char *holder_host = NULL;
  int rc = store_lease_acquire(c->rt.store, r->id, getpid(), c->host, now,
                               c->ttl_ms, &holder, &holder_host);
  free(holder_host);
  if (rc == STORE_BUSY) {
    engine_errf("run %s was just taken by pid %lld; try again", r->id,
                (long long)holder);
    return EXIT_BUSY;
  }
  if (rc != STORE_OK) {
    engine_errf("taking the lease of run %s: %s", r->id,
                store_errmsg(c->rt.store));
    return EXIT_FAILED;
  }
  return 0;
}

/* Ends the run as cancelled, its locks, gate waits and lease given back,
 * in one commit. */
static int cancel_here(ctx_t *c, const store_run *r, int asked, int64_t now) {
  if (!asked) audit_request(c, r, "cancel");
  ctx_audit_release_locks(c, r->id);
  cJSON *ad = cJSON_CreateObject();
  cJSON_AddStringToObject(ad, "status", "cancelled");
  audit_add_error(ad, "ECANCELED", "cancelled");
  ctx_audit(c, r->id, "run.finished", ad);
  char *error = run_error_json("ECANCELED", "cancelled");
  store_run_set_status(c->rt.store, r->id, "cancelled", error, NULL, 0, 1,
                       now);
  free(error);
  store_lock_release(c->rt.store, NULL, r->id);
  store_wait_close(c->rt.store, r->id, NULL);  /* no gate waits on it now */
  store_lease_release(c->rt.store, r->id, getpid());
  if (store_flush(c->rt.store) != STORE_OK) {
    engine_errf("cancelling run %s: %s", r->id, store_errmsg(c->rt.store));
    return store_fenced(c->rt.store) ? EXIT_BUSY : EXIT_FAILED;
  }
  printf("run %s cancelled (it was %s)\n", r->id, r->status);
  return EXIT_OK;
}

/* --rollback with no process: this one replays the run and runs its
 * undos (recorded as its run.resumed, with cancel = rollback). Frees c
 * and r first. */
static int rollback_here(ctx_t *c, store_run *r, const engine_opts *o,
                         int asked) {
  if (!asked) audit_request(c, r, "rollback");
  store_flush(c->rt.store);
  store_run_free(r);
  ctx_free(c);
  engine_opts ro = *o;
  ro.cancel = "rollback";
  ro.decision = NULL;
  ro.upgrade = 0;
  ro.detach = 0;
  int code = engine_resume(&ro);
  return code == EXIT_CANCELLED ? EXIT_OK : code;
}

/* Reads the run to cancel: 0, or an exit code after saying why not. */
static int read_cancellable(ctx_t *c, const engine_opts *o, store_run *r) {
  int code = ctx_open_store(c, o, 0);
  if (code) return code;
  int rc = store_run_get(c->rt.store, o->run_id, r);
  if (rc != STORE_OK) {
    engine_errf(rc == STORE_NOTFOUND ? "no run %s" : "reading run %s",
                o->run_id);
    return rc == STORE_NOTFOUND ? EXIT_USAGE : EXIT_FAILED;
  }
  if (run_has_finished(r->status)) {
    engine_errf("run %s has finished (%s); there is nothing to cancel",
                r->id, r->status);
    return EXIT_USAGE;
  }
  return 0;
}

int engine_cancel(const engine_opts *o, int rollback) {
  ctx_t c;
  int code = ctx_open(&c, o, 1);
  if (code) return code;
  store_run r = {0};
  if ((code = read_cancellable(&c, o, &r))) goto done;
  /* A queued run has not started anywhere: nothing to undo. */
  if (!strcmp(r.status, "queued")) rollback = 0;
  int64_t now = runtime_now_ms();
  int asked = 0;  /* run.cancel_requested is recorded */
  if (store_run_alive(r.status, r.owner_pid, r.owner_host, r.lease_expires_ms,
                      c.host, now) && r.owner_pid) {
    if ((code = ask_owner(&c, &r, rollback)) >= 0) goto done;
    asked = 1;
    now = runtime_now_ms();
  }
  if (rollback) return rollback_here(&c, &r, o, asked);
  if ((code = take_over(&c, &r, now)) ||
      (code = ctx_reread_unfinished(&c, o->run_id, &r, "cancel")))
    goto done;
  code = cancel_here(&c, &r, asked, now);
done:
  store_run_free(&r);
  ctx_free(&c);
  return code;
}
