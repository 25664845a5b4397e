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
#include "engine/loader.h"
#include "engine/report.h"
#include "io/file.h"

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Loads one runbook file in a fresh sandbox (as summit run does). Pushes
 * its definition and returns 1, or pushes the error message and returns
 * 0. */
static int load_one(lua_State *L, const char *path) {
  size_t len;
  char *src = io_read_file(path, &len);
  if (!src) {
    lua_pushfstring(L, "%s: cannot read: %s", path, strerror(errno));
    return 0;
  }
  int r = loader_eval(L, path, src, len, 0);
  free(src);
  if (r == LOAD_OK) return 1;
  if (r == LOAD_NOT_RUNBOOK) {
    lua_pop(L, 1);
    lua_pushfstring(L, "%s: the file must return runbook{...}", path);
  } else if (r == LOAD_RAISED) {
    /* The first line is enough for a listing. */
    const char *msg = lua_tostring(L, -1);
    const char *nl = msg ? strchr(msg, '\n') : NULL;
    if (nl) {
      lua_pushlstring(L, msg, (size_t)(nl - msg));
      lua_remove(L, -2);
    }
  }
  return 0;
}

/* The *.lua files of dir (not hidden), sorted; *n of them. NULL when dir
 * cannot be opened (the default directory may be absent). */
static char **lua_files(const char *dir, size_t *n) {
  DIR *dp = opendir(dir);
  if (!dp) return NULL;
  size_t cap = 16;
  char **names = malloc(cap * sizeof *names);
  struct dirent *e;
  *n = 0;
  while (names && (e = readdir(dp))) {
    size_t l = strlen(e->d_name);
    if (e->d_name[0] == '.' || l < 5 || strcmp(e->d_name + l - 4, ".lua"))
      continue;
    if (*n == cap) {
      char **nn = realloc(names, (cap *= 2) * sizeof *names);
      if (!nn) break;
      names = nn;
    }
    names[(*n)++] = strdup(e->d_name);
  }
  closedir(dp);
  if (names) qsort(names, *n, sizeof *names, by_name);
  else *n = 0;
  return names;
}

/* Appends the string on top of L to the list at index list. */
static void append(lua_State *L, int list) {
  lua_rawseti(L, list, (int)lua_objlen(L, list) + 1);
}

/* The catalog being built: the stack indices of its parts. */
typedef struct {
  int cat, list, problems, fatal;
} build_t;

/* Describes the runbook file at path (on top of L, kept) into the list,
 * or its load error into the problems. */
static void add_file(lua_State *L, build_t *b, const char *path) {
  if (!load_one(L, path)) {                  /* path msg */
    lua_pushfstring(L, "error: cannot load %s", lua_tostring(L, -1));
    append(L, b->problems);
    lua_pop(L, 1);
    b->fatal++;
    return;
  }
  lua_getfield(L, b->cat, "version_problem");  /* path def */
  lua_pushvalue(L, -2);
  lua_call(L, 1, 2);                         /* path def level msg */
  if (lua_isstring(L, -2)) {
    lua_pushfstring(L, "%s: %s: %s", lua_tostring(L, -2), path,
                    lua_tostring(L, -1));
    append(L, b->problems);
  }
  lua_pop(L, 2);
  lua_getfield(L, b->cat, "describe");
  lua_insert(L, -2);
  lua_pushvalue(L, -3);
  lua_call(L, 2, 1);                         /* path desc */
  append(L, b->list);
}

/* Adds the runbooks of directory dir. Files under the working directory
 * are named relative to it (shorter messages; Lua cuts long chunk
 * names). */
static void add_dir(lua_State *L, build_t *b, const char *dir) {
  char cwd[4096];
  size_t ncwd = getcwd(cwd, sizeof cwd) ? strlen(cwd) : 0, n = 0;
  char **names = lua_files(dir, &n);
  for (size_t i = 0; i < n; i++) {
    lua_pushfstring(L, "%s/%s", dir, names[i]);
    const char *path = lua_tostring(L, -1);
    if (ncwd > 1 && !strncmp(path, cwd, ncwd) && path[ncwd] == '/') {
      lua_pushstring(L, path + ncwd + 1);
      lua_remove(L, -2);
      path = lua_tostring(L, -1);
    }
    add_file(L, b, path);
    lua_pop(L, 1);
    free(names[i]);
  }
  free(names);
}

/* Builds the catalog. Leaves on the stack: catalog module, dirs, list
 * (described runbooks, in search order), problems (strings; "warning: "
 * ones are not fatal). Returns the number of fatal problems, or -1 when
 * the directories themselves are wrong (message printed). */
static int build(lua_State *L) {
  loader_require(L, "summit.catalog");       /* cat */
  lua_getfield(L, -1, "dirs");
  if (lua_pcall(L, 0, 1, 0) != 0) {          /* cat dirs|err */
    engine_errf("%s", lua_tostring(L, -1));
    lua_pop(L, 2);
    return -1;
  }
  int dirs = lua_gettop(L);
  lua_newtable(L);                           /* list */
  lua_newtable(L);                           /* problems */
  build_t b = {dirs - 1, dirs + 1, dirs + 2, 0};
  int ndirs = (int)lua_objlen(L, dirs);
  for (int d = 1; d <= ndirs; d++) {
    lua_rawgeti(L, dirs, d);
    add_dir(L, &b, lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  lua_getfield(L, b.cat, "duplicates");
  lua_pushvalue(L, b.list);
  lua_call(L, 1, 1);
  int nd = (int)lua_objlen(L, -1);
  for (int i = 1; i <= nd; i++) {
    lua_rawgeti(L, -1, i);
    lua_pushfstring(L, "error: %s", lua_tostring(L, -1));
    append(L, b.problems);
    lua_pop(L, 1);
    b.fatal++;
  }
  lua_pop(L, 1);
  return b.fatal;
}

/* Prints where no runbook was found (dirs at index dirs). */
static void say_none_found(lua_State *L, int dirs) {
  int nd = (int)lua_objlen(L, dirs);
  fprintf(stderr, "summit runbooks: no runbooks found in");
  for (int i = 1; i <= nd; i++) {
    lua_rawgeti(L, dirs, i);
    fprintf(stderr, "%s %s", i > 1 ? "," : "", lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  fprintf(stderr, "\n");
}

typedef struct {
  const engine_opts *o;
  const char *name;  /* find: the runbook's name */
  char *path;        /* find: its file */
} catalog_t;

/* Protected step: summit runbooks. */
static int list_runbooks(lua_State *L, void *ud) {
  const engine_opts *o = ((catalog_t *)ud)->o;
  int code = loader_config(runtime_get(L), o->config_path, NULL);
  if (code) return code;
  int fatal = build(L);                      /* cat dirs list problems */
  if (fatal < 0) return EXIT_USAGE;
  int n = (int)lua_objlen(L, 4);
  for (int i = 1; i <= n; i++) {
    lua_rawgeti(L, 4, i);
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "summit runbooks: %s\n", msg);
    /* A non-semver version is an error, as in summit validate. */
    if (!strncmp(msg, "error: ", 7)) fatal = 1;
    lua_pop(L, 1);
  }
  lua_getfield(L, 1, "report");
  lua_pushvalue(L, 3);
  lua_pushboolean(L, o->json);
  lua_call(L, 2, 0);
  if ((int)lua_objlen(L, 3) == 0 && !o->json) say_none_found(L, 2);
  lua_settop(L, 0);
  return fatal ? EXIT_USAGE : 0;
}

int engine_runbooks(const engine_opts *o) {
  host_t h;
  if (host_init(&h, 1, o->state_dir) != 0) return EXIT_FAILED;
  catalog_t c = {.o = o};
  int code = loader_protect(h.rt.L, list_runbooks, &c, 0);
  fflush(stdout);
  host_free(&h);
  return code;
}

/* Protected step: the file of runbook c->name. */
static int find_runbook(lua_State *L, void *ud) {
  catalog_t *c = ud;
  int code = loader_config(runtime_get(L), c->o->config_path, NULL);
  if (code) return code;
  if (build(L) < 0) return EXIT_USAGE;       /* cat dirs list problems */
  lua_getfield(L, 1, "find");
  lua_pushvalue(L, 3);
  lua_pushstring(L, c->name);
  lua_pushvalue(L, 2);
  lua_call(L, 3, 2);                         /* ... file|nil msg */
  if (lua_isstring(L, -2)) {
    c->path = strdup(lua_tostring(L, -2));
    lua_settop(L, 0);
    return 0;
  }
  engine_errf("%s", lua_tostring(L, -1));
  /* Files that could not be loaded may be the one that was meant. */
  int n = (int)lua_objlen(L, 4);
  for (int i = 1; i <= n; i++) {
    lua_rawgeti(L, 4, i);
    const char *msg = lua_tostring(L, -1);
    if (!strncmp(msg, "error: cannot load ", 19))
      engine_errf("(skipped, it cannot be loaded: %s)", msg + 19);
    lua_pop(L, 1);
  }
  return EXIT_USAGE;
}

int engine_find_runbook(const engine_opts *o, const char *name, char **path) {
  *path = NULL;
  host_t h;
  if (host_init(&h, 1, o->state_dir) != 0) return EXIT_FAILED;
  catalog_t c = {.o = o, .name = name};
  int code = loader_protect(h.rt.L, find_runbook, &c, 0);
  if (code) free(c.path);
  else *path = c.path;
  host_free(&h);
  return code;
}
