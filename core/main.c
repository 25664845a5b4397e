/* summit: argv -> command dispatch; nothing else. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "io/file.h"

static const struct {
  const char *name;
  int (*fn)(int, char **);
} COMMANDS[] = {
  {"run", cmd_run},         {"resume", cmd_resume}, {"validate", cmd_validate},
  {"runs", cmd_runs},       {"status", cmd_status}, {"log", cmd_log},
  {"cancel", cmd_cancel},   {"locks", cmd_locks},     {"sim", cmd_sim},
  {"version", cmd_version}, {"help", cmd_help},     {"--help", cmd_help},
  {"approve", cmd_approve}, {"reject", cmd_reject},
  {"--version", cmd_version}, {"audit", cmd_audit},
  {"provenance", cmd_provenance}, {"runbooks", cmd_runbooks},
  {"rerun", cmd_rerun},     {"schedule", cmd_schedule},
  {"daemon", cmd_daemon},   {"result", cmd_result},
  {"init", cmd_init},       {"store", cmd_store},
  {"submit", cmd_submit},   {"test", cmd_test},
  {"token", cmd_token},     {"serve", cmd_serve},
};

int main(int argc, char **argv) {
  /* A child that exits without reading its stdin must not kill us. */
  signal(SIGPIPE, SIG_IGN);
  /* The state directory's files are private whatever the umask. */
  io_private_umask();
  if (argc < 2) return cmd_help(0, NULL);
  for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
    if (!strcmp(argv[1], COMMANDS[i].name))
      return COMMANDS[i].fn(argc - 2, argv + 2);
  fprintf(stderr, "summit: unknown command '%s' (see: summit help)\n", argv[1]);
  return 2;
}
