/* libFuzzer target for core/io/lines.c, checked against a reference.
 *
 * Input: byte 0 picks the maximum line length (1..64, or the default),
 * byte 1 seeds the chunk sizes, the rest is the stream. The stream is fed
 * in pseudo-random chunks; a line starting with '!' makes the callback
 * stop, after which the kept bytes are drained with empty feeds. The lines
 * delivered, the error and the unterminated tail must equal what a plain
 * split of the whole stream gives, whatever the chunking: any difference
 * aborts. Memory must stay within max + 2 bytes for the line buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chunks.h"
#include "io/lines.h"

typedef struct {
  const char *want;      /* reference lines, each followed by '\n' */
  size_t want_len, pos;
  size_t max;
} check_t;

static int on_line(void *ud, const char *line, size_t len) {
  check_t *c = ud;
  if (line[len] != '\0') abort();
  if (len > c->max) abort();
  if (memchr(line, '\n', len)) abort();
  if (c->pos + len + 1 > c->want_len) abort();
  if (memcmp(c->want + c->pos, line, len) || c->want[c->pos + len] != '\n')
    abort();
  c->pos += len + 1;
  return len && line[0] == '!' ? 1 : 0;
}

/* Splits s the simple way. Returns the error (0 or LINES_ETOOLONG); the
 * lines go to out (each with '\n'), the unterminated tail to *tail. */
static int reference(const char *s, size_t n, size_t max, char *out,
                     size_t *out_len, size_t *tail) {
  size_t start = 0;
  *out_len = 0;
  *tail = 0;
  while (start < n) {
    const char *nl = memchr(s + start, '\n', n - start);
    size_t raw = nl ? (size_t)(nl - (s + start)) : n - start;
    if (raw > max + 1) return LINES_ETOOLONG;
    if (!nl) {
      *tail = raw;
      return 0;
    }
    size_t len = raw && s[start + raw - 1] == '\r' ? raw - 1 : raw;
    if (len > max) return LINES_ETOOLONG;
    memcpy(out + *out_len, s + start, len);
    *out_len += len;
    out[(*out_len)++] = '\n';
    start += raw + 1;
  }
  return 0;
}

typedef struct {
  lines_t *l;
  check_t *c;
} feed_t;

/* One chunk of the stream; what a stop kept is drained with empty feeds. */
static int feed_lines(void *ud, const char *p, size_t len) {
  feed_t *f = ud;
  int rc = lines_feed(f->l, p, len, on_line, f->c);
  while (rc > 0) rc = lines_feed(f->l, NULL, 0, on_line, f->c);
  if (f->l->cap > f->c->max + 2) abort();
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  size_t max = data[0] % 65;
  unsigned seed = data[1];
  const char *s = (const char *)data + 2;
  size_t n = size - 2;

  lines_t l;
  lines_init(&l, max);   /* 0: the default */
  max = l.max;
  char *want = malloc(n + 1);
  size_t want_len, tail;
  int want_rc = reference(s, n, max, want, &want_len, &tail);
  check_t c = {want, want_len, 0, max};

  feed_t f = {&l, &c};
  int rc = fuzz_feed_chunks(seed, 17, s, n, feed_lines, &f);
  if (rc != want_rc) abort();
  if (c.pos != want_len) abort();
  if (rc == 0) {
    size_t tl;
    const char *t = lines_tail(&l, &tl);
    if (tl != tail || lines_pending(&l) != tail) abort();
    if (memcmp(t, s + n - tail, tail) || t[tl] != '\0') abort();
  } else if (lines_feed(&l, "x\n", 2, on_line, &c) != rc) {
    abort();   /* errors are sticky */
  }
  lines_free(&l);
  free(want);
  return 0;
}
