/* The run lifecycle (see engine.h): one lua_State, one loop, one store. */
#include "engine/engine.h"

#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <lualib.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "engine/duration.h"
#include "engine/host.h"
#include "engine/approval.h"
#include "engine/limits.h"
#include "engine/runtime.h"
#include "engine/secrets.h"
#include "engine/start_sig.h"
#include "engine/worktree.h"
#include "io/file.h"
#include "io/http.h"
#include "io/term.h"
#include "lua/audit.h"
#include "lua/bindings.h"

/* The lease lasts SUMMIT_LEASE_TTL (docs/journal.md), 30 s by default; the
 * owner renews it three times per lease. */
#define LEASE_TTL_DEFAULT_MS 30000
#define LEASE_TTL_MIN_MS 100
#define CANCEL_POLL_MS 250

/* ---- runtime ------------------------------------------------------- */

static const char RT_KEY = 0;  /* its address keys the registry */

void runtime_attach(lua_State *L, runtime_t *rt) {
  lua_pushlightuserdata(L, (void *)&RT_KEY);
  lua_pushlightuserdata(L, rt);
  lua_rawset(L, LUA_REGISTRYINDEX);
}

runtime_t *runtime_get(lua_State *L) {
  lua_pushlightuserdata(L, (void *)&RT_KEY);
  lua_rawget(L, LUA_REGISTRYINDEX);
  runtime_t *rt = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return rt;
}

int64_t runtime_now_ms(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

void engine_new_run_id(char out[16]) {
  static const char B32[] = "0123456789abcdefghjkmnpqrstvwxyz";
  struct timeval tv;
  gettimeofday(&tv, NULL);
  uint64_t us = (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec;
  uint32_t rnd = 0;
  uv_random(NULL, NULL, &rnd, sizeof rnd, 0, NULL);
  /* 11 characters of microseconds (good until the year 2527) keep ids in
   * creation order even for runs started in the same millisecond. */
  for (int i = 10; i >= 0; i--, us >>= 5) out[i] = B32[us & 31];
  for (int i = 11; i < 14; i++, rnd >>= 5) out[i] = B32[rnd & 31];
  out[14] = '\0';
}

/* ---- helpers ------------------------------------------------------- */

/* An error for people: its text may quote a runbook or a param, so it is
 * rendered for a terminal (io/term.h). */
static void errf(const char *fmt, ...) {
  char *buf = NULL;
  va_list ap;
  va_start(ap, fmt);
  int n = vasprintf(&buf, fmt, ap);
  va_end(ap);
  fputs("summit: ", stderr);
  term_fputs(n >= 0 ? buf : "(out of memory)", stderr, TERM_MULTILINE);
  fputc('\n', stderr);
  if (n >= 0) free(buf);
}

static void sha256_hex(const char *data, size_t len, char out[65]) {
  unsigned char md[32];
  unsigned int mdlen = 0;
  EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
  for (unsigned i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", md[i]);
  out[64] = '\0';
}

/* require(name) on L, result on the stack. */
static void require(lua_State *L, const char *name) {
  lua_getglobal(L, "require");
  lua_pushstring(L, name);
  lua_call(L, 1, 1);
}

/* Message handler for the runbook's load and setup: the error as a string,
 * without host_traceback's stack, as a user's runbook error is reported
 * by its message (file:line) alone. */
static int error_message(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (!msg) {
    /* An error table: its __tostring says it best. */
    lua_getglobal(L, "tostring");
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    msg = lua_tostring(L, -1);
  }
  lua_pushstring(L, msg ? msg : "(error)");
  return 1;
}

/* ---- the per-run context -------------------------------------------- */

typedef struct {
  runtime_t rt;
  events_t ev;
  uv_loop_t loop;
  uv_timer_t heartbeat, cancel_poll;
  uv_async_t sigwake;     /* SIGINT/SIGTERM wake the loop (watchdog.c) */
  int interrupted;
  int64_t ttl_ms;  /* the lease's length (SUMMIT_LEASE_TTL) */
  char host[256];
  char *upgrade_path, *upgrade_source, *upgrade_version;
  char upgrade_sha[65];
  int upgrade_pinned;
} ctx_t;

/* SUMMIT_LEASE_TTL: a duration ("30s", "500ms"; a plain number is
 * seconds). Returns the lease length in ms, or -1 after saying what is
 * wrong with the variable. */
static int64_t lease_ttl_ms(void) {
  const char *v = getenv("SUMMIT_LEASE_TTL");
  if (!v || !*v) return LEASE_TTL_DEFAULT_MS;
  double ms = 0;
  char why[200];
  if (duration_parse(v, &ms, why, sizeof why) != 0) {
    errf("SUMMIT_LEASE_TTL=%s: %s", v, why);
    return -1;
  }
  if (ms < LEASE_TTL_MIN_MS || ms > 86400000.0) {
    errf("SUMMIT_LEASE_TTL=%s: the lease must last from %dms to 24h", v,
         LEASE_TTL_MIN_MS);
    return -1;
  }
  return (int64_t)ms;
}

static int ctx_init(ctx_t *c, const engine_opts *o) {
  memset(c, 0, sizeof *c);
  c->ttl_ms = LEASE_TTL_DEFAULT_MS;
  if (host_init_parts(&c->rt, &c->ev, &c->loop, o->time_scale,
                      o->state_dir) != 0)
    return -1;
  events_init(&c->ev, stdout, o->json);
  c->ev.quiet = o->quiet;
  c->rt.user = o->user;
  gethostname(c->host, sizeof c->host - 1);
  return 0;
}

/* ---- the audit trail (docs/audit.md) --------------------------------- */

/* Appends a record for run id in the open write transaction, so it is
 * committed with the change it records. detail is taken. */
static void audit(ctx_t *c, const char *id, const char *action, cJSON *detail) {
  if (audit_append(&c->rt, id, action, detail) != STORE_OK)
    errf("writing the audit trail: %s", store_errmsg(c->rt.store));
}

/* Adds the code and message of a stored error (JSON text) to detail. */
static void audit_error(cJSON *detail, const char *error) {
  cJSON *e = error ? cJSON_Parse(error) : NULL;
  if (!e) return;
  const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code"),
              *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
  audit_add_error(detail, cJSON_IsString(code) ? code->valuestring : NULL,
                  cJSON_IsString(msg) ? msg->valuestring : NULL);
  cJSON_Delete(e);
}

static int held_lock(void *ud, const store_lock *l) {
  const char **want = ud;
  if (l->run_id && !strcmp(l->run_id, want[0]))
    cJSON_AddItemToArray((cJSON *)want[1], cJSON_CreateString(l->name));
  return 0;
}

/* lock.released for each lock run id holds, before they are released. */
static void audit_release_locks(ctx_t *c, const char *id) {
  cJSON *names = cJSON_CreateArray();
  const char *want[2] = {id, (const char *)names};
  store_lock_list(c->rt.store, held_lock, (void *)want);
  const cJSON *n;
  cJSON_ArrayForEach(n, names) {
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "name", n->valuestring);
    audit(c, id, "lock.released", d);
  }
  cJSON_Delete(names);
}

static void close_walk(uv_handle_t *h, void *arg) {
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

static void guard_fired(uv_timer_t *t) {
  uv_walk(t->loop, close_walk, NULL);
}

static void ctx_free(ctx_t *c) {
  if (c->rt.L) {
    /* Stop what the run started on the loop (an in-process sim), if the
     * engine was loaded at all. */
    lua_State *L = c->rt.L;
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "loaded");
    lua_getfield(L, -1, "summit.engine");
    if (lua_istable(L, -1)) {
      lua_getfield(L, -1, "shutdown");
      if (lua_pcall(L, 0, 0, 0) != 0) lua_pop(L, 1);
    }
    lua_pop(L, 3);
  }
  if (c->rt.sched) sched_free(c->rt.sched);
  c->rt.sched = NULL;
  if (c->rt.http) http_client_free(c->rt.http);
  if (c->rt.http_streams) http_client_free(c->rt.http_streams);
  c->rt.http = NULL;
  /* Cancelled waits close their handles, and a killed child is reaped
   * before its process handle closes: let the loop finish them, for at
   * most a few seconds (the guard is unref'd: it does not keep the loop
   * alive, it only ends a loop that something else keeps alive). */
  uv_timer_t guard;
  uv_timer_init(&c->loop, &guard);
  uv_timer_start(&guard, guard_fired, 3000, 0);
  uv_unref((uv_handle_t *)&guard);
  uv_run(&c->loop, UV_RUN_DEFAULT);
  uv_walk(&c->loop, close_walk, NULL);
  while (uv_run(&c->loop, UV_RUN_NOWAIT)) {}
  if (c->rt.L) lua_close(c->rt.L);
  uv_loop_close(&c->loop);
  if (c->rt.store) store_close(c->rt.store);
  if (c->rt.log_fd >= 0) close(c->rt.log_fd);
  free(c->upgrade_path);
  free(c->upgrade_source);
  free(c->upgrade_version);
}

/* Loads a runbook's source into the sandbox and runs its top level, which
 * must return runbook{...}. Pushes the definition and returns 0, or prints
 * what is wrong (file:line) and returns EXIT_USAGE. */
static int load_runbook(lua_State *L, const char *path, const char *src,
                        size_t len, int static_check) {
  char chunk[4200];
  snprintf(chunk, sizeof chunk, "@%s", path);
  if (luaL_loadbuffer(L, src, len, chunk) != 0) {
    errf("%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    return EXIT_USAGE;
  }
  sl_push_sandbox(L);                        /* chunk env */
  if (static_check) {
    require(L, "summit.check");
    lua_getfield(L, -1, "globals");
    lua_remove(L, -2);
    lua_pushvalue(L, -3);
    lua_pushvalue(L, -3);
    lua_call(L, 2, 1);                       /* chunk env problems */
    int n = (int)lua_objlen(L, -1);
    for (int i = 1; i <= n; i++) {
      lua_rawgeti(L, -1, i);
      errf("%s", lua_tostring(L, -1));
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (n > 0) {
      lua_pop(L, 2);
      return EXIT_USAGE;
    }
  }
  lua_setfenv(L, -2);
  lua_pushcfunction(L, error_message);
  lua_insert(L, -2);                         /* tb chunk */
  watchdog_t *wd = &runtime_get(L)->wd;
  watchdog_load_begin(wd, path);
  int rc = lua_pcall(L, 0, 1, -2);
  watchdog_load_end(wd);
  if (rc != 0) {
    errf("%s: %s", path, lua_tostring(L, -1));
    lua_pop(L, 2);
    return EXIT_USAGE;
  }
  lua_remove(L, -2);                         /* def */
  require(L, "summit.runbook");
  lua_getfield(L, -1, "is");
  lua_pushvalue(L, -3);
  lua_call(L, 1, 1);
  int ok = lua_toboolean(L, -1);
  lua_pop(L, 2);
  if (!ok) {
    errf("%s: the file must return runbook{...} (it returned a %s)", path,
         luaL_typename(L, -1));
    lua_pop(L, 1);
    return EXIT_USAGE;
  }
  return 0;
}

/* A JSON \u0000 escape in text: cJSON decodes it to a NUL byte, which
 * silently ends the C string. In valid JSON a backslash only appears in a
 * string, so an odd run of backslashes before "u0000" is that escape.
 * Rewrites each one to \uffff (a noncharacter, so the param that held it
 * can be named after decoding) and returns how many there were. */
static int mark_nul_escapes(char *text, size_t len) {
  int found = 0;
  for (size_t i = 0; i + 6 <= len; i++) {
    if (text[i] != '\\') continue;
    size_t j = i;
    while (j < len && text[j] == '\\') j++;
    if ((j - i) % 2 == 1 && j + 5 <= len && !memcmp(text + j, "u0000", 5)) {
      memcpy(text + j, "uffff", 5);
      found++;
    }
    i = j - 1;
  }
  return found;
}

/* Checks the strings of the value at the top of the stack (keys too, at
 * any depth): UTF-8 only (the journal, --json output and the audit chain
 * are JSON text) and, when nul_marked, none holding the \uffff that
 * mark_nul_escapes put for a NUL. path names the param. Prints why and
 * returns 0 on a bad one. */
static int param_text_ok(lua_State *L, const char *path, int nul_marked,
                         int depth) {
  if (lua_type(L, -1) == LUA_TSTRING) {
    size_t len, bad;
    const char *s = lua_tolstring(L, -1, &len);
    if (nul_marked && strstr(s, "\xef\xbf\xbf")) {
      errf("param %s: a string holds a NUL character (\\u0000), which "
           "summit cannot pass on intact; remove it",
           path);
      return 0;
    }
    if (memchr(s, '\0', len)) {
      errf("param %s: a string holds a NUL character; remove it",
           path);
      return 0;
    }
    if (!term_utf8_valid(s, len, &bad)) {
      errf("param %s: not valid UTF-8 (byte 0x%02x at offset %zu); params "
           "must be UTF-8 text", path,
           (unsigned)(unsigned char)s[bad], bad);
      return 0;
    }
    return 1;
  }
  if (lua_type(L, -1) != LUA_TTABLE || depth > 32) return 1;
  lua_pushnil(L);
  while (lua_next(L, -2)) {                  /* tbl key value */
    char sub[512];
    const char *k =
        lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "[n]";
    if (*path) snprintf(sub, sizeof sub, "%s.%s", path, k);
    else snprintf(sub, sizeof sub, "%s", k);
    lua_pushvalue(L, -2);                    /* tbl key value key */
    int ok = param_text_ok(L, sub, nul_marked, depth + 1);
    lua_pop(L, 1);                           /* tbl key value */
    if (ok) ok = param_text_ok(L, sub, nul_marked, depth + 1);
    lua_pop(L, 1);                           /* tbl key */
    if (!ok) {
      lua_pop(L, 1);                         /* tbl */
      return 0;
    }
  }
  return 1;
}

/* Sets each -p key=value of params into the table on top of L (values
 * stay strings: the schema converts them). -1, having said why, for an
 * argument without a key. */
static int set_cli_params(lua_State *L, const char *const *params) {
  for (const char *const *p = params; p && *p; p++) {
    const char *eq = strchr(*p, '=');
    if (!eq || eq == *p) {
      errf("-p %s: expected key=value", *p);
      return -1;
    }
    lua_pushlstring(L, *p, (size_t)(eq - *p));
    lua_pushstring(L, eq + 1);
    lua_settable(L, -3);
  }
  return 0;
}

/* Builds the raw params table from -p k=v and --params-file, then resolves
 * it against the schema. Pushes the params; EXIT_USAGE on any problem. */
static int resolve_params(lua_State *L, int def, const engine_opts *o) {
  int nuls = 0;
  lua_newtable(L);                           /* raw */
  if (o->params_file || o->params_json) {
    size_t len = 0;
    char *text = o->params_json ? strdup(o->params_json)
                                : io_read_file(o->params_file, &len);
    if (!text) {
      errf("--params-file %s: %s", o->params_file, strerror(errno));
      lua_pop(L, 1);
      return EXIT_USAGE;
    }
    if (o->params_json) len = strlen(text);
    nuls = mark_nul_escapes(text, len);
    int ok = sl_decode(L, text, len);
    free(text);
    /* A JSON array decodes to a sequence: only an object will do. */
    int object = ok && lua_istable(L, -1) && lua_objlen(L, -1) == 0;
    if (!object) {
      errf("--params-file %s: not a JSON object",
           o->params_json ? "(stored params)" : o->params_file);
      lua_pop(L, ok ? 2 : 1);
      return EXIT_USAGE;
    }
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      lua_settable(L, -5);
    }
    lua_pop(L, 1);
  }
  if (set_cli_params(L, o->params) != 0) {
    lua_pop(L, 1);
    return EXIT_USAGE;
  }
  /* Strings that cannot pass through the journal and JSON intact are
   * refused here, naming the param, rather than cut or written raw. */
  if (!param_text_ok(L, "", nuls, 0)) {
    lua_pop(L, 1);
    return EXIT_USAGE;
  }
  require(L, "summit.runbook");
  lua_getfield(L, -1, "resolve");
  lua_remove(L, -2);
  lua_pushvalue(L, def);
  lua_pushvalue(L, -3);
  lua_call(L, 2, 2);                         /* raw params errs */
  if (lua_isnil(L, -2)) {
    int n = (int)lua_objlen(L, -1);
    for (int i = 1; i <= n; i++) {
      lua_rawgeti(L, -1, i);
      errf("%s", lua_tostring(L, -1));
      lua_pop(L, 1);
    }
    lua_pop(L, 3);
    return EXIT_USAGE;
  }
  lua_pop(L, 1);
  lua_remove(L, -2);                         /* params */
  return 0;
}

/* The store refused a write: another process took the run's lease while
 * this one was stalled (stopped, paused, CPU-bound). Nothing more may
 * start: the scheduler stops at its next turn, before the loop runs again
 * (an HTTP request buffered for that turn never leaves). */
static void on_fenced(void *ud) {
  ctx_t *c = ud;
  if (c->rt.sched) sched_stop(c->rt.sched);
}

/* Says why this process stopped a run it no longer owns; EXIT_BUSY. */
static int report_fenced(ctx_t *c) {
  const char *why = store_fenced(c->rt.store);
  errf("%s; this process (pid %d) lost its lease while it was stalled and "
       "stopped without starting anything more", why ? why : "lease lost",
       (int)getpid());
  cJSON *f = cJSON_CreateObject();
  cJSON_AddStringToObject(f, "error", why ? why : "lease lost");
  events_emit(&c->ev, "run.fenced", f);
  cJSON_Delete(f);
  return EXIT_BUSY;
}

/* Prints a list of messages (a table on top of L) and pops it. */
static void print_errs(lua_State *L) {
  int n = (int)lua_objlen(L, -1);
  for (int i = 1; i <= n; i++) {
    lua_rawgeti(L, -1, i);
    errf("%s", lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* runbook.seal(def, params): registers the secret params' values for
 * redaction (engine/secrets.c) and returns the params as they are stored,
 * as JSON text (malloc'd), each secret one as [secret:NAME]; or prints
 * why not and returns NULL. The stack is as it was. */
static char *seal_params(lua_State *L, int def, int params) {
  require(L, "summit.runbook");
  lua_getfield(L, -1, "seal");
  lua_remove(L, -2);
  lua_pushvalue(L, def);
  lua_pushvalue(L, params);
  lua_call(L, 2, 2);                         /* stored|nil errs */
  if (lua_isnil(L, -2)) {
    print_errs(L);
    lua_pop(L, 1);
    return NULL;
  }
  lua_pop(L, 1);
  char err[256];
  char *text = sl_encode(L, -1, err, sizeof err);
  if (!text) errf("params cannot be stored: %s", err);
  lua_pop(L, 1);
  return text;
}

/* The params of a resumed run (stored params on top of L, replaced):
 * the secret ones are read again, from -p of the resume or the param's
 * env or file (docs/secrets.md). EXIT_USAGE, naming what is missing, when
 * one cannot be had; the run stays as it was. */
static int resume_params(lua_State *L, int def, const engine_opts *o,
                         const char *run_id) {
  lua_newtable(L);                           /* stored raw */
  if (set_cli_params(L, o->params) != 0) {
    lua_pop(L, 2);
    return EXIT_USAGE;
  }
  require(L, "summit.runbook");
  lua_getfield(L, -1, "resumed");
  lua_remove(L, -2);
  lua_pushvalue(L, def);
  lua_pushvalue(L, -4);
  lua_pushvalue(L, -4);
  lua_call(L, 3, 2);                         /* stored raw params errs */
  if (lua_isnil(L, -2)) {
    print_errs(L);
    errf("run %s is unchanged; resume it with its secrets: summit resume %s "
         "-p NAME=VALUE (docs/secrets.md)", run_id, run_id);
    lua_pop(L, 3);
    return EXIT_USAGE;
  }
  lua_pop(L, 1);
  lua_replace(L, -3);                        /* params raw */
  lua_pop(L, 1);
  char *sealed = seal_params(L, def, lua_gettop(L));
  if (!sealed) {
    lua_pop(L, 1);
    return EXIT_USAGE;
  }
  free(sealed);
  return 0;
}

static int open_store(ctx_t *c, const engine_opts *o, int create) {
  char path[4200], err[1024];
  if (create && io_private_dir(o->state_dir) != 0) {
    errf("cannot create state directory %s: %s", o->state_dir,
         strerror(errno));
    return EXIT_FAILED;
  }
  snprintf(path, sizeof path, "%s/state.db", o->state_dir);
  if (!create && access(path, F_OK) != 0) {
    errf("no state database at %s (no runs yet?)", path);
    return EXIT_USAGE;
  }
  if (!create) io_private_dir(o->state_dir);  /* an older, looser one */
  c->rt.store = store_open(path, create,
                           o->durability_process ? STORE_DURABILITY_PROCESS
                                                 : STORE_DURABILITY_FULL,
                           err, sizeof err);
  if (!c->rt.store) {
    errf("%s", err);
    return EXIT_FAILED;
  }
  store_on_fenced(c->rt.store, on_fenced, c);
  return 0;
}

static void open_log(ctx_t *c, const engine_opts *o, const char *run_id) {
  char path[4200];
  snprintf(path, sizeof path, "%s/logs", o->state_dir);
  io_mkdirs(path);
  snprintf(path, sizeof path, "%s/logs/%s.log", o->state_dir, run_id);
  c->rt.log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

/* ---- execution ----------------------------------------------------- */

static void on_heartbeat(uv_timer_t *t) {
  ctx_t *c = t->data;
  /* A lost lease fences the store, whose hook stops the scheduler; any
   * other error (the database locked for long) is retried next beat. */
  if (store_lease_renew(c->rt.store, c->rt.run_id, getpid(), runtime_now_ms(),
                        c->ttl_ms) == STORE_ERR)
    errf("renewing the lease of run %s: %s", c->rt.run_id,
         store_errmsg(c->rt.store));
}

/* summit cancel from another process writes a request into the store;
 * the executor looks for it a few times a second. */
static void on_cancel_poll(uv_timer_t *t) {
  ctx_t *c = t->data;
  char *mode = NULL;
  if (c->rt.cancel_state != CANCEL_NONE ||
      store_run_cancel_requested(c->rt.store, c->rt.run_id, &mode) != STORE_OK ||
      !mode)
    return;
  c->rt.cancel_state = CANCEL_UNWINDING;
  c->rt.cancel_rollback = !strcmp(mode, "rollback");
  free(mode);
  sched_interrupt_all(c->rt.sched, "ECANCELED", "the run was cancelled");
}

static void on_signal(void *ud, int signum) {
  ctx_t *c = ud;
  c->interrupted = signum;
  sched_stop(c->rt.sched);
}

/* While Lua computes without yielding the loop's timers cannot fire: the
 * watchdog calls this instead, a few times a second, so a CPU-bound step
 * still sees summit cancel. The lease is deliberately not renewed here: a
 * step that computes past the lease loses the run (DESIGN §11 fencing). */
static void on_busy(void *ud) {
  ctx_t *c = ud;
  on_cancel_poll(&c->cancel_poll);
}

static void flush_before_wait(void *ud) {
  ctx_t *c = ud;
  store_flush(c->rt.store);
}

/* on_first_new for resume --upgrade: the new source replayed the journal
 * without diverging, so the run is pinned to it from now on. */
static int l_pin_upgrade(lua_State *L) {
  ctx_t *c = lua_touserdata(L, lua_upvalueindex(1));
  if (c->upgrade_pinned || !c->upgrade_source) return 0;
  if (store_run_pin_source(c->rt.store, c->rt.run_id, c->upgrade_path,
                           c->upgrade_source, c->upgrade_sha,
                           c->upgrade_version) != STORE_OK)
    return luaL_error(L, "pinning the upgraded source: %s",
                      store_errmsg(c->rt.store));
  c->upgrade_pinned = 1;
  return 0;
}

/* Prints the divergence report kept by halt() (table on top of L). */
static void report_divergence(lua_State *L, const char *run_id) {
  lua_getfield(L, -1, "key");
  lua_getfield(L, -2, "why");
  errf("run %s diverges from its journal at key %s: %s", run_id,
       lua_tostring(L, -2), lua_tostring(L, -1));
  lua_pop(L, 2);
  const char *sides[] = {"journal", "code"};
  const char *label[] = {"the journal holds", "the code asks for"};
  for (int i = 0; i < 2; i++) {
    lua_getfield(L, -1, sides[i]);
    if (!lua_istable(L, -1)) {
      lua_pop(L, 1);
      continue;
    }
    lua_getfield(L, -1, "kind");
    lua_getfield(L, -2, "name");
    lua_getfield(L, -3, "site");
    lua_getfield(L, -4, "hash");
    if (lua_isnil(L, -4))
      fprintf(stderr, "  %-18s nothing more here (at %s)\n", label[i],
              lua_isstring(L, -2) ? term_str(lua_tostring(L, -2)) : "?");
    else
      fprintf(stderr, "  %-18s %s '%s' (arguments %s) at %s\n", label[i],
              term_str(lua_tostring(L, -4)), term_str(lua_tostring(L, -3)),
              lua_isstring(L, -1) ? term_str(lua_tostring(L, -1)) : "-",
              lua_isstring(L, -2) ? term_str(lua_tostring(L, -2)) : "?");
    lua_pop(L, 5);
  }
}

/* Runs the loaded runbook under the scheduler and records the outcome. On
 * top of L: the options for engine.setup, the definition, the params.
 * prev is the run as it was before this resume (NULL for a new run): a
 * divergence puts it back as it was. */
static int execute(ctx_t *c, const engine_opts *o, const store_run *prev,
                   int64_t t0) {
  const char *prev_status = prev ? prev->status : "running";
  lua_State *L = c->rt.L;
  int params = lua_gettop(L), def = params - 1, setup_idx = params - 2;
  store_t *st = c->rt.store;
  const char *id = c->rt.run_id;

  require(L, "summit.engine");
  lua_getfield(L, -1, "setup");
  lua_pushvalue(L, setup_idx);
  lua_pushcfunction(L, error_message);
  lua_insert(L, -3);
  if (lua_pcall(L, 1, 0, -3) != 0) {
    errf("%s", lua_tostring(L, -1));
    lua_pop(L, 3);
    return EXIT_FAILED;
  }
  lua_pop(L, 1);                             /* engine */
  if (luaL_loadstring(L, "local E, def, p = ...\n"
                         "return function() return E.main(def, p) end") != 0)
    return EXIT_FAILED;
  lua_insert(L, -2);
  lua_pushvalue(L, def);
  lua_pushvalue(L, params);
  lua_call(L, 3, 1);                         /* main function */
  sched_spawn(c->rt.sched, L, NULL);
  lua_pop(L, 1);

  sched_set_before_wait(c->rt.sched, flush_before_wait, c);
  uv_timer_init(&c->loop, &c->heartbeat);
  c->heartbeat.data = c;
  uv_timer_start(&c->heartbeat, on_heartbeat, (uint64_t)c->ttl_ms / 3,
                 (uint64_t)c->ttl_ms / 3);
  uv_timer_init(&c->loop, &c->cancel_poll);
  c->cancel_poll.data = c;
  uv_timer_start(&c->cancel_poll, on_cancel_poll, CANCEL_POLL_MS, CANCEL_POLL_MS);
  watchdog_signals_start(&c->loop, &c->sigwake, on_signal, c);
  c->rt.wd.poll = on_busy;
  c->rt.wd.poll_ud = c;
  c->rt.wd.next_poll_ms = runtime_now_ms() + WATCHDOG_POLL_MS;

  int64_t wake = 0;
  sched_outcome out = sched_run(c->rt.sched, o->detach, &wake);
  if (out != SCHED_SUSPENDED) wake = 0;

  uv_timer_stop(&c->heartbeat);
  uv_timer_stop(&c->cancel_poll);
  watchdog_signals_stop();
  c->rt.wd.poll = NULL;
  if (store_fenced(st)) {
    /* Whatever the run looked like from here, it is another process's
     * now: stop what is in flight and write nothing. */
    sched_free(c->rt.sched);
    c->rt.sched = sched_new(L, &c->loop);
    return report_fenced(c);
  }

  const char *status = "failed";
  char *error = NULL;
  char failed_key[1024] = "";
  int code = EXIT_FAILED, final = 1;
  cJSON *f = cJSON_CreateObject();
  char errbuf[4096];

  if (out == SCHED_DONE) {
    sched_push_root_result(c->rt.sched, L);  /* outcome */
    lua_getfield(L, -1, "status");
    const char *rs = lua_tostring(L, -1);
    static const char *const KNOWN[] = {"succeeded", "failed", "cancelled",
                                        "rolled_back", NULL};
    for (int i = 0; KNOWN[i]; i++)
      if (rs && !strcmp(rs, KNOWN[i])) status = KNOWN[i];
    lua_pop(L, 1);
    if (!strcmp(status, "succeeded")) code = EXIT_OK;
    else if (!strcmp(status, "failed")) code = EXIT_FAILED;
    else if (c->rt.cancel_state != CANCEL_NONE) code = EXIT_CANCELLED;
    else code = EXIT_FAILED;  /* rolled back after a failure */
    if (code != EXIT_OK) {
      lua_getfield(L, -1, "error");
      error = sl_encode(L, -1, errbuf, sizeof errbuf);
      lua_getglobal(L, "tostring");
      lua_pushvalue(L, -2);
      lua_call(L, 1, 1);
      cJSON_AddStringToObject(f, "error", lua_tostring(L, -1));
      lua_pop(L, 2);
      lua_getfield(L, -1, "key");
      if (lua_isstring(L, -1) && !strcmp(status, "failed"))
        snprintf(failed_key, sizeof failed_key, "%s", lua_tostring(L, -1));
      lua_pop(L, 1);
      lua_getfield(L, -1, "undone");
      if (lua_isnumber(L, -1))
        cJSON_AddNumberToObject(f, "undone", lua_tonumber(L, -1));
      lua_pop(L, 1);
    }
    if (strcmp(status, "failed") != 0) final = 1;
    lua_pop(L, 1);
  } else if (out == SCHED_SUSPENDED) {
    status = "suspended";
    code = EXIT_SUSPENDED;
    final = 0;
    if (wake) {  /* none when only approval gates without deadlines wait */
      char until[40];
      events_rfc3339(wake, until, sizeof until);
      cJSON_AddStringToObject(f, "until", until);
    }
  } else if (out == SCHED_STOPPED && c->rt.halted) {
    lua_getfield(L, LUA_REGISTRYINDEX, "summit.halt");
    lua_getfield(L, -1, "status");
    const char *h = lua_tostring(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, -1, "key");
    snprintf(failed_key, sizeof failed_key, "%s",
             lua_isstring(L, -1) ? lua_tostring(L, -1) : "");
    lua_pop(L, 1);
    lua_getfield(L, -1, "exhausted");
    int exhausted = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (h && !strcmp(h, "needs_attention") && exhausted) {
      status = "needs_attention";
      code = EXIT_ATTENTION;
      final = 0;
      lua_getfield(L, -1, "name");
      lua_getfield(L, -2, "error");
      lua_getfield(L, -1, "message");
      snprintf(errbuf, sizeof errbuf,
               "step '%s' [%s] failed on its last retry (%s) and pauses for "
               "a human (on_exhausted = \"pause\"): summit resume %s "
               "--retry | --skip",
               lua_tostring(L, -3), failed_key,
               lua_isstring(L, -1) ? lua_tostring(L, -1) : "?", id);
      lua_pop(L, 3);
      cJSON_AddStringToObject(f, "error", errbuf);
      lua_getfield(L, -1, "error");
      error = sl_encode(L, -1, errbuf, sizeof errbuf);
      lua_pop(L, 1);
    } else if (h && !strcmp(h, "needs_attention")) {
      status = "needs_attention";
      code = EXIT_ATTENTION;
      final = 0;
      lua_getfield(L, -1, "name");
      lua_getfield(L, -2, "site");
      snprintf(errbuf, sizeof errbuf,
               "step '%s' at %s is idempotent = false and was cut off "
               "while an effect was in flight; check what it did",
               lua_tostring(L, -2),
               lua_isstring(L, -1) ? lua_tostring(L, -1) : "?");
      lua_pop(L, 2);
      cJSON *e = cJSON_CreateObject();
      cJSON_AddStringToObject(e, "code", "ENEEDSATTENTION");
      cJSON_AddStringToObject(e, "message", errbuf);
      error = cJSON_PrintUnformatted(e);
      cJSON_Delete(e);
      size_t used = strlen(errbuf);
      snprintf(errbuf + used, sizeof errbuf - used,
               "; then: summit resume %s --retry | --skip", id);
      cJSON_AddStringToObject(f, "error", errbuf);
    } else {
      /* Divergence: nothing new was executed; the run keeps its state so
       * it can be resumed with the code it was pinned to. */
      report_divergence(L, id);
      status = prev_status;
      code = EXIT_USAGE;
      final = 0;
      failed_key[0] = '\0';
      if (prev) {
        if (prev->failed_key)
          snprintf(failed_key, sizeof failed_key, "%s", prev->failed_key);
        if (prev->error) error = strdup(prev->error);
        wake = prev->wake_ms;
      }
      cJSON_AddStringToObject(f, "error", "diverged from the journal");
    }
    lua_pop(L, 1);
  } else if (out == SCHED_STOPPED) {
    status = "interrupted";
    code = EXIT_INTERRUPTED;
    final = 0;
    cJSON_AddStringToObject(f, "error", c->interrupted == SIGTERM
                                            ? "terminated (SIGTERM)"
                                            : "interrupted (SIGINT)");
  } else {
    snprintf(errbuf, sizeof errbuf, "%s", sched_errmsg(c->rt.sched));
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "code", "EINTERNAL");
    cJSON_AddStringToObject(e, "message", errbuf);
    error = cJSON_PrintUnformatted(e);
    cJSON_Delete(e);
    cJSON_AddStringToObject(f, "error", errbuf);
  }

  /* Stop what is still in flight (a cancelled sibling, an interrupted
   * process) before the outcome is written. */
  sched_free(c->rt.sched);
  c->rt.sched = sched_new(L, &c->loop);

  if (!strcmp(status, "succeeded") && c->upgrade_source && !c->upgrade_pinned) {
    lua_pushlightuserdata(L, c);
    lua_pushcclosure(L, l_pin_upgrade, 1);
    lua_call(L, 0, 0);
  }
  int64_t now = runtime_now_ms();
  /* The outcome's audit records share the outcome's commit. */
  cJSON *ad = cJSON_CreateObject();
  const char *action = "run.finished";
  if (out == SCHED_SUSPENDED) {
    action = "run.suspended";
    if (wake) {
      char until[40];
      events_rfc3339(wake, until, sizeof until);
      cJSON_AddStringToObject(ad, "until", until);
    }
  } else if (code == EXIT_INTERRUPTED) {
    action = "run.interrupted";
  } else if (code == EXIT_USAGE) {
    action = "run.diverged";   /* nothing new ran; the run keeps its state */
  } else if (!strcmp(status, "needs_attention")) {
    action = "run.needs_attention";
  }
  cJSON_AddStringToObject(ad, "status", status);
  if (failed_key[0]) cJSON_AddStringToObject(ad, "key", failed_key);
  if (code != EXIT_USAGE) audit_error(ad, error);
  cJSON_AddNumberToObject(ad, "duration_ms", (double)(now - t0));
  if (strcmp(status, "suspended") != 0 && strcmp(status, "needs_attention") != 0)
    audit_release_locks(c, id);
  audit(c, id, action, ad);
  secrets_redact_owned(&error);
  if (store_run_set_status(st, id, status, error,
                           failed_key[0] ? failed_key : NULL,
                           wake, final, now) != STORE_OK &&
      !store_fenced(st)) {
    errf("recording the outcome of run %s: %s", id, store_errmsg(st));
    code = EXIT_FAILED;
  }
  /* Locks are kept by a run that waits by design (suspended, needs
   * attention); any other outcome gives them back. */
  if (strcmp(status, "suspended") != 0 && strcmp(status, "needs_attention") != 0)
    store_lock_release(st, NULL, id);
  store_lease_release(st, id, getpid());
  if (store_flush(st) != STORE_OK) {
    if (store_fenced(st)) {
      /* The outcome's commit was refused: the run is another owner's. */
      free(error);
      cJSON_Delete(f);
      return report_fenced(c);
    }
    errf("recording the outcome of run %s: %s", id, store_errmsg(st));
    code = EXIT_FAILED;
  }
  free(error);

  cJSON_AddStringToObject(f, "status", status);
  cJSON_AddNumberToObject(f, "duration_ms", (double)(now - t0));
  if (code == EXIT_INTERRUPTED || !strcmp(status, "failed")) {
    snprintf(errbuf, sizeof errbuf, "resume with: summit resume %s", id);
    cJSON_AddStringToObject(f, "hint", errbuf);
  }
  events_emit(&c->ev, out == SCHED_SUSPENDED ? "run.suspended"
                                             : "run.finished", f);
  cJSON_Delete(f);
  return code;
}

/* Pushes engine.setup's options: failed_key, decision, on_first_new. */
static int push_setup(ctx_t *c, const store_run *r, const engine_opts *o) {
  lua_State *L = c->rt.L;
  lua_newtable(L);
  if (r && r->failed_key && !strcmp(r->status, "failed")) {
    lua_pushstring(L, r->failed_key);
    lua_setfield(L, -2, "failed_key");
  }
  if (r && o->decision) {
    lua_newtable(L);
    if (r->failed_key && !strcmp(r->status, "needs_attention")) {
      lua_pushstring(L, r->failed_key);
      lua_setfield(L, -2, "key");
    }
    lua_pushstring(L, o->decision);
    lua_setfield(L, -2, "action");
    lua_pushstring(L, o->user);
    lua_setfield(L, -2, "by");
    lua_setfield(L, -2, "decision");
  }
  if (c->upgrade_source) {
    lua_pushlightuserdata(L, c);
    lua_pushcclosure(L, l_pin_upgrade, 1);
    lua_setfield(L, -2, "on_first_new");
  }
  return lua_gettop(L);
}

static int acquire(ctx_t *c, const char *id) {
  int64_t holder = 0;
  char *holder_host = NULL;
  int rc = store_lease_acquire(c->rt.store, id, getpid(), c->host,
                               runtime_now_ms(), c->ttl_ms, &holder,
                               &holder_host);
  if (rc == STORE_BUSY) {
    errf("run %s is being executed by pid %lld on %s; it cannot run twice "
         "at once", id, (long long)holder, holder_host ? holder_host : "?");
    free(holder_host);
    return EXIT_BUSY;
  }
  if (rc == STORE_NOTFOUND) {
    errf("no run %s", id);
    return EXIT_USAGE;
  }
  if (rc != STORE_OK) {
    errf("taking the lease of run %s: %s", id, store_errmsg(c->rt.store));
    return EXIT_FAILED;
  }
  return 0;
}

/* Loads summit.lua (if any) and selects --env: the runbook reads the
 * environment as `env`. Prints every problem; EXIT_USAGE if any. */
static int load_config(ctx_t *c, const char *path, const char *env_name) {
  lua_State *L = c->rt.L;
  require(L, "summit.config");
  size_t len = 0;
  char *src = NULL;
  if (path) {
    src = io_read_file(path, &len);
    if (!src) {
      errf("cannot read configuration %s: %s", path, strerror(errno));
      lua_pop(L, 1);
      return EXIT_USAGE;
    }
    lua_getfield(L, -1, "open");
    lua_pushstring(L, path);
    lua_pushlstring(L, src, len);
    free(src);
    if (env_name) lua_pushstring(L, env_name);
    else lua_pushnil(L);
    /* summit.config runs the file under its own pcall. */
    watchdog_load_begin(&c->rt.wd, path);
    lua_call(L, 3, 2);
    watchdog_load_end(&c->rt.wd);
  } else {
    lua_getfield(L, -1, "select");
    if (env_name) lua_pushstring(L, env_name);
    else lua_pushnil(L);
    lua_call(L, 1, 2);
  }
  int code = 0;
  if (!lua_toboolean(L, -2)) {
    int n = (int)lua_objlen(L, -1);
    for (int i = 1; i <= n; i++) {
      lua_rawgeti(L, -1, i);
      errf("%s", lua_tostring(L, -1));
      lua_pop(L, 1);
    }
    code = EXIT_USAGE;
  }
  lua_pop(L, 3);
  if (!code && limits_apply(&c->rt) != 0) code = EXIT_USAGE;
  return code;
}

/* Takes the locks of the environments the runbook declares (def and
 * params on top of L). Waits with --wait-lock; otherwise a lock held by a
 * live run is EXIT_BUSY, naming that run. */
/* Pushes the runbook's environment list (def and params on top of L) and
 * nil, or prints what is wrong and returns EXIT_USAGE with nothing pushed
 * beyond two values to pop. */
static int env_lock_names(lua_State *L, const char *env_name) {
  require(L, "summit.runbook");
  lua_getfield(L, -1, "environments");
  lua_remove(L, -2);
  lua_pushvalue(L, -3);
  lua_pushvalue(L, -3);
  if (env_name) lua_pushstring(L, env_name);
  else lua_pushnil(L);
  lua_call(L, 3, 2);                         /* names|nil err */
  if (lua_isnil(L, -2)) {
    errf("%s", lua_tostring(L, -1));
    return EXIT_USAGE;
  }
  return 0;
}

static int take_env_locks(ctx_t *c, const engine_opts *o, const char *id,
                          const char *env_name) {
  lua_State *L = c->rt.L;
  if (env_lock_names(L, env_name)) {
    lua_pop(L, 2);
    return EXIT_USAGE;
  }
  int code = 0, n = (int)lua_objlen(L, -2);
  for (int i = 1; i <= n && !code; i++) {
    lua_rawgeti(L, -2, i);
    char name[512];
    snprintf(name, sizeof name, "env:%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    for (int said = 0;;) {
      char *holder = NULL;
      int rc = store_lock_acquire(c->rt.store, name, id, c->host,
                                  runtime_now_ms(), &holder);
      if (rc == STORE_OK) {
        /* Rides the run's next commit (run.resumed's, or the first
         * entry's). */
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "name", name);
        audit(c, id, "lock.acquired", d);
        break;
      }
      if (rc != STORE_BUSY) {
        errf("taking lock %s: %s", name, store_errmsg(c->rt.store));
        code = EXIT_FAILED;
        break;
      }
      if (!o->wait_lock) {
        errf("environment %s is locked by run %s (see: summit status %s); "
             "wait for it with --wait-lock", name + 4, holder, holder);
        free(holder);
        code = EXIT_BUSY;
        break;
      }
      if (!said++) {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "kind", "lock");
        cJSON_AddStringToObject(f, "name", name);
        cJSON_AddStringToObject(f, "holder", holder);
        events_emit(&c->ev, "wait.started", f);
        cJSON_Delete(f);
      }
      free(holder);
      /* Nothing runs yet: the run has not started, so a plain pause is
       * all this process has to do. */
      uv_sleep(250);
      if (store_lease_renew(c->rt.store, id, getpid(), runtime_now_ms(),
                            c->ttl_ms) == STORE_FENCED) {
        code = report_fenced(c);
        break;
      }
    }
  }
  lua_pop(L, 2);
  return code;
}

/* summit run --sign KEY: the start signed by the person it claims, checked
 * against summit.lua's allowed_signers before anything is recorded. Sets
 * *sig (the caller frees); EXIT_USAGE after saying why not. */
static int sign_start(ctx_t *c, const engine_opts *o, const char *id,
                      const char *sha, const char *params_json, char **sig) {
  lua_State *L = c->rt.L;
  require(L, "summit.approval");
  lua_getfield(L, -1, "signers");
  lua_remove(L, -2);
  lua_call(L, 0, 2);                         /* path|nil why */
  if (lua_isnil(L, -2)) {
    errf("--sign: %s", lua_tostring(L, -1));
    lua_pop(L, 2);
    return EXIT_USAGE;
  }
  char allowed[4200];
  snprintf(allowed, sizeof allowed, "%s", lua_tostring(L, -2));
  lua_pop(L, 2);
  char *msg = approval_start_message(id, sha, params_json, o->user);
  char why[1200];
  *sig = msg ? start_sig_make(&c->loop, o->sign_key, allowed, o->user, msg,
                              why, sizeof why)
             : NULL;
  free(msg);
  if (!*sig) {
    errf("--sign %s: %s", o->sign_key, why);
    return EXIT_USAGE;
  }
  return 0;
}

/* ---- commands ------------------------------------------------------ */

int engine_run(const engine_opts *o) {
  ctx_t c;
  size_t len = 0;
  int64_t ttl = lease_ttl_ms();
  if (ttl < 0) return EXIT_USAGE;
  /* A rerun brings the pinned text; file then only names it. */
  char *src = o->source ? strdup(o->source) : io_read_file(o->file, &len);
  if (!src) {
    errf("cannot read runbook %s: %s", o->file, strerror(errno));
    return EXIT_USAGE;
  }
  if (o->source) len = strlen(src);
  int64_t t0 = runtime_now_ms();
  if (ctx_init(&c, o) != 0) {
    free(src);
    errf("cannot start the runtime");
    return EXIT_FAILED;
  }
  c.ttl_ms = ttl;
  lua_State *L = c.rt.L;
  worktree_t *wt = o->source ? NULL : worktree_probe(&c.loop, o->file);
  int code = load_config(&c, o->config_path, o->env);
  if (!code) code = load_runbook(L, o->file, src, len, 0);
  if (!code) code = resolve_params(L, lua_gettop(L), o);
  if (!code) {
    /* An environment declaration that cannot be met is a usage error
     * found before any run is recorded. */
    code = env_lock_names(L, o->env);
    lua_pop(L, 2);
  }
  if (!code) code = open_store(&c, o, 1);
  if (code) goto done;

  char id[16], sha[65];
  engine_new_run_id(id);
  sha256_hex(src, len, sha);
  char *params_json = seal_params(L, lua_gettop(L) - 1, lua_gettop(L));
  if (!params_json) {
    code = EXIT_USAGE;
    goto done;
  }
  char *start_sig = NULL;
  if (o->sign_key &&
      (code = sign_start(&c, o, id, sha, params_json, &start_sig))) {
    free(params_json);
    goto done;
  }
  lua_getfield(L, -2, "name");
  lua_getfield(L, -3, "version");
  store_run r = {
    .id = id, .name = (char *)lua_tostring(L, -2),
    .version = (char *)lua_tostring(L, -1), .source_path = (char *)o->file,
    .source_sha256 = sha, .source = src, .params = params_json,
    .env = (char *)o->env, .status = "running", .started_by = (char *)o->user,
    .rerun_of = (char *)o->rerun_of,
    .created_ms = t0, .updated_ms = t0, .config_path = (char *)o->config_path,
    /* A new run is ours from its first row: no lease round trip. */
    .owner_pid = getpid(), .owner_host = c.host, .heartbeat_ms = t0,
    .lease_expires_ms = t0 + c.ttl_ms, .start_sig = start_sig,
  };
  /* run.started is committed with the run's row (store_run_create joins
   * the transaction the record opened). Params are left out: they may
   * hold secrets that no key name gives away. */
  cJSON *ad = cJSON_CreateObject();
  cJSON_AddStringToObject(ad, "runbook", r.name);
  if (r.version) cJSON_AddStringToObject(ad, "version", r.version);
  cJSON_AddStringToObject(ad, "file", o->file);
  cJSON_AddStringToObject(ad, "sha256", sha);
  if (o->env) cJSON_AddStringToObject(ad, "env", o->env);
  if (o->rerun_of) cJSON_AddStringToObject(ad, "rerun_of", o->rerun_of);
  if (o->schedule) cJSON_AddStringToObject(ad, "schedule", o->schedule);
  /* The starter a signed gate may trust (the actor is the claim). */
  if (start_sig) cJSON_AddStringToObject(ad, "signed_by", o->user);
  audit(&c, id, "run.started", ad);
  int rc = store_run_create(c.rt.store, &r);
  free(params_json);
  free(start_sig);
  if (rc != STORE_OK) {
    errf("%s", store_errmsg(c.rt.store));
    lua_pop(L, 2);
    code = EXIT_FAILED;
    goto done;
  }
  c.rt.run_id = id;
  c.ev.run_id = id;
  worktree_bind(wt, c.rt.store, id);
  wt = NULL;
  lua_pop(L, 2);
  /* A schedule's fire has one run (the store's unique index says so even
   * if two daemons raced); a second one stops here, as never started. */
  if (o->schedule &&
      store_schedule_run_started(c.rt.store, o->schedule, o->fire_ms, id) !=
          STORE_OK) {
    errf("%s", store_errmsg(c.rt.store));
    cJSON *fin = cJSON_CreateObject();
    cJSON_AddStringToObject(fin, "status", "cancelled");
    audit_add_error(fin, "EBUSY", "the fire already has a run");
    audit(&c, id, "run.finished", fin);
    store_run_set_status(c.rt.store, id, "cancelled",
                         "{\"code\":\"EBUSY\",\"message\":\"the fire "
                         "already has a run\"}",
                         NULL, 0, 1, runtime_now_ms());
    store_flush(c.rt.store);
    store_lease_release(c.rt.store, id, getpid());
    code = EXIT_BUSY;
    goto done;
  }
  if ((code = take_env_locks(&c, o, id, o->env))) {
    /* The attempt is kept, as a run that never started. */
    cJSON *fin = cJSON_CreateObject();
    cJSON_AddStringToObject(fin, "status", "cancelled");
    audit_add_error(fin, "EBUSY", "an environment it needs is locked by "
                                  "another run");
    audit(&c, id, "run.finished", fin);
    store_run_set_status(c.rt.store, id, "cancelled",
                         "{\"code\":\"EBUSY\",\"message\":\"an environment "
                         "it needs is locked by another run\"}",
                         NULL, 0, 1, runtime_now_ms());
    store_flush(c.rt.store);
    store_lease_release(c.rt.store, id, getpid());
    goto done;
  }
  lua_getfield(L, -2, "name");
  lua_getfield(L, -3, "version");
  open_log(&c, o, id);
  cJSON *f = cJSON_CreateObject();
  cJSON_AddStringToObject(f, "runbook", lua_tostring(L, -2));
  if (lua_isstring(L, -1))
    cJSON_AddStringToObject(f, "version", lua_tostring(L, -1));
  cJSON_AddStringToObject(f, "file", o->file);
  events_emit(&c.ev, "run.started", f);
  cJSON_Delete(f);
  lua_pop(L, 2);
  push_setup(&c, NULL, o);
  lua_insert(L, -3);                         /* setup def params */
  code = execute(&c, o, NULL, t0);
done:
  worktree_drop(wt);
  free(src);
  ctx_free(&c);
  return code;
}

int engine_resume(const engine_opts *o) {
  ctx_t c;
  int64_t t0 = runtime_now_ms();
  int64_t ttl = lease_ttl_ms();
  if (ttl < 0) return EXIT_USAGE;
  if (ctx_init(&c, o) != 0) {
    errf("cannot start the runtime");
    return EXIT_FAILED;
  }
  c.ttl_ms = ttl;
  lua_State *L = c.rt.L;
  store_run r = {0};
  int have_run = 0;
  int code = open_store(&c, o, 0);
  if (code) goto done;
  int rc = store_run_get(c.rt.store, o->run_id, &r);
  if (rc == STORE_NOTFOUND) {
    errf("no run %s in %s", o->run_id, o->state_dir);
    code = EXIT_USAGE;
    goto done;
  }
  if (rc != STORE_OK) {
    errf("reading run %s: %s", o->run_id, store_errmsg(c.rt.store));
    code = EXIT_FAILED;
    goto done;
  }
  have_run = 1;
  if (!strcmp(r.status, "succeeded") || !strcmp(r.status, "cancelled") ||
      !strcmp(r.status, "rolled_back")) {
    errf("run %s has finished (%s); there is nothing to resume", r.id,
         r.status);
    code = EXIT_USAGE;
    goto done;
  }
  /* --retry may also be given up front for a crashed run (it approves
   * re-running whatever was cut off); --skip needs to know what to skip. */
  if (o->decision && !strcmp(o->decision, "skip") &&
      strcmp(r.status, "needs_attention") != 0) {
    errf("--skip applies to a run that needs attention; run %s is %s",
         r.id, r.status);
    code = EXIT_USAGE;
    goto done;
  }
  if ((code = acquire(&c, r.id))) goto done;
  {
    /* Read again under the lease: a cancel or another owner may have
     * ended the run between the read above and the acquisition. */
    store_run now_r = {0};
    if (store_run_get(c.rt.store, o->run_id, &now_r) != STORE_OK) {
      errf("reading run %s: %s", o->run_id, store_errmsg(c.rt.store));
      code = EXIT_FAILED;
      goto done;
    }
    store_run_free(&r);
    r = now_r;
    if (!strcmp(r.status, "succeeded") || !strcmp(r.status, "cancelled") ||
        !strcmp(r.status, "rolled_back")) {
      store_lease_release(c.rt.store, r.id, getpid());
      store_flush(c.rt.store);
      errf("run %s has finished (%s); there is nothing to resume", r.id,
           r.status);
      code = EXIT_USAGE;
      goto done;
    }
  }
  c.rt.run_id = r.id;
  c.ev.run_id = r.id;
  if (!strcmp(r.status, "needs_attention") && !o->decision) {
    /* The stored error says why: retries ran out, or an effect of an
     * idempotent = false step was cut off. */
    cJSON *e = r.error ? cJSON_Parse(r.error) : NULL;
    const cJSON *m = cJSON_GetObjectItem(e, "message");
    errf("run %s needs attention at %s: %s; decide with: summit resume %s "
         "--retry | --skip", r.id, r.failed_key ? r.failed_key : "?",
         cJSON_IsString(m) ? m->valuestring
                           : "an effect of a step marked idempotent = false "
                             "was cut off",
         r.id);
    cJSON_Delete(e);
    store_lease_release(c.rt.store, r.id, getpid());
    code = EXIT_ATTENTION;
    goto done;
  }

  const char *cfg = o->config_path ? o->config_path : r.config_path;
  if ((code = load_config(&c, cfg, r.env))) {
    store_lease_release(c.rt.store, r.id, getpid());
    goto done;
  }
  const char *src = r.source;
  size_t len = strlen(r.source);
  const char *path = r.source_path;
  if (o->upgrade) {
    char *disk = io_read_file(r.source_path, &len);
    if (!disk) {
      errf("--upgrade: cannot read %s: %s", r.source_path, strerror(errno));
      store_lease_release(c.rt.store, r.id, getpid());
      code = EXIT_USAGE;
      goto done;
    }
    c.upgrade_source = disk;
    c.upgrade_path = strdup(r.source_path);
    sha256_hex(disk, len, c.upgrade_sha);
    src = disk;
  }
  code = load_runbook(L, path, src, len, 0);
  if (code) {
    store_lease_release(c.rt.store, r.id, getpid());
    goto done;
  }
  if (c.upgrade_source) {
    lua_getfield(L, -1, "version");
    if (lua_isstring(L, -1)) c.upgrade_version = strdup(lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  if (!sl_decode(L, r.params, strlen(r.params))) {
    errf("run %s: corrupt params in the state database", r.id);
    store_lease_release(c.rt.store, r.id, getpid());
    code = EXIT_FAILED;
    goto done;
  }
  if ((code = resume_params(L, lua_gettop(L) - 1, o, r.id))) {
    store_lease_release(c.rt.store, r.id, getpid());
    store_flush(c.rt.store);
    goto done;
  }
  if ((code = take_env_locks(&c, o, r.id, r.env))) {
    store_lease_release(c.rt.store, r.id, getpid());
    goto done;
  }
  if (o->cancel) {
    c.rt.cancel_state = CANCEL_UNWINDING;
    c.rt.cancel_rollback = !strcmp(o->cancel, "rollback");
  }
  open_log(&c, o, r.id);
  cJSON *ad = cJSON_CreateObject();
  cJSON_AddStringToObject(ad, "from", r.status);
  if (r.failed_key) cJSON_AddStringToObject(ad, "key", r.failed_key);
  if (o->upgrade) cJSON_AddStringToObject(ad, "upgrade", c.upgrade_sha);
  if (o->decision) cJSON_AddStringToObject(ad, "decision", o->decision);
  if (o->cancel) cJSON_AddStringToObject(ad, "cancel", o->cancel);
  audit(&c, r.id, "run.resumed", ad);
  store_run_set_status(c.rt.store, r.id, "running", NULL, NULL, 0, 0, t0);
  store_flush(c.rt.store);
  cJSON *f = cJSON_CreateObject();
  cJSON_AddStringToObject(f, "runbook", r.name);
  cJSON_AddStringToObject(f, "from", r.status);
  if (o->upgrade) cJSON_AddBoolToObject(f, "upgrade", 1);
  events_emit(&c.ev, "run.resumed", f);
  cJSON_Delete(f);
  push_setup(&c, &r, o);
  lua_insert(L, -3);
  code = execute(&c, o, &r, t0);
done:
  if (have_run) store_run_free(&r);
  ctx_free(&c);
  return code;
}

int engine_validate(const engine_opts *o) {
  ctx_t c;
  size_t len;
  char *src = io_read_file(o->file, &len);
  if (!src) {
    errf("cannot read runbook %s: %s", o->file, strerror(errno));
    return EXIT_USAGE;
  }
  if (ctx_init(&c, o) != 0) {
    free(src);
    return EXIT_FAILED;
  }
  lua_State *L = c.rt.L;
  int code = load_config(&c, o->config_path, NULL);
  if (!code) code = load_runbook(L, o->file, src, len, 1);
  if (!code) {
    /* The version rule (docs/runbooks.md): not semver is an error, none a
     * warning. */
    require(L, "summit.catalog");
    lua_getfield(L, -1, "version_problem");
    lua_pushvalue(L, -3);
    lua_call(L, 1, 2);                       /* def cat level msg */
    if (lua_isstring(L, -2)) {
      int is_error = !strcmp(lua_tostring(L, -2), "error");
      errf("%s%s: %s", is_error ? "" : "warning: ", o->file,
           lua_tostring(L, -1));
      if (is_error) code = EXIT_USAGE;
    }
    lua_pop(L, 3);
  }
  if (!code) {
    lua_getfield(L, -1, "name");
    lua_getfield(L, -2, "version");
    lua_getfield(L, -3, "params");
    int nparams = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      nparams++;
      lua_pop(L, 1);
    }
    if (o->json)
      printf("{\"valid\":true,\"file\":\"%s\",\"name\":\"%s\",\"params\":%d}\n",
             o->file, lua_tostring(L, -3), nparams);
    else
      printf("%s: runbook '%s' %s is valid (%d params)\n", o->file,
             lua_tostring(L, -3), lua_isstring(L, -2) ? lua_tostring(L, -2) : "",
             nparams);
    lua_pop(L, 3);
  }
  free(src);
  ctx_free(&c);
  return code;
}

int engine_cancel(const engine_opts *o, int rollback) {
  ctx_t c;
  int64_t ttl = lease_ttl_ms();
  if (ttl < 0) return EXIT_USAGE;
  if (ctx_init(&c, o) != 0) return EXIT_FAILED;
  c.ttl_ms = ttl;
  store_run r = {0};
  int have = 0, code = open_store(&c, o, 0);
  if (code) goto done;
  int rc = store_run_get(c.rt.store, o->run_id, &r);
  if (rc != STORE_OK) {
    errf(rc == STORE_NOTFOUND ? "no run %s" : "reading run %s", o->run_id);
    code = rc == STORE_NOTFOUND ? EXIT_USAGE : EXIT_FAILED;
    goto done;
  }
  have = 1;
  if (!strcmp(r.status, "succeeded") || !strcmp(r.status, "cancelled") ||
      !strcmp(r.status, "rolled_back")) {
    errf("run %s has finished (%s); there is nothing to cancel", r.id, r.status);
    code = EXIT_USAGE;
    goto done;
  }
  int64_t now = runtime_now_ms();
  int asked = 0;  /* run.cancel_requested is recorded */
  if (store_run_alive(r.status, r.owner_pid, r.owner_host, r.lease_expires_ms,
                      c.host, now) && r.owner_pid) {
    /* A live executor: ask it, then watch it stop. The record shares
     * the request's commit. */
    cJSON *ad = cJSON_CreateObject();
    cJSON_AddStringToObject(ad, "mode", rollback ? "rollback" : "cancel");
    cJSON_AddStringToObject(ad, "status", r.status);
    audit(&c, r.id, "run.cancel_requested", ad);
    if (store_run_request_cancel(c.rt.store, r.id,
                                 rollback ? "rollback" : "cancel") != STORE_OK) {
      errf("requesting the cancel: %s", store_errmsg(c.rt.store));
      code = EXIT_FAILED;
      goto done;
    }
    printf("cancel requested: run %s (pid %lld) stops at its next wait point\n",
           r.id, (long long)r.owner_pid);
    fflush(stdout);
    int lapsed = 0;
    for (int i = 0; i < 120 && !lapsed; i++) {
      uv_sleep(250);
      store_run next = {0};
      if (store_run_get(c.rt.store, r.id, &next) != STORE_OK) break;
      int done = strcmp(next.status, "running") != 0;
      if (done) printf("run %s is %s\n", r.id, next.status);
      /* An owner that stopped renewing (stopped, paused, dead) never
       * answers: the cancel takes the run over instead (fencing keeps
       * that owner from undoing it, docs/journal.md). */
      lapsed = !done && !store_run_alive(next.status, next.owner_pid,
                                         next.owner_host,
                                         next.lease_expires_ms, c.host,
                                         runtime_now_ms());
      store_run_free(&next);
      if (done) break;
    }
    if (!lapsed) {
      code = EXIT_OK;
      goto done;
    }
    printf("run %s: pid %lld stopped renewing its lease; cancelling the run "
           "here\n", r.id, (long long)r.owner_pid);
    asked = 1;
    now = runtime_now_ms();
  }
  if (rollback) {
    /* No process: this one replays the run and runs its undos (recorded
     * as its run.resumed, with cancel = rollback). */
    if (!asked) {
      cJSON *ad = cJSON_CreateObject();
      cJSON_AddStringToObject(ad, "mode", "rollback");
      cJSON_AddStringToObject(ad, "status", r.status);
      audit(&c, r.id, "run.cancel_requested", ad);
    }
    store_flush(c.rt.store);
    store_run_free(&r);
    have = 0;
    ctx_free(&c);
    engine_opts ro = *o;
    ro.cancel = "rollback";
    ro.decision = NULL;
    ro.upgrade = 0;
    ro.detach = 0;
    int rc2 = engine_resume(&ro);
    return rc2 == EXIT_CANCELLED ? EXIT_OK : rc2;
  }
  int64_t holder = 0;
  char *holder_host = NULL;
  rc = store_lease_acquire(c.rt.store, r.id, getpid(), c.host, now,
                           c.ttl_ms, &holder, &holder_host);
  free(holder_host);
  if (rc == STORE_BUSY) {
    errf("run %s was just taken by pid %lld; try again", r.id, (long long)holder);
    code = EXIT_BUSY;
    goto done;
  }
  if (rc != STORE_OK) {
    errf("taking the lease of run %s: %s", r.id, store_errmsg(c.rt.store));
    code = EXIT_FAILED;
    goto done;
  }
  /* Read again under the lease: the owner may have finished meanwhile. */
  store_run_free(&r);
  have = 0;
  if (store_run_get(c.rt.store, o->run_id, &r) != STORE_OK) {
    errf("reading run %s: %s", o->run_id, store_errmsg(c.rt.store));
    code = EXIT_FAILED;
    goto done;
  }
  have = 1;
  if (!strcmp(r.status, "succeeded") || !strcmp(r.status, "cancelled") ||
      !strcmp(r.status, "rolled_back")) {
    store_lease_release(c.rt.store, r.id, getpid());
    store_flush(c.rt.store);
    errf("run %s has finished (%s); there is nothing to cancel", r.id,
         r.status);
    code = EXIT_USAGE;
    goto done;
  }
  cJSON *ad;
  if (!asked) {
    ad = cJSON_CreateObject();
    cJSON_AddStringToObject(ad, "mode", "cancel");
    cJSON_AddStringToObject(ad, "status", r.status);
    audit(&c, r.id, "run.cancel_requested", ad);
  }
  audit_release_locks(&c, r.id);
  ad = cJSON_CreateObject();
  cJSON_AddStringToObject(ad, "status", "cancelled");
  audit_add_error(ad, "ECANCELED", "cancelled");
  audit(&c, r.id, "run.finished", ad);
  store_run_set_status(c.rt.store, r.id, "cancelled",
                       "{\"code\":\"ECANCELED\",\"message\":\"cancelled\"}",
                       NULL, 0, 1, now);
  store_lock_release(c.rt.store, NULL, r.id);
  store_wait_close(c.rt.store, r.id, NULL);  /* no gate waits on it now */
  store_lease_release(c.rt.store, r.id, getpid());
  if (store_flush(c.rt.store) != STORE_OK) {
    errf("cancelling run %s: %s", r.id, store_errmsg(c.rt.store));
    code = store_fenced(c.rt.store) ? EXIT_BUSY : EXIT_FAILED;
    goto done;
  }
  printf("run %s cancelled (it was %s)\n", r.id, r.status);
  code = EXIT_OK;
done:
  if (have) store_run_free(&r);
  ctx_free(&c);
  return code;
}
