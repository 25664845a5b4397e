#ifndef SUMMIT_IO_HTTP_H
#define SUMMIT_IO_HTTP_H
/* HTTP requests on libcurl's multi_socket API driven by the libuv loop:
 * no blocking calls, any number of transfers in flight on one thread.
 * Knows nothing of Lua. */
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct http_client http_client;
typedef struct http_req http_req;

typedef struct {
  const char *name, *value;
} http_header;

typedef struct {
  const char *method;          /* "GET" when NULL */
  const char *url;
  const http_header *headers;  /* n_headers entries */
  size_t n_headers;
  const char *body;            /* copied; may be NULL */
  size_t body_len;
  uint64_t timeout_ms;         /* whole transfer; 0: none */
  uint64_t connect_timeout_ms; /* 0: libcurl's default */
  int follow_redirects;        /* 0: a 3xx is returned as it is */
  long max_redirects;          /* with follow_redirects; 0 means 10 */
  size_t max_response;         /* body bytes; 0 means 16 MiB; more aborts */
  int insecure;                /* 1: no TLS verification at all */
  const char *ca_file;         /* PEM bundle path, or NULL */
  const char *ca_blob;         /* PEM text (copied), or NULL */
  size_t ca_blob_len;
  const char *client_cert, *client_key;  /* PEM paths, or NULL */
  const char *client_cert_blob, *client_key_blob;  /* PEM text (copied) */
  size_t client_cert_blob_len, client_key_blob_len;
  const char *unix_socket;     /* connect through this socket, or NULL */
  /* Streaming (watches, followed logs): when on_data is set, body bytes go
   * to it as they arrive instead of into the result, and max_response does
   * not apply. It is called from the loop, never after done. */
  void (*on_data)(void *ud, const char *data, size_t len);
  void *data_ud;
  int connect_only;            /* CURLOPT_CONNECT_ONLY (http_raw_open) */
  /* Connection set-up retries, within timeout_ms (a few attempts when it
   * is 0), after 25, 50, 100, 200, then 400 ms: when retry is set, an
   * attempt that could not connect (refused, reset or timed out while
   * connecting) is made again; when idempotent is set too, so is one whose
   * connection ended before any byte of a response came back, though the
   * request may have reached the server. Never once a byte came back. */
  int retry;
  int idempotent;
} http_opts;

typedef struct {
  int error;                /* 0, or one of HTTP_E* below */
  char errmsg[256];         /* libcurl's words when error != 0 */
  long status;              /* 0 when no response */
  http_header *headers;     /* response headers of the final response,
                               names lower-cased */
  size_t n_headers;
  char *body;               /* NUL-terminated */
  size_t body_len;
  double duration_ms;
  char *effective_url;
  int attempts;             /* connection attempts, retries included */
} http_result;

enum {
  HTTP_OK = 0,
  HTTP_ETIMEDOUT,       /* the timeout fired */
  HTTP_ECONNREFUSED,    /* could not connect */
  HTTP_ERESOLVE,        /* host name not resolved */
  HTTP_ETLS,            /* TLS handshake or verification failed */
  HTTP_ETOOLARGE,       /* response body beyond max_response */
  HTTP_ECANCELED,       /* http_cancel() */
  HTTP_EOTHER
};

/* The error's short code: "ETIMEDOUT", "ECONNREFUSED", ... */
const char *http_error_code(int error);

/* One client per loop; it owns the CURLM and its timer. It opens at most
 * HTTP_DEFAULT_MAX_PER_HOST connections to one host:port at a time (as
 * browsers do); more requests wait in libcurl's queue for a free one, and
 * that wait counts in their timeout_ms. A server with a small listen
 * backlog drops connections beyond it, which then stall for seconds of
 * SYN retransmits. */
#define HTTP_DEFAULT_MAX_PER_HOST 6L
/* NULL when libcurl cannot be loaded (the first client dlopens it:
 * io/curl_lazy.h) or memory runs out; http_client_error() says which. */
http_client *http_client_new(uv_loop_t *loop);
const char *http_client_error(void);
/* Connection caps (CURLMOPT_MAX_HOST_CONNECTIONS and
 * CURLMOPT_MAX_TOTAL_CONNECTIONS); 0 means unlimited. Applies to requests
 * that start a connection from now on. */
void http_client_limits(http_client *c, long max_per_host, long max_total);
/* Aborts every transfer (no callbacks) and frees the client once its
 * handles are closed (run the loop afterwards). */
void http_client_free(http_client *c);

/* Called once when the transfer ends. The result is valid only during the
 * call. */
typedef void (*http_done_cb)(void *ud, const http_result *r);

/* Starts a request; returns NULL only when it cannot even be set up (bad
 * options: errmsg filled). done is always called from the loop, never from
 * inside http_start. */
http_req *http_start(http_client *c, const http_opts *o, http_done_cb done,
                     void *ud, char *errmsg, size_t errlen);
/* Aborts the transfer; done is not called. */
void http_cancel(http_req *r);

/* Raw connections: libcurl connects (proxy, TLS, CA, client certificates:
 * the options of http_opts) and then hands the connection over, for a
 * protocol curl does not speak (the WebSocket exec of Kubernetes). No
 * request is sent; the caller writes its own (an HTTP/1.1 upgrade). */
typedef struct http_raw http_raw;

typedef struct {
  void (*on_open)(void *ud);   /* connected; bytes may flow */
  void (*on_data)(void *ud, const char *data, size_t len);
  /* Once: error 0 at the peer's EOF, else HTTP_E* (connect failure
   * included) with a message valid during the call. */
  void (*on_end)(void *ud, int error, const char *errmsg);
} http_raw_cbs;

/* Starts connecting to o->url (o->method, headers, body and timeout_ms
 * are ignored). Callbacks come from the loop, never from inside this call
 * or after http_raw_close. Returns NULL with errmsg set on bad options. */
http_raw *http_raw_open(uv_loop_t *loop, const http_opts *o,
                        const http_raw_cbs *cbs, void *ud, char *errmsg,
                        size_t errlen);
/* Queues bytes (copied); they go out as the socket takes them (once
 * connected). Returns -1 after the end or when out of memory. */
int http_raw_send(http_raw *r, const char *data, size_t len);
/* Closes the connection and frees everything (from the loop); no
 * callback runs afterwards. Safe from inside a callback. The owner must
 * call it exactly once, whether or not the connection ended. */
void http_raw_close(http_raw *r);

#endif
