/* Incremental line splitter (see lines.h).
 *
 * The current, unterminated line is collected in buf, which grows by
 * doubling up to max + 2 bytes (a line of max bytes, a '\r' the '\n' will
 * strip, and the NUL). Each chunk is scanned with memchr; the bytes up to
 * a '\n' are appended to buf and the line is handed to the callback from
 * there, so every line the callback sees is NUL-terminated whichever
 * chunks it came in. When a callback stops the scan, the rest of the chunk
 * is copied to rest and scanned first by the next call. */
#include "io/lines.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void lines_init(lines_t *l, size_t max) {
  memset(l, 0, sizeof *l);
  if (max == 0) max = LINES_DEFAULT_MAX;
  if (max > SIZE_MAX / 4) max = SIZE_MAX / 4;   /* keeps max + 2 sane */
  l->max = max;
}

void lines_free(lines_t *l) {
  free(l->buf);
  free(l->rest);
  l->buf = l->rest = NULL;
  l->len = l->cap = l->rest_len = 0;
}

/* Appends n bytes to the line being collected, which may reach max + 1
 * bytes (the last may be a '\r'). Keeps buf NUL-terminated once it
 * exists. */
static int append(lines_t *l, const char *p, size_t n) {
  assert(l->len <= l->max + 1);
  if (n > l->max + 1 - l->len) return LINES_ETOOLONG;
  size_t need = l->len + n + 1;
  if (need > l->cap) {
    size_t cap = l->cap ? l->cap : 256;
    while (cap < need) cap *= 2;
    if (cap > l->max + 2) cap = l->max + 2;
    char *nb = realloc(l->buf, cap);
    if (!nb) return LINES_ENOMEM;
    l->buf = nb;
    l->cap = cap;
  }
  assert(l->buf && need <= l->cap && l->cap <= l->max + 2);
  if (l->buf) {
    if (n) memcpy(l->buf + l->len, p, n);
    l->len += n;
    l->buf[l->len] = '\0';
  }
  return 0;
}

/* Splits one run of bytes; see lines_feed. */
static int scan(lines_t *l, const char *data, size_t len, lines_cb on_line,
                void *ud) {
  /* Bytes kept after a stop were taken back by lines_feed. */
  assert(!l->rest && l->rest_len == 0);
  size_t pos = 0;
  while (pos < len) {
    const char *nl = memchr(data + pos, '\n', len - pos);
    size_t seg = nl ? (size_t)(nl - (data + pos)) : len - pos;
    int rc = append(l, data + pos, seg);
    if (rc) return l->failed = rc;
    if (!nl) return 0;
    pos += seg + 1;
    size_t n = l->len;
    if (n && l->buf[n - 1] == '\r') l->buf[--n] = '\0';
    if (n > l->max) return l->failed = LINES_ETOOLONG;
    l->len = 0;
    rc = on_line(ud, l->buf, n);
    l->buf[0] = '\0';   /* the tail is empty again */
    if (rc) {
      if (pos < len) {
        l->rest = malloc(len - pos);
        if (!l->rest) return l->failed = LINES_ENOMEM;
        memcpy(l->rest, data + pos, len - pos);
        l->rest_len = len - pos;
      }
      return rc;
    }
  }
  return 0;
}

int lines_feed(lines_t *l, const char *data, size_t len, lines_cb on_line,
               void *ud) {
  if (l->failed) return l->failed;
  if (l->rest_len == 0) return len ? scan(l, data, len, on_line, ud) : 0;
  /* Bytes kept after a stop go first, then the new ones. */
  char *r = l->rest;
  size_t rl = l->rest_len;
  if (len) {
    char *nr = realloc(r, rl + len);
    if (!nr) return l->failed = LINES_ENOMEM;
    memcpy(nr + rl, data, len);
    r = nr;
    rl += len;
  }
  l->rest = NULL;
  l->rest_len = 0;
  int rc = scan(l, r, rl, on_line, ud);
  free(r);
  return rc;
}

size_t lines_pending(const lines_t *l) {
  return l->len + l->rest_len;
}

const char *lines_tail(const lines_t *l, size_t *len) {
  if (len) *len = l->len;
  return l->buf ? l->buf : "";
}
