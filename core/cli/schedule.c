/* summit schedule add | list | remove | pause | resume (docs/schedules.md).
 * The daemon (summit daemon) is what fires them. */
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
static store_t *open_rw(void) {
  const char *dir = cli_state_dir();
  char path[4200], err[1024];
  if (io_private_dir(dir) != 0) {
    fprintf(stderr, "summit schedule: cannot create state directory %s: "
            "%s\n", dir, strerror(errno));
    return NULL;
  }
  snprintf(path, sizeof path, "%s/state.db", dir);
  store_t *s = store_open(path, 1, STORE_DURABILITY_FULL, err, sizeof err);
  if (!s) fprintf(stderr, "summit schedule: %s\n", err);
  return s;
}

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

static int add(int argc, char **argv) {
  const char *name = NULL, *cron = NULL, *every = NULL, *runbook = NULL;
  const char *env = NULL, *tz = "UTC", *missed = "skip", *config = NULL, *v;
  int paused = 0, r;
  cJSON *params = cJSON_CreateObject();
  for (int i = 0; i < argc; i++) {
    if ((r = cli_opt(argc, argv, &i, "--cron", &v))) cron = v;
    else if ((r = cli_opt(argc, argv, &i, "--every", &v))) every = v;
    else if ((r = cli_opt(argc, argv, &i, "--env", &v))) env = v;
    else if ((r = cli_opt(argc, argv, &i, "--tz", &v))) tz = v;
    else if ((r = cli_opt(argc, argv, &i, "--missed", &v))) missed = v;
    else if ((r = cli_opt(argc, argv, &i, "--config", &v))) config = v;
    else if ((r = cli_opt(argc, argv, &i, "-p", &v)) ||
             (r = cli_opt(argc, argv, &i, "--param", &v))) {
      const char *eq = r > 0 ? strchr(v, '=') : NULL;
      if (r > 0 && (!eq || eq == v)) {
        cJSON_Delete(params);
        return cli_usage("schedule", "-p %s: expected key=value", v);
      }
      if (r > 0) {
        char *k = strndup(v, (size_t)(eq - v));
        cJSON_DeleteItemFromObjectCaseSensitive(params, k);
        cJSON_AddStringToObject(params, k, eq + 1);
        free(k);
      }
    } else if (cli_flag(argv, i, "--paused")) {
      paused = 1;
      continue;
    } else if (argv[i][0] == '-') {
      cJSON_Delete(params);
      return cli_usage("schedule", "unknown option %s", argv[i]);
    } else if (!name) {
      name = argv[i];
      continue;
    } else if (!runbook) {
      runbook = argv[i];
      continue;
    } else {
      cJSON_Delete(params);
      return cli_usage("schedule", "one runbook per schedule, got '%s' and "
                       "'%s'", runbook, argv[i]);
    }
    if (r < 0) {
      cJSON_Delete(params);
      return EXIT_USAGE;
    }
  }
  int code = EXIT_USAGE;
  char err[512], text[256], *params_json = NULL, cwd[PATH_MAX];
  char *file = NULL, *cfg = NULL;
  store_t *s = NULL;
  if (!name || !runbook) {
    cli_usage("schedule", "usage: " USAGE_ADD);
    goto out;
  }
  if (!valid_name(name)) {
    cli_usage("schedule", "schedule name '%s': use letters, digits, '-', "
              "'_' and '.' (at most 64)", name);
    goto out;
  }
  if (!cron == !every) {
    cli_usage("schedule", "give --cron EXPR or --every DURATION (one of "
              "them)");
    goto out;
  }
  if (every) snprintf(text, sizeof text, "@every %s", every);
  else snprintf(text, sizeof text, "%s", cron);
  cron_expr e;
  if (cron_parse(text, &e, err, sizeof err) != 0) {
    cli_usage("schedule", "%s: %s", every ? "--every" : "--cron", err);
    goto out;
  }
  if (cron_tz_check(tz, err, sizeof err) != 0) {
    cli_usage("schedule", "--tz: %s", err);
    goto out;
  }
  if (strcmp(missed, "skip") && strcmp(missed, "run-once")) {
    cli_usage("schedule", "--missed must be 'skip' or 'run-once', not '%s'",
              missed);
    goto out;
  }
  if (!getcwd(cwd, sizeof cwd)) {
    fprintf(stderr, "summit schedule: cannot read the working directory\n");
    goto out;
  }
  /* A file is kept by its absolute path; a name is looked up when the
   * schedule fires, from here (so a newer version is picked up). */
  struct stat st;
  const char *found_cfg = config ? config : cli_find_config();
  if (found_cfg) cfg = realpath(found_cfg, NULL);
  if (config && !cfg) {
    cli_usage("schedule", "--config %s: %s", config, strerror(errno));
    goto out;
  }
  if (stat(runbook, &st) == 0 && !S_ISDIR(st.st_mode)) {
    file = realpath(runbook, NULL);
  } else {
    engine_opts o;
    memset(&o, 0, sizeof o);
    o.config_path = cfg;
    o.state_dir = cli_state_dir();
    char *path = NULL;
    if (engine_find_runbook(&o, runbook, &path) != 0) goto out;
    free(path);
  }
  int64_t now = runtime_now_ms();
  int64_t next = cron_next(&e, tz, now);
  if (next < 0) {
    cli_usage("schedule", "--cron '%s' never fires", text);
    goto out;
  }
  params_json = cJSON_PrintUnformatted(params);
  if (!(s = open_rw())) {
    code = EXIT_FAILED;
    goto out;
  }
  store_schedule sc = {
    .name = name, .cron = text, .tz = tz, .runbook = file ? file : runbook,
    .params = params_json, .env = env, .config_path = cfg, .dir = cwd,
    .missed = missed, .paused = paused, .created_by = cli_user(),
    .created_ms = now, .next_fire_ms = next,
  };
  int rc = store_schedule_add(s, &sc);
  if (rc == STORE_BUSY) {
    fprintf(stderr, "summit schedule: %s (remove it first: summit schedule "
            "remove %s)\n", store_errmsg(s), name);
    goto out;
  }
  if (rc != STORE_OK) {
    fprintf(stderr, "summit schedule: %s\n", store_errmsg(s));
    code = EXIT_FAILED;
    goto out;
  }
  cJSON *d = cJSON_CreateObject();
  cJSON_AddStringToObject(d, "schedule", name);
  cJSON_AddStringToObject(d, "cron", text);
  cJSON_AddStringToObject(d, "tz", tz);
  cJSON_AddStringToObject(d, "runbook", sc.runbook);
  if (env) cJSON_AddStringToObject(d, "env", env);
  cJSON_AddStringToObject(d, "missed", missed);
  audit(s, "schedule.added", d);
  char ts[40];
  events_rfc3339(next, ts, sizeof ts);
  printf("schedule %s added: %s (%s), next fire %s%s\n", term_str(name),
         term_str(text), term_str(tz), ts,
         paused ? " (paused)" : "");
  code = EXIT_OK;
out:
  if (s) store_close(s);
  cJSON_Delete(params);
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
  int code = EXIT_OK;
  if (rc == STORE_NOTFOUND) {
    fprintf(stderr, "summit schedule: no schedule named '%s' (see: summit "
            "schedule list)\n", name);
    code = EXIT_USAGE;
  } else if (rc != STORE_OK) {
    fprintf(stderr, "summit schedule: %s\n", store_errmsg(s));
    code = EXIT_FAILED;
  } else {
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

int cmd_schedule(int argc, char **argv) {
  if (argc < 1)
    return cli_usage("schedule", "add, list, remove, pause or resume?");
  const char *sub = argv[0];
  if (!strcmp(sub, "add")) return add(argc - 1, argv + 1);
  if (!strcmp(sub, "list")) return list(argc - 1, argv + 1);
  if (!strcmp(sub, "remove") || !strcmp(sub, "pause") ||
      !strcmp(sub, "resume"))
    return change(sub, argc - 1, argv + 1);
  return cli_usage("schedule", "unknown subcommand '%s' (add, list, remove, "
                   "pause, resume)", sub);
}
