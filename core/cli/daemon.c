/* summit daemon [--max-runs N] [--once] [--labels k=v,...]: argument
 * parsing in front of engine/daemon.c (docs/daemon.md, docs/workers.md). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "engine/daemon.h"
#include "engine/duration.h"
#include "engine/engine.h"
#include "engine/labels.h"
#include "io/file.h"

static int duration_opt(const char *name, const char *v, int64_t *ms) {
  double d;
  char err[160];
  if (duration_parse(v, &d, err, sizeof err) != 0 || d < 1) {
    cli_usage("daemon", "%s: '%s' is not a duration (like 500ms, 30s)", name,
              v);
    return -1;
  }
  *ms = (int64_t)d;
  return 0;
}

/* The options into *o; 0, or EXIT_USAGE after saying what is wrong
 * (o->labels is the caller's to free either way). */
static int parse(int argc, char **argv, daemon_opts *o) {
  const char *v;
  int r;
  for (int i = 0; i < argc; i++) {
    if (cli_flag(argv, i, "--once")) {
      o->once = 1;
    } else if ((r = cli_opt(argc, argv, &i, "--max-runs", &v))) {
      if (r < 0) return EXIT_USAGE;
      char *end;
      long n = strtol(v, &end, 10);
      if (*end || n < 1 || n > 1000)
        return cli_usage("daemon", "--max-runs must be a number from 1 to "
                         "1000, not '%s'", v);
      o->max_runs = (int)n;
    } else if ((r = cli_time_scale("daemon", argc, argv, &i,
                                   &o->time_scale))) {
      if (r < 0) return EXIT_USAGE;
    } else if ((r = cli_opt(argc, argv, &i, "--poll", &v))) {
      if (r < 0 || duration_opt("--poll", v, &o->poll_ms)) return EXIT_USAGE;
    } else if ((r = cli_opt(argc, argv, &i, "--grace", &v))) {
      if (r < 0 || duration_opt("--grace", v, &o->grace_ms)) return EXIT_USAGE;
    } else if ((r = cli_opt(argc, argv, &i, "--labels", &v))) {
      if (r < 0) return EXIT_USAGE;
      char err[300];
      o->labels = labels_add((char *)o->labels, v, ',', "--labels", err,
                             sizeof err);
      if (!o->labels) return cli_usage("daemon", "%s", err);
    } else {
      return cli_usage("daemon", "unknown argument '%s'", argv[i]);
    }
  }
  return 0;
}

static int start(daemon_opts *o);

int cmd_daemon(int argc, char **argv) {
  daemon_opts o;
  memset(&o, 0, sizeof o);
  o.max_runs = 4;
  o.time_scale = 1;
  int code = parse(argc, argv, &o);
  if (!code) code = start(&o);
  free((char *)o.labels);
  return code;
}

/* The state directory and our own binary, for the children; then the
 * daemon. */
static int start(daemon_opts *o) {
  /* Children run in the schedule's directory: the state directory must
   * not depend on ours. */
  const char *dir = cli_state_dir();
  char state[PATH_MAX], self[PATH_MAX];
  snprintf(state, sizeof state, "%s", dir);
  io_private_dir(state);  /* mkdir -p, 0700 */
  if (!realpath(dir, state)) {
    fprintf(stderr, "summit daemon: state directory %s: %s\n", dir,
            strerror(errno));
    return EXIT_FAILED;
  }
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) {
    fprintf(stderr, "summit daemon: cannot find its own binary: %s\n",
            strerror(errno));
    return EXIT_FAILED;
  }
  self[n] = '\0';
  o->state_dir = state;
  o->self = self;
  return daemon_main(o);
}
