#ifndef SUMMIT_ENGINE_LOADER_H
#define SUMMIT_ENGINE_LOADER_H
/* Loading what a run is made of, one way for run, resume, validate and
 * the catalog: summit.lua into summit.config, and a runbook's source into
 * a fresh sandbox, whose top level must return runbook{...}. And the
 * protected entry these commands drive Lua through while they start, so a
 * Lua error there (a broken summit.lua, a module that raises) exits 2
 * with its message (DESIGN §5) rather than ending in a panic. */
#include <lua.h>
#include <stddef.h>

#include "engine/host.h"
#include "engine/runtime.h"

/* Runs step under host_protect (its stack: the top nargs values). Returns
 * the step's exit code; a Lua error is printed and is EXIT_USAGE. On any
 * non-zero return the stack is back below the nargs values. */
int loader_protect(lua_State *L, host_step step, void *ud, int nargs);

/* require(name), its result pushed; for use inside a protected step. */
void loader_require(lua_State *L, const char *name);
/* Pushes function name of summit.runbook (the runbook DSL). */
void loader_push_runbook_fn(lua_State *L, const char *name);

/* Loads the configuration file at path (NULL: none) into summit.config
 * and selects environment env_name (NULL: none), then applies its limits.
 * Prints every problem; EXIT_USAGE if any. */
int loader_config(runtime_t *rt, const char *path, const char *env_name);

/* What loader_eval found. */
enum {
  LOAD_OK,
  LOAD_SYNTAX,       /* message pushed: the compiler's, with file:line */
  LOAD_CHECK,        /* summit.check's problems (a list) pushed */
  LOAD_RAISED,       /* message pushed: the top level's error */
  LOAD_NOT_RUNBOOK   /* the type name of what it returned pushed */
};

/* Compiles src (named path) in a new sandbox, checks its globals
 * statically if static_check, and runs its top level under the load
 * budget (watchdog.h). Pushes the definition and returns LOAD_OK, or
 * pushes what is wrong and returns LOAD_* (see above). */
int loader_eval(lua_State *L, const char *path, const char *src, size_t len,
                int static_check);

/* loader_eval for a command: pushes the definition and returns 0, or
 * prints what is wrong (file:line) and returns EXIT_USAGE. */
int loader_runbook(lua_State *L, const char *path, const char *src,
                   size_t len, int static_check);

#endif
