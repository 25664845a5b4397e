/* HTTP requests on libcurl's multi_socket API, driven by the libuv loop
 * (see http.h).
 *
 * The shape follows curl's docs/examples/multi-uv.c without its bugs: one
 * http_client holds the loop, the CURLM and one uv_timer_t for curl's
 * timeout; every socket curl wants watched gets a uv_poll_t (a sock_ctx,
 * found again through curl_multi_assign) that is freed only in its close
 * callback. After every curl_multi_socket_action the finished transfers are
 * drained (CURLMSG_DONE) and each request's done callback runs; the request
 * is found through CURLINFO_PRIVATE.
 *
 * Timer rules: -1 stops the timer, 0 starts it with no delay (curl#17144:
 * turning 0 into 1 ms slows every request down) and never calls curl from
 * inside its own callback. Since curl only reports a timeout when it
 * changes, and libuv may fire a timer a little before curl's clock agrees,
 * the timer is re-armed from curl_multi_timeout whenever it fired and curl
 * did not set a new one.
 *
 * done only ever runs from a libuv callback, never from http_start:
 * curl_multi_add_handle merely asks for a 0 ms timeout, which goes through
 * the uv timer. http_cancel and http_client_free drop transfers without
 * calling done.
 *
 * The embedding program must ignore SIGPIPE; CURLOPT_NOSIGNAL keeps curl
 * from installing handlers of its own. */
#include "io/http.h"

#include <assert.h>
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "io/curl_lazy.h"  /* <curl/curl.h>, loaded on first use */

#define DEFAULT_MAX_RESPONSE ((size_t)16 << 20)
#define DEFAULT_MAX_REDIRECTS 10L
#define BODY_CHUNK 16384
/* Connection set-up retries (http_opts.retry): waits of 25, 50, 100, 200,
 * then 400 ms between attempts, while the request's timeout leaves room;
 * without a timeout, at most RETRY_MAX_UNTIMED attempts. */
#define RETRY_FIRST_MS 25
#define RETRY_MAX_WAIT_MS 400
#define RETRY_MAX_UNTIMED 5

typedef struct sock_ctx sock_ctx;

static void raw_connected(http_raw *w);

/* One watched socket. Linked into its client until uv_close is called on
 * it, so http_client_free can close whatever curl did not remove. */
struct sock_ctx {
  uv_poll_t poll;
  curl_socket_t fd;
  http_client *c;
  sock_ctx *prev, *next;
};

struct http_client {
  uv_loop_t *loop;
  CURLM *multi;
  uv_timer_t timer;
  http_req *reqs;     /* transfers in flight */
  sock_ctx *socks;    /* polls not yet closing */
  int nopen;          /* handles not yet through their close callback */
  int nfailed;        /* requests whose socket could not be watched */
  int closing;        /* http_client_free was called */
  long max_per_host;  /* CURLMOPT_MAX_HOST_CONNECTIONS now set */
  long max_total;     /* CURLMOPT_MAX_TOTAL_CONNECTIONS now set */
};

struct http_req {
  http_client *c;
  CURL *easy;
  http_done_cb done;
  void *ud;
  struct curl_slist *hdrs;  /* request headers, kept until cleanup */
  http_req *prev, *next;

  char *body;               /* response body, NUL-terminated once any */
  size_t body_len, body_size;
  size_t max_response;
  void (*on_data)(void *ud, const char *data, size_t len);
  void *data_ud;
  http_header *rh;          /* response headers; name and value share one
                               allocation, starting at name */
  size_t n_rh, rh_size;

  int too_large;            /* the write callback refused more body */
  int len_checked;          /* Content-Length compared with the cap */
  int oom;                  /* a callback ran out of memory */
  int uv_err;               /* the socket could not be watched */
  int in_done;              /* done is running: http_cancel is a no-op */
  http_raw *raw;            /* a connect-only transfer of http_raw_open */
  int got_bytes;            /* a byte of a response arrived */
  int retry;                /* http_opts.retry */
  int idempotent;           /* http_opts.idempotent */
  int attempts;             /* connection attempts made so far */
  int waiting;              /* out of the multi until retry_timer fires */
  int timer_open;           /* retry_timer initialised: freed on close */
  uint64_t timeout_ms;      /* the whole request's, over every attempt */
  CURLcode last_rc;         /* the failure the retry would hide */
  uv_timer_t retry_timer;
  uint64_t t0;
  char errbuf[CURL_ERROR_SIZE];
};

const char *http_error_code(int error) {
  switch (error) {
  case HTTP_OK: return "OK";
  case HTTP_ETIMEDOUT: return "ETIMEDOUT";
  case HTTP_ECONNREFUSED: return "ECONNREFUSED";
  case HTTP_ERESOLVE: return "ERESOLVE";
  case HTTP_ETLS: return "ETLS";
  case HTTP_ETOOLARGE: return "ETOOLARGE";
  case HTTP_ECANCELED: return "ECANCELED";
  default: return "EOTHER";
  }
}

/* ---- response collection (curl callbacks) ---- */

static void free_headers(http_req *r) {
  for (size_t i = 0; i < r->n_rh; i++) free((char *)r->rh[i].name);
  r->n_rh = 0;
}

static const char *find_header(const http_req *r, const char *name) {
  for (size_t i = 0; i < r->n_rh; i++)
    if (strcmp(r->rh[i].name, name) == 0) return r->rh[i].value;
  return NULL;
}

/* Whether the announced length already exceeds the cap. Checked here, once
 * the body flows, rather than with CURLOPT_MAXFILESIZE, which also fails
 * HEAD and 304 replies that merely announce a length. A compressed length
 * says nothing certain about the decoded one. */
static int announced_too_large(http_req *r) {
  curl_off_t cl = -1;
  if (find_header(r, "content-encoding")) return 0;
  if (curl_easy_getinfo(r->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl))
    return 0;
  return cl > 0 && (uint64_t)cl > (uint64_t)r->max_response;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
  http_req *r = ud;
  size_t len = size * n;
  r->got_bytes = 1;
  if (r->on_data) {
    if (len) r->on_data(r->data_ud, p, len);
    return len;
  }
  if (!r->len_checked) {
    r->len_checked = 1;
    if (announced_too_large(r)) {
      r->too_large = 1;
      return 0;
    }
  }
  if (len > r->max_response - r->body_len) {
    /* A short count makes curl abort with CURLE_WRITE_ERROR. */
    r->too_large = 1;
    return 0;
  }
  if (r->body_len + len + 1 > r->body_size) {
    size_t ns = r->body_size ? r->body_size : BODY_CHUNK;
    while (ns < r->body_len + len + 1) ns *= 2;
    if (ns > r->max_response + 1) ns = r->max_response + 1;
    char *nb = realloc(r->body, ns);
    if (!nb) {
      r->oom = 1;
      return 0;
    }
    r->body = nb;
    r->body_size = ns;
  }
  memcpy(r->body + r->body_len, p, len);
  r->body_len += len;
  r->body[r->body_len] = '\0';
  return len;
}

static int is_ws(char ch) {
  return ch == ' ' || ch == '\t';
}

/* Appends a folded continuation line to the last header's value. */
static int fold_header(http_req *r, const char *p, size_t len) {
  http_header *h = &r->rh[r->n_rh - 1];
  size_t nl = strlen(h->name), vl = strlen(h->value);
  char *s = realloc((char *)h->name, nl + 1 + vl + 1 + len + 1);
  if (!s) return -1;
  char *v = s + nl + 1;
  v[vl] = ' ';
  memcpy(v + vl + 1, p, len);
  v[vl + 1 + len] = '\0';
  h->name = s;
  h->value = v;
  return 0;
}

static int add_header(http_req *r, const char *p, size_t len) {
  const char *colon = memchr(p, ':', len);
  if (!colon || colon == p) return 0;  /* not a header: ignore it */
  size_t nl = (size_t)(colon - p);
  while (nl > 0 && is_ws(p[nl - 1])) nl--;
  const char *v = colon + 1, *end = p + len;
  while (v < end && is_ws(*v)) v++;
  size_t vl = (size_t)(end - v);

  if (r->n_rh == r->rh_size) {
    size_t ns = r->rh_size ? r->rh_size * 2 : 16;
    http_header *nh = realloc(r->rh, ns * sizeof *nh);
    if (!nh) return -1;
    r->rh = nh;
    r->rh_size = ns;
  }
  char *s = malloc(nl + 1 + vl + 1);
  if (!s) return -1;
  for (size_t i = 0; i < nl; i++) s[i] = (char)tolower((unsigned char)p[i]);
  s[nl] = '\0';
  memcpy(s + nl + 1, v, vl);
  s[nl + 1 + vl] = '\0';
  r->rh[r->n_rh].name = s;
  r->rh[r->n_rh].value = s + nl + 1;
  r->n_rh++;
  return 0;
}

/* curl hands over one whole header line at a time, status lines of
 * interim (1xx), proxy and redirect responses included. */
static size_t on_header(char *p, size_t size, size_t n, void *ud) {
  http_req *r = ud;
  size_t len = size * n, total = len;
  r->got_bytes = 1;
  if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
    /* A new response begins: only the final one's headers and body are
     * reported. */
    free_headers(r);
    r->len_checked = 0;
    r->body_len = 0;
    if (r->body) r->body[0] = '\0';
    return total;
  }
  while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == '\n')) len--;
  while (len > 0 && is_ws(p[len - 1])) len--;
  if (len == 0) return total;
  int rc;
  if (is_ws(p[0])) {
    size_t i = 0;
    while (i < len && is_ws(p[i])) i++;
    rc = r->n_rh ? fold_header(r, p + i, len - i) : 0;
  } else {
    rc = add_header(r, p, len);
  }
  if (rc < 0) {
    r->oom = 1;
    return 0;  /* aborts the transfer */
  }
  return total;
}

/* ---- requests ---- */

static void unlink_req(http_req *r) {
  http_client *c = r->c;
  assert(r->prev ? r->prev->next == r : c->reqs == r);
  if (r->prev) r->prev->next = r->next;
  else c->reqs = r->next;
  if (r->next) r->next->prev = r->prev;
  r->prev = r->next = NULL;
}

static void free_req_now(http_req *r) {
  if (r->easy) curl_easy_cleanup(r->easy);
  curl_slist_free_all(r->hdrs);
  free_headers(r);
  free(r->rh);
  free(r->body);
  free(r);
}

static void on_retry_timer_close(uv_handle_t *h) { free_req_now(h->data); }

/* Frees a request already out of the list and the multi handle; one that
 * ever waited to retry is freed once its timer is closed. */
static void free_req(http_req *r) {
  assert(!r->prev && !r->next && r->c->reqs != r);
  if (!r->timer_open) {
    free_req_now(r);
    return;
  }
  uv_timer_stop(&r->retry_timer);
  uv_close((uv_handle_t *)&r->retry_timer, on_retry_timer_close);
}

static int map_error(const http_req *r, CURLcode rc) {
  if (r->uv_err) return HTTP_EOTHER;
  switch (rc) {
  case CURLE_OK: return HTTP_OK;
  case CURLE_OPERATION_TIMEDOUT: return HTTP_ETIMEDOUT;
  case CURLE_COULDNT_CONNECT: return HTTP_ECONNREFUSED;
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY: return HTTP_ERESOLVE;
  case CURLE_WRITE_ERROR:
    return r->too_large && !r->oom ? HTTP_ETOOLARGE : HTTP_EOTHER;
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_ENGINE_NOTFOUND:
  case CURLE_SSL_ENGINE_SETFAILED:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_ENGINE_INITFAILED:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_SHUTDOWN_FAILED:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_CLIENTCERT:
  case CURLE_USE_SSL_FAILED:
    return HTTP_ETLS;
  default: return HTTP_EOTHER;
  }
}

/* Reports a finished transfer and frees it. The easy handle is already out
 * of the multi, so done may start, cancel or free anything; it is cleaned
 * up only afterwards because the effective URL lives in it. */
static void finish(http_req *r, CURLcode rc) {
  static char empty[1];
  http_result res;
  memset(&res, 0, sizeof res);
  res.error = map_error(r, rc);
  if (res.error != HTTP_OK) {
    if (r->uv_err)
      snprintf(res.errmsg, sizeof res.errmsg, "cannot watch socket: %s",
               uv_strerror(r->uv_err));
    else if (res.error == HTTP_ETOOLARGE)
      snprintf(res.errmsg, sizeof res.errmsg,
               "response body larger than %zu bytes", r->max_response);
    else if (r->oom)
      snprintf(res.errmsg, sizeof res.errmsg, "out of memory");
    else
      snprintf(res.errmsg, sizeof res.errmsg, "%s",
               r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
  }
  long status = 0;
  char *url = NULL;
  curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(r->easy, CURLINFO_EFFECTIVE_URL, &url);
  res.status = status;
  res.headers = r->rh;
  res.n_headers = r->n_rh;
  res.body = r->body ? r->body : empty;
  res.body_len = r->body_len;
  res.duration_ms = (double)(uv_hrtime() - r->t0) / 1e6;
  res.attempts = r->attempts;
  res.effective_url = url ? url : empty;
  assert(!r->in_done && !r->waiting && r->done);
  r->in_done = 1;
  r->done(r->ud, &res);
  free_req(r);
}

/* Whether the failed attempt may be made again: a connection that could
 * not be set up (refused, or reset or timed out while connecting: no byte
 * of the request left), or, for an idempotent request only, a connection
 * that ended before any byte of a response came back (the request may
 * have reached the server). A listen queue that overflows yields both. */
static int retryable(const http_req *r, CURLcode rc) {
  if (!r->retry || r->raw || r->uv_err || r->oom || r->got_bytes) return 0;
  curl_off_t connected = 0;
  switch (rc) {
  case CURLE_COULDNT_CONNECT: return 1;
  case CURLE_OPERATION_TIMEDOUT:
    /* Timed out while connecting: CURLOPT_CONNECTTIMEOUT_MS of this
     * attempt, or the whole timeout (then no time is left to retry). */
    curl_easy_getinfo(r->easy, CURLINFO_CONNECT_TIME_T, &connected);
    return connected == 0;
  case CURLE_GOT_NOTHING:
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
    return r->idempotent;
  default: return 0;
  }
}

static void on_retry_timer(uv_timer_t *t);

/* Puts a failed attempt back after a short wait, with what is left of the
 * request's timeout. Returns 0 when no attempt is left (r untouched). The
 * request stays in the client's list (cancel and free find it) but out of
 * the multi while it waits. */
static int schedule_retry(http_req *r, CURLcode rc) {
  http_client *c = r->c;
  assert(r->attempts >= 1 && !r->waiting);
  int shift = r->attempts - 1 < 4 ? r->attempts - 1 : 4;
  uint64_t wait = (uint64_t)RETRY_FIRST_MS << shift;
  if (wait > RETRY_MAX_WAIT_MS) wait = RETRY_MAX_WAIT_MS;
  if (r->timeout_ms) {
    uint64_t spent = (uv_hrtime() - r->t0) / 1000000u;
    /* Worth it only if the next attempt has at least as long as the wait. */
    if (spent + 2 * wait >= r->timeout_ms) return 0;
    if (curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS,
                         (long)(r->timeout_ms - spent - wait)) != CURLE_OK)
      return 0;
  } else if (r->attempts >= RETRY_MAX_UNTIMED) {
    return 0;
  }
  if (!r->timer_open) {
    if (uv_timer_init(c->loop, &r->retry_timer) != 0) return 0;
    r->retry_timer.data = r;
    r->timer_open = 1;
  }
  r->errbuf[0] = '\0';
  r->last_rc = rc;
  r->waiting = 1;
  uv_timer_start(&r->retry_timer, on_retry_timer, wait, 0);
  return 1;
}

static void on_retry_timer(uv_timer_t *t) {
  http_req *r = t->data;
  http_client *c = r->c;
  assert(r->waiting);
  r->waiting = 0;
  r->attempts++;
  if (curl_multi_add_handle(c->multi, r->easy) != CURLM_OK) {
    unlink_req(r);
    finish(r, r->last_rc);
  }
}

/* Reports every transfer curl has finished. Run after each
 * curl_multi_socket_action; stops as soon as a done callback frees the
 * client (the multi handle is gone then). */
static void check_done(http_client *c) {
  CURLMsg *msg;
  int left;
  while (!c->closing && (msg = curl_multi_info_read(c->multi, &left))) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL *easy = msg->easy_handle;
    CURLcode rc = msg->data.result;  /* msg dies with remove_handle */
    char *priv = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
    http_req *r = (http_req *)priv;
    assert(r && r->easy == easy);
    if (r->raw && rc == CURLE_OK && !r->uv_err) {
      /* Connected: the handle stays in the multi, which owns the
       * connection; the bytes are ours from now on. */
      raw_connected(r->raw);
      continue;
    }
    curl_multi_remove_handle(c->multi, easy);
    if (retryable(r, rc) && schedule_retry(r, rc)) continue;
    unlink_req(r);
    finish(r, rc);
  }
  /* Requests whose socket libuv refused would otherwise wait forever. */
  while (!c->closing && c->nfailed > 0) {
    http_req *r = c->reqs;
    while (r && !r->uv_err) r = r->next;
    if (!r) {
      c->nfailed = 0;
      break;
    }
    c->nfailed--;
    unlink_req(r);
    curl_multi_remove_handle(c->multi, r->easy);
    finish(r, CURLE_OK);
  }
}

/* ---- sockets and the timer ---- */

static void maybe_free_client(http_client *c) {
  if (c->closing && c->nopen == 0) free(c);
}

static void on_poll_close(uv_handle_t *h) {
  sock_ctx *s = h->data;
  http_client *c = s->c;
  free(s);
  c->nopen--;
  maybe_free_client(c);
}

static void on_timer_close(uv_handle_t *h) {
  http_client *c = h->data;
  c->nopen--;
  maybe_free_client(c);
}

static void close_sock(sock_ctx *s) {
  http_client *c = s->c;
  if (s->prev) s->prev->next = s->next;
  else c->socks = s->next;
  if (s->next) s->next->prev = s->prev;
  s->prev = s->next = NULL;
  uv_close((uv_handle_t *)&s->poll, on_poll_close);
}

static void on_timeout(uv_timer_t *t);

static void start_timer(http_client *c, long ms) {
  uv_timer_start(&c->timer, on_timeout, (uint64_t)ms, 0);
}

static void on_timeout(uv_timer_t *t) {
  http_client *c = t->data;  /* set in http_client_new (curl#19462) */
  int running;
  curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_done(c);
  /* curl reports a deadline only when it changes; if it was not yet due
   * by curl's clock, nobody would wake us again. */
  if (c->closing || uv_is_active((uv_handle_t *)&c->timer)) return;
  long ms = -1;
  if (curl_multi_timeout(c->multi, &ms) == CURLM_OK && ms >= 0)
    start_timer(c, ms);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  sock_ctx *s = h->data;
  http_client *c = s->c;
  int flags = 0, running;
  if (status < 0) flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  /* s may be closed by curl from here on. */
  curl_multi_socket_action(c->multi, s->fd, flags, &running);
  check_done(c);
}

/* CURLMOPT_TIMERFUNCTION. Never calls curl back from in here. */
static int on_curl_timer(CURLM *m, long ms, void *ud) {
  http_client *c = ud;
  (void)m;
  if (c->closing) return 0;
  if (ms < 0) uv_timer_stop(&c->timer);
  else start_timer(c, ms);  /* 0: on the next loop iteration */
  return 0;
}

/* Marks the transfer that owns a socket libuv would not watch; check_done
 * ends it right after the current curl_multi_socket_action. */
static void fail_socket(http_client *c, CURL *easy, int err) {
  char *priv = NULL;
  curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
  http_req *r = (http_req *)priv;
  if (r && !r->uv_err) {
    r->uv_err = err;
    c->nfailed++;
    if (!uv_is_active((uv_handle_t *)&c->timer)) start_timer(c, 0);
  }
}

/* CURLMOPT_SOCKETFUNCTION: watch, re-watch or forget a socket. */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *ud,
                          void *sockp) {
  http_client *c = ud;
  sock_ctx *s = sockp;
  if (what == CURL_POLL_REMOVE) {
    if (s) {
      uv_poll_stop(&s->poll);
      close_sock(s);
      curl_multi_assign(c->multi, fd, NULL);
    }
    return 0;
  }
  if (c->closing) return 0;
  int events = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= UV_READABLE;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= UV_WRITABLE;
  if (!s) {
    s = calloc(1, sizeof *s);
    if (!s) {
      fail_socket(c, easy, UV_ENOMEM);
      return 0;
    }
    int err = uv_poll_init_socket(c->loop, &s->poll, fd);
    if (err < 0) {
      free(s);
      fail_socket(c, easy, err);
      return 0;
    }
    s->poll.data = s;
    s->fd = fd;
    s->c = c;
    s->next = c->socks;
    if (c->socks) c->socks->prev = s;
    c->socks = s;
    c->nopen++;
    curl_multi_assign(c->multi, fd, s);
  }
  if (events == 0) {
    uv_poll_stop(&s->poll);
  } else {
    int err = uv_poll_start(&s->poll, events, on_poll);
    if (err < 0) fail_socket(c, easy, err);
  }
  return 0;
}

/* ---- public API ---- */

const char *http_client_error(void) {
  const char *why = curl_lazy_load();
  return why ? why : "out of memory";
}

http_client *http_client_new(uv_loop_t *loop) {
  if (curl_lazy_load()) return NULL;  /* the first client loads libcurl */
  http_client *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->loop = loop;
  c->multi = curl_multi_init();
  if (!c->multi) {
    free(c);
    return NULL;
  }
  uv_timer_init(loop, &c->timer);
  c->timer.data = c;
  c->nopen = 1;
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
  http_client_limits(c, HTTP_DEFAULT_MAX_PER_HOST, 0);
  return c;
}

void http_client_limits(http_client *c, long max_per_host, long max_total) {
  if (!c || c->closing) return;
  if (max_per_host < 0) max_per_host = 0;
  if (max_total < 0) max_total = 0;
  if (max_per_host != c->max_per_host &&
      curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                        max_per_host) == CURLM_OK)
    c->max_per_host = max_per_host;
  if (max_total != c->max_total &&
      curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                        max_total) == CURLM_OK)
    c->max_total = max_total;
}

/* Drops every transfer without a callback, lets curl close its sockets,
 * then closes the timer and any poll left; the client is freed by the
 * last close callback, so the caller must run the loop afterwards (until
 * uv_loop_close succeeds). Safe from inside a done callback. */
void http_client_free(http_client *c) {
  if (!c || c->closing) return;
  /* Polls curl removes during the teardown are still closed; nothing
   * else is started. */
  c->closing = 1;
  while (c->reqs) {
    http_req *r = c->reqs;
    unlink_req(r);
    if (!r->waiting) curl_multi_remove_handle(c->multi, r->easy);
    free_req(r);
  }
  curl_multi_cleanup(c->multi);
  c->multi = NULL;
  while (c->socks) {
    uv_poll_stop(&c->socks->poll);
    close_sock(c->socks);
  }
  uv_timer_stop(&c->timer);
  uv_close((uv_handle_t *)&c->timer, on_timer_close);
}

static void set_err(char *errmsg, size_t errlen, const char *what,
                    const char *detail) {
  if (errmsg && errlen > 0)
    snprintf(errmsg, errlen, "%s%s%s", what, detail ? ": " : "",
             detail ? detail : "");
}

static int is_token(const char *s) {
  if (!s || !*s) return 0;
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (!isalnum(ch) && !strchr("!#$%&'*+-.^_`|~", ch)) return 0;
  }
  return 1;
}

static int has_crlf(const char *s) {
  return strpbrk(s, "\r\n") != NULL;
}

/* Builds the request header list. A NULL value removes a header curl would
 * add; an empty one is sent empty ("name;" in curl's syntax). */
static const char *build_headers(http_req *r, const http_opts *o) {
  int has_expect = 0;
  for (size_t i = 0; i < o->n_headers; i++) {
    const http_header *h = &o->headers[i];
    if (!is_token(h->name)) return "bad header name";
    if (h->value && has_crlf(h->value)) return "bad header value";
    if (strcasecmp(h->name, "expect") == 0) has_expect = 1;
    size_t nl = strlen(h->name), vl = h->value ? strlen(h->value) : 0;
    char *line = malloc(nl + vl + 3);
    if (!line) return "out of memory";
    if (!h->value) sprintf(line, "%s:", h->name);
    else if (!*h->value) sprintf(line, "%s;", h->name);
    else sprintf(line, "%s: %s", h->name, h->value);
    struct curl_slist *l = curl_slist_append(r->hdrs, line);
    free(line);
    if (!l) return "out of memory";
    r->hdrs = l;
  }
  if (!has_expect) {
    /* No "Expect: 100-continue" on large bodies: a server that ignores it
     * would cost a second of waiting. */
    struct curl_slist *l = curl_slist_append(r->hdrs, "Expect:");
    if (!l) return "out of memory";
    r->hdrs = l;
  }
  return NULL;
}

/* Sets the method and the body. Without a body, POST, PUT and PATCH still
 * send "Content-Length: 0", which servers commonly require. */
static CURLcode set_method(CURL *e, const http_opts *o, const char **why) {
  const char *m = o->method ? o->method : "GET";
  CURLcode rc = CURLE_OK;
  int is_get = strcmp(m, "GET") == 0, is_post = strcmp(m, "POST") == 0;
  if (!is_token(m)) {
    *why = "bad method";
    return CURLE_BAD_FUNCTION_ARGUMENT;
  }
  if (!o->body && o->body_len) {
    *why = "body_len without body";
    return CURLE_BAD_FUNCTION_ARGUMENT;
  }
  if (strcmp(m, "HEAD") == 0) {
    if (o->body) {
      *why = "a HEAD request cannot have a body";
      return CURLE_BAD_FUNCTION_ARGUMENT;
    }
    return curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  }
  if (o->body || is_post || !strcmp(m, "PUT") || !strcmp(m, "PATCH")) {
    rc = curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                          (curl_off_t)o->body_len);
    /* COPYPOSTFIELDS copies exactly POSTFIELDSIZE bytes. */
    if (!rc)
      rc = curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, o->body ? o->body : "");
    if (!rc && !is_post) rc = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
  } else if (is_get) {
    rc = curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else {
    rc = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
  }
  if (rc) *why = "method or body";
  return rc;
}

static long clamp_ms(uint64_t ms) {
  return ms > (uint64_t)LONG_MAX ? LONG_MAX : (long)ms;
}

/* Applies every option; returns what failed, or NULL. */
static const char *setup(http_req *r, const http_opts *o, CURLcode *rc) {
  CURL *e = r->easy;
  const char *why = NULL;
#define SET(opt, val)                                             \
  do {                                                            \
    if ((*rc = curl_easy_setopt(e, opt, val)) != CURLE_OK)        \
      return #opt;                                                \
  } while (0)

  SET(CURLOPT_PRIVATE, (void *)r);
  SET(CURLOPT_ERRORBUFFER, r->errbuf);
  SET(CURLOPT_NOSIGNAL, 1L);
  SET(CURLOPT_URL, o->url);
#if LIBCURL_VERSION_NUM >= 0x075500
  SET(CURLOPT_PROTOCOLS_STR, "http,https");
  SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
  SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
  SET(CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  SET(CURLOPT_WRITEFUNCTION, on_body);
  SET(CURLOPT_WRITEDATA, (void *)r);
  SET(CURLOPT_HEADERFUNCTION, on_header);
  SET(CURLOPT_HEADERDATA, (void *)r);
  SET(CURLOPT_ACCEPT_ENCODING, "");
  SET(CURLOPT_USERAGENT, "summit");
  if (o->timeout_ms) SET(CURLOPT_TIMEOUT_MS, clamp_ms(o->timeout_ms));
  if (o->connect_timeout_ms)
    SET(CURLOPT_CONNECTTIMEOUT_MS, clamp_ms(o->connect_timeout_ms));
  if (o->follow_redirects) {
    SET(CURLOPT_FOLLOWLOCATION, 1L);
    SET(CURLOPT_MAXREDIRS, o->max_redirects > 0 ? o->max_redirects
                                                : DEFAULT_MAX_REDIRECTS);
  }
  if (o->insecure) {
    SET(CURLOPT_SSL_VERIFYPEER, 0L);
    SET(CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (o->ca_file) SET(CURLOPT_CAINFO, o->ca_file);
  if (o->ca_blob) {
#if LIBCURL_VERSION_NUM >= 0x074d00
    struct curl_blob blob;
    blob.data = (void *)o->ca_blob;
    blob.len = o->ca_blob_len;
    blob.flags = CURL_BLOB_COPY;
    SET(CURLOPT_CAINFO_BLOB, &blob);
#else
    *rc = CURLE_NOT_BUILT_IN;
    return "CURLOPT_CAINFO_BLOB";
#endif
  }
  if (o->client_cert) SET(CURLOPT_SSLCERT, o->client_cert);
  if (o->client_key) SET(CURLOPT_SSLKEY, o->client_key);
  /* Client certificates from a kubeconfig's *-data: kept in memory, never
   * written to a file. */
  if (o->client_cert_blob) {
    struct curl_blob blob = {(void *)o->client_cert_blob,
                             o->client_cert_blob_len, CURL_BLOB_COPY};
    SET(CURLOPT_SSLCERT_BLOB, &blob);
    SET(CURLOPT_SSLCERTTYPE, "PEM");
  }
  if (o->client_key_blob) {
    struct curl_blob blob = {(void *)o->client_key_blob,
                             o->client_key_blob_len, CURL_BLOB_COPY};
    SET(CURLOPT_SSLKEY_BLOB, &blob);
    SET(CURLOPT_SSLKEYTYPE, "PEM");
  }
  if (o->unix_socket) SET(CURLOPT_UNIX_SOCKET_PATH, o->unix_socket);
  if (o->connect_only) SET(CURLOPT_CONNECT_ONLY, 1L);

  if ((why = build_headers(r, o)) != NULL) {
    *rc = CURLE_BAD_FUNCTION_ARGUMENT;
    return why;
  }
  SET(CURLOPT_HTTPHEADER, r->hdrs);
  if ((*rc = set_method(e, o, &why)) != CURLE_OK) return why;
#undef SET
  return NULL;
}

http_req *http_start(http_client *c, const http_opts *o, http_done_cb done,
                     void *ud, char *errmsg, size_t errlen) {
  if (!c || c->closing) {
    set_err(errmsg, errlen, "client is closed", NULL);
    return NULL;
  }
  if (!o || !o->url || !done) {
    set_err(errmsg, errlen, o && o->url ? "no callback" : "no url", NULL);
    return NULL;
  }
  http_req *r = calloc(1, sizeof *r);
  if (!r) {
    set_err(errmsg, errlen, "out of memory", NULL);
    return NULL;
  }
  r->c = c;
  r->done = done;
  r->ud = ud;
  r->max_response = o->max_response ? o->max_response : DEFAULT_MAX_RESPONSE;
  r->on_data = o->on_data;
  r->data_ud = o->data_ud;
  r->retry = o->retry;
  r->idempotent = o->idempotent;
  r->timeout_ms = o->timeout_ms;
  r->attempts = 1;
  r->easy = curl_easy_init();
  if (!r->easy) {
    set_err(errmsg, errlen, "curl_easy_init failed", NULL);
    free_req(r);
    return NULL;
  }
  CURLcode rc = CURLE_OK;
  const char *why = setup(r, o, &rc);
  if (why) {
    set_err(errmsg, errlen, why,
            rc == CURLE_BAD_FUNCTION_ARGUMENT ? NULL : curl_easy_strerror(rc));
    free_req(r);
    return NULL;
  }
  r->t0 = uv_hrtime();
  /* Only asks for a 0 ms timeout (on_curl_timer): nothing finishes, and
   * done cannot run, before we return. */
  CURLMcode mrc = curl_multi_add_handle(c->multi, r->easy);
  if (mrc != CURLM_OK) {
    set_err(errmsg, errlen, "curl_multi_add_handle",
            curl_multi_strerror(mrc));
    free_req(r);
    return NULL;
  }
  r->next = c->reqs;
  if (c->reqs) c->reqs->prev = r;
  c->reqs = r;
  return r;
}

void http_cancel(http_req *r) {
  if (!r || r->in_done) return;
  http_client *c = r->c;
  if (r->uv_err) c->nfailed--;
  unlink_req(r);
  if (!r->waiting) curl_multi_remove_handle(c->multi, r->easy);
  free_req(r);
}

/* ---- raw connections (http_raw_open) ----
 *
 * A connect-only transfer on a private http_client: curl resolves,
 * connects and does TLS (CA, client certificates, verification: the same
 * options as any request) driven by the loop, and reports CURLMSG_DONE
 * once connected. The easy handle must then stay in its multi handle
 * (curl closes a CONNECT_ONLY connection whose handle leaves the multi),
 * and the multi is private so no other transfer shares its connection
 * cache (which could prune the connection as dead once it has unread
 * data). curl's own poll of the socket is closed and replaced by ours;
 * bytes go through curl_easy_send/curl_easy_recv, so TLS stays curl's.
 * recv is called until CURLE_AGAIN, since TLS may hold decrypted bytes
 * that the socket no longer shows as readable. The private client, its
 * transfer and the connection are freed by http_raw_close, after our poll
 * is closed (the socket must outlive its poll). */

struct http_raw {
  uv_loop_t *loop;
  http_client *hc;
  http_req *req;      /* the connect-only transfer; NULL if it failed */
  CURL *easy;
  uv_poll_t poll;
  int poll_open;      /* initialised (closed by http_raw_close) */
  int events;
  curl_socket_t fd;
  char *out;          /* bytes not yet accepted by curl_easy_send */
  size_t out_off, out_len, out_cap;
  http_raw_cbs cbs;
  void *ud;
  int open;           /* connected, not ended */
  int ended;          /* on_end has run (or is not to run) */
  int closing;        /* http_raw_close was called */
  int depth;          /* inside raw_on_poll's read loop */
};

static void raw_on_poll(uv_poll_t *h, int status, int events);

static void raw_free(http_raw *w) {
  http_client_free(w->hc);   /* drops the transfer: closes the socket */
  free(w->out);
  free(w);
}

static void raw_poll_closed(uv_handle_t *h) { raw_free(h->data); }

static void raw_end(http_raw *w, int error, const char *msg) {
  if (w->ended || w->closing) return;
  w->ended = 1;
  w->open = 0;
  if (w->poll_open) uv_poll_stop(&w->poll);
  if (w->cbs.on_end) w->cbs.on_end(w->ud, error, msg);
}

static void raw_update(http_raw *w) {
  if (!w->poll_open || !w->open || w->closing) return;
  int ev = UV_READABLE | (w->out_len > w->out_off ? UV_WRITABLE : 0);
  if (ev == w->events) return;
  if (uv_poll_start(&w->poll, ev, raw_on_poll) == 0) w->events = ev;
  else raw_end(w, HTTP_EOTHER, "cannot watch the socket");
}

/* Sends what curl will take now. 0, or -1 after raw_end. */
static int raw_flush(http_raw *w) {
  while (w->out_off < w->out_len) {
    size_t n = 0;
    CURLcode rc = curl_easy_send(w->easy, w->out + w->out_off,
                                 w->out_len - w->out_off, &n);
    if (rc == CURLE_AGAIN) break;
    if (rc != CURLE_OK) {
      raw_end(w, map_error(w->req, rc), curl_easy_strerror(rc));
      return -1;
    }
    w->out_off += n;
  }
  if (w->out_off == w->out_len) w->out_off = w->out_len = 0;
  raw_update(w);
  return 0;
}

static void raw_on_poll(uv_poll_t *h, int status, int events) {
  http_raw *w = h->data;
  if (!w->open || w->closing) return;
  if (status < 0) {
    raw_end(w, HTTP_EOTHER, uv_strerror(status));
    return;
  }
  if ((events & UV_WRITABLE) && raw_flush(w) < 0) return;
  if (!(events & UV_READABLE)) return;
  char buf[16384];
  w->depth++;
  while (w->open && !w->closing) {
    size_t n = 0;
    CURLcode rc = curl_easy_recv(w->easy, buf, sizeof buf, &n);
    if (rc == CURLE_AGAIN) break;
    if (rc != CURLE_OK) {
      raw_end(w, map_error(w->req, rc), curl_easy_strerror(rc));
      break;
    }
    if (n == 0) {
      raw_end(w, HTTP_OK, "EOF");
      break;
    }
    if (w->cbs.on_data) w->cbs.on_data(w->ud, buf, n);
  }
  w->depth--;   /* a close from on_data frees w from the poll's close */
}

/* From check_done: the transfer is connected. */
static void raw_connected(http_raw *w) {
  curl_socket_t fd = CURL_SOCKET_BAD;
  if (curl_easy_getinfo(w->easy, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK ||
      fd == CURL_SOCKET_BAD) {
    raw_end(w, HTTP_EOTHER, "no connected socket");
    return;
  }
  /* curl's poll of this socket, if it kept one, gives way to ours. */
  for (sock_ctx *s = w->hc->socks; s; s = s->next) {
    if (s->fd == fd) {
      uv_poll_stop(&s->poll);
      close_sock(s);
      curl_multi_assign(w->hc->multi, fd, NULL);
      break;
    }
  }
  w->fd = fd;
  if (uv_poll_init_socket(w->loop, &w->poll, fd) != 0) {
    raw_end(w, HTTP_EOTHER, "cannot watch the socket");
    return;
  }
  w->poll.data = w;
  w->poll_open = 1;
  w->open = 1;
  raw_update(w);
  if (w->open && w->cbs.on_open) w->cbs.on_open(w->ud);
  if (w->open && !w->closing && w->out_len) raw_flush(w);
}

/* The transfer failed before connecting (finish() frees it). */
static void raw_failed(void *ud, const http_result *r) {
  http_raw *w = ud;
  w->req = NULL;
  raw_end(w, r->error ? r->error : HTTP_EOTHER,
          r->errmsg[0] ? r->errmsg : "connection failed");
}

http_raw *http_raw_open(uv_loop_t *loop, const http_opts *o,
                        const http_raw_cbs *cbs, void *ud, char *errmsg,
                        size_t errlen) {
  http_raw *w = calloc(1, sizeof *w);
  if (!w) {
    set_err(errmsg, errlen, "out of memory", NULL);
    return NULL;
  }
  w->loop = loop;
  w->cbs = *cbs;
  w->ud = ud;
  w->hc = http_client_new(loop);
  if (!w->hc) {
    free(w);
    set_err(errmsg, errlen, http_client_error(), NULL);
    return NULL;
  }
  http_opts co = *o;
  co.connect_only = 1;
  co.on_data = NULL;
  co.timeout_ms = 0;   /* a whole-transfer timeout would end the session */
  w->req = http_start(w->hc, &co, raw_failed, w, errmsg, errlen);
  if (!w->req) {
    raw_free(w);
    return NULL;
  }
  w->req->raw = w;
  w->easy = w->req->easy;
  return w;
}

int http_raw_send(http_raw *w, const char *data, size_t len) {
  if (!w || w->closing || w->ended) return -1;
  if (w->out_len + len + 1 > w->out_cap) {
    size_t cap = (w->out_len + len + 1) * 2;
    char *p = realloc(w->out, cap);
    if (!p) return -1;
    w->out = p;
    w->out_cap = cap;
  }
  memcpy(w->out + w->out_len, data, len);
  w->out_len += len;
  if (!w->open) return 0;   /* sent once connected */
  return raw_flush(w);
}

void http_raw_close(http_raw *w) {
  if (!w || w->closing) return;
  w->closing = 1;
  w->open = 0;
  if (w->poll_open) {
    uv_poll_stop(&w->poll);
    uv_close((uv_handle_t *)&w->poll, raw_poll_closed);
  } else {
    raw_free(w);   /* not connected: no callback of ours is running */
  }
}
