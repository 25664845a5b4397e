#ifndef SUMMIT_CLI_H
#define SUMMIT_CLI_H
/* Command groups: each takes the arguments after the command name and
 * returns an exit code (engine/engine.h). */

#include <stddef.h>

#include "store/store.h"

int cmd_run(int argc, char **argv);
int cmd_submit(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_runbooks(int argc, char **argv);
int cmd_runs(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_result(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_cancel(int argc, char **argv);
int cmd_locks(int argc, char **argv);
int cmd_sim(int argc, char **argv);
int cmd_approve(int argc, char **argv);
int cmd_reject(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_provenance(int argc, char **argv);
int cmd_help(int argc, char **argv);
int cmd_rerun(int argc, char **argv);
int cmd_schedule(int argc, char **argv);
int cmd_daemon(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_store(int argc, char **argv);
int cmd_test(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_serve(int argc, char **argv);

/* ---- shared by the commands (common.c) ---- */

/* The state directory (DESIGN §5): $SUMMIT_STATE_DIR, else .summit/ next
 * to the nearest summit.lua above the working directory, else
 * $XDG_STATE_HOME/summit, else ~/.local/state/summit. Static storage. */
const char *cli_state_dir(void);
/* The nearest summit.lua above the working directory, or NULL. Static. */
const char *cli_find_config(void);
/* The store the commands open: $SUMMIT_STORE, else `store =` of the
 * nearest summit.lua, else state.db of the state directory (storecfg.c).
 * -1 (printed) when summit.lua cannot give it. */
int cli_store_target(char *out, size_t n);
/* $SUMMIT_USER, else the login name. Static storage. */
const char *cli_user(void);

/* Matches argv[*i] against --name / --name=value. For options with a
 * value, *value gets it (from the next argument if needed, advancing *i);
 * a missing value prints a usage error and returns -1. Returns 1 on a
 * match, 0 otherwise. */
int cli_opt(int argc, char **argv, int *i, const char *name, const char **value);
int cli_flag(char **argv, int i, const char *name);
/* --time-scale N (N > 0) into *scale, as cli_opt matches: 1 on a match, 0
 * otherwise, -1 after a usage error naming cmd. */
int cli_time_scale(const char *cmd, int argc, char **argv, int *i,
                   double *scale);
/* "HOST:PORT", "[V6]:PORT", ":PORT" or "PORT" (host: default_host) into
 * host (static storage) and port; -1 if it is none of these. */
int cli_parse_listen(const char *v, const char *default_host,
                     const char **host, int *port);
/* Prints "summit CMD: msg" and the command's usage line; returns 2. */
int cli_usage(const char *cmd, const char *fmt, ...);

/* Opens the state database read-only-in-spirit (no creation) for the
 * inspection commands. Prints why and returns NULL on failure. */
struct store;
struct store *cli_open_store(void);
/* Opens (creating it and the state directory if need be) the store for
 * a command that writes; prints why and returns NULL on failure. */
struct store *cli_open_store_rw(const char *cmd);

/* Runs a program (argv[0] looked up in PATH; no shell) to completion with
 * input on its stdin and fills *out (free with cli_output_free). Returns
 * -1 when it could not be run at all (out->spawn_error says why). */
typedef struct {
  int code;         /* exit code; -1 if it did not run or was killed */
  int spawn_error;  /* libuv error when spawning failed, else 0 */
  char *out, *err;  /* captured output, NUL-terminated */
} cli_output;
int cli_run(const char *const *argv, const char *input, size_t input_len,
            cli_output *out);
void cli_output_free(cli_output *o);

/* ---- approval gates (approve.c) ---- */

/* Calls fn with each open approval wait of run_id (NULL: every run still
 * going), oldest first, as JSON: run, runbook, status, kind ("approval"),
 * gate, key, attempt, since, deadline, needs, roles, has (actors), have,
 * need, missing, reason, bind, signed, command. fn owns the object. */
struct cJSON;
typedef int (*cli_wait_fn)(void *ud, struct cJSON *wait);
int cli_waits(struct store *s, const char *run_id, cli_wait_fn fn, void *ud);
/* Prints a wait of cli_waits (or a sleep: {run, wake}) for people. */
void cli_wait_print(const struct cJSON *wait, const char *indent);

/* What run_id pinned besides its runbook (pins.c, DESIGN §14):
 * {summit_version (absent for a run from before schema 6), modules:
 * [{name, path, sha256}] by name}. Caller deletes. */
struct cJSON *cli_pins(struct store *s, const char *run_id);
/* Prints cli_pins' object for people (summit status). */
void cli_pins_print(const struct cJSON *pins);

/* ---- the JSON shapes of a run (runjson.c), for --json and serve ---- */

/* Adds v as k unless v is NULL; the time ms (RFC 3339) unless it is 0. */
void cli_json_str(struct cJSON *o, const char *k, const char *v);
void cli_json_time(struct cJSON *o, const char *k, int64_t ms);
/* A run's own fields, as one line of `summit runs --json`. */
struct cJSON *cli_run_json(const store_run *r);
/* A journal row, as one line of `summit log --json`. */
struct cJSON *cli_log_json(const store_entry *e);
/* The run with its entries, waits, pins and result: `summit status
 * --json` (one line, no newline; caller frees). NULL when the store
 * could not be read (store_errmsg) or, with *oom set, out of memory. */
char *cli_status_json(struct store *s, const store_run *r, int *oom);
/* What `summit audit verify --json` prints for c (audit.c): ok, records,
 * head_seq, head, bad {...} when broken, want_head(_seq) when head (the
 * --head given) is not NULL. Caller deletes. */
struct cJSON *cli_audit_verify_json(const store_audit_check *c,
                                    const char *head);

#endif
