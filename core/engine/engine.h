#ifndef SUMMIT_ENGINE_ENGINE_H
#define SUMMIT_ENGINE_ENGINE_H
/* The run lifecycle: load a runbook into a sandboxed lua_State, validate its
 * params, create or resume the run in the store, execute it under the
 * scheduler and record the outcome. Returns DESIGN §5 exit codes.
 *
 * The commands are run.c (run, resume, validate), cancel.c and catalog.c;
 * their steps: runctx.c (a command's context, store and lease), loader.c
 * (summit.lua and runbooks, through one protected entry), params.c,
 * envlocks.c, execute.c (the scheduler's loop) and outcome.c (what the
 * loop's end means, recorded). */

enum {
  EXIT_OK = 0,
  EXIT_FAILED = 1,
  EXIT_USAGE = 2,
  EXIT_SUSPENDED = 3,
  EXIT_CANCELLED = 4,
  EXIT_BUSY = 5,
  EXIT_ATTENTION = 6,
  EXIT_INTERRUPTED = 130
};

typedef struct {
  const char *file;            /* run, validate: the runbook */
  const char *run_id;          /* resume */
  const char *const *params;   /* "key=value" list, NULL-terminated */
  const char *params_file;     /* JSON object of params */
  const char *env;             /* --env */
  const char *state_dir;       /* resolved by the CLI; created if missing */
  const char *user;            /* who is at the keyboard */
  int json, detach, upgrade;
  const char *decision;        /* resume: "retry" or "skip" */
  double time_scale;           /* 1 unless --time-scale */
  int durability_process;      /* --durability=process */
  int quiet;                   /* no event output (benches) */
  const char *config_path;     /* --config, else the nearest summit.lua */
  int wait_lock;               /* --wait-lock: wait for environment locks */
  const char *cancel;          /* resume for summit cancel: "rollback" */
  /* run: what summit rerun and the daemon's fires add (docs/daemon.md). */
  const char *source;          /* the runbook's text instead of reading
                                * file (file still names it) */
  const char *params_json;     /* a JSON object of params, like
                                * --params-file's content */
  const char *rerun_of;        /* the run this one re-runs */
  const char *schedule;        /* started by this schedule's fire ... */
  long long fire_ms;           /* ... at this time (Unix ms) */
  const char *sign_key;        /* run --sign: SSH key that signs the start */
  int strict;                  /* validate --strict: a warning exits 2 */
  int submit;                  /* summit submit: queue the run for a
                                * worker instead of running it here */
  const char *run_on;          /* submit --on: JSON object of the labels a
                                * worker must have (NULL: any) */
} engine_opts;

/* summit run; with o->submit, summit submit: the run is pinned and
 * recorded as queued (docs/workers.md), its id printed, and a worker
 * starts it with engine_resume. */
int engine_run(const engine_opts *o);
int engine_resume(const engine_opts *o);
int engine_validate(const engine_opts *o);
/* summit runbooks [--json]: the catalog (catalog.c). */
int engine_runbooks(const engine_opts *o);
/* The file of the runbook named name in the runbook directories: *path
 * (the caller frees) and 0, or an exit code after printing why, naming
 * the runbooks it knows. */
int engine_find_runbook(const engine_opts *o, const char *name, char **path);
/* summit cancel RUN [--rollback] */
int engine_cancel(const engine_opts *o, int rollback);

/* Writes a new run id: 11 base32 characters of the creation time in
 * microseconds and 3 random ones, so ids are short, unique and sort by
 * creation time. */
void engine_new_run_id(char out[16]);

#endif
