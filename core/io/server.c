/* HTTP/1.1 server on libuv and http-parser (see server.h).
 *
 * Each connection reads into a fixed buffer and feeds http-parser, which
 * builds whole requests (URL, lower-cased headers, body up to max_body)
 * and appends them to the connection's queue. One request at a time is
 * taken from the queue and handed to the handler as an exchange; the next
 * is taken only once that exchange is answered (from a zero-delay timer,
 * so the handler is never re-entered from inside http_respond), which
 * keeps pipelined answers in order. A request the server refuses (400,
 * 413, 431) is queued as an error entry in its place, answered when its
 * turn comes, and the connection is then closed.
 *
 * Closing is either graceful (after a response that closes: shutdown,
 * then keep reading and discarding until the client's EOF or a short
 * linger timeout, so a client still sending does not get our answer
 * destroyed by a reset) or an abort (client gone, write error,
 * http_server_stop). A connection owns two handles, its socket and a
 * timer; its memory is freed in the last close callback, and the server's
 * in the last close callback of all its handles once stopped.
 *
 * Exchange ownership. The server allocates the exchange and hands it to
 * the handler; it stays valid until the first of:
 *   - the handler finishes it: http_respond, or http_stream_end (on a live
 *     or a dead connection alike); x is invalid once the call returns, and
 *     on_close will not be called;
 *   - on_close, if registered, returns: the connection closed while the
 *     exchange was open. on_close runs from the loop (the connection's
 *     close callback), never from inside a server call, with one
 *     exception: registered on an exchange whose connection has already
 *     closed, it runs at once, inside http_exchange_on_close.
 * Between the connection dying and on_close, and during on_close, x stays
 * usable: http_stream_write returns -1, the rest do nothing (during
 * on_close respond/end do not free x either). Without on_close, an
 * exchange whose connection died lingers until the handler finishes it
 * (writes return -1 meanwhile). Either way the handler must finish every
 * exchange or register on_close, or the exchange leaks. An exchange never
 * refers to the server once its connection is gone, so it may outlive
 * http_server_stop.
 *
 * Upgrades. A request with an Upgrade header is the last one parsed on its
 * connection; the bytes after it are kept (c->early). If the handler calls
 * http_upgrade, the 101 goes out, the kept bytes and then every byte read
 * go to the exchange's on_data, and the exchange lives on until
 * http_upgraded_close (a graceful close) or the connection dies (on_close,
 * as above). If it answers with anything else, the connection closes after
 * the answer, as for any request that ends a connection.
 *
 * Limits (http_server_opts). Each connection has a deadline timer whose
 * meaning follows what it is doing (arm_deadline): reading a request's
 * headers (header timeout, from the request's first byte or the accept),
 * its body (body timeout, from the end of the headers), or nothing at all
 * between keep-alive requests (idle timeout). While a request is queued
 * or being answered nothing is timed. Over max_connections a new
 * connection is answered 503 and closed at once (refuse).
 *
 * A client EOF counts as going away (a half-close cannot be told from a
 * watch client that left). The embedding program must ignore SIGPIPE. */
#include "io/server.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <http_parser.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_MAX_BODY ((size_t)8 << 20)
#define DEFAULT_MAX_HEADER ((size_t)80 << 10)  /* http-parser's own limit */
#define DEFAULT_HEADER_TIMEOUT_MS 10000
#define DEFAULT_BODY_TIMEOUT_MS 60000
#define DEFAULT_IDLE_TIMEOUT_MS 60000
#define DEFAULT_MAX_CONNECTIONS 512
#define MAX_HEADERS 100
#define READ_BUF 65536               /* one per server, not per connection */
#define MAX_QUEUED 32                /* parsed, not dispatched: stop reading */
#define HIGH_WATER ((size_t)1 << 20) /* unsent bytes: dispatch waits... */
#define LOW_WATER ((size_t)256 << 10) /* ...until they drop below this */
#define STREAM_CAP ((size_t)64 << 20) /* unsent stream bytes: client gone */
#define LINGER_MS 2000
#define BACKLOG 511

/* ---- growable buffers ---- */

typedef struct {
  char *p;
  size_t len, cap;   /* p[len] is always '\0' once allocated */
  int err;           /* an allocation failed */
} sbuf;

static int sb_reserve(sbuf *b, size_t extra) {
  if (b->len + extra + 1 <= b->cap) return 0;
  size_t want = b->cap ? b->cap * 2 : 256;
  if (want < b->len + extra + 1) want = b->len + extra + 1;
  char *np = realloc(b->p, want);
  if (!np) {
    b->err = 1;
    return -1;
  }
  b->p = np;
  b->cap = want;
  return 0;
}

static int sb_add(sbuf *b, const char *s, size_t n) {
  if (sb_reserve(b, n) < 0) return -1;
  if (n) memcpy(b->p + b->len, s, n);
  b->len += n;
  assert(b->len < b->cap);
  b->p[b->len] = '\0';
  return 0;
}

static int sb_str(sbuf *b, const char *s) { return sb_add(b, s, strlen(s)); }

/* ---- types ---- */

typedef struct req req;
struct req {
  req *next;
  int error;           /* nonzero: answer this status and close instead */
  int method;
  int http10;
  int keep_alive;
  int upgrade;         /* asked to switch protocols (Upgrade header) */
  sbuf url;
  sbuf hdr;            /* "name\0value\0..." */
  size_t off[MAX_HEADERS][2];
  size_t n_headers;
  sbuf body;
  char *path, *query;
};

typedef struct conn conn;

struct http_exchange {
  conn *c;             /* NULL once the connection has closed */
  int head;            /* HEAD: headers only */
  int http10;
  int keep_alive;
  int streaming;       /* http_stream_start was called */
  int chunked;         /* the stream is framed as chunks */
  int nobody;          /* the stream carries no body (HEAD, 204, 304) */
  int close_after;     /* the connection closes when the stream ends */
  int notifying;       /* inside on_close */
  int can_upgrade;     /* the request asked for an upgrade */
  int upgraded;        /* http_upgrade was called: raw bytes from now on */
  void (*on_data)(void *ud, const char *data, size_t len);
  void (*on_close)(void *ud);
  void *close_ud;
};

enum { CB_NONE, CB_FIELD, CB_VALUE };

/* What the deadline timer of a connection measures (see arm_deadline). */
enum { PH_STALE = -1, PH_NONE, PH_HEADERS, PH_BODY, PH_IDLE };

struct conn {
  uv_tcp_t tcp;
  uv_timer_t timer;    /* dispatch kick; the linger once shutting */
  uv_timer_t deadline; /* header, body and idle timeouts */
  int phase;           /* what deadline measures now (PH_*) */
  int headers_done;    /* the request being parsed is past its headers */
  size_t head_bytes;   /* its request line and headers so far */
  size_t nparsed;      /* requests parsed whole on this connection */
  uv_shutdown_t sreq;
  http_server *s;
  conn *prev, *next;
  http_parser parser;
  req *cur;            /* being parsed */
  int last_cb;         /* which header callback ran last */
  int err_status;      /* set by a parser callback that fails the parse */
  req *qhead, *qtail;  /* parsed, waiting for their turn */
  size_t qlen;
  http_exchange *active;
  size_t wbytes;       /* handed to uv_write, not yet written */
  int nopen;           /* handles not yet through their close callback */
  int closing;         /* aborted: uv_close called */
  int shutting;        /* graceful close under way */
  int parse_done;      /* no more requests: input is discarded */
  int reading;
  int blocked;         /* dispatch waits for the write backlog to drain */
  int upgraded;        /* the connection speaks another protocol now */
  int want_upgrade;    /* the last request asked for an upgrade */
  sbuf early;          /* bytes that came after the upgrade request */
  char peer[64];
};

struct http_server {
  uv_loop_t *loop;
  uv_tcp_t listener;
  http_handler handler;
  void *ud;
  http_server_opts o;  /* every field set (defaults filled in) */
  int port;
  int stopping;
  int unlistened;      /* http_server_unlisten: the listener is closed,
                        * and holds one nopen until http_server_stop */
  int nopen;           /* listener + connections not yet freed */
  size_t nconns;       /* connections not yet freed */
  conn *conns;
  /* libuv reads into it and on_read consumes it before the next read of
   * any connection, so one buffer serves them all: an idle connection
   * costs a few hundred bytes, not 64 KiB. */
  char rbuf[READ_BUF];
};

typedef struct {
  uv_write_t req;
  conn *c;
  size_t len;
  char data[];
} wreq;

static void pump(conn *c);
static void update_reading(conn *c);
static void arm_deadline(conn *c);

/* ---- small helpers ---- */

static const char *reason(int status) {
  switch (status) {
  case 100: return "Continue";
  case 101: return "Switching Protocols";
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 203: return "Non-Authoritative Information";
  case 204: return "No Content";
  case 205: return "Reset Content";
  case 206: return "Partial Content";
  case 301: return "Moved Permanently";
  case 302: return "Found";
  case 303: return "See Other";
  case 304: return "Not Modified";
  case 307: return "Temporary Redirect";
  case 308: return "Permanent Redirect";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 406: return "Not Acceptable";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 410: return "Gone";
  case 411: return "Length Required";
  case 412: return "Precondition Failed";
  case 413: return "Payload Too Large";
  case 414: return "URI Too Long";
  case 415: return "Unsupported Media Type";
  case 416: return "Range Not Satisfiable";
  case 417: return "Expectation Failed";
  case 422: return "Unprocessable Entity";
  case 425: return "Too Early";
  case 426: return "Upgrade Required";
  case 428: return "Precondition Required";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  default: break;
  }
  switch (status / 100) {
  case 1: return "Informational";
  case 2: return "Success";
  case 3: return "Redirection";
  case 4: return "Client Error";
  default: return "Server Error";
  }
}

/* Statuses whose responses never have a body (RFC 9112 6.3). */
static int bodiless(int status) {
  return status < 200 || status == 204 || status == 304;
}

static int is_tchar(int ch) {
  return isalnum(ch) || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Handler-supplied headers are checked so they cannot break the framing
 * (response splitting). */
static int valid_header(const char *name, const char *value) {
  if (!name || !value || !*name) return 0;
  for (const char *p = name; *p; p++)
    if (!is_tchar((unsigned char)*p)) return 0;
  return strpbrk(value, "\r\n") == NULL;
}

/* Is token (e.g. "close") one of the comma-separated values of v? */
static int has_token(const char *v, const char *token) {
  size_t tl = strlen(token);
  while (*v) {
    while (*v == ' ' || *v == '\t' || *v == ',') v++;
    const char *e = v;
    while (*e && *e != ',') e++;
    const char *t = e;
    while (t > v && (t[-1] == ' ' || t[-1] == '\t')) t--;
    if ((size_t)(t - v) == tl && strncasecmp(v, token, tl) == 0) return 1;
    v = e;
  }
  return 0;
}

static int hexval(int ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

/* Percent-decodes s[0..n). NULL on a bad escape or %00 (the path is a C
 * string) or when out of memory. */
static char *pct_decode(const char *s, size_t n) {
  char *o = malloc(n + 1);
  size_t k = 0;
  if (!o) return NULL;
  for (size_t i = 0; i < n; i++) {
    if (s[i] != '%') {
      o[k++] = s[i];
      continue;
    }
    int hi = i + 2 < n ? hexval((unsigned char)s[i + 1]) : -1;
    int lo = hi >= 0 ? hexval((unsigned char)s[i + 2]) : -1;
    if (lo < 0 || (hi == 0 && lo == 0)) {
      free(o);
      return NULL;
    }
    o[k++] = (char)(hi * 16 + lo);
    i += 2;
  }
  o[k] = '\0';
  return o;
}

static void req_free(req *r) {
  if (!r) return;
  free(r->url.p);
  free(r->hdr.p);
  free(r->body.p);
  free(r->path);
  free(r->query);
  free(r);
}

static void enqueue(conn *c, req *r) {
  assert(r && !r->next && !c->qtail == !c->qhead);
  if (c->qtail) c->qtail->next = r;
  else c->qhead = r;
  c->qtail = r;
  c->qlen++;
}

/* ---- closing ---- */

static void server_release(http_server *s) {
  assert(s->nopen > 0);
  if (--s->nopen == 0) free(s);
}

/* Delivers on_close and frees x; x is already detached. */
static void notify_close(http_exchange *x) {
  x->notifying = 1;
  x->on_close(x->close_ud);
  free(x);
}

static void conn_finalize(conn *c) {
  http_server *s = c->s;
  assert(c->nopen == 0 && s->nconns > 0);
  http_exchange *x = c->active;
  c->active = NULL;
  if (x) {
    x->c = NULL;   /* from here on x never touches the connection */
    if (x->on_close) notify_close(x);
  }
  while (c->qhead) {
    req *r = c->qhead;
    c->qhead = r->next;
    req_free(r);
  }
  req_free(c->cur);
  free(c->early.p);
  if (c->prev) c->prev->next = c->next;
  else s->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  free(c);
  s->nconns--;
  server_release(s);  /* last: on_close may have called http_server_stop */
}

static void on_conn_closed(uv_handle_t *h) {
  conn *c = h->data;
  assert(c->closing && c->nopen > 0);
  if (--c->nopen == 0) conn_finalize(c);
}

/* Closes at once. Pending writes are cancelled (their callbacks run before
 * the close callbacks); an open exchange hears of it in conn_finalize. */
static void conn_abort(conn *c) {
  if (c->closing) return;
  c->closing = 1;
  uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
  uv_close((uv_handle_t *)&c->timer, on_conn_closed);
  uv_close((uv_handle_t *)&c->deadline, on_conn_closed);
}

static void on_linger(uv_timer_t *t) { conn_abort(t->data); }

static void on_shutdown(uv_shutdown_t *r, int status) {
  conn *c = r->data;
  if (c->closing) return;
  if (status < 0) {
    conn_abort(c);
    return;
  }
  /* Everything is sent; wait for the client to close its side. */
  update_reading(c);
  uv_timer_start(&c->timer, on_linger, LINGER_MS, 0);
}

/* Closes after the queued writes are sent (libuv's shutdown waits for
 * them). */
static void begin_shutdown(conn *c) {
  if (c->closing || c->shutting) return;
  c->shutting = 1;
  c->parse_done = 1;
  uv_timer_stop(&c->timer);
  uv_timer_stop(&c->deadline);   /* the linger bounds it from now on */
  c->phase = PH_NONE;
  c->sreq.data = c;
  if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) < 0)
    conn_abort(c);
}

/* ---- writing ---- */

static void on_write(uv_write_t *r, int status) {
  wreq *w = r->data;
  conn *c = w->c;
  assert(c->wbytes >= w->len);
  c->wbytes -= w->len;
  free(w);
  if (c->closing) return;
  if (status < 0) {
    conn_abort(c);
    return;
  }
  if (c->blocked && c->wbytes <= LOW_WATER) {
    c->blocked = 0;
    pump(c);
    update_reading(c);
  }
}

static wreq *wreq_new(size_t cap) {
  wreq *w = malloc(sizeof *w + cap);
  if (w) w->len = 0;
  return w;
}

/* Queues w (taking it). -1 when the connection has failed, now or
 * before. */
static int conn_send(conn *c, wreq *w) {
  if (!w) {
    conn_abort(c);
    return -1;
  }
  if (c->closing) {
    free(w);
    return -1;
  }
  uv_buf_t b;
  b.base = w->data;
  b.len = w->len;
  w->c = c;
  w->req.data = w;
  c->wbytes += w->len;
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0) {
    c->wbytes -= w->len;
    free(w);
    conn_abort(c);
    return -1;
  }
  return 0;
}

static int send_bytes(conn *c, const char *a, size_t alen, const char *b,
                      size_t blen) {
  wreq *w = wreq_new(alen + blen);
  if (w) {
    memcpy(w->data, a, alen);
    if (blen) memcpy(w->data + alen, b, blen);
    w->len = alen + blen;
  }
  return conn_send(c, w);
}

/* Status line and the handler's headers; *close set if they ask for it.
 * Content-Length, Transfer-Encoding and Connection are ours to send. */
static void put_head(sbuf *h, int status, const char *const *names,
                     const char *const *values, size_t n, int *close) {
  char line[96];
  snprintf(line, sizeof line, "HTTP/1.1 %d %s\r\n", status, reason(status));
  sb_str(h, line);
  for (size_t i = 0; i < n; i++) {
    const char *k = names[i], *v = values[i];
    if (!valid_header(k, v)) continue;
    if (!strcasecmp(k, "content-length") ||
        !strcasecmp(k, "transfer-encoding"))
      continue;
    if (!strcasecmp(k, "connection")) {
      if (has_token(v, "close")) *close = 1;
      continue;
    }
    sb_str(h, k);
    sb_add(h, ": ", 2);
    sb_str(h, v);
    sb_add(h, "\r\n", 2);
  }
}

static void put_connection(sbuf *h, const http_exchange *x, int close) {
  if (close) sb_str(h, "Connection: close\r\n");
  else if (x->http10) sb_str(h, "Connection: keep-alive\r\n");
}

/* Sends a canned error answer and closes. nosniff and no-store as on
 * every answer of summit serve: these are its answers too. */
static void send_error(conn *c, int status) {
  char b[320];
  const char *r = reason(status);
  int n = snprintf(b, sizeof b,
                   "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
                   "X-Content-Type-Options: nosniff\r\n"
                   "Cache-Control: no-store\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
                   status, r, strlen(r) + 1, r);
  if (send_bytes(c, b, (size_t)n, NULL, 0) == 0) begin_shutdown(c);
}

/* ---- dispatch ---- */

static void on_kick(uv_timer_t *t) {
  conn *c = t->data;
  pump(c);
  update_reading(c);
}

/* Detaches and frees a finished exchange, then moves the connection on:
 * the next queued request (from the loop, not from inside this call) or
 * a graceful close. */
static void finish(http_exchange *x, int close) {
  conn *c = x->c;
  assert(!c || c->active == x);
  free(x);
  if (!c) return;
  c->active = NULL;
  if (c->closing) return;
  if (close) begin_shutdown(c);
  else if (c->qhead) uv_timer_start(&c->timer, on_kick, 0, 0);
  else arm_deadline(c);   /* idle from now */
}

static void dispatch(conn *c, req *r) {
  assert(!c->active && r->n_headers <= MAX_HEADERS);
  http_exchange *x = calloc(1, sizeof *x);
  if (!x) {
    send_error(c, 503);
    return;
  }
  x->c = c;
  x->head = r->method == HTTP_HEAD;
  x->http10 = r->http10;
  x->keep_alive = r->keep_alive;
  x->can_upgrade = r->upgrade;
  c->active = x;

  const char *names[MAX_HEADERS], *values[MAX_HEADERS];
  for (size_t i = 0; i < r->n_headers; i++) {
    names[i] = r->hdr.p + r->off[i][0];
    values[i] = r->hdr.p + r->off[i][1];
  }
  http_request q;
  q.method = http_method_str((enum http_method)r->method);
  q.url = r->url.p;
  q.path = r->path;
  q.query = r->query;
  q.header_names = names;
  q.header_values = values;
  q.n_headers = r->n_headers;
  q.body = r->body.p ? r->body.p : "";
  q.body_len = r->body.len;
  q.peer = c->peer;
  c->s->handler(c->s->ud, x, &q);  /* x may be gone when it returns */
}

/* Hands the next queued request to the handler if the connection is
 * free for it. At most one per call: the next comes from finish(). */
static void pump(conn *c) {
  if (c->closing || c->shutting || c->active || !c->qhead) return;
  if (c->wbytes > HIGH_WATER) {
    c->blocked = 1;   /* the client is not reading: resume from on_write */
    return;
  }
  req *r = c->qhead;
  c->qhead = r->next;
  if (!c->qhead) c->qtail = NULL;
  assert(c->qlen > 0);
  c->qlen--;
  if (r->error) send_error(c, r->error);
  else dispatch(c, r);
  req_free(r);
}

/* ---- parsing ---- */

static int fail(conn *c, int status) {
  c->err_status = status;
  return -1;
}

static int on_message_begin(http_parser *p) {
  conn *c = p->data;
  req_free(c->cur);
  c->cur = calloc(1, sizeof *c->cur);
  c->last_cb = CB_NONE;
  c->headers_done = 0;
  c->head_bytes = 0;
  /* A new request: its own header clock, unless one already runs (the
   * first request of a connection is timed from the accept). */
  if (c->phase != PH_HEADERS) c->phase = PH_STALE;
  return c->cur ? 0 : fail(c, 503);
}

/* Counts request-line and header bytes against max_header_bytes. */
static int head_room(conn *c, size_t n) {
  c->head_bytes += n;
  return c->head_bytes > c->s->o.max_header_bytes ? fail(c, 431) : 0;
}

static int on_url(http_parser *p, const char *at, size_t n) {
  conn *c = p->data;
  if (head_room(c, n) < 0) return -1;
  return sb_add(&c->cur->url, at, n) < 0 ? fail(c, 503) : 0;
}

/* Ends the header in progress: value NUL-terminated, trailing blanks
 * dropped (http-parser keeps them). */
static int end_header(conn *c) {
  req *r = c->cur;
  if (c->last_cb == CB_FIELD) {
    if (sb_add(&r->hdr, "", 1) < 0) return -1;
    r->off[r->n_headers - 1][1] = r->hdr.len;
  }
  if (c->last_cb != CB_NONE) {
    size_t start = r->off[r->n_headers - 1][1];
    char *p = r->hdr.p;
    while (r->hdr.len > start &&
           (p[r->hdr.len - 1] == ' ' || p[r->hdr.len - 1] == '\t'))
      r->hdr.len--;
    if (sb_add(&r->hdr, "", 1) < 0) return -1;
  }
  c->last_cb = CB_NONE;
  return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n) {
  conn *c = p->data;
  req *r = c->cur;
  if (!c->headers_done && head_room(c, n + 4) < 0) return -1;  /* ": " CRLF */
  if (c->last_cb != CB_FIELD) {   /* a new header (the parser may split) */
    if (end_header(c) < 0) return fail(c, 503);
    if (r->n_headers == MAX_HEADERS) return fail(c, 431);
    r->off[r->n_headers][0] = r->hdr.len;
    r->off[r->n_headers][1] = 0;
    r->n_headers++;
    c->last_cb = CB_FIELD;
  }
  size_t from = r->hdr.len;
  if (sb_add(&r->hdr, at, n) < 0) return fail(c, 503);
  for (size_t i = from; i < r->hdr.len; i++)
    r->hdr.p[i] = (char)tolower((unsigned char)r->hdr.p[i]);
  return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n) {
  conn *c = p->data;
  req *r = c->cur;
  if (!c->headers_done && head_room(c, n) < 0) return -1;
  if (c->last_cb != CB_VALUE) {
    if (sb_add(&r->hdr, "", 1) < 0) return fail(c, 503);
    r->off[r->n_headers - 1][1] = r->hdr.len;
    c->last_cb = CB_VALUE;
  }
  return sb_add(&r->hdr, at, n) < 0 ? fail(c, 503) : 0;
}

static const char *find_header(const req *r, const char *name) {
  for (size_t i = 0; i < r->n_headers; i++)
    if (!strcmp(r->hdr.p + r->off[i][0], name))
      return r->hdr.p + r->off[i][1];
  return NULL;
}

static int on_headers_complete(http_parser *p) {
  conn *c = p->data;
  req *r = c->cur;
  if (end_header(c) < 0) return fail(c, 503);
  if (!r->hdr.p && sb_add(&r->hdr, "", 0) < 0) return fail(c, 503);
  if (!r->url.p && sb_add(&r->url, "", 0) < 0) return fail(c, 503);
  c->headers_done = 1;
  r->method = p->method;
  r->http10 = p->http_major == 1 && p->http_minor == 0;
  int has_body = (p->flags & F_CHUNKED) != 0;
  if (!(p->flags & F_CHUNKED) && p->content_length != ULLONG_MAX) {
    /* Refused before the body is read, so an Expect: 100-continue
     * client never sends it. */
    if (p->content_length > c->s->o.max_body_bytes) return fail(c, 413);
    if (p->content_length > 0) {
      has_body = 1;
      if (sb_reserve(&r->body, (size_t)p->content_length) < 0)
        return fail(c, 503);
    }
  }
  const char *expect = find_header(r, "expect");
  /* Only when nothing is ahead of it: a 100 must not land inside another
   * response. Otherwise the client just waits a little and sends. */
  if (expect && has_body && !r->http10 && !c->active && !c->qhead &&
      !strcasecmp(expect, "100-continue")) {
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    send_bytes(c, cont, sizeof cont - 1, NULL, 0);
  }
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t n) {
  conn *c = p->data;
  req *r = c->cur;
  if (n > c->s->o.max_body_bytes - r->body.len) return fail(c, 413);
  return sb_add(&r->body, at, n) < 0 ? fail(c, 503) : 0;
}

/* Splits the URL into the decoded path and the raw query. */
static int split_url(req *r) {
  struct http_parser_url u;
  http_parser_url_init(&u);
  if (r->url.len == 0 ||
      http_parser_parse_url(r->url.p, r->url.len, r->method == HTTP_CONNECT,
                            &u) != 0)
    return -1;
  const char *path = "/";
  size_t plen = 1;
  if (u.field_set & (1 << UF_PATH)) {
    path = r->url.p + u.field_data[UF_PATH].off;
    plen = u.field_data[UF_PATH].len;
  }
  const char *query = "";
  size_t qlen = 0;
  if (u.field_set & (1 << UF_QUERY)) {
    query = r->url.p + u.field_data[UF_QUERY].off;
    qlen = u.field_data[UF_QUERY].len;
  }
  r->path = pct_decode(path, plen);
  r->query = strndup(query, qlen);
  return r->path && r->query ? 0 : -1;
}

static int on_message_complete(http_parser *p) {
  conn *c = p->data;
  req *r = c->cur;
  if (end_header(c) < 0) return fail(c, 503);   /* chunked trailers */
  c->cur = NULL;
  c->nparsed++;
  r->keep_alive = http_should_keep_alive(p);
  if (split_url(r) < 0) r->error = 400;
  enqueue(c, r);
  if (!r->keep_alive || r->error) {
    /* The last request this connection carries. */
    c->parse_done = 1;
    http_parser_pause(p, 1);
  }
  return 0;
}

static const http_parser_settings settings = {
  .on_message_begin = on_message_begin,
  .on_url = on_url,
  .on_header_field = on_header_field,
  .on_header_value = on_header_value,
  .on_headers_complete = on_headers_complete,
  .on_body = on_body,
  .on_message_complete = on_message_complete,
};

/* Queues the answer to a request the parser refused; nothing after it is
 * parsed. */
static void parse_failed(conn *c, enum http_errno e) {
  int status = 400;
  if (e == HPE_HEADER_OVERFLOW) status = 431;
  else if (e >= HPE_CB_message_begin && e <= HPE_CB_chunk_complete &&
           c->err_status)
    status = c->err_status;
  req_free(c->cur);
  c->cur = NULL;
  c->parse_done = 1;
  req *r = calloc(1, sizeof *r);
  if (!r) {
    conn_abort(c);
    return;
  }
  r->error = status;
  enqueue(c, r);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  conn *c = h->data;
  (void)hint;
  buf->base = c->s->rbuf;
  buf->len = sizeof c->s->rbuf;
}

static void on_read(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf) {
  conn *c = h->data;
  if (nread == 0 || c->closing) return;
  if (nread < 0) {
    conn_abort(c);   /* EOF or error: the client is gone */
    return;
  }
  if (c->upgraded) {
    http_exchange *x = c->active;
    if (x && x->upgraded && x->on_data)
      x->on_data(x->close_ud, buf->base, (size_t)nread);
    return;   /* after http_upgraded_close: discarded */
  }
  if (c->want_upgrade && !c->shutting) {
    /* Sent before the 101 (the handler may answer later): kept. */
    if (c->early.len + (size_t)nread > READ_BUF * 16 ||
        sb_add(&c->early, buf->base, (size_t)nread) < 0)
      conn_abort(c);
    return;
  }
  if (c->parse_done) return;
  size_t n = http_parser_execute(&c->parser, &settings, buf->base,
                                 (size_t)nread);
  if (c->closing) return;   /* a 100 Continue failed to send */
  enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
  if (e == HPE_PAUSED) {
    /* on_message_complete saw the last request. */
  } else if (e != HPE_OK) {
    parse_failed(c, e);
  } else if (c->parser.upgrade) {
    /* What follows is another protocol: the handler may switch to it
     * (http_upgrade; the bytes already read are kept for it), or answer
     * the request, and then the connection closes. */
    c->parse_done = 1;
    c->want_upgrade = 1;
    if (c->qtail) {
      c->qtail->keep_alive = 0;
      c->qtail->upgrade = 1;
    }
    if (n < (size_t)nread && sb_add(&c->early, buf->base + n,
                                    (size_t)nread - n) < 0) {
      conn_abort(c);
      return;
    }
  } else if (n != (size_t)nread) {
    parse_failed(c, HPE_UNKNOWN);
  }
  pump(c);
  update_reading(c);
}

/* Reading pauses while too many parsed requests wait (a pipelining
 * client cannot make us buffer without bound), but goes on otherwise so a
 * departing client is noticed at once. */
static void update_reading(conn *c) {
  if (c->closing) return;
  int want = c->shutting || c->parse_done || c->qlen < MAX_QUEUED;
  if (want && !c->reading) {
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
      c->reading = 1;
    else
      conn_abort(c);
  } else if (!want && c->reading) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
  }
  if (!c->closing) arm_deadline(c);
}

/* ---- timeouts ---- */

/* A request that did not arrive in time: 408 if nothing is ahead of it
 * (a response must not land inside another), else the connection just
 * closes; a connection that never sent a byte is closed silently, as
 * nginx and Go do. */
static void on_deadline(uv_timer_t *t) {
  conn *c = t->data;
  if (c->closing || c->shutting) return;
  int phase = c->phase;
  c->phase = PH_NONE;
  if (phase == PH_IDLE || !c->cur || c->active || c->qhead) {
    conn_abort(c);
    return;
  }
  req_free(c->cur);
  c->cur = NULL;
  c->parse_done = 1;
  send_error(c, 408);
}

/* Starts, keeps or stops the deadline timer for what the connection is
 * doing now. A phase's clock starts when the phase does and is not reset
 * by progress within it (trickled bytes buy nothing). A new connection
 * is in PH_HEADERS from its accept. */
static void arm_deadline(conn *c) {
  if (c->closing) return;
  int phase;
  if (c->shutting || c->upgraded || c->want_upgrade) phase = PH_NONE;
  else if (c->cur) phase = c->headers_done ? PH_BODY : PH_HEADERS;
  else if (c->active || c->qhead || c->parse_done) phase = PH_NONE;
  else phase = c->nparsed == 0 ? PH_HEADERS : PH_IDLE;
  if (phase == c->phase) return;
  c->phase = phase;
  const http_server_opts *o = &c->s->o;
  uint64_t ms = phase == PH_HEADERS ? o->header_timeout_ms
              : phase == PH_BODY    ? o->body_timeout_ms
              : o->idle_timeout_ms;
  if (phase == PH_NONE) uv_timer_stop(&c->deadline);
  else uv_timer_start(&c->deadline, on_deadline, ms, 0);
}

/* ---- accepting ---- */

static void format_peer(conn *c) {
  struct sockaddr_storage ss;
  int len = sizeof ss;
  char ip[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  snprintf(c->peer, sizeof c->peer, "?");
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0) return;
  if (ss.ss_family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    uv_ip4_name(a, ip, sizeof ip);
    port = ntohs(a->sin_port);
    snprintf(c->peer, sizeof c->peer, "%s:%d", ip, port);
  } else if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    uv_ip6_name(a, ip, sizeof ip);
    port = ntohs(a->sin6_port);
    snprintf(c->peer, sizeof c->peer, "[%s]:%d", ip, port);
  }
}

/* A connection over max_connections: accepted, told 503 in one
 * non-blocking write (no read: nothing is parsed), closed. */
typedef struct {
  uv_tcp_t tcp;
  http_server *s;
} refused;

static void on_refused_closed(uv_handle_t *h) {
  refused *f = h->data;
  http_server *s = f->s;
  free(f);
  server_release(s);
}

static void refuse(http_server *s, uv_stream_t *l) {
  refused *f = malloc(sizeof *f);
  if (!f) return;   /* stays in the backlog; retried on the next one */
  f->s = s;
  uv_tcp_init(s->loop, &f->tcp);
  f->tcp.data = f;
  s->nopen++;
  if (uv_accept(l, (uv_stream_t *)&f->tcp) == 0) {
    static const char busy[] =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
      "Content-Length: 20\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
      "too many connections";
    uv_buf_t b = uv_buf_init((char *)busy, sizeof busy - 1);
    uv_try_write((uv_stream_t *)&f->tcp, &b, 1);   /* best effort */
  }
  uv_close((uv_handle_t *)&f->tcp, on_refused_closed);
}

static void on_connection(uv_stream_t *l, int status) {
  http_server *s = l->data;
  if (status < 0 || s->stopping) return;
  if (s->nconns >= s->o.max_connections) {
    refuse(s, l);
    return;
  }
  conn *c = calloc(1, sizeof *c);
  if (!c) return;   /* stays in the backlog; retried on the next one */
  c->s = s;
  uv_tcp_init(s->loop, &c->tcp);
  uv_timer_init(s->loop, &c->timer);
  uv_timer_init(s->loop, &c->deadline);
  c->tcp.data = c->timer.data = c->deadline.data = c;
  c->nopen = 3;
  c->next = s->conns;
  if (s->conns) s->conns->prev = c;
  s->conns = c;
  s->nopen++;
  s->nconns++;
  if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
    conn_abort(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);   /* watch events are small writes */
  format_peer(c);
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  update_reading(c);
}

/* The listening socket is made by hand so every failure comes before any
 * libuv handle exists: a failed start leaves nothing to close. */
static int open_listener(const char *host, int port, int *bound, char *err,
                         size_t errlen) {
  struct addrinfo hints, *res = NULL;
  char ps[16];
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  snprintf(ps, sizeof ps, "%d", port);
  const char *h = host && *host ? host : NULL;
  int rc = getaddrinfo(h, ps, &hints, &res);
  if (rc != 0) {
    snprintf(err, errlen, "%s: %s", h ? h : "*", gai_strerror(rc));
    return -1;
  }
  int fd = -1, e = 0;
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                ai->ai_protocol);
    if (fd < 0) {
      e = errno;
      continue;
    }
    int one = 1;   /* a restart must not trip over TIME_WAIT */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
        listen(fd, BACKLOG) == 0)
      break;
    e = errno;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) {
    snprintf(err, errlen, "listen on %s:%d: %s", h ? h : "*", port,
             strerror(e));
    return -1;
  }
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  *bound = port;
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
    if (ss.ss_family == AF_INET)
      *bound = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    else if (ss.ss_family == AF_INET6)
      *bound = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  }
  return fd;
}

static void on_listener_closed(uv_handle_t *h) { server_release(h->data); }

/* ---- public API ---- */

http_server *http_server_start(uv_loop_t *loop, const char *host, int port,
                               const http_server_opts *opts,
                               http_handler handler, void *ud, char *errmsg,
                               size_t errlen) {
  char dummy[1];
  if (!errmsg || errlen == 0) {
    errmsg = dummy;
    errlen = sizeof dummy;
  }
  errmsg[0] = '\0';
  if (!loop || !handler || port < 0 || port > 65535) {
    snprintf(errmsg, errlen, "http_server_start: bad arguments");
    return NULL;
  }
  http_server *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(errmsg, errlen, "out of memory");
    return NULL;
  }
  int fd = open_listener(host, port, &s->port, errmsg, errlen);
  if (fd < 0) {
    free(s);
    return NULL;
  }
  s->loop = loop;
  s->handler = handler;
  s->ud = ud;
  if (opts) s->o = *opts;
  if (!s->o.header_timeout_ms) s->o.header_timeout_ms = DEFAULT_HEADER_TIMEOUT_MS;
  if (!s->o.body_timeout_ms) s->o.body_timeout_ms = DEFAULT_BODY_TIMEOUT_MS;
  if (!s->o.idle_timeout_ms) s->o.idle_timeout_ms = DEFAULT_IDLE_TIMEOUT_MS;
  if (!s->o.max_header_bytes || s->o.max_header_bytes > DEFAULT_MAX_HEADER)
    s->o.max_header_bytes = DEFAULT_MAX_HEADER;
  if (!s->o.max_body_bytes) s->o.max_body_bytes = DEFAULT_MAX_BODY;
  if (!s->o.max_connections) s->o.max_connections = DEFAULT_MAX_CONNECTIONS;
  s->nopen = 1;
  uv_tcp_init(loop, &s->listener);
  s->listener.data = s;
  int rc = uv_tcp_open(&s->listener, fd);
  if (rc != 0) close(fd);   /* else the handle owns it */
  else rc = uv_listen((uv_stream_t *)&s->listener, BACKLOG, on_connection);
  if (rc != 0) {
    /* Not expected on a socket already listening. The handle is freed
     * from its close callback once the loop runs. */
    snprintf(errmsg, errlen, "listen: %s", uv_strerror(rc));
    s->stopping = 1;
    uv_close((uv_handle_t *)&s->listener, on_listener_closed);
    return NULL;
  }
  return s;
}

int http_server_port(http_server *s) { return s ? s->port : -1; }

size_t http_server_connections(http_server *s) { return s ? s->nconns : 0; }

void http_server_unlisten(http_server *s) {
  if (!s || s->stopping || s->unlistened) return;
  s->unlistened = 1;
  s->nopen++;   /* s stays until http_server_stop, whatever closes first */
  uv_close((uv_handle_t *)&s->listener, on_listener_closed);
}

void http_server_stop(http_server *s) {
  if (!s || s->stopping) return;
  s->stopping = 1;
  if (s->unlistened) server_release(s);
  else uv_close((uv_handle_t *)&s->listener, on_listener_closed);
  /* Connections stay listed until their close callbacks. */
  for (conn *c = s->conns; c; c = c->next) conn_abort(c);
}

/* The exchange's connection, or NULL if it has died. */
static conn *live(http_exchange *x) {
  return x->c && !x->c->closing ? x->c : NULL;
}

void http_respond(http_exchange *x, int status, const char *const *names,
                  const char *const *values, size_t n, const char *body,
                  size_t body_len) {
  if (!x || x->notifying || x->upgraded) return;
  if (x->streaming) {
    http_stream_end(x);   /* misuse: finish what was started */
    return;
  }
  conn *c = live(x);
  if (!c) {
    finish(x, 1);
    return;
  }
  if (status < 100 || status > 999) status = 500;
  int close = !x->keep_alive;
  sbuf h = {0};
  put_head(&h, status, names, values, n, &close);
  if (!bodiless(status)) {
    char cl[48];
    snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", body_len);
    sb_str(&h, cl);
  }
  put_connection(&h, x, close);
  sb_add(&h, "\r\n", 2);
  if (h.err) {
    conn_abort(c);
  } else {
    int send_body = !x->head && !bodiless(status) && body_len > 0;
    send_bytes(c, h.p, h.len, body, send_body ? body_len : 0);
  }
  free(h.p);
  finish(x, close);
}

void http_stream_start(http_exchange *x, int status,
                       const char *const *names, const char *const *values,
                       size_t n) {
  if (!x || x->notifying || x->streaming || x->upgraded) return;
  x->streaming = 1;
  conn *c = live(x);
  if (!c) return;
  if (status < 100 || status > 999) status = 500;
  int close = !x->keep_alive;
  sbuf h = {0};
  put_head(&h, status, names, values, n, &close);
  x->nobody = x->head || bodiless(status);
  if (x->http10) {
    close = 1;   /* no chunks in 1.0: the end of the body is the close */
  } else if (!bodiless(status)) {
    x->chunked = 1;
    sb_str(&h, "Transfer-Encoding: chunked\r\n");
  }
  x->close_after = close;
  put_connection(&h, x, close);
  sb_add(&h, "\r\n", 2);
  if (!h.err) send_bytes(c, h.p, h.len, NULL, 0);
  else conn_abort(c);
  free(h.p);
}

int http_stream_write(http_exchange *x, const char *data, size_t len) {
  if (!x || x->notifying || x->upgraded) return -1;
  if (!x->streaming) http_stream_start(x, 200, NULL, NULL, 0);
  conn *c = live(x);
  if (!c) return -1;
  if (len == 0 || x->nobody) return 0;   /* a 0 chunk would end it */
  if (c->wbytes > STREAM_CAP) {
    conn_abort(c);   /* not reading for this long: treat as gone */
    return -1;
  }
  if (!x->chunked) return send_bytes(c, data, len, NULL, 0);
  wreq *w = wreq_new(len + 24);
  if (w) {
    int k = snprintf(w->data, 24, "%zx\r\n", len);
    memcpy(w->data + k, data, len);
    memcpy(w->data + k + len, "\r\n", 2);
    w->len = (size_t)k + len + 2;
  }
  return conn_send(c, w);
}

void http_stream_end(http_exchange *x) {
  if (!x || x->notifying || x->upgraded) return;
  if (!x->streaming) http_stream_start(x, 200, NULL, NULL, 0);
  conn *c = live(x);
  if (c && x->chunked && !x->nobody) send_bytes(c, "0\r\n\r\n", 5, NULL, 0);
  finish(x, x->close_after);
}

void http_exchange_on_close(http_exchange *x, void (*fn)(void *ud),
                            void *ud) {
  if (!x || x->notifying || x->upgraded) return;
  x->on_close = fn;
  x->close_ud = ud;
  if (!x->c && fn) notify_close(x);   /* already closed: at once */
}

/* ---- upgraded connections ---- */

/* Hands the bytes that arrived with the upgrade request to on_data, from
 * the loop (never from inside http_upgrade). */
static void on_early(uv_timer_t *t) {
  conn *c = t->data;
  http_exchange *x = c->active;
  if (c->closing || !x || !x->upgraded || !c->early.len) return;
  sbuf e = c->early;
  memset(&c->early, 0, sizeof c->early);
  if (x->on_data) x->on_data(x->close_ud, e.p, e.len);
  free(e.p);
}

int http_upgrade(http_exchange *x, const char *const *names,
                 const char *const *values, size_t n,
                 void (*on_data)(void *ud, const char *data, size_t len),
                 void (*on_close)(void *ud), void *ud) {
  if (!x || x->notifying || x->streaming || x->upgraded || !x->can_upgrade)
    return -1;
  conn *c = live(x);
  if (!c) return -1;
  int close = 0;
  sbuf h = {0};
  put_head(&h, 101, names, values, n, &close);
  sb_str(&h, "Connection: Upgrade\r\n\r\n");
  if (h.err) {
    free(h.p);
    conn_abort(c);
    return -1;
  }
  int rc = send_bytes(c, h.p, h.len, NULL, 0);
  free(h.p);
  if (rc < 0) return -1;   /* on_close is not registered: x is finished */
  x->upgraded = 1;
  c->upgraded = 1;
  x->on_data = on_data;
  x->on_close = on_close;
  x->close_ud = ud;
  if (c->early.len) uv_timer_start(&c->timer, on_early, 0, 0);
  update_reading(c);
  return 0;
}

int http_upgraded_write(http_exchange *x, const char *data, size_t len) {
  if (!x || x->notifying || !x->upgraded) return -1;
  conn *c = live(x);
  if (!c) return -1;
  if (len == 0) return 0;
  if (c->wbytes > STREAM_CAP) {
    conn_abort(c);   /* not reading for this long: treat as gone */
    return -1;
  }
  return send_bytes(c, data, len, NULL, 0);
}

void http_upgraded_close(http_exchange *x) {
  if (!x || x->notifying || !x->upgraded) return;
  finish(x, 1);
}
