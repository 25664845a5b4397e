/* summit version | help */
#include <stdio.h>
#include <string.h>

#include <luajit.h>
#include <sqlite3.h>
#include <uv.h>

#include "cli/cli.h"
#include "engine/engine.h"
#include "store/store.h"

static const struct {
  const char *cmd, *usage, *text;
} HELP[] = {
  {"run", "summit run FILE|NAME [-p key=value]... [--params-file F.json] [--env NAME]\n"
          "           [--config F] [--wait-lock] [--json] [--detach] [--time-scale N]\n"
          "           [--durability full|process] [--sign KEYFILE]",
   "Starts a new run of the runbook FILE, or of the runbook named NAME in the\n"
   "runbook directories when no file FILE exists (see summit runbooks).\n"
   "Params are validated against the\n"
   "runbook's schema before anything runs. --detach suspends the run (exit 3)\n"
   "when it reaches a durable wait instead of waiting in this process.\n"
   "--time-scale N divides every sleep and timeout by N (demos and tests).\n"
   "--sign KEYFILE signs the start with your SSH key (ssh-keygen -Y sign,\n"
   "namespace summit-start), checked against summit.lua's allowed_signers:\n"
   "a signed gate that forbids self-approval needs it (docs/approvals.md)."},
  {"submit", "summit submit FILE|NAME [-p key=value]... [--params-file F.json] [--env NAME]\n"
             "           [--config F] [--on key=value]...",
   "Queues a run for a worker (summit daemon) and prints its id. The runbook,\n"
   "its params and its environment are checked and pinned now, as summit run\n"
   "would; the first daemon whose --labels have every --on label takes it.\n"
   "summit runs shows it queued until then; summit cancel cancels it. See\n"
   "docs/workers.md."},
  {"resume", "summit resume RUN [--upgrade] [--retry|--skip] [-p NAME=VALUE]... "
             "[--json] [--detach]",
   "Continues a run from its journal: completed entries replay their recorded\n"
   "results, the rest runs. The pinned source is used unless --upgrade, which\n"
   "replays the file on disk and refuses if it diverges from the journal.\n"
   "--retry/--skip decide an entry that needs attention. -p gives a secret\n"
   "param again (secrets are never stored; see docs/secrets.md)."},
  {"cancel", "summit cancel RUN [--rollback]",
   "Stops a run. A live run stops at its next wait point (its process is\n"
   "killed, its transfer aborted) and exits 4; a run with no process is marked\n"
   "cancelled at once. --rollback runs the undo functions of its completed\n"
   "steps, newest first."},
  {"test", "summit test [DIR|FILE]... [--verbose]",
   "Runs the *_test.lua files of the directories (and their subdirectories)\n"
   "and files named, by default those under the directory of the nearest\n"
   "summit.lua. Each case runs runbooks on an in-process simulated cluster\n"
   "with a virtual clock (sleeps and timeouts are skipped, not waited for),\n"
   "answers gates as named approvers and may kill and resume a run at any\n"
   "journal record. Prints a line per case (ok, or FAIL with the file:line of\n"
   "the failed assertion), then N passed, N failed; exits 0 when all pass,\n"
   "1 when any fails. --verbose prints each run's output. See docs/testing.md."},
  {"locks", "summit locks [--json]", "Lists locks: which run holds each, and whether it still does."},
  {"runs", "summit runs [--json] [--status S | --waiting]",
   "Lists runs, newest first. --waiting lists what waits on whom instead:\n"
   "each open approval gate (what it needs, who has approved, the command\n"
   "that answers it) and each run suspended on a sleep, with its wake time."},
  {"status", "summit status RUN [--json]", "Shows one run, its entries and waits."},
  {"result", "summit result RUN",
   "Prints what the run's run() returned, as JSON (redacted), and exits 0.\n"
   "A run without a result prints why on stderr and exits as `summit run`\n"
   "would have for its state: 1 failed, 3 suspended, 4 cancelled, 5 running\n"
   "now, 6 needs attention, 130 interrupted; 2 for an unknown run."},
  {"approve", "summit approve RUN --gate G [--comment C] [--bind k=v]...\n"
              "           [--sign KEYFILE | --signature SIGFILE] [--message] [--key K]",
   "Approves the gate G the run waits on, as $SUMMIT_USER (else the login\n"
   "name). A decision that cannot count is refused at once with the reason\n"
   "(exit 1): the starter approving their own run, a missing role, --bind\n"
   "values that differ from the gate's, a bad or missing signature on a\n"
   "signed gate. --sign signs with ssh-keygen -Y sign; --message prints the\n"
   "exact text to sign elsewhere, --signature gives that signature. See\n"
   "docs/approvals.md."},
  {"reject", "summit reject RUN --gate G --comment C [--sign KEYFILE | --signature SIGFILE]",
   "Rejects the gate: it fails with EREJECTED and with it the run, whose undo\n"
   "steps run. Only someone allowed to approve the gate may reject it."},
  {"provenance", "summit provenance RUN [-o FILE [--sign KEYFILE]]",
   "Writes an in-toto Statement v1 with an SLSA Provenance v1 predicate for\n"
   "the run: runbook name, version and source digest, params (secrets masked),\n"
   "the git commit of the work tree, approvals, start, finish and outcome.\n"
   "--sign signs FILE with ssh-keygen -Y sign (namespace summit-provenance)\n"
   "into FILE.sig. See docs/provenance.md."},
  {"log", "summit log RUN [--json]",
   "Shows every journal row of a run: starts, completions, failures, recoveries."},
  {"validate", "summit validate FILE|NAME [--json] [--strict]",
   "Checks without running run(): summit.lua (sim scenarios too); every global\n"
   "the file reads or assigns, in every function; misspelt keys in runbook{},\n"
   "param specs and literal step{} tables; the definition and param schema.\n"
   "A version that is not semantic (1.4.0) is an error; a missing one a warning.\n"
   "Warns of replay traps: a step body assigning a local declared outside it,\n"
   "os.time, os.clock or math.random outside a step (docs/authoring.md).\n"
   "--strict: any warning exits 2. Run-time mistakes in run() show at run time.\n"
   "See docs/cli.md."},
  {"runbooks", "summit runbooks [--json] [--config F]",
   "Lists the runbooks found in runbooks/ beside summit.lua (or the directories\n"
   "of its `runbooks` list): name, version, description, file and params.\n"
   "Exit 2 if one cannot be loaded, has a non-semantic version or two share a\n"
   "name. See docs/runbooks.md."},
  {"sim", "summit sim serve [--listen HOST:PORT] [--state FILE | --memory]\n"
          "           [--scenario FILE.json|.lua] [--time-scale N] [--kubeconfig F] [-v]",
   "Serves the simulated Kubernetes cluster (default 127.0.0.1:8080) until\n"
   "SIGINT/SIGTERM, for kubectl or summit. The state is kept in --state (default\n"
   "<state dir>/sim/state.json), with the scenario: a start without --scenario\n"
   "runs the kept one, --scenario replaces it. A kubeconfig is written to\n"
   "--kubeconfig (default <state dir>/sim/kubeconfig). --time-scale N runs the\n"
   "simulated clock N times faster. See docs/sim.md for scenario knobs."},
  {"audit", "summit audit verify [--head HASH] [--json] | export [--run RUN] [--since T]\n"
            "           | show RUN",
   "The audit trail: a hash-chained, append-only record of runs, steps,\n"
   "effects, locks, approvals and audit.record calls (docs/audit.md).\n"
   "verify recomputes the chain and names the first bad record (exit 1);\n"
   "--head checks that a hash noted earlier is still in it (nothing was cut\n"
   "from the end). export writes JSON Lines; T is RFC 3339 or a duration\n"
   "ago (24h). show prints one run's records as a timeline."},
  {"store", "summit store show | migrate --to URL [--from PATH]",
   "show prints the store the commands use: the SQLite file of the state\n"
   "directory, or the PostgreSQL database $SUMMIT_STORE names (never its\n"
   "password). migrate copies every run, journal, approval, schedule and the\n"
   "audit chain into an empty store, in one transaction (docs/team.md)."},
  {"rerun", "summit rerun RUN [--latest] [-p NAME=VALUE]... [--detach] [--json] "
            "[--time-scale N]",
   "Starts a new run with the runbook version (the pinned source) and the\n"
   "params, environment and config of RUN; --latest uses the file RUN came\n"
   "from as it is now. -p gives secret params, which RUN did not store.\n"
   "The new run records rerun_of = RUN."},
  {"schedule", "summit schedule add NAME (--cron EXPR | --every D) RUNBOOK [-p k=v]...\n"
               "           [--env E] [--tz ZONE] [--missed skip|run-once] [--paused]\n"
               "       summit schedule list [--json] | remove NAME | pause NAME | resume NAME\n"
               "       summit schedule run NAME [--json] [--detach] [--wait-lock] [--time-scale N]",
   "Schedules a runbook (a file or a name from summit runbooks) on a 5-field\n"
   "cron expression (or @hourly, @daily, @weekly, @monthly, @yearly) in --tz\n"
   "(an IANA zone, UTC by default), or every D (15m, 2s). summit daemon fires\n"
   "them: a fire whose previous run has not ended is skipped, and fires missed\n"
   "while no daemon ran are skipped (--missed skip) or made up by one run\n"
   "(run-once). list shows the next fire, the last run and its status. run\n"
   "fires one now, as summit run would run it (its exit code), recorded as\n"
   "the schedule's run. See docs/schedules.md."},
  {"daemon", "summit daemon [--max-runs N] [--once] [--poll D] [--grace D] [--time-scale N]\n"
             "           [--labels key=value,...]",
   "Fires due schedules, resumes suspended runs whose sleep is over or that\n"
   "got approval decisions, picks up runs whose process died, and starts\n"
   "queued runs (summit submit) whose --on labels its --labels all have (a\n"
   "run with labels is continued only by such a daemon); each run in\n"
   "a child process (output in daemon.log in the state directory), at most N\n"
   "at once (default 4). Polls every D (500ms). SIGTERM stops it: its runs are\n"
   "interrupted, left resumable, and continued when a daemon starts again\n"
   "(killed after --grace, 30s). --once: one poll, wait for its runs, exit.\n"
   "Daemons may share a state directory. See docs/daemon.md."},
  {"init", "summit init [DIR] [--force]",
   "Writes what a team's repository needs to write runbooks into DIR (default:\n"
   "the working directory): a starter summit.lua (one environment, dev, on the\n"
   "simulated cluster), runbooks/hello.lua, the editor types for\n"
   "lua-language-server in types/summit/, .luarc.json pointing at them and at\n"
   "lib/ (team modules), and .luacheckrc. An existing file is skipped and\n"
   "listed as such unless --force. A directory that cannot be written: exit 1.\n"
   "See docs/authoring.md \"Editor setup\"."},
  {"serve", "summit serve [--listen HOST:PORT] [--plain-http]",
   "Serves the store's runs over HTTP (default 127.0.0.1:7800) until SIGTERM or\n"
   "SIGINT: GET /healthz, /metrics (Prometheus), /api/v1/runs, /api/v1/runs/ID,\n"
   "/api/v1/runs/ID/events (Server-Sent Events), /api/v1/audit/verify. /api/\n"
   "needs `Authorization: Bearer TOKEN` (summit token). Read-only; it never\n"
   "executes runs. No TLS yet: an address other machines can reach needs\n"
   "--plain-http, behind a TLS-terminating proxy. See docs/serve.md."},
  {"token", "summit token create --user U [--roles r,...] [--expires 30d]\n"
            "           | list [--json] | revoke U",
   "API tokens of summit serve. create prints a new token once for user U (the\n"
   "store keeps only its SHA-256); --roles: viewer (the default) and/or\n"
   "operator; `create U --role R` is the same. list shows users, roles\n"
   "and states (active, expired, revoked), never tokens; revoke makes one\n"
   "useless at once. See docs/serve.md."},
  {"version", "summit version", "Prints the versions of summit and its libraries."},
  {"help", "summit help [COMMAND]", "Shows this help, or one command's."},
};
#define NHELP (sizeof HELP / sizeof HELP[0])

int cmd_version(int argc, char **argv) {
  printf("summit %s (%s, libuv %s, SQLite %s, schema %d)\n", SUMMIT_VERSION,
         LUAJIT_VERSION, uv_version_string(), sqlite3_libversion(),
         store_schema_version());
  return EXIT_OK;
}

int cmd_help(int argc, char **argv) {
  if (argc > 0) {
    for (size_t i = 0; i < NHELP; i++)
      if (!strcmp(argv[0], HELP[i].cmd)) {
        printf("usage: %s\n\n%s\n", HELP[i].usage, HELP[i].text);
        return EXIT_OK;
      }
    fprintf(stderr, "summit help: no command '%s'\n", argv[0]);
    return EXIT_USAGE;
  }
  printf("summit: durable deployment runbooks in Lua\n\nusage:\n");
  for (size_t i = 0; i < NHELP; i++) printf("  %s\n", HELP[i].usage);
  printf("\nexit codes: 0 succeeded, 1 failed, 2 usage or invalid runbook,\n"
         "3 suspended, 4 cancelled, 5 busy, 6 needs attention, 130 interrupted\n"
         "state: $SUMMIT_STATE_DIR, else .summit/ beside the nearest summit.lua\n");
  return EXIT_OK;
}
