/* summit test [DIR|FILE...] (docs/testing.md): runs the *_test.lua files,
 * each in a Lua host (engine/host.h) with summit.test (lua/summit/test.lua)
 * and the primitives below as summit.c.test. A case's runs are summit's
 * own commands (run, resume, approve, status, ...) called in this process
 * with their output captured, under the virtual clock of
 * engine/testmode.h: a run's sleeps and the simulated cluster's time are
 * skipped, not waited for. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "engine/engine.h"
#include "engine/host.h"
#include "engine/runtime.h"
#include "engine/testmode.h"

/* The commands a test may call, as `summit NAME ...` would. */
static const struct {
  const char *name;
  int (*fn)(int, char **);
} CMDS[] = {
  {"run", cmd_run},         {"resume", cmd_resume}, {"approve", cmd_approve},
  {"reject", cmd_reject},   {"status", cmd_status}, {"log", cmd_log},
  {"result", cmd_result},   {"runs", cmd_runs},     {"cancel", cmd_cancel},
  {"validate", cmd_validate}, {"audit", cmd_audit}, {"locks", cmd_locks},
  {NULL, NULL}
};

static const char *tmp_dir(void) {
  const char *t = getenv("TMPDIR");
  return t && *t ? t : "/tmp";
}

/* Reads fd (from its start) into a pushed string. */
static void push_file(lua_State *L, int fd) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  char buf[4096];
  ssize_t n;
  lseek(fd, 0, SEEK_SET);
  while ((n = read(fd, buf, sizeof buf)) > 0) luaL_addlstring(&b, buf, (size_t)n);
  luaL_pushresult(&b);
}

/* Calls cmd with stdout and stderr going to the temporary file fd. */
static int captured(int (*cmd)(int, char **), int argc, char **argv, int fd) {
  fflush(stdout);
  fflush(stderr);
  int out = dup(1), err = dup(2);
  dup2(fd, 1);
  dup2(fd, 2);
  int code = cmd(argc, argv);
  fflush(stdout);
  fflush(stderr);
  dup2(out, 1);
  dup2(err, 2);
  close(out);
  close(err);
  return code;
}

/* summit(args, user) -> exit code, output: `summit args...` in this
 * process as user (SUMMIT_USER), its stdout and stderr captured. */
static int l_summit(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  const char *user = luaL_optstring(L, 2, NULL);
  int argc = (int)lua_objlen(L, 1);
  if (argc < 1) return luaL_argerror(L, 1, "which command?");
  char **argv = lua_newuserdata(L, sizeof(char *) * (size_t)(argc + 1));
  for (int i = 0; i < argc; i++) {
    lua_rawgeti(L, 1, i + 1);
    argv[i] = (char *)luaL_checkstring(L, -1);
    lua_pop(L, 1);   /* the table keeps the string alive */
  }
  argv[argc] = NULL;
  int (*fn)(int, char **) = NULL;
  for (int i = 0; CMDS[i].name; i++)
    if (!strcmp(CMDS[i].name, argv[0])) fn = CMDS[i].fn;
  if (!fn) return luaL_error(L, "summit test cannot call 'summit %s'", argv[0]);
  char path[4200];
  snprintf(path, sizeof path, "%s/summit-test-out.XXXXXX", tmp_dir());
  int fd = mkstemp(path);
  if (fd < 0) return luaL_error(L, "a temporary file: %s", strerror(errno));
  unlink(path);
  if (user) setenv("SUMMIT_USER", user, 1);
  int code = captured(fn, argc - 1, argv + 1, fd);
  if (user) unsetenv("SUMMIT_USER");
  lua_pushinteger(L, code);
  push_file(L, fd);
  close(fd);
  return 2;
}

/* clock([skip_ms [, set_ms]]) -> virtual now, wall clock now (ms): skips
 * skip_ms ahead, or sets the virtual clock to set_ms. */
static int l_clock(lua_State *L) {
  if (lua_isnumber(L, 2))
    testmode.offset_ms += (int64_t)lua_tonumber(L, 2) - runtime_now_ms();
  else
    testmode.offset_ms += (int64_t)luaL_optnumber(L, 1, 0);
  lua_pushnumber(L, (lua_Number)runtime_now_ms());
  lua_pushnumber(L, (lua_Number)(runtime_now_ms() - testmode.offset_ms));
  return 2;
}

/* arm(kill_at, scenario_json|nil): the next command's kill and knobs;
 * returns whether the previous one was killed. */
static int l_arm(lua_State *L) {
  static char *scenario;
  int was = testmode.killed;
  testmode.killed = 0;
  testmode.gates = 0;   /* a command starts with no task at a gate */
  testmode.kill_at = (long)luaL_optnumber(L, 1, 0);
  free(scenario);
  scenario = lua_isstring(L, 2) ? strdup(lua_tostring(L, 2)) : NULL;
  testmode.scenario = scenario;
  lua_pushboolean(L, was);
  return 1;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f) {
  (void)st; (void)flag; (void)f;
  return remove(p);
}

/* tmpdir() -> a new private directory; rmtree(dir) removes one. */
static int l_tmpdir(lua_State *L) {
  char path[4200];
  snprintf(path, sizeof path, "%s/summit-test.XXXXXX", tmp_dir());
  if (!mkdtemp(path)) return luaL_error(L, "a temporary directory: %s", strerror(errno));
  lua_pushstring(L, path);
  return 1;
}

static int l_rmtree(lua_State *L) {
  nftw(luaL_checkstring(L, 1), rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  return 0;
}

/* env(name, value|nil): sets or unsets a variable of this process. */
static int l_env(lua_State *L) {
  const char *k = luaL_checkstring(L, 1);
  if (lua_isstring(L, 2)) setenv(k, lua_tostring(L, 2), 1);
  else unsetenv(k);
  return 0;
}

/* chdir(dir) -> the directory it left. */
static int l_chdir(lua_State *L) {
  char cwd[4096];
  if (!getcwd(cwd, sizeof cwd)) return luaL_error(L, "getcwd: %s", strerror(errno));
  const char *dir = luaL_checkstring(L, 1);
  if (chdir(dir) != 0) return luaL_error(L, "%s: %s", dir, strerror(errno));
  lua_pushstring(L, cwd);
  return 1;
}

static const luaL_Reg FUNCS[] = {
  {"summit", l_summit}, {"clock", l_clock}, {"arm", l_arm},
  {"tmpdir", l_tmpdir}, {"rmtree", l_rmtree}, {"env", l_env},
  {"chdir", l_chdir},
  {NULL, NULL}
};

/* ---- finding the test files ------------------------------------------ */

typedef struct {
  char **v;
  int n, cap;
} files_t;

static files_t g_found;

static int add_file(files_t *f, const char *p) {
  if (f->n == f->cap) {
    int cap = f->cap ? f->cap * 2 : 16;
    char **v = realloc(f->v, sizeof *v * (size_t)cap);
    if (!v) return -1;
    f->v = v;
    f->cap = cap;
  }
  if (!(f->v[f->n] = strdup(p))) return -1;
  f->n++;
  return 0;
}

static int is_test_file(const char *p) {
  size_t n = strlen(p);
  return n > 9 && !strcmp(p + n - 9, "_test.lua");
}

/* Hidden directories (.summit, .git) hold no tests of the project. */
static int visit(const char *p, const struct stat *st, int flag, struct FTW *f) {
  (void)st;
  if (flag == FTW_D && f->level > 0 && p[f->base] == '.') return FTW_SKIP_SUBTREE;
  if (flag == FTW_F && is_test_file(p + f->base) && add_file(&g_found, p)) return FTW_STOP;
  return FTW_CONTINUE;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The test files of the arguments (a directory: its *_test.lua files, in
 * its subdirectories too, by name; a file: itself). 0, or 2 after saying
 * which argument is wrong. */
static int find_tests(int n, char **args, files_t *out) {
  for (int i = 0; i < n; i++) {
    struct stat st;
    if (stat(args[i], &st) != 0)
      return cli_usage("test", "%s: %s", args[i], strerror(errno));
    if (!S_ISDIR(st.st_mode)) {
      if (add_file(out, args[i])) return EXIT_FAILED;
      continue;
    }
    g_found = (files_t){0};
    nftw(args[i], visit, 16, FTW_PHYS | FTW_ACTIONRETVAL);
    if (g_found.n) qsort(g_found.v, (size_t)g_found.n, sizeof *g_found.v, by_name);
    for (int j = 0; j < g_found.n; j++) {
      add_file(out, g_found.v[j]);
      free(g_found.v[j]);
    }
    free(g_found.v);
  }
  return 0;
}

/* ---- running them ----------------------------------------------------- */

/* Runs one file: summit.test's run_file(path, verbose) in a fresh host,
 * adding its counts to *passed and *failed. */
static void run_file(const char *path, int verbose, int *passed, int *failed) {
  host_t h;
  if (host_init(&h, 1, NULL) != 0) {
    printf("FAIL %s: cannot set up Lua and the event loop\n", path);
    (*failed)++;
    return;
  }
  lua_State *L = h.rt.L;
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "loaded");
  lua_newtable(L);
  luaL_register(L, NULL, FUNCS);
  lua_setfield(L, -2, "summit.c.test");
  lua_settop(L, 0);
  lua_pushcfunction(L, host_traceback);
  lua_getglobal(L, "require");
  lua_pushstring(L, "summit.test");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "run_file");
  lua_pushstring(L, path);
  lua_pushboolean(L, verbose);
  if (lua_pcall(L, 2, 2, 1) != 0) {
    printf("FAIL %s: %s\n", path, lua_tostring(L, -1));
    (*failed)++;
  } else {
    *passed += (int)lua_tointeger(L, -2);
    *failed += (int)lua_tointeger(L, -1);
  }
  fflush(stdout);
  host_free(&h);
}

int cmd_test(int argc, char **argv) {
  int verbose = 0, nargs = 0;
  char **args = calloc((size_t)argc + 1, sizeof *args);
  if (!args) return EXIT_FAILED;
  for (int i = 0; i < argc; i++) {
    if (cli_flag(argv, i, "--verbose") || cli_flag(argv, i, "-v")) verbose = 1;
    else if (argv[i][0] == '-') {
      free(args);
      return cli_usage("test", "unknown option %s", argv[i]);
    } else args[nargs++] = argv[i];
  }
  /* By default the project: the directory of the nearest summit.lua. */
  static char root[4096];
  const char *cfg = cli_find_config();
  if (nargs == 0) {
    if (!cfg) {
      free(args);
      return cli_usage("test", "no summit.lua here or above: name the tests, "
                               "summit test DIR|FILE...");
    }
    /* Shown relative to here, as a path given on the command line is. */
    char cwd[4096];
    int dir_len = (int)(strrchr(cfg, '/') - cfg);
    size_t n = getcwd(cwd, sizeof cwd) ? strlen(cwd) : 0;
    if (n && (size_t)dir_len >= n && !strncmp(cfg, cwd, n) && (cfg[n] == '/'))
      snprintf(root, sizeof root, "%.*s", dir_len - (int)n > 0 ? dir_len - (int)n - 1 : 1,
               dir_len > (int)n ? cfg + n + 1 : ".");
    else
      snprintf(root, sizeof root, "%.*s", dir_len, cfg);
    args[nargs++] = root;
  }
  files_t files = {0};
  int code = find_tests(nargs, args, &files);
  free(args);
  if (!code && files.n == 0) code = cli_usage("test", "no *_test.lua files found");
  int passed = 0, failed = 0;
  testmode.on = 1;
  for (int i = 0; !code && i < files.n; i++)
    run_file(files.v[i], verbose, &passed, &failed);
  testmode = (testmode_t){0};
  for (int i = 0; i < files.n; i++) free(files.v[i]);
  free(files.v);
  if (code) return code;
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? EXIT_FAILED : EXIT_OK;
}
