/* summit sim serve (see sim_serve.h): a host (host.h) running
 * require("summit.sim").serve{...} until SIGINT/SIGTERM, which stops the
 * sim; the loop then runs dry and everything is closed and freed.
 *
 * A signal is caught by a plain handler, not uv_signal: the loop hears of
 * it through an async handle, and the handler also arms a watchdog
 * (alarm) so that a sim whose loop is stuck (a long Lua callback) still
 * exits STOP_GRACE_S seconds later, 128 + the signal, without its state
 * being written. A second signal exits at once. */
#include "engine/sim_serve.h"

#include <signal.h>
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/host.h"
#include "io/file.h"

#define STOP_GRACE_S 5

typedef struct {
  host_t h;
  uv_async_t sig_async;  /* a signal arrived (sent from the handler) */
  int inst_ref;        /* the running instance (its stop function) */
  int stopping;
} serve_ctx;

static uv_async_t *g_sig_async;
static volatile sig_atomic_t g_signal;

static void on_alarm(int signum) {
  static const char m[] =
    "summit sim serve: not stopped within 5 s of the signal; exiting\n";
  (void)signum;
  ssize_t w = write(2, m, sizeof m - 1);
  (void)w;
  _exit(128 + (g_signal ? g_signal : SIGTERM));
}

/* Async-signal-safe: alarm, uv_async_send (documented as safe in a
 * signal handler), _exit. */
static void on_stop_signal(int signum) {
  if (g_signal) _exit(128 + signum);   /* asked twice: do not wait */
  g_signal = signum;
  alarm(STOP_GRACE_S);
  if (g_sig_async) uv_async_send(g_sig_async);
}

static void catch_signals(int on) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sa.sa_handler = on ? on_stop_signal : SIG_DFL;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sa.sa_handler = on ? on_alarm : SIG_DFL;
  sigaction(SIGALRM, &sa, NULL);
}

static void set_str(lua_State *L, const char *k, const char *v) {
  if (!v) return;
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

/* Calls inst.stop(): the server, streams and timers close; the state is
 * written. */
static void stop_sim(serve_ctx *c) {
  lua_State *L = c->h.rt.L;
  if (c->stopping) return;
  c->stopping = 1;
  int top = lua_gettop(L);
  lua_pushcfunction(L, host_traceback);
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->inst_ref);
  lua_getfield(L, -1, "stop");
  if (lua_pcall(L, 0, 0, top + 1) != 0)
    fprintf(stderr, "summit sim serve: stopping: %s\n", lua_tostring(L, -1));
  lua_settop(L, top);
  uv_close((uv_handle_t *)&c->sig_async, NULL);
}

static void on_signal(uv_async_t *a) { stop_sim(a->data); }

/* What serves where, for the instance on top of L (docs/sim.md). */
static void print_banner(lua_State *L, const sim_serve_opts *o) {
  lua_getfield(L, -1, "url");
  printf("summit sim serving on %s\n", lua_tostring(L, -1));
  lua_pop(L, 1);
  printf("  state: %s\n", o->state_file ? o->state_file : "in memory (--memory)");
  lua_getfield(L, -1, "scenario");
  printf("  scenario: %s\n", lua_isstring(L, -1) ? lua_tostring(L, -1) : "none");
  lua_pop(L, 1);
  if (o->kubeconfig) {
    printf("  kubeconfig: %s\n", o->kubeconfig);
    printf("  try: KUBECONFIG=%s kubectl get deployments,pods\n", o->kubeconfig);
  }
  printf("  stop with Ctrl-C (SIGINT) or SIGTERM\n");
  fflush(stdout);
}

int engine_sim_serve(const sim_serve_opts *o) {
  serve_ctx c;
  memset(&c, 0, sizeof c);
  c.inst_ref = LUA_NOREF;
  if (host_init(&c.h, o->time_scale, o->state_dir) != 0) {
    fprintf(stderr, "summit sim serve: cannot set up Lua and the event loop\n");
    return 1;
  }
  lua_State *L = c.h.rt.L;
  if (o->state_file) io_mkdirs_for(o->state_file);
  if (o->kubeconfig) io_mkdirs_for(o->kubeconfig);

  /* No traceback for start-up errors: they are about the user's input
   * (a bad scenario, a port in use) and say where themselves. */
  lua_getglobal(L, "require");
  lua_pushstring(L, "summit.sim");
  int rc = lua_pcall(L, 1, 1, 0);                 /* 1: the module */
  if (rc == 0) {
    lua_getfield(L, -1, "serve");
    lua_createtable(L, 0, 8);
    set_str(L, "name", "sim");
    set_str(L, "host", o->host);
    lua_pushinteger(L, o->port);
    lua_setfield(L, -2, "port");
    set_str(L, "state_file", o->state_file);
    set_str(L, "scenario", o->scenario);
    set_str(L, "kubeconfig", o->kubeconfig);
    lua_pushnumber(L, o->time_scale > 0 ? o->time_scale : 1);
    lua_setfield(L, -2, "time_scale");
    lua_pushboolean(L, o->verbose);
    lua_setfield(L, -2, "verbose");
    rc = lua_pcall(L, 1, 1, 0);                   /* 2: the instance */
  }
  if (rc != 0) {
    fprintf(stderr, "summit sim serve: %s\n", lua_tostring(L, -1));
    host_free(&c.h);
    return 1;
  }
  print_banner(L, o);
  c.inst_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_settop(L, 0);

  uv_async_init(&c.h.loop, &c.sig_async, on_signal);
  c.sig_async.data = &c;
  g_sig_async = &c.sig_async;
  catch_signals(1);

  uv_run(&c.h.loop, UV_RUN_DEFAULT);
  if (!c.stopping) {
    stop_sim(&c);   /* the loop ran dry on its own */
    uv_run(&c.h.loop, UV_RUN_DEFAULT);
  }
  g_sig_async = NULL;
  luaL_unref(L, LUA_REGISTRYINDEX, c.inst_ref);
  int open = host_open_handles(&c.h);
  if (open > 0)
    fprintf(stderr, "summit sim serve: %d handle(s) still open after stop\n", open);
  int closed = host_free(&c.h);
  alarm(0);   /* stopped in time: the watchdog is not needed */
  catch_signals(0);
  if (open > 0) return 1;
  if (closed != 0) {
    fprintf(stderr, "summit sim serve: the event loop did not close cleanly (%s)\n",
            uv_strerror(closed));
    return 1;
  }
  return 0;
}
