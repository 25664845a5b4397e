#ifndef SUMMIT_ENGINE_STORECFG_H
#define SUMMIT_ENGINE_STORECFG_H
/* Which store a command opens (storecfg.c). */

#include <lua.h>
#include <stddef.h>

/* Writes into out the store target: $SUMMIT_STORE, else `store =` of the
 * configuration (the one loaded in `loaded`, or the file config_path;
 * both may be NULL), else state_dir/state.db. -1 with err when summit.lua
 * cannot be read or its store is refused (a password in it). */
int engine_store_target(const char *state_dir, const char *config_path,
                        lua_State *loaded, char *out, size_t n, char *err,
                        size_t errlen);

#endif
