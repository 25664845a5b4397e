#ifndef SUMMIT_CLI_SERVE_H
#define SUMMIT_CLI_SERVE_H
/* summit serve (DESIGN §12, docs/serve.md), shared by its files:
 * serve.c (options, the loop, signals), serve_api.c (routes, identity,
 * responses) and serve_sse.c (a run's events as Server-Sent Events). */
#include <stdint.h>
#include <uv.h>

#include "io/server.h"
#include "store/store.h"

struct cJSON;
typedef struct sse_client sse_client;

typedef struct {
  uv_loop_t *loop;
  http_server *srv;
  store_t *store;         /* the one connection every request reads through */
  uv_signal_t sig_term, sig_int;
  uv_timer_t poll;        /* the SSE clients' look at the store */
  uv_timer_t grace;       /* after a signal: how long open responses get */
  sse_client *clients;
  size_t n_clients;
  int stopping;           /* a signal came: new requests get 503 */
  uint64_t responses[6];  /* answered, by status class (1xx .. 5xx) */
} serve_ctx;

/* ---- serve_api.c ---- */
/* The http_handler of the server (ud: the serve_ctx). */
void serve_handle(void *ud, http_exchange *x, const http_request *r);
/* Answers with o as JSON (o deleted) and the API's safe headers. */
void serve_json(serve_ctx *c, http_exchange *x, int status, struct cJSON *o);
/* Answers {"error":{"code":code,"message":...}} with status. */
void serve_error(serve_ctx *c, http_exchange *x, int status, const char *code,
                 const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* The value of the request's header name (lower case), or NULL. */
const char *serve_header(const http_request *r, const char *name);
/* JSON text made safe to embed in HTML too: '<', '>' and '&' (which can
 * only occur inside strings) become \u003c, \u003e, \u0026. malloc'd. */
char *serve_json_text(const struct cJSON *o);

/* ---- serve_sse.c ---- */
/* GET /api/v1/runs/ID/events: streams the run's journal rows from after
 * the Last-Event-ID header (0: from the start) as they are appended. */
void serve_events(serve_ctx *c, http_exchange *x, const http_request *r,
                  const char *run_id);
/* Looks at the store for each client (the poll timer). */
void serve_sse_poll(serve_ctx *c);
/* Ends every stream (shutdown). */
void serve_sse_end_all(serve_ctx *c);

#endif
