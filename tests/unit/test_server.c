/* Unit tests for core/io/server.c. Each test starts the server on
 * 127.0.0.1 with an ephemeral port and runs the loop in the test thread,
 * while a client thread drives it with libcurl or raw sockets (for exact
 * framing, pipelining and misbehaving clients). Client-side checks are
 * recorded and asserted once the loop has ended; every test ends with
 * http_server_stop and checks that the loop closes cleanly. Covers
 * request parsing (query, percent-decoded path, lower-cased headers,
 * binary bodies), keep-alive and pipelining, deferred answers, chunked
 * streams and their framing, clients leaving mid-stream (with and without
 * on_close), limits (413, 431, 400; header, body and idle timeouts, the
 * connection cap, a slow-loris crowd), HEAD, HTTP/1.0, 100-continue and
 * stopping with connections and streams open; protocol upgrades (101,
 * early bytes, raw echo, server close, client gone, refused, open at
 * stop). */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "io/server.h"

/* ---- what the server side saw ---- */

#define MAX_SEEN 16

typedef struct {
  char method[16], url[512], path[512], query[512], peer[64];
  char hn[32][64], hv[32][256];
  size_t nh;
  char *body;
  size_t body_len;
  int body_nul;        /* body[body_len] == '\0' */
} seen_t;

static struct {
  uv_loop_t loop;
  http_server *srv;
  int port;
  uv_async_t async;
  pthread_t th;
  void (*client)(void);
  int signalled;       /* client thread: done already sent */
  int client_done, stopped;
  int want_closes, want_fails;  /* stop only once these have happened */
  int closes;          /* on_close calls */
  int fails;           /* http_stream_write that returned -1 */
  int write_in_close;  /* http_stream_write from inside on_close */
  int stop_write;      /* http_stream_write right after http_server_stop */
  int orphan_answered;
  int answered;        /* exchanges answered so far */
  int dispatched;      /* read by the client thread: atomics */
  http_exchange *open_stream;
  long upgraded_bytes; /* on_data bytes; negated once closed cleanly */
  seen_t seen[MAX_SEEN];
  int nseen;
} T;

/* Client-side failures, asserted in the test thread after the join. */
static struct {
  int failed;
  char msg[512];
} R;

#define CHECK(cond, ...)                                              \
  do {                                                                \
    if (!(cond)) {                                                    \
      fail_at(__LINE__, __VA_ARGS__);                                 \
      return;                                                         \
    }                                                                 \
  } while (0)

static void fail_at(int line, const char *fmt, ...) {
  if (R.failed) return;
  R.failed = 1;
  int k = snprintf(R.msg, sizeof R.msg, "line %d: ", line);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(R.msg + k, sizeof R.msg - (size_t)k, fmt, ap);
  va_end(ap);
}

static void record(const http_request *r) {
  if (T.nseen == MAX_SEEN) return;
  seen_t *s = &T.seen[T.nseen++];
  snprintf(s->method, sizeof s->method, "%s", r->method);
  snprintf(s->url, sizeof s->url, "%s", r->url);
  snprintf(s->path, sizeof s->path, "%s", r->path);
  snprintf(s->query, sizeof s->query, "%s", r->query);
  snprintf(s->peer, sizeof s->peer, "%s", r->peer);
  for (size_t i = 0; i < r->n_headers && i < 32; i++) {
    snprintf(s->hn[i], sizeof s->hn[i], "%s", r->header_names[i]);
    snprintf(s->hv[i], sizeof s->hv[i], "%s", r->header_values[i]);
    s->nh = i + 1;
  }
  s->body = malloc(r->body_len + 1);
  memcpy(s->body, r->body, r->body_len);
  s->body_len = r->body_len;
  s->body_nul = r->body[r->body_len] == '\0';
}

static const char *seen_header(const seen_t *s, const char *name) {
  for (size_t i = 0; i < s->nh; i++)
    if (!strcmp(s->hn[i], name)) return s->hv[i];
  return NULL;
}

/* ---- the handler ---- */

static void maybe_stop(void);

enum { K_DEFER, K_DEFER_LONG, K_ORPHAN, K_STREAM, K_FOREVER, K_NOCLOSE,
       K_HANG };

typedef struct {
  uv_timer_t t;
  http_exchange *x;
  int kind, n;
} job;

static void job_freed(uv_handle_t *h) { free(h->data); }

static void job_done(job *j) {
  if (T.open_stream == j->x) T.open_stream = NULL;
  uv_close((uv_handle_t *)&j->t, job_freed);
}

static void job_on_close(void *ud) {
  job *j = ud;
  T.closes++;
  /* Still valid inside on_close: writes fail, the rest do nothing. */
  T.write_in_close = http_stream_write(j->x, "late", 4);
  http_stream_end(j->x);
  job_done(j);
  maybe_stop();
}

static void on_job_timer(uv_timer_t *t) {
  job *j = t->data;
  char b[32];
  switch (j->kind) {
  case K_DEFER:
  case K_DEFER_LONG:
    T.answered++;
    http_respond(j->x, 200, NULL, NULL, 0, "deferred", 8);
    job_done(j);
    break;
  case K_ORPHAN:
    /* The client left long ago and no on_close was set: a no-op that
     * frees the exchange (the server may be gone by now). */
    http_respond(j->x, 200, NULL, NULL, 0, "late", 4);
    T.orphan_answered = 1;
    job_done(j);
    break;
  case K_STREAM:
    if (j->n < 5) {
      int k = snprintf(b, sizeof b, "chunk-%d\n", j->n++);
      http_stream_write(j->x, b, (size_t)k);
    } else {
      T.answered++;
      http_stream_end(j->x);
      uv_timer_stop(t);
      job_done(j);
    }
    break;
  case K_FOREVER:
  case K_NOCLOSE: {
    int k = snprintf(b, sizeof b, "event-%d\n", j->n++);
    if (http_stream_write(j->x, b, (size_t)k) < 0) {
      T.fails++;
      http_stream_end(j->x);   /* frees the dead exchange */
      uv_timer_stop(t);
      job_done(j);
      maybe_stop();
    }
    break;
  }
  default:
    break;
  }
}

static job *start_job(http_exchange *x, int kind, uint64_t ms,
                      uint64_t repeat) {
  job *j = calloc(1, sizeof *j);
  j->x = x;
  j->kind = kind;
  uv_timer_init(&T.loop, &j->t);
  j->t.data = j;
  if (kind != K_HANG) uv_timer_start(&j->t, on_job_timer, ms, repeat);
  return j;
}

static void start_stream(http_exchange *x) {
  const char *n[] = {"Content-Type"};
  const char *v[] = {"application/json"};
  http_stream_start(x, 200, n, v, 1);
}

#define BLOB_LEN (256 * 1024)
#define BIG_CHUNKS 200
#define BIG_CHUNK 65536

static void big_fill(char *b, int i) {
  for (int k = 0; k < BIG_CHUNK; k++) b[k] = (char)((i * 7 + k) % 251);
}

static void ws_echo(http_exchange *x);

static void handler(void *ud, http_exchange *x, const http_request *r) {
  (void)ud;
  const char *p = r->path;
  record(r);
  __atomic_add_fetch(&T.dispatched, 1, __ATOMIC_SEQ_CST);
  if (!strcmp(p, "/ws-echo")) {
    ws_echo(x);
  } else if (!strncmp(p, "/echo", 5)) {
    char ans[16];
    snprintf(ans, sizeof ans, "%d", T.answered++);
    const char *n[] = {"Content-Type", "X-Method", "X-Answered",
                       "Bad\r\nName", "X-Bad", "Content-Length"};
    const char *v[] = {"application/octet-stream", r->method, ans, "v",
                       "a\r\nInjected: yes", "999"};
    http_respond(x, 200, n, v, 6, r->body, r->body_len);
  } else if (!strcmp(p, "/text")) {
    T.answered++;
    http_respond(x, 200, NULL, NULL, 0, "hello world", 11);
  } else if (!strcmp(p, "/unlisten")) {
    T.answered++;
    http_server_unlisten(T.srv);
    http_respond(x, 200, NULL, NULL, 0, "unlistened", 10);
  } else if (!strncmp(p, "/status/", 8)) {
    T.answered++;
    http_respond(x, atoi(p + 8), NULL, NULL, 0, "st", 2);
  } else if (!strcmp(p, "/blob")) {
    char *b = malloc(BLOB_LEN);
    for (int k = 0; k < BLOB_LEN; k++) b[k] = (char)(k % 249);
    T.answered++;
    http_respond(x, 200, NULL, NULL, 0, b, BLOB_LEN);
    free(b);
  } else if (!strcmp(p, "/close")) {
    const char *n[] = {"Connection"};
    const char *v[] = {"close"};
    T.answered++;
    http_respond(x, 200, n, v, 1, "bye", 3);
  } else if (!strcmp(p, "/defer")) {
    start_job(x, K_DEFER, 50, 0);
  } else if (!strcmp(p, "/defer-long")) {
    job *j = start_job(x, K_DEFER_LONG, 5000, 0);
    http_exchange_on_close(x, job_on_close, j);
  } else if (!strcmp(p, "/orphan")) {
    start_job(x, K_ORPHAN, 300, 0);
  } else if (!strcmp(p, "/stream")) {
    start_stream(x);
    job *j = start_job(x, K_STREAM, 5, 5);
    http_exchange_on_close(x, job_on_close, j);
  } else if (!strcmp(p, "/big")) {
    char *b = malloc(BIG_CHUNK);
    http_stream_start(x, 200, NULL, NULL, 0);
    for (int i = 0; i < BIG_CHUNKS; i++) {
      big_fill(b, i);
      http_stream_write(x, b, BIG_CHUNK);
    }
    free(b);
    T.answered++;
    http_stream_end(x);
  } else if (!strcmp(p, "/forever") || !strcmp(p, "/forever-noclose")) {
    int on_close = !strcmp(p, "/forever");
    start_stream(x);
    http_stream_write(x, "event-first\n", 12);
    job *j = start_job(x, on_close ? K_FOREVER : K_NOCLOSE, 5, 5);
    if (on_close) http_exchange_on_close(x, job_on_close, j);
    T.open_stream = x;
  } else if (!strcmp(p, "/hang")) {
    job *j = start_job(x, K_HANG, 0, 0);
    http_exchange_on_close(x, job_on_close, j);
  } else if (!strcmp(p, "/stop")) {
    /* Stopping from inside the handler, then answering: a no-op. */
    T.stopped = 1;
    http_server_stop(T.srv);
    http_respond(x, 200, NULL, NULL, 0, "never", 5);
  } else {
    T.answered++;
    http_respond(x, 404, NULL, NULL, 0, "not found", 9);
  }
}

/* ---- the fixture ---- */

static void maybe_stop(void) {
  if (T.stopped || !T.client_done || T.closes < T.want_closes ||
      T.fails < T.want_fails)
    return;
  T.stopped = 1;
  http_server_stop(T.srv);
  /* The exchange is dead but valid until its on_close. */
  if (T.open_stream) T.stop_write = http_stream_write(T.open_stream, "x", 1);
}

static void on_client_done(uv_async_t *a) {
  T.client_done = 1;
  uv_close((uv_handle_t *)a, NULL);
  maybe_stop();
}

static void signal_done(void) {
  if (T.signalled) return;
  T.signalled = 1;
  uv_async_send(&T.async);
}

static void *client_main(void *arg) {
  (void)arg;
  T.client();
  signal_done();
  return NULL;
}

static void run_opts(void (*client)(void), const http_server_opts *o) {
  char err[256];
  cr_assert_eq(uv_loop_init(&T.loop), 0);
  T.srv = http_server_start(&T.loop, "127.0.0.1", 0, o, handler, NULL,
                            err, sizeof err);
  cr_assert_not_null(T.srv, "%s", err);
  T.port = http_server_port(T.srv);
  cr_assert_gt(T.port, 0);
  uv_async_init(&T.loop, &T.async, on_client_done);
  T.client = client;
  cr_assert_eq(pthread_create(&T.th, NULL, client_main, NULL), 0);
  uv_run(&T.loop, UV_RUN_DEFAULT);
  pthread_join(T.th, NULL);
  cr_assert_eq(uv_loop_close(&T.loop), 0);
  cr_assert(!R.failed, "%s", R.msg);
}

static void run(void (*client)(void), size_t max_body) {
  http_server_opts o;
  memset(&o, 0, sizeof o);
  o.max_body_bytes = max_body;
  run_opts(client, &o);
}

static void setup(void) {
  signal(SIGPIPE, SIG_IGN);
  curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void teardown(void) {
  for (int i = 0; i < T.nseen; i++) free(T.seen[i].body);
  curl_global_cleanup();
}

TestSuite(server, .init = setup, .fini = teardown, .timeout = 60);

/* ---- raw socket client ---- */

typedef struct {
  int fd;
  size_t len;
  char buf[1 << 16];
} rconn;

typedef struct {
  int status;
  char line[128];      /* the status line */
  char head[8192];     /* the header lines */
  char *body;          /* decoded */
  size_t body_len;
  char *raw;           /* the body as sent (chunk framing included) */
  size_t raw_len;
} resp;

static void resp_free(resp *r) {
  free(r->body);
  free(r->raw);
  memset(r, 0, sizeof *r);
}

static rconn *rc_open(void) {
  rconn *c = calloc(1, sizeof *c);
  struct sockaddr_in a;
  struct timeval tv = {5, 0};
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)T.port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(c->fd);
    c->fd = -1;
  }
  return c;
}

static void rc_close(rconn *c) {
  if (c->fd >= 0) close(c->fd);
  free(c);
}

static int rc_send(rconn *c, const char *s, size_t n) {
  while (n > 0) {
    ssize_t k = send(c->fd, s, n, MSG_NOSIGNAL);
    if (k <= 0) return -1;
    s += k;
    n -= (size_t)k;
  }
  return 0;
}

static int rc_sends(rconn *c, const char *s) {
  return rc_send(c, s, strlen(s));
}

/* More bytes into the buffer: >0 read, 0 EOF, -1 error or timeout. */
static int rc_fill(rconn *c) {
  if (c->len == sizeof c->buf) return -1;
  ssize_t k = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
  if (k > 0) c->len += (size_t)k;
  return k < 0 ? -1 : (int)k;
}

static void rc_consume(rconn *c, size_t n) {
  memmove(c->buf, c->buf + n, c->len - n);
  c->len -= n;
}

/* Copies n bytes out of the stream (appending to *out). */
static int rc_take(rconn *c, size_t n, char **out, size_t *olen) {
  *out = realloc(*out, *olen + n + 1);
  while (n > 0) {
    if (c->len == 0 && rc_fill(c) <= 0) return -1;
    size_t k = c->len < n ? c->len : n;
    memcpy(*out + *olen, c->buf, k);
    *olen += k;
    (*out)[*olen] = '\0';
    rc_consume(c, k);
    n -= k;
  }
  (*out)[*olen] = '\0';
  return 0;
}

/* One line (without CRLF) into out; -1 on EOF or error. */
static int rc_line(rconn *c, char *out, size_t cap, char **raw,
                   size_t *rlen) {
  char *e;
  while (!(e = memmem(c->buf, c->len, "\r\n", 2)))
    if (rc_fill(c) <= 0) return -1;
  size_t n = (size_t)(e - c->buf);
  snprintf(out, cap, "%.*s", (int)n, c->buf);
  if (raw) {
    *raw = realloc(*raw, *rlen + n + 3);
    memcpy(*raw + *rlen, c->buf, n + 2);
    *rlen += n + 2;
    (*raw)[*rlen] = '\0';
  }
  rc_consume(c, n + 2);
  return 0;
}

/* Value of a response header, or NULL. */
static const char *resp_header(const resp *r, const char *name) {
  static __thread char v[256];
  size_t nl = strlen(name);
  for (const char *l = r->head; *l;) {
    const char *e = strstr(l, "\r\n");
    if (!e) break;
    if (!strncasecmp(l, name, nl) && l[nl] == ':') {
      const char *s = l + nl + 1;
      while (*s == ' ') s++;
      snprintf(v, sizeof v, "%.*s", (int)(e - s), s);
      return v;
    }
    l = e + 2;
  }
  return NULL;
}

/* Does the response have header name with exactly this value? */
static int hdr_is(const resp *r, const char *name, const char *value) {
  const char *v = resp_header(r, name);
  return v && !strcmp(v, value);
}

/* Reads one response. head_only: the request was a HEAD. */
static int rc_resp(rconn *c, int head_only, resp *r) {
  char line[8192];
  memset(r, 0, sizeof *r);
  if (rc_line(c, r->line, sizeof r->line, NULL, NULL) < 0) return -1;
  if (sscanf(r->line, "HTTP/1.1 %d", &r->status) != 1) return -1;
  size_t hl = 0;
  for (;;) {
    if (rc_line(c, line, sizeof line, NULL, NULL) < 0) return -1;
    if (!line[0]) break;
    hl += (size_t)snprintf(r->head + hl, sizeof r->head - hl, "%s\r\n",
                           line);
  }
  r->body = calloc(1, 1);
  r->raw = calloc(1, 1);
  if (head_only || r->status < 200 || r->status == 204 || r->status == 304)
    return 0;
  const char *cl = resp_header(r, "Content-Length");
  const char *te = resp_header(r, "Transfer-Encoding");
  if (te && !strcasecmp(te, "chunked")) {
    for (;;) {
      if (rc_line(c, line, sizeof line, &r->raw, &r->raw_len) < 0) return -1;
      size_t n = strtoul(line, NULL, 16);
      if (n == 0) break;
      size_t before = r->body_len;
      if (rc_take(c, n, &r->body, &r->body_len) < 0) return -1;
      r->raw = realloc(r->raw, r->raw_len + n + 1);
      memcpy(r->raw + r->raw_len, r->body + before, n);
      r->raw_len += n;
      r->raw[r->raw_len] = '\0';
      if (rc_line(c, line, sizeof line, &r->raw, &r->raw_len) < 0 || line[0])
        return -1;
    }
    if (rc_line(c, line, sizeof line, &r->raw, &r->raw_len) < 0 || line[0])
      return -1;   /* no trailers are sent */
    return 0;
  }
  if (cl) return rc_take(c, strtoul(cl, NULL, 10), &r->body, &r->body_len);
  while (rc_fill(c) > 0) {}   /* delimited by the close */
  return rc_take(c, c->len, &r->body, &r->body_len);
}

/* 1 if the server closes the connection with nothing more sent. */
static int rc_eof(rconn *c) {
  if (c->len) return 0;
  return rc_fill(c) == 0;
}

/* 1 if closed by a FIN or a reset (a connection still in the listen
 * backlog when the listener closes gets a reset). */
static int rc_gone(rconn *c) {
  if (c->len) return 0;
  int k = rc_fill(c);
  return k == 0 || (k < 0 && errno == ECONNRESET);
}

/* ---- curl client ---- */

typedef struct {
  long status;
  char *body;
  size_t len, cap;
  char head[8192];
  size_t hlen;
  long connects;
  CURLcode rc;
} cresp;

static size_t on_body_cb(char *p, size_t sz, size_t n, void *ud) {
  cresp *r = ud;
  /* Doubling, not one realloc per piece: under ASan every realloc copies,
   * and /big (13 MB in 16 KB pieces) took longer than curl's timeout. */
  if (r->len + sz * n + 1 > r->cap) {
    r->cap = (r->len + sz * n + 1) * 2;
    r->body = realloc(r->body, r->cap);
  }
  memcpy(r->body + r->len, p, sz * n);
  r->len += sz * n;
  r->body[r->len] = '\0';
  return sz * n;
}

static size_t on_head_cb(char *p, size_t sz, size_t n, void *ud) {
  cresp *r = ud;
  size_t k = sz * n;
  if (r->hlen + k < sizeof r->head) {
    memcpy(r->head + r->hlen, p, k);
    r->hlen += k;
    r->head[r->hlen] = '\0';
  }
  return k;
}

static void do_curl(CURL *h, const char *method, const char *path,
                    const char *body, size_t len, struct curl_slist *hdrs,
                    long timeout_ms, cresp *r) {
  char url[1024];
  memset(r, 0, sizeof *r);
  r->body = calloc(1, 1);
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", T.port, path);
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body_cb);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_head_cb);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms ? timeout_ms : 20000L);
  curl_easy_setopt(h, CURLOPT_NOBODY, 0L);
  curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
  if (!strcmp(method, "HEAD")) {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (body) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    if (strcmp(method, "POST")) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST,
                                                 method);
  }
  r->rc = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
  curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &r->connects);
}

static void cresp_free(cresp *r) { free(r->body); }

/* ---- tests: requests ---- */

static void c_get_query(void) {
  CURL *h = curl_easy_init();
  struct curl_slist *hd = curl_slist_append(NULL, "X-Custom-Thing:  Value ");
  cresp r;
  do_curl(h, "GET", "/echo/a%20b/c%2Fd?labelSelector=app%3Dweb&limit=5",
          NULL, 0, hd, 0, &r);
  curl_slist_free_all(hd);
  curl_easy_cleanup(h);
  CHECK(r.rc == CURLE_OK, "%s", curl_easy_strerror(r.rc));
  CHECK(r.status == 200, "status %ld", r.status);
  CHECK(strstr(r.head, "X-Method: GET\r\n"), "%s", r.head);
  CHECK(strstr(r.head, "Content-Length: 0\r\n"), "%s", r.head);
  /* Handler headers that would break the framing are dropped. */
  CHECK(!strstr(r.head, "Injected"), "%s", r.head);
  CHECK(!strstr(r.head, "999"), "%s", r.head);
  cresp_free(&r);
}

Test(server, get_query_path_headers) {
  run(c_get_query, 0);
  cr_assert_eq(T.nseen, 1);
  seen_t *s = &T.seen[0];
  cr_assert_str_eq(s->method, "GET");
  cr_assert_str_eq(s->url,
                   "/echo/a%20b/c%2Fd?labelSelector=app%3Dweb&limit=5");
  cr_assert_str_eq(s->path, "/echo/a b/c/d");
  cr_assert_str_eq(s->query, "labelSelector=app%3Dweb&limit=5");
  cr_assert(!strncmp(s->peer, "127.0.0.1:", 10), "%s", s->peer);
  cr_assert_str_eq(seen_header(s, "x-custom-thing"), "Value");
  cr_assert_not_null(seen_header(s, "host"));
  for (size_t i = 0; i < s->nh; i++)
    for (const char *p = s->hn[i]; *p; p++)
      cr_assert(*p < 'A' || *p > 'Z', "%s", s->hn[i]);
  cr_assert_eq(s->body_len, 0);
  cr_assert(s->body_nul);
}

#define BIN_LEN (300 * 1024 + 7)
#define BIG_POST ((size_t)3 << 20)

static void c_bodies(void) {
  CURL *h = curl_easy_init();
  char *bin = malloc(BIN_LEN);
  for (size_t i = 0; i < BIN_LEN; i++) bin[i] = (char)(i * 31 % 256);
  cresp r;
  do_curl(h, "POST", "/echo/post", bin, BIN_LEN, NULL, 0, &r);
  CHECK(r.rc == CURLE_OK && r.status == 200, "%ld", r.status);
  CHECK(r.len == BIN_LEN && !memcmp(r.body, bin, BIN_LEN), "len %zu", r.len);
  cresp_free(&r);
  do_curl(h, "PATCH", "/echo/patch", "{\"a\":\0\"b\"}", 10, NULL, 0, &r);
  CHECK(r.rc == CURLE_OK && r.status == 200, "%ld", r.status);
  CHECK(r.len == 10 && !memcmp(r.body, "{\"a\":\0\"b\"}", 10), "%zu", r.len);
  CHECK(strstr(r.head, "X-Method: PATCH\r\n"), "%s", r.head);
  cresp_free(&r);
  /* Over curl's Expect: 100-continue threshold; the 100 comes at once. */
  char *big = malloc(BIG_POST);
  for (size_t i = 0; i < BIG_POST; i++) big[i] = (char)(i % 253);
  do_curl(h, "PUT", "/echo/put", big, BIG_POST, NULL, 0, &r);
  CHECK(r.rc == CURLE_OK && r.status == 200, "%ld", r.status);
  CHECK(r.len == BIG_POST && !memcmp(r.body, big, BIG_POST), "%zu", r.len);
  cresp_free(&r);
  free(big);
  free(bin);
  curl_easy_cleanup(h);
}

static void c_chunked_upload(void) {
  rconn *c = rc_open();
  resp r;
  static const char req[] = "POST /echo/chunked HTTP/1.1\r\nHost: x\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n"
                            "3\r\nabc\r\n4\r\n\0de\n\r\n0\r\n"
                            "X-Trailer: t1  \r\n\r\n";
  CHECK(rc_send(c, req, sizeof req - 1) == 0, "send");
  CHECK(rc_resp(c, 0, &r) == 0 && r.status == 200, "%s", r.line);
  CHECK(r.body_len == 7 && !memcmp(r.body, "abc\0de\n", 7), "%zu",
        r.body_len);
  resp_free(&r);
  rc_close(c);
}

Test(server, chunked_upload) {
  run(c_chunked_upload, 0);
  cr_assert_eq(T.seen[0].body_len, 7);
  cr_assert_str_eq(seen_header(&T.seen[0], "x-trailer"), "t1");
}

Test(server, bodies_exact) {
  run(c_bodies, 0);
  cr_assert_eq(T.nseen, 3);
  cr_assert_str_eq(T.seen[0].method, "POST");
  cr_assert_eq(T.seen[0].body_len, BIN_LEN);
  cr_assert(T.seen[0].body_nul);
  for (size_t i = 0; i < BIN_LEN; i++)
    if (T.seen[0].body[i] != (char)(i * 31 % 256))
      cr_assert_fail("byte %zu", i);
  cr_assert_str_eq(T.seen[1].method, "PATCH");
  cr_assert_eq(T.seen[1].body_len, 10);
  cr_assert(!memcmp(T.seen[1].body, "{\"a\":\0\"b\"}", 10));
  cr_assert_str_eq(T.seen[2].method, "PUT");
  cr_assert_eq(T.seen[2].body_len, BIG_POST);
}

static void c_keepalive(void) {
  CURL *h = curl_easy_init();
  cresp r;
  do_curl(h, "GET", "/text", NULL, 0, NULL, 0, &r);
  CHECK(r.rc == CURLE_OK && r.status == 200, "%ld", r.status);
  CHECK(r.connects == 1, "connects %ld", r.connects);
  cresp_free(&r);
  do_curl(h, "GET", "/text", NULL, 0, NULL, 0, &r);
  CHECK(r.rc == CURLE_OK && r.status == 200, "%ld", r.status);
  CHECK(r.connects == 0, "second request opened a connection");
  CHECK(!strcmp(r.body, "hello world"), "%s", r.body);
  cresp_free(&r);
  curl_easy_cleanup(h);
}

Test(server, keepalive_reuse_curl) {
  run(c_keepalive, 0);
  cr_assert_eq(T.nseen, 2);
  cr_assert_str_eq(T.seen[0].peer, T.seen[1].peer);
}

static void c_pipelined(void) {
  rconn *c = rc_open();
  resp r;
  CHECK(c->fd >= 0, "connect");
  /* The second is parsed at once but dispatched only after the first (a
   * deferred answer) went out. */
  CHECK(rc_sends(c, "GET /defer HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /echo/second HTTP/1.1\r\nHost: x\r\n\r\n") == 0,
        "send");
  CHECK(rc_resp(c, 0, &r) == 0, "first response");
  CHECK(r.status == 200 && !strcmp(r.body, "deferred"), "%s", r.body);
  resp_free(&r);
  CHECK(rc_resp(c, 0, &r) == 0, "second response");
  CHECK(r.status == 200, "%d", r.status);
  const char *a = resp_header(&r, "X-Answered");
  CHECK(a && !strcmp(a, "1"), "answered before it: %s", a ? a : "?");
  resp_free(&r);
  /* Still open for more. */
  CHECK(rc_sends(c, "GET /text HTTP/1.1\r\nHost: x\r\n\r\n") == 0, "send");
  CHECK(rc_resp(c, 0, &r) == 0 && !strcmp(r.body, "hello world"), "third");
  resp_free(&r);
  rc_close(c);
}

Test(server, pipelined_in_order) { run(c_pipelined, 0); }

#define MANY 100

/* More pipelined requests than the server queues (reading pauses and
 * resumes), then more response bytes than it lets pile up before the
 * next dispatch (the client reads nothing for a while). */
static void c_pipelined_many(void) {
  rconn *c = rc_open();
  char *all = malloc(MANY * 64);
  size_t n = 0;
  resp r;
  for (int i = 0; i < MANY; i++)
    n += (size_t)sprintf(all + n, "GET /echo/%d HTTP/1.1\r\nHost: x\r\n\r\n",
                         i);
  int rc = rc_send(c, all, n);
  free(all);
  CHECK(rc == 0, "send");
  for (int i = 0; i < MANY; i++) {
    char want[16];
    snprintf(want, sizeof want, "%d", i);
    CHECK(rc_resp(c, 0, &r) == 0, "response %d", i);
    CHECK(hdr_is(&r, "X-Answered", want), "%d: %s", i, r.head);
    resp_free(&r);
  }
  for (int i = 0; i < 16; i++)
    CHECK(rc_sends(c, "GET /blob HTTP/1.1\r\nHost: x\r\n\r\n") == 0, "send");
  usleep(300000);
  for (int i = 0; i < 16; i++) {
    CHECK(rc_resp(c, 0, &r) == 0 && r.body_len == BLOB_LEN, "blob %d", i);
    for (int k = 0; k < BLOB_LEN; k++)
      if (r.body[k] != (char)(k % 249)) {
        resp_free(&r);
        CHECK(0, "blob %d byte %d", i, k);
      }
    resp_free(&r);
  }
  rc_close(c);
}

Test(server, pipelined_many_and_backlog) {
  run(c_pipelined_many, 0);
  cr_assert_eq(T.answered, MANY + 16);
}

static void c_deferred(void) {
  CURL *h = curl_easy_init();
  cresp r;
  do_curl(h, "GET", "/defer", NULL, 0, NULL, 0, &r);
  curl_easy_cleanup(h);
  CHECK(r.rc == CURLE_OK && r.status == 200, "%ld", r.status);
  CHECK(!strcmp(r.body, "deferred"), "%s", r.body);
  cresp_free(&r);
}

Test(server, deferred_answer) { run(c_deferred, 0); }

/* ---- tests: streams ---- */

static void c_stream_curl(void) {
  CURL *h = curl_easy_init();
  cresp r;
  do_curl(h, "GET", "/stream", NULL, 0, NULL, 0, &r);
  CHECK(r.rc == CURLE_OK && r.status == 200, "%s %ld",
        curl_easy_strerror(r.rc), r.status);
  CHECK(strstr(r.head, "Transfer-Encoding: chunked\r\n"), "%s", r.head);
  CHECK(strstr(r.head, "Content-Type: application/json\r\n"), "%s", r.head);
  CHECK(!strcmp(r.body, "chunk-0\nchunk-1\nchunk-2\nchunk-3\nchunk-4\n"),
        "%s", r.body);
  cresp_free(&r);
  /* Many large chunks written at once: queued, none lost. */
  do_curl(h, "GET", "/big", NULL, 0, NULL, 0, &r);
  CHECK(r.rc == CURLE_OK && r.status == 200, "%ld", r.status);
  CHECK(r.len == (size_t)BIG_CHUNKS * BIG_CHUNK, "len %zu", r.len);
  char *b = malloc(BIG_CHUNK);
  for (int i = 0; i < BIG_CHUNKS; i++) {
    big_fill(b, i);
    if (memcmp(r.body + (size_t)i * BIG_CHUNK, b, BIG_CHUNK)) {
      free(b);
      CHECK(0, "chunk %d differs", i);
    }
  }
  free(b);
  cresp_free(&r);
  curl_easy_cleanup(h);
}

Test(server, stream_curl) { run(c_stream_curl, 0); }

static void c_stream_raw(void) {
  rconn *c = rc_open();
  resp r;
  CHECK(rc_sends(c, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /echo/after HTTP/1.1\r\nHost: x\r\n\r\n") == 0,
        "send");
  CHECK(rc_resp(c, 0, &r) == 0, "stream");
  CHECK(!strcmp(r.line, "HTTP/1.1 200 OK"), "%s", r.line);
  CHECK(!resp_header(&r, "Content-Length"), "%s", r.head);
  CHECK(!resp_header(&r, "Connection"), "%s", r.head);
  CHECK(!strcmp(r.raw, "8\r\nchunk-0\n\r\n8\r\nchunk-1\n\r\n8\r\nchunk-2\n\r\n"
                       "8\r\nchunk-3\n\r\n8\r\nchunk-4\n\r\n0\r\n\r\n"),
        "%s", r.raw);
  resp_free(&r);
  /* The connection carries on with the pipelined request. */
  CHECK(rc_resp(c, 0, &r) == 0, "after");
  CHECK(r.status == 200 && hdr_is(&r, "X-Answered", "1"),
        "%s", r.head);
  resp_free(&r);
  /* A HEAD stream: headers only, then the next response right after. */
  CHECK(rc_sends(c, "HEAD /stream HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /text HTTP/1.1\r\nHost: x\r\n\r\n") == 0, "send");
  CHECK(rc_resp(c, 1, &r) == 0, "head stream");
  CHECK(r.status == 200 && resp_header(&r, "Transfer-Encoding"), "%s",
        r.head);
  resp_free(&r);
  CHECK(rc_resp(c, 0, &r) == 0 && !strcmp(r.body, "hello world"),
        "after head: %s", r.line);
  resp_free(&r);
  rc_close(c);
}

Test(server, stream_framing_and_pipelining) { run(c_stream_raw, 0); }

/* Reads the head and first chunk of a stream. */
static void read_first_event(rconn *c, const char *path) {
  char req[128];
  char line[256];
  snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
  CHECK(rc_sends(c, req) == 0, "send");
  for (;;) {
    CHECK(rc_line(c, line, sizeof line, NULL, NULL) == 0, "head");
    if (!line[0]) break;
  }
  CHECK(rc_line(c, line, sizeof line, NULL, NULL) == 0 && !strcmp(line, "c"),
        "chunk size %s", line);
  CHECK(rc_line(c, line, sizeof line, NULL, NULL) == 0 &&
            !strcmp(line, "event-first\n"), "%s", line);
}

/* Leaves mid-stream (closed on failure too, or the server would wait). */
static void leave_mid_stream(const char *path) {
  rconn *c = rc_open();
  read_first_event(c, path);
  rc_close(c);
}

static void c_leave_forever(void) { leave_mid_stream("/forever"); }

Test(server, client_leaves_stream_on_close) {
  T.want_closes = 1;   /* stopped only after on_close: it came from EOF */
  run(c_leave_forever, 0);
  cr_assert_eq(T.closes, 1);
  cr_assert_eq(T.write_in_close, -1);
  cr_assert_eq(T.fails, 0);
}

static void c_leave_noclose(void) { leave_mid_stream("/forever-noclose"); }

Test(server, client_leaves_stream_without_on_close) {
  T.want_fails = 1;   /* the handler sees -1, then ends the dead stream */
  run(c_leave_noclose, 0);
  cr_assert_eq(T.fails, 1);
  cr_assert_eq(T.closes, 0);
}

static void c_leave_deferred(void) {
  CURL *h = curl_easy_init();
  cresp r;
  do_curl(h, "GET", "/defer-long", NULL, 0, NULL, 100, &r);
  CHECK(r.rc == CURLE_OPERATION_TIMEDOUT, "%s", curl_easy_strerror(r.rc));
  cresp_free(&r);
  do_curl(h, "GET", "/orphan", NULL, 0, NULL, 50, &r);
  CHECK(r.rc == CURLE_OPERATION_TIMEDOUT, "%s", curl_easy_strerror(r.rc));
  cresp_free(&r);
  curl_easy_cleanup(h);
}

Test(server, client_leaves_before_deferred_answer) {
  T.want_closes = 1;
  run(c_leave_deferred, 0);
  cr_assert_eq(T.closes, 1);
  /* The orphan was answered (a no-op) after the server was gone. */
  cr_assert_eq(T.orphan_answered, 1);
}

/* ---- tests: limits and errors ---- */

static void c_too_large(void) {
  CURL *h = curl_easy_init();
  char body[2000];
  memset(body, 'a', sizeof body);
  cresp r;
  do_curl(h, "POST", "/echo/big", body, sizeof body, NULL, 0, &r);
  CHECK(r.rc == CURLE_OK && r.status == 413, "%s %ld",
        curl_easy_strerror(r.rc), r.status);
  cresp_free(&r);
  do_curl(h, "POST", "/echo/fits", body, 1024, NULL, 0, &r);
  CHECK(r.rc == CURLE_OK && r.status == 200 && r.len == 1024, "%ld",
        r.status);
  cresp_free(&r);
  curl_easy_cleanup(h);

  /* Chunked: refused once the body passes the cap, then closed. */
  rconn *c = rc_open();
  resp rr;
  CHECK(rc_sends(c, "POST /echo/chunked HTTP/1.1\r\nHost: x\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n800\r\n") == 0, "send");
  char big[2048];
  memset(big, 'b', sizeof big);
  CHECK(rc_send(c, big, sizeof big) == 0, "send");
  rc_sends(c, "\r\n0\r\n\r\n");
  CHECK(rc_resp(c, 0, &rr) == 0, "response");
  CHECK(!strcmp(rr.line, "HTTP/1.1 413 Payload Too Large"), "%s", rr.line);
  CHECK(hdr_is(&rr, "Connection", "close"), "%s", rr.head);
  CHECK(rc_eof(c), "not closed");
  resp_free(&rr);
  rc_close(c);
}

Test(server, body_too_large) {
  run(c_too_large, 1024);
  cr_assert_eq(T.nseen, 1);   /* only the one that fits */
  cr_assert_eq(T.seen[0].body_len, 1024);
}

static void expect_error(const char *req, const char *line) {
  rconn *c = rc_open();
  resp r;
  CHECK(rc_sends(c, req) == 0, "send");
  CHECK(rc_resp(c, 0, &r) == 0, "response to %s", req);
  CHECK(!strcmp(r.line, line), "%s", r.line);
  CHECK(hdr_is(&r, "Connection", "close"), "%s", r.head);
  CHECK(rc_eof(c), "not closed after %s", line);
  resp_free(&r);
  rc_close(c);
}

static void c_garbage(void) {
  expect_error("GARBAGE\r\n\r\n", "HTTP/1.1 400 Bad Request");
  expect_error("GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n",
               "HTTP/1.1 400 Bad Request");
  expect_error("GET /a%00b HTTP/1.1\r\nHost: x\r\n\r\n",
               "HTTP/1.1 400 Bad Request");
  expect_error("POST /echo HTTP/1.1\r\nContent-Length: 3\r\n"
               "Transfer-Encoding: chunked\r\n\r\n",
               "HTTP/1.1 400 Bad Request");
  char many[8192];
  size_t n = (size_t)snprintf(many, sizeof many, "GET /text HTTP/1.1\r\n");
  for (int i = 0; i < 150; i++)
    n += (size_t)snprintf(many + n, sizeof many - n, "X-H%d: v\r\n", i);
  snprintf(many + n, sizeof many - n, "\r\n");
  expect_error(many, "HTTP/1.1 431 Request Header Fields Too Large");

  /* A good request, then garbage: answered in order, then closed. */
  rconn *c = rc_open();
  resp r;
  CHECK(rc_sends(c, "GET /text HTTP/1.1\r\nHost: x\r\n\r\nBLAH BLAH\r\n\r\n")
            == 0, "send");
  CHECK(rc_resp(c, 0, &r) == 0 && r.status == 200, "first");
  resp_free(&r);
  CHECK(rc_resp(c, 0, &r) == 0 && r.status == 400, "second");
  resp_free(&r);
  CHECK(rc_eof(c), "not closed");
  rc_close(c);
}

Test(server, bad_requests) {
  run(c_garbage, 0);
  cr_assert_eq(T.nseen, 1);
}

static void c_head(void) {
  CURL *h = curl_easy_init();
  cresp cr;
  do_curl(h, "HEAD", "/text", NULL, 0, NULL, 0, &cr);
  CHECK(cr.rc == CURLE_OK && cr.status == 200, "%ld", cr.status);
  CHECK(strstr(cr.head, "Content-Length: 11\r\n"), "%s", cr.head);
  CHECK(cr.len == 0, "body %zu", cr.len);
  cresp_free(&cr);
  curl_easy_cleanup(h);
  /* No body bytes between the HEAD answer and the next one. */
  rconn *c = rc_open();
  resp r;
  CHECK(rc_sends(c, "HEAD /text HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /text HTTP/1.1\r\nHost: x\r\n\r\n") == 0, "send");
  CHECK(rc_resp(c, 1, &r) == 0 && r.status == 200, "head");
  CHECK(hdr_is(&r, "Content-Length", "11"), "%s", r.head);
  resp_free(&r);
  CHECK(rc_resp(c, 0, &r) == 0 && !strcmp(r.body, "hello world"), "%s",
        r.line);
  resp_free(&r);
  rc_close(c);
}

Test(server, head) {
  run(c_head, 0);
  cr_assert_str_eq(T.seen[0].method, "HEAD");
}

static void c_statuses(void) {
  static const char *want[][2] = {
    {"/status/201", "HTTP/1.1 201 Created"},
    {"/status/404", "HTTP/1.1 404 Not Found"},
    {"/status/409", "HTTP/1.1 409 Conflict"},
    {"/status/410", "HTTP/1.1 410 Gone"},
    {"/status/422", "HTTP/1.1 422 Unprocessable Entity"},
    {"/status/500", "HTTP/1.1 500 Internal Server Error"},
    {"/status/204", "HTTP/1.1 204 No Content"},
    {"/status/304", "HTTP/1.1 304 Not Modified"},
  };
  rconn *c = rc_open();
  char req[128];
  resp r;
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n",
             want[i][0]);
    CHECK(rc_sends(c, req) == 0, "send");
    CHECK(rc_resp(c, 0, &r) == 0, "%s", want[i][0]);
    CHECK(!strcmp(r.line, want[i][1]), "%s", r.line);
    if (r.status == 204 || r.status == 304)
      CHECK(!resp_header(&r, "Content-Length"), "%s", r.head);
    else
      CHECK(!strcmp(r.body, "st"), "%s", r.body);
    resp_free(&r);
  }
  /* Nothing stray after the bodiless ones. */
  CHECK(rc_sends(c, "GET /text HTTP/1.1\r\nHost: x\r\n\r\n") == 0, "send");
  CHECK(rc_resp(c, 0, &r) == 0 && !strcmp(r.body, "hello world"), "%s",
        r.line);
  resp_free(&r);
  rc_close(c);
}

Test(server, status_lines) { run(c_statuses, 0); }

static void c_connection(void) {
  resp r;
  /* HTTP/1.0: closes by default. */
  rconn *c = rc_open();
  CHECK(rc_sends(c, "GET /text HTTP/1.0\r\n\r\n") == 0, "send");
  CHECK(rc_resp(c, 0, &r) == 0 && !strcmp(r.body, "hello world"), "1.0");
  CHECK(hdr_is(&r, "Connection", "close"), "%s", r.head);
  CHECK(rc_eof(c), "1.0 not closed");
  resp_free(&r);
  rc_close(c);
  /* HTTP/1.0 keep-alive. */
  c = rc_open();
  CHECK(rc_sends(c, "GET /text HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            == 0, "send");
  CHECK(rc_resp(c, 0, &r) == 0, "1.0 ka");
  CHECK(hdr_is(&r, "Connection", "keep-alive"), "%s", r.head);
  resp_free(&r);
  CHECK(rc_sends(c, "GET /text HTTP/1.0\r\n\r\n") == 0, "send");
  CHECK(rc_resp(c, 0, &r) == 0 && r.status == 200, "1.0 second");
  resp_free(&r);
  CHECK(rc_eof(c), "1.0 not closed");
  rc_close(c);
  /* An HTTP/1.0 stream: no chunks, delimited by the close. */
  c = rc_open();
  CHECK(rc_sends(c, "GET /stream HTTP/1.0\r\n\r\n") == 0, "send");
  CHECK(rc_resp(c, 0, &r) == 0, "1.0 stream");
  CHECK(!resp_header(&r, "Transfer-Encoding"), "%s", r.head);
  CHECK(hdr_is(&r, "Connection", "close"), "%s", r.head);
  CHECK(!strcmp(r.body, "chunk-0\nchunk-1\nchunk-2\nchunk-3\nchunk-4\n"),
        "%s", r.body);
  resp_free(&r);
  rc_close(c);
  /* Connection: close from the client: later requests are not read. */
  c = rc_open();
  CHECK(rc_sends(c, "GET /text HTTP/1.1\r\nConnection: close\r\n\r\n"
                    "GET /text HTTP/1.1\r\n\r\n") == 0, "send");
  CHECK(rc_resp(c, 0, &r) == 0 && r.status == 200, "close");
  CHECK(hdr_is(&r, "Connection", "close"), "%s", r.head);
  resp_free(&r);
  CHECK(rc_eof(c), "not closed");
  rc_close(c);
  /* An Upgrade we do not speak: answered, then closed; the rest of the
   * bytes are not HTTP and are ignored. */
  c = rc_open();
  CHECK(rc_sends(c, "GET /text HTTP/1.1\r\nConnection: Upgrade\r\n"
                    "Upgrade: websocket\r\n\r\n\x81\x05junk") == 0, "send");
  CHECK(rc_resp(c, 0, &r) == 0 && !strcmp(r.body, "hello world"), "upgrade");
  CHECK(hdr_is(&r, "Connection", "close"), "%s", r.head);
  resp_free(&r);
  CHECK(rc_eof(c), "not closed");
  rc_close(c);
  /* Connection: close from the handler. */
  c = rc_open();
  CHECK(rc_sends(c, "GET /close HTTP/1.1\r\n\r\n") == 0, "send");
  CHECK(rc_resp(c, 0, &r) == 0 && !strcmp(r.body, "bye"), "handler close");
  CHECK(hdr_is(&r, "Connection", "close"), "%s", r.head);
  resp_free(&r);
  CHECK(rc_eof(c), "not closed");
  rc_close(c);
}

Test(server, connection_handling) { run(c_connection, 0); }

static void c_continue(void) {
  rconn *c = rc_open();
  char line[256];
  resp r;
  CHECK(rc_sends(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                    "Expect: 100-continue\r\n\r\n") == 0, "send");
  CHECK(rc_line(c, line, sizeof line, NULL, NULL) == 0 &&
            !strcmp(line, "HTTP/1.1 100 Continue"), "%s", line);
  CHECK(rc_line(c, line, sizeof line, NULL, NULL) == 0 && !line[0], "%s",
        line);
  CHECK(rc_sends(c, "hello") == 0, "send");
  CHECK(rc_resp(c, 0, &r) == 0 && !strcmp(r.body, "hello"), "%s", r.line);
  resp_free(&r);
  rc_close(c);
}

Test(server, expect_continue) { run(c_continue, 0); }

/* ---- tests: stopping ---- */

static void c_stop_open(void) {
  resp r;
  char line[256];
  rconn *a = rc_open(), *b = rc_open(), *c = rc_open();
  /* a: idle keep-alive connection. */
  CHECK(rc_sends(a, "GET /text HTTP/1.1\r\nHost: x\r\n\r\n") == 0, "send");
  CHECK(rc_resp(a, 0, &r) == 0 && r.status == 200, "a");
  resp_free(&r);
  /* b: an open stream. */
  CHECK(rc_sends(b, "GET /forever HTTP/1.1\r\nHost: x\r\n\r\n") == 0, "send");
  for (;;) {
    CHECK(rc_line(b, line, sizeof line, NULL, NULL) == 0, "b head");
    if (!line[0]) break;
  }
  /* c: an unanswered exchange; d: a partial request. */
  CHECK(rc_sends(c, "GET /hang HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /text HTTP/1.1\r\nHost: x\r\n\r\n") == 0, "send");
  rconn *d = rc_open();
  CHECK(rc_sends(d, "GET /partial HTTP/1.1\r\nHo") == 0, "send");
  for (int i = 0; i < 500 && __atomic_load_n(&T.dispatched, __ATOMIC_SEQ_CST)
                                 < 3; i++)
    usleep(10000);
  CHECK(__atomic_load_n(&T.dispatched, __ATOMIC_SEQ_CST) == 3, "dispatch");
  signal_done();
  /* Every connection is closed by the server. */
  CHECK(rc_eof(a), "a open");
  while (rc_fill(b) > 0) b->len = 0;
  CHECK(rc_fill(b) == 0, "b open");
  CHECK(rc_eof(c), "c open");
  CHECK(rc_gone(d), "d open");
  rc_close(a);
  rc_close(b);
  rc_close(c);
  rc_close(d);
}

Test(server, stop_with_open_connections) {
  run(c_stop_open, 0);
  cr_assert_eq(T.closes, 2);       /* the stream and the hanging one */
  cr_assert_eq(T.stop_write, -1);  /* dead before its on_close */
  cr_assert_eq(T.write_in_close, -1);
}

static void c_stop_inside(void) {
  rconn *c = rc_open();
  CHECK(rc_sends(c, "GET /stop HTTP/1.1\r\nHost: x\r\n\r\n") == 0, "send");
  CHECK(rc_eof(c), "answered after stop");
  rc_close(c);
}

Test(server, stop_inside_handler) { run(c_stop_inside, 0); }

Test(server, stop_idle_and_start_errors) {
  char err[256];
  uv_loop_t loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  http_server *s = http_server_start(&loop, "127.0.0.1", 0, NULL, handler,
                                     NULL, err, sizeof err);
  cr_assert_not_null(s, "%s", err);
  int port = http_server_port(s);
  http_server *s2 = http_server_start(&loop, "127.0.0.1", port, NULL,
                                      handler, NULL, err, sizeof err);
  cr_assert_null(s2);
  cr_assert(strstr(err, "in use"), "%s", err);
  cr_assert_null(http_server_start(&loop, "127.0.0.1", 70000, NULL, handler,
                                   NULL, err, sizeof err));
  http_server_stop(s);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_eq(uv_loop_close(&loop), 0);
}

/* ---- timeouts and the connection cap ---- */

static void ms_sleep(int ms) { usleep((useconds_t)ms * 1000); }

/* The server answers 408 and closes. */
static int got_408(rconn *c) {
  resp r;
  int ok = rc_resp(c, 0, &r) == 0 && r.status == 408 &&
           hdr_is(&r, "Connection", "close");
  resp_free(&r);
  return ok && rc_gone(c);
}

static void c_header_timeout(void) {
  /* Half a request, then silence: 408 and closed. */
  rconn *a = rc_open();
  CHECK(rc_sends(a, "GET /text HTTP/1.1\r\nHost: x\r\n") == 0, "send");
  CHECK(got_408(a), "a half-sent request is not answered 408 and closed");
  rc_close(a);
  /* A slow-loris: a header line every 40 ms keeps the connection busy
   * but does not reset the clock (200 ms). */
  rconn *b = rc_open();
  CHECK(rc_sends(b, "GET /text HTTP/1.1\r\n") == 0, "send");
  for (int i = 0; i < 15; i++) {
    ms_sleep(40);
    if (rc_sends(b, "X-Slow: 1\r\n") < 0) break;
  }
  CHECK(got_408(b), "trickled headers are not cut off");
  rc_close(b);
  /* Connected and silent: closed without an answer. */
  rconn *c = rc_open();
  CHECK(rc_gone(c), "a silent connection is not closed");
  rc_close(c);
  /* A complete request on time is answered as usual. */
  rconn *d = rc_open();
  resp r;
  CHECK(rc_sends(d, "GET /text HTTP/1.1\r\nHost: x\r\n\r\n") == 0, "send");
  CHECK(rc_resp(d, 0, &r) == 0 && r.status == 200, "%s", r.line);
  resp_free(&r);
  rc_close(d);
}

Test(server, header_timeout) {
  http_server_opts o = {.header_timeout_ms = 200};
  run_opts(c_header_timeout, &o);
  cr_assert_eq(T.nseen, 1);   /* only the complete request reached us */
}

static void c_body_timeout(void) {
  rconn *a = rc_open();
  CHECK(rc_sends(a, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n"
                    "\r\nabc") == 0, "send");
  CHECK(got_408(a), "a half-sent body is not answered 408 and closed");
  rc_close(a);
}

Test(server, body_timeout) {
  http_server_opts o = {.body_timeout_ms = 200};
  run_opts(c_body_timeout, &o);
  cr_assert_eq(T.nseen, 0);
}

static void c_idle_timeout(void) {
  rconn *a = rc_open();
  resp r;
  for (int i = 0; i < 3; i++) {   /* keep-alive within the idle time */
    CHECK(rc_sends(a, "GET /text HTTP/1.1\r\nHost: x\r\n\r\n") == 0, "send");
    CHECK(rc_resp(a, 0, &r) == 0 && r.status == 200, "request %d", i);
    resp_free(&r);
    ms_sleep(100);
  }
  /* A deferred answer is not cut by the idle clock (it is no idle). */
  CHECK(rc_sends(a, "GET /defer HTTP/1.1\r\nHost: x\r\n\r\n") == 0, "send");
  CHECK(rc_resp(a, 0, &r) == 0 && !strcmp(r.body, "deferred"), "%s", r.line);
  resp_free(&r);
  CHECK(rc_eof(a), "an idle keep-alive connection is not closed");
  rc_close(a);
}

Test(server, idle_timeout) {
  /* 600 ms idle, 250 ms header time: the connection lives across several
   * requests, longer than one header time (each request's header clock
   * starts anew), then idles out. */
  http_server_opts o = {.idle_timeout_ms = 600, .header_timeout_ms = 250};
  run_opts(c_idle_timeout, &o);
  cr_assert_eq(T.nseen, 4);
}

static void c_header_size(void) {
  char big[4096];
  int n = snprintf(big, sizeof big, "GET /text HTTP/1.1\r\nHost: x\r\nX-Big: ");
  memset(big + n, 'a', 2000);
  snprintf(big + n + 2000, sizeof big - (size_t)n - 2000, "\r\n\r\n");
  expect_error(big, "HTTP/1.1 431 Request Header Fields Too Large");
  char url[2048] = "GET /";
  memset(url + 5, 'u', 1500);
  snprintf(url + 1505, sizeof url - 1505, " HTTP/1.1\r\nHost: x\r\n\r\n");
  expect_error(url, "HTTP/1.1 431 Request Header Fields Too Large");
  rconn *c = rc_open();   /* under the limit: fine */
  resp r;
  CHECK(rc_sends(c, "GET /text HTTP/1.1\r\nHost: x\r\nX-Small: 1\r\n\r\n") == 0,
        "send");
  CHECK(rc_resp(c, 0, &r) == 0 && r.status == 200, "%s", r.line);
  resp_free(&r);
  rc_close(c);
}

Test(server, max_header_bytes) {
  http_server_opts o = {.max_header_bytes = 1024};
  run_opts(c_header_size, &o);
  cr_assert_eq(T.nseen, 1);
}

#define CAP 4

/* GET /text on c answers 200. */
static int answers(rconn *c) {
  resp r;
  memset(&r, 0, sizeof r);
  int ok = rc_sends(c, "GET /text HTTP/1.1\r\nHost: x\r\n\r\n") == 0 &&
           rc_resp(c, 0, &r) == 0 && r.status == 200;
  resp_free(&r);
  return ok;
}

/* A connection the server refused: 503 with Retry-After, then closed. */
static int refused_503(rconn *c) {
  resp r;
  int ok = rc_resp(c, 0, &r) == 0 && r.status == 503 &&
           hdr_is(&r, "Retry-After", "1") && hdr_is(&r, "Connection", "close");
  resp_free(&r);
  return ok && rc_gone(c);
}

static void c_cap(void) {
  rconn *c[CAP];
  for (int i = 0; i < CAP; i++) {
    c[i] = rc_open();
    CHECK(c[i]->fd >= 0, "connect %d", i);
    CHECK(answers(c[i]), "connection %d is not served", i);   /* accepted */
  }
  rconn *extra = rc_open();
  CHECK(extra->fd >= 0, "connect extra");
  CHECK(refused_503(extra), "connection %d over the cap is not refused", CAP + 1);
  rc_close(extra);
  for (int i = 0; i < CAP; i++)
    CHECK(answers(c[i]), "connection %d stopped working", i);
  /* One leaves: its place is free again (once the server has seen it go). */
  rc_close(c[0]);
  int served = 0;
  for (int tries = 0; tries < 100 && !served; tries++) {
    rconn *n = rc_open();
    served = answers(n);
    rc_close(n);
    if (!served) ms_sleep(20);
  }
  CHECK(served, "a freed place is not given to a new connection");
  for (int i = 1; i < CAP; i++) rc_close(c[i]);
}

Test(server, connection_cap) {
  http_server_opts o = {.max_connections = CAP};
  run_opts(c_cap, &o);
}

#define CROWD 40

static void c_slowloris(void) {
  /* A crowd of half-sent requests below the cap: a normal client is
   * still answered at once. */
  rconn *crowd[CROWD];
  for (int i = 0; i < CROWD; i++) {
    crowd[i] = rc_open();
    CHECK(crowd[i]->fd >= 0, "connect %d", i);
    CHECK(rc_sends(crowd[i], "GET /text HTTP/1.1\r\nX-Slow: ") == 0, "send");
  }
  CURL *h = curl_easy_init();
  cresp cr;
  do_curl(h, "GET", "/text", NULL, 0, NULL, 0, &cr);
  CHECK(cr.rc == CURLE_OK && cr.status == 200, "a normal client is not served "
        "beside the crowd: %d %ld", (int)cr.rc, cr.status);
  cresp_free(&cr);
  /* Then each of the crowd is cut off by the header timeout. */
  for (int i = 0; i < CROWD; i++) {
    CHECK(got_408(crowd[i]), "slow client %d is not cut off", i);
    rc_close(crowd[i]);
  }
  curl_easy_cleanup(h);
}

Test(server, slowloris_crowd) {
  /* The cap holds the crowd and the client. */
  http_server_opts o = {.header_timeout_ms = 1000,
                        .max_connections = CROWD + 5};
  run_opts(c_slowloris, &o);
}

static void c_slowloris_over_cap(void) {
  /* A crowd over the cap: the client is refused (503) while it holds
   * every place; the header timeout frees them and the client gets in. */
  CURL *h;
  cresp cr;
  rconn *big[CROWD + 10];
  for (int i = 0; i < CROWD + 10; i++) {
    big[i] = rc_open();
    rc_sends(big[i], "GET /text HTTP/1.1\r\nX-Slow: ");   /* may be refused */
  }
  int served = 0, refused = 0;
  for (int tries = 0; tries < 100 && !served; tries++) {
    h = curl_easy_init();
    do_curl(h, "GET", "/text", NULL, 0, NULL, 0, &cr);
    curl_easy_cleanup(h);
    served = cr.rc == CURLE_OK && cr.status == 200;
    /* Refused: a 503, or a reset when the close beat curl's request. */
    refused += !served && (cr.rc != CURLE_OK || cr.status == 503);
    cresp_free(&cr);
    if (!served) ms_sleep(50);
  }
  CHECK(refused > 0, "the client was not refused while the crowd held the cap");
  CHECK(served, "a normal client never gets in after the crowd times out");
  for (int i = 0; i < CROWD + 10; i++) rc_close(big[i]);
}

Test(server, slowloris_over_cap) {
  /* Long enough that the crowd is in place before any of it times out. */
  http_server_opts o = {.header_timeout_ms = 2000,
                        .max_connections = CROWD + 5};
  run_opts(c_slowloris_over_cap, &o);
}

/* ---- upgrades ---- */

/* /ws-echo: switches protocols and echoes every byte back until it has
 * seen "bye", then closes. Without an Upgrade header the switch is
 * refused and the request answered 400. */
typedef struct {
  http_exchange *x;
  size_t got;          /* bytes echoed */
  char last[8];        /* the last bytes seen, for "bye" */
} ws_echo_t;

static void ws_echo_data(void *ud, const char *data, size_t len) {
  ws_echo_t *w = ud;
  w->got += len;
  for (size_t i = 0; i < len; i++) {
    memmove(w->last, w->last + 1, sizeof w->last - 2);
    w->last[sizeof w->last - 2] = data[i];
  }
  T.upgraded_bytes += len;
  if (strstr(w->last, "bye")) {
    http_upgraded_write(w->x, "ciao", 4);
    http_upgraded_close(w->x);
    T.upgraded_bytes = -T.upgraded_bytes;   /* marks a clean close */
    free(w);
    return;
  }
  if (http_upgraded_write(w->x, data, len) < 0) T.fails++;
}

static void ws_echo_closed(void *ud) {
  ws_echo_t *w = ud;
  T.closes++;
  cr_assert_eq(http_upgraded_write(w->x, "x", 1), -1);
  http_upgraded_close(w->x);   /* a no-op inside on_close */
  free(w);
  maybe_stop();
}

static void ws_echo(http_exchange *x) {
  ws_echo_t *w = calloc(1, sizeof *w);
  w->x = x;
  const char *n[] = {"Upgrade", "Sec-WebSocket-Protocol", "Bad\r\n"};
  const char *v[] = {"websocket", "v5.channel.k8s.io", "x"};
  if (http_upgrade(x, n, v, 3, ws_echo_data, ws_echo_closed, w) < 0) {
    free(w);
    T.answered++;
    http_respond(x, 400, NULL, NULL, 0, "no upgrade", 10);
    return;
  }
  cr_assert_eq(http_upgrade(x, n, v, 3, ws_echo_data, ws_echo_closed, w),
               -1, "only once");
  http_respond(x, 200, NULL, NULL, 0, "ignored", 7);   /* a no-op */
}

/* Reads the head of a response (up to the blank line) into r. */
static int rc_head(rconn *c, resp *r) {
  char line[1024];
  if (rc_line(c, r->line, sizeof r->line, NULL, NULL) < 0) return -1;
  r->status = atoi(r->line + 9);
  r->head[0] = '\0';
  for (;;) {
    if (rc_line(c, line, sizeof line, NULL, NULL) < 0) return -1;
    if (!line[0]) return 0;
    strncat(r->head, line, sizeof r->head - strlen(r->head) - 3);
    strcat(r->head, "\r\n");
  }
}

static int rc_expect(rconn *c, const char *want) {
  char *got = NULL;
  size_t n = 0;
  int ok = rc_take(c, strlen(want), &got, &n) == 0 && !strcmp(got, want);
  free(got);
  return ok;
}

static void c_upgrade(void) {
  resp r;
  memset(&r, 0, sizeof r);
  /* Bytes sent along with the request reach on_data after the 101. */
  rconn *c = rc_open();
  CHECK(rc_sends(c, "GET /ws-echo HTTP/1.1\r\nHost: x\r\n"
                    "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
                    "early:") == 0, "send");
  CHECK(rc_head(c, &r) == 0 && r.status == 101, "%s", r.line);
  CHECK(!strcmp(r.line, "HTTP/1.1 101 Switching Protocols"), "%s", r.line);
  CHECK(hdr_is(&r, "Upgrade", "websocket"), "%s", r.head);
  CHECK(hdr_is(&r, "Connection", "Upgrade"), "%s", r.head);
  CHECK(hdr_is(&r, "Sec-WebSocket-Protocol", "v5.channel.k8s.io"), "%s",
        r.head);
  CHECK(!resp_header(&r, "Content-Length"), "%s", r.head);
  CHECK(!strstr(r.head, "Bad"), "%s", r.head);
  CHECK(rc_expect(c, "early:"), "early bytes");
  /* Raw bytes both ways, binary included, then a close from the server:
   * what it wrote last arrives before the EOF. */
  CHECK(rc_send(c, "\x81\x00\xff GET / HTTP/1.1\r\n\r\n", 22) == 0, "s");
  CHECK(rc_expect(c, "\x81"), "binary echo");
  char *got = NULL;
  size_t n = 0;
  CHECK(rc_take(c, 21, &got, &n) == 0 && !memcmp(got, "\x00\xff GET", 6),
        "echo");
  free(got);
  CHECK(rc_sends(c, "bye") == 0, "send");
  CHECK(rc_expect(c, "ciao"), "last write");
  CHECK(rc_eof(c), "not closed");
  rc_close(c);
  /* Sent after the request, in a later packet: kept for on_data too. */
  c = rc_open();
  CHECK(rc_sends(c, "GET /ws-echo HTTP/1.1\r\nConnection: Upgrade\r\n"
                    "Upgrade: websocket\r\n\r\n") == 0, "send");
  CHECK(rc_sends(c, "second") == 0, "send");
  CHECK(rc_head(c, &r) == 0 && r.status == 101, "%s", r.line);
  CHECK(rc_expect(c, "second"), "late early bytes");
  rc_close(c);   /* gone: on_close */
  /* No Upgrade header: http_upgrade refuses, the answer is a 400. */
  c = rc_open();
  CHECK(rc_sends(c, "GET /ws-echo HTTP/1.1\r\n\r\n") == 0, "send");
  CHECK(rc_resp(c, 0, &r) == 0 && r.status == 400, "%s", r.line);
  resp_free(&r);
  rc_close(c);
}

Test(server, upgrade) {
  T.want_closes = 1;
  run(c_upgrade, 0);
  cr_assert_eq(T.closes, 1);
  cr_assert_eq(T.fails, 0);
}

static void c_upgrade_stop(void) {
  resp r;
  memset(&r, 0, sizeof r);
  rconn *c = rc_open();
  CHECK(rc_sends(c, "GET /ws-echo HTTP/1.1\r\nConnection: Upgrade\r\n"
                    "Upgrade: websocket\r\n\r\n") == 0, "send");
  CHECK(rc_head(c, &r) == 0 && r.status == 101, "%s", r.line);
  CHECK(rc_sends(c, "ping") == 0 && rc_expect(c, "ping"), "echo");
  signal_done();   /* the server stops with the upgraded connection open */
  CHECK(rc_eof(c), "not closed by http_server_stop");
  rc_close(c);
}

Test(server, upgraded_open_at_stop) {
  run(c_upgrade_stop, 0);
  cr_assert_eq(T.closes, 1, "on_close from http_server_stop");
}

/* http_server_unlisten (a graceful stop): new connections are refused at
 * once, an open one is still served; http_server_stop frees the server
 * afterwards (ASan: no leak, no use after free). */
static void c_unlisten(void) {
  rconn *c = rc_open();
  resp r;
  CHECK(c->fd >= 0, "connect");
  CHECK(rc_sends(c, "GET /unlisten HTTP/1.1\r\nHost: x\r\n\r\n") == 0, "send");
  CHECK(rc_resp(c, 0, &r) == 0 && r.status == 200, "unlisten answered");
  resp_free(&r);
  rconn *late = rc_open();
  CHECK(late->fd < 0, "a connection after unlisten was accepted");
  rc_close(late);
  CHECK(rc_sends(c, "GET /text HTTP/1.1\r\nHost: x\r\n\r\n") == 0, "send");
  CHECK(rc_resp(c, 0, &r) == 0 && !strcmp(r.body, "hello world"),
        "the open connection is served on");
  resp_free(&r);
  rc_close(c);
}

Test(server, unlisten_then_stop) {
  run(c_unlisten, 0);
  cr_assert_eq(T.nseen, 2);
}
