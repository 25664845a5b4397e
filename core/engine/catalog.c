/* The runbook catalog (docs/runbooks.md): `summit runbooks` and the name
 * lookup of `summit run NAME`. The directories come from summit.lua (see
 * lua/summit/catalog.lua); each *.lua file in them is loaded in the
 * sandbox as `summit run` loads it, and its runbook{...} described. */
#include <dirent.h>
#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "engine/host.h"
#include "engine/limits.h"
#include "engine/runtime.h"
#include "io/file.h"
#include "lua/bindings.h"


/* require(name), result on the stack. */
static void require(lua_State *L, const char *name) {
  lua_getglobal(L, "require");
  lua_pushstring(L, name);
  lua_call(L, 1, 1);
}

/* Loads summit.lua into summit.config (as a run does). Prints the problems
 * and returns EXIT_USAGE, or 0. */
static int load_config(lua_State *L, const char *path) {
  if (!path) return 0;
  size_t len;
  char *src = io_read_file(path, &len);
  if (!src) {
    fprintf(stderr, "summit: cannot read configuration %s: %s\n", path,
            strerror(errno));
    return EXIT_USAGE;
  }
  require(L, "summit.config");
  lua_getfield(L, -1, "open");
  lua_pushstring(L, path);
  lua_pushlstring(L, src, len);
  free(src);
  lua_pushnil(L);
  watchdog_t *wd = &runtime_get(L)->wd;
  watchdog_load_begin(wd, path);             /* run under config's pcall */
  lua_call(L, 3, 2);                         /* config ok problems */
  watchdog_load_end(wd);
  int code = 0;
  if (!lua_toboolean(L, -2)) {
    int n = (int)lua_objlen(L, -1);
    for (int i = 1; i <= n; i++) {
      lua_rawgeti(L, -1, i);
      fprintf(stderr, "summit: %s\n", lua_tostring(L, -1));
      lua_pop(L, 1);
    }
    code = EXIT_USAGE;
  }
  lua_pop(L, 3);
  if (!code && limits_apply(runtime_get(L)) != 0) code = EXIT_USAGE;
  return code;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Loads one runbook file in a fresh sandbox. Pushes its definition and
 * returns 1, or pushes the error message and returns 0. */
static int load_one(lua_State *L, const char *path) {
  size_t len;
  char *src = io_read_file(path, &len);
  if (!src) {
    lua_pushfstring(L, "%s: cannot read: %s", path, strerror(errno));
    return 0;
  }
  char chunk[4200];
  snprintf(chunk, sizeof chunk, "@%s", path);
  int rc = luaL_loadbuffer(L, src, len, chunk);
  free(src);
  if (rc != 0) return 0;                     /* the message */
  sl_push_sandbox(L);
  lua_setfenv(L, -2);
  lua_pushcfunction(L, host_traceback);
  lua_insert(L, -2);                         /* tb chunk */
  /* An endless top level makes this file's entry an error, not a hang of
   * the whole catalog. */
  watchdog_t *wd = &runtime_get(L)->wd;
  watchdog_load_begin(wd, path);
  rc = lua_pcall(L, 0, 1, -2);
  watchdog_load_end(wd);
  if (rc != 0) {
    const char *msg = lua_tostring(L, -1);
    /* The first line is enough for a listing. */
    const char *nl = msg ? strchr(msg, '\n') : NULL;
    lua_pushlstring(L, msg ? msg : "(error)", nl ? (size_t)(nl - msg)
                                                 : strlen(msg ? msg : "(error)"));
    lua_replace(L, -3);
    lua_pop(L, 1);
    return 0;
  }
  lua_remove(L, -2);                         /* def */
  require(L, "summit.runbook");
  lua_getfield(L, -1, "is");
  lua_pushvalue(L, -3);
  lua_call(L, 1, 1);
  int ok = lua_toboolean(L, -1);
  lua_pop(L, 2);
  if (!ok) {
    lua_pop(L, 1);
    lua_pushfstring(L, "%s: the file must return runbook{...}", path);
    return 0;
  }
  return 1;
}

/* Builds the catalog. Leaves on the stack: catalog module, dirs, list
 * (described runbooks, in search order), problems (strings; "warning: "
 * ones are not fatal). Returns the number of fatal problems, or -1 when
 * the directories themselves are wrong (message printed). */
static int build(lua_State *L) {
  require(L, "summit.catalog");              /* cat */
  lua_getfield(L, -1, "dirs");
  if (lua_pcall(L, 0, 1, 0) != 0) {          /* cat dirs|err */
    fprintf(stderr, "summit: %s\n", lua_tostring(L, -1));
    lua_pop(L, 2);
    return -1;
  }
  int cat = lua_gettop(L) - 1, dirs = cat + 1;
  lua_newtable(L);                           /* list */
  lua_newtable(L);                           /* problems */
  int list = dirs + 1, problems = dirs + 2, fatal = 0;
  /* Files under the working directory are named relative to it (shorter
   * messages; Lua cuts long chunk names). */
  char cwd[4096];
  size_t ncwd = getcwd(cwd, sizeof cwd) ? strlen(cwd) : 0;
  int ndirs = (int)lua_objlen(L, dirs);
  for (int d = 1; d <= ndirs; d++) {
    lua_rawgeti(L, dirs, d);
    const char *dir = lua_tostring(L, -1);
    DIR *dp = opendir(dir);
    if (!dp) {
      /* The default directory may be absent; a configured one may not. */
      lua_pop(L, 1);
      continue;
    }
    size_t n = 0, cap = 16;
    char **names = malloc(cap * sizeof *names);
    struct dirent *e;
    while (names && (e = readdir(dp))) {
      size_t l = strlen(e->d_name);
      if (e->d_name[0] == '.' || l < 5 || strcmp(e->d_name + l - 4, ".lua"))
        continue;
      if (n == cap) {
        char **nn = realloc(names, (cap *= 2) * sizeof *names);
        if (!nn) break;
        names = nn;
      }
      names[n++] = strdup(e->d_name);
    }
    closedir(dp);
    if (names) qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
      lua_pushfstring(L, "%s/%s", dir, names[i]);
      const char *path = lua_tostring(L, -1);
      if (ncwd > 1 && !strncmp(path, cwd, ncwd) && path[ncwd] == '/') {
        lua_pushstring(L, path + ncwd + 1);
        lua_remove(L, -2);
        path = lua_tostring(L, -1);
      }
      if (load_one(L, path)) {               /* path def */
        lua_getfield(L, cat, "version_problem");
        lua_pushvalue(L, -2);
        lua_call(L, 1, 2);                   /* path def level msg */
        if (lua_isstring(L, -2)) {
          lua_pushfstring(L, "%s: %s: %s", lua_tostring(L, -2), path,
                          lua_tostring(L, -1));
          lua_rawseti(L, problems, (int)lua_objlen(L, problems) + 1);
        }
        lua_pop(L, 2);
        lua_getfield(L, cat, "describe");
        lua_insert(L, -2);
        lua_pushvalue(L, -3);
        lua_call(L, 2, 1);                   /* path desc */
        lua_rawseti(L, list, (int)lua_objlen(L, list) + 1);
      } else {                               /* path msg */
        lua_pushfstring(L, "error: cannot load %s", lua_tostring(L, -1));
        lua_rawseti(L, problems, (int)lua_objlen(L, problems) + 1);
        lua_pop(L, 1);
        fatal++;
      }
      lua_pop(L, 1);
      free(names[i]);
    }
    free(names);
    lua_pop(L, 1);                           /* dir */
  }
  lua_getfield(L, cat, "duplicates");
  lua_pushvalue(L, list);
  lua_call(L, 1, 1);
  int nd = (int)lua_objlen(L, -1);
  for (int i = 1; i <= nd; i++) {
    lua_rawgeti(L, -1, i);
    lua_pushfstring(L, "error: %s", lua_tostring(L, -1));
    lua_rawseti(L, problems, (int)lua_objlen(L, problems) + 1);
    lua_pop(L, 1);
    fatal++;
  }
  lua_pop(L, 1);
  return fatal;
}

int engine_runbooks(const engine_opts *o) {
  host_t h;
  if (host_init(&h, 1, o->state_dir) != 0) return EXIT_FAILED;
  lua_State *L = h.rt.L;
  int code = load_config(L, o->config_path);
  if (!code) {
    int fatal = build(L);
    if (fatal < 0) {
      code = EXIT_USAGE;
    } else {
      int n = (int)lua_objlen(L, -1);
      for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        const char *msg = lua_tostring(L, -1);
        fprintf(stderr, "summit runbooks: %s\n", msg);
        /* A non-semver version is an error, as in summit validate. */
        if (!strncmp(msg, "error: ", 7)) fatal = 1;
        lua_pop(L, 1);
      }
      lua_getfield(L, -4, "report");
      lua_pushvalue(L, -3);
      lua_pushboolean(L, o->json);
      lua_call(L, 2, 0);
      if ((int)lua_objlen(L, -2) == 0 && !o->json) {
        lua_pushvalue(L, -3);                /* dirs */
        int nd = (int)lua_objlen(L, -1);
        fprintf(stderr, "summit runbooks: no runbooks found in");
        for (int i = 1; i <= nd; i++) {
          lua_rawgeti(L, -1, i);
          fprintf(stderr, "%s %s", i > 1 ? "," : "", lua_tostring(L, -1));
          lua_pop(L, 1);
        }
        fprintf(stderr, "\n");
        lua_pop(L, 1);
      }
      lua_pop(L, 4);
      if (fatal) code = EXIT_USAGE;
    }
  }
  fflush(stdout);
  host_free(&h);
  return code;
}

int engine_find_runbook(const engine_opts *o, const char *name, char **path) {
  *path = NULL;
  host_t h;
  if (host_init(&h, 1, o->state_dir) != 0) return EXIT_FAILED;
  lua_State *L = h.rt.L;
  int code = load_config(L, o->config_path);
  if (!code) {
    if (build(L) < 0) {
      code = EXIT_USAGE;
    } else {
      lua_getfield(L, -4, "find");
      lua_pushvalue(L, -3);
      lua_pushstring(L, name);
      lua_pushvalue(L, -6);
      lua_call(L, 3, 2);                     /* ... file|nil msg */
      if (lua_isstring(L, -2)) {
        *path = strdup(lua_tostring(L, -2));
      } else {
        fprintf(stderr, "summit: %s\n", lua_tostring(L, -1));
        /* Files that could not be loaded may be the one that was meant. */
        int n = (int)lua_objlen(L, -3);
        for (int i = 1; i <= n; i++) {
          lua_rawgeti(L, -3, i);
          const char *msg = lua_tostring(L, -1);
          if (!strncmp(msg, "error: cannot load ", 19))
            fprintf(stderr, "summit: (skipped, it cannot be loaded: %s)\n",
                    msg + 19);
          lua_pop(L, 1);
        }
        code = EXIT_USAGE;
      }
      lua_pop(L, 6);
    }
  }
  host_free(&h);
  return code;
}
