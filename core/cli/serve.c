/* summit serve: the team's HTTP API over the store (DESIGN §12,
 * docs/serve.md). This file parses the options, opens the store, runs the
 * server of core/io on the libuv loop and stops it gracefully on SIGTERM
 * or SIGINT. The server reads through store.h only and never executes a
 * run: workers (summit daemon) do that. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/serve.h"
#include "engine/engine.h"

#define DEFAULT_HOST "127.0.0.1"
#define DEFAULT_PORT 7800
#define POLL_MS 200      /* how often SSE clients look for new rows */
#define GRACE_MS 2000    /* open responses get this long after a signal */

/* 127.0.0.0/8, ::1 or "localhost": only this machine can connect. */
static int loopback(const char *host) {
  struct in_addr a4;
  struct in6_addr a6;
  if (!strcmp(host, "localhost")) return 1;
  if (inet_pton(AF_INET, host, &a4) == 1)
    return (ntohl(a4.s_addr) >> 24) == 127;
  return inet_pton(AF_INET6, host, &a6) == 1 &&
         !memcmp(&a6, &in6addr_loopback, sizeof a6);
}

static void on_grace(uv_timer_t *t) {
  serve_ctx *c = t->data;
  /* Streams ended and whole responses answered: close what is left
   * (idle keep-alive connections) and let the loop run dry. */
  http_server_stop(c->srv);
  uv_close((uv_handle_t *)&c->poll, NULL);
  uv_close((uv_handle_t *)&c->grace, NULL);
  uv_close((uv_handle_t *)&c->sig_term, NULL);
  uv_close((uv_handle_t *)&c->sig_int, NULL);
}

/* SIGTERM/SIGINT: the listener closes (new connections are refused),
 * requests on open connections get 503, every event stream is ended (its
 * last event sent), and the connections are closed once their clients
 * have gone or the grace period is over. A second signal ends at once. */
static void on_signal(uv_signal_t *sg, int signum) {
  serve_ctx *c = sg->data;
  if (c->stopping) {
    fprintf(stderr, "summit serve: signal %d again: stopping now\n", signum);
    uv_timer_start(&c->grace, on_grace, 0, 0);
    return;
  }
  c->stopping = 1;
  http_server_unlisten(c->srv);
  fprintf(stderr, "summit serve: signal %d: finishing open responses\n",
          signum);
  serve_sse_end_all(c);
  uv_timer_start(&c->grace, on_grace, GRACE_MS, 0);
}

/* A poll tick during shutdown also checks whether everyone has gone. */
static void on_drain(uv_timer_t *t) {
  serve_ctx *c = t->data;
  if (!c->stopping) {
    serve_sse_poll(c);
    return;
  }
  if (http_server_connections(c->srv) == 0) uv_timer_start(&c->grace, on_grace, 0, 0);
}

static int serve_run(store_t *s, const char *host, int port) {
  serve_ctx c;
  memset(&c, 0, sizeof c);
  c.loop = uv_default_loop();
  c.store = s;
  char err[512];
  /* NULL options: the hardened defaults of core/io (timeouts, 8 MiB
   * bodies, 512 connections). */
  c.srv = http_server_start(c.loop, host, port, NULL, serve_handle, &c, err,
                            sizeof err);
  if (!c.srv) {
    fprintf(stderr, "summit serve: cannot listen on %s:%d: %s\n", host, port,
            err);
    return EXIT_FAILED;
  }
  uv_timer_init(c.loop, &c.poll);
  uv_timer_init(c.loop, &c.grace);
  uv_signal_init(c.loop, &c.sig_term);
  uv_signal_init(c.loop, &c.sig_int);
  c.poll.data = c.grace.data = c.sig_term.data = c.sig_int.data = &c;
  uv_timer_start(&c.poll, on_drain, POLL_MS, POLL_MS);
  uv_signal_start(&c.sig_term, on_signal, SIGTERM);
  uv_signal_start(&c.sig_int, on_signal, SIGINT);
  fprintf(stderr, "summit serve: listening on http://%s%s%s:%d (%s store %s)\n",
          strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
          http_server_port(c.srv), store_kind(s), store_name(s));
  uv_run(c.loop, UV_RUN_DEFAULT);
  uv_loop_close(c.loop);
  return EXIT_OK;
}

int cmd_serve(int argc, char **argv) {
  const char *host = DEFAULT_HOST, *v;
  int port = DEFAULT_PORT, plain = 0, r;
  for (int i = 0; i < argc; i++) {
    if ((r = cli_opt(argc, argv, &i, "--listen", &v))) {
      if (r < 0) return EXIT_USAGE;
      if (cli_parse_listen(v, DEFAULT_HOST, &host, &port) != 0)
        return cli_usage("serve", "--listen wants HOST:PORT, not '%s'", v);
    } else if (cli_flag(argv, i, "--plain-http")) {
      plain = 1;
    } else if (!strncmp(argv[i], "--tls-", 6)) {
      return cli_usage("serve", "%s: TLS is not built into summit serve yet; "
                       "put a TLS-terminating proxy in front and use "
                       "--plain-http (docs/serve.md)", argv[i]);
    } else {
      return cli_usage("serve", "unknown argument %s", argv[i]);
    }
  }
  if (!loopback(host) && !plain)
    return cli_usage("serve", "--listen %s is reachable from other machines: "
                     "serving it needs TLS, which summit serve does not have "
                     "yet; behind a TLS-terminating proxy, add --plain-http",
                     host);
  store_t *s = cli_open_store_rw("serve");
  if (!s) return EXIT_FAILED;
  int code = serve_run(s, host, port);
  store_close(s);
  return code;
}
