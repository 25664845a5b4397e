/* The routes of summit serve (DESIGN §12, docs/serve.md): identity
 * (bearer tokens), the read-only API over the store, /healthz and
 * /metrics, and the headers and JSON error bodies every answer carries.
 * The JSON of a run is the CLI's own (runjson.c): the API and `--json`
 * print the same objects. */
#include <cJSON.h>
#include <nettle/memops.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "cli/serve.h"
#include "engine/pins.h"
#include "engine/runtime.h"
#include "io/strbuf.h"

#define MAX_LIMIT 500
#define DEFAULT_LIMIT 50

static const char *const API_NAMES[] = {"Content-Type", "X-Content-Type-Options",
                                        "Cache-Control", "WWW-Authenticate"};

static void respond(serve_ctx *c, http_exchange *x, int status,
                    const char *type, const char *body, size_t len, int auth) {
  const char *values[] = {type, "nosniff", "no-store", "Bearer"};
  if (status >= 100 && status < 600) c->responses[status / 100]++;
  http_respond(x, status, API_NAMES, values, auth ? 4 : 3, body, len);
}

char *serve_json_text(const cJSON *o) {
  char *s = cJSON_PrintUnformatted(o);
  if (!s) return NULL;
  strbuf b = {0};
  for (const char *p = s; *p; p++) {
    const char *esc = *p == '<' ? "\\u003c" : *p == '>' ? "\\u003e"
                      : *p == '&' ? "\\u0026" : NULL;
    if (esc) strbuf_put(&b, esc, 6);
    else strbuf_put(&b, p, 1);
  }
  free(s);
  return b.p;
}

void serve_json(serve_ctx *c, http_exchange *x, int status, cJSON *o) {
  char *s = serve_json_text(o);
  cJSON_Delete(o);
  if (!s) {
    static const char oom[] =
        "{\"error\":{\"code\":\"EINTERNAL\",\"message\":\"out of memory\"}}";
    respond(c, x, 500, "application/json", oom, sizeof oom - 1, 0);
    return;
  }
  respond(c, x, status, "application/json", s, strlen(s), status == 401);
  free(s);
}

void serve_error(serve_ctx *c, http_exchange *x, int status, const char *code,
                 const char *fmt, ...) {
  char msg[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  cJSON *o = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(o, "error");
  cJSON_AddStringToObject(e, "code", code);
  cJSON_AddStringToObject(e, "message", msg);
  serve_json(c, x, status, o);
}

const char *serve_header(const http_request *r, const char *name) {
  for (size_t i = 0; i < r->n_headers; i++)
    if (!strcmp(r->header_names[i], name)) return r->header_values[i];
  return NULL;
}

/* ---- identity -------------------------------------------------------- */

typedef struct {
  char hash[65];
  int found, revoked, expired;
  char name[80], role[256];
} token_match;

/* Compares every token's hash in constant time (no early exit on a
 * prefix), so the time taken does not tell how close a guess was. */
static int token_row(void *ud, const store_token *t) {
  token_match *m = ud;
  if (!t->hash || strlen(t->hash) != 64) return 0;
  if (!memeql_sec(t->hash, m->hash, 64)) return 0;  /* Nettle: constant time */
  m->found = 1;
  m->revoked = t->revoked_ms != 0;
  m->expired = t->expires_ms && t->expires_ms <= runtime_now_ms();
  snprintf(m->name, sizeof m->name, "%s", t->name);
  snprintf(m->role, sizeof m->role, "%s", t->role);
  return 0;
}

/* 1 if the request carries a valid bearer token; else answers 401 (or
 * 500) and returns 0. */
static int authorized(serve_ctx *c, http_exchange *x, const http_request *r) {
  const char *h = serve_header(r, "authorization");
  if (!h || strncasecmp(h, "Bearer ", 7) != 0 || !h[7]) {
    serve_error(c, x, 401, "EAUTH", "this needs Authorization: Bearer TOKEN "
                "(summit token create --user NAME --roles viewer)");
    return 0;
  }
  token_match m = {0};
  const char *tok = h + 7;
  while (*tok == ' ') tok++;
  pins_sha256_hex(tok, strlen(tok), m.hash);
  if (store_token_list(c->store, token_row, &m) != STORE_OK) {
    serve_error(c, x, 500, "ESTORE", "reading the tokens: %s",
                store_errmsg(c->store));
    return 0;
  }
  if (!m.found || m.revoked || m.expired) {
    serve_error(c, x, 401, "EAUTH", "%s", !m.found ? "unknown token"
                : m.revoked ? "the token was revoked" : "the token has expired");
    return 0;
  }
  return 1;
}

/* ---- query strings --------------------------------------------------- */

static int hexval(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

/* Percent-decodes s[0..n) ('+' is a space) into out; -1 when malformed,
 * too long, or it decodes to a NUL. */
static int url_decode(const char *s, size_t n, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    if (ch == '%') {
      int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
      int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) return -1;
      ch = (char)(hi * 16 + lo);
      i += 2;
    } else if (ch == '+') ch = ' ';
    if (!ch || o + 1 >= cap) return -1;
    out[o++] = ch;
  }
  out[o] = '\0';
  return 0;
}

typedef struct {
  char status[64], runbook[256], before[128];
  long limit;
} runs_query;

/* Parses the query of GET /api/v1/runs; answers 400 and returns -1 on an
 * unknown parameter or a bad value. */
static int parse_runs_query(serve_ctx *c, http_exchange *x, const char *q,
                            runs_query *out) {
  memset(out, 0, sizeof *out);
  out->limit = DEFAULT_LIMIT;
  while (*q) {
    size_t len = strcspn(q, "&");
    const char *eq = memchr(q, '=', len);
    size_t klen = eq ? (size_t)(eq - q) : len;
    const char *v = eq ? eq + 1 : q + len;
    size_t vlen = (size_t)(q + len - v);
    char key[32], val[256];
    if (url_decode(q, klen, key, sizeof key) != 0) {
      serve_error(c, x, 400, "EINPUT", "a malformed query parameter name");
      return -1;
    }
    char *dst = !strcmp(key, "status") ? out->status
                : !strcmp(key, "runbook") ? out->runbook
                : !strcmp(key, "before") ? out->before
                : !strcmp(key, "limit") ? val : NULL;
    size_t cap = dst == out->status ? sizeof out->status
                 : dst == out->before ? sizeof out->before : sizeof val;
    if (!dst) {
      serve_error(c, x, 400, "EINPUT", "unknown query parameter '%s' "
                  "(status, runbook, limit, before)", key);
      return -1;
    }
    if (url_decode(v, vlen, dst, cap) != 0) {
      serve_error(c, x, 400, "EINPUT", "query parameter %s: malformed or too "
                  "long", key);
      return -1;
    }
    if (dst == val) {
      char *end;
      out->limit = strtol(val, &end, 10);
      if (!*val || *end || out->limit < 1 || out->limit > MAX_LIMIT) {
        serve_error(c, x, 400, "EINPUT", "limit wants a number from 1 to %d, "
                    "not '%s'", MAX_LIMIT, val);
        return -1;
      }
    }
    q += len + (q[len] == '&');
  }
  return 0;
}

/* ---- GET /api/v1/runs ------------------------------------------------ */

typedef struct {
  const runs_query *q;
  int64_t before_ms;     /* the cursor run's creation time, or 0 */
  cJSON *runs;
  long n;
  int more;
} page_ctx;

/* Whether r comes after the cursor run in the listing's order (created
 * newest first, then id descending, as store_run_list lists them). The
 * cursor is a position, not a member of the page: a run whose status
 * changed between two pages does not break the walk. */
static int after_cursor(const page_ctx *p, const store_run *r) {
  if (!p->q->before[0]) return 1;
  return r->created_ms < p->before_ms ||
         (r->created_ms == p->before_ms && strcmp(r->id, p->q->before) < 0);
}

static int page_row(void *ud, const store_run *r) {
  page_ctx *p = ud;
  if (!after_cursor(p, r)) return 0;
  if (p->q->runbook[0] && (!r->name || strcmp(r->name, p->q->runbook)))
    return 0;
  if (p->n == p->q->limit) {
    p->more = 1;
    return 1;
  }
  cJSON_AddItemToArray(p->runs, cli_run_json(r));
  p->n++;
  return 0;
}

/* The creation time of the before= run into p; answers 400 (no such
 * run) or 500 and returns -1. */
static int find_cursor(serve_ctx *c, http_exchange *x, page_ctx *p) {
  if (!p->q->before[0]) return 0;
  store_run cur;
  int rc = store_run_get(c->store, p->q->before, &cur);
  if (rc == STORE_OK) {
    p->before_ms = cur.created_ms;
    store_run_free(&cur);
    return 0;
  }
  if (rc == STORE_NOTFOUND)
    serve_error(c, x, 400, "EINPUT", "before=%s: no such run (use the "
                "\"next\" of the previous page)", p->q->before);
  else
    serve_error(c, x, 500, "ESTORE", "%s", store_errmsg(c->store));
  return -1;
}

static void get_runs(serve_ctx *c, http_exchange *x, const http_request *r) {
  runs_query q;
  if (parse_runs_query(c, x, r->query, &q) != 0) return;
  page_ctx p = {.q = &q};
  if (find_cursor(c, x, &p) != 0) return;
  p.runs = cJSON_CreateArray();
  int rc = store_run_list(c->store, q.status[0] ? q.status : NULL, page_row, &p);
  if (rc != STORE_OK && rc != 1) {
    cJSON_Delete(p.runs);
    serve_error(c, x, 500, "ESTORE", "listing runs: %s", store_errmsg(c->store));
    return;
  }
  cJSON *o = cJSON_CreateObject();
  cJSON_AddItemToObject(o, "runs", p.runs);
  cJSON *last = cJSON_GetArrayItem(p.runs, (int)p.n - 1);
  const cJSON *id = cJSON_GetObjectItem(last, "run");
  if (p.more && cJSON_IsString(id))
    cJSON_AddStringToObject(o, "next", id->valuestring);
  else
    cJSON_AddNullToObject(o, "next");
  serve_json(c, x, 200, o);
}

/* ---- GET /api/v1/runs/ID, /api/v1/audit/verify ------------------------ */

static void get_run(serve_ctx *c, http_exchange *x, const char *id) {
  store_run run;
  int rc = store_run_get(c->store, id, &run);
  if (rc == STORE_NOTFOUND) {
    serve_error(c, x, 404, "ENOTFOUND", "no run %s", id);
    return;
  }
  if (rc != STORE_OK) {
    serve_error(c, x, 500, "ESTORE", "%s", store_errmsg(c->store));
    return;
  }
  int oom;
  char *text = cli_status_json(c->store, &run, &oom);
  store_run_free(&run);
  cJSON *o = text ? cJSON_Parse(text) : NULL;
  /* text that does not parse back: cJSON ran out of memory. */
  int nomem = oom || (text && !o);
  free(text);
  if (!o) serve_error(c, x, 500, "ESTORE", "%s", nomem ? "out of memory"
                      : store_errmsg(c->store));
  else serve_json(c, x, 200, o);
}

static void get_verify(serve_ctx *c, http_exchange *x) {
  store_audit_check chk;
  if (store_audit_verify(c->store, NULL, &chk) != STORE_OK) {
    serve_error(c, x, 500, "ESTORE", "%s", store_errmsg(c->store));
    return;
  }
  cJSON *o = cli_audit_verify_json(&chk, NULL);
  cJSON_AddBoolToObject(o, "intact", chk.bad_seq == 0);
  serve_json(c, x, 200, o);
}

/* ---- /healthz, /metrics ---------------------------------------------- */

static const char *const STATUSES[] = {
    "queued", "running", "suspended", "succeeded", "failed", "cancelled",
    "rolled_back", "needs_attention", "interrupted"};
#define NSTATUS (sizeof STATUSES / sizeof STATUSES[0])

static int count_status(void *ud, const store_run *r) {
  int64_t *n = ud;
  for (size_t i = 0; i < NSTATUS; i++)
    if (!strcmp(r->status, STATUSES[i])) n[i]++;
  return 0;
}

static int count_gate(void *ud, cJSON *w) {
  (*(int64_t *)ud)++;
  cJSON_Delete(w);
  return 0;
}

static void putf(strbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void putf(strbuf *b, const char *fmt, ...) {
  char line[300];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n > 0) strbuf_put(b, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static void get_metrics(serve_ctx *c, http_exchange *x) {
  int64_t runs[NSTATUS] = {0}, gates = 0, head = 0;
  char hash[65];
  if (store_run_list(c->store, NULL, count_status, runs) != STORE_OK ||
      cli_waits(c->store, NULL, count_gate, &gates) != STORE_OK ||
      store_audit_head(c->store, &head, hash) != STORE_OK) {
    serve_error(c, x, 500, "ESTORE", "%s", store_errmsg(c->store));
    return;
  }
  strbuf b = {0};
  putf(&b, "# HELP summit_runs Runs in the store, by status.\n"
           "# TYPE summit_runs gauge\n");
  for (size_t i = 0; i < NSTATUS; i++)
    putf(&b, "summit_runs{status=\"%s\"} %lld\n", STATUSES[i], (long long)runs[i]);
  putf(&b, "# HELP summit_gates_waiting Approval gates waiting for a decision.\n"
           "# TYPE summit_gates_waiting gauge\nsummit_gates_waiting %lld\n",
       (long long)gates);
  putf(&b, "# HELP summit_audit_head_seq Sequence number of the newest audit record.\n"
           "# TYPE summit_audit_head_seq gauge\nsummit_audit_head_seq %lld\n",
       (long long)head);
  putf(&b, "# HELP summit_http_connections Open HTTP connections.\n"
           "# TYPE summit_http_connections gauge\nsummit_http_connections %zu\n",
       http_server_connections(c->srv));
  putf(&b, "# HELP summit_sse_clients Clients following a run's events.\n"
           "# TYPE summit_sse_clients gauge\nsummit_sse_clients %zu\n",
       c->n_clients);
  putf(&b, "# HELP summit_http_responses_total Responses sent, by status class.\n"
           "# TYPE summit_http_responses_total counter\n");
  for (int i = 1; i < 6; i++)
    putf(&b, "summit_http_responses_total{code=\"%dxx\"} %llu\n", i,
         (unsigned long long)c->responses[i]);
  respond(c, x, 200, "text/plain; version=0.0.4; charset=utf-8", b.p, b.n, 0);
  free(b.p);
}

/* ---- routing --------------------------------------------------------- */

/* Routes under /api/v1/ (already authorized). */
static void api(serve_ctx *c, http_exchange *x, const http_request *r,
                const char *rest) {
  if (!strcmp(rest, "runs")) {
    get_runs(c, x, r);
    return;
  }
  if (!strcmp(rest, "audit/verify")) {
    get_verify(c, x);
    return;
  }
  if (!strncmp(rest, "runs/", 5) && rest[5]) {
    const char *id = rest + 5, *slash = strchr(id, '/');
    if (!slash) {
      get_run(c, x, id);
      return;
    }
    if (!strcmp(slash, "/events") && slash > id) {
      char rid[128];
      if ((size_t)(slash - id) < sizeof rid) {
        memcpy(rid, id, (size_t)(slash - id));
        rid[slash - id] = '\0';
        serve_events(c, x, r, rid);
        return;
      }
    }
  }
  serve_error(c, x, 404, "ENOTFOUND", "no such route: %s %s", r->method,
              r->path);
}

void serve_handle(void *ud, http_exchange *x, const http_request *r) {
  serve_ctx *c = ud;
  if (c->stopping) {
    serve_error(c, x, 503, "ESTOPPING", "the server is shutting down");
    return;
  }
  int get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
  if (!strcmp(r->path, "/healthz") && get) {
    respond(c, x, 200, "text/plain; charset=utf-8", "ok\n", 3, 0);
  } else if (!strcmp(r->path, "/metrics") && get) {
    get_metrics(c, x);
  } else if (!strncmp(r->path, "/api/", 5)) {
    if (!authorized(c, x, r)) return;
    if (!get)
      serve_error(c, x, 405, "EMETHOD", "%s is not served here yet (this "
                  "server is read-only)", r->method);
    else if (!strncmp(r->path, "/api/v1/", 8)) api(c, x, r, r->path + 8);
    else serve_error(c, x, 404, "ENOTFOUND", "no such route: %s", r->path);
  } else {
    serve_error(c, x, 404, "ENOTFOUND", "no such route: %s %s", r->method,
                r->path);
  }
}
