#ifndef SUMMIT_ENGINE_LALLOC_H
#define SUMMIT_ENGINE_LALLOC_H
/* The Lua allocator of a run's state, with a cap on what it holds
 * (limits.memory in summit.lua, SUMMIT_LUA_MEMORY; default
 * LALLOC_DEFAULT_CAP). A request past the cap is refused, which Lua raises
 * as "not enough memory": the step fails with ENOMEM (errors.lua) instead
 * of the process taking all the machine's memory. The cap counts what Lua
 * holds, garbage not yet collected included.
 *
 * After a refusal the state is "over": the engine may use a reserve of a
 * quarter of the cap to record the failure, while the watchdog raises
 * ENOMEM in the runbook's code and collects garbage from the engine's until
 * what is held is under the cap again. */
#include <stddef.h>

#define LALLOC_DEFAULT_CAP ((size_t)1 << 30)   /* 1 GiB */

typedef struct lalloc {
  size_t used;      /* bytes held by the state */
  size_t cap;       /* 0: no cap */
  int refused;      /* a request was refused for the cap (sticky) */
  int over;         /* refused and not yet back under the cap */
} lalloc_t;

/* A lua_Alloc: ud is the lalloc_t. */
void *lalloc(void *ud, void *ptr, size_t osize, size_t nsize);

/* Parses a size: bytes, or a number with KB|MB|GB (powers of 1000) or
 * KiB|MiB|GiB (powers of 1024), "0" for no cap. -1 with err on a bad one. */
int lalloc_parse_size(const char *text, size_t *out, char *err, size_t errlen);

/* Formats n as "512 MiB" (or bytes) into buf. */
const char *lalloc_format(size_t n, char *buf, size_t len);

#endif
