/* Unit tests for core/io/http.c against a tiny HTTP/1.1 server started in
 * the test process (a thread per connection, blocking sockets, canned
 * replies chosen by path; on 127.0.0.1 with an ephemeral port and on a
 * unix socket). Covers bodies, headers, methods, statuses, timeouts, the
 * response cap, redirects, refused connections, concurrency, cancel, free
 * with transfers in flight, refused protocols and the TLS options, and
 * raw connections (http_raw_open: our bytes over curl's connection). Each
 * test runs its own loop and checks it closes cleanly. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "io/http.h"

/* ---- the server ---- */

#define MAX_CONNS 256
#define BIG_LEN ((size_t)2 << 20)

static struct {
  int tcp_fd, unix_fd;
  int port;
  char sock_path[64];
  int stop[2];            /* closing stop[1] wakes every thread */
  pthread_t acceptor;
  pthread_mutex_t mu;
  pthread_t conns[MAX_CONNS];
  int nconns;
} srv;

/* Waits until fd is ready for events; 0 when the server is stopping. */
static int wait_fd(int fd, short events) {
  struct pollfd p[2] = {{fd, events, 0}, {srv.stop[0], POLLIN, 0}};
  for (;;) {
    int n = poll(p, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || p[1].revents) return 0;
    if (p[0].revents) return 1;
  }
}

static int send_all(int fd, const char *b, size_t n) {
  while (n > 0) {
    if (!wait_fd(fd, POLLOUT)) return -1;
    ssize_t w = send(fd, b, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (w <= 0) return -1;
    b += w;
    n -= (size_t)w;
  }
  return 0;
}

/* The request being answered is a HEAD: replies carry no body. */
static __thread int is_head;

static int reply(int fd, const char *status, const char *extra,
                 const char *body, size_t len) {
  char head[1024];
  snprintf(head, sizeof head,
           "HTTP/1.1 %s\r\nContent-Length: %zu\r\n%s\r\n", status, len,
           extra ? extra : "");
  if (send_all(fd, head, strlen(head)) < 0) return -1;
  return is_head ? 0 : send_all(fd, body, len);
}

/* Value of a request header, copied into out; "" when absent. */
static void req_header(const char *head, const char *name, char *out,
                       size_t cap) {
  size_t nl = strlen(name);
  out[0] = '\0';
  for (const char *l = strstr(head, "\r\n"); l; l = strstr(l, "\r\n")) {
    l += 2;
    if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
      const char *v = l + nl + 1, *e = strstr(v, "\r\n");
      while (*v == ' ') v++;
      size_t n = (size_t)(e - v);
      if (n >= cap) n = cap - 1;
      memcpy(out, v, n);
      out[n] = '\0';
      return;
    }
  }
}

/* Answers one request; returns 0 to keep the connection, -1 to close. */
static int route(int fd, const char *method, const char *path,
                 const char *head, const char *body, size_t body_len) {
  char extra[512], v[128];
  if (strcmp(path, "/ok") == 0) {
    const char *b = "{\"ok\":true}";
    return reply(fd, "200 OK",
                 "Content-Type: application/json\r\nX-Custom: Yes\r\n"
                 "X-Fold: one\r\n two\r\n",
                 b, strlen(b));
  }
  if (strcmp(path, "/status/500") == 0)
    return reply(fd, "500 Internal Server Error", NULL, "boom", 4);
  if (strcmp(path, "/hang") == 0) {
    /* Until the client gives up or the server stops. */
    char c;
    if (wait_fd(fd, POLLIN)) while (read(fd, &c, 1) > 0) {}
    return -1;
  }
  if (strcmp(path, "/big") == 0 || strcmp(path, "/big-nolen") == 0) {
    int nolen = strcmp(path, "/big-nolen") == 0;
    char *b = malloc(BIG_LEN);
    memset(b, 'x', BIG_LEN);
    int rc;
    if (is_head) {
      rc = reply(fd, "200 OK", NULL, NULL, BIG_LEN);
    } else if (nolen) {
      const char *h = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
      rc = send_all(fd, h, strlen(h));
      if (rc == 0) rc = send_all(fd, b, BIG_LEN);
    } else {
      rc = reply(fd, "200 OK", NULL, b, BIG_LEN);
    }
    free(b);
    return nolen ? -1 : rc;
  }
  if (strcmp(path, "/redirect") == 0)
    return reply(fd, "302 Found", "Location: /ok\r\nX-Hop: 1\r\n", "moved",
                 5);
  if (strcmp(path, "/redirect-file") == 0)
    return reply(fd, "302 Found", "Location: file:///etc/passwd\r\n", "", 0);
  if (strcmp(path, "/loop") == 0)
    return reply(fd, "302 Found", "Location: /loop\r\n", "", 0);
  if (strcmp(path, "/echo") == 0) {
    req_header(head, "x-echo", v, sizeof v);
    snprintf(extra, sizeof extra, "X-Method: %s\r\nX-Echo: %s\r\n", method,
             v);
    return reply(fd, "200 OK", extra, body, body_len);
  }
  if (strcmp(path, "/slow-body") == 0) {
    const char *h = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";
    if (send_all(fd, h, strlen(h)) < 0) return -1;
    for (int i = 0; i < 10; i++) {
      char c = (char)('0' + i);
      usleep(20000);
      if (send_all(fd, &c, 1) < 0) return -1;
    }
    return 0;
  }
  return reply(fd, "404 Not Found", NULL, "", 0);
}

static void *conn_main(void *arg) {
  int fd = (int)(intptr_t)arg;
  size_t cap = 65536, have = 0;
  char *buf = malloc(cap + 1);
  for (;;) {
    char *end;
    buf[have] = '\0';
    while (!(end = strstr(buf, "\r\n\r\n"))) {
      if (have > 0 && (unsigned char)buf[0] == 0x16) {
        /* A TLS ClientHello: answer in plain text, as such servers do. */
        const char *r = "HTTP/1.1 400 Bad Request\r\n\r\n";
        send_all(fd, r, strlen(r));
        goto out;
      }
      if (have == cap || !wait_fd(fd, POLLIN)) goto out;
      ssize_t n = read(fd, buf + have, cap - have);
      if (n <= 0) goto out;
      have += (size_t)n;
      buf[have] = '\0';
    }
    size_t head_len = (size_t)(end - buf) + 4;
    char method[16] = "", path[256] = "", cl[32];
    sscanf(buf, "%15s %255s", method, path);
    is_head = strcmp(method, "HEAD") == 0;
    buf[head_len - 2] = '\0';  /* the head ends with its last "\r\n" */
    req_header(buf, "content-length", cl, sizeof cl);
    size_t body_len = cl[0] ? strtoul(cl, NULL, 10) : 0;
    if (head_len + body_len > cap) goto out;
    while (have < head_len + body_len) {
      if (!wait_fd(fd, POLLIN)) goto out;
      ssize_t n = read(fd, buf + have, cap - have);
      if (n <= 0) goto out;
      have += (size_t)n;
    }
    if (route(fd, method, path, buf, buf + head_len, body_len) < 0) goto out;
    have -= head_len + body_len;
    memmove(buf, buf + head_len + body_len, have);
  }
out:
  free(buf);
  close(fd);
  return NULL;
}

static void *acceptor_main(void *arg) {
  (void)arg;
  for (;;) {
    struct pollfd p[3] = {{srv.tcp_fd, POLLIN, 0}, {srv.unix_fd, POLLIN, 0},
                          {srv.stop[0], POLLIN, 0}};
    if (poll(p, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[2].revents) break;
    for (int i = 0; i < 2; i++) {
      if (!p[i].revents) continue;
      int fd = accept(p[i].fd, NULL, NULL);
      if (fd < 0) continue;
      /* Head and body go out in two writes: without this, Nagle and
       * delayed ACKs cost 40 ms per reply on a reused connection. */
      int one = 1;
      if (i == 0) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      pthread_mutex_lock(&srv.mu);
      if (srv.nconns == MAX_CONNS ||
          pthread_create(&srv.conns[srv.nconns], NULL, conn_main,
                         (void *)(intptr_t)fd) != 0)
        close(fd);
      else
        srv.nconns++;
      pthread_mutex_unlock(&srv.mu);
    }
  }
  return NULL;
}

static void server_start(void) {
  /* Writing to a socket whose peer left must not kill the test. */
  signal(SIGPIPE, SIG_IGN);
  /* 127.0.0.1 must never go through a proxy from the environment. */
  setenv("no_proxy", "*", 1);
  setenv("NO_PROXY", "*", 1);

  memset(&srv, 0, sizeof srv);
  pthread_mutex_init(&srv.mu, NULL);
  cr_assert_eq(pipe(srv.stop), 0);

  srv.tcp_fd = socket(AF_INET, SOCK_STREAM, 0);
  cr_assert_geq(srv.tcp_fd, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof a;
  cr_assert_eq(bind(srv.tcp_fd, (struct sockaddr *)&a, sizeof a), 0);
  cr_assert_eq(listen(srv.tcp_fd, 128), 0);
  cr_assert_eq(getsockname(srv.tcp_fd, (struct sockaddr *)&a, &alen), 0);
  srv.port = ntohs(a.sin_port);

  snprintf(srv.sock_path, sizeof srv.sock_path, "/tmp/summit-http-%d.sock",
           (int)getpid());
  unlink(srv.sock_path);
  srv.unix_fd = socket(AF_UNIX, SOCK_STREAM, 0);
  cr_assert_geq(srv.unix_fd, 0);
  struct sockaddr_un u;
  memset(&u, 0, sizeof u);
  u.sun_family = AF_UNIX;
  strcpy(u.sun_path, srv.sock_path);
  cr_assert_eq(bind(srv.unix_fd, (struct sockaddr *)&u, sizeof u), 0);
  cr_assert_eq(listen(srv.unix_fd, 16), 0);

  cr_assert_eq(pthread_create(&srv.acceptor, NULL, acceptor_main, NULL), 0);
}

static void server_stop(void) {
  close(srv.stop[1]);
  pthread_join(srv.acceptor, NULL);
  for (int i = 0; i < srv.nconns; i++) pthread_join(srv.conns[i], NULL);
  close(srv.stop[0]);
  close(srv.tcp_fd);
  close(srv.unix_fd);
  unlink(srv.sock_path);
  pthread_mutex_destroy(&srv.mu);
}

TestSuite(http, .init = server_start, .fini = server_stop, .timeout = 30);

/* ---- the client side ---- */

static char *url_of(const char *path) {
  static char bufs[8][256];
  static int next;
  char *b = bufs[next++ % 8];
  snprintf(b, 256, "http://127.0.0.1:%d%s", srv.port, path);
  return b;
}

typedef struct ctx {
  uv_loop_t loop;
  http_client *c;
  int pending;          /* when it drops to 0, the client is freed */
} ctx_t;

/* What done saw, copied out since the result dies with the call. */
typedef struct {
  ctx_t *ctx;
  int calls;
  int error;
  char errmsg[256];
  long status;
  char *body;
  size_t body_len;
  char *url;
  char **names, **values;
  size_t n_headers;
  double duration_ms;
} res_t;

static int in_start;  /* done must never run inside http_start */

static void on_done(void *ud, const http_result *r) {
  res_t *res = ud;
  cr_assert_eq(in_start, 0, "done called from inside http_start");
  res->calls++;
  res->error = r->error;
  memcpy(res->errmsg, r->errmsg, sizeof res->errmsg);
  res->status = r->status;
  cr_assert_eq(r->body[r->body_len], '\0');
  res->body = malloc(r->body_len + 1);
  memcpy(res->body, r->body, r->body_len + 1);
  res->body_len = r->body_len;
  res->url = strdup(r->effective_url);
  res->n_headers = r->n_headers;
  res->names = calloc(r->n_headers + 1, sizeof *res->names);
  res->values = calloc(r->n_headers + 1, sizeof *res->values);
  for (size_t i = 0; i < r->n_headers; i++) {
    res->names[i] = strdup(r->headers[i].name);
    res->values[i] = strdup(r->headers[i].value);
  }
  res->duration_ms = r->duration_ms;
  if (--res->ctx->pending == 0) http_client_free(res->ctx->c);
}

static void res_free(res_t *res) {
  free(res->body);
  free(res->url);
  for (size_t i = 0; i < res->n_headers; i++) {
    free(res->names[i]);
    free(res->values[i]);
  }
  free(res->names);
  free(res->values);
}

static const char *hdr(const res_t *res, const char *name) {
  for (size_t i = 0; i < res->n_headers; i++)
    if (strcmp(res->names[i], name) == 0) return res->values[i];
  return NULL;
}

static void ctx_init(ctx_t *ctx) {
  memset(ctx, 0, sizeof *ctx);
  cr_assert_eq(uv_loop_init(&ctx->loop), 0);
  ctx->c = http_client_new(&ctx->loop);
  cr_assert_not_null(ctx->c);
}

static void ctx_run(ctx_t *ctx) {
  uv_run(&ctx->loop, UV_RUN_DEFAULT);
  cr_assert_eq(uv_loop_close(&ctx->loop), 0);
}

static http_opts opts(const char *url) {
  http_opts o;
  memset(&o, 0, sizeof o);
  o.url = url;
  return o;
}

static http_req *start(ctx_t *ctx, res_t *res, const http_opts *o) {
  char err[256] = "";
  memset(res, 0, sizeof *res);
  res->ctx = ctx;
  in_start = 1;
  http_req *r = http_start(ctx->c, o, on_done, res, err, sizeof err);
  in_start = 0;
  cr_assert_not_null(r, "http_start: %s", err);
  ctx->pending++;
  return r;
}

/* One request on its own loop. */
static void fetch(res_t *res, const http_opts *o) {
  ctx_t ctx;
  ctx_init(&ctx);
  start(&ctx, res, o);
  ctx_run(&ctx);
  cr_assert_eq(res->calls, 1);
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

Test(http, get_ok) {
  res_t res;
  http_opts o = opts(url_of("/ok"));
  fetch(&res, &o);
  cr_assert_eq(res.error, HTTP_OK, "%s", res.errmsg);
  cr_assert_eq(res.status, 200);
  cr_assert_str_eq(res.body, "{\"ok\":true}");
  cr_assert_eq(res.body_len, 11);
  cr_assert_str_eq(hdr(&res, "content-type"), "application/json");
  cr_assert_str_eq(hdr(&res, "x-custom"), "Yes");
  cr_assert_str_eq(hdr(&res, "x-fold"), "one two");
  cr_assert_str_eq(hdr(&res, "content-length"), "11");
  cr_assert_null(hdr(&res, "X-Custom"));
  cr_assert(ends_with(res.url, "/ok"));
  cr_assert_gt(res.duration_ms, 0);
  cr_assert_lt(res.duration_ms, 5000);
  res_free(&res);
}

Test(http, post_echo) {
  res_t res;
  http_header h[] = {{"X-Echo", "abc def"}, {"Content-Type", "text/plain"}};
  http_opts o = opts(url_of("/echo"));
  o.method = "POST";
  o.headers = h;
  o.n_headers = 2;
  o.body = "hello\0world";  /* binary safe */
  o.body_len = 11;
  fetch(&res, &o);
  cr_assert_eq(res.error, HTTP_OK, "%s", res.errmsg);
  cr_assert_eq(res.status, 200);
  cr_assert_str_eq(hdr(&res, "x-method"), "POST");
  cr_assert_str_eq(hdr(&res, "x-echo"), "abc def");
  cr_assert_eq(res.body_len, 11);
  cr_assert_eq(memcmp(res.body, "hello\0world", 11), 0);
  res_free(&res);
}

Test(http, custom_methods) {
  ctx_t ctx;
  res_t put, del, patch, head;
  ctx_init(&ctx);
  http_opts o = opts(url_of("/echo"));
  o.method = "PUT";
  o.body = "data";
  o.body_len = 4;
  start(&ctx, &put, &o);
  o = opts(url_of("/echo"));
  o.method = "DELETE";
  start(&ctx, &del, &o);
  o = opts(url_of("/echo"));
  o.method = "PATCH";
  start(&ctx, &patch, &o);
  o = opts(url_of("/ok"));
  o.method = "HEAD";
  start(&ctx, &head, &o);
  ctx_run(&ctx);

  cr_assert_eq(put.error, HTTP_OK, "%s", put.errmsg);
  cr_assert_str_eq(hdr(&put, "x-method"), "PUT");
  cr_assert_str_eq(put.body, "data");
  cr_assert_eq(del.error, HTTP_OK, "%s", del.errmsg);
  cr_assert_str_eq(hdr(&del, "x-method"), "DELETE");
  cr_assert_eq(del.body_len, 0);
  cr_assert_eq(patch.error, HTTP_OK, "%s", patch.errmsg);
  cr_assert_str_eq(hdr(&patch, "x-method"), "PATCH");
  cr_assert_eq(head.error, HTTP_OK, "%s", head.errmsg);
  cr_assert_eq(head.status, 200);
  cr_assert_eq(head.body_len, 0);
  cr_assert_str_eq(hdr(&head, "content-length"), "11");
  res_free(&put);
  res_free(&del);
  res_free(&patch);
  res_free(&head);
}

Test(http, status_500_is_a_result) {
  res_t res;
  http_opts o = opts(url_of("/status/500"));
  fetch(&res, &o);
  cr_assert_eq(res.error, HTTP_OK);
  cr_assert_eq(res.status, 500);
  cr_assert_str_eq(res.body, "boom");
  res_free(&res);
}

Test(http, timeout) {
  res_t res;
  http_opts o = opts(url_of("/hang"));
  o.timeout_ms = 200;
  fetch(&res, &o);
  cr_assert_eq(res.error, HTTP_ETIMEDOUT, "%d %s", res.error, res.errmsg);
  cr_assert_str_eq(http_error_code(res.error), "ETIMEDOUT");
  cr_assert_neq(res.errmsg[0], '\0');
  cr_assert_geq(res.duration_ms, 150);
  cr_assert_lt(res.duration_ms, 3000);
  res_free(&res);
}

Test(http, slow_body) {
  ctx_t ctx;
  res_t full, cut;
  ctx_init(&ctx);
  http_opts o = opts(url_of("/slow-body"));
  start(&ctx, &full, &o);
  o.timeout_ms = 100;
  start(&ctx, &cut, &o);
  ctx_run(&ctx);
  cr_assert_eq(full.error, HTTP_OK, "%s", full.errmsg);
  cr_assert_str_eq(full.body, "0123456789");
  cr_assert_eq(cut.error, HTTP_ETIMEDOUT, "%d %s", cut.error, cut.errmsg);
  res_free(&full);
  res_free(&cut);
}

Test(http, too_large) {
  ctx_t ctx;
  res_t big, nolen, exact, over;
  ctx_init(&ctx);
  http_opts o = opts(url_of("/big"));
  o.max_response = 1 << 20;
  start(&ctx, &big, &o);
  o.url = url_of("/big-nolen");
  start(&ctx, &nolen, &o);
  o.url = url_of("/ok");
  o.max_response = 11;
  start(&ctx, &exact, &o);
  o.max_response = 10;
  start(&ctx, &over, &o);
  ctx_run(&ctx);
  cr_assert_eq(big.error, HTTP_ETOOLARGE, "%d %s", big.error, big.errmsg);
  cr_assert_eq(nolen.error, HTTP_ETOOLARGE, "%d %s", nolen.error,
               nolen.errmsg);
  cr_assert_str_eq(http_error_code(nolen.error), "ETOOLARGE");
  cr_assert_eq(exact.error, HTTP_OK, "%s", exact.errmsg);
  cr_assert_str_eq(exact.body, "{\"ok\":true}");
  cr_assert_eq(over.error, HTTP_ETOOLARGE, "%d %s", over.error, over.errmsg);
  res_free(&big);
  res_free(&nolen);
  res_free(&exact);
  res_free(&over);
}

Test(http, head_ignores_cap) {
  /* A HEAD reply announces a length but carries no body. */
  res_t res;
  http_opts o = opts(url_of("/big"));
  o.method = "HEAD";
  o.max_response = 1024;
  fetch(&res, &o);
  cr_assert_eq(res.error, HTTP_OK, "%d %s", res.error, res.errmsg);
  cr_assert_eq(res.status, 200);
  cr_assert_eq(res.body_len, 0);
  res_free(&res);
}

Test(http, default_cap_allows_big) {
  res_t res;
  http_opts o = opts(url_of("/big"));
  fetch(&res, &o);
  cr_assert_eq(res.error, HTTP_OK, "%s", res.errmsg);
  cr_assert_eq(res.body_len, BIG_LEN);
  res_free(&res);
}

Test(http, redirects) {
  ctx_t ctx;
  res_t stay, follow, loop, file;
  ctx_init(&ctx);
  http_opts o = opts(url_of("/redirect"));
  start(&ctx, &stay, &o);
  o.follow_redirects = 1;
  start(&ctx, &follow, &o);
  o.url = url_of("/loop");
  o.max_redirects = 3;
  start(&ctx, &loop, &o);
  o.url = url_of("/redirect-file");
  start(&ctx, &file, &o);
  ctx_run(&ctx);

  cr_assert_eq(stay.error, HTTP_OK, "%s", stay.errmsg);
  cr_assert_eq(stay.status, 302);
  cr_assert_str_eq(hdr(&stay, "location"), "/ok");
  cr_assert_str_eq(stay.body, "moved");
  cr_assert(ends_with(stay.url, "/redirect"));

  cr_assert_eq(follow.error, HTTP_OK, "%s", follow.errmsg);
  cr_assert_eq(follow.status, 200);
  cr_assert(ends_with(follow.url, "/ok"), "%s", follow.url);
  cr_assert_str_eq(follow.body, "{\"ok\":true}");
  /* Only the final response's headers. */
  cr_assert_null(hdr(&follow, "location"));
  cr_assert_null(hdr(&follow, "x-hop"));
  cr_assert_str_eq(hdr(&follow, "x-custom"), "Yes");

  cr_assert_eq(loop.error, HTTP_EOTHER, "%d %s", loop.error, loop.errmsg);
  cr_assert_neq(file.error, HTTP_OK);
  res_free(&stay);
  res_free(&follow);
  res_free(&loop);
  res_free(&file);
}

Test(http, connection_refused) {
  /* A port that was free a moment ago. */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof a;
  cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
  close(fd);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/", ntohs(a.sin_port));

  res_t res;
  http_opts o = opts(url);
  fetch(&res, &o);
  cr_assert_eq(res.error, HTTP_ECONNREFUSED, "%d %s", res.error,
               res.errmsg);
  cr_assert_str_eq(http_error_code(res.error), "ECONNREFUSED");
  cr_assert_eq(res.status, 0);
  res_free(&res);
}

Test(http, concurrent_50) {
  enum { N = 50 };
  ctx_t ctx;
  res_t res[N];
  ctx_init(&ctx);
  for (int i = 0; i < N; i++) {
    http_opts o = opts(url_of(i % 2 ? "/ok" : "/echo"));
    if (i % 2 == 0) {
      o.method = "POST";
      o.body = "ping";
      o.body_len = 4;
    }
    start(&ctx, &res[i], &o);
  }
  ctx_run(&ctx);
  for (int i = 0; i < N; i++) {
    cr_assert_eq(res[i].calls, 1);
    cr_assert_eq(res[i].error, HTTP_OK, "%d: %s", i, res[i].errmsg);
    cr_assert_eq(res[i].status, 200);
    cr_assert_str_eq(res[i].body, i % 2 ? "{\"ok\":true}" : "ping");
    res_free(&res[i]);
  }
}

/* done of one request starts the next: done runs outside curl. */
static res_t chain_second;

static void on_chain_first(void *ud, const http_result *r) {
  res_t *res = ud;
  ctx_t *ctx = res->ctx;
  ctx->pending++;  /* on_done must not free the client yet */
  on_done(ud, r);
  http_opts o = opts(url_of("/ok"));
  start(ctx, &chain_second, &o);
  ctx->pending--;
}

Test(http, start_from_done) {
  ctx_t ctx;
  res_t first;
  ctx_init(&ctx);
  memset(&first, 0, sizeof first);
  first.ctx = &ctx;
  http_opts o = opts(url_of("/ok"));
  char err[256];
  cr_assert_not_null(http_start(ctx.c, &o, on_chain_first, &first, err,
                                sizeof err));
  ctx.pending++;
  ctx_run(&ctx);
  cr_assert_eq(first.calls, 1);
  cr_assert_eq(chain_second.calls, 1);
  cr_assert_eq(chain_second.status, 200);
  res_free(&first);
  res_free(&chain_second);
}

/* ---- cancel and free ---- */

typedef struct {
  ctx_t *ctx;
  http_req *req;
  res_t *after;
} cancel_t;

static void on_cancel_timer(uv_timer_t *t) {
  cancel_t *cc = t->data;
  http_cancel(cc->req);
  /* The client still works after a cancel. */
  http_opts o = opts(url_of("/ok"));
  start(cc->ctx, cc->after, &o);
  uv_close((uv_handle_t *)t, NULL);
}

Test(http, cancel_in_flight) {
  ctx_t ctx;
  res_t hang, now, after;
  ctx_init(&ctx);
  http_opts o = opts(url_of("/hang"));
  cancel_t cc = {&ctx, start(&ctx, &hang, &o), &after};
  ctx.pending--;  /* never completes */
  /* Cancelled before the loop ever ran. */
  http_cancel(start(&ctx, &now, &o));
  ctx.pending--;
  uv_timer_t t;
  uv_timer_init(&ctx.loop, &t);
  t.data = &cc;
  uv_timer_start(&t, on_cancel_timer, 100, 0);
  ctx_run(&ctx);
  cr_assert_eq(hang.calls, 0);
  cr_assert_eq(now.calls, 0);
  cr_assert_eq(after.calls, 1);
  cr_assert_eq(after.status, 200);
  res_free(&after);
}

static void on_free_timer(uv_timer_t *t) {
  http_client_free(t->data);
  uv_close((uv_handle_t *)t, NULL);
}

Test(http, free_in_flight) {
  ctx_t ctx;
  res_t res[5];
  ctx_init(&ctx);
  const char *paths[] = {"/hang", "/hang", "/hang", "/slow-body",
                         "/slow-body"};
  for (int i = 0; i < 5; i++) {
    http_opts o = opts(url_of(paths[i]));
    start(&ctx, &res[i], &o);
  }
  uv_timer_t t;
  uv_timer_init(&ctx.loop, &t);
  t.data = ctx.c;
  uv_timer_start(&t, on_free_timer, 50, 0);
  ctx_run(&ctx);
  for (int i = 0; i < 5; i++) cr_assert_eq(res[i].calls, 0);
}

Test(http, free_before_run) {
  ctx_t ctx;
  res_t res;
  ctx_init(&ctx);
  http_opts o = opts(url_of("/ok"));
  start(&ctx, &res, &o);
  http_client_free(ctx.c);
  ctx_run(&ctx);
  cr_assert_eq(res.calls, 0);
}

Test(http, free_idle) {
  ctx_t ctx;
  ctx_init(&ctx);
  http_client_free(ctx.c);
  ctx_run(&ctx);
}

/* ---- protocols, TLS, options ---- */

Test(http, file_url_refused) {
  res_t res;
  http_opts o = opts("file:///etc/passwd");
  fetch(&res, &o);
  cr_assert_eq(res.error, HTTP_EOTHER, "%d %s", res.error, res.errmsg);
  cr_assert_eq(res.status, 0);
  cr_assert_eq(res.body_len, 0);
  res_free(&res);
}

static const char test_ca[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBgjCCASmgAwIBAgIUDE/cUtk7Cj8u64/o+jwVL37KUaQwCgYIKoZIzj0EAwIw\n"
    "FjEUMBIGA1UEAwwLc3VtbWl0LXRlc3QwIBcNMjYxMTI3MDgzOTUxWhgPMjEyNjEx\n"
    "MDMwODM5NTFaMBYxFDASBgNVBAMMC3N1bW1pdC10ZXN0MFkwEwYHKoZIzj0CAQYI\n"
    "KoZIzj0DAQcDQgAEK8Yg59ghjKWpHXiFQ7SgqrNenazdiKIiQZm07LbydD3DCZO5\n"
    "+U08oV/YQxuof4/MxYafJB8hvdjwFmi3dR6n0qNTMFEwHQYDVR0OBBYEFN1gSMzm\n"
    "6J5tCdndwd/MZGHUkHVwMB8GA1UdIwQYMBaAFN1gSMzm6J5tCdndwd/MZGHUkHVw\n"
    "MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIgTbqBTxj+M5i6Ig0r\n"
    "7Nj6UTg70X3uKqFn1mzuip6I5ToCIDzwRpcl+O7FTfHmg52yDvuLHXe2j6GXMyji\n"
    "HGsZ5fqa\n"
    "-----END CERTIFICATE-----\n";

Test(http, https_to_plain_server) {
  ctx_t ctx;
  res_t blob, insecure, cert;
  char url[64];
  snprintf(url, sizeof url, "https://127.0.0.1:%d/ok", srv.port);
  ctx_init(&ctx);
  http_opts o = opts(url);
  o.timeout_ms = 5000;
  o.ca_blob = test_ca;
  o.ca_blob_len = sizeof test_ca - 1;
  start(&ctx, &blob, &o);
  o = opts(url);
  o.timeout_ms = 5000;
  o.insecure = 1;
  start(&ctx, &insecure, &o);
  o = opts(url);
  o.timeout_ms = 5000;
  o.client_cert = "/nonexistent/cert.pem";
  o.client_key = "/nonexistent/key.pem";
  o.ca_file = "/nonexistent/ca.pem";
  start(&ctx, &cert, &o);
  ctx_run(&ctx);
  cr_assert_neq(blob.error, HTTP_OK);
  cr_assert_eq(blob.error, HTTP_ETLS, "%d %s", blob.error, blob.errmsg);
  cr_assert_eq(insecure.error, HTTP_ETLS, "%d %s", insecure.error,
               insecure.errmsg);
  cr_assert_neq(cert.error, HTTP_OK);
  cr_assert_neq(cert.errmsg[0], '\0');
  res_free(&blob);
  res_free(&insecure);
  res_free(&cert);
}

Test(http, unix_socket) {
  res_t res;
  http_opts o = opts("http://localhost/ok");
  o.unix_socket = srv.sock_path;
  fetch(&res, &o);
  cr_assert_eq(res.error, HTTP_OK, "%s", res.errmsg);
  cr_assert_eq(res.status, 200);
  cr_assert_str_eq(res.body, "{\"ok\":true}");
  res_free(&res);
}

Test(http, bad_options) {
  ctx_t ctx;
  char err[256];
  ctx_init(&ctx);
  http_opts o = opts(NULL);
  err[0] = '\0';
  cr_assert_null(http_start(ctx.c, &o, on_done, NULL, err, sizeof err));
  cr_assert_neq(err[0], '\0');

  http_header bad[] = {{"X-Evil", "a\r\nInjected: yes"}};
  o = opts(url_of("/ok"));
  o.headers = bad;
  o.n_headers = 1;
  err[0] = '\0';
  cr_assert_null(http_start(ctx.c, &o, on_done, NULL, err, sizeof err));
  cr_assert_neq(err[0], '\0');

  http_header badname[] = {{"X Bad", "v"}};
  o.headers = badname;
  cr_assert_null(http_start(ctx.c, &o, on_done, NULL, err, sizeof err));

  o = opts(url_of("/ok"));
  o.method = "GE T";
  cr_assert_null(http_start(ctx.c, &o, on_done, NULL, err, sizeof err));
  o.method = "HEAD";
  o.body = "x";
  o.body_len = 1;
  cr_assert_null(http_start(ctx.c, &o, on_done, NULL, err, sizeof err));
  /* No errmsg buffer is fine too. */
  o.method = NULL;
  o.body = NULL;
  o.url = NULL;
  cr_assert_null(http_start(ctx.c, &o, on_done, NULL, NULL, 0));

  http_client_free(ctx.c);
  ctx_run(&ctx);
}

Test(http, error_codes) {
  cr_assert_str_eq(http_error_code(HTTP_OK), "OK");
  cr_assert_str_eq(http_error_code(HTTP_ERESOLVE), "ERESOLVE");
  cr_assert_str_eq(http_error_code(HTTP_ETLS), "ETLS");
  cr_assert_str_eq(http_error_code(HTTP_ECANCELED), "ECANCELED");
  cr_assert_str_eq(http_error_code(HTTP_EOTHER), "EOTHER");
  cr_assert_str_eq(http_error_code(999), "EOTHER");
}

/* ---- raw connections (http_raw_open) ---- */

typedef struct {
  http_raw *raw;
  int opens, ends, end_error;
  char got[8192];
  size_t n;
  const char *close_when;   /* close from inside on_data once seen */
} raw_t;

static void raw_open_cb(void *ud) {
  raw_t *t = ud;
  t->opens++;
}

static void raw_data_cb(void *ud, const char *data, size_t len) {
  raw_t *t = ud;
  if (t->n + len < sizeof t->got) {
    memcpy(t->got + t->n, data, len);
    t->n += len;
    t->got[t->n] = '\0';
  }
  if (t->close_when && strstr(t->got, t->close_when)) {
    http_raw_close(t->raw);
    t->raw = NULL;
    t->close_when = NULL;
  }
}

static void raw_end_cb(void *ud, int error, const char *msg) {
  raw_t *t = ud;
  t->ends++;
  t->end_error = error;
  (void)msg;
  http_raw_close(t->raw);
  t->raw = NULL;
}

static const http_raw_cbs raw_cbs = {raw_open_cb, raw_data_cb, raw_end_cb};

/* Our own request over curl's connection, queued before it is connected;
 * closed from inside on_data once the answer is in: no callback after. */
Test(http, raw_connection) {
  uv_loop_t loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  raw_t t;
  memset(&t, 0, sizeof t);
  t.close_when = "{\"ok\":true}";
  http_opts o = opts(url_of("/ok"));
  char err[256] = "";
  t.raw = http_raw_open(&loop, &o, &raw_cbs, &t, err, sizeof err);
  cr_assert_not_null(t.raw, "%s", err);
  const char *req = "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n";
  cr_assert_eq(http_raw_send(t.raw, req, strlen(req)), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_eq(uv_loop_close(&loop), 0);
  cr_assert_eq(t.opens, 1);
  cr_assert_eq(t.ends, 0, "no callback after close");
  cr_assert(!strncmp(t.got, "HTTP/1.1 200 OK\r\n", 17), "%s", t.got);
  cr_assert(strstr(t.got, "{\"ok\":true}"), "%s", t.got);
}

/* The peer answers and closes: on_end with error 0. */
Test(http, raw_peer_eof) {
  uv_loop_t loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  raw_t t;
  memset(&t, 0, sizeof t);
  http_opts o = opts(url_of("/"));
  t.raw = http_raw_open(&loop, &o, &raw_cbs, &t, NULL, 0);
  cr_assert_not_null(t.raw);
  http_raw_send(t.raw, "\x16hello", 6);   /* "TLS": a 400, then close */
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_eq(uv_loop_close(&loop), 0);
  cr_assert_eq(t.opens, 1);
  cr_assert_eq(t.ends, 1);
  cr_assert_eq(t.end_error, HTTP_OK);
  cr_assert(!strncmp(t.got, "HTTP/1.1 400", 12), "%s", t.got);
}

Test(http, raw_refused_and_closed_early) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof a;
  cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
  close(fd);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/", ntohs(a.sin_port));
  uv_loop_t loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  raw_t t;
  memset(&t, 0, sizeof t);
  http_opts o = opts(url);
  t.raw = http_raw_open(&loop, &o, &raw_cbs, &t, NULL, 0);
  cr_assert_not_null(t.raw);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_eq(t.opens, 0);
  cr_assert_eq(t.ends, 1);
  cr_assert_eq(t.end_error, HTTP_ECONNREFUSED, "%d", t.end_error);
  /* Closed before it connects: nothing runs, nothing leaks. */
  raw_t u;
  memset(&u, 0, sizeof u);
  http_opts o2 = opts(url_of("/ok"));
  u.raw = http_raw_open(&loop, &o2, &raw_cbs, &u, NULL, 0);
  cr_assert_not_null(u.raw);
  http_raw_close(u.raw);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_eq(u.opens + u.ends, 0);
  cr_assert_eq(uv_loop_close(&loop), 0);
}
