/* summit rerun RUN [--latest] [-p NAME=VALUE]...: a new run with the same runbook version and
 * params as RUN (docs/cli.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "engine/engine.h"
#include "store/store.h"

int cmd_rerun(int argc, char **argv) {
  engine_opts o;
  memset(&o, 0, sizeof o);
  o.state_dir = cli_state_dir();
  o.user = cli_user();
  o.time_scale = 1;
  const char *run = NULL, *config = NULL, *v;
  int latest = 0, r, np = 0;
  /* -p: secret params, which the run being repeated did not store
   * (docs/secrets.md). */
  const char **params = calloc((size_t)argc + 1, sizeof *params);
  if (!params) return EXIT_FAILED;
  o.params = params;
  int code = EXIT_USAGE;
  for (int i = 0; i < argc; i++) {
    if ((r = cli_opt(argc, argv, &i, "-p", &v))) {
      if (r < 0) goto out;
      params[np++] = v;
    } else if (cli_flag(argv, i, "--latest")) latest = 1;
    else if (cli_flag(argv, i, "--json")) o.json = 1;
    else if (cli_flag(argv, i, "--detach")) o.detach = 1;
    else if ((r = cli_opt(argc, argv, &i, "--config", &v))) {
      if (r < 0) goto out;
      config = v;
    } else if ((r = cli_opt(argc, argv, &i, "--time-scale", &v))) {
      if (r < 0) goto out;
      char *end;
      o.time_scale = strtod(v, &end);
      if (*end || !(o.time_scale > 0)) {
        cli_usage("rerun", "--time-scale must be a positive number, not '%s'",
                  v);
        goto out;
      }
    } else if (argv[i][0] == '-') {
      cli_usage("rerun", "unknown option %s", argv[i]);
      goto out;
    } else if (!run) {
      run = argv[i];
    } else {
      cli_usage("rerun", "one run at a time");
      goto out;
    }
  }
  if (!run) {
    cli_usage("rerun", "which run? summit rerun RUN [--latest]");
    goto out;
  }
  struct store *s = cli_open_store();
  if (!s) goto out;
  store_run prev = {0};
  int rc = store_run_get(s, run, &prev);
  store_close(s);
  if (rc == STORE_NOTFOUND) {
    fprintf(stderr, "summit rerun: no run %s in %s\n", run, o.state_dir);
    goto out;
  }
  if (rc != STORE_OK) {
    fprintf(stderr, "summit rerun: cannot read run %s\n", run);
    code = EXIT_FAILED;
    goto out;
  }
  /* The pinned text, unless --latest: then the file it came from now. */
  o.file = prev.source_path;
  if (!latest) o.source = prev.source;
  else if (access(prev.source_path, R_OK) != 0) {
    fprintf(stderr, "summit rerun: --latest: the runbook of run %s was %s, "
            "which cannot be read now\n", prev.id, prev.source_path);
    store_run_free(&prev);
    goto out;
  }
  o.params_json = prev.params;
  o.env = prev.env;
  o.rerun_of = prev.id;
  o.config_path = config ? config
                : prev.config_path && access(prev.config_path, R_OK) == 0
                    ? prev.config_path
                    : cli_find_config();
  code = engine_run(&o);
  store_run_free(&prev);
out:
  free(params);
  return code;
}
