#ifndef SUMMIT_IO_SERVER_H
#define SUMMIT_IO_SERVER_H
/* A small HTTP/1.1 server on libuv with http-parser: the transport of the
 * simulated Kubernetes API (and of anything else summit serves). Requests
 * are parsed whole (bodies up to a cap), handed to one callback, and
 * answered either at once or as a stream of chunks (watches, logs
 * -f). Keep-alive and pipelined requests on one connection are answered in
 * order. Knows nothing of Lua. */
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct http_server http_server;
typedef struct http_exchange http_exchange;

typedef struct {
  const char *method;      /* "GET", "PATCH", ... */
  const char *url;         /* as sent: path and query, undecoded */
  const char *path;        /* path only, percent-decoded */
  const char *query;       /* raw query string without '?', or "" */
  const char *const *header_names;   /* lower-cased */
  const char *const *header_values;
  size_t n_headers;
  const char *body;        /* NUL-terminated; may contain NULs (body_len) */
  size_t body_len;
  const char *peer;        /* "127.0.0.1:53122" */
} http_request;

/* Called once per request on the loop. The request is valid only during
 * the call. The handler must eventually answer the exchange with
 * http_respond, or with http_stream_start then chunks then
 * http_stream_end; it may do so later (the exchange stays valid until it
 * is answered or the client goes away: see http_exchange_on_close). */
typedef void (*http_handler)(void *ud, http_exchange *x, const http_request *r);

/* Limits that keep slow or greedy clients from holding the server
 * (slow-loris, thousands of idle sockets). Every field 0 means its
 * default; a timeout cannot be switched off. Shared by every server
 * summit runs (the sim, summit serve).
 *
 *   header_timeout_ms  a request's line and headers must be complete this
 *                      long after its first byte (a new connection: after
 *                      the accept). Then 408 and close (a connection that
 *                      sent nothing is just closed). Never reset by
 *                      progress: trickling bytes does not help. 10 s.
 *   body_timeout_ms    its body must be complete this long after its
 *                      headers; then 408 and close. 60 s.
 *   idle_timeout_ms    a keep-alive connection with nothing in progress
 *                      (no request being read, none being answered) is
 *                      closed after this long. 60 s.
 *   max_header_bytes   request line plus header section; beyond it 431.
 *                      At most http-parser's own limit, 80 KiB (default).
 *   max_body_bytes     larger bodies get 413 before they are read. 8 MiB.
 *   max_connections    open connections at most; one more is accepted,
 *                      answered 503 (Connection: close, Retry-After: 1)
 *                      without reading, and closed at once, so the backlog
 *                      never fills and a client is never left hanging.
 *                      512 (nginx's worker_connections).
 *
 * While a request is being answered (a watch or a log stream can last
 * hours) no timeout applies: that is the handler's business. */
typedef struct {
  uint32_t header_timeout_ms;
  uint32_t body_timeout_ms;
  uint32_t idle_timeout_ms;
  size_t max_header_bytes;
  size_t max_body_bytes;
  uint32_t max_connections;
} http_server_opts;

/* Listens on host:port (port 0: ephemeral). Returns NULL with errmsg set
 * on failure (address in use, ...). opts: NULL for every default. */
http_server *http_server_start(uv_loop_t *loop, const char *host, int port,
                               const http_server_opts *opts,
                               http_handler handler, void *ud, char *errmsg,
                               size_t errlen);
/* Open connections now (for tests and metrics). */
size_t http_server_connections(http_server *s);
/* The port actually bound. */
int http_server_port(http_server *s);
/* Stops listening only: new connections are refused by the kernel,
 * open ones are served on (a graceful shutdown: let them finish, then
 * http_server_stop, which must still be called). */
void http_server_unlisten(http_server *s);
/* Stops listening, closes every connection (open exchanges get their
 * on_close callback), frees the server once its handles are closed (run
 * the loop afterwards). */
void http_server_stop(http_server *s);

/* Answers with a whole response. headers: n pairs, Content-Length added. */
void http_respond(http_exchange *x, int status, const char *const *names,
                  const char *const *values, size_t n, const char *body,
                  size_t body_len);
/* Starts a chunked response (Transfer-Encoding: chunked). */
void http_stream_start(http_exchange *x, int status,
                       const char *const *names, const char *const *values,
                       size_t n);
/* Sends one chunk (len > 0); data is copied. Returns -1 if the client has
 * gone. */
int http_stream_write(http_exchange *x, const char *data, size_t len);
/* Ends the chunked response (the terminating zero chunk). */
void http_stream_end(http_exchange *x);
/* Called once if the connection closes before the exchange is answered or
 * its stream ended (a watch whose client went away). After it, x is
 * invalid. */
void http_exchange_on_close(http_exchange *x, void (*fn)(void *ud), void *ud);

/* Switches the connection of an exchange whose request asked for it (an
 * Upgrade header, e.g. WebSocket) to another protocol: sends 101 Switching
 * Protocols with the n headers given (the handler supplies Upgrade and,
 * for WebSocket, Sec-WebSocket-Accept/-Protocol; Connection: Upgrade is
 * added) and from then on hands every byte the client sends to on_data
 * (bytes that came along with the request are delivered first, from the
 * loop). on_close(ud) is called once if the connection closes before
 * http_upgraded_close (it replaces any http_exchange_on_close). Returns 0,
 * or -1 if the request did not ask for an upgrade, the exchange was
 * already answered or streaming, or the client is gone; then x is
 * unchanged and must still be answered (http_respond). */
int http_upgrade(http_exchange *x, const char *const *names,
                 const char *const *values, size_t n,
                 void (*on_data)(void *ud, const char *data, size_t len),
                 void (*on_close)(void *ud), void *ud);
/* Sends raw bytes on an upgraded exchange (copied). Returns -1 if the
 * client has gone. */
int http_upgraded_write(http_exchange *x, const char *data, size_t len);
/* Finishes an upgraded exchange: what was written is sent, then the
 * connection closes gracefully. x is invalid afterwards and on_close is
 * not called. Does nothing during on_close (x is freed after it). Once
 * upgraded, http_respond, the stream calls and http_exchange_on_close do
 * nothing (writes return -1). */
void http_upgraded_close(http_exchange *x);

#endif
