#ifndef SUMMIT_ENGINE_DAEMON_H
#define SUMMIT_ENGINE_DAEMON_H
/* summit daemon (docs/daemon.md): one libuv loop that polls the state
 * database, fires due schedules, resumes suspended runs whose sleep is
 * over or that got new approval decisions, picks up runs whose owner
 * died and starts queued runs (summit submit) its labels match; each run in a child process (`summit run ... --detach`, `summit
 * resume RUN --detach`) so a crashing runbook cannot take it down. */

#include <stdint.h>

#include "engine/cron.h"

/* What to do with one schedule at one poll (a pure decision). */
typedef enum {
  FIRE_NONE,           /* not due */
  FIRE_RUN,            /* start a run for fire_ms */
  FIRE_SKIP_OVERLAP,   /* due, but its previous run has not ended */
  FIRE_SKIP_MISSED     /* only fires missed while no daemon ran: skip */
} fire_action;

typedef struct {
  fire_action action;
  int64_t fire_ms;     /* the fire the run (or the skip) is for */
  int64_t next_ms;     /* the next fire to store (-1: never again) */
  int missed;          /* fires that passed while no daemon ran */
  int coalesced;       /* fires of this daemon's lifetime folded into
                        * fire_ms (a late poll, a full --max-runs) */
} fire_plan;

/* A fire older than this before the daemon started counts as missed while
 * no daemon ran (younger ones are another daemon's, just late). */
#define DAEMON_MISSED_GRACE_MS 5000

/* The decision for a schedule whose stored next fire is next_fire_ms, at
 * now_ms, by a daemon that started at started_ms. missed_policy is "skip"
 * (the default) or "run-once"; overlap != 0 when a previous run of the
 * schedule has not ended. Pure: the clock is the arguments. */
fire_plan daemon_plan(const cron_expr *e, const char *tz,
                      const char *missed_policy, int64_t next_fire_ms,
                      int64_t now_ms, int64_t started_ms, int overlap);

/* Called when a run started by a schedule ends (or a fire could not start
 * a run): status is the run's ("succeeded", "failed", ...) or "error";
 * consecutive_failures is the schedule's count after it. This is where the
 * "schedule failing N times in a row" notification belongs. */
typedef void (*daemon_result_fn)(void *ud, const char *schedule,
                                 const char *run_id, const char *status,
                                 int64_t consecutive_failures);

typedef struct {
  const char *state_dir;    /* absolute */
  const char *self;         /* the summit binary to run children with */
  int max_runs;             /* children at once (>= 1) */
  int once;                 /* one poll, wait for its children, exit */
  double time_scale;        /* passed to children (tests) */
  int64_t poll_ms;          /* 0: 500 */
  int64_t grace_ms;         /* SIGTERM -> SIGKILL of children; 0: 30 s */
  const char *labels;       /* --labels: JSON object (NULL: none); queued
                             * runs and runs submitted --on are taken only
                             * when it has every label they need */
  daemon_result_fn on_result;
  void *ud;
} daemon_opts;

/* Runs until SIGTERM/SIGINT (or one poll with once). Returns an exit
 * code (engine.h). */
int daemon_main(const daemon_opts *o);

/* Whether a run with this status has ended for its schedule (succeeded,
 * failed, cancelled, rolled back): what counts in consecutive_failures.
 * Also for `summit schedule run`, which records its run's end the same. */
int daemon_final_status(const char *status);

/* The arguments of the `summit run` that serves a fire: argv[0] and
 * argv[1] left for the caller (the binary, "run"), then RUNBOOK --fire
 * FIRE, -p k=v for each param of params (the schedule's JSON object),
 * --env, --config; argc counts them, and room more slots are free after
 * them (NULL-terminated whatever the caller adds within room). */
typedef struct {
  char **argv;
  int argc;
  char **owned;   /* the "k=v" strings */
  int nowned;
} daemon_fire_args;
void daemon_fire_args_make(daemon_fire_args *a, const char *runbook,
                           const char *fire, const char *params,
                           const char *env, const char *config, int room);
void daemon_fire_args_free(daemon_fire_args *a);

#endif
