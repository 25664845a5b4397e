/* summit runs | status | log | result: reading the state database. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/fold.h"
#include "engine/engine.h"
#include "engine/events.h"
#include "engine/labels.h"
#include "engine/runtime.h"
#include "io/term.h"
#include "store/store.h"

static void print_json(cJSON *o) {
  char *s = cJSON_PrintUnformatted(o);
  if (s) puts(s);
  free(s);
  cJSON_Delete(o);
}

typedef struct {
  int json, count;
} list_ctx;

static int list_one(void *ud, const store_run *r) {
  list_ctx *c = ud;
  c->count++;
  if (c->json) {
    print_json(cli_run_json(r));
    return 0;
  }
  char ts[40] = "";
  events_rfc3339(r->created_ms, ts, sizeof ts);
  ts[19] = '\0';
  char owner[300] = "";
  if (r->owner_pid) {
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    int64_t now = runtime_now_ms();
    int live = store_run_alive("running", r->owner_pid, r->owner_host,
                               r->lease_expires_ms, host, now);
    snprintf(owner, sizeof owner, "pid %lld@%s, heartbeat %llds ago%s",
             (long long)r->owner_pid, r->owner_host ? r->owner_host : "?",
             (long long)((now - r->heartbeat_ms) / 1000),
             live ? "" : " (dead: resumable)");
  } else if (!strcmp(r->status, "running")) {
    snprintf(owner, sizeof owner, "none (resumable)");
  } else if (!strcmp(r->status, "queued")) {
    char on[256];
    labels_text(r->run_on, on, sizeof on);
    snprintf(owner, sizeof owner, "waiting for %s", on);
  }
  printf("%-15s %-16s %-20s %-10s %-20s %-10s %s\n", r->id, r->status,
         term_str(r->name), r->version ? term_str(r->version) : "-", ts,
         r->started_by ? term_str(r->started_by) : "-", term_str(owner));
  return 0;
}

/* ---- runs --waiting: what waits on whom ----------------------------- */

typedef struct {
  int json, count;
  cJSON *gated;        /* run ids with an open gate (not listed as sleeps) */
} waiting_ctx;

static int waiting_gate(void *ud, cJSON *w) {
  waiting_ctx *c = ud;
  c->count++;
  const cJSON *run = cJSON_GetObjectItem(w, "run");
  if (cJSON_IsString(run) && !cJSON_GetObjectItem(c->gated, run->valuestring))
    cJSON_AddTrueToObject(c->gated, run->valuestring);
  if (c->json) {
    print_json(w);
    return 0;
  }
  const cJSON *rb = cJSON_GetObjectItem(w, "runbook"),
              *st = cJSON_GetObjectItem(w, "status");
  printf("run %s (%s, %s) waits on:\n", term_str(run->valuestring),
         cJSON_IsString(rb) ? term_str(rb->valuestring) : "?",
         cJSON_IsString(st) ? st->valuestring : "?");
  cli_wait_print(w, "  ");
  cJSON_Delete(w);
  return 0;
}

static int waiting_sleep(void *ud, const store_run *r) {
  waiting_ctx *c = ud;
  if (!r->wake_ms || cJSON_GetObjectItem(c->gated, r->id)) return 0;
  c->count++;
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "run", r->id);
  cli_json_str(o, "runbook", r->name);
  cli_json_str(o, "status", r->status);
  cJSON_AddStringToObject(o, "kind", "sleep");
  cli_json_time(o, "wake", r->wake_ms);
  char cmd[200];
  snprintf(cmd, sizeof cmd, "summit resume %s", r->id);
  cJSON_AddStringToObject(o, "command", cmd);
  if (c->json) {
    print_json(o);
    return 0;
  }
  printf("run %s (%s, %s) waits on:\n", r->id, term_str(r->name), r->status);
  cli_wait_print(o, "  ");
  cJSON_Delete(o);
  return 0;
}

static int list_waiting(store_t *s, int json) {
  waiting_ctx c = {.json = json, .gated = cJSON_CreateObject()};
  int rc = cli_waits(s, NULL, waiting_gate, &c);
  if (rc == STORE_OK) rc = store_run_list(s, "suspended", waiting_sleep, &c);
  if (rc != STORE_OK) fprintf(stderr, "summit: %s\n", store_errmsg(s));
  else if (!json && !c.count) printf("nothing waits\n");
  cJSON_Delete(c.gated);
  return rc == STORE_OK ? EXIT_OK : EXIT_FAILED;
}

int cmd_runs(int argc, char **argv) {
  list_ctx c = {0};
  const char *status = NULL;
  int waiting = 0;
  for (int i = 0; i < argc; i++) {
    int r;
    if (cli_flag(argv, i, "--json")) c.json = 1;
    else if (cli_flag(argv, i, "--waiting")) waiting = 1;
    else if ((r = cli_opt(argc, argv, &i, "--status", &status))) {
      if (r < 0) return EXIT_USAGE;
    } else return cli_usage("runs", "unknown argument %s", argv[i]);
  }
  if (waiting && status)
    return cli_usage("runs", "--waiting and --status exclude each other");
  store_t *s = cli_open_store();
  if (!s) return EXIT_FAILED;
  if (waiting) {
    int code = list_waiting(s, c.json);
    store_close(s);
    return code;
  }
  if (!c.json)
    printf("%-15s %-16s %-20s %-10s %-20s %-10s %s\n", "RUN", "STATUS",
           "RUNBOOK", "VERSION", "CREATED (UTC)", "BY", "OWNER");
  int rc = store_run_list(s, status, list_one, &c);
  if (rc != STORE_OK) fprintf(stderr, "summit: %s\n", store_errmsg(s));
  store_close(s);
  return rc == STORE_OK ? EXIT_OK : EXIT_FAILED;
}

/* ---- status: the newest state of each entry ------------------------ */

/* `summit CMD RUN [--json]`: reads the run named in argv and hands it, with
 * the open store, to show; returns what show returns, or the exit code of
 * a usage error or a run that cannot be read. */
static int with_run(const char *cmd, int argc, char **argv,
                    int (*show)(store_t *s, const store_run *r, int json)) {
  const char *id = NULL;
  int json = 0;
  for (int i = 0; i < argc; i++) {
    if (cli_flag(argv, i, "--json")) json = 1;
    else if (argv[i][0] == '-') return cli_usage(cmd, "unknown option %s", argv[i]);
    else id = argv[i];
  }
  if (!id) return cli_usage(cmd, "which run? summit %s RUN", cmd);
  store_t *s = cli_open_store();
  if (!s) return EXIT_FAILED;
  store_run r;
  int rc = store_run_get(s, id, &r), code;
  if (rc == STORE_OK) {
    code = show(s, &r, json);
    store_run_free(&r);
  } else {
    if (rc == STORE_NOTFOUND) fprintf(stderr, "summit: no run %s\n", id);
    else fprintf(stderr, "summit: %s\n", store_errmsg(s));
    code = rc == STORE_NOTFOUND ? EXIT_USAGE : EXIT_FAILED;
  }
  store_close(s);
  return code;
}

/* status for people: the run, each entry's newest state, what it waits on. */
static void status_print(const store_run *r, const char *result,
                         const journal_fold *c, cJSON *waits,
                         const cJSON *pins) {
  printf("run      %s\nrunbook  %s %s (%s, sha256 %.12s)\nstatus   %s\n",
         r->id, term_str(r->name), r->version ? term_str(r->version) : "",
         term_str(r->source_path), r->source_sha256, r->status);
  printf("params   %s\nby       %s\n", term_str(r->params),
         r->started_by ? term_str(r->started_by) : "-");
  cli_pins_print(pins);
  if (r->wake_ms) {
    char ts[40];
    events_rfc3339(r->wake_ms, ts, sizeof ts);
    printf("wakes    %s\n", ts);
  }
  /* The result as summit result prints it, cut (at a UTF-8 boundary)
   * for a terminal. */
  if (result) {
    size_t n = strlen(result), cut = n > 200 ? 200 : n;
    while (cut < n && cut > 0 && (result[cut] & 0xC0) == 0x80) cut--;
    char *shown = term_escape(result, cut, 0);
    printf("result   %s%s\n", shown ? shown : "(out of memory)",
           cut < n ? "... (summit result RUN prints it whole)" : "");
    free(shown);
  }
  if (r->error) printf("error    %s\n", term_str(r->error));
  if (r->failed_key) printf("at key   %s\n", term_str(r->failed_key));
  if (r->run_on || !strcmp(r->status, "queued")) {
    char on[256];
    labels_text(r->run_on, on, sizeof on);
    printf("on       %s%s\n", term_str(on),
           strcmp(r->status, "queued") ? "" : " (queued: a daemon whose "
           "--labels match starts it)");
  }
  if (r->owner_pid && r->lease_expires_ms > runtime_now_ms())
    printf("owner    pid %lld on %s\n", (long long)r->owner_pid,
           r->owner_host ? term_str(r->owner_host) : "?");
  printf("\n%-14s %-9s %-10s %-8s %s\n", "KEY", "KIND", "STATE", "ATTEMPT",
         "NAME");
  for (size_t i = 0; i < c->n; i++) {
    const fold_entry *x = &c->v[i];
    const char *kind = x->kind ? x->kind : "";
    if (!strcmp(kind, "now") || !strcmp(kind, "random")) continue;
    printf("%-14s %-9s %-10s %-8d %s\n", term_str(x->key), term_str(kind),
           term_str(x->state), (int)x->attempt,
           x->name ? term_str(x->name) : "");
  }
  if (cJSON_GetArraySize(waits) > 0) printf("\nwaiting on\n");
  cJSON *w;
  cJSON_ArrayForEach(w, waits) cli_wait_print(w, "  ");
}

static int show_status(store_t *s, const store_run *r, int json) {
  if (json) {
    int oom;
    char *text = cli_status_json(s, r, &oom);
    if (!text) {
      fprintf(stderr, "summit: %s\n", oom ? "out of memory" : store_errmsg(s));
      return EXIT_FAILED;
    }
    puts(text);
    free(text);
    return EXIT_OK;
  }
  run_view v;
  if (run_view_load(s, r, &v) != STORE_OK) {
    fprintf(stderr, "summit: %s\n", v.fold.oom ? "out of memory" : store_errmsg(s));
    run_view_free(&v);
    return EXIT_FAILED;
  }
  status_print(r, v.result, &v.fold, v.waits, v.pins);
  run_view_free(&v);
  return EXIT_OK;
}

int cmd_status(int argc, char **argv) {
  return with_run("status", argc, argv, show_status);
}

/* ---- result: what run() returned ----------------------------------- */

/* The exit code `summit run` gives a run in this state (DESIGN §5): a
 * run without a result says by it why it has none. */
static int status_code(const store_run *r) {
  if (!strcmp(r->status, "succeeded")) return EXIT_OK;
  if (!strcmp(r->status, "suspended")) return EXIT_SUSPENDED;
  if (!strcmp(r->status, "cancelled")) return EXIT_CANCELLED;
  if (!strcmp(r->status, "needs_attention")) return EXIT_ATTENTION;
  if (!strcmp(r->status, "interrupted")) return EXIT_INTERRUPTED;
  if (!strcmp(r->status, "queued")) return EXIT_BUSY;  /* not started yet */
  if (strcmp(r->status, "running")) return EXIT_FAILED; /* failed, rolled back */
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  return store_run_alive(r->status, r->owner_pid, r->owner_host,
                         r->lease_expires_ms, host, runtime_now_ms())
             ? EXIT_BUSY : EXIT_INTERRUPTED;
}

static int show_result(store_t *s, const store_run *r, int json) {
  (void)json;  /* the result is JSON already */
  char *result = NULL;
  if (store_run_result(s, r->id, &result) != STORE_OK) {
    fprintf(stderr, "summit: %s\n", store_errmsg(s));
    return EXIT_FAILED;
  }
  int code = status_code(r);
  if (result) puts(result);
  else if (code == EXIT_OK)  /* succeeded before summit kept results */
    fprintf(stderr, "summit: run %s succeeded but has no result recorded "
            "(it finished before summit kept results)\n", r->id);
  else
    fprintf(stderr, "summit: run %s has no result: it is %s%s\n", r->id,
            r->status, code == EXIT_BUSY && strcmp(r->status, "queued")
                           ? " (running now)"
                       : code == EXIT_INTERRUPTED ? " (resumable)" : "");
  free(result);
  return code;
}

int cmd_result(int argc, char **argv) {
  return with_run("result", argc, argv, show_result);
}

/* ---- log: every journal row ---------------------------------------- */

static int log_row(void *ud, const store_entry *e) {
  int json = *(int *)ud;
  if (json) {
    print_json(cli_log_json(e));
    return 0;
  }
  char ts[40];
  events_rfc3339(e->ts_ms, ts, sizeof ts);
  printf("%s  %-12s %-9s %-9s #%-2lld %s", ts, term_str(e->key),
         term_str(e->kind), e->state, (long long)e->attempt,
         e->name ? term_str(e->name) : "");
  if (e->note) printf("  (%s)", term_str(e->note));
  if (e->error) {
    cJSON *err = cJSON_Parse(e->error);
    const cJSON *m = cJSON_GetObjectItem(err, "message");
    printf("  error: %s", term_str(cJSON_IsString(m) ? m->valuestring
                                                     : e->error));
    cJSON_Delete(err);
  }
  putchar('\n');
  return 0;
}

static int show_log(store_t *s, const store_run *r, int json) {
  if (!json) printf("run %s (%s, %s)\n", r->id, term_str(r->name), r->status);
  store_journal_each(s, r->id, log_row, &json);
  return EXIT_OK;
}

int cmd_log(int argc, char **argv) {
  return with_run("log", argc, argv, show_log);
}

/* ---- locks --------------------------------------------------------- */

static int lock_row(void *ud, const store_lock *l) {
  int json = *(int *)ud;
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  int alive = store_run_alive(l->status, l->owner_pid, l->owner_host,
                              l->lease_expires_ms, host, runtime_now_ms());
  if (json) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "lock", l->name);
    cJSON_AddStringToObject(o, "run", l->run_id);
    cli_json_str(o, "runbook", l->runbook);
    cli_json_str(o, "status", l->status);
    cli_json_time(o, "acquired", l->acquired_ms);
    cJSON_AddBoolToObject(o, "held", alive);
    print_json(o);
    return 0;
  }
  char ts[40];
  events_rfc3339(l->acquired_ms, ts, sizeof ts);
  ts[19] = '\0';
  printf("%-24s %-15s %-16s %-16s %-20s %s\n", term_str(l->name), l->run_id,
         l->runbook ? term_str(l->runbook) : "-", l->status ? l->status : "-", ts,
         alive ? "held" : "stale (free to take)");
  return 0;
}

int cmd_locks(int argc, char **argv) {
  int json = 0;
  for (int i = 0; i < argc; i++) {
    if (cli_flag(argv, i, "--json")) json = 1;
    else return cli_usage("locks", "unknown argument %s", argv[i]);
  }
  store_t *s = cli_open_store();
  if (!s) return EXIT_FAILED;
  if (!json)
    printf("%-24s %-15s %-16s %-16s %-20s %s\n", "LOCK", "RUN", "RUNBOOK",
           "RUN STATUS", "SINCE (UTC)", "STATE");
  int rc = store_lock_list(s, lock_row, &json);
  store_close(s);
  return rc == STORE_OK ? EXIT_OK : EXIT_FAILED;
}
