/* summit sim serve: argument parsing in front of engine/sim_serve. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "engine/engine.h"
#include "engine/sim_serve.h"
#include "io/file.h"

/* kubectl's own default server with no kubeconfig at all is
 * http://localhost:8080, so the default port makes even that work. */
#define DEFAULT_HOST "127.0.0.1"
#define DEFAULT_PORT 8080

int cmd_sim(int argc, char **argv) {
  if (argc < 1 || strcmp(argv[0], "serve") != 0) {
    return cli_usage("sim", argc < 1 ? "which sim command? (serve)"
                                     : "unknown sim command '%s' (serve)",
                     argc < 1 ? "" : argv[0]);
  }
  static char state_buf[4200], kube_buf[4200];
  sim_serve_opts o;
  memset(&o, 0, sizeof o);
  o.host = DEFAULT_HOST;
  o.port = DEFAULT_PORT;
  o.time_scale = 1;
  o.state_dir = cli_state_dir();
  int memory = 0, r;
  const char *v;
  for (int i = 1; i < argc; i++) {
    if ((r = cli_opt(argc, argv, &i, "--listen", &v))) {
      if (r < 0) return EXIT_USAGE;
      if (cli_parse_listen(v, DEFAULT_HOST, &o.host, &o.port) != 0)
        return cli_usage("sim", "--listen wants HOST:PORT, not '%s'", v);
    } else if ((r = cli_opt(argc, argv, &i, "--state", &v))) {
      if (r < 0) return EXIT_USAGE;
      o.state_file = v;
    } else if (cli_flag(argv, i, "--memory")) {
      memory = 1;
    } else if ((r = cli_opt(argc, argv, &i, "--scenario", &v))) {
      if (r < 0) return EXIT_USAGE;
      o.scenario = v;
    } else if ((r = cli_opt(argc, argv, &i, "--kubeconfig", &v))) {
      if (r < 0) return EXIT_USAGE;
      o.kubeconfig = v;
    } else if ((r = cli_time_scale("sim", argc, argv, &i, &o.time_scale))) {
      if (r < 0) return EXIT_USAGE;
    } else if (cli_flag(argv, i, "--verbose") || cli_flag(argv, i, "-v")) {
      o.verbose = 1;
    } else {
      return cli_usage("sim", "unknown option %s", argv[i]);
    }
  }
  if (memory && o.state_file)
    return cli_usage("sim", "--memory and --state exclude each other");
  if (!memory && !o.state_file) {
    snprintf(state_buf, sizeof state_buf, "%s/sim/state.json", o.state_dir);
    o.state_file = state_buf;
  }
  if (!o.kubeconfig) {
    snprintf(kube_buf, sizeof kube_buf, "%s/sim/kubeconfig", o.state_dir);
    o.kubeconfig = kube_buf;
  }
  /* The default files live in the state directory: keep it private. */
  if (strncmp(o.state_file ? o.state_file : "", o.state_dir,
              strlen(o.state_dir)) == 0 ||
      strncmp(o.kubeconfig, o.state_dir, strlen(o.state_dir)) == 0)
    io_private_dir(o.state_dir);
  return engine_sim_serve(&o);
}
