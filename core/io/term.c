/* Text for people's terminals (term.h). */
#include "io/term.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Decodes one UTF-8 sequence at s[0..n): its length, with *cp the code
 * point, or 0 if the bytes there are not well-formed UTF-8 (RFC 3629:
 * shortest form only, no surrogates, nothing above U+10FFFF). */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp) {
  unsigned char c = s[0];
  size_t len;
  uint32_t v, min;
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  if (c >= 0xc2 && c <= 0xdf) len = 2, v = c & 0x1f, min = 0x80;
  else if (c >= 0xe0 && c <= 0xef) len = 3, v = c & 0x0f, min = 0x800;
  else if (c >= 0xf0 && c <= 0xf4) len = 4, v = c & 0x07, min = 0x10000;
  else return 0;
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    v = (v << 6) | (s[i] & 0x3f);
  }
  if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
  *cp = v;
  return len;
}

int term_utf8_valid(const char *s, size_t len, size_t *bad) {
  const unsigned char *u = (const unsigned char *)s;
  uint32_t cp;
  for (size_t i = 0; i < len;) {
    size_t n = utf8_next(u + i, len - i, &cp);
    if (!n) {
      if (bad) *bad = i;
      return 0;
    }
    i += n;
  }
  return 1;
}

/* Code points that are shown as \uXXXX: C1 controls, and the format
 * characters that reorder text or break a line (Trojan Source). */
static int hidden(uint32_t cp) {
  return (cp >= 0x80 && cp <= 0x9f) || cp == 0x61c || cp == 0x200e ||
         cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

/* How s[0..len) renders: calls put(ud, bytes, n) for each piece. Returns 1
 * if anything was changed. */
typedef void (*put_fn)(void *ud, const char *p, size_t n);
static int render(const char *s, size_t len, int flags, put_fn put,
                  void *ud) {
  const unsigned char *u = (const unsigned char *)s;
  int changed = 0;
  size_t run = 0;  /* start of the pending unchanged bytes */
  char esc[16];
  for (size_t i = 0; i < len;) {
    uint32_t cp = 0;
    size_t n = utf8_next(u + i, len - i, &cp);
    const char *rep = NULL;
    size_t rlen = 0;
    if (!n) {
      rep = "\xef\xbf\xbd", rlen = 3, n = 1;  /* U+FFFD */
    } else if (cp == '\n' && (flags & TERM_MULTILINE)) {
      /* kept */
    } else if (cp == '\n' || cp == '\r' || cp == '\t') {
      esc[0] = '\\', esc[1] = cp == '\n' ? 'n' : cp == '\r' ? 'r' : 't';
      rep = esc, rlen = 2;
    } else if (cp < 0x20 || cp == 0x7f) {
      rlen = (size_t)snprintf(esc, sizeof esc, "\\x%02x", (unsigned)cp);
      rep = esc;
    } else if (hidden(cp)) {
      rlen = (size_t)snprintf(esc, sizeof esc, "\\u%04x", (unsigned)cp);
      rep = esc;
    }
    if (rep) {
      if (i > run) put(ud, s + run, i - run);
      put(ud, rep, rlen);
      changed = 1;
      run = i + n;
    }
    i += n;
  }
  if (changed && len > run) put(ud, s + run, len - run);
  return changed;
}

typedef struct {
  char *buf;
  size_t len, cap;
  int oom;
} sbuf;

static void put_buf(void *ud, const char *p, size_t n) {
  sbuf *b = ud;
  if (b->oom) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (b->len + n + 1 > cap) cap *= 2;
    char *nb = realloc(b->buf, cap);
    if (!nb) {
      b->oom = 1;
      return;
    }
    b->buf = nb, b->cap = cap;
  }
  memcpy(b->buf + b->len, p, n);
  b->len += n;
  b->buf[b->len] = '\0';
}

static void put_nothing(void *ud, const char *p, size_t n) {
  (void)ud, (void)p, (void)n;
}

char *term_escape(const char *s, size_t len, int flags) {
  sbuf b = {0};
  if (!render(s, len, flags, put_buf, &b)) put_buf(&b, s, len);
  if (!b.buf && !b.oom) put_buf(&b, "", 0);
  if (b.oom) {
    free(b.buf);
    return NULL;
  }
  return b.buf;
}

const char *term_strf(const char *s, int flags) {
  static char *ring[16];
  static unsigned next;
  if (!s) return NULL;
  size_t len = strlen(s);
  if (!render(s, len, flags, put_nothing, NULL)) return s;
  char *e = term_escape(s, len, flags);
  if (!e) return "(out of memory)";
  unsigned slot = next++ % (sizeof ring / sizeof ring[0]);
  free(ring[slot]);
  ring[slot] = e;
  return e;
}

const char *term_str(const char *s) { return term_strf(s, 0); }

static void put_file(void *ud, const char *p, size_t n) {
  fwrite(p, 1, n, ud);
}

void term_fputs(const char *s, FILE *f, int flags) {
  if (!s) return;
  size_t len = strlen(s);
  if (!render(s, len, flags, put_file, f)) fwrite(s, 1, len, f);
}
