#ifndef SUMMIT_ENGINE_EXECUTE_H
#define SUMMIT_ENGINE_EXECUTE_H
/* Executing a loaded run: engine.setup and engine.main under the
 * scheduler, with the lease renewed, summit cancel polled for and
 * SIGINT/SIGTERM caught, until the run ends, suspends or stops; then its
 * outcome is recorded (outcome.h). */
#include "engine/runctx.h"

/* Runs the runbook whose definition and params are on top of L (popped)
 * as run c->rt.run_id, whose lease this process holds. prev is the run as
 * it was before this resume (NULL for a new run). t0: when the command
 * started. Returns the run's exit code (DESIGN §5). */
int execute_run(ctx_t *c, const engine_opts *o, const store_run *prev,
                int64_t t0);

/* resume --upgrade: pins the run to the new source (once). 0, or the
 * store's error. */
int execute_pin_upgrade(ctx_t *c);

#endif
