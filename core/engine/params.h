#ifndef SUMMIT_ENGINE_PARAMS_H
#define SUMMIT_ENGINE_PARAMS_H
/* A run's params: read from -p key=value and --params-file, refused when
 * their text cannot pass through the journal intact, resolved against the
 * runbook's schema, and sealed (the secret ones replaced) to be stored;
 * for a resume, the secret ones read again (docs/secrets.md). Each prints
 * what is wrong and returns EXIT_USAGE. Called inside a protected step
 * (loader.h). */
#include <lua.h>

#include "engine/engine.h"

/* Builds the raw params from o and resolves them against the schema of
 * the definition at index def. Pushes the params, or returns EXIT_USAGE. */
int params_resolve(lua_State *L, int def, const engine_opts *o);

/* runbook.seal(def, params): registers the secret params' values for
 * redaction (engine/secrets.c) and returns the params as they are stored,
 * as JSON text (malloc'd), each secret one as [secret:NAME]; or prints
 * why not and returns NULL. The stack is as it was. */
char *params_seal(lua_State *L, int def, int params);

/* The params of a resumed run (its stored params on top of L, replaced):
 * the secret ones are read again, from -p of the resume or the param's
 * env or file. EXIT_USAGE, naming what is missing, when one cannot be
 * had; the run stays as it was. */
int params_resumed(lua_State *L, int def, const engine_opts *o,
                   const char *run_id);

#endif
