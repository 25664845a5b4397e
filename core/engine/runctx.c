/* The context of a run lifecycle command and the store-side steps the
 * commands share (see runctx.h). */
#include "engine/runctx.h"
#include "engine/storecfg.h"

#include <errno.h>
#include <fcntl.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/duration.h"
#include "engine/host.h"
#include "engine/report.h"
#include "io/file.h"
#include "io/http.h"
#include "lua/audit.h"

/* The lease lasts SUMMIT_LEASE_TTL (docs/journal.md), 30 s by default; the
 * owner renews it three times per lease. */
#define LEASE_TTL_DEFAULT_MS 30000
#define LEASE_TTL_MIN_MS 100

int64_t ctx_lease_ttl_ms(void) {
  const char *v = getenv("SUMMIT_LEASE_TTL");
  if (!v || !*v) return LEASE_TTL_DEFAULT_MS;
  double ms = 0;
  char why[200];
  if (duration_parse(v, &ms, why, sizeof why) != 0) {
    engine_errf("SUMMIT_LEASE_TTL=%s: %s", v, why);
    return -1;
  }
  if (ms < LEASE_TTL_MIN_MS || ms > 86400000.0) {
    engine_errf("SUMMIT_LEASE_TTL=%s: the lease must last from %dms to 24h",
                v, LEASE_TTL_MIN_MS);
    return -1;
  }
  return (int64_t)ms;
}

int ctx_open(ctx_t *c, const engine_opts *o, int leased) {
  memset(c, 0, sizeof *c);
  int64_t ttl = leased ? ctx_lease_ttl_ms() : LEASE_TTL_DEFAULT_MS;
  if (ttl < 0) return EXIT_USAGE;
  if (host_init_parts(&c->rt, &c->ev, &c->loop, o->time_scale,
                      o->state_dir) != 0) {
    engine_errf("cannot start the runtime");
    return EXIT_FAILED;
  }
  c->ttl_ms = ttl;
  events_init(&c->ev, stdout, o->json);
  c->ev.quiet = c->ev.quiet || o->quiet;  /* stdout may be /dev/null */
  c->rt.user = o->user;
  gethostname(c->host, sizeof c->host - 1);
  return 0;
}

static void close_walk(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

static void guard_fired(uv_timer_t *t) {
  uv_walk(t->loop, close_walk, NULL);
}

/* engine.shutdown(), if the engine was loaded at all: stops what the run
 * started on the loop (an in-process sim). */
static void engine_shutdown(lua_State *L) {
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "loaded");
  lua_getfield(L, -1, "summit.engine");
  if (lua_istable(L, -1)) {
    lua_getfield(L, -1, "shutdown");
    if (lua_pcall(L, 0, 0, 0) != 0) lua_pop(L, 1);
  }
  lua_pop(L, 3);
}

void ctx_free(ctx_t *c) {
  if (c->rt.L) engine_shutdown(c->rt.L);
  if (c->rt.sched) sched_free(c->rt.sched);
  c->rt.sched = NULL;
  if (c->rt.http) http_client_free(c->rt.http);
  if (c->rt.http_streams) http_client_free(c->rt.http_streams);
  c->rt.http = NULL;
  /* Cancelled waits close their handles, and a killed child is reaped
   * before its process handle closes: let the loop finish them, for at
   * most a few seconds (the guard is unref'd: it does not keep the loop
   * alive, it only ends a loop that something else keeps alive). */
  uv_timer_t guard;
  uv_timer_init(&c->loop, &guard);
  uv_timer_start(&guard, guard_fired, 3000, 0);
  uv_unref((uv_handle_t *)&guard);
  uv_run(&c->loop, UV_RUN_DEFAULT);
  uv_walk(&c->loop, close_walk, NULL);
  while (uv_run(&c->loop, UV_RUN_NOWAIT)) {}
  if (c->rt.L) lua_close(c->rt.L);
  uv_loop_close(&c->loop);
  if (c->rt.store) store_close(c->rt.store);
  if (c->rt.log_fd >= 0) close(c->rt.log_fd);
  pins_free(&c->rt.pins);
  free(c->upgrade_path);
  free(c->upgrade_source);
  free(c->upgrade_version);
}

/* The store refused a write: another process took the run's lease while
 * this one was stalled (stopped, paused, CPU-bound). Nothing more may
 * start: the scheduler stops at its next turn, before the loop runs again
 * (an HTTP request buffered for that turn never leaves). */
static void on_fenced(void *ud) {
  ctx_t *c = ud;
  if (c->rt.sched) sched_stop(c->rt.sched);
}

int ctx_report_fenced(ctx_t *c) {
  const char *why = store_fenced(c->rt.store);
  engine_errf("%s; this process (pid %d) lost its lease while it was "
              "stalled and stopped without starting anything more",
              why ? why : "lease lost", (int)getpid());
  cJSON *f = cJSON_CreateObject();
  cJSON_AddStringToObject(f, "error", why ? why : "lease lost");
  events_emit(&c->ev, "run.fenced", f);
  cJSON_Delete(f);
  return EXIT_BUSY;
}

int ctx_open_store(ctx_t *c, const engine_opts *o, int create) {
  char path[4200], err[1024];
  if (create && io_private_dir(o->state_dir) != 0) {
    engine_errf("cannot create state directory %s: %s", o->state_dir,
                strerror(errno));
    return EXIT_FAILED;
  }
  if (engine_store_target(o->state_dir, o->config_path, c->rt.L, path,
                          sizeof path, err, sizeof err) != 0) {
    engine_errf("%s", err);
    return EXIT_USAGE;
  }
  if (!create && !store_is_url(path) && access(path, F_OK) != 0) {
    engine_errf("no state database at %s (no runs yet?)", path);
    return EXIT_USAGE;
  }
  if (!create) io_private_dir(o->state_dir);  /* an older, looser one */
  c->rt.store = store_open(path, create,
                           o->durability_process ? STORE_DURABILITY_PROCESS
                                                 : STORE_DURABILITY_FULL,
                           err, sizeof err);
  if (!c->rt.store) {
    engine_errf("%s", err);
    return EXIT_FAILED;
  }
  store_on_fenced(c->rt.store, on_fenced, c);
  return 0;
}

void ctx_open_log(ctx_t *c, const engine_opts *o, const char *run_id) {
  char path[4200];
  snprintf(path, sizeof path, "%s/logs", o->state_dir);
  io_mkdirs(path);
  snprintf(path, sizeof path, "%s/logs/%s.log", o->state_dir, run_id);
  c->rt.log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

int ctx_acquire(ctx_t *c, const char *id) {
  int64_t holder = 0;
  char *holder_host = NULL;
  int rc = store_lease_acquire(c->rt.store, id, getpid(), c->host,
                               runtime_now_ms(), c->ttl_ms, &holder,
                               &holder_host);
  if (rc == STORE_BUSY) {
    engine_errf("run %s is being executed by pid %lld on %s; it cannot run "
                "twice at once", id, (long long)holder,
                holder_host ? holder_host : "?");
    free(holder_host);
    return EXIT_BUSY;
  }
  if (rc == STORE_NOTFOUND) {
    engine_errf("no run %s", id);
    return EXIT_USAGE;
  }
  if (rc != STORE_OK) {
    engine_errf("taking the lease of run %s: %s", id,
                store_errmsg(c->rt.store));
    return EXIT_FAILED;
  }
  return 0;
}

int run_has_finished(const char *status) {
  return !strcmp(status, "succeeded") || !strcmp(status, "cancelled") ||
         !strcmp(status, "rolled_back");
}

void ctx_audit(ctx_t *c, const char *id, const char *action, cJSON *detail) {
  if (audit_append(&c->rt, id, action, detail) != STORE_OK)
    engine_errf("writing the audit trail: %s", store_errmsg(c->rt.store));
}

static int held_lock(void *ud, const store_lock *l) {
  const char **want = ud;
  if (l->run_id && !strcmp(l->run_id, want[0]))
    cJSON_AddItemToArray((cJSON *)want[1], cJSON_CreateString(l->name));
  return 0;
}

void ctx_audit_release_locks(ctx_t *c, const char *id) {
  cJSON *names = cJSON_CreateArray();
  const char *want[2] = {id, (const char *)names};
  store_lock_list(c->rt.store, held_lock, (void *)want);
  const cJSON *n;
  cJSON_ArrayForEach(n, names) {
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "name", n->valuestring);
    ctx_audit(c, id, "lock.released", d);
  }
  cJSON_Delete(names);
}

char *run_error_json(const char *code, const char *message) {
  cJSON *e = cJSON_CreateObject();
  cJSON_AddStringToObject(e, "code", code);
  cJSON_AddStringToObject(e, "message", message);
  char *text = cJSON_PrintUnformatted(e);
  cJSON_Delete(e);
  return text;
}

void ctx_never_started(ctx_t *c, const char *id, const char *why) {
  cJSON *fin = cJSON_CreateObject();
  cJSON_AddStringToObject(fin, "status", "cancelled");
  audit_add_error(fin, "EBUSY", why);
  ctx_audit(c, id, "run.finished", fin);
  char *error = run_error_json("EBUSY", why);
  store_run_set_status(c->rt.store, id, "cancelled", error, NULL, 0, 1,
                       runtime_now_ms());
  free(error);
  store_flush(c->rt.store);
  store_lease_release(c->rt.store, id, getpid());
}

int ctx_reread_unfinished(ctx_t *c, const char *id, store_run *r,
                          const char *verb) {
  store_run now_r = {0};
  if (store_run_get(c->rt.store, id, &now_r) != STORE_OK) {
    engine_errf("reading run %s: %s", id, store_errmsg(c->rt.store));
    return EXIT_FAILED;
  }
  store_run_free(r);
  *r = now_r;
  if (!run_has_finished(r->status)) return 0;
  store_lease_release(c->rt.store, r->id, getpid());
  store_flush(c->rt.store);
  engine_errf("run %s has finished (%s); there is nothing to %s", r->id,
              r->status, verb);
  return EXIT_USAGE;
}
