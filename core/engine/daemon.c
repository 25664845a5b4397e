/* summit daemon: schedules, resumes, pick-ups and queued runs on one
 * libuv loop (daemon.h, docs/daemon.md, docs/workers.md).
 *
 * The daemon keeps no state of its own: every poll reads the state
 * database, and every decision that must be taken once is claimed there
 * first (store_schedule_claim for a fire, store_daemon_claim for a run to
 * continue, store_queue_claim for a submitted run its --labels match),
 * so daemons may be killed, restarted or run twice on one
 * state directory. Runs execute in child processes of the summit binary,
 * in their own session, with their output appended to daemon.log in the
 * state directory; a child outlives a killed daemon and finishes its
 * run. */
#include "engine/daemon.h"

#include <assert.h>
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "engine/engine.h"
#include "engine/events.h"
#include "engine/labels.h"
#include "engine/runctx.h"
#include "engine/runtime.h"
#include "io/file.h"
#include "lua/audit.h"
#include "store/store.h"

extern char **environ;

/* A claim on a run older than the lease (SUMMIT_LEASE_TTL), and at
 * least this, is stale: its daemon died, or the child it started could
 * not take the run (retried then, not at once). */
#define CLAIM_TTL_MIN_MS 10000

fire_plan daemon_plan(const cron_expr *e, const char *tz,
                      const char *missed_policy, int64_t next_fire_ms,
                      int64_t now_ms, int64_t started_ms, int overlap) {
  fire_plan p = {FIRE_NONE, 0, next_fire_ms, 0, 0};
  if (next_fire_ms <= 0 || next_fire_ms > now_ms) return p;
  p.next_ms = cron_next(e, tz, now_ms);
  /* Fires older than the cut passed while no daemon ran. */
  int64_t cut = started_ms - DAEMON_MISSED_GRACE_MS;
  int64_t last_missed = -1;
  if (next_fire_ms < cut)
    last_missed = cron_last(e, tz, next_fire_ms - 1, cut - 1, 100000,
                            &p.missed);
  int n = 0;
  int64_t from = next_fire_ms > cut ? next_fire_ms : cut;
  int64_t on_time = cron_last(e, tz, from - 1, now_ms, 100000, &n);
  if (on_time >= 0) {
    p.fire_ms = on_time;
    p.coalesced = n - 1;
    p.action = overlap ? FIRE_SKIP_OVERLAP : FIRE_RUN;
    return p;
  }
  p.fire_ms = last_missed >= 0 ? last_missed : next_fire_ms;
  if (missed_policy && !strcmp(missed_policy, "run-once"))
    p.action = overlap ? FIRE_SKIP_OVERLAP : FIRE_RUN;
  else
    p.action = FIRE_SKIP_MISSED;
  return p;
}

/* ---- the daemon ------------------------------------------------------ */

typedef struct child child_t;
typedef struct {
  uv_loop_t loop;
  uv_timer_t poll, grace;
  uv_signal_t sigterm, sigint;
  const daemon_opts *o;
  store_t *store;
  char me[320], host[256];   /* me: host:pid, the owner of our claims */
  int64_t started_ms;
  int64_t claim_ttl_ms;
  child_t *children;
  int nchildren;
  int stopping, finished;
  int log_fd;
  char **env;                /* the children's environment */
  char *env_state;           /* its SUMMIT_STATE_DIR=... */
  char scale[32];
} daemon_t;

enum { CHILD_FIRE, CHILD_RESUME };

struct child {
  uv_process_t proc;
  daemon_t *d;
  child_t *next;
  int kind;
  char run[64];              /* resume: the run */
  int queued;                /* resume: the run was queued (submit) */
  char schedule[80];         /* fire: the schedule, and its fire time */
  int64_t fire_ms;
};

static void say(const char *fmt, ...) {
  char ts[40];
  events_rfc3339(runtime_now_ms(), ts, sizeof ts);
  printf("%s ", ts);
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  fflush(stdout);
}

static void audit(daemon_t *d, const char *run, const char *action,
                  cJSON *detail) {
  if (audit_append_to(d->store, "summit-daemon", run, action, detail, 1) !=
      STORE_OK)
    say("error: recording %s: %s", action, store_errmsg(d->store));
}

static void add_time(cJSON *o, const char *k, int64_t ms) {
  char ts[40];
  events_rfc3339(ms, ts, sizeof ts);
  cJSON_AddStringToObject(o, k, ts);
}

static void close_free(uv_handle_t *h) { free(h->data); }

static void finish(daemon_t *d) {
  if (d->finished) return;
  d->finished = 1;
  uv_close((uv_handle_t *)&d->poll, NULL);
  uv_close((uv_handle_t *)&d->grace, NULL);
  uv_close((uv_handle_t *)&d->sigterm, NULL);
  uv_close((uv_handle_t *)&d->sigint, NULL);
}

int daemon_final_status(const char *s) {
  return s && (!strcmp(s, "succeeded") || !strcmp(s, "failed") ||
               !strcmp(s, "cancelled") || !strcmp(s, "rolled_back"));
}

/* A run of schedule name ended (or could not start: run NULL, status
 * "error"): count it and call the hook. */
static void schedule_result(daemon_t *d, const char *name, const char *run,
                            const char *status, const char *note) {
  int64_t fails = 0;
  int ok = !strcmp(status, "succeeded");
  if (store_schedule_run_ended(d->store, name, status, ok, &fails) !=
      STORE_OK) {
    say("error: %s", store_errmsg(d->store));
    return;
  }
  if (note) store_schedule_note(d->store, name, status, note);
  say("schedule %s: run %s %s (%lld failed in a row)", name,
      run ? run : "-", status, (long long)fails);
  if (d->o->on_result) d->o->on_result(d->o->ud, name, run, status, fails);
}

/* After a child: the run's status decides for its schedule, if any. */
static void run_outcome(daemon_t *d, const char *name, const char *run) {
  store_run r;
  if (store_run_get(d->store, run, &r) != STORE_OK) return;
  if (daemon_final_status(r.status)) schedule_result(d, name, run, r.status, NULL);
  store_run_free(&r);
}

/* Whether run id has not left the queue (its child never started it). */
static int still_queued(daemon_t *d, const char *id) {
  store_run r;
  if (store_run_get(d->store, id, &r) != STORE_OK) return 0;
  int q = !strcmp(r.status, "queued");
  store_run_free(&r);
  return q;
}

static void on_child_exit(uv_process_t *p, int64_t code, int sig) {
  child_t *c = p->data;
  daemon_t *d = c->d;
  assert(d->nchildren > 0 && !d->finished);
  for (child_t **pp = &d->children; *pp; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  d->nchildren--;
  int interrupted = d->stopping && (code == EXIT_INTERRUPTED || sig);
  if (c->kind == CHILD_FIRE) {
    char *run = NULL;
    store_schedule_fire_run(d->store, c->schedule, c->fire_ms, &run);
    if (!run) {
      char note[64];
      snprintf(note, sizeof note, sig ? "killed by signal %d"
                                      : "exit %d before a run started",
               sig ? sig : (int)code);
      say("schedule %s: no run started (%s; see daemon.log)", c->schedule,
          note);
      schedule_result(d, c->schedule, NULL, "error", note);
    } else {
      say("run %s (schedule %s) exited %lld", run, c->schedule,
          (long long)code);
      if (interrupted) store_daemon_release(d->store, run, d->me, 1);
      else run_outcome(d, c->schedule, run);
      free(run);
    }
  } else {
    say("run %s exited %lld%s", c->run, (long long)code,
        interrupted ? " (interrupted by the stop; resumed when a daemon "
                      "starts again)" : "");
    /* A resume that could not start (usage, busy, a crash; a queued run
     * still queued) keeps its claim until it is stale: retried then, not
     * at once. */
    int known = !sig && (code == EXIT_OK || code == EXIT_FAILED ||
                         code == EXIT_SUSPENDED || code == EXIT_CANCELLED ||
                         code == EXIT_ATTENTION ||
                         code == EXIT_INTERRUPTED);
    if (known && c->queued) known = !still_queued(d, c->run);
    if (known || interrupted)
      store_daemon_release(d->store, c->run, d->me, interrupted);
    char *name = NULL;
    if (!interrupted && store_run_schedule(d->store, c->run, &name) ==
                            STORE_OK && name)
      run_outcome(d, name, c->run);
    free(name);
  }
  uv_close((uv_handle_t *)p, close_free);
  if (d->nchildren == 0 && (d->stopping || d->o->once)) finish(d);
}

/* Starts argv (argv[0] is the summit binary) in cwd (NULL: ours). */
static child_t *spawn(daemon_t *d, char **argv, const char *cwd, int kind) {
  child_t *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->d = d;
  c->kind = kind;
  c->proc.data = c;
  uv_stdio_container_t io[3];
  io[0].flags = UV_IGNORE;
  io[1].flags = io[2].flags = UV_INHERIT_FD;
  io[1].data.fd = io[2].data.fd = d->log_fd;
  uv_process_options_t po;
  memset(&po, 0, sizeof po);
  po.file = argv[0];
  po.args = argv;
  po.env = d->env;
  po.cwd = cwd;
  po.exit_cb = on_child_exit;
  po.flags = UV_PROCESS_DETACHED;  /* its own session: outlives us */
  po.stdio_count = 3;
  po.stdio = io;
  io_child_umask_begin();  /* a run spawns the user's commands */
  int rc = uv_spawn(&d->loop, &c->proc, &po);
  io_child_umask_end();
  if (rc != 0) {
    say("error: cannot start %s: %s: %s", argv[0], uv_err_name(rc),
        uv_strerror(rc));
    uv_close((uv_handle_t *)&c->proc, close_free);
    return NULL;
  }
  c->next = d->children;
  d->children = c;
  d->nchildren++;
  return c;
}

/* ---- firing schedules ------------------------------------------------ */

typedef struct {
  char *name, *cron, *tz, *runbook, *params, *env, *config, *dir, *missed;
  int64_t next;
  int paused;
} sched_row;

typedef struct {
  sched_row *rows;
  int n, cap;
} sched_rows;

static char *dup0(const char *s) { return s ? strdup(s) : NULL; }

static int collect_schedule(void *ud, const store_schedule *s) {
  sched_rows *r = ud;
  if (r->n == r->cap) {
    r->cap = r->cap ? r->cap * 2 : 8;
    r->rows = realloc(r->rows, (size_t)r->cap * sizeof *r->rows);
  }
  r->rows[r->n++] = (sched_row){
    dup0(s->name), dup0(s->cron), dup0(s->tz), dup0(s->runbook),
    dup0(s->params), dup0(s->env), dup0(s->config_path), dup0(s->dir),
    dup0(s->missed), s->next_fire_ms, s->paused};
  return 0;
}

static void free_rows(sched_rows *r) {
  for (int i = 0; i < r->n; i++) {
    sched_row *s = &r->rows[i];
    free(s->name); free(s->cron); free(s->tz); free(s->runbook);
    free(s->params); free(s->env); free(s->config); free(s->dir);
    free(s->missed);
  }
  free(r->rows);
}

static int fire_child_of(daemon_t *d, const char *name) {
  for (child_t *c = d->children; c; c = c->next)
    if (c->kind == CHILD_FIRE && !strcmp(c->schedule, name)) return 1;
  return 0;
}

void daemon_fire_args_make(daemon_fire_args *a, const char *runbook,
                           const char *fire, const char *params,
                           const char *env, const char *config, int room) {
  cJSON *ps = cJSON_Parse(params ? params : "{}");
  int np = cJSON_GetArraySize(ps), n = 2;
  a->argv = calloc((size_t)(np * 2 + room + 10), sizeof *a->argv);
  a->owned = calloc((size_t)np + 1, sizeof *a->owned);
  a->nowned = 0;
  a->argv[n++] = (char *)runbook;
  a->argv[n++] = "--fire";
  a->argv[n++] = (char *)fire;
  const cJSON *p;
  cJSON_ArrayForEach(p, ps) {
    if (!cJSON_IsString(p)) continue;
    size_t len = strlen(p->string) + strlen(p->valuestring) + 2;
    char *kv = malloc(len);
    snprintf(kv, len, "%s=%s", p->string, p->valuestring);
    a->owned[a->nowned++] = kv;
    a->argv[n++] = "-p";
    a->argv[n++] = kv;
  }
  if (env) {
    a->argv[n++] = "--env";
    a->argv[n++] = (char *)env;
  }
  if (config) {
    a->argv[n++] = "--config";
    a->argv[n++] = (char *)config;
  }
  a->argc = n;
  cJSON_Delete(ps);
}

void daemon_fire_args_free(daemon_fire_args *a) {
  for (int i = 0; i < a->nowned; i++) free(a->owned[i]);
  free(a->owned);
  free(a->argv);
}

static void start_fire(daemon_t *d, const sched_row *s, int64_t fire_ms) {
  char fire[128];
  snprintf(fire, sizeof fire, "%s@%lld", s->name, (long long)fire_ms);
  daemon_fire_args fa;
  daemon_fire_args_make(&fa, s->runbook, fire, s->params, s->env, s->config,
                        3);
  char **argv = fa.argv;
  argv[0] = (char *)d->o->self;
  argv[1] = "run";
  argv[fa.argc++] = "--detach";
  if (d->scale[0]) {
    argv[fa.argc++] = "--time-scale";
    argv[fa.argc++] = d->scale;
  }
  child_t *c = spawn(d, argv, s->dir, CHILD_FIRE);
  if (c) {
    snprintf(c->schedule, sizeof c->schedule, "%s", s->name);
    c->fire_ms = fire_ms;
  } else {
    schedule_result(d, s->name, NULL, "error", "the run could not be "
                    "started");
  }
  daemon_fire_args_free(&fa);
}

static void fire_schedules(daemon_t *d, int64_t now) {
  sched_rows rows = {0};
  if (store_schedule_list(d->store, collect_schedule, &rows) != STORE_OK) {
    say("error: %s", store_errmsg(d->store));
    free_rows(&rows);
    return;
  }
  for (int i = 0; i < rows.n; i++) {
    sched_row *s = &rows.rows[i];
    if (s->paused || !s->next || s->next > now) continue;
    cron_expr e;
    char err[256];
    if (cron_parse(s->cron, &e, err, sizeof err) != 0) {
      say("schedule %s: %s", s->name, err);
      continue;
    }
    char *active = NULL;
    /* Ours still starting (no run row yet), or any run of it not ended. */
    store_schedule_active_run(d->store, s->name, &active);
    int overlap = fire_child_of(d, s->name) || active != NULL;
    fire_plan p = daemon_plan(&e, s->tz, s->missed, s->next, now,
                              d->started_ms, overlap);
    if (p.action == FIRE_RUN && d->nchildren >= d->o->max_runs) {
      free(active);  /* full: it waits for a free slot */
      continue;
    }
    int won = 0;
    if (p.action == FIRE_NONE ||
        store_schedule_claim(d->store, s->name, s->next,
                             p.next_ms > 0 ? p.next_ms : 0,
                             p.action == FIRE_RUN ? p.fire_ms : 0,
                             &won) != STORE_OK ||
        !won) {
      free(active);
      continue;  /* not due, or another daemon took this fire */
    }
    cJSON *ad = cJSON_CreateObject();
    cJSON_AddStringToObject(ad, "schedule", s->name);
    add_time(ad, "fire", p.fire_ms);
    if (p.missed) cJSON_AddNumberToObject(ad, "missed", p.missed);
    if (p.coalesced) cJSON_AddNumberToObject(ad, "coalesced", p.coalesced);
    char fire[40], note[200];
    events_rfc3339(p.fire_ms, fire, sizeof fire);
    if (p.action == FIRE_RUN) {
      audit(d, NULL, "schedule.fired", ad);
      say("schedule %s: fire %s: starting %s", s->name, fire, s->runbook);
      start_fire(d, s, p.fire_ms);
    } else if (p.action == FIRE_SKIP_OVERLAP) {
      if (active) cJSON_AddStringToObject(ad, "run", active);
      cJSON_AddStringToObject(ad, "reason", "overlap");
      audit(d, NULL, "schedule.skipped", ad);
      snprintf(note, sizeof note, "fire %s: run %s has not ended", fire,
               active ? active : "(starting)");
      store_schedule_note(d->store, s->name, "skipped", note);
      say("schedule %s: skipped %s", s->name, note);
    } else {
      cJSON_AddStringToObject(ad, "reason", "missed");
      audit(d, NULL, "schedule.skipped", ad);
      snprintf(note, sizeof note, "%d fire%s missed while no daemon ran "
               "(missed = skip)", p.missed, p.missed == 1 ? "" : "s");
      store_schedule_note(d->store, s->name, "skipped", note);
      say("schedule %s: skipped: %s", s->name, note);
    }
    free(active);
  }
  free_rows(&rows);
}

/* ---- continuing runs ------------------------------------------------- */

typedef struct {
  char id[64], why[16];
  int64_t updated_ms;
} pending_row;

typedef struct {
  daemon_t *d;
  int64_t now;
  pending_row *rows;
  int n, cap;
} pending_rows;

static int collect_pending(void *ud, const store_pending *p) {
  pending_rows *r = ud;
  /* A run submitted for other workers is theirs to continue. */
  if (!labels_match(p->run_on, r->d->o->labels)) return 0;
  /* A running run is picked up only when its owner is gone. */
  if (!strcmp(p->why, "orphan") &&
      store_run_alive(p->status, p->owner_pid, p->owner_host,
                      p->lease_expires_ms, r->d->host, r->now))
    return 0;
  if (r->n == r->cap) {
    r->cap = r->cap ? r->cap * 2 : 8;
    r->rows = realloc(r->rows, (size_t)r->cap * sizeof *r->rows);
  }
  pending_row *row = &r->rows[r->n++];
  snprintf(row->id, sizeof row->id, "%s", p->id);
  snprintf(row->why, sizeof row->why, "%s", p->why);
  row->updated_ms = p->updated_ms;
  return 0;
}

static int resuming(daemon_t *d, const char *id) {
  for (child_t *c = d->children; c; c = c->next)
    if (c->kind == CHILD_RESUME && !strcmp(c->run, id)) return 1;
  return 0;
}

/* Starts `summit resume id` for a run this daemon has claimed: audited
 * (daemon.resume, why) and said (text). */
static void start_resume(daemon_t *d, const char *id, const char *why,
                         const char *text, int queued) {
  cJSON *ad = cJSON_CreateObject();
  cJSON_AddStringToObject(ad, "why", why);
  cJSON_AddStringToObject(ad, "worker", d->me);
  audit(d, id, "daemon.resume", ad);
  say("run %s: %s (%s)", id, queued ? "starting" : "resuming", text);
  char *argv[8] = {(char *)d->o->self, "resume", (char *)id, "--detach",
                   NULL};
  if (d->scale[0]) {
    argv[4] = "--time-scale";
    argv[5] = d->scale;
  }
  child_t *c = spawn(d, argv, NULL, CHILD_RESUME);
  if (c) {
    snprintf(c->run, sizeof c->run, "%s", id);
    c->queued = queued;
  }
}

static void continue_runs(daemon_t *d, int64_t now) {
  pending_rows rows = {.d = d, .now = now};
  if (store_daemon_pending(d->store, now, now - d->claim_ttl_ms,
                           collect_pending, &rows) != STORE_OK) {
    say("error: %s", store_errmsg(d->store));
    free(rows.rows);
    return;
  }
  for (int i = 0; i < rows.n && d->nchildren < d->o->max_runs; i++) {
    pending_row *p = &rows.rows[i];
    if (resuming(d, p->id)) continue;
    int won = 0;
    if (store_daemon_claim(d->store, p->id, p->updated_ms, now,
                           now - d->claim_ttl_ms, d->me, &won) != STORE_OK ||
        !won)
      continue;
    static const struct {
      const char *why, *text;
    } WHY[] = {{"wake", "its sleep is over"},
               {"approval", "a decision came on its approval gate"},
               {"orphan", "its owner died"},
               {"restart", "the daemon's stop interrupted it"}};
    const char *text = p->why;
    for (size_t k = 0; k < sizeof WHY / sizeof WHY[0]; k++)
      if (!strcmp(WHY[k].why, p->why)) text = WHY[k].text;
    start_resume(d, p->id, p->why, text, 0);
  }
  free(rows.rows);
}

/* ---- queued runs (summit submit, docs/workers.md) -------------------- */

typedef struct {
  daemon_t *d;
  int room;                  /* children this poll may still start */
  char (*ids)[64];
  int n;
} queued_rows;

static int collect_queued(void *ud, const store_queued *q) {
  queued_rows *r = ud;
  if (!labels_match(q->run_on, r->d->o->labels) || resuming(r->d, q->id))
    return 0;
  snprintf(r->ids[r->n++], sizeof r->ids[0], "%s", q->id);
  return r->n >= r->room;  /* enough for the free slots */
}

/* Claims and starts the oldest queued runs this daemon's labels match,
 * as many as it has free slots. */
static void take_queued(daemon_t *d, int64_t now) {
  queued_rows rows = {.d = d, .room = d->o->max_runs - d->nchildren};
  if (rows.room <= 0) return;
  /* A few more than the slots: other workers claim some meanwhile. */
  rows.room *= 4;
  rows.ids = calloc((size_t)rows.room, sizeof *rows.ids);
  if (!rows.ids) return;
  if (store_queue_list(d->store, now - d->claim_ttl_ms, collect_queued,
                       &rows) < 0) {
    say("error: %s", store_errmsg(d->store));
    free(rows.ids);
    return;
  }
  for (int i = 0; i < rows.n && d->nchildren < d->o->max_runs; i++) {
    int won = 0;
    if (store_queue_claim(d->store, rows.ids[i], now, now - d->claim_ttl_ms,
                          d->me, &won) != STORE_OK ||
        !won)
      continue;  /* another worker took it */
    start_resume(d, rows.ids[i], "queued", "submitted; this daemon's labels "
                 "match", 1);
  }
  free(rows.ids);
}

/* ---- the loop -------------------------------------------------------- */

static void on_poll(uv_timer_t *t) {
  daemon_t *d = t->data;
  if (d->stopping) return;
  int64_t now = runtime_now_ms();
  fire_schedules(d, now);
  continue_runs(d, now);
  take_queued(d, now);
  if (d->o->once) {
    uv_timer_stop(&d->poll);
    if (d->nchildren == 0) finish(d);
  }
}

static void on_grace(uv_timer_t *t) {
  daemon_t *d = t->data;
  for (child_t *c = d->children; c; c = c->next) {
    say("child %d did not stop in time: SIGKILL", c->proc.pid);
    uv_process_kill(&c->proc, SIGKILL);
  }
}

static void on_signal(uv_signal_t *h, int sig) {
  daemon_t *d = h->data;
  if (d->stopping) return;
  d->stopping = 1;
  uv_timer_stop(&d->poll);
  say("%s: stopping; %d run%s to stop", sig == SIGTERM ? "SIGTERM" : "SIGINT",
      d->nchildren, d->nchildren == 1 ? "" : "s");
  if (!d->nchildren) {
    finish(d);
    return;
  }
  for (child_t *c = d->children; c; c = c->next)
    uv_process_kill(&c->proc, SIGTERM);
  uv_timer_start(&d->grace, on_grace,
                 (uint64_t)(d->o->grace_ms > 0 ? d->o->grace_ms : 30000), 0);
}

static int build_env(daemon_t *d) {
  size_t n = 0;
  while (environ[n]) n++;
  d->env = calloc(n + 2, sizeof *d->env);
  size_t len = strlen(d->o->state_dir) + 32;
  d->env_state = malloc(len);
  if (!d->env || !d->env_state) return -1;
  snprintf(d->env_state, len, "SUMMIT_STATE_DIR=%s", d->o->state_dir);
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (strncmp(environ[i], "SUMMIT_STATE_DIR=", 17) != 0)
      d->env[k++] = environ[i];
  d->env[k++] = d->env_state;
  assert(k <= n + 1);
  d->env[k] = NULL;
  return 0;
}

int daemon_main(const daemon_opts *o) {
  daemon_t d;
  memset(&d, 0, sizeof d);
  d.o = o;
  d.log_fd = -1;
  int code = EXIT_FAILED;
  char path[4200], err[1024];
  io_private_dir(o->state_dir);  /* as summit run does: parents too */
  store_target(o->state_dir, path, sizeof path);
  d.store = store_open(path, 1, STORE_DURABILITY_FULL, err, sizeof err);
  if (!d.store) {
    fprintf(stderr, "summit daemon: %s\n", err);
    return EXIT_FAILED;
  }
  snprintf(path, sizeof path, "%s/daemon.log", o->state_dir);
  d.log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (d.log_fd < 0) {
    fprintf(stderr, "summit daemon: cannot open %s: %s\n", path,
            strerror(errno));
    goto out;
  }
  if (build_env(&d) != 0) goto out;
  if (gethostname(d.host, sizeof d.host) != 0) snprintf(d.host, 8, "?");
  d.host[sizeof d.host - 1] = '\0';
  snprintf(d.me, sizeof d.me, "%s:%d", d.host, (int)getpid());
  if (o->time_scale > 0 && o->time_scale != 1)
    snprintf(d.scale, sizeof d.scale, "%g", o->time_scale);
  int64_t ttl = ctx_lease_ttl_ms();
  if (ttl < 0) {
    code = EXIT_USAGE;
    goto out;
  }
  d.claim_ttl_ms = ttl > CLAIM_TTL_MIN_MS ? ttl : CLAIM_TTL_MIN_MS;
  d.started_ms = runtime_now_ms();
  /* --once runs from a scheduler of its own (a CronJob) that may start it
   * a little late: fires of the last 2 minutes are on time, not missed. */
  if (o->once) d.started_ms -= 120000 - DAEMON_MISSED_GRACE_MS;
  if (uv_loop_init(&d.loop) != 0) goto out;
  uv_timer_init(&d.loop, &d.poll);
  uv_timer_init(&d.loop, &d.grace);
  uv_signal_init(&d.loop, &d.sigterm);
  uv_signal_init(&d.loop, &d.sigint);
  d.poll.data = d.grace.data = d.sigterm.data = d.sigint.data = &d;
  uv_signal_start(&d.sigterm, on_signal, SIGTERM);
  uv_signal_start(&d.sigint, on_signal, SIGINT);
  int64_t poll = o->poll_ms > 0 ? o->poll_ms : 500;
  cJSON *ad = cJSON_CreateObject();
  cJSON_AddNumberToObject(ad, "pid", (double)getpid());
  cJSON_AddStringToObject(ad, "host", d.host);
  cJSON_AddNumberToObject(ad, "max_runs", o->max_runs);
  cJSON_AddItemToObject(ad, "labels", o->labels ? cJSON_Parse(o->labels)
                                                : cJSON_CreateObject());
  audit(&d, NULL, "daemon.started", ad);
  char labels[512];
  labels_text(o->labels, labels, sizeof labels);
  say("summit daemon %s: state %s, polling every %lld ms, at most %d "
      "run%s at once%s, labels %s", d.me, o->state_dir, (long long)poll,
      o->max_runs, o->max_runs == 1 ? "" : "s", o->once ? " (once)" : "",
      o->labels ? labels : "none");
  uv_timer_start(&d.poll, on_poll, 0, o->once ? 0 : (uint64_t)poll);
  uv_run(&d.loop, UV_RUN_DEFAULT);
  ad = cJSON_CreateObject();
  cJSON_AddNumberToObject(ad, "pid", (double)getpid());
  audit(&d, NULL, "daemon.stopped", ad);
  say("summit daemon %s: stopped", d.me);
  code = uv_loop_close(&d.loop) == 0 ? EXIT_OK : EXIT_FAILED;
out:
  if (d.log_fd >= 0) close(d.log_fd);
  free(d.env);
  free(d.env_state);
  store_close(d.store);
  return code;
}
