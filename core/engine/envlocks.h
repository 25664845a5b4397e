#ifndef SUMMIT_ENGINE_ENVLOCKS_H
#define SUMMIT_ENGINE_ENVLOCKS_H
/* The environment locks of a run (docs/runbooks.md "environment"): the
 * runbook declares the environments it touches; the run holds env:NAME
 * for each while it runs, and a second run of the same environment waits
 * (--wait-lock) or exits 5. */
#include <lua.h>

#include "engine/runctx.h"

/* Pushes the runbook's environment list (def and params on top of L) and
 * nil. Or prints what is wrong and returns EXIT_USAGE (two values pushed
 * all the same). Called inside a protected step (loader.h). */
int envlocks_names(lua_State *L, const char *env_name);

/* Takes the locks of the environments the runbook declares (def and
 * params on top of L) for run id, each with a lock.acquired record. Waits
 * with --wait-lock; otherwise a lock held by a live run is EXIT_BUSY,
 * naming that run. */
int envlocks_take(ctx_t *c, const engine_opts *o, const char *id,
                  const char *env_name);

#endif
