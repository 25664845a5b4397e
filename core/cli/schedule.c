/* summit schedule add | list | remove | pause | resume | run
 * (docs/schedules.md). The daemon (summit daemon) is what fires them on
 * time; `run` fires one now, in this process. */
#include <cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "engine/cron.h"
#include "engine/daemon.h"
#include "engine/engine.h"
#include "engine/events.h"
#include "engine/runtime.h"
#include "io/file.h"
#include "io/term.h"
#include "lua/audit.h"
#include "store/store.h"

#define USAGE_ADD                                                          \
  "summit schedule add NAME (--cron EXPR | --every D) RUNBOOK [-p k=v]...\n" \
  "           [--env E] [--tz ZONE] [--missed skip|run-once] [--paused]"

/* Opens (creating it if needed) the state database. */
static store_t *open_rw(void) { return cli_open_store_rw("schedule"); }

static int valid_name(const char *n) {
  size_t len = strlen(n);
  if (!len || len > 64) return 0;
  for (const char *p = n; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
      return 0;
  return 1;
}

static void audit(store_t *s, const char *action, cJSON *detail) {
  if (audit_append_to(s, cli_user(), NULL, action, detail, 1) != STORE_OK)
    fprintf(stderr, "summit schedule: recording %s in the audit trail: %s\n",
            action, store_errmsg(s));
}

/* What `schedule add` was given on its command line. */
typedef struct {
  const char *name, *cron, *every, *runbook;
  const char *env, *tz, *missed, *config;
  int paused;
  cJSON *params;  /* the -p key=value pairs, as a JSON object */
} add_args;

/* Sets -p key=value V into a->params (the last one of a key wins). Returns
 * 0, or EXIT_USAGE after saying why. */
static int add_param(add_args *a, const char *v) {
  const char *eq = strchr(v, '=');
  if (!eq || eq == v)
    return cli_usage("schedule", "-p %s: expected key=value", v);
  char *k = strndup(v, (size_t)(eq - v));
  cJSON_DeleteItemFromObjectCaseSensitive(a->params, k);
  cJSON_AddStringToObject(a->params, k, eq + 1);
  free(k);
  return 0;
}

/* Reads argv into *a (whose params the caller creates and frees). Returns
 * 0, or the exit code of a usage error it has already reported. */
static int add_parse(int argc, char **argv, add_args *a) {
  const char *v;
  int r;
  for (int i = 0; i < argc; i++) {
    if ((r = cli_opt(argc, argv, &i, "--cron", &v))) a->cron = v;
    else if ((r = cli_opt(argc, argv, &i, "--every", &v))) a->every = v;
    else if ((r = cli_opt(argc, argv, &i, "--env", &v))) a->env = v;
    else if ((r = cli_opt(argc, argv, &i, "--tz", &v))) a->tz = v;
    else if ((r = cli_opt(argc, argv, &i, "--missed", &v))) a->missed = v;
    else if ((r = cli_opt(argc, argv, &i, "--config", &v))) a->config = v;
    else if ((r = cli_opt(argc, argv, &i, "-p", &v)) ||
             (r = cli_opt(argc, argv, &i, "--param", &v))) {
      if (r > 0 && add_param(a, v)) return EXIT_USAGE;
    } else if (cli_flag(argv, i, "--paused")) {
      a->paused = 1;
      continue;
    } else if (argv[i][0] == '-') {
      return cli_usage("schedule", "unknown option %s", argv[i]);
    } else if (!a->name) {
      a->name = argv[i];
      continue;
    } else if (!a->runbook) {
      a->runbook = argv[i];
      continue;
    } else {
      return cli_usage("schedule", "one runbook per schedule, got '%s' and "
                       "'%s'", a->runbook, argv[i]);
    }
    if (r < 0) return EXIT_USAGE;
  }
  return 0;
}

/* Checks what needs no file system: the name, --cron or --every (parsed
 * into *e, its text in text), --tz and --missed. Returns 0, or EXIT_USAGE
 * after saying why. */
static int add_check(const add_args *a, char *text, size_t text_len,
                     cron_expr *e) {
  char err[512];
  if (!a->name || !a->runbook)
    return cli_usage("schedule", "usage: " USAGE_ADD);
  if (!valid_name(a->name))
    return cli_usage("schedule", "schedule name '%s': use letters, digits, "
                     "'-', '_' and '.' (at most 64)", a->name);
  if (!a->cron == !a->every)
    return cli_usage("schedule", "give --cron EXPR or --every DURATION (one "
                     "of them)");
  if (a->every) snprintf(text, text_len, "@every %s", a->every);
  else snprintf(text, text_len, "%s", a->cron);
  if (cron_parse(text, e, err, sizeof err) != 0)
    return cli_usage("schedule", "%s: %s", a->every ? "--every" : "--cron",
                     err);
  if (cron_tz_check(a->tz, err, sizeof err) != 0)
    return cli_usage("schedule", "--tz: %s", err);
  if (strcmp(a->missed, "skip") && strcmp(a->missed, "run-once"))
    return cli_usage("schedule", "--missed must be 'skip' or 'run-once', "
                     "not '%s'", a->missed);
  return 0;
}

/* Resolves the config (*cfg, absolute, or NULL when there is none) and the
 * runbook: a file is kept by its absolute path (*file); a name is only
 * checked now and looked up again when the schedule fires, from here (so a
 * newer version is picked up). The caller frees *cfg and *file. Returns 0,
 * or EXIT_USAGE after saying why. */
static int add_resolve(const add_args *a, char **cfg, char **file) {
  struct stat st;
  const char *found_cfg = a->config ? a->config : cli_find_config();
  if (found_cfg) *cfg = realpath(found_cfg, NULL);
  if (a->config && !*cfg)
    return cli_usage("schedule", "--config %s: %s", a->config,
                     strerror(errno));
  if (stat(a->runbook, &st) == 0 && !S_ISDIR(st.st_mode)) {
    *file = realpath(a->runbook, NULL);
    return 0;
  }
  engine_opts o;
  memset(&o, 0, sizeof o);
  o.config_path = *cfg;
  o.state_dir = cli_state_dir();
  char *path = NULL;
  if (engine_find_runbook(&o, a->runbook, &path) != 0) return EXIT_USAGE;
  free(path);
  return 0;
}

/* Records the new schedule sc in the audit trail and tells the user. */
static void add_report(store_t *s, const store_schedule *sc) {
  cJSON *d = cJSON_CreateObject();
  cJSON_AddStringToObject(d, "schedule", sc->name);
  cJSON_AddStringToObject(d, "cron", sc->cron);
  cJSON_AddStringToObject(d, "tz", sc->tz);
  cJSON_AddStringToObject(d, "runbook", sc->runbook);
  if (sc->env) cJSON_AddStringToObject(d, "env", sc->env);
  cJSON_AddStringToObject(d, "missed", sc->missed);
  audit(s, "schedule.added", d);
  char ts[40];
  events_rfc3339(sc->next_fire_ms, ts, sizeof ts);
  printf("schedule %s added: %s (%s), next fire %s%s\n", term_str(sc->name),
         term_str(sc->cron), term_str(sc->tz), ts,
         sc->paused ? " (paused)" : "");
}

/* Stores sc. Returns its exit code: EXIT_USAGE when a schedule of that name
 * exists, EXIT_FAILED when the store fails. */
static int add_store(store_schedule *sc) {
  store_t *s = open_rw();
  if (!s) return EXIT_FAILED;
  int code = EXIT_OK, rc = store_schedule_add(s, sc);
  if (rc == STORE_BUSY) {
    fprintf(stderr, "summit schedule: %s (remove it first: summit schedule "
            "remove %s)\n", store_errmsg(s), sc->name);
    code = EXIT_USAGE;
  } else if (rc != STORE_OK) {
    fprintf(stderr, "summit schedule: %s\n", store_errmsg(s));
    code = EXIT_FAILED;
  } else {
    add_report(s, sc);
  }
  store_close(s);
  return code;
}

static int add(int argc, char **argv) {
  add_args a = {.tz = "UTC", .missed = "skip",
                .params = cJSON_CreateObject()};
  char text[256], cwd[PATH_MAX], *params_json = NULL;
  char *file = NULL, *cfg = NULL;
  cron_expr e;
  int code = add_parse(argc, argv, &a);
  if (!code) code = add_check(&a, text, sizeof text, &e);
  if (code) goto out;
  code = EXIT_USAGE;
  if (!getcwd(cwd, sizeof cwd)) {
    fprintf(stderr, "summit schedule: cannot read the working directory\n");
    goto out;
  }
  if (add_resolve(&a, &cfg, &file) != 0) goto out;
  int64_t now = runtime_now_ms();
  int64_t next = cron_next(&e, a.tz, now);
  if (next < 0) {
    cli_usage("schedule", "--cron '%s' never fires", text);
    goto out;
  }
  params_json = cJSON_PrintUnformatted(a.params);
  store_schedule sc = {
    .name = a.name, .cron = text, .tz = a.tz,
    .runbook = file ? file : a.runbook, .params = params_json, .env = a.env,
    .config_path = cfg, .dir = cwd, .missed = a.missed, .paused = a.paused,
    .created_by = cli_user(), .created_ms = now, .next_fire_ms = next,
  };
  code = add_store(&sc);
out:
  cJSON_Delete(a.params);
  free(params_json);
  free(file);
  free(cfg);
  return code;
}

typedef struct {
  int json, n;
} list_ctx;

static void add_time(cJSON *o, const char *k, int64_t ms) {
  char ts[40];
  if (!ms) return;
  events_rfc3339(ms, ts, sizeof ts);
  cJSON_AddStringToObject(o, k, ts);
}

static int list_one(void *ud, const store_schedule *sc) {
  list_ctx *c = ud;
  c->n++;
  if (c->json) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "schedule", sc->name);
    cJSON_AddStringToObject(o, "cron", sc->cron);
    cJSON_AddStringToObject(o, "tz", sc->tz);
    cJSON_AddStringToObject(o, "runbook", sc->runbook);
    cJSON_AddItemToObject(o, "params", cJSON_Parse(sc->params));
    if (sc->env) cJSON_AddStringToObject(o, "env", sc->env);
    cJSON_AddStringToObject(o, "missed", sc->missed);
    cJSON_AddBoolToObject(o, "paused", sc->paused);
    if (sc->created_by) cJSON_AddStringToObject(o, "created_by", sc->created_by);
    add_time(o, "created", sc->created_ms);
    if (!sc->paused) add_time(o, "next_fire", sc->next_fire_ms);
    add_time(o, "last_fire", sc->last_fire_ms);
    if (sc->last_run) cJSON_AddStringToObject(o, "last_run", sc->last_run);
    if (sc->last_run_status)
      cJSON_AddStringToObject(o, "last_run_status", sc->last_run_status);
    if (sc->last_status)
      cJSON_AddStringToObject(o, "last_status", sc->last_status);
    if (sc->last_note) cJSON_AddStringToObject(o, "last_note", sc->last_note);
    cJSON_AddNumberToObject(o, "consecutive_failures",
                            (double)sc->consecutive_failures);
    char *s = cJSON_PrintUnformatted(o);
    puts(s);
    free(s);
    cJSON_Delete(o);
    return 0;
  }
  if (c->n == 1)
    printf("%-20s %-18s %-16s %-22s %-16s %s\n", "SCHEDULE", "WHEN", "TZ",
           "NEXT FIRE", "LAST RUN", "STATUS");
  char next[40] = "paused";
  if (!sc->paused) events_rfc3339(sc->next_fire_ms, next, sizeof next);
  char status[160];
  snprintf(status, sizeof status, "%s%s%s%s",
           sc->last_run_status ? sc->last_run_status
                               : sc->last_status ? sc->last_status : "-",
           sc->last_note ? " (" : "", sc->last_note ? sc->last_note : "",
           sc->last_note ? ")" : "");
  printf("%-20s %-18s %-16s %-22s %-16s %s", term_str(sc->name),
         term_str(sc->cron), term_str(sc->tz), next,
         sc->last_run ? term_str(sc->last_run) : "-", term_str(status));
  if (sc->consecutive_failures)
    printf(", %lld failed in a row", (long long)sc->consecutive_failures);
  printf("\n");
  return 0;
}

static int list(int argc, char **argv) {
  list_ctx c = {0};
  for (int i = 0; i < argc; i++) {
    if (cli_flag(argv, i, "--json")) c.json = 1;
    else return cli_usage("schedule", "list takes --json only, not '%s'",
                          argv[i]);
  }
  store_t *s = cli_open_store();
  if (!s) return c.json ? EXIT_OK : EXIT_USAGE;
  int rc = store_schedule_list(s, list_one, &c);
  if (rc != STORE_OK)
    fprintf(stderr, "summit schedule: %s\n", store_errmsg(s));
  else if (!c.n && !c.json)
    printf("no schedules (add one: summit schedule add NAME --cron EXPR "
           "RUNBOOK)\n");
  store_close(s);
  return rc == STORE_OK ? EXIT_OK : EXIT_FAILED;
}

typedef struct {
  char cron[256], tz[64];
} cron_of;

static int get_cron(void *ud, const store_schedule *sc) {
  cron_of *c = ud;
  snprintf(c->cron, sizeof c->cron, "%s", sc->cron);
  snprintf(c->tz, sizeof c->tz, "%s", sc->tz);
  return 0;
}

/* The exit code for a store call's rc on the schedule name (printing why
 * it is not EXIT_OK): 2 for no such schedule. */
static int named_rc(store_t *s, int rc, const char *name) {
  if (rc == STORE_NOTFOUND) {
    fprintf(stderr, "summit schedule: no schedule named '%s' (see: summit "
            "schedule list)\n", name);
    return EXIT_USAGE;
  }
  if (rc != STORE_OK) {
    fprintf(stderr, "summit schedule: %s\n", store_errmsg(s));
    return EXIT_FAILED;
  }
  return EXIT_OK;
}

/* remove, pause, resume NAME */
static int change(const char *what, int argc, char **argv) {
  if (argc != 1 || argv[0][0] == '-')
    return cli_usage("schedule", "usage: summit schedule %s NAME", what);
  const char *name = argv[0];
  store_t *s = cli_open_store();
  if (!s) return EXIT_USAGE;
  int rc;
  if (!strcmp(what, "remove")) {
    rc = store_schedule_remove(s, name);
  } else {
    /* A resumed schedule fires next after now: what it missed while
     * paused is not made up. */
    cron_of c;
    rc = store_schedule_get(s, name, get_cron, &c);
    int64_t next = 0;
    if (rc == STORE_OK && !strcmp(what, "resume")) {
      cron_expr e;
      char err[256];
      if (cron_parse(c.cron, &e, err, sizeof err) == 0)
        next = cron_next(&e, c.tz, runtime_now_ms());
    }
    if (rc == STORE_OK)
      rc = store_schedule_set_paused(s, name, !strcmp(what, "pause"), next);
  }
  int code = named_rc(s, rc, name);
  if (code == EXIT_OK) {
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "schedule", name);
    char action[64];
    snprintf(action, sizeof action, "schedule.%s",
             !strcmp(what, "remove") ? "removed"
             : !strcmp(what, "pause") ? "paused" : "resumed");
    audit(s, action, d);
    printf("schedule %s %s\n", name, action + 9);
  }
  store_close(s);
  return code;
}

/* ---- run NAME: a fire now ------------------------------------------ */

/* What `schedule run` needs of the schedule (copied out of the callback). */
typedef struct {
  char *runbook, *params, *env, *config, *dir;
} fire_of;

static int get_fire(void *ud, const store_schedule *sc) {
  fire_of *f = ud;
  f->runbook = strdup(sc->runbook);
  f->params = sc->params ? strdup(sc->params) : NULL;
  f->env = sc->env ? strdup(sc->env) : NULL;
  f->config = sc->config_path ? strdup(sc->config_path) : NULL;
  f->dir = sc->dir ? strdup(sc->dir) : NULL;
  return 0;
}

static void fire_free(fire_of *f) {
  free(f->runbook); free(f->params); free(f->env); free(f->config);
  free(f->dir);
}

/* The run's end for its schedule, as the daemon records it after its
 * child: a final status counts in consecutive_failures; a fire that
 * started no run is an error. A run that waits is the daemon's to finish
 * (it resumes scheduled runs and records them then). */
static void fire_ended(const char *name, int64_t fire_ms, int code) {
  store_t *s = cli_open_store();
  if (!s) return;
  char *run = NULL;
  store_schedule_fire_run(s, name, fire_ms, &run);
  store_run r;
  if (!run) {
    char note[64];
    snprintf(note, sizeof note, "exit %d before a run started", code);
    store_schedule_run_ended(s, name, "error", 0, NULL);
    store_schedule_note(s, name, "error", note);
  } else if (store_run_get(s, run, &r) == STORE_OK) {
    if (daemon_final_status(r.status))
      store_schedule_run_ended(s, name, r.status,
                               !strcmp(r.status, "succeeded"), NULL);
    store_run_free(&r);
  }
  free(run);
  store_close(s);
}

/* Runs the fire in the schedule's directory, as the daemon's child does:
 * the state directory is fixed first, so it does not follow the cd. */
static int fire_now(const char *name, int64_t fire_ms, const fire_of *f,
                    int nextra, char **extra) {
  char *state = realpath(cli_state_dir(), NULL);
  if (state) setenv("SUMMIT_STATE_DIR", state, 1);
  free(state);
  if (f->dir && chdir(f->dir) != 0) {
    fprintf(stderr, "summit schedule run: cannot enter %s, the directory "
            "schedule %s was added in: %s\n", f->dir, name, strerror(errno));
    return EXIT_FAILED;
  }
  char fire[160];
  snprintf(fire, sizeof fire, "%s@%lld", name, (long long)fire_ms);
  /* The daemon's child's arguments, then the options given here. */
  daemon_fire_args fa;
  daemon_fire_args_make(&fa, f->runbook, fire, f->params, f->env, f->config,
                        nextra);
  for (int i = 0; i < nextra; i++) fa.argv[fa.argc++] = extra[i];
  int code = cmd_run(fa.argc - 2, fa.argv + 2);
  daemon_fire_args_free(&fa);
  fire_ended(name, fire_ms, code);
  return code;
}

/* run NAME [--json] [--detach] [--wait-lock] [--time-scale N] */
static int run_now(int argc, char **argv) {
  const char *name = NULL;
  char **extra = calloc((size_t)argc + 1, sizeof *extra);
  int nextra = 0;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "--detach") ||
        !strcmp(argv[i], "--wait-lock")) {
      extra[nextra++] = argv[i];
    } else if (!strcmp(argv[i], "--time-scale") && i + 1 < argc) {
      extra[nextra++] = argv[i++];
      extra[nextra++] = argv[i];
    } else if (!strncmp(argv[i], "--time-scale=", 13)) {
      extra[nextra++] = argv[i];
    } else if (argv[i][0] != '-' && !name) {
      name = argv[i];
    } else {
      free(extra);
      return cli_usage("schedule", "usage: summit schedule run NAME [--json] "
                       "[--detach] [--wait-lock] [--time-scale N] (got '%s')",
                       argv[i]);
    }
  }
  if (!name) {
    free(extra);
    return cli_usage("schedule", "usage: summit schedule run NAME [--json] "
                     "[--detach] [--wait-lock] [--time-scale N]");
  }
  store_t *s = cli_open_store();
  if (!s) {
    free(extra);
    return EXIT_USAGE;   /* no state database: no schedule either */
  }
  fire_of f = {0};
  int64_t fire_ms = runtime_now_ms();
  int code = named_rc(s, store_schedule_get(s, name, get_fire, &f), name);
  if (code == EXIT_OK) {
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "schedule", name);
    add_time(d, "fire", fire_ms);
    cJSON_AddTrueToObject(d, "manual");   /* by `schedule run`, not on time */
    audit(s, "schedule.fired", d);
    code = -1;
  }
  store_close(s);
  if (code < 0) code = fire_now(name, fire_ms, &f, nextra, extra);
  fire_free(&f);
  free(extra);
  return code;
}

int cmd_schedule(int argc, char **argv) {
  if (argc < 1)
    return cli_usage("schedule", "add, list, remove, pause, resume or run?");
  const char *sub = argv[0];
  if (!strcmp(sub, "add")) return add(argc - 1, argv + 1);
  if (!strcmp(sub, "list")) return list(argc - 1, argv + 1);
  if (!strcmp(sub, "remove") || !strcmp(sub, "pause") ||
      !strcmp(sub, "resume"))
    return change(sub, argc - 1, argv + 1);
  if (!strcmp(sub, "run")) return run_now(argc - 1, argv + 1);
  return cli_usage("schedule", "unknown subcommand '%s' (add, list, remove, "
                   "pause, resume, run)", sub);
}
