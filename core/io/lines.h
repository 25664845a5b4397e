#ifndef SUMMIT_IO_LINES_H
#define SUMMIT_IO_LINES_H
/* An incremental line splitter for streams that arrive in arbitrary chunks
 * (Kubernetes watch responses, one JSON event per line): feed it bytes as
 * they come, get whole '\n'-terminated lines back, a trailing '\r' removed.
 * Lines longer than a maximum are an error rather than unbounded memory.
 * At end of stream, lines_pending() says whether an unterminated tail was
 * left: a truncated stream is detectable. Knows nothing of Lua or the
 * loop. */
#include <stddef.h>

#define LINES_DEFAULT_MAX ((size_t)16 << 20)   /* 16 MiB */

enum {
  LINES_ETOOLONG = -1,   /* a line exceeded the maximum */
  LINES_ENOMEM = -2      /* memory ran out */
};

/* Called once per complete line. line is NUL-terminated (len excludes the
 * NUL and the "\n" or "\r\n"), owned by the splitter and valid only during
 * the call. Return 0 to go on, or a positive value to stop. */
typedef int (*lines_cb)(void *ud, const char *line, size_t len);

typedef struct {
  char *buf;        /* the unterminated line so far, NUL-terminated */
  size_t len, cap;
  size_t max;       /* longest line accepted, without its terminator */
  char *rest;       /* bytes after a line whose callback stopped */
  size_t rest_len;
  int failed;       /* sticky LINES_E* once a feed failed */
} lines_t;

/* Prepares l (caller-owned storage); max 0 means LINES_DEFAULT_MAX. Holds
 * no memory until bytes arrive; release with lines_free. */
void lines_init(lines_t *l, size_t max);

/* Splits len bytes (data may be NULL when len is 0) and calls on_line for
 * each line completed, in order. Bytes are copied: data may be reused
 * after the call. Returns 0; LINES_ETOOLONG as soon as the line being
 * collected passes the maximum (without waiting for its end); LINES_ENOMEM;
 * or the callback's non-zero value, in which case the bytes after that
 * line are kept and delivered first by the next lines_feed (which may pass
 * no data to just drain them). Errors are sticky: every later call returns
 * the same error. */
int lines_feed(lines_t *l, const char *data, size_t len, lines_cb on_line,
               void *ud);

/* Bytes held and not yet delivered: the unterminated tail plus anything
 * kept after a stop. Non-zero at end of stream means the stream was cut
 * inside a line (or lines after a stop were never drained). */
size_t lines_pending(const lines_t *l);

/* The unterminated tail (NUL-terminated, owned by l, valid until the next
 * call) and its length; "" when there is none. Meaningful once any bytes
 * kept after a stop have been drained. */
const char *lines_tail(const lines_t *l, size_t *len);

/* Releases l's memory; l may be lines_init'ed again. */
void lines_free(lines_t *l);

#endif
