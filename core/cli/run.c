/* summit run | submit | resume | validate | cancel: argument parsing in
 * front of the engine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "engine/engine.h"
#include "engine/labels.h"

static void defaults(engine_opts *o) {
  memset(o, 0, sizeof *o);
  o->config_path = cli_find_config();
  o->state_dir = cli_state_dir();
  o->user = cli_user();
  o->time_scale = 1;
}

/* summit run NAME: a file that exists wins (a directory is not one);
 * otherwise the runbook of that name in the runbook directories
 * (docs/runbooks.md). *owned is the resolved path to free, or NULL.
 * Returns 0 or an exit code. */
static int resolve_runbook(engine_opts *o, char **owned) {
  struct stat st;
  *owned = NULL;
  if (stat(o->file, &st) == 0 && !S_ISDIR(st.st_mode)) return 0;
  int code = engine_find_runbook(o, o->file, owned);
  if (!code) o->file = *owned;
  return code;
}

/* Options common to run and resume; returns 1 if argv[*i] was one, 0 if
 * not, -1 on a bad value. */
static int common_opt(engine_opts *o, int argc, char **argv, int *i,
                      const char *cmd) {
  const char *v;
  int r;
  if (cli_flag(argv, *i, "--json")) return o->json = 1;
  if (cli_flag(argv, *i, "--wait-lock")) return o->wait_lock = 1;
  if ((r = cli_opt(argc, argv, i, "--config", &v))) {
    if (r < 0) return -1;
    o->config_path = v;
    return 1;
  }
  if (cli_flag(argv, *i, "--detach")) return o->detach = 1;
  if ((r = cli_opt(argc, argv, i, "--durability", &v))) {
    if (r < 0) return -1;
    if (!strcmp(v, "process")) o->durability_process = 1;
    else if (strcmp(v, "full") != 0) {
      cli_usage(cmd, "--durability must be 'full' or 'process', not '%s'", v);
      return -1;
    }
    return 1;
  }
  return cli_time_scale(cmd, argc, argv, i, &o->time_scale);
}

/* submit --on KEY=VALUE (docs/workers.md): added to o->run_on. Returns
 * 1 if argv[*i] was one, 0 if not, -1 on a bad value. */
static int on_opt(engine_opts *o, int argc, char **argv, int *i) {
  const char *v;
  int r = cli_opt(argc, argv, i, "--on", &v);
  if (r <= 0) return r;
  char err[300];
  char *on = labels_add((char *)o->run_on, v, '\0', "--on", err, sizeof err);
  o->run_on = on;
  if (!on) {
    cli_usage("submit", "%s", err);
    return -1;
  }
  return 1;
}

/* The options summit submit takes besides run's -p, --params-file and
 * --env; 1, 0 or -1 as common_opt. */
static int submit_opt(engine_opts *o, int argc, char **argv, int *i) {
  const char *v;
  int r;
  if ((r = cli_opt(argc, argv, i, "--config", &v))) {
    if (r > 0) o->config_path = v;
    return r;
  }
  return on_opt(o, argc, argv, i);
}

/* summit run and summit submit (submit != 0): the same arguments but
 * for those that only make sense where the run executes. */
static int run_or_submit(int argc, char **argv, int submit) {
  const char *cmd = submit ? "submit" : "run";
  engine_opts o;
  defaults(&o);
  o.submit = submit;
  const char **params = calloc((size_t)argc + 1, sizeof *params);
  int np = 0, r;
  const char *v;
  for (int i = 0; i < argc; i++) {
    if ((r = submit ? submit_opt(&o, argc, argv, &i)
                    : common_opt(&o, argc, argv, &i, "run"))) {
      if (r < 0) goto usage;
    } else if ((r = cli_opt(argc, argv, &i, "-p", &v)) ||
               (r = cli_opt(argc, argv, &i, "--param", &v))) {
      if (r < 0) goto usage;
      params[np++] = v;
    } else if ((r = cli_opt(argc, argv, &i, "--params-file", &v))) {
      if (r < 0) goto usage;
      o.params_file = v;
    } else if ((r = cli_opt(argc, argv, &i, "--env", &v))) {
      if (r < 0) goto usage;
      o.env = v;
    } else if (!submit && (r = cli_opt(argc, argv, &i, "--sign", &v))) {
      if (r < 0) goto usage;
      o.sign_key = v;
    } else if (!submit && (r = cli_opt(argc, argv, &i, "--fire", &v))) {
      /* Internal: the daemon starts the fire NAME@MS of a schedule
       * (docs/daemon.md). */
      const char *at = r > 0 ? strrchr(v, '@') : NULL;
      char *end = NULL;
      if (at) o.fire_ms = strtoll(at + 1, &end, 10);
      if (!at || at == v || !end || *end || o.fire_ms <= 0) {
        if (r > 0) cli_usage("run", "--fire wants SCHEDULE@MS, not '%s'", v);
        goto usage;
      }
      o.schedule = strndup(v, (size_t)(at - v));
    } else if (argv[i][0] == '-' && argv[i][1]) {
      cli_usage(cmd, "unknown option %s", argv[i]);
      goto usage;
    } else if (!o.file) {
      o.file = argv[i];
    } else {
      cli_usage(cmd, "only one runbook file, got '%s' and '%s'", o.file,
                argv[i]);
      goto usage;
    }
  }
  if (!o.file) {
    cli_usage(cmd, "which runbook? summit %s FILE [-p key=value]...", cmd);
    goto usage;
  }
  o.params = params;
  char *owned;
  int code = resolve_runbook(&o, &owned);
  if (!code) code = engine_run(&o);
  free(owned);
  free(params);
  free((char *)o.schedule);
  free((char *)o.run_on);
  return code;
usage:
  free(params);
  free((char *)o.schedule);
  free((char *)o.run_on);
  return EXIT_USAGE;
}

int cmd_run(int argc, char **argv) { return run_or_submit(argc, argv, 0); }

int cmd_submit(int argc, char **argv) { return run_or_submit(argc, argv, 1); }

int cmd_resume(int argc, char **argv) {
  engine_opts o;
  defaults(&o);
  int r, np = 0;
  const char *v;
  /* -p: the run's secret params, which are never stored
   * (docs/secrets.md). */
  const char **params = calloc((size_t)argc + 1, sizeof *params);
  if (!params) return EXIT_FAILED;
  o.params = params;
  for (int i = 0; i < argc; i++) {
    if ((r = common_opt(&o, argc, argv, &i, "resume"))) {
      if (r < 0) goto usage;
    } else if ((r = cli_opt(argc, argv, &i, "-p", &v)) ||
               (r = cli_opt(argc, argv, &i, "--param", &v))) {
      if (r < 0) goto usage;
      params[np++] = v;
    } else if (cli_flag(argv, i, "--upgrade")) {
      o.upgrade = 1;
    } else if (cli_flag(argv, i, "--retry") || cli_flag(argv, i, "--skip")) {
      if (o.decision) {
        cli_usage("resume", "--retry and --skip exclude each other");
        goto usage;
      }
      o.decision = argv[i] + 2;
    } else if (argv[i][0] == '-') {
      cli_usage("resume", "unknown option %s", argv[i]);
      goto usage;
    } else if (!o.run_id) {
      o.run_id = argv[i];
    } else {
      cli_usage("resume", "one run at a time");
      goto usage;
    }
  }
  if (!o.run_id) {
    cli_usage("resume", "which run? summit resume RUN");
    goto usage;
  }
  int code = engine_resume(&o);
  free(params);
  return code;
usage:
  free(params);
  return EXIT_USAGE;
}

int cmd_validate(int argc, char **argv) {
  engine_opts o;
  defaults(&o);
  o.quiet = 1;
  for (int i = 0; i < argc; i++) {
    if (cli_flag(argv, i, "--json")) o.json = 1;
    else if (cli_flag(argv, i, "--strict")) o.strict = 1;
    else if (argv[i][0] == '-') return cli_usage("validate", "unknown option %s", argv[i]);
    else if (!o.file) o.file = argv[i];
    else return cli_usage("validate", "one file at a time");
  }
  if (!o.file) return cli_usage("validate", "which runbook? summit validate FILE");
  char *owned;
  int code = resolve_runbook(&o, &owned);
  if (!code) code = engine_validate(&o);
  free(owned);
  return code;
}

int cmd_cancel(int argc, char **argv) {
  engine_opts o;
  defaults(&o);
  int rollback = 0;
  for (int i = 0; i < argc; i++) {
    if (cli_flag(argv, i, "--rollback")) rollback = 1;
    else if (cli_flag(argv, i, "--json")) o.json = 1;
    else if (argv[i][0] == '-') return cli_usage("cancel", "unknown option %s", argv[i]);
    else if (!o.run_id) o.run_id = argv[i];
    else return cli_usage("cancel", "one run at a time");
  }
  if (!o.run_id) return cli_usage("cancel", "which run? summit cancel RUN [--rollback]");
  return engine_cancel(&o, rollback);
}
