/* GET /api/v1/runs/ID/events of summit serve: a run's journal rows as
 * Server-Sent Events, as they are appended (docs/serve.md). Each event's
 * id is the row's id (increasing in append order), its data the object
 * `summit log --json` prints for the row; a client that reconnects with
 * Last-Event-ID gets the rows after that one, none twice and none
 * skipped. The server polls the store (any process may be appending,
 * through either backend), reading only the rows after the last one sent
 * (store_journal_since); when the run has finished and every row has
 * been sent, an `end` event carries its status and the stream ends. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/serve.h"
#include "io/strbuf.h"

#define PING_TICKS 75   /* a comment line every ~15 s of polls (200 ms) */

struct sse_client {
  serve_ctx *c;
  http_exchange *x;
  char run[128];
  int64_t last;          /* the id of the last row sent */
  int ticks;
  sse_client *next;
};

static void unlink_client(sse_client *k) {
  serve_ctx *c = k->c;
  for (sse_client **p = &c->clients; *p; p = &(*p)->next)
    if (*p == k) {
      *p = k->next;
      c->n_clients--;
      break;
    }
  free(k);
}

static void on_gone(void *ud) { unlink_client(ud); }

/* The client has gone (a write failed): forget it. Returns 1. */
static int drop(sse_client *k) {
  http_exchange_on_close(k->x, NULL, NULL);
  http_stream_end(k->x);
  unlink_client(k);
  return 1;
}

/* Sends the last event (end, or shutdown) and ends the stream. */
static void finish(sse_client *k, const char *event, cJSON *data) {
  char *s = serve_json_text(data);
  cJSON_Delete(data);
  strbuf b = {0};
  strbuf_put(&b, "event: ", 7);
  strbuf_put(&b, event, strlen(event));
  strbuf_put(&b, "\ndata: ", 7);
  if (s) strbuf_put(&b, s, strlen(s));
  strbuf_put(&b, "\n\n", 2);
  free(s);
  http_stream_write(k->x, b.p, b.n);
  free(b.p);
  http_exchange_on_close(k->x, NULL, NULL);
  http_stream_end(k->x);
  unlink_client(k);
}

typedef struct {
  sse_client *k;
  strbuf out;
} batch;

static int send_row(void *ud, const store_entry *e) {
  batch *b = ud;
  cJSON *o = cli_log_json(e);
  char *s = serve_json_text(o);
  cJSON_Delete(o);
  char id[40];
  int n = snprintf(id, sizeof id, "id: %lld\ndata: ", (long long)e->id);
  strbuf_put(&b->out, id, (size_t)n);
  if (s) strbuf_put(&b->out, s, strlen(s));
  strbuf_put(&b->out, "\n\n", 2);
  free(s);
  b->k->last = e->id;
  return 0;
}

/* Sends k the rows it has not had; ends the stream when the run had
 * finished before they were read. Returns 1 when k has been freed (the
 * stream ended, or the client had gone), else 0. */
static int catch_up(sse_client *k) {
  serve_ctx *c = k->c;
  store_run r;
  if (store_run_get(c->store, k->run, &r) != STORE_OK) return 0;
  /* Read the status first: a run that was final then has all its rows
   * committed by the time they are read below. */
  int final = r.finished_ms != 0;
  char status[40];
  snprintf(status, sizeof status, "%s", r.status ? r.status : "");
  store_run_free(&r);
  batch b = {.k = k};
  if (store_journal_since(c->store, k->run, k->last, send_row, &b) != STORE_OK) {
    free(b.out.p);
    return 0;
  }
  if (b.out.n) {
    k->ticks = 0;
    if (http_stream_write(k->x, b.out.p, b.out.n) != 0) {
      free(b.out.p);
      return drop(k);
    }
  }
  free(b.out.p);
  if (final) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "run", k->run);
    cJSON_AddStringToObject(o, "status", status);
    finish(k, "end", o);
    return 1;
  }
  if (++k->ticks >= PING_TICKS) {
    k->ticks = 0;
    if (http_stream_write(k->x, ": ping\n\n", 8) != 0) return drop(k);
  }
  return 0;
}

void serve_events(serve_ctx *c, http_exchange *x, const http_request *r,
                  const char *run_id) {
  if (strcmp(r->method, "GET")) {
    serve_error(c, x, 405, "EMETHOD", "an event stream is for GET");
    return;
  }
  int64_t last = 0;
  const char *h = serve_header(r, "last-event-id");
  if (h && *h) {
    char *end;
    long long v = strtoll(h, &end, 10);
    if (*end || v < 0) {
      serve_error(c, x, 400, "EINPUT", "Last-Event-ID wants an event id "
                  "(a number) of this stream, not '%s'", h);
      return;
    }
    last = v;
  }
  store_run run;
  int rc = store_run_get(c->store, run_id, &run);
  if (rc != STORE_OK) {
    if (rc == STORE_NOTFOUND) serve_error(c, x, 404, "ENOTFOUND", "no run %s", run_id);
    else serve_error(c, x, 500, "ESTORE", "%s", store_errmsg(c->store));
    return;
  }
  store_run_free(&run);
  sse_client *k = calloc(1, sizeof *k);
  if (!k) {
    serve_error(c, x, 500, "EINTERNAL", "out of memory");
    return;
  }
  k->c = c;
  k->x = x;
  k->last = last;
  snprintf(k->run, sizeof k->run, "%s", run_id);
  k->next = c->clients;
  c->clients = k;
  c->n_clients++;
  static const char *const names[] = {"Content-Type", "Cache-Control",
                                      "X-Content-Type-Options",
                                      "X-Accel-Buffering"};
  static const char *const values[] = {"text/event-stream", "no-store",
                                       "nosniff", "no"};
  c->responses[2]++;
  http_stream_start(x, 200, names, values, 4);
  /* Tell EventSource to come back quickly after a drop. */
  if (http_stream_write(x, "retry: 1000\n\n", 13) != 0) {
    drop(k);
    return;
  }
  if (catch_up(k)) return;
  /* Last: a connection that closed already calls on_gone at once. */
  http_exchange_on_close(x, on_gone, k);
}

void serve_sse_poll(serve_ctx *c) {
  sse_client *k = c->clients;
  while (k) {
    sse_client *next = k->next;  /* catch_up may free k */
    catch_up(k);
    k = next;
  }
}

void serve_sse_end_all(serve_ctx *c) {
  while (c->clients) {
    sse_client *k = c->clients;
    /* The rows appended so far first, then a last word. */
    if (catch_up(k)) continue;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "reason", "the server is shutting down");
    finish(k, "shutdown", o);
  }
}
