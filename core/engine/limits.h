#ifndef SUMMIT_ENGINE_LIMITS_H
#define SUMMIT_ENGINE_LIMITS_H
/* summit.lua's limits = { memory = "1GiB", load = "5s" } (docs/
 * configuration.md): the cap of the run's Lua allocator and the time
 * budget of loading a file. SUMMIT_LUA_MEMORY and SUMMIT_LOAD_TIMEOUT,
 * read when the state is made (host.c, watchdog.c), win over summit.lua. */
#include "engine/runtime.h"

/* Applies the limits of the loaded summit.config to rt. Prints what is
 * wrong (naming the file and key) and returns -1, or 0. */
int limits_apply(runtime_t *rt);

#endif
