/* summit runbooks [--json]: the runbook catalog (docs/runbooks.md). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "engine/engine.h"

int cmd_runbooks(int argc, char **argv) {
  engine_opts o;
  memset(&o, 0, sizeof o);
  o.config_path = cli_find_config();
  o.state_dir = cli_state_dir();
  o.user = cli_user();
  o.time_scale = 1;
  int r;
  const char *v;
  for (int i = 0; i < argc; i++) {
    if (cli_flag(argv, i, "--json")) {
      o.json = 1;
    } else if ((r = cli_opt(argc, argv, &i, "--config", &v))) {
      if (r < 0) return EXIT_USAGE;
      o.config_path = v;
    } else {
      return cli_usage("runbooks", "unexpected argument %s", argv[i]);
    }
  }
  return engine_runbooks(&o);
}
