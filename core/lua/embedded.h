#ifndef SUMMIT_LUA_EMBEDDED_H
#define SUMMIT_LUA_EMBEDDED_H
#include <stddef.h>

/* One embedded Lua module: its require() name, its path in the source tree
 * (for SUMMIT_LUA_DIR, which loads the tree instead) and its code: the
 * engine's as bytecode, the stdlib's as source text (NUL-terminated; a
 * run pins the source it loads, preload.c). */
struct summit_embedded {
  const char *name;   /* "summit.step" */
  const char *path;   /* "lua/summit/step.lua" */
  const char *code;
  size_t size;        /* without the NUL of a text */
  int text;           /* code is source text: a stdlib module */
  const char *bc;     /* a stdlib module's bytecode too: what loads when
                         the run's pinned text is this one (no parse) */
  size_t bc_size;
};

/* Terminated by an entry whose name is NULL. */
extern const struct summit_embedded summit_embedded_modules[];

/* One file `summit init` writes into a team's repository (core/cli/init.c):
 * the editor types of stdlib/types/ and the starter files of contrib/init/,
 * as text (cmake/init_files.c.in). Terminated by a NULL path. */
struct summit_init_file {
  const char *path;   /* relative to the directory: "types/summit/cluster.lua" */
  const char *text;   /* NUL-terminated */
  size_t size;        /* without the NUL */
};
extern const struct summit_init_file summit_init_files[];

#endif
