#ifndef SUMMIT_ENGINE_OUTCOME_H
#define SUMMIT_ENGINE_OUTCOME_H
/* The outcome of an execution: what the scheduler's ending means for the
 * run (succeeded, failed, cancelled, rolled back, suspended, needs
 * attention, diverged, interrupted, an internal error) and recording it:
 * the audit records, the run's status, its locks and lease given back in
 * one commit, then run.finished or run.suspended. */
#include <cJSON.h>

#include "engine/runctx.h"
#include "engine/sched.h"

typedef struct {
  const char *status;     /* the run's status from now on */
  char *error;            /* its stored error, JSON text (malloc'd), or NULL */
  char *result;           /* succeeded: what run() returned, redacted JSON
                           * text (malloc'd; "null" for nothing) */
  char failed_key[1024];  /* the step it stopped at, or "" */
  int code;               /* the exit code (DESIGN §5) */
  int final;              /* the run is over (no resume) */
  int64_t wake;           /* suspended: when it wakes (0: no deadline) */
  cJSON *event;           /* the fields of run.finished / run.suspended */
} outcome_t;

/* Reads what out means for run c->rt.run_id into *oc (from the root
 * task's result or what halt() kept). wake: when a suspended run wakes.
 * prev: the run before this resume (NULL for a new run); a divergence
 * puts it back as it was. */
void outcome_classify(ctx_t *c, sched_outcome out, int64_t wake,
                      const store_run *prev, outcome_t *oc);

/* Records *oc (taken) and emits its event; t0: when the command started.
 * Returns the exit code (EXIT_BUSY when the store was fenced meanwhile). */
int outcome_record(ctx_t *c, sched_outcome out, outcome_t *oc, int64_t t0);

#endif
