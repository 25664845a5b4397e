/* summit rerun RUN [--latest] [-p NAME=VALUE]...: a new run with the same runbook version and
 * params as RUN (docs/cli.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "engine/engine.h"
#include "store/store.h"

/* What rerun was asked for besides the engine options. */
typedef struct {
  const char *run, *config;
  int latest;
} rerun_args;

/* Reads argv into *a and *o; the -p values go to params, which has room for
 * argc of them. Returns 0, or EXIT_USAGE after saying why. */
static int rerun_parse(int argc, char **argv, engine_opts *o,
                       const char **params, rerun_args *a) {
  const char *v;
  int r, np = 0;
  for (int i = 0; i < argc; i++) {
    if ((r = cli_opt(argc, argv, &i, "-p", &v))) {
      if (r < 0) return EXIT_USAGE;
      params[np++] = v;
    } else if (cli_flag(argv, i, "--latest")) a->latest = 1;
    else if (cli_flag(argv, i, "--json")) o->json = 1;
    else if (cli_flag(argv, i, "--detach")) o->detach = 1;
    else if ((r = cli_opt(argc, argv, &i, "--config", &v))) {
      if (r < 0) return EXIT_USAGE;
      a->config = v;
    } else if ((r = cli_time_scale("rerun", argc, argv, &i,
                                   &o->time_scale))) {
      if (r < 0) return EXIT_USAGE;
    } else if (argv[i][0] == '-') {
      return cli_usage("rerun", "unknown option %s", argv[i]);
    } else if (!a->run) {
      a->run = argv[i];
    } else {
      return cli_usage("rerun", "one run at a time");
    }
  }
  if (!a->run)
    return cli_usage("rerun", "which run? summit rerun RUN [--latest]");
  return 0;
}

/* Runs again what prev ran, as o and a say. Returns the exit code. */
static int rerun(engine_opts *o, const rerun_args *a, const store_run *prev) {
  /* The pinned text, unless --latest: then the file it came from now. */
  o->file = prev->source_path;
  if (!a->latest) o->source = prev->source;
  else if (access(prev->source_path, R_OK) != 0) {
    fprintf(stderr, "summit rerun: --latest: the runbook of run %s was %s, "
            "which cannot be read now\n", prev->id, prev->source_path);
    return EXIT_USAGE;
  }
  o->params_json = prev->params;
  o->env = prev->env;
  o->rerun_of = prev->id;
  o->config_path = a->config ? a->config
                 : prev->config_path && access(prev->config_path, R_OK) == 0
                     ? prev->config_path
                     : cli_find_config();
  return engine_run(o);
}

int cmd_rerun(int argc, char **argv) {
  engine_opts o;
  memset(&o, 0, sizeof o);
  o.state_dir = cli_state_dir();
  o.user = cli_user();
  o.time_scale = 1;
  rerun_args a = {0};
  /* -p: secret params, which the run being repeated did not store
   * (docs/secrets.md). */
  const char **params = calloc((size_t)argc + 1, sizeof *params);
  if (!params) return EXIT_FAILED;
  o.params = params;
  int code = rerun_parse(argc, argv, &o, params, &a);
  if (code) goto out;
  code = EXIT_USAGE;
  struct store *s = cli_open_store();
  if (!s) goto out;
  store_run prev = {0};
  int rc = store_run_get(s, a.run, &prev);
  store_close(s);
  if (rc == STORE_NOTFOUND) {
    fprintf(stderr, "summit rerun: no run %s in %s\n", a.run, o.state_dir);
    goto out;
  }
  if (rc != STORE_OK) {
    fprintf(stderr, "summit rerun: cannot read run %s\n", a.run);
    code = EXIT_FAILED;
    goto out;
  }
  code = rerun(&o, &a, &prev);
  store_run_free(&prev);
out:
  free(params);
  return code;
}
