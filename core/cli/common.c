/* What the commands share: state directory, identity, argument parsing. */
#include "cli/cli.h"

#include <pwd.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/storecfg.h"
#include "io/file.h"
#include "io/term.h"
#include "io/proc.h"
#include "store/store.h"

const char *cli_find_config(void) {
  static char found[4096];
  char cwd[4000];
  if (!getcwd(cwd, sizeof cwd)) return NULL;
  for (;;) {
    snprintf(found, sizeof found, "%s/summit.lua", cwd);
    if (access(found, F_OK) == 0) return found;
    char *slash = strrchr(cwd, '/');
    if (!slash) return NULL;
    if (slash == cwd) {
      if (!cwd[1]) return NULL;
      cwd[1] = '\0';  /* try the root itself once */
      continue;
    }
    *slash = '\0';
  }
}

const char *cli_state_dir(void) {
  static char dir[4096];
  const char *env = getenv("SUMMIT_STATE_DIR");
  if (env && *env) return env;
  const char *cfg = cli_find_config();
  if (cfg) {
    snprintf(dir, sizeof dir, "%.*s/.summit", (int)(strrchr(cfg, '/') - cfg), cfg);
    return dir;
  }
  const char *xdg = getenv("XDG_STATE_HOME");
  if (xdg && *xdg) {
    snprintf(dir, sizeof dir, "%s/summit", xdg);
    return dir;
  }
  const char *home = getenv("HOME");
  snprintf(dir, sizeof dir, "%s/.local/state/summit", home ? home : ".");
  return dir;
}

const char *cli_user(void) {
  static char name[256];
  const char *u = getenv("SUMMIT_USER");
  if (u && *u) return u;
  if (getlogin_r(name, sizeof name) == 0) return name;
  struct passwd *pw = getpwuid(getuid());
  if (pw) {
    snprintf(name, sizeof name, "%s", pw->pw_name);
    return name;
  }
  snprintf(name, sizeof name, "uid%d", (int)getuid());
  return name;
}

int cli_flag(char **argv, int i, const char *name) {
  return strcmp(argv[i], name) == 0;
}

int cli_opt(int argc, char **argv, int *i, const char *name,
            const char **value) {
  size_t n = strlen(name);
  const char *a = argv[*i];
  if (strncmp(a, name, n) != 0) return 0;
  if (a[n] == '=') {
    *value = a + n + 1;
    return 1;
  }
  if (a[n] != '\0') return 0;
  if (*i + 1 >= argc) {
    fprintf(stderr, "summit: %s needs a value\n", name);
    return -1;
  }
  *value = argv[++*i];
  return 1;
}

int cli_time_scale(const char *cmd, int argc, char **argv, int *i,
                   double *scale) {
  const char *v;
  int r = cli_opt(argc, argv, i, "--time-scale", &v);
  if (r <= 0) return r;
  char *end;
  double s = strtod(v, &end);
  if (*end || !(s > 0)) {
    cli_usage(cmd, "--time-scale must be a positive number, not '%s'", v);
    return -1;
  }
  *scale = s;
  return 1;
}

int cli_usage(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "summit %s: ", cmd);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n(see: summit help %s)\n", cmd);
  va_end(ap);
  return 2;
}

int cli_store_target(char *out, size_t n) {
  char err[1024];
  if (engine_store_target(cli_state_dir(), cli_find_config(), NULL, out, n,
                          err, sizeof err) != 0) {
    fprintf(stderr, "summit: %s\n", term_strf(err, TERM_MULTILINE));
    return -1;
  }
  return 0;
}

struct store *cli_open_store(void) {
  char path[4200], err[1024];
  const char *dir = cli_state_dir();
  if (cli_store_target(path, sizeof path) != 0) return NULL;
  if (!store_is_url(path) && access(path, F_OK) != 0) {
    fprintf(stderr, "summit: no state database at %s (no runs yet)\n", path);
    return NULL;
  }
  io_private_dir(dir);  /* an older summit's may be world-readable */
  store_t *s = store_open(path, 0, STORE_DURABILITY_FULL, err, sizeof err);
  if (!s) fprintf(stderr, "summit: %s\n", err);
  return s;
}

struct store *cli_open_store_rw(const char *cmd) {
  const char *dir = cli_state_dir();
  char path[4200], err[1024];
  if (io_private_dir(dir) != 0) {
    fprintf(stderr, "summit %s: cannot create state directory %s: %s\n", cmd,
            dir, strerror(errno));
    return NULL;
  }
  if (cli_store_target(path, sizeof path) != 0) return NULL;
  store_t *s = store_open(path, 1, STORE_DURABILITY_FULL, err, sizeof err);
  if (!s) fprintf(stderr, "summit %s: %s\n", cmd, err);
  return s;
}

/* ---- --listen ------------------------------------------------------ */

int cli_parse_listen(const char *v, const char *default_host,
                     const char **host, int *port) {
  static char buf[256];
  const char *colon = strrchr(v, ':');
  const char *ps = colon ? colon + 1 : v;
  char *end;
  long p = strtol(ps, &end, 10);
  if (!*ps || *end || p < 0 || p > 65535) return -1;
  *port = (int)p;
  if (!colon || colon == v) {
    *host = default_host;
    return 0;
  }
  size_t n = (size_t)(colon - v);
  if (v[0] == '[' && n >= 2 && v[n - 1] == ']') {
    v++;
    n -= 2;
  }
  if (n == 0 || n >= sizeof buf) return -1;
  memcpy(buf, v, n);
  buf[n] = '\0';
  *host = buf;
  return 0;
}

/* ---- running a helper program (ssh-keygen) ------------------------- */

typedef struct {
  int done;
  cli_output *out;
} run_wait;

static void run_done(void *ud, const proc_result *r) {
  run_wait *w = ud;
  w->done = 1;
  w->out->code = r->spawn_error ? -1 : (int)r->exit_code;
  w->out->spawn_error = r->spawn_error;
  w->out->out = r->out ? strdup(r->out) : strdup("");
  w->out->err = r->err ? strdup(r->err) : strdup("");
}

int cli_run(const char *const *argv, const char *input, size_t input_len,
            cli_output *out) {
  memset(out, 0, sizeof *out);
  uv_loop_t loop;
  if (uv_loop_init(&loop) != 0) return -1;
  run_wait w = {.out = out};
  proc_opts o = {.argv = argv, .input = input, .input_len = input_len,
                 .timeout_ms = 60000, .log_fd = -1};
  if (!proc_start(&loop, &o, run_done, &w)) {
    uv_loop_close(&loop);
    return -1;
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  if (!w.done || !out->out || !out->err) {
    cli_output_free(out);
    return -1;
  }
  return 0;
}

void cli_output_free(cli_output *o) {
  free(o->out);
  free(o->err);
  o->out = o->err = NULL;
}
